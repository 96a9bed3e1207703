// Namespace hosts (lib/system/netns.ts) as the multi-host tests will use them: distinct
// addresses and host names, reachable from each other and not from outside, a shaped link that
// carries what its rate allows, and nothing left behind (namespaces, processes), also after an
// owner that died. Needs root (CI runs as root); ignored with the reason elsewhere.
import {
  netemAvailable,
  NETNS_PREFIX,
  type NetnsHosts,
  netnsUnavailable,
  removeLeftoverHosts,
  startHosts,
} from "../lib/system/netns.ts";
import { parseResults } from "../lib/results/results.ts";
import { stepCollectives } from "../lib/config/collectives.ts";
import { runConfig } from "../lib/projection/calibrate.ts";
import { linkTime, TCP_EFFICIENCY } from "../lib/projection/link_model.ts";
import { readLines } from "../lib/system/lines.ts";
import { assert, assertEquals } from "../lib/testing/asserts.ts";
import { ROOT, runTask, taskArgs } from "../lib/testing/run_deno.ts";
import { NATS_SERVER, NO_SANITIZERS, systemTest } from "../lib/testing/system.ts";

const why = netnsUnavailable();
const NETNS = { name: "network namespaces (root)", missing: why !== undefined, install: why ?? "" };

const namespaces = () =>
  new TextDecoder().decode(
    new Deno.Command("ip", { args: ["netns", "list"], stdout: "piped" }).outputSync().stdout,
  ).split("\n").map((l) => l.trim().split(/\s+/)[0]).filter((n) => n?.startsWith(NETNS_PREFIX));

// A receiver that counts bytes until the sender closes, and a sender of N bytes: one TCP stream.
const PEER = `
const [role, host, port, bytes] = Deno.args;
if (role === "serve") {
  const listener = Deno.listen({ hostname: host, port: Number(port) });
  console.log("listening " + (await Deno.readTextFile("/proc/sys/kernel/hostname")).trim());
  const conn = await listener.accept();
  let n = 0; const t = performance.now(); const buf = new Uint8Array(1 << 16);
  for (;;) { const r = await conn.read(buf); if (r === null) break; n += r; }
  console.log(JSON.stringify({ bytes: n, ms: performance.now() - t }));
} else {
  const conn = await Deno.connect({ hostname: host, port: Number(port) });
  const chunk = new Uint8Array(1 << 16); let left = Number(bytes);
  while (left > 0) { const w = await conn.write(chunk.subarray(0, Math.min(left, chunk.length))); left -= w; }
  conn.close();
  console.log("sent " + (await Deno.readTextFile("/proc/sys/kernel/hostname")).trim());
}`;

async function transfer(rate: string | null, bytes: number) {
  const script = `${await Deno.makeTempDir()}/peer.ts`;
  await Deno.writeTextFile(script, PEER);
  await using net = await startHosts({ count: 2, link: { rate }, tag: rate ? "s" : "u" });
  const [a, b] = net.hosts;
  const deno = (host: number, ...args: string[]) =>
    net.spawn(host, Deno.execPath(), {
      args: ["run", "-A", script, ...args],
      stdout: "piped",
      stderr: "piped",
    });
  const server = deno(0, "serve", a.address, "7000", "0");
  const reader = server.child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let said = "";
  while (!said.includes("\n")) {
    const { value, done } = await reader.read();
    if (done) throw new Error(`receiver ended: ${said}`);
    said += value;
  }
  const sender = deno(1, "send", a.address, "7000", String(bytes));
  const sent = new TextDecoder().decode((await sender.child.output()).stdout);
  let rest = said;
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    rest += value;
  }
  const result = JSON.parse(rest.trim().split("\n").at(-1)!) as { bytes: number; ms: number };
  return { ...result, mbit: (8 * result.bytes) / (result.ms * 1000), said, sent, net, a, b };
}

systemTest([NETNS], {
  ...NO_SANITIZERS,
  name:
    "namespace hosts: own addresses and host names, reachable from each other, not from outside",
  fn: async () => {
    const t = await transfer(null, 1 << 20);
    assertEquals(t.bytes, 1 << 20);
    assert(t.said.startsWith(`listening ${t.a.name}`), t.said);
    assert(t.sent.startsWith(`sent ${t.b.name}`), t.sent);
    assert(t.a.address !== t.b.address && t.a.address.startsWith("198.18."));
    // No route out of a host: only its own /24.
    await using net = await startHosts({ count: 2, tag: "r" });
    const routes = new TextDecoder().decode(
      new Deno.Command("ip", { args: ["-n", net.hosts[0].name, "route"], stdout: "piped" })
        .outputSync().stdout,
    ).trim().split("\n");
    assertEquals(routes.length, 1, routes.join("; "));
    assert(routes[0].startsWith(`${net.hosts[0].address.replace(/\.\d+$/, ".0")}/24 dev eth0`));
    const out = await net.spawn(0, Deno.execPath(), {
      args: ["eval", "await Deno.connect({ hostname: '198.51.100.1', port: 80 })"],
      stdout: "piped",
      stderr: "piped",
    }).child.output();
    assert(!out.success && /unreachable/i.test(new TextDecoder().decode(out.stderr)));
    console.log(`unshaped: ${t.mbit.toFixed(0)} Mbit/s; set up in ${t.net.setupMs.toFixed(0)} ms`);
  },
});

systemTest([NETNS], {
  ...NO_SANITIZERS,
  name: "namespace hosts: a link shaped to 100 Mbit/s carries 100 Mbit/s, not more",
  fn: async () => {
    const t = await transfer("100mbit", 6 * 1024 * 1024);
    console.log(`100mbit link: ${t.mbit.toFixed(1)} Mbit/s goodput over ${t.ms.toFixed(0)} ms`);
    // Goodput is below the rate (headers) and not far below it (a busy machine still moves it).
    assert(t.mbit <= 105 && t.mbit >= 50, `${t.mbit} Mbit/s on a 100 Mbit/s link`);
  },
});

systemTest([NETNS], {
  ...NO_SANITIZERS,
  name: "the namespace probe is not fooled by another probe's namespace of the same process",
  fn: () => {
    // Test modules run in parallel in one process: two probes of one pid at once. (A fixed
    // probe name made the second fail with "File exists" and its module's tests be ignored.)
    const other = `${NETNS_PREFIX}${Deno.pid}-probe`;
    new Deno.Command("ip", { args: ["netns", "add", other] }).outputSync();
    try {
      assertEquals(netnsUnavailable(), undefined);
    } finally {
      new Deno.Command("ip", { args: ["netns", "delete", other] }).outputSync();
    }
  },
});

systemTest([NETNS], {
  ...NO_SANITIZERS,
  name: "namespace hosts: nothing left after stop, nor after an owner that died",
  fn: async () => {
    const net = await startHosts({ count: 3, tag: "c" });
    const sleeper = net.spawn(2, "sleep", { args: ["600"] });
    assert(net.running().includes(sleeper.pid));
    assertEquals(
      namespaces().filter((n) => n.startsWith(`${NETNS_PREFIX}${Deno.pid}-c`)).length,
      4,
    );
    // A namespace of an owner that is gone (a pid above pid_max), with a process in it.
    const dead = `${NETNS_PREFIX}${2 ** 22 + 7}-x-h0`;
    new Deno.Command("ip", { args: ["netns", "add", dead] }).outputSync();
    const orphan = new Deno.Command("ip", {
      args: ["netns", "exec", dead, "sleep", "600"],
      stdout: "null",
      stderr: "null",
    }).spawn();
    const removed = await removeLeftoverHosts();
    assert(removed.includes(dead), `${removed}`);
    assert(!namespaces().includes(dead));
    await orphan.status;
    // This process's own hosts (and those of tests running beside this one) are not leftovers.
    assertEquals(removed.filter((n) => n.startsWith(`${NETNS_PREFIX}${Deno.pid}-`)), []);
    assert(net.running().includes(sleeper.pid), "the clean-up killed a live owner's process");
    await net.stop();
    assertEquals(net.running(), []);
    assertEquals(namespaces().filter((n) => n.startsWith(`${NETNS_PREFIX}${Deno.pid}-c`)), []);
  },
});

/** A small point (n = 64, k = 4, b = 8, 4 steps, warm-up 1) of the modes at p ranks. */
const small = (modes: string, p: number) => [
  "--mode",
  modes,
  "--ranks",
  String(p),
  "--width",
  "64",
  "--phantom-width",
  "4",
  "--batch",
  "8",
  "--steps",
  "4",
  "--warmup",
  "1",
];

/**
 * Runs the bench on host 0 (its own server on eth0) with one worker per other host, started from
 * its PB-WAITING lines: host h hosts ranks 2(h-1), 2(h-1)+1 as node h.
 */
async function benchAcrossHosts(net: NetnsHosts, args: string[]) {
  const out = await Deno.makeTempDir();
  const bench = net.spawn(0, Deno.execPath(), {
    args: taskArgs("bench", [
      "--launcher",
      "manual",
      "--node-interface",
      "eth0",
      "--cooldown",
      "0",
      "--power",
      "none",
      "--out",
      out,
      ...args,
    ]),
    cwd: ROOT,
    stdout: "piped",
    stderr: "piped",
  });
  const stderr = new Response(bench.child.stderr).text();
  const workers: Promise<Deno.CommandStatus>[] = [];
  let printed = "";
  for await (const line of readLines(bench.child.stdout)) {
    printed += line + "\n";
    if (!line.startsWith("PB-WAITING ")) continue;
    const waiting = JSON.parse(line.slice("PB-WAITING ".length));
    assert(waiting.servers[0].startsWith(`nats://${net.hosts[0].address}:`), line);
    for (let host = 1; host < net.hosts.length; host++) {
      workers.push(
        net.spawn(host, Deno.execPath(), {
          args: taskArgs("worker", [
            "--nats",
            waiting.servers.join(","),
            "--run",
            waiting.runId,
            "--ranks",
            `${2 * (host - 1)}-${2 * (host - 1) + 1}`,
            "--secret-file",
            waiting.secretFile,
            "--node-index",
            String(host),
          ]),
          cwd: ROOT,
          env: { PHANTOM_BLAS_THREADS: "1" },
          stdout: "null",
          stderr: "null",
        }).child.status,
      );
    }
  }
  const status = await bench.child.status;
  assertEquals(status.code, 0, `${printed}\n${await stderr}`);
  for (const s of await Promise.all(workers)) assertEquals(s.code, 0);
  const name = [...Deno.readDirSync(out)].find((e) => e.name.endsWith(".json"))!.name;
  return parseResults(await Deno.readTextFile(`${out}/${name}`));
}

systemTest([NETNS, NATS_SERVER], {
  ...NO_SANITIZERS,
  name:
    "manual launch across 3 namespace hosts: the bench's server on its address, placement by host",
  fn: async () => {
    await using net = await startHosts({ count: 3, tag: "m" });
    const results = await benchAcrossHosts(net, small("tp,phantom", 4));
    assertEquals(results.runs.length, 2);
    assert(String(results.communicator.energyScope).startsWith("the bench's host only"));
    for (const run of results.runs) {
      assertEquals(run.status, "ok", run.error);
      const placement = run.placement!;
      assertEquals(placement.map((p) => p.nodeIndex), [1, 1, 2, 2]);
      assertEquals(placement.map((p) => p.localRank), [0, 1, 0, 1]);
      assertEquals(placement.map((p) => p.host), [
        net.hosts[1].name,
        net.hosts[1].name,
        net.hosts[2].name,
        net.hosts[2].name,
      ]);
    }
  },
});

systemTest([NETNS, NATS_SERVER], {
  ...NO_SANITIZERS,
  name: "shaped links (25 Mbit/s): TP slows by its link bytes / rate, phantom by far less",
  fn: async () => {
    const args = [
      "--mode",
      "tp,phantom",
      "--ranks",
      "4",
      "--width",
      "1024",
      "--phantom-width",
      "16",
      "--batch",
      "32",
      "--steps",
      "6",
      "--warmup",
      "1",
    ];
    type Results = Awaited<ReturnType<typeof benchAcrossHosts>>;
    const runOf = (r: Results, mode: string) => r.runs.find((x) => x.config.mode === mode)!;
    const rate = 25e6 / 8; // bytes per second
    let free: Results;
    let shaped: Results;
    {
      await using net = await startHosts({ count: 3, tag: "f" });
      free = await benchAcrossHosts(net, args);
    }
    {
      await using net = await startHosts({ count: 3, tag: "q", link: { rate: "25mbit" } });
      shaped = await benchAcrossHosts(net, args);
    }
    const extra: Record<string, { measured: number; predicted: number }> = {};
    const link = { bytesPerS: rate, efficiency: TCP_EFFICIENCY };
    for (const mode of ["tp", "phantom"]) {
      const [a, b] = [runOf(free, mode), runOf(shaped, mode)];
      assertEquals(b.status, "ok", b.error);
      // Every block goes through the server on host 0: its link carries what all four ranks
      // send in and what they receive out, the busier way bounding each call
      // (lib/projection/link_model.ts).
      const config = runConfig(b);
      const predicted = 1000 *
        stepCollectives(config).reduce((t, call) => t + linkTime(link, call, config.ranks), 0);
      const measured = b.metrics!.stepTimeMs.median - a.metrics!.stepTimeMs.median;
      extra[mode] = { measured, predicted };
    }
    console.log(`added by 25 Mbit/s links, ms per step: ${JSON.stringify(extra)}`);
    const tp = extra.tp;
    assert(
      tp.measured > 0.6 * tp.predicted && tp.measured < 1.6 * tp.predicted,
      `TP: +${tp.measured.toFixed(0)} ms measured, +${tp.predicted.toFixed(0)} ms predicted`,
    );
    assert(extra.phantom.measured < 0.5 * tp.measured, JSON.stringify(extra));
  },
});

/** `deno task bench ARGS` (with --cooldown 0 --power none --out DIR) and its results, if written. */
async function benchTask(args: string[]) {
  const out = await Deno.makeTempDir();
  const r = await runTask("bench", [...args, "--cooldown", "0", "--power", "none", "--out", out]);
  const name = [...Deno.readDirSync(out)].find((e) => e.name.endsWith(".json"))?.name;
  const results = name ? parseResults(await Deno.readTextFile(`${out}/${name}`)) : undefined;
  return { ...r, results };
}

systemTest([NETNS, NATS_SERVER], {
  ...NO_SANITIZERS,
  name:
    "bench --emulate-hosts 3 --link 100mbit: a what-if run that records its network, then is gone",
  fn: async () => {
    const r = await benchTask([
      "--emulate-hosts",
      "3",
      "--link",
      "100mbit",
      ...small("phantom", 4),
    ]);
    assertEquals(r.code, 0, r.stdout + r.stderr);
    assert(r.stdout.includes("emulated network: 3 hosts"), r.stdout);
    const results = r.results!;
    assertEquals(results.communicator.network, {
      emulated: true,
      hosts: 3,
      linkRate: "100mbit",
      shaper: "htb",
      delay: null,
      netem: netemAvailable(),
    });
    const run = results.runs[0];
    assertEquals(run.status, "ok", run.error);
    assertEquals(run.placement!.map((p) => p.nodeIndex), [1, 1, 2, 2]);
    assertEquals(namespaces().filter((n) => n.includes("-e-")), [], "namespaces left");
  },
});

systemTest([NETNS, NATS_SERVER], {
  ...NO_SANITIZERS,
  name: "bench --sweep network: links reshaped between points, each run records its link rate",
  fn: async () => {
    const r = await benchTask([
      "--sweep",
      "network",
      "--quick",
      "--repeats",
      "1",
      "--filter",
      "mode=phantom,ranks=4,link!=1gbit",
      "--emulate-hosts",
      "3",
    ]);
    assertEquals(r.code, 0, r.stdout + r.stderr);
    // Unshaped at set-up, then reshaped twice.
    const reshaped = r.stdout.split("\n").filter((l) => l.startsWith("links now "));
    assertEquals(reshaped.map((l) => l.split(",")[0]), [
      "links now 100mbit (htb)",
      "links now 25mbit (htb)",
    ]);
    const runs = r.results!.runs;
    assertEquals(runs.map((x) => [x.status, x.config.link]), [
      ["ok", null],
      ["ok", "100mbit"],
      ["ok", "25mbit"],
    ]);
    assertEquals(new Set(runs.map((x) => x.configHash)).size, 3, "a link is part of the config");
    const step = runs.map((x) => x.metrics!.stepTimeMs.median);
    // 4 ranks x 120 KiB received per step leave host 0 at 25 Mbit/s: 150 ms and more.
    assert(step[2] > 100 && step[2] > 2 * step[0], `step times ${step}`);
    assertEquals(namespaces().filter((n) => n.includes("-e-")), [], "namespaces left");
  },
});

systemTest([NETNS, NATS_SERVER], {
  ...NO_SANITIZERS,
  name: "--link-delay adds propagation delay with netem, or says in one line the kernel cannot",
  fn: async () => {
    const r = await benchTask([
      "--emulate-hosts",
      "2",
      "--link-delay",
      "2ms",
      ...small("phantom", 2),
    ]);
    if (!netemAvailable()) {
      // This kernel (no sch_netem): bandwidth only, refused before anything is made.
      assertEquals(r.code, 2, r.stdout + r.stderr);
      assert(
        r.stderr.includes('--link-delay ("2ms") needs sch_netem, which this kernel does not have'),
        r.stderr,
      );
      assertEquals(r.results, undefined, "nothing written");
      return;
    }
    assertEquals(r.code, 0, r.stdout + r.stderr);
    const network = r.results!.communicator.network as Record<string, unknown>;
    assertEquals([network.shaper, network.delay, network.netem], ["netem", "2ms", true]);
  },
});
