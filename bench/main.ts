/**
 * `deno task bench`: runs a benchmark sweep (default: `default`) or a single point given by axis
 * flags, over NATS (a local nats-server unless --nats URL) or in process, and writes one results
 * file (schema version 1, lib/results.ts) under --out, rewritten atomically after every run.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { join } from "node:path";
import { BackendUnavailableError, selectBackend } from "../lib/nn/backend.ts";
import { oneOf } from "../lib/config/config.ts";
import { ConfigError } from "../lib/config/config_error.ts";
import { collectEnvironment } from "../lib/results/environment.ts";
import { writeTextFileAtomic } from "../lib/results/atomic_write.ts";
import {
  describeNats,
  NATS_AUTH_FLAGS,
  natsAuthOptions,
  natsConnectionFromFlags,
  type NatsConnectionOptions,
} from "../lib/nats/connection.ts";
import { NatsServerError, startNatsServer } from "../lib/nats/nats_server.ts";
import { bytesPerElement, WIRE_DTYPES, type WireDtype } from "../lib/nats/wire.ts";
import { type LauncherName, LAUNCHERS } from "../lib/runtime/nats_run.ts";
import { EnergyMonitor, type PowerModel } from "../lib/power/energy_monitor.ts";
import { openPowerSampler } from "../lib/power/open_sampler.ts";
import { TelemetryError } from "../lib/power/power_sampler.ts";
import { type ResultsFile, type RunResult, SCHEMA_VERSION } from "../lib/results/results.ts";
import { expandSweep, type Sweep } from "../lib/config/sweep.ts";
import { parseInteger, parseIntList, runMain } from "../lib/cli/run_main.ts";
import type { CommunicatorChoice } from "../lib/runtime/point.ts";
import { runSweep } from "../lib/runtime/runner.ts";
import { SWEEPS } from "../lib/config/sweeps.ts";
import { writeReport } from "../lib/report/write_report.ts";

const HELP = `Usage: deno task bench [options]

Runs a sweep (default: "default", TP and phantom at p = 1, 2, 4, 8) or, with any point option,
a single point. Writes one results file under --out.

Sweep options:
  --sweep NAME|FILE          default, scaling, width, to-target, comm, or a JSON sweep file
  --quick                    the sweep's quick variant (fewer steps and points)
  --filter EXPR              keep points matching all conditions, e.g. mode=phantom,ranks<=8
  --repeats N                repeats of every point (default: the sweep's)
  --cooldown MS              pause between runs (default: 2000; --quick: 0)
Point options (any of them runs one point; the rest take these defaults):
  --mode tp|phantom|serial   parallelisation of the hidden layers (default: tp and phantom)
  --ranks P[,P...]           ranks p; p must divide the width (default: 1)
  --width N                  hidden width n (default: 1024)
  --phantom-width K          ghost neurons per rank, 1 <= K < n/p (default: 16; phantom only)
  --layers L                 hidden-to-hidden layers (default: 2)
  --batch B                  mini-batch rows (default: 128)
  --input-width D            input width (default: 32)
  --output-width D           output width (default: 16)
  --steps S                  training steps (default: 50; --quick: 12)
  --warmup W                 steps left out of timing (default: 5; --quick: 2)
  --seed S                   seed of weights, batches and teacher (default: 1)
  --optimizer sgd|adam       optimizer (default: adam)
  --lr X                     learning rate (default: 0.001)
  --target X                 loss target: a fraction of the initial loss (0.2) or an MSE (0.05abs)
Run options:
  --communicator nats|inprocess
                             nats (default): ranks in worker processes talking over NATS;
                             inprocess: all ranks in this process, no transport
  --nats URL[,URL...]        use this NATS server or cluster (default: start a local nats-server)
  --nats-token T | --nats-user U --nats-password P | --nats-creds FILE | --nats-nkey FILE
  --nats-tls-ca FILE --nats-tls-cert FILE --nats-tls-key FILE
                             NATS authentication and TLS (never written to results or logs)
  --launcher local|slurm|manual
                             local (default): start worker processes here; slurm: wait for
                             srun-started workers; manual: wait for workers started by hand
  --processes N              local worker processes (default: min(ranks, CPU cores))
  --dtype float32|float16|bfloat16
                             element type of activations on the wire (default: float32)
  --backend NAME             wasm (default), cpu, webgpu, tensorflow
  --power NAME               power backend: auto (default), nvml, nvidia-smi, amd-smi, rocm-smi,
                             rapl, none
  --power-model IDLE,CORE    with no telemetry: model energy as IDLE watts plus CORE watts per busy
                             CPU core (results say "modelled")
  --power-period MS          power sampling period (default: 100)
  --out DIR                  results folder (default: reports/results)
  --help                     this text
`;

const POINT_FLAGS = ["mode", "ranks", "width", "phantom-width", "layers", "batch"] as const;

interface CliOptions {
  sweep: Sweep | "comm";
  quick: boolean;
  filter?: string;
  repeats?: number;
  cooldownMs: number;
  overrides: Record<string, unknown>;
  communicator: "in-process" | "nats";
  nats?: NatsConnectionOptions;
  launcher: LauncherName;
  processes?: number;
  dtype: WireDtype;
  backend: string;
  out: string;
  power: string;
  powerModel?: PowerModel;
  powerPeriodMs: number;
}

function parseCli(args: string[]): CliOptions | "help" {
  const { values } = parseArgs({
    args,
    strict: true,
    allowPositionals: false,
    options: {
      sweep: { type: "string" },
      quick: { type: "boolean", default: false },
      filter: { type: "string" },
      repeats: { type: "string" },
      cooldown: { type: "string" },
      mode: { type: "string" },
      ranks: { type: "string" },
      width: { type: "string" },
      "phantom-width": { type: "string" },
      layers: { type: "string" },
      batch: { type: "string" },
      "input-width": { type: "string" },
      "output-width": { type: "string" },
      steps: { type: "string" },
      warmup: { type: "string" },
      seed: { type: "string" },
      optimizer: { type: "string" },
      lr: { type: "string" },
      target: { type: "string" },
      communicator: { type: "string", default: "nats" },
      nats: { type: "string" },
      ...natsAuthOptions("nats-"),
      launcher: { type: "string", default: "local" },
      processes: { type: "string" },
      dtype: { type: "string", default: "float32" },
      backend: { type: "string", default: "wasm" },
      power: { type: "string", default: "auto" },
      "power-model": { type: "string" },
      "power-period": { type: "string", default: "100" },
      out: { type: "string", default: join("reports", "results") },
      help: { type: "boolean", default: false },
    },
  });
  if (values.help) return "help";
  const int = (flag: string) => {
    const v = values[flag as keyof typeof values];
    return v === undefined ? undefined : parseInteger(`--${flag}`, String(v));
  };
  const quick = values.quick;
  const single = POINT_FLAGS.some((f) => values[f] !== undefined);
  if (single && values.sweep) {
    throw new ConfigError(
      "--sweep",
      values.sweep,
      "cannot be combined with point options (--mode, --ranks, ...)",
    );
  }
  const overrides: Record<string, unknown> = { backend: values.backend };
  if (values.seed !== undefined) {
    if (!/^\d+$/.test(values.seed)) {
      throw new ConfigError("--seed", values.seed, "must be an integer from 0 to 4294967295");
    }
    overrides.seed = Number(values.seed);
  }
  if (values.lr !== undefined || values.optimizer !== undefined) {
    const lr = Number(values.lr ?? 0.001);
    if (values.lr !== undefined && (values.lr.trim() === "" || !Number.isFinite(lr))) {
      throw new ConfigError("--lr", values.lr, "must be a finite number");
    }
    overrides.optimizer = { name: values.optimizer ?? "adam", learningRate: lr };
  }
  for (
    const [flag, field] of [["steps", "steps"], ["input-width", "inputWidth"], [
      "output-width",
      "outputWidth",
    ]]
  ) {
    const v = int(flag);
    if (v !== undefined) overrides[field] = v;
  }
  let sweep: Sweep | "comm";
  if (single) {
    const steps = int("steps") ?? (quick ? 12 : 50);
    sweep = {
      id: "point",
      version: 1,
      description: "a single point from command-line options",
      base: {
        width: int("width") ?? 1024,
        layers: int("layers") ?? 2,
        batch: int("batch") ?? 128,
        inputWidth: 32,
        outputWidth: 16,
        phantomWidth: int("phantom-width") ?? 16,
        steps,
        task: { evalEvery: Math.max(1, Math.floor(steps / 10)) },
      },
      axes: {
        mode: values.mode ? [values.mode] : ["tp", "phantom"],
        ranks: values.ranks ? [...new Set(parseIntList("--ranks", values.ranks))] : [1],
      },
      repeats: 1,
      warmup: quick ? 2 : 5,
    };
  } else {
    sweep = values.sweep === "comm" ? "comm" : loadSweep(values.sweep ?? "default");
  }
  if (values.warmup !== undefined && sweep !== "comm") {
    const warmup = Number(values.warmup);
    if (!/^\d+$/.test(values.warmup)) {
      throw new ConfigError("--warmup", values.warmup, "must be a non-negative integer");
    }
    sweep = { ...sweep, warmup, quick: { ...sweep.quick, warmup } };
  }
  if (values.target !== undefined && sweep !== "comm") {
    sweep = { ...sweep, target: parseTarget(values.target) };
  }
  const communicator = oneOf("--communicator", values.communicator, ["nats", "inprocess"] as const);
  return {
    sweep,
    quick,
    filter: values.filter,
    repeats: int("repeats"),
    cooldownMs: values.cooldown === undefined ? (quick ? 0 : 2000) : parseCooldown(values.cooldown),
    overrides,
    communicator: communicator === "inprocess" ? "in-process" : "nats",
    nats: values.nats
      ? natsConnectionFromFlags(
        values.nats,
        Object.fromEntries(
          NATS_AUTH_FLAGS.map((
            f,
          ) => [f, values[`nats-${f}` as keyof typeof values] as string | undefined]),
        ),
      )
      : undefined,
    launcher: oneOf("--launcher", values.launcher, LAUNCHERS),
    processes: int("processes"),
    dtype: oneOf("--dtype", values.dtype, WIRE_DTYPES),
    backend: values.backend,
    out: values.out,
    power: values.power,
    powerModel: parsePowerModel(values["power-model"]),
    powerPeriodMs: parseInteger("--power-period", values["power-period"]),
  };
}

function loadSweep(name: string): Sweep {
  if (SWEEPS[name]) return SWEEPS[name];
  if (!name.endsWith(".json")) {
    throw new ConfigError(
      "--sweep",
      name,
      `must be one of ${[...Object.keys(SWEEPS), "comm"].join(", ")} or a .json file`,
    );
  }
  let sweep: Sweep;
  try {
    sweep = JSON.parse(Deno.readTextFileSync(name));
  } catch (error) {
    throw new ConfigError("--sweep", name, `cannot be read as JSON: ${(error as Error).message}`);
  }
  const fields = sweep as unknown as Record<string, unknown>;
  const isObject = (v: unknown) => typeof v === "object" && v !== null && !Array.isArray(v);
  const checks: [string, (v: unknown) => boolean, string][] = [
    ["id", (v) => typeof v === "string", "a string"],
    ["version", (v) => typeof v === "number", "a number"],
    ["base", isObject, "an object"],
    ["axes", isObject, "an object"],
    ["repeats", (v) => typeof v === "number", "a number"],
    ["warmup", (v) => typeof v === "number", "a number"],
  ];
  for (const [field, ok, what] of checks) {
    if (!ok(fields[field])) {
      throw new ConfigError(`--sweep ${name}: ${field}`, fields[field], `must be ${what}`);
    }
  }
  return { ...sweep, description: sweep.description ?? "" };
}

function parseCooldown(text: string): number {
  if (!/^\d+$/.test(text.trim())) {
    throw new ConfigError("--cooldown", text, "must be a whole number of ms (0 or more)");
  }
  return Number(text);
}

function parseTarget(text: string) {
  const m = text.trim().match(/^(\d*\.?\d+(?:e-?\d+)?)(abs)?$/);
  const value = m ? Number(m[1]) : NaN;
  if (!m || !(value > 0) || (!m[2] && value >= 1)) {
    throw new ConfigError(
      "--target",
      text,
      "must be a fraction of the initial loss below 1 (0.2) or an MSE with abs (0.05abs)",
    );
  }
  return { kind: m[2] ? "absolute" as const : "fraction" as const, value };
}

function parsePowerModel(text: string | undefined): PowerModel | undefined {
  if (text === undefined) return undefined;
  const parts = text.split(",").map((s) => Number(s.trim()));
  if (parts.length !== 2 || parts.some((v) => !Number.isFinite(v) || v < 0) || text.trim() === "") {
    throw new ConfigError(
      "--power-model",
      text,
      "must be IDLE_W,WATTS_PER_BUSY_CORE (two non-negative numbers)",
    );
  }
  return { idleW: parts[0], wattsPerBusyCore: parts[1] };
}

function formatRow(run: RunResult): string {
  const c = run.config;
  const head = `${String(c.mode).padEnd(8)}${String(c.ranks).padStart(4)}${
    String(c.width).padStart(7)
  }${String(c.phantomWidth ?? "-").padStart(5)}`;
  if (!run.metrics) return `${head}  FAILED: ${run.error}`;
  const m = run.metrics;
  const step = m.stepTimeMs.median;
  const bytes = `${m.bytesSentPerRankPerStep}/${m.predicted.bytesSentPerRankPerStep}${
    m.bytesMatchPrediction ? "" : " MISMATCH"
  }`;
  const curve = m.loss.curve;
  const e = m.energy;
  const energy = e.joulesPerStep
    ? `${e.joulesPerStep.median.toPrecision(3)} (${e.method})`
    : "unavailable";
  const toTarget = m.loss.stepsToTarget === null ? "not reached" : `${m.loss.stepsToTarget} steps`;
  return [
    head,
    step.toFixed(1).padStart(10),
    `${(100 * m.commTimeMs.median / step).toFixed(0).padStart(6)}%`,
    bytes.padStart(24),
    m.achievedGflops.toFixed(1).padStart(9),
    `   ${curve[0][3].toFixed(4)} -> ${curve.at(-1)![3].toFixed(4)}`,
    `  ${toTarget.padStart(11)}`,
    `   ${energy}`,
  ].join("");
}

async function main(args: string[]): Promise<number> {
  const options = parseCli(args);
  if (options === "help") {
    console.log(HELP);
    return 0;
  }
  if (options.sweep === "comm") return await runComm(options);
  const sweep = options.sweep;
  // Expanding validates every point before anything runs: a typo fails in a second.
  const expansion = expandSweep(sweep, {
    quick: options.quick,
    repeats: options.repeats,
    filter: options.filter,
    overrides: options.overrides,
  });
  const backend = await selectBackend(options.backend);
  const power = await openPowerSampler(options.power);
  await using monitor = await EnergyMonitor.start(power.sampler, {
    periodMs: options.powerPeriodMs,
    powerModel: options.powerModel,
  });
  if (power.sampler.devices.length > 0) await monitor.measureIdle(1000);
  const server = options.communicator === "nats" && !options.nats
    ? await startNatsServer()
    : undefined;
  const abort = new AbortController();
  const onInterrupt = () => abort.abort();
  Deno.addSignalListener("SIGINT", onInterrupt);
  try {
    const environment = {
      ...(await collectEnvironment(backend)),
      natsServer: server?.version ?? (options.nats ? "external" : null),
    };
    const connection = options.nats ?? (server ? { servers: server.url } : undefined);
    const communicator: CommunicatorChoice = options.communicator === "in-process" || !connection
      ? { kind: "in-process" }
      : {
        kind: "nats",
        connection,
        launcher: options.launcher,
        processes: options.processes,
        dtype: options.dtype,
      };
    const dtype = communicator.kind === "nats" ? options.dtype : "float32";
    await Deno.mkdir(options.out, { recursive: true });
    const file = join(
      options.out,
      `bench-${sweep.id}-${new Date().toISOString().replace(/[:.]/g, "-")}.json`,
    );
    const runs: RunResult[] = [];
    const write = () => {
      const results: ResultsFile = {
        schemaVersion: SCHEMA_VERSION,
        createdAt: new Date().toISOString(),
        environment,
        sweep: {
          id: sweep.id,
          version: sweep.version,
          description: sweep.description,
          quick: options.quick,
          filter: options.filter ?? null,
          repeats: expansion.repeats,
          excluded: expansion.excluded,
        },
        communicator: communicator.kind === "nats"
          ? {
            kind: "nats",
            servers: describeNats(communicator.connection),
            launcher: options.launcher,
            processes: options.processes ?? null,
            dtype,
          }
          : { kind: "in-process" },
        power: {
          backend: power.sampler.backend,
          devices: power.sampler.devices,
          selection: power.reasons,
          notes: power.sampler.notes,
          periodMs: monitor.periodMs,
          idleW: monitor.idleW() ?? null,
          model: options.powerModel ?? null,
        },
        runs,
      };
      return writeTextFileAtomic(file, JSON.stringify(results, null, 2) + "\n");
    };
    console.log(
      `sweep ${sweep.id} v${sweep.version}: ${expansion.points.length} points x ${expansion.repeats} repeats` +
        (expansion.excluded.length ? `, ${expansion.excluded.length} excluded` : ""),
    );
    for (const x of expansion.excluded) console.log(`  excluded ${x.point}: ${x.reason}`);
    console.log(
      `backend ${backend.name} (${JSON.stringify(backend.flags)}); ${
        communicator.kind === "nats"
          ? `NATS ${describeNats(communicator.connection)}, ${options.launcher} launcher`
          : "in-process"
      }; power ${power.sampler.backend}`,
    );
    console.log(
      "mode       p      n    k   step ms   comm   sent B/step meas/pred   GFLOP/s   held-out loss" +
        "      to target   J/step",
    );
    await write();
    await runSweep(expansion, {
      communicator,
      bytesPerElement: communicator.kind === "nats" ? bytesPerElement(options.dtype) : 4,
      dtype,
      monitor,
      target: sweep.target ?? { kind: "fraction", value: 0.5 },
      cooldownMs: options.cooldownMs,
      signal: abort.signal,
      onRun: async (run) => {
        runs.push(run);
        console.log(formatRow(run));
        await write(); // an interrupted sweep keeps what it measured
      },
    });
    console.log(`results: ${file}`);
    try {
      const html = file.replace(/\.json$/, ".html");
      await writeReport(file, html);
      console.log(`report: ${html}`);
    } catch (error) {
      console.error(
        `warning: no report written (${(error as Error).message}); the results file is complete`,
      );
    }
    if (abort.signal.aborted) {
      console.error("interrupted: the results so far are in the file above");
      return 130;
    }
    return runs.some((r) => r.status === "failed") ? 1 : 0;
  } finally {
    Deno.removeSignalListener("SIGINT", onInterrupt);
    await server?.stop();
  }
}

async function runComm(options: CliOptions): Promise<number> {
  const args = ["run", "--allow-all", new URL("./comm.ts", import.meta.url).pathname];
  if (options.quick) args.push("--ranks", "2,4", "--sizes", "1K,64K,1M");
  if (options.nats) args.push("--nats", (options.nats.servers as string[]).join(","));
  await Deno.mkdir(options.out, { recursive: true });
  args.push(
    "--json",
    join(options.out, `comm-${new Date().toISOString().replace(/[:.]/g, "-")}.json`),
  );
  const out = await new Deno.Command(Deno.execPath(), {
    args,
    stdout: "inherit",
    stderr: "inherit",
  }).output();
  return out.code;
}

if (import.meta.main) {
  await runMain(
    main,
    [BackendUnavailableError, TelemetryError, NatsServerError],
    "Run `deno task bench --help` for the options.",
  );
}
