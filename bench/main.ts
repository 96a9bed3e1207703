/**
 * `deno task bench`: runs a benchmark sweep (default: `default`) or the points given by axis
 * flags, over NATS (a local nats-server unless --nats URL; in process where nats-server is not
 * installed) and writes one results file under --out, rewritten atomically after every run, with
 * an HTML report beside it.
 *
 * @module
 */

import { join } from "node:path";
import { flag, parseFlags, printHelp, renderHelp } from "../lib/cli/flags.ts";
import { natsAuthFlags, natsConnectionFromValues } from "../lib/cli/nats_flags.ts";
import { powerArgs, powerFlags } from "../lib/cli/power_flags.ts";
import { Progress } from "../lib/cli/progress.ts";
import { formatPeerRow, formatRunRow, RUN_TABLE_HEADER } from "../lib/cli/run_table.ts";
import { runMain } from "../lib/cli/run_main.ts";
import { StopSignals } from "../lib/cli/stop_signals.ts";
import { expandPlan, planFromFlags, SWEEP_FLAGS } from "../lib/cli/sweep_flags.ts";
import { BACKENDS } from "../lib/config/config.ts";
import { ConfigError } from "../lib/config/config_error.ts";
import { linkBitsPerS } from "../lib/config/link_rate.ts";
import { LINK_DELAY } from "../lib/system/netns.ts";
import type { Expansion, Sweep } from "../lib/config/sweep.ts";
import {
  checkNatsReachable,
  describeNats,
  natsConnectionEnv,
  type NatsConnectionOptions,
} from "../lib/nats/connection.ts";
import { type NatsServer, NatsServerError, startNatsServer } from "../lib/nats/nats_server.ts";
import { nodeAddress } from "../lib/runtime/node_agent.ts";
import {
  emulatedLinks,
  emulatedNetwork,
  runEmulated,
  shapeForPoint,
} from "../lib/runtime/emulated_run.ts";
import { rankHostArgs } from "../lib/runtime/launcher.ts";
import { workerRunSecret } from "../lib/runtime/rank_host.ts";
import { bytesPerElement, WIRE_DTYPES } from "../lib/nats/wire.ts";
import {
  AUTO_BACKEND,
  BackendUnavailableError,
  resolveBackend,
  selectBackend,
} from "../lib/nn/backend.ts";
import { EnergyMonitor } from "../lib/power/energy_monitor.ts";
import { openPowerSampler } from "../lib/power/open_sampler.ts";
import { TelemetryError } from "../lib/power/power_sampler.ts";
import { writeReport } from "../lib/report/write_report.ts";
import { findings, sharingNote } from "../lib/report/findings.ts";
import { verdictLines } from "../lib/report/verdict_lines.ts";
import { hybridFindings } from "../lib/report/hybrid.ts";
import type { ResultsFile } from "../lib/results/results.ts";
import { collectEnvironment } from "../lib/runtime/environment.ts";
import { describeBackend } from "../lib/results/describe_backend.ts";
import { ResultsWriter } from "../lib/results/results_writer.ts";
import { LAUNCHERS } from "../lib/runtime/nats_run.ts";
import type { CommunicatorChoice } from "../lib/runtime/point.ts";
import { checkNumpyPeer, PEERS, PeerUnavailableError } from "../lib/runtime/peer.ts";
import { runSweep } from "../lib/runtime/runner.ts";
import { type EnergyWindows, localEnergyWindows } from "../lib/runtime/energy_windows.ts";
import { type NodeCluster, startNodeCluster } from "../lib/runtime/node_cluster.ts";
import { SlurmError } from "../lib/runtime/slurm.ts";
import { planSlurm, SLURM_FLAGS, type SlurmPlan } from "../lib/cli/slurm_flags.ts";
import { planMemoryWall } from "../lib/config/memory_wall.ts";

const RUN = "Run options";

/** `in-process`, as results record it; `inprocess` is accepted too. */
function parseCommunicator(text: string, name: string): "nats" | "in-process" {
  if (text === "nats") return "nats";
  if (text === "in-process" || text === "inprocess") return "in-process";
  throw new ConfigError(name, text, "must be nats or in-process");
}

const FLAGS = {
  ...SWEEP_FLAGS,
  ...SLURM_FLAGS,
  cooldown: flag.count({
    group: "Sweep options",
    arg: "MS",
    help: "pause between runs so GPU power settles, in ms",
    defaultHelp: "2000; --quick: 0",
  }),
  communicator: flag.custom(parseCommunicator, "nats|in-process")({
    group: RUN,
    help: "nats: ranks in worker processes talking over NATS; in-process (or inprocess): all " +
      "ranks in this process, no transport; results record the same name",
    defaultHelp: "nats, or in-process where nats-server is not installed",
  }),
  nats: flag.string({
    group: RUN,
    arg: "URL[,URL...]",
    help: "use this NATS server or cluster",
    defaultHelp: "start a local nats-server",
  }),
  ...natsAuthFlags("nats-", RUN),
  launcher: flag.oneOf(LAUNCHERS)({
    group: RUN,
    default: "local",
    help: "local: start worker processes here; slurm: inside an allocation, one srun step per " +
      "point and a nats-server and power sampler per node; manual: wait for workers started by hand",
  }),
  processes: flag.int({
    group: RUN,
    help: "local worker processes",
    defaultHelp: "min(ranks, CPU cores)",
  }),
  "emulate-hosts": flag.int({
    group: RUN,
    arg: "N",
    help: "what-if run: N hosts on this machine (network namespaces, root only), the bench and " +
      "its server on host 0, the ranks split over the others as nodes",
  }),
  link: flag.string({
    group: RUN,
    arg: "RATE",
    help: "with --emulate-hosts: every host's link shaped to RATE both ways (e.g. 1gbit, " +
      "100mbit, 25mbit)",
    defaultHelp: "unshaped",
  }),
  "link-shaper": flag.oneOf(["htb", "tbf"] as const)({
    group: RUN,
    default: "htb",
    help: "with --emulate-hosts --link: the qdisc that shapes the links",
  }),
  "link-delay": flag.string({
    group: RUN,
    arg: "DELAY",
    help: "with --emulate-hosts: propagation delay each way of every link (e.g. 2ms; host to " +
      "host 2 x DELAY); needs sch_netem in the kernel",
    defaultHelp: "none",
  }),
  "run-id": flag.string({
    group: RUN,
    arg: "PREFIX",
    help: "manual launch: runs are PREFIX-1, PREFIX-2, ... in sweep order, so workers can be " +
      "started first (with --secret-file and --nats)",
    defaultHelp: "a fresh id per run",
  }),
  "secret-file": flag.path({
    group: RUN,
    arg: "FILE",
    help: "manual launch: the run secret (64 hex digits, e.g. `openssl rand -hex 32`) the " +
      "workers also read; readable by its owner only",
    defaultHelp: "a fresh secret per run, in a file the bench names",
  }),
  dtype: flag.oneOf(WIRE_DTYPES)({
    group: RUN,
    default: "float32",
    help: "element type of activations on the wire",
  }),
  backend: flag.oneOf([AUTO_BACKEND, ...BACKENDS])({
    group: RUN,
    default: AUTO_BACKEND,
    help: "TensorFlow.js backend; auto: blas (matrix products by the system's OpenBLAS) where a " +
      "CBLAS library is found, else wasm",
  }),
  ...powerFlags(RUN),
  "memory-cap": flag.bytes({
    group: RUN,
    help: "memory per rank: points whose predicted peak tensor memory is above it are recorded " +
      "out-of-memory with the prediction, not run (e.g. 64M, 2G)",
    defaultHelp: "the sweep's (memory-wall: 32M); else none",
  }),
  peer: flag.oneOf(PEERS)({
    group: RUN,
    help: "also train every point in an independent implementation (numpy: python3 with " +
      "numpy) on the same weights and batches; results hold its loss curve and step time",
  }),
  out: flag.path({
    group: RUN,
    arg: "DIR",
    default: join("reports", "results"),
    help: "results folder",
  }),
};

type Values = Exclude<ReturnType<typeof parseFlags<typeof FLAGS>>, "help">["values"];

const HELP = renderHelp(
  "deno task bench [options]",
  'Runs a sweep (default: "default", TP and phantom at p = 1, 2, 4, 8) or, with any point ' +
    "option, the points they describe. Writes one results file under --out and an HTML report " +
    "beside it. Exit codes: 0 every run succeeded, 1 a run failed, 2 bad options, 4 the " +
    "results could not be written under --out (saved elsewhere, named on stderr), 128+N " +
    "stopped by signal N (130 for Ctrl-C).",
  FLAGS,
);

/** deno run's permissions for the bench (as deno.json's task gives them). */
const BENCH_RUN_ARGS = [
  "run",
  "--allow-read",
  "--allow-write",
  "--allow-env",
  "--allow-sys",
  "--allow-run",
  "--allow-ffi",
  "--allow-net",
];

/**
 * The bench's arguments without the emulation flags (for the bench that runs on host 0).
 *
 * @param args The command line.
 * @returns The rest.
 */
export function withoutEmulationFlags(args: string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const name = args[i].split("=")[0];
    if (["--emulate-hosts", "--link", "--link-shaper", "--link-delay"].includes(name)) {
      if (!args[i].includes("=")) i++; // its value
      continue;
    }
    out.push(args[i]);
  }
  return out;
}

/** The longest pause a flag may ask for, in ms. */
const DAY_MS = 86_400_000;

/** What the command line asks for, checked: everything is known before anything starts. */
export interface BenchPlan {
  values: Values;
  given: Set<string>;
  backend: Awaited<ReturnType<typeof resolveBackend>>;
  plan: ReturnType<typeof planFromFlags>;
  expansion: Expansion;
  slurm?: SlurmPlan;
  nats?: NatsConnectionOptions;
}

/**
 * Parses and checks the command line: flags, backend, sweep and points, NATS options, Slurm
 * allocation. A usage error throws here, before any server, worker or measurement starts (and
 * tests check the messages in process).
 *
 * @param args The command line.
 * @param env The environment (SLURM_* for --launcher slurm). @default Deno.env
 * @returns The plan, or "help" when --help was asked for.
 * @throws {ConfigError} For a bad flag or point, naming it.
 */
export async function planBench(
  args: string[],
  env: Record<string, string> = Deno.env.toObject(),
): Promise<BenchPlan | "help"> {
  const parsed = parseFlags(FLAGS, args);
  if (parsed === "help") return "help";
  const { values, given } = parsed;
  if (values.peer) await checkNumpyPeer(); // a missing python3 or numpy stops us before anything runs
  const backend = await resolveBackend(values.backend);
  const plan = planFromFlags(values, given, { backend: backend.name });
  // Timers hold at most 2^31 - 1 ms (24.8 days): beyond, a pause becomes 1 ms. A day is plenty.
  for (const name of ["cooldown", "power-period"] as const) {
    const ms = values[name];
    if (ms !== undefined && ms > DAY_MS) {
      throw new ConfigError(`--${name}`, ms, `must be at most ${DAY_MS} ms (a day)`);
    }
  }
  if (values["emulate-hosts"] !== undefined) {
    const n = values["emulate-hosts"];
    if (n < 2 || n > 8) throw new ConfigError("--emulate-hosts", n, "must be 2 to 8 hosts");
    for (
      const [flag, bad] of [
        ["--launcher", given.has("launcher")],
        ["--nats", values.nats !== undefined],
        ["--communicator in-process", values.communicator === "in-process"],
      ] as const
    ) {
      if (bad) throw new ConfigError("--emulate-hosts", n, `does not go with ${flag}`);
    }
  } else {
    for (const name of ["link", "link-delay"] as const) {
      if (given.has(name)) {
        throw new ConfigError(`--${name}`, values[name], "is for --emulate-hosts only");
      }
    }
  }
  if (values["link-delay"] !== undefined && !LINK_DELAY.test(values["link-delay"])) {
    throw new ConfigError(
      "--link-delay",
      values["link-delay"],
      "must be a delay like 2ms or 500us",
    );
  }
  if (values.link !== undefined && !linkBitsPerS(values.link)) {
    throw new ConfigError("--link", values.link, "must be a rate like 1gbit, 100mbit or 25mbit");
  }
  if (values.launcher === "manual" && !values.nats && !values["node-interface"]) {
    throw new ConfigError(
      "--launcher manual",
      "without --nats",
      "needs --node-interface NAME: the bench's own nats-server must listen where the workers' " +
        "hosts reach it (lo for this host only), or give --nats URL",
    );
  }
  for (const name of ["run-id", "secret-file"] as const) {
    if (values[name] !== undefined && values.launcher !== "manual") {
      throw new ConfigError(`--${name}`, values[name], "is for --launcher manual only");
    }
  }
  if (values["run-id"] !== undefined && !/^[A-Za-z0-9_-]{1,60}$/.test(values["run-id"])) {
    throw new ConfigError("--run-id", values["run-id"], "must be letters, digits, - and _");
  }
  if (values["run-id"] !== undefined && values["secret-file"] === undefined) {
    throw new ConfigError(
      "--run-id",
      values["run-id"],
      "needs --secret-file: workers started first must already hold the run secret",
    );
  }
  if (values["secret-file"] !== undefined && !values.nats) {
    throw new ConfigError(
      "--secret-file",
      values["secret-file"],
      "needs --nats URL: workers started before the bench must know the server and its credentials",
    );
  }
  if (values.nats && values.communicator === "in-process") {
    throw new ConfigError(
      "--nats",
      values.nats,
      "has no effect with --communicator in-process (ranks do not talk over NATS): drop one",
    );
  }
  const nats = values.nats ? natsConnectionFromValues(values.nats, values, "nats-") : undefined;
  // Expanding validates every point before anything starts: a typo fails in a second.
  let expansion = expandPlan(plan, values);
  const memoryCap = values["memory-cap"] ?? plan.sweep.memoryCap;
  if (plan.sweep.search === "memory-wall" && memoryCap !== undefined) {
    expansion = planMemoryWall(expansion, memoryCap);
  }
  if (expansion.points.some((p) => p.link !== undefined)) {
    if (values["emulate-hosts"] === undefined && !emulatedLinks(env)) {
      throw new ConfigError(
        "--sweep",
        plan.sweep.id,
        "sets the link rate of each point: it runs on an emulated network only, with " +
          "--emulate-hosts N (root; 3 hosts: the bench's and two workers')",
      );
    }
    if (given.has("link")) {
      throw new ConfigError(
        "--link",
        values.link,
        `does not go with --sweep ${plan.sweep.id}, whose points set their own link rate ` +
          "(pick rates with --filter link=25mbit)",
      );
    }
  }
  let slurm: SlurmPlan | undefined;
  if (values.launcher === "slurm") {
    slurm = await planSlurm(values, expansion, plan.single, env);
    expansion = slurm.expansion;
  }
  return { values, given, backend, plan, expansion, slurm, nats };
}

async function main(args: string[]): Promise<number> {
  const planned = await planBench(args);
  if (planned === "help") return printHelp(HELP);
  const { values, given, backend, plan, expansion, slurm, nats } = planned;
  if (values["emulate-hosts"] !== undefined) {
    using stop = new StopSignals((reason, first) => {
      if (first) console.error(`${reason}: stopping the bench on the emulated hosts`);
    });
    return await runEmulated({
      hosts: values["emulate-hosts"],
      link: {
        rate: values.link ?? null,
        shaper: values["link-shaper"],
        delay: values["link-delay"] ?? null,
      },
      benchArgs: withoutEmulationFlags(args),
      benchCommand: [Deno.execPath(), ...BENCH_RUN_ARGS, new URL(import.meta.url).pathname],
      workerCommand: [Deno.execPath(), ...rankHostArgs([])],
      signal: stop.signal,
    });
  }
  for (const secret of ["nats-token", "nats-password"] as const) {
    if (given.has(secret)) {
      console.error(
        `note: --${secret} on the command line is visible to other users (ps) and in the echo of ` +
          `deno task (CI logs): prefer PHANTOM_NATS_${secret.slice(5).toUpperCase()}`,
      );
    }
  }
  // Wrong credentials or a dead server: one line and exit 2 now, not a failure per point.
  if (nats && values.communicator !== "in-process") await checkNatsReachable(nats);
  if (backend.fallback) console.log(`backend auto: wasm (${backend.fallback})`);
  return await runBench(
    plan.sweep,
    expansion,
    slurm,
    { ...values, backend: backend.name as typeof values.backend },
    nats,
    given.has("communicator"),
    backend.fallback,
  );
}

/** Where ranks talk: a server started here, a given one, or none (in process). */
async function openTransport(
  values: Values,
  nats: NatsConnectionOptions | undefined,
  explicit: boolean,
): Promise<{ choice: CommunicatorChoice; server?: NatsServer }> {
  if (values.communicator === "in-process") return { choice: { kind: "in-process" } };
  const nats_ = (connection: NatsConnectionOptions): CommunicatorChoice => ({
    kind: "nats",
    connection,
    launcher: values.launcher,
    processes: values.processes,
    dtype: values.dtype,
  });
  if (nats) {
    const choice = nats_(nats);
    if (choice.kind === "nats" && values["secret-file"]) {
      choice.secretFile = values["secret-file"];
      choice.secret = workerRunSecret(values["secret-file"], {}).secret;
      const prefix = values["run-id"];
      let n = 0;
      if (prefix) choice.nextRunId = () => `${prefix}-${++n}`;
    }
    return { choice };
  }
  try {
    // Manual launch: workers on other hosts must reach the server, so it listens on the
    // interface named (lo: this host only).
    const hostname = values.launcher === "manual"
      ? nodeAddress({}, Deno.networkInterfaces(), values["node-interface"])
      : undefined;
    const server = await startNatsServer({ hostname });
    return { choice: nats_(server.connection), server };
  } catch (error) {
    if (!(error instanceof NatsServerError) || error.reason !== "missing" || explicit) throw error;
    console.log(
      "nats-server is not installed: running every rank in this process (no transport). " +
        "Install it for the distributed path: sudo apt-get install nats-server",
    );
    return { choice: { kind: "in-process" } };
  }
}

async function runBench(
  sweep: Sweep,
  expansion: Expansion,
  slurm: SlurmPlan | undefined,
  values: Values,
  nats: NatsConnectionOptions | undefined,
  explicitCommunicator: boolean,
  backendFallback?: string,
): Promise<number> {
  const selected = await selectBackend(values.backend);
  const backend = backendFallback
    ? { ...selected, flags: { ...selected.flags, autoFallback: backendFallback } }
    : selected;
  await using stack = new AsyncDisposableStack();
  const cluster = slurm ? stack.use(await startCluster(slurm, values, nats)) : undefined;
  const energy = cluster?.energy ?? await localEnergy(values, stack);
  let { choice, server } = cluster
    ? {
      choice: {
        kind: "nats",
        connection: cluster.connection,
        launcher: "slurm",
        dtype: values.dtype,
        slurm: { allocation: slurm!.allocation, urlsByNode: cluster.urlsByNode, gpu: slurm!.gpu },
      } satisfies CommunicatorChoice,
      server: undefined,
    }
    : await openTransport(values, nats, explicitCommunicator);
  using stop = new StopSignals((reason, first) => {
    if (first) console.error(`${reason}: stopping the running point (results so far are kept)`);
  });
  try {
    // Set by --emulate-hosts for the bench it runs on host 0; a real network has none.
    const network = emulatedNetwork(Deno.env.toObject());
    const links = emulatedLinks(Deno.env.toObject());
    const environment = {
      ...(await collectEnvironment(backend)),
      natsServer: server?.version ?? cluster?.nodes[0].serverVersion ?? (nats ? "external" : null),
    };
    const dtype = choice.kind === "nats" ? values.dtype : "float32";
    await outputFolder(values.out);
    const stamp = new Date().toISOString().replace(/[:.]/g, "-");
    const writer = new ResultsWriter(join(values.out, `bench-${sweep.id}-${stamp}.json`), () => ({
      environment,
      sweep: {
        id: sweep.id,
        version: sweep.version,
        description: sweep.description,
        quick: values.quick,
        filter: values.filter ?? null,
        repeats: expansion.repeats,
        excluded: expansion.excluded,
        ...(values["memory-cap"] ?? sweep.memoryCap
          ? { memoryCapBytes: values["memory-cap"] ?? sweep.memoryCap }
          : {}),
      },
      communicator: choice.kind === "nats"
        ? {
          kind: "nats",
          servers: describeNats(choice.connection),
          launcher: values.launcher,
          processes: values.processes ?? null,
          // Workers on other hosts are not sampled: the energy is this host's alone.
          ...(values.launcher === "manual"
            ? { energyScope: "the bench's host only (manual launch: workers' hosts not sampled)" }
            : {}),
          dtype,
          ...(cluster ? { slurm: describeCluster(cluster, slurm!) } : {}),
          ...(network ? { network } : {}),
        }
        : { kind: "in-process" },
      power: { ...energy.describe() },
    }));
    printPlan(
      sweep,
      expansion,
      backend.name,
      backend.flags,
      choice,
      values,
      energy.describe().backend,
    );
    await writer.write().catch((error: Error) => {
      throw new ConfigError("--out", values.out, `cannot be written: ${error.message}`);
    });
    await runSweep(expansion, {
      communicator: choice,
      bytesPerElement: choice.kind === "nats" ? bytesPerElement(values.dtype) : 4,
      dtype,
      energy,
      target: sweep.target ?? { kind: "fraction", value: 0.5 },
      cooldownMs: values.cooldown ?? (values.quick ? 0 : 2000),
      memoryCapBytes: values["memory-cap"] ?? sweep.memoryCap,
      // Ranks on this host (in process or local workers): a point beyond its memory is not run.
      hostMemoryBytes: cluster || values.launcher === "manual" && choice.kind === "nats"
        ? undefined
        : Deno.systemMemoryInfo().total,
      signal: stop.signal,
      // The suite's own server killed or crashed: say so once, and the next point gets a new one.
      beforeRun: async (point) => {
        // The network sweep: each point's links shaped before it runs.
        if (links && point.link !== undefined) {
          const changed = await shapeForPoint(links, point.link);
          if (changed) console.log(changed);
        }
        // A Slurm node's server that died was restarted by its agent: the mesh must be whole.
        for (const death of await cluster?.recover() ?? []) {
          console.error(`${death}: restarted on the same port for the next point`);
        }
        const death = server?.death();
        if (!death || choice.kind !== "nats") return;
        console.error(`${death}: starting a new one for the next point`);
        await server!.stop();
        server = await startNatsServer();
        choice = { ...choice, connection: server.connection };
        return choice;
      },
      failureCause: () => server?.death() ?? cluster?.death(),
      fault: cluster ? (signal) => cluster.whenDead(signal) : undefined,
      progress: new Progress(expansion.points.length * expansion.repeats),
      peer: values.peer
        ? {
          name: values.peer,
          threads: Number(backend.flags.blasThreads ?? navigator.hardwareConcurrency ?? 1),
        }
        : undefined,
      onRun: async (run) => {
        console.log(formatRunRow(run));
        if (run.peer) console.log(formatPeerRow(run.peer));
        // An interrupted sweep keeps what it measured; a failed write keeps it in memory.
        const failed = !!writer.failure;
        if (!(await writer.add(run)) && !failed) {
          console.error(
            `warning: cannot write ${writer.path} (${writer.failure!.message}): the runs are ` +
              "kept in memory and the write is retried after each run",
          );
        }
      },
    });
    if (writer.failure) return await rescueResults(writer);
    printVerdict(writer.file());
    console.log(`results: ${writer.path}`);
    await report(writer.path);
    if (stop.exitCode !== undefined) {
      console.error(`interrupted (${stop.reason}): the results so far are in the file above`);
      return stop.exitCode;
    }
    return writer.runs.some((r) => r.status === "failed") ? 1 : 0;
  } finally {
    await server?.stop();
  }
}

/**
 * Makes the output folder, or says in one line why it cannot be.
 *
 * @param out The --out folder.
 * @throws {ConfigError} Naming --out and the reason.
 */
export async function outputFolder(out: string): Promise<void> {
  try {
    await Deno.mkdir(out, { recursive: true });
  } catch (error) {
    throw new ConfigError("--out", out, `cannot be made a folder: ${(error as Error).message}`);
  }
}

/** Exit code of a sweep whose results could not be written under --out. */
const EXIT_NOT_WRITTEN = 4;

/**
 * The results file could not be written (full disk, folder gone): one more try, then the suite's
 * cache folder, then standard output, so no measured run is lost; exit 4 says so.
 */
async function rescueResults(writer: ResultsWriter): Promise<number> {
  try {
    await writer.write();
    console.log(`results: ${writer.path} (written at the last try)`);
    return EXIT_NOT_WRITTEN;
  } catch (error) {
    writer.failure = error as Error;
  }
  const lost = `${writer.runs.length} runs could not be written to ${writer.path} ` +
    `(${writer.failure!.message})`;
  try {
    const path = await writer.rescue();
    console.error(`error: ${lost}; all of them are saved in ${path}`);
  } catch (error) {
    console.error(
      `error: ${lost}, nor to the cache folder (${(error as Error).message}); ` +
        "the results follow on standard output",
    );
    console.log(JSON.stringify(writer.file()));
  }
  return EXIT_NOT_WRITTEN;
}

function printPlan(
  sweep: Sweep,
  expansion: Expansion,
  backendName: string,
  backendFlags: Record<string, unknown>,
  choice: CommunicatorChoice,
  values: Values,
  powerBackend: string,
): void {
  const excluded = expansion.excluded.length ? `, ${expansion.excluded.length} excluded` : "";
  console.log(
    `sweep ${sweep.id} v${sweep.version}: ${expansion.points.length} points x ` +
      `${expansion.repeats} repeats${excluded}`,
  );
  for (const x of expansion.excluded) console.log(`  excluded ${x.point}: ${x.reason}`);
  const transport = choice.kind === "nats"
    ? `NATS ${describeNats(choice.connection)}, ${values.launcher} launcher`
    : "in-process";
  // The flags are in the results file; the terminal gets a phrase (the fallback reason, if any,
  // was printed once already).
  console.log(
    `backend ${describeBackend({ name: backendName, flags: backendFlags })}; ${transport}; ` +
      `power ${powerBackend}`,
  );
  console.log(RUN_TABLE_HEADER);
}

/** This host's power sampler and monitor, closed with the stack. */
async function localEnergy(values: Values, stack: AsyncDisposableStack): Promise<EnergyWindows> {
  const power = await openPowerSampler(values.power);
  const monitor = stack.use(
    await EnergyMonitor.start(power.sampler, {
      periodMs: values["power-period"],
      powerModel: values["power-model"],
    }),
  );
  if (power.sampler.devices.length > 0) await monitor.measureIdle(1000);
  return localEnergyWindows(monitor, power.reasons, values["power-model"] ?? null);
}

/** The node agents of a Slurm run: a nats-server (unless --nats) and a power sampler per node. */
async function startCluster(
  slurm: SlurmPlan,
  values: Values,
  nats: NatsConnectionOptions | undefined,
): Promise<NodeCluster> {
  const alloc = slurm.allocation;
  console.log(
    `slurm job ${alloc.jobId}: ${alloc.nodes.length} nodes (${
      alloc.nodes.join(", ")
    }), ${alloc.tasks} tasks`,
  );
  const cluster = await startNodeCluster({
    allocation: alloc,
    agentArgs: [
      ...powerArgs(values),
      ...(values["node-interface"] ? ["--node-interface", values["node-interface"]] : []),
    ],
    connection: nats,
    env: nats ? natsConnectionEnv(nats) : {},
  });
  console.log(
    `node agents up in ${cluster.startMs} ms: ` +
      (cluster.urlsByNode
        ? `NATS ${cluster.urlsByNode.join(", ")} (full mesh)`
        : `NATS ${describeNats(cluster.connection)}`),
  );
  return cluster;
}

function describeCluster(cluster: NodeCluster, slurm: SlurmPlan) {
  return {
    jobId: slurm.allocation.jobId,
    nodes: cluster.nodes.map((n) => ({
      index: n.index,
      node: n.node,
      host: n.host,
      server: n.client,
    })),
    tasks: slurm.allocation.tasks,
    gpusPerNode: slurm.gpu.gpusPerNode ?? slurm.allocation.gpusPerNode ?? null,
    gpuBind: slurm.gpu.gpuBind ?? null,
    agentsStartMs: cluster.startMs,
  };
}

/** The verdict lines, from the results as written (a failure is one line, never a crash). */
function printVerdict(results: ResultsFile): void {
  try {
    const hybrid = hybridFindings(results).map((h) => h.sentence);
    for (
      const line of verdictLines(findings(results), results.runs, sharingNote(results), hybrid)
    ) {
      console.log(line);
    }
  } catch (error) {
    console.error(
      `warning: no verdict (${(error as Error).message}); the results file is complete`,
    );
  }
}

async function report(resultsPath: string): Promise<void> {
  try {
    const html = resultsPath.replace(/\.json$/, ".html");
    await writeReport(resultsPath, html);
    console.log(`report: ${html}`);
  } catch (error) {
    console.error(
      `warning: no report written (${(error as Error).message}); the results file is complete`,
    );
  }
}

if (import.meta.main) {
  await runMain(
    main,
    [BackendUnavailableError, TelemetryError, NatsServerError, PeerUnavailableError, SlurmError],
    "Run `deno task bench --help` for the options.",
  );
}
