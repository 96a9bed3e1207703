/**
 * `deno task bench`: trains TP and phantom FFNs on the teacher-student task and reports step time,
 * communication, payload bytes (measured next to the cost model), FLOP rate and held-out loss.
 *
 * This version runs every rank of a point in this process over the in-process communicator; the
 * NATS transport and the full sweep runner arrive with their issues. Energy per step comes from
 * the power sampler (a window per step of rank 0), labelled with its method: a hardware counter,
 * integrated power, a declared model, or unavailable. Results are written as JSON under --out and
 * labelled with the communicator used.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { join } from "node:path";
import { BackendUnavailableError, selectBackend } from "../lib/backend.ts";
import { type TrainConfig, validateTrainConfig } from "../lib/config.ts";
import { ConfigError } from "../lib/config_error.ts";
import { collectEnvironment } from "../lib/environment.ts";
import { writeTextFileAtomic } from "../lib/atomic_write.ts";
import { type RunMetrics, summarizeRun } from "../lib/run_summary.ts";
import { type EnergyMetrics, summarizeEnergy } from "../lib/energy_summary.ts";
import { EnergyMonitor, type PowerModel } from "../lib/power/energy_monitor.ts";
import { openPowerSampler } from "../lib/power/open_sampler.ts";
import { TelemetryError } from "../lib/power/power_sampler.ts";
import { parseInteger, parseIntList } from "./_cli.ts";
import { type CommunicatorChoice, runPoint } from "./_point.ts";
import { oneOf } from "../lib/config.ts";
import { describeNats, type NatsConnectionOptions } from "../lib/nats/connection.ts";
import { NatsServerError, startNatsServer } from "../lib/nats/nats_server.ts";
import { bytesPerElement, WIRE_DTYPES, type WireDtype } from "../lib/nats/wire.ts";
import { type LauncherName, LAUNCHERS } from "../lib/nats_run.ts";

const HELP = `Usage: deno task bench [options]

With no point options, runs the default sweep: TP and phantom at ranks 1, 2, 4, 8
(width 1024, phantom width 16, 2 hidden layers, batch 128, 50 steps).
With any point option, runs that single point (other fields take the defaults below).

Point options:
  --mode tp|phantom|serial   parallelisation of the hidden layers (default: tp and phantom)
  --ranks P[,P...]           ranks p; p must divide the width (default: 1,2,4,8)
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
  --quick                    fewer steps (for smoke tests)
  --out DIR                  results folder (default: reports/results)
  --help                     this text
`;

interface CliOptions {
  configs: Record<string, unknown>[];
  communicator: "in-process" | "nats";
  nats?: NatsConnectionOptions;
  launcher: LauncherName;
  processes?: number;
  dtype: WireDtype;
  warmup: number;
  backend: string;
  out: string;
  power: string;
  powerModel?: PowerModel;
  powerPeriodMs: number;
}

/** One run of the results file. */
interface RunRecord {
  id: string;
  status: "ok" | "failed";
  error?: string;
  config: Record<string, unknown>;
  metrics?: RunMetrics;
  energy?: EnergyMetrics;
}

function parseCli(args: string[]): CliOptions | "help" {
  const { values } = parseArgs({
    args,
    strict: true,
    allowPositionals: false,
    options: {
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
      backend: { type: "string", default: "wasm" },
      power: { type: "string", default: "auto" },
      communicator: { type: "string", default: "nats" },
      nats: { type: "string" },
      "nats-token": { type: "string" },
      "nats-user": { type: "string" },
      "nats-password": { type: "string" },
      "nats-creds": { type: "string" },
      "nats-nkey": { type: "string" },
      "nats-tls-ca": { type: "string" },
      "nats-tls-cert": { type: "string" },
      "nats-tls-key": { type: "string" },
      launcher: { type: "string", default: "local" },
      processes: { type: "string" },
      dtype: { type: "string", default: "float32" },
      "power-model": { type: "string" },
      "power-period": { type: "string", default: "100" },
      quick: { type: "boolean", default: false },
      out: { type: "string", default: join("reports", "results") },
      help: { type: "boolean", default: false },
    },
  });
  if (values.help) return "help";
  const int = (flag: string) => {
    const v = values[flag as keyof typeof values];
    return v === undefined ? undefined : parseInteger(`--${flag}`, String(v));
  };
  const seed = values.seed === undefined ? 1 : Number(values.seed);
  if (values.seed !== undefined && !/^\d+$/.test(values.seed)) {
    throw new ConfigError("--seed", values.seed, "must be an integer from 0 to 4294967295");
  }
  const lr = values.lr === undefined ? undefined : Number(values.lr);
  if (values.lr !== undefined && !(values.lr.trim() !== "" && Number.isFinite(lr))) {
    throw new ConfigError("--lr", values.lr, "must be a finite number");
  }
  const steps = int("steps") ?? (values.quick ? 12 : 50);
  const warmup = values.warmup === undefined ? (values.quick ? 2 : 5) : Number(values.warmup);
  if (!/^\d+$/.test(String(warmup)) || warmup >= steps) {
    throw new ConfigError(
      "--warmup",
      values.warmup,
      `must be an integer from 0 to steps - 1 (${steps - 1})`,
    );
  }
  const pointFlags = ["mode", "ranks", "width", "phantom-width", "layers", "batch"];
  const single = pointFlags.some((f) => values[f as keyof typeof values] !== undefined);
  const modes = values.mode ? [values.mode] : ["tp", "phantom"];
  const ranks = values.ranks ? parseIntList("--ranks", values.ranks) : single ? [1] : [1, 2, 4, 8];
  const base = {
    width: int("width") ?? 1024,
    layers: int("layers") ?? 2,
    batch: int("batch") ?? 128,
    inputWidth: int("input-width") ?? 32,
    outputWidth: int("output-width") ?? 16,
    steps,
    seed,
    backend: values.backend,
    optimizer: { name: values.optimizer ?? "adam", learningRate: lr ?? 0.001 },
    task: { evalEvery: Math.max(1, Math.floor(steps / 10)) },
  };
  const configs = modes.flatMap((mode) =>
    ranks.map((p) => ({
      ...base,
      mode,
      ranks: p,
      phantomWidth: mode === "phantom" ? int("phantom-width") ?? 16 : undefined,
    }))
  );
  const communicator = oneOf("--communicator", values.communicator, ["nats", "inprocess"] as const);
  const tlsFiles = [values["nats-tls-ca"], values["nats-tls-cert"], values["nats-tls-key"]];
  const nats: NatsConnectionOptions | undefined = values.nats
    ? {
      servers: values.nats.split(","),
      token: values["nats-token"],
      user: values["nats-user"],
      password: values["nats-password"],
      credsFile: values["nats-creds"],
      nkeySeedFile: values["nats-nkey"],
      tls: tlsFiles.some(Boolean)
        ? { caFile: tlsFiles[0], certFile: tlsFiles[1], keyFile: tlsFiles[2] }
        : undefined,
    }
    : undefined;
  return {
    configs,
    communicator: communicator === "inprocess" ? "in-process" : "nats",
    nats,
    launcher: oneOf("--launcher", values.launcher, LAUNCHERS),
    processes: values.processes === undefined
      ? undefined
      : parseInteger("--processes", values.processes),
    dtype: oneOf("--dtype", values.dtype, WIRE_DTYPES),
    warmup,
    backend: values.backend,
    out: values.out,
    power: values.power,
    powerModel: parsePowerModel(values["power-model"]),
    powerPeriodMs: parseInteger("--power-period", values["power-period"]),
  };
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

function runId(c: Record<string, unknown>): string {
  const k = c.phantomWidth === undefined ? "" : `-k${c.phantomWidth}`;
  return `${c.mode}-p${c.ranks}-n${c.width}${k}-L${c.layers}-b${c.batch}`;
}

function formatRow(record: RunRecord): string {
  const c = record.config;
  const head = `${String(c.mode).padEnd(8)}${String(c.ranks).padStart(4)}${
    String(c.width).padStart(7)
  }${String(c.phantomWidth ?? "-").padStart(5)}`;
  if (!record.metrics) return `${head}  FAILED: ${record.error}`;
  const m = record.metrics;
  const step = m.stepTimeMs.median;
  const bytes = `${m.bytesSentPerRankPerStep}/${m.predicted.bytesSentPerRankPerStep}${
    m.bytesMatchPrediction ? "" : " MISMATCH"
  }`;
  const [first, last] = [m.lossCurve[0][2], m.lossCurve.at(-1)![2]];
  const e = record.energy;
  const energy = e?.joulesPerStep
    ? `${e.joulesPerStep.median.toPrecision(3)} (${e.method})`
    : "unavailable";
  const comm = (100 * m.commTimeMs.median / step).toFixed(0);
  return [
    head,
    step.toFixed(1).padStart(10),
    `${comm.padStart(6)}%`,
    bytes.padStart(24),
    m.achievedGflops.toFixed(1).padStart(9),
    `   ${first.toFixed(4)} -> ${last.toFixed(4)}`,
    `   ${energy}`,
  ].join("");
}

async function main(args: string[]): Promise<number> {
  const options = parseCli(args);
  if (options === "help") {
    console.log(HELP);
    return 0;
  }
  // Validate every point before training anything: a typo fails in a second, not mid-sweep.
  const checked = options.configs.map((raw) => {
    try {
      return { raw, config: validateTrainConfig(raw) };
    } catch (error) {
      if (error instanceof ConfigError) return { raw, error: error.message };
      throw error;
    }
  });
  const backend = await selectBackend(options.backend);
  const power = await openPowerSampler(options.power);
  await using monitor = await EnergyMonitor.start(power.sampler, {
    periodMs: options.powerPeriodMs,
    powerModel: options.powerModel,
  });
  if (power.sampler.devices.length > 0) await monitor.measureIdle(1000);
  const environment = await collectEnvironment(backend);
  const abort = new AbortController();
  const server = options.communicator === "nats" && !options.nats
    ? await startNatsServer()
    : undefined;
  const onInterrupt = () => abort.abort();
  Deno.addSignalListener("SIGINT", onInterrupt);
  try {
    return await sweep(options, checked, { backend, power, monitor, environment, server, abort });
  } finally {
    Deno.removeSignalListener("SIGINT", onInterrupt);
    await server?.stop();
  }
}

interface SweepContext {
  backend: Awaited<ReturnType<typeof selectBackend>>;
  power: Awaited<ReturnType<typeof openPowerSampler>>;
  monitor: EnergyMonitor;
  environment: Awaited<ReturnType<typeof collectEnvironment>>;
  server: Awaited<ReturnType<typeof startNatsServer>> | undefined;
  abort: AbortController;
}

async function sweep(
  options: CliOptions,
  checked: { raw: Record<string, unknown>; config?: TrainConfig; error?: string }[],
  ctx: SweepContext,
): Promise<number> {
  const { backend, power, monitor, environment, server } = ctx;
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
  const transport = communicator.kind === "nats"
    ? {
      kind: "nats",
      servers: describeNats(communicator.connection),
      serverVersion: server?.version ?? "external",
      launcher: options.launcher,
      processes: options.processes ?? null,
      dtype: options.dtype,
    }
    : { kind: "in-process" };
  const wireBytes = communicator.kind === "nats" ? bytesPerElement(options.dtype) : 4;
  await Deno.mkdir(options.out, { recursive: true });
  const file = join(options.out, `bench-${new Date().toISOString().replace(/[:.]/g, "-")}.json`);
  console.log(
    `backend ${backend.name} (${JSON.stringify(backend.flags)}), communicator ${
      communicator.kind === "nats"
        ? `NATS ${transport.servers}, ${options.launcher} launcher`
        : "in-process"
    }`,
  );
  console.log(
    "mode       p      n    k   step ms   comm   sent B/step meas/pred   GFLOP/s   held-out loss" +
      "             J/step",
  );
  const runs: RunRecord[] = [];
  for (const point of checked) {
    const id = runId(point.raw);
    let record: RunRecord;
    if (!point.config) {
      record = { id, status: "failed", error: point.error, config: point.raw };
    } else {
      try {
        const outcome = await runPoint(id, point.config, communicator, monitor, ctx.abort.signal);
        const timed = outcome.windows.slice(options.warmup);
        const metrics = summarizeRun(point.config, outcome.ranks, options.warmup, wireBytes);
        record = {
          id,
          status: "ok",
          config: { ...point.config },
          metrics,
          energy: summarizeEnergy(timed),
        };
      } catch (error) {
        const message = error instanceof Error ? error.message : String(error);
        record = { id, status: "failed", error: message, config: { ...point.config } };
        if (ctx.abort.signal.aborted) {
          runs.push(record);
          await write(runs);
          console.error("interrupted: results so far are in " + file);
          return 130;
        }
      }
    }
    runs.push(record);
    console.log(formatRow(record));
    // Rewrite after every point so an interrupted sweep keeps what it measured.
    await write(runs);
  }
  console.log(`results: ${file}`);
  return runs.some((r) => r.status === "failed") ? 1 : 0;

  async function write(runs: RunRecord[]): Promise<void> {
    await writeTextFileAtomic(
      file,
      JSON.stringify(
        {
          schemaVersion: 0,
          format: "phantom-bench-preliminary",
          createdAt: new Date().toISOString(),
          communicator: transport,
          power: {
            backend: power.sampler.backend,
            devices: power.sampler.devices,
            selection: power.reasons,
            notes: power.sampler.notes,
            periodMs: monitor.periodMs,
            idleW: monitor.idleW() ?? null,
            model: options.powerModel ?? null,
          },
          environment,
          runs,
        },
        null,
        2,
      ) + "\n",
    );
  }
}

if (import.meta.main) {
  try {
    Deno.exit(await main(Deno.args));
  } catch (error) {
    const userError = error instanceof ConfigError || error instanceof BackendUnavailableError ||
      error instanceof TelemetryError || error instanceof NatsServerError ||
      (error instanceof TypeError && "code" in error &&
        String(error.code).startsWith("ERR_PARSE_ARGS"));
    if (!userError) throw error;
    console.error(`error: ${(error as Error).message}`);
    console.error("Run `deno task bench --help` for the options.");
    Deno.exit(2);
  }
}
