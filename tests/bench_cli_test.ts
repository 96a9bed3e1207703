// End-to-end tests of `deno task bench` as a user runs it: a subprocess, its output, its exit
// code and its results file (validated by the loader).
import { parseResults, type ResultsFile } from "../lib/results/results.ts";
import { assert, assertEquals } from "../lib/testing/asserts.ts";
import { ROOT, runTask, taskArgs } from "../lib/testing/run_deno.ts";
import { planBench } from "../bench/main.ts";
import { ConfigError } from "../lib/config/config_error.ts";
import { UsageError } from "../lib/cli/flags.ts";
import { SlurmError } from "../lib/runtime/slurm.ts";
import { BackendUnavailableError } from "../lib/nn/backend.ts";
import { deadlineTest, NATS_SERVER, natsTest, systemTest } from "../lib/testing/system.ts";

function bench(...args: string[]) {
  return runTask("bench", args);
}

async function results(dir: string): Promise<ResultsFile> {
  const files = [...Deno.readDirSync(dir)].filter((e) => e.name.endsWith(".json")).map((e) =>
    `${dir}/${e.name}`
  );
  assertEquals(files.length, 1, `one results file, got ${files}`);
  const html = files[0].replace(/\.json$/, ".html");
  assert(Deno.statSync(html).isFile, "the bench writes a report beside its results");
  return parseResults(await Deno.readTextFile(files[0]), files[0]);
}

const SMALL = [
  "--width",
  "64",
  "--phantom-width",
  "2",
  "--batch",
  "8",
  "--steps",
  "6",
  "--warmup",
  "1",
];

natsTest(
  "bench: a quick run through the real NATS path writes a valid results file",
  async () => {
    const dir = await Deno.makeTempDir();
    const r = await bench("--mode", "phantom", "--ranks", "2,4", ...SMALL, "--out", dir);
    assertEquals(r.code, 0, r.stderr);
    assert(/phantom\s+4\s+64\s+2/.test(r.stdout), r.stdout);
    const file = await results(dir);
    assertEquals(file.sweep.id, "point");
    assertEquals(file.communicator.kind, "nats");
    assertEquals((file.environment.natsServer as string).startsWith("nats-server"), true);
    assertEquals(file.runs.length, 2);
    for (const run of file.runs) {
      assertEquals(run.status, "ok");
      assertEquals(run.metrics!.bytesMatchPrediction, true);
      assertEquals(run.metrics!.stepTimeMs.samples.length, 5);
      assert(run.metrics!.wireBytesSentPerRankPerStep! > run.metrics!.bytesSentPerRankPerStep);
      assertEquals(run.metrics!.loss!.curve[0][0], 0);
      assertEquals(run.config.dtype, "float32");
    }
    // The default backend is auto: blas where a CBLAS library is found, else wasm saying why.
    const backend =
      (file.environment.tfjs as { backend: { name: string; flags: Record<string, unknown> } })
        .backend;
    assert(
      backend.name === "blas" || (backend.name === "wasm" && backend.flags.autoFallback),
      JSON.stringify(backend),
    );
    for (const run of file.runs) assertEquals(run.config.backend, backend.name);
    // On a host without telemetry (the build machines) energy is unavailable, not invented.
    if (file.power.backend === "none") {
      for (const run of file.runs) assertEquals(run.metrics!.energy.method, "unavailable");
    }
  },
);

deadlineTest(
  "bench: the same point and seed give the same loss curve; repeats share the config hash",
  async () => {
    const dir = await Deno.makeTempDir();
    const r = await bench(
      "--mode",
      "tp",
      "--ranks",
      "2",
      ...SMALL,
      "--repeats",
      "2",
      "--communicator",
      "inprocess",
      "--out",
      dir,
    );
    assertEquals(r.code, 0, r.stderr);
    const [a, b] = (await results(dir)).runs;
    assertEquals([a.repeat, b.repeat], [0, 1]);
    assertEquals(a.configHash, b.configHash);
    assertEquals(a.metrics!.loss!.curve.map((c) => c[3]), b.metrics!.loss!.curve.map((c) => c[3]));
  },
);

deadlineTest(
  "bench: a declared power model gives energy labelled modelled, per step and phase",
  async () => {
    const dir = await Deno.makeTempDir();
    const r = await bench(
      "--mode",
      "tp",
      "--ranks",
      "2",
      ...SMALL,
      "--communicator",
      "inprocess",
      "--power",
      "none",
      "--power-model",
      "40,12",
      "--out",
      dir,
    );
    assertEquals(r.code, 0, r.stderr);
    assert(r.stdout.includes("(modelled)"), r.stdout);
    const file = await results(dir);
    const energy = file.runs[0].metrics!.energy;
    assertEquals(energy.method, "modelled");
    assertEquals(energy.joulesPerStep!.samples.length, 5);
    assert(energy.perPhase!.forward.median > 0 && energy.perPhase!.backward.median > 0);
    assert(file.runs[0].metrics!.loss!.curve.every((c) => c[2] !== null));
    assertEquals(file.power.model, { idleW: 40, wattsPerBusyCore: 12 });
  },
);

deadlineTest(
  "bench: an impossible requested point is an error before anything starts",
  async () => {
    const dir = await Deno.makeTempDir();
    // p = 3 does not divide 64: nothing runs, no server starts, no results file is written.
    const r = await bench("--mode", "tp", "--ranks", "3,2", ...SMALL, "--out", dir);
    assertEquals(r.code, 2, r.stdout + r.stderr);
    assert(
      r.stderr.includes(
        "cannot run the requested point tp-p3-n64-L2-b8: Invalid config: ranks (3) must divide width (64)",
      ),
      r.stderr,
    );
    assertEquals(r.stdout, "");
    assertEquals([...Deno.readDirSync(dir)].length, 0);
  },
);

deadlineTest(
  "bench: a sweep excludes its impossible points by rule; a failing run is recorded, the others still run",
  async () => {
    const dir = await Deno.makeTempDir();
    const sweepFile = `${dir}/sweep.json`;
    await Deno.writeTextFile(
      sweepFile,
      JSON.stringify({
        id: "mixed",
        version: 1,
        repeats: 1,
        warmup: 1,
        base: { mode: "tp", width: 64, batch: 4, steps: 3, layers: 1 },
        axes: { variant: [{ ranks: 2, steps: 1 }, { ranks: 2 }, { ranks: 3 }] },
      }),
    );
    const out = `${dir}/out`;
    const m = await bench("--sweep", sweepFile, "--communicator", "inprocess", "--out", out);
    assertEquals(m.code, 1, m.stdout + m.stderr);
    assert(m.stdout.includes("excluded tp-p3-n64-L1-b4"), m.stdout);
    const file = await results(out);
    assertEquals(file.sweep.excluded[0].reason, "Invalid config: ranks (3) must divide width (64)");
    const runs = file.runs;
    assertEquals(runs.map((x) => x.status), ["failed", "ok"]);
    assert(runs[0].error!.includes("warm-up (1) leaves none of the 1 steps"), runs[0].error);
  },
);

deadlineTest(
  "bench: without nats-server the ranks run in process, saying so and how to install it",
  async () => {
    const dir = await Deno.makeTempDir();
    const bin = await Deno.makeTempDir(); // a PATH with git but no nats-server
    const git = new Deno.Command("sh", { args: ["-c", "command -v git"], stdout: "piped" })
      .outputSync();
    const gitPath = new TextDecoder().decode(git.stdout).trim();
    if (gitPath) await Deno.symlink(gitPath, `${bin}/git`);
    const r = await runTask(
      "bench",
      [
        "--mode",
        "tp",
        "--ranks",
        "2",
        ...SMALL,
        "--out",
        dir,
      ],
      { PATH: bin },
    );
    assertEquals(r.code, 0, r.stdout + r.stderr);
    assert(
      r.stdout.includes("nats-server is not installed: running every rank in this process"),
      r.stdout,
    );
    assert(r.stdout.includes("apt-get install nats-server"), r.stdout);
    const file = await results(dir);
    assertEquals(file.communicator.kind, "in-process");
    assertEquals(file.runs[0].status, "ok");
    // Asked for explicitly, NATS without a server is an error.
    const explicit = await runTask(
      "bench",
      [
        "--communicator",
        "nats",
        "--ranks",
        "2",
        ...SMALL,
        "--out",
        dir,
      ],
      { PATH: bin },
    );
    assertEquals(explicit.code, 2, explicit.stderr);
    assert(explicit.stderr.includes("nats-server not found"), explicit.stderr);
  },
);

deadlineTest("bench: --mode takes a list like --ranks", async () => {
  const dir = await Deno.makeTempDir();
  const r = await bench(
    "--mode",
    "serial,tp",
    ...SMALL,
    "--communicator",
    "inprocess",
    "--out",
    dir,
  );
  assertEquals(r.code, 0, r.stderr);
  assertEquals((await results(dir)).runs.map((x) => x.point), [
    "serial-p1-n64-L2-b8",
    "tp-p1-n64-L2-b8",
  ]);
});

const TRAVERSAL_SWEEP = await (async () => {
  const path = `${await Deno.makeTempDir()}/traversal.json`;
  await Deno.writeTextFile(
    path,
    JSON.stringify({
      id: "/../../elsewhere/X",
      version: 1,
      base: {},
      axes: {},
      repeats: 1,
      warmup: 0,
    }),
  );
  return path;
})();

const USAGE_ERRORS: [string[], string][] = [
  [["--ranks", "two"], '--ranks ("two") must be a positive integer'],
  [["--width=-4"], '--width ("-4") must be a positive integer'],
  [["--width", "-4"], "--width needs a value (write --width=VALUE for a value starting with"],
  [["--lr", "fast"], '--lr ("fast") must be a finite number'],
  [
    ["--backend", "cuda"],
    'backend ("cuda") must be one of auto, blas, wasm, cpu, webgpu, tensorflow',
  ],
  [["--bogus"], "unknown option --bogus (see --help)"],
  [["--quick=yes"], "--quick takes no value"],
  [["--ranks"], "--ranks needs a value"],
  [["stray"], 'unexpected argument "stray"'],
  [["--mode", "tp,dp"], '--mode ("tp,dp") has "dp": each entry must be one of serial, tp, phantom'],
  [
    ["--mode", "phantom", "--ranks", "4", "--width", "64", "--phantom-width", "16"],
    "cannot run the requested point phantom-p4-n64-k16-L2-b128: Invalid config: phantomWidth (16) must be smaller than width/ranks (16)",
  ],
  [["--power", "ipmi"], 'power ("ipmi") must be one of auto, nvml'],
  [["--communicator", "mpi"], '--communicator ("mpi") must be nats or in-process'],
  [["--launcher", "pbs"], '--launcher ("pbs") must be one of local, slurm, manual'],
  [["--dtype", "int8"], '--dtype ("int8") must be one of float32, float16, bfloat16'],
  [["--power-model", "40"], '--power-model ("40") must be IDLE_W,WATTS_PER_BUSY_CORE'],
  [
    ["--sweep", "huge"],
    '--sweep ("huge") must be one of scaling, width, to-target, default, memory-wall, inference, paper, paper-target, paper-curves',
  ],
  [["--sweep", "/nonexistent.json"], "cannot be read as JSON"],
  [["--sweep", TRAVERSAL_SWEEP], 'id ("/../../elsewhere/X") must be a name of letters'],
  [["--sweep", "scaling", "--ranks", "2"], "cannot be combined with point options"],
  [["--filter", "ranks~2"], '"ranks~2"'],
  [["--filter", "rnks<=8"], 'has an unknown field "rnks" (fields: mode, ranks,'],
  [["--filter", "ranks>300"], "matches none of the sweep's 8 points"],
  [["--repeats", "0"], '--repeats ("0") must be a positive integer'],
  [["--target", "2"], '--target ("2") must be a fraction of the initial loss below 1'],
  [["--processes", "0"], '--processes ("0") must be a positive integer'],
  [["--power-period", "fast"], '--power-period ("fast") must be a positive integer'],
  [["--nats", "not a url"], 'nats.servers (["not a url"]) must be one or more URLs'],
  [
    ["--nats", "nats://T0KEN@127.0.0.1:4222"],
    'nats.servers ("nats://***@127.0.0.1:4222") must not carry credentials',
  ],
  [
    ["--nats", "nats://127.0.0.1:4222", "--communicator", "in-process"],
    "has no effect with --communicator in-process",
  ],
  [
    ["--launcher", "manual"],
    "needs --node-interface NAME: the bench's own nats-server must listen",
  ],
  [["--run-id", "r", "--secret-file", "/x"], '--run-id ("r") is for --launcher manual only'],
  [
    ["--launcher", "manual", "--node-interface", "lo", "--run-id", "r"],
    '--run-id ("r") needs --secret-file',
  ],
  [
    ["--launcher", "manual", "--node-interface", "lo", "--run-id", "r", "--secret-file", "/x"],
    '--secret-file ("/x") needs --nats URL',
  ],
  [["--link", "100mbit"], '--link ("100mbit") is for --emulate-hosts only'],
  [["--emulate-hosts", "9"], "--emulate-hosts (9) must be 2 to 8 hosts"],
  [["--emulate-hosts", "3", "--launcher", "slurm"], "does not go with --launcher"],
  [["--emulate-hosts", "3", "--link", "fast"], '--link ("fast") must be a rate like 1gbit'],
  [["--sweep", "default", "--replicas", "2,4"], '--replicas ("2,4") takes one value with a sweep'],
  [["--link-delay", "2ms"], '--link-delay ("2ms") is for --emulate-hosts only'],
  [
    ["--emulate-hosts", "3", "--link-delay", "soon"],
    '--link-delay ("soon") must be a delay like 2ms',
  ],
  [
    ["--sweep", "network"],
    '--sweep ("network") sets the link rate of each point: it runs on an emulated',
  ],
  [
    ["--sweep", "network", "--emulate-hosts", "3", "--link", "1gbit"],
    '--link ("1gbit") does not go with --sweep network',
  ],
  [["--cooldown", "x"], '--cooldown ("x") must be a whole number'],
  [["--cooldown", "1000000000000"], "--cooldown (1000000000000) must be at most 86400000 ms"],
  [["--power-period", "99999999999"], "--power-period (99999999999) must be at most"],
  [["--warmup", "-1"], "--warmup needs a value"],
  [["--warmup=-1"], '--warmup ("-1") must be a whole number'],
  [["--launcher", "slurm"], "SLURM_JOB_ID (missing) must be set for --launcher slurm"],
  [
    ["--workload", "serve"],
    '--workload ("serve") has "serve": each entry must be one of train, inference',
  ],
  [
    ["--workload", "train,inference"],
    '--workload ("train,inference") takes one value with a sweep',
  ],
  [["--memory-cap", "lots"], '--memory-cap ("lots")'],
  [
    ["--launcher", "slurm", "--gpus-per-node", "0"],
    '--gpus-per-node ("0") must be a positive integer',
  ],
];

// Checked in process, before anything starts (planBench); the exit code 2 and the one line
// without a stack trace are the CLI's, checked once per task (tests/cli_test.ts) and below.
deadlineTest(
  "bench: every bad flag or point is a usage error naming it, before anything starts",
  async () => {
    const out = await Deno.makeTempDir();
    for (const [args, message] of USAGE_ERRORS) {
      const error = await planBench([...args, "--out", out], {}).then(
        () => undefined,
        (e: Error) => e,
      );
      assert(error, `${args.join(" ")}: accepted`);
      assert(
        [ConfigError, UsageError, SlurmError, BackendUnavailableError].some((c) =>
          error instanceof c
        ),
        `${args.join(" ")}: ${error.name} is not a usage error`,
      );
      assert(error.message.includes(message), `${args.join(" ")}: ${error.message}`);
    }
  },
);

deadlineTest(
  "bench: a usage error found while setting up (no NVML) is one line and exit 2",
  async () => {
    const r = await bench("--power", "nvml", "--out", await Deno.makeTempDir());
    assertEquals(r.code, 2, r.stdout + r.stderr);
    assert(r.stderr.includes("nvml: cannot load libnvidia-ml.so.1"), r.stderr);
    assert(!r.stderr.includes("    at "), `stack trace printed:\n${r.stderr}`);
  },
);

natsTest(
  "bench: wrong NATS credentials or an unreachable --nats stop the sweep before it starts: one line, exit 2",
  async () => {
    const { startNatsServer } = await import("../lib/nats/nats_server.ts");
    const { freePort } = await import("../lib/system/process.ts");
    await using server = await startNatsServer();
    const dir = await Deno.makeTempDir();
    const wrong = "wr0ng-t0ken-x";
    const cases: [string[], Record<string, string>, string][] = [
      [["--nats", server.url], { PHANTOM_NATS_TOKEN: wrong }, "--nats credentials"],
      [["--nats", server.url], {}, "--nats credentials"],
      [["--nats", `nats://127.0.0.1:${freePort("127.0.0.1")}`], {}, "cannot be reached"],
    ];
    for (const [args, env, message] of cases) {
      const r = await runTask("bench", ["--quick", ...args, "--out", dir], env);
      const what = `${args.join(" ")} ${JSON.stringify(env)}`;
      assertEquals(r.code, 2, `${what}: ${r.stdout}${r.stderr}`);
      const lines = r.stderr.trim().split("\n").filter((l) => l.startsWith("error:"));
      assertEquals(lines.length, 1, r.stderr);
      assert(lines[0].includes(message), lines[0]);
      assert(!r.stderr.includes("    at ") && !r.stderr.includes("ECONNRESET"), r.stderr);
      assert(!(r.stdout + r.stderr).includes(wrong), "the token is shown");
    }
    assertEquals([...Deno.readDirSync(dir)].length, 0, "a results file was written");
  },
);

natsTest(
  "bench: float16 on the wire over NATS halves the measured and predicted bytes",
  async () => {
    const dir = await Deno.makeTempDir();
    const r = await bench(
      "--mode",
      "phantom",
      "--ranks",
      "4",
      ...SMALL.slice(0, 6),
      "--steps",
      "3",
      "--warmup",
      "1",
      "--dtype",
      "float16",
      "--out",
      dir,
    );
    assertEquals(r.code, 0, r.stderr);
    const run = (await results(dir)).runs[0];
    assertEquals(run.metrics!.bytesMatchPrediction, true);
    // 2 layers x (b k + (p-1) b k) + b d_out, 2 bytes each.
    assertEquals(run.metrics!.bytesSentPerRankPerStep, 2 * (2 * (8 * 2 + 3 * 8 * 2) + 8 * 16));
    assertEquals(run.config.dtype, "float16");
  },
);

deadlineTest("bench: --help documents every flag", async () => {
  const r = await bench("--help");
  assertEquals(r.code, 0);
  const flags = [
    "--sweep",
    "--quick",
    "--filter",
    "--repeats",
    "--cooldown",
    "--mode",
    "--ranks",
    "--width",
    "--phantom-width",
    "--layers",
    "--batch",
    "--steps",
    "--warmup",
    "--seed",
    "--optimizer",
    "--lr",
    "--target",
    "--communicator",
    "--nats",
    "--launcher",
    "--processes",
    "--dtype",
    "--backend",
    "--power",
    "--power-model",
    "--power-period",
    "--out",
    "--gpus-per-node",
    "--gpu-bind",
    "--node-interface",
    "--workload",
    "--memory-cap",
  ];
  for (const flag of flags) assert(r.stdout.includes(flag), `--help lacks ${flag}`);
});

deadlineTest(
  "bench: --sweep comm is a usage error naming bench:comm, the one way to run the collective benchmark",
  async () => {
    const r = await bench("--sweep", "comm", "--quick");
    assertEquals(r.code, 2, r.stdout + r.stderr);
    assert(r.stderr.includes("deno task bench:comm"), r.stderr);
  },
);

/** Ctrl-C mid-point: the run is recorded as interrupted, the bench exits 130. */
async function ctrlC(communicator: "nats" | "in-process") {
  const dir = await Deno.makeTempDir();
  const child = new Deno.Command(Deno.execPath(), {
    args: taskArgs("bench", [
      "--mode",
      "tp",
      "--ranks",
      "2,4",
      "--width",
      "64",
      "--batch",
      "8",
      "--steps",
      "3000",
      "--warmup",
      "1",
      "--cooldown",
      "0",
      "--communicator",
      communicator,
      "--out",
      dir,
    ]),
    cwd: ROOT,
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  // Interrupt once the first point is running.
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let seen = "";
  while (!seen.includes("[1/2]")) {
    const { value, done } = await reader.read();
    if (done) break;
    seen += value;
  }
  await new Promise((r) => setTimeout(r, 1500));
  child.kill("SIGINT");
  const rest = reader.read().then(async function drain(r): Promise<void> {
    if (!r.done) return drain(await reader.read());
  });
  const status = await child.status;
  await rest;
  await child.stderr.cancel();
  assertEquals(status.code, 130);
  const file = await results(dir);
  assertEquals(file.runs.length, 1);
  assertEquals(file.runs[0].status, "interrupted");
  assert(file.runs[0].error!.includes("interrupted"), file.runs[0].error);
}

systemTest([NATS_SERVER], {
  name: "bench: Ctrl-C stops the running point over NATS, keeps what was measured, exits 130",
  fn: () => ctrlC("nats"),
});

deadlineTest(
  "bench: Ctrl-C stops a running point in process too, keeps what was measured, exits 130",
  () => ctrlC("in-process"),
);

deadlineTest(
  "bench: without a CBLAS library the terminal says so once, in one short line",
  async () => {
    const r = await runTask("bench", [
      ...SMALL,
      "--mode",
      "tp",
      "--ranks",
      "1",
      "--communicator",
      "in-process",
      "--power",
      "none",
      "--out",
      await Deno.makeTempDir(),
    ], { PHANTOM_BLAS_LIB: "/nonexistent/libcblas.so" });
    assertEquals(r.code, 0, r.stderr);
    const lines = r.stdout.split("\n").filter((l) => l.includes("libcblas"));
    assertEquals(lines.length, 1, r.stdout);
    assert(lines[0].length < 300, lines[0]);
    assert(/^backend wasm \(SIMD, 1 thread\); in-process; power none$/m.test(r.stdout), r.stdout);
  },
);

deadlineTest(
  "bench: the terminal ends with the verdict; rows name their repeat; bytes read as KiB",
  async () => {
    const r = await bench(
      ...SMALL,
      "--mode",
      "tp,phantom",
      "--ranks",
      "2",
      "--repeats",
      "2",
      "--communicator",
      "in-process",
      "--power",
      "none",
      "--out",
      await Deno.makeTempDir(),
    );
    assertEquals(r.code, 0, r.stderr);
    const lines = r.stdout.split("\n");
    assert(lines.some((l) => /^phantom\s+2\s+64\s+2\s+#1\s/.test(l)), r.stdout);
    assert(
      lines.some((l) => /^tp\s+2\s+64\s+-\s+#0\s.*\d+(\.\d)? (B|KiB) \(=\)/.test(l)),
      r.stdout,
    );
    const verdict = lines.indexOf("phantom against TP:");
    assert(verdict > 0, r.stdout);
    assert(
      /^ {2}At p = 2, n = 64, L = 2, b = 8 \(k = 2, 2 repeats each\), phantom took/.test(
        lines[verdict + 1],
      ),
      lines[verdict + 1],
    );
    assert(
      lines.some((l) =>
        l.startsWith("J/step n/a: no power telemetry here") && l.includes("--power-model")
      ),
    );
    assert(
      lines.findIndex((l) => l.startsWith("results: ")) > verdict,
      "the verdict comes before the paths",
    );
  },
);

deadlineTest(
  "bench: a diverging run is recorded as failed with where it diverged; the file still loads",
  async () => {
    const dir = await Deno.makeTempDir();
    const r = await bench(
      ...SMALL,
      "--mode",
      "tp",
      "--ranks",
      "1,2",
      "--lr",
      "1e12",
      "--optimizer",
      "sgd",
      "--steps",
      "20",
      "--communicator",
      "in-process",
      "--power",
      "none",
      "--out",
      dir,
    );
    assertEquals(r.code, 1, r.stderr);
    assert(!r.stderr.includes("    at "), r.stderr);
    const file = await results(dir);
    assertEquals(file.runs.map((x) => x.status), ["failed", "failed"]);
    for (const run of file.runs) {
      assert(
        /^training diverged: the (training|held-out) loss is (NaN|-?Infinity)/.test(run.error!),
        run.error,
      );
    }
  },
);

deadlineTest("bench: an --out that cannot be a folder is one line naming it, exit 2", async () => {
  const file = `${await Deno.makeTempDir()}/a-file`;
  await Deno.writeTextFile(file, "");
  const r = await bench("--communicator", "in-process", ...SMALL, "--out", `${file}/out`);
  assertEquals(r.code, 2, r.stdout + r.stderr);
  assert(r.stderr.startsWith("error: Invalid config: --out ("), r.stderr);
  assert(!r.stderr.includes("    at "), `stack trace printed:\n${r.stderr}`);
});
