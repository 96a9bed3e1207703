// End-to-end tests of `deno task bench` as a user runs it: a subprocess, its output, its exit
// code and its results file.
import { assert, assertEquals } from "../lib/testing/asserts.ts";

const ROOT = new URL("..", import.meta.url).pathname;

async function bench(...args: string[]) {
  const out = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--allow-read",
      "--allow-write",
      "--allow-env",
      "--allow-sys",
      "--allow-run",
      "--allow-ffi",
      "--allow-net",
      "bench/main.ts",
      ...args,
    ],
    cwd: ROOT,
    stdout: "piped",
    stderr: "piped",
  }).output();
  const dec = new TextDecoder();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}

Deno.test("bench: a single point runs, prints its row and writes a results file", async () => {
  const dir = await Deno.makeTempDir();
  const r = await bench(
    "--mode",
    "phantom",
    "--ranks",
    "2,4",
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
    "--out",
    dir,
  );
  assertEquals(r.code, 0, r.stderr);
  assert(/phantom\s+4\s+64\s+2/.test(r.stdout), r.stdout);
  const [file] = [...Deno.readDirSync(dir)].map((e) => `${dir}/${e.name}`);
  const results = JSON.parse(await Deno.readTextFile(file));
  // Default transport: NATS, with a nats-server the bench started and stopped itself.
  assertEquals(results.communicator.kind, "nats");
  assertEquals(results.communicator.dtype, "float32");
  assert(
    results.communicator.serverVersion.startsWith("nats-server"),
    results.communicator.serverVersion,
  );
  assertEquals(results.runs.length, 2);
  for (const run of results.runs) {
    assertEquals(run.status, "ok");
    assertEquals(run.metrics.bytesMatchPrediction, true);
    assertEquals(run.metrics.stepTimeMs.samples.length, 5);
  }
  assertEquals(results.environment.tfjs.backend.name, "wasm");
  // The power selection says why; on a host without telemetry (the build machines) energy is
  // unavailable rather than invented.
  assert(results.power.selection.length >= 1);
  if (results.power.backend === "none") {
    for (const run of results.runs) assertEquals(run.energy.method, "unavailable");
  }
});

Deno.test("bench: a declared power model gives energy labelled modelled", async () => {
  const dir = await Deno.makeTempDir();
  const r = await bench(
    "--mode",
    "tp",
    "--ranks",
    "2",
    "--width",
    "32",
    "--batch",
    "4",
    "--steps",
    "4",
    "--warmup",
    "1",
    "--power",
    "none",
    "--power-model",
    "40,12",
    "--out",
    dir,
  );
  assertEquals(r.code, 0, r.stderr);
  assert(r.stdout.includes("(modelled)"), r.stdout);
  const [file] = [...Deno.readDirSync(dir)].map((e) => `${dir}/${e.name}`);
  const results = JSON.parse(await Deno.readTextFile(file));
  const energy = results.runs[0].energy;
  assertEquals(energy.method, "modelled");
  assertEquals(energy.joulesPerStep.samples.length, 3);
  assert(energy.joulesPerStep.median > 0);
  assertEquals(results.power.model, { idleW: 40, wattsPerBusyCore: 12 });
});

Deno.test("bench: a bad point fails alone, with its error recorded, and the exit code says so", async () => {
  const dir = await Deno.makeTempDir();
  // p = 3 does not divide 64; p = 2 does.
  const r = await bench(
    "--mode",
    "tp",
    "--ranks",
    "3,2",
    "--width",
    "64",
    "--batch",
    "4",
    "--steps",
    "3",
    "--warmup",
    "0",
    "--out",
    dir,
  );
  assertEquals(r.code, 1);
  assert(r.stdout.includes("FAILED: Invalid config: ranks (3) must divide width (64)"), r.stdout);
  const [file] = [...Deno.readDirSync(dir)].map((e) => `${dir}/${e.name}`);
  const runs = JSON.parse(await Deno.readTextFile(file)).runs;
  assertEquals(runs.map((x: { status: string }) => x.status), ["failed", "ok"]);
});

const USAGE_ERRORS: [string[], string][] = [
  [["--ranks", "two"], '--ranks ("two") must be a positive integer'],
  [["--width=-4"], '--width ("-4") must be a positive integer'],
  [["--width", "-4"], "Option '--width' argument is ambiguous"],
  [["--lr", "fast"], '--lr ("fast") must be a finite number'],
  [["--backend", "cuda"], 'backend ("cuda") must be one of wasm, cpu, webgpu, tensorflow'],
  [["--bogus"], "Unknown option '--bogus'"],
  [["--power", "ipmi"], 'power ("ipmi") must be one of auto, nvml'],
  [["--communicator", "mpi"], '--communicator ("mpi") must be one of nats, inprocess'],
  [["--launcher", "pbs"], '--launcher ("pbs") must be one of local, slurm, manual'],
  [["--dtype", "int8"], '--dtype ("int8") must be one of float32, float16, bfloat16'],
  [["--power-model", "40"], '--power-model ("40") must be IDLE_W,WATTS_PER_BUSY_CORE'],
  [["--power", "nvml"], "nvml: cannot load libnvidia-ml.so.1"],
  [["--steps", "5", "--warmup", "5"], '--warmup ("5") must be an integer from 0 to steps - 1 (4)'],
];

for (const [args, message] of USAGE_ERRORS) {
  Deno.test(`bench: ${args.join(" ")} is a clear usage error without a stack trace`, async () => {
    const r = await bench(...args);
    assertEquals(r.code, 2, r.stdout + r.stderr);
    assert(r.stderr.includes(message), r.stderr);
    assert(!r.stderr.includes("    at "), `stack trace printed:\n${r.stderr}`);
  });
}

Deno.test("bench: float16 on the wire over NATS halves the measured and predicted bytes", async () => {
  const dir = await Deno.makeTempDir();
  const r = await bench(
    "--mode",
    "phantom",
    "--ranks",
    "4",
    "--width",
    "64",
    "--phantom-width",
    "2",
    "--batch",
    "8",
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
  const [file] = [...Deno.readDirSync(dir)].map((e) => `${dir}/${e.name}`);
  const run = JSON.parse(await Deno.readTextFile(file)).runs[0];
  assertEquals(run.metrics.bytesMatchPrediction, true);
  // 2 layers x (b k + (p-1) b k) + b d_out, 2 bytes each.
  assertEquals(run.metrics.bytesSentPerRankPerStep, 2 * (2 * (8 * 2 + 3 * 8 * 2) + 8 * 16));
});

Deno.test("bench: --help documents every flag", async () => {
  const r = await bench("--help");
  assertEquals(r.code, 0);
  for (
    const flag of [
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
      "--backend",
      "--quick",
      "--out",
    ]
  ) {
    assert(r.stdout.includes(flag), `--help lacks ${flag}`);
  }
});

Deno.test("report and compare fail clearly until they are implemented", async () => {
  for (const script of ["reports/main.ts", "reports/compare.ts"]) {
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["run", script],
      cwd: ROOT,
      stderr: "piped",
    }).output();
    assertEquals(out.code, 2);
    assert(new TextDecoder().decode(out.stderr).includes("not implemented yet"));
  }
});
