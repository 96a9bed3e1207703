// Faults during a sweep: the suite's own nats-server killed while a point runs (the point fails
// naming the server, the sweep starts a new one and the next run measures normally), a hung
// server (the point fails within the heartbeat bound), and a full disk (no run lost). The
// servers are the tests' or the bench's own, found by pid; the disk is a real tmpfs of 16 KiB.
import { parseResults } from "../lib/results/results.ts";
import { assert, assertEquals } from "../lib/testing/asserts.ts";
import { ROOT, runTask, taskArgs } from "../lib/testing/run_deno.ts";
import { NATS_SERVER, NO_SANITIZERS, type Requirement, systemTest } from "../lib/testing/system.ts";
import { descendantsWithArgs, waitGone } from "../lib/testing/processes.ts";

systemTest([NATS_SERVER], {
  ...NO_SANITIZERS,
  name:
    "the suite's nats-server killed mid-point: that run fails naming it, the next runs on a new one",
  fn: async () => {
    const dir = await Deno.makeTempDir();
    // Two points: one that cannot end before the kill, then a short one on the new server.
    const sweep = `${await Deno.makeTempDir()}/sweep.json`; // not in --out: one .json there
    await Deno.writeTextFile(
      sweep,
      JSON.stringify({
        id: "kill",
        version: 1,
        base: { mode: "tp", ranks: 2, width: 64, batch: 8 },
        axes: { run: [{ steps: 1_000_000 }, { steps: 20 }] },
        repeats: 1,
        warmup: 1,
      }),
    );
    const child = new Deno.Command(Deno.execPath(), {
      args: taskArgs("bench", ["--sweep", sweep, "--cooldown", "0", "--out", dir]),
      cwd: ROOT,
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const stderr = new Response(child.stderr).text();
    // The first run has started when the bench says so; its workers and server are then found
    // below the bench by pid (bounded: a failure shows what was there).
    const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
    let printed = "";
    while (!printed.includes("[1/2]")) {
      const { value, done } = await reader.read();
      if (done) throw new Error(`the bench ended before its first run: ${printed}`);
      printed += value;
    }
    const stdout = (async () => {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) return printed;
        printed += value;
      }
    })();
    let server: number | undefined;
    let tree: { pid: number; args: string }[] = [];
    const deadline = Date.now() + 120_000;
    while (server === undefined) {
      tree = descendantsWithArgs(child.pid);
      if (tree.some((p) => p.args.includes("rank_host.ts"))) {
        server = tree.find((p) => /nats-server\s+-c/.test(p.args))?.pid;
      }
      if (server === undefined && Date.now() > deadline) {
        child.kill("SIGKILL");
        throw new Error(`no workers and server below the bench: ${JSON.stringify(tree)}`);
      }
      await new Promise((r) => setTimeout(r, 50));
    }
    console.log(`killing nats-server ${server} (${tree.length} processes below the bench)`);
    Deno.kill(server!, "SIGKILL");
    // A bench that does not end is a failure that shows what it printed.
    let timer: ReturnType<typeof setTimeout> | undefined;
    const status = await Promise.race([
      child.status,
      new Promise<undefined>((r) => (timer = setTimeout(() => r(undefined), 150_000))),
    ]);
    clearTimeout(timer);
    if (!status) child.kill("SIGTERM");
    const out = await stdout;
    const err = await stderr;
    if (!status) throw new Error(`the bench did not end 150 s after the kill:\n${out}\n${err}`);
    assertEquals(status.code, 1, `${out}\n${err}`); // a failed run: exit 1, not a crash
    assert(!err.includes("    at "), `stack trace:\n${err}`);
    assert(err.includes(`nats-server (pid ${server}`) && err.includes("starting a new one"), err);
    const file = [...Deno.readDirSync(dir)].find((e) => e.name.endsWith(".json"))!;
    const runs = parseResults(Deno.readTextFileSync(`${dir}/${file.name}`)).runs;
    assertEquals(runs.map((r) => r.status), ["failed", "ok"]);
    assert(runs[0].error!.includes(`nats-server (pid ${server}`), runs[0].error);
    assert(runs[0].error!.includes("died (SIGKILL)"), runs[0].error);
    console.log(`the failed run: ${runs[0].error}`);
    const left = await waitGone(tree.map((p) => p.pid), 10_000);
    assertEquals(left, [], "processes of the first run left running");
  },
});

systemTest([NATS_SERVER], {
  ...NO_SANITIZERS,
  name: "a hung (SIGSTOPped) nats-server fails the point within the heartbeat bound, naming it",
  fn: async () => {
    const { startNatsServer } = await import("../lib/nats/nats_server.ts");
    const { runOverNats } = await import("../lib/runtime/nats_run.ts");
    const { RunFailedError } = await import("../lib/runtime/coordinator.ts");
    const { validateTrainConfig } = await import("../lib/config/config.ts");
    await using server = await startNatsServer();
    const heartbeatTimeoutMs = 3000;
    let stoppedAt = 0;
    try {
      const error = await runOverNats(
        validateTrainConfig({ mode: "tp", ranks: 2, width: 64, batch: 8, steps: 100_000 }),
        {
          connection: server.connection,
          processes: 2,
          heartbeatTimeoutMs,
          onStep: (e) => {
            if (stoppedAt === 0 && e.record.step >= 3) {
              stoppedAt = performance.now();
              Deno.kill(server.pid, "SIGSTOP");
            }
          },
        },
      ).then(() => undefined, (e: Error) => e);
      const took = performance.now() - stoppedAt;
      assert(error instanceof RunFailedError, `${error}`);
      assert(stoppedAt > 0, `failed before training: ${error.message}`);
      assert(error.message.includes(`127.0.0.1:${server.port}`), error.message);
      // The heartbeat bound, plus 2 s each for the abort's flush and the close.
      assert(
        took < heartbeatTimeoutMs + 4000 + 3000,
        `failed ${took.toFixed(0)} ms after the stop`,
      );
      console.log(`hung server: the point failed ${took.toFixed(0)} ms later: ${error.message}`);
    } finally {
      Deno.kill(server.pid, "SIGCONT");
    }
  },
});

/** A tmpfs of a few pages: mounting one needs root (CI runs as root). */
const TINY_DISK: Requirement = (() => {
  let missing = true;
  try {
    const dir = Deno.makeTempDirSync();
    const mount = new Deno.Command("mount", {
      args: ["-t", "tmpfs", "-o", "size=16k", "tmpfs", dir],
      stderr: "null",
    }).outputSync();
    if (mount.success) {
      new Deno.Command("umount", { args: [dir] }).outputSync();
      missing = false;
    }
    Deno.removeSync(dir);
  } catch { /* no mount command */ }
  return { name: "a tmpfs mount (root)", missing, install: "run as root" };
})();

systemTest([TINY_DISK], {
  ...NO_SANITIZERS,
  name: "a full disk loses no run: kept in memory, saved to the cache folder, one line, exit 4",
  fn: async () => {
    const disk = await Deno.makeTempDir();
    const cache = await Deno.makeTempDir();
    await new Deno.Command("mount", { args: ["-t", "tmpfs", "-o", "size=16k", "tmpfs", disk] })
      .output();
    try {
      const r = await runTask("bench", [
        "--communicator",
        "in-process",
        "--mode",
        "tp",
        "--ranks",
        "1,2",
        "--width",
        "64",
        "--batch",
        "8",
        "--steps",
        "30",
        "--repeats",
        "2",
        "--cooldown",
        "0",
        "--out",
        `${disk}/out`,
      ], { PHANTOM_CACHE_DIR: cache });
      assertEquals(r.code, 4, r.stdout + r.stderr);
      assert(!r.stderr.includes("    at "), `stack trace:\n${r.stderr}`);
      assertEquals(r.stderr.match(/^warning: cannot write/gm)?.length, 1, r.stderr);
      const saved = r.stderr.match(/all of them are saved in (\S+)/)?.[1];
      assert(saved?.startsWith(`${cache}/rescued/`), r.stderr);
      const runs = parseResults(await Deno.readTextFile(saved!)).runs;
      assertEquals(runs.length, 4);
      assert(runs.every((run) => run.status === "ok"), JSON.stringify(runs.map((x) => x.status)));
    } finally {
      await new Deno.Command("umount", { args: [disk] }).output();
      await Deno.remove(disk, { recursive: true });
      await Deno.remove(cache, { recursive: true });
    }
  },
});
