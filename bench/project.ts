/**
 * `deno task project`: projections to cluster scale from a calibrated model (lib/projection).
 *
 *   deno task project [--sweep NAME | point options] [--profile NAME|FILE] [--curves FILE,...]
 *                     [--k-search K,...] [--beside RESULTS] [--out DIR]
 *   deno task project --calibrate RESULTS... --out PROFILE.json
 *   deno task project --validate RESULTS...
 *
 * The first writes a results file whose every run is marked projected (and its HTML report);
 * `--beside` puts the projected runs next to a measured file's runs in one results file, so the
 * report draws both (projected dashed). `--calibrate` fits a profile of the host that measured
 * the results; `--validate` fits on all but one rank count, predicts that one, for each, and ends
 * with `median absolute error N%`.
 *
 * @module
 */

import { join } from "node:path";
import { flag, parseFlags, printHelp, renderHelp } from "../lib/cli/flags.ts";
import { runMain } from "../lib/cli/run_main.ts";
import { expandPlan, planFromFlags, SWEEP_FLAGS } from "../lib/cli/sweep_flags.ts";
import { ConfigError } from "../lib/config/config_error.ts";
import { ranksLabel } from "../lib/config/config.ts";
import { linkBitsPerS } from "../lib/config/link_rate.ts";
import { median } from "../lib/results/stats.ts";
import { calibrateProfile, measuredRuns } from "../lib/projection/calibrate.ts";
import { BUILTIN_PROFILES, type HardwareProfile, loadProfile } from "../lib/projection/profile.ts";
import { TCP_EFFICIENCY } from "../lib/projection/link_model.ts";
import { lossCurves, projectRun, searchPhantomWidth } from "../lib/projection/project.ts";
import { validateProjection } from "../lib/projection/validate.ts";
import { writeReport } from "../lib/report/write_report.ts";
import { hybridFindings } from "../lib/report/hybrid.ts";
import { writeTextFileAtomic } from "../lib/results/atomic_write.ts";
import {
  loadResults,
  ResultsError,
  type ResultsFile,
  SCHEMA_VERSION,
} from "../lib/results/results.ts";

const RUN = "Projection options";

const FLAGS = {
  ...SWEEP_FLAGS,
  profile: flag.string({
    group: RUN,
    arg: "NAME|FILE",
    default: "frontier-mi250x",
    help: `hardware profile: ${
      BUILTIN_PROFILES.join(", ")
    }, or a JSON profile (e.g. from --calibrate)`,
  }),
  curves: flag.string({
    group: RUN,
    arg: "FILE[,FILE...]",
    help: "measured results whose loss curves give steps to target (time and energy to target)",
  }),
  "k-search": flag.intList({
    group: RUN,
    help:
      "for every phantom point, the phantom width among these that minimises projected energy " +
      "to target (steps to target from --curves)",
  }),
  link: flag.string({
    group: RUN,
    arg: "RATE",
    help: "put the profile's hosts behind links of RATE (e.g. 25mbit), all traffic through one " +
      "server host as in bench --emulate-hosts (lib/projection/link_model.ts)",
  }),
  beside: flag.path({
    group: RUN,
    arg: "RESULTS",
    help: "also hold this measured file's runs in the output, so its report draws both",
  }),
  calibrate: flag.bool({
    group: RUN,
    help: "fit a profile to the RESULTS files given (write it with --out FILE)",
  }),
  validate: flag.bool({
    group: RUN,
    help: "fit on all rank counts of RESULTS but one, predict that one, for each; print the errors",
  }),
  out: flag.path({
    group: RUN,
    arg: "PATH",
    default: join("reports", "results"),
    help: "results folder (projection), or the profile file (--calibrate)",
  }),
};

const HELP = renderHelp(
  "deno task project [options] | --calibrate RESULTS... --out PROFILE.json | --validate RESULTS...",
  "Projects step time (compute, collective latency and bandwidth), energy, memory per rank and " +
    "time and energy to target on a hardware profile; every number is labelled projected. Exit " +
    "codes: 0 written, 2 bad options or input.",
  FLAGS,
);

async function loadAll(
  paths: string[],
  flagName: string,
): Promise<{ name: string; results: ResultsFile }[]> {
  if (paths.length === 0) {
    throw new ConfigError(flagName, undefined, "needs RESULTS files (measured runs)");
  }
  return await Promise.all(paths.map(async (p) => ({ name: p, results: await loadResults(p) })));
}

async function main(args: string[]): Promise<number> {
  const parsed = parseFlags(FLAGS, args, { positionals: true });
  if (parsed === "help") return printHelp(HELP);
  const { values, given, positionals } = parsed;
  if (values.calibrate || values.validate) {
    const files = await loadAll(positionals, values.calibrate ? "--calibrate" : "--validate");
    const { runs, cores } = measuredRuns(files.map((f) => f.results));
    if (values.validate) return validate(runs, cores);
    if (!values.out.endsWith(".json")) {
      throw new ConfigError("--out", values.out, "must name a .json profile file with --calibrate");
    }
    const profile = calibrateProfile(
      runs,
      cores,
      `calibrated-${new Date().toISOString().slice(0, 10)}`,
    );
    await writeTextFileAtomic(values.out, JSON.stringify(profile, null, 2) + "\n");
    console.log(
      `profile: ${values.out} (fitted to ${runs.length} configurations on ${cores} cores)`,
    );
    return 0;
  }
  if (positionals.length) {
    throw new ConfigError(
      "RESULTS",
      positionals.join(" "),
      "are read only with --calibrate or --validate",
    );
  }
  const profile = withLink(await loadProfile(values.profile), values.link);
  const plan = planFromFlags(values, given);
  const expansion = expandPlan(plan, { ...values, repeats: 1 });
  const curveFiles = values.curves ? await loadAll(values.curves.split(","), "--curves") : [];
  const curves = lossCurves(curveFiles);
  const options = { profile, curves };
  const runs = [];
  for (const point of expansion.points) runs.push(await projectRun(point, options));
  const kSearch = values["k-search"]
    ? expansion.points.filter((p) => p.config.mode === "phantom").flatMap((p) =>
      searchPhantomWidth(p, values["k-search"]!, options)
    )
    : undefined;
  const beside = values.beside ? await loadResults(values.beside) : undefined;
  const results: ResultsFile = {
    schemaVersion: SCHEMA_VERSION,
    createdAt: new Date().toISOString(),
    environment: {
      ...(beside?.environment ?? {}),
      projection: `deno task project --profile ${profile.id}`,
    },
    sweep: {
      id: plan.sweep.id,
      version: plan.sweep.version,
      description: `projected on ${profile.id}: ${plan.sweep.description}`,
      quick: values.quick,
      filter: values.filter ?? null,
      repeats: 1,
      excluded: expansion.excluded,
    },
    communicator: {
      kind: "projected",
      algorithm: profile.collectives.algorithm,
      profile: profile.id,
    },
    power: { backend: "projected", profile: profile.id, model: profile.power },
    projection: {
      profile: { id: profile.id, description: profile.description, sources: profile.sources },
      ...(kSearch ? { kSearch: kSearch as unknown as Record<string, unknown>[] } : {}),
    },
    runs: [...(beside?.runs ?? []), ...runs],
  };
  await Deno.mkdir(values.out, { recursive: true });
  const stamp = results.createdAt.replace(/[:.]/g, "-");
  const path = join(values.out, `projection-${plan.sweep.id}-${profile.id}-${stamp}.json`);
  await writeTextFileAtomic(path, JSON.stringify(results, null, 2) + "\n");
  printRuns(runs);
  if (kSearch?.length) printKSearch(kSearch);
  const hybrid = hybridFindings({ ...results, runs });
  if (hybrid.length) console.log("\nphantom x DP against TP x DP, the best layout of each:");
  for (const h of hybrid) console.log(`  ${h.sentence}`);
  console.log(`results: ${path}`);
  const html = path.replace(/\.json$/, ".html");
  await writeReport(path, html);
  console.log(`report: ${html}`);
  return 0;
}

/**
 * A profile behind shaped links of an emulated network: its id says so.
 *
 * @param profile The profile.
 * @param rate --link, if given.
 * @returns The profile, with `collectives.link` where a rate was given.
 * @throws {ConfigError} Naming --link when the rate does not parse.
 */
function withLink(profile: HardwareProfile, rate: string | undefined): HardwareProfile {
  if (rate === undefined) return profile;
  const bits = linkBitsPerS(rate);
  if (!bits) throw new ConfigError("--link", rate, "must be a rate like 1gbit, 100mbit or 25mbit");
  return {
    ...profile,
    id: `${profile.id}+link-${rate}`,
    collectives: {
      ...profile.collectives,
      link: { bytesPerS: bits / 8, efficiency: TCP_EFFICIENCY, rate },
    },
  };
}

function printRuns(runs: Awaited<ReturnType<typeof projectRun>>[]) {
  console.log(
    "projected  mode         p       n    k   step ms  compute  latency  bandwidth  data-par   J/step     memory/rank",
  );
  for (const r of runs) {
    const c = r.config;
    const b = r.projected!.breakdown;
    const head = `           ${String(c.mode).padEnd(8)}${ranksLabel(c).padStart(6)}${
      String(c.width).padStart(8)
    }${String(c.phantomWidth ?? "-").padStart(5)}`;
    if (r.status !== "ok") {
      console.log(`${head}  ${r.status.toUpperCase()}: ${r.error}`);
      continue;
    }
    const m = r.metrics!;
    console.log(
      `${head}${m.stepTimeMs.median.toPrecision(3).padStart(10)}${
        b.computeMs.toPrecision(3).padStart(9)
      }${(b.latencyMs + b.hostMs).toPrecision(3).padStart(9)}${
        b.bandwidthMs.toPrecision(3).padStart(11)
      }${(b.dataParallelMs?.toPrecision(3) ?? "-").padStart(9)}${
        (m.energy.joulesPerStep?.median.toPrecision(3) ?? "n/a").padStart(9)
      }${`${(m.memory!.peakTensorBytesPerRank / 2 ** 20).toFixed(1)} MiB`.padStart(16)}`,
    );
  }
}

function printKSearch(rows: ReturnType<typeof searchPhantomWidth>) {
  console.log("k search (steps to target measured at small scale, step cost projected):");
  for (const r of rows) {
    console.log(
      `  ${r.point} k=${r.k}: ${r.stepsToTarget ?? "no measured run"} steps, ` +
        `${
          r.energyToTargetJ === null
            ? "energy to target unknown"
            : `${r.energyToTargetJ.toPrecision(3)} J to target`
        }` +
        `${r.from ? ` (steps from ${r.from})` : ""}`,
    );
  }
}

function validate(runs: ReturnType<typeof measuredRuns>["runs"], cores: number): number {
  const v = validateProjection(runs, cores);
  const links = v.byLink !== undefined;
  if (links) {
    console.log(
      "network sweep: a profile calibrated on the unshaped runs predicts each shaped run from its " +
        "link rate (all traffic through the server host's link: lib/projection/link_model.ts)",
    );
  }
  // Runs with replicas: the data-parallel all-reduce (part of the comm time) apart.
  const dp = v.dataParallelErrorPct !== undefined;
  console.log(
    `run                                          p${
      links ? "     link" : ""
    }   step ms meas   pred   comm ms meas   pred${
      dp ? "  data-par meas   pred" : ""
    }  bytes meas = pred  error`,
  );
  for (const r of v.rows) {
    console.log(
      `${r.id.slice(0, 43).padEnd(44)}${String(r.ranks).padStart(4)}${
        links ? (r.link ?? "").padStart(9) : ""
      }${r.measuredStepMs.toFixed(1).padStart(14)}${r.predictedStepMs.toFixed(1).padStart(7)}${
        r.measuredCommMs.toFixed(1).padStart(14)
      }${r.predictedCommMs.toFixed(1).padStart(7)}${
        dp
          ? `${(r.measuredDataParallelMs ?? 0).toFixed(1).padStart(14)}${
            (r.predictedDataParallelMs ?? 0).toFixed(1).padStart(7)
          }`
          : ""
      }${
        (r.measuredBytes === r.predictedBytes
          ? "exact"
          : `${r.measuredBytes} != ${r.predictedBytes}`).padStart(19)
      }${`${r.errorPct.toFixed(1)}%`.padStart(7)}`,
    );
  }
  console.log(`bytes: ${v.bytesExact ? "every run exactly as predicted" : "MISMATCH"}`);
  for (const [d, error] of Object.entries(v.byReplicas ?? {})) {
    console.log(`median absolute error at d = ${d} replicas: ${error.toFixed(1)}%`);
  }
  if (dp) {
    console.log(
      `the data-parallel all-reduce alone: median absolute error ${
        v.dataParallelErrorPct!.toFixed(1)
      }% (the rest of the step: compute and the model-parallel collectives with all d x p ` +
        "ranks sharing the host)",
    );
  }
  for (const [link, error] of Object.entries(v.byLink ?? {})) {
    console.log(`median absolute error at ${link}: ${error.toFixed(1)}%`);
  }
  // Where the network dominates the step: the links of 100 Mbit/s and slower.
  const slow = v.rows.filter((r) => r.link && (linkBitsPerS(r.link) ?? Infinity) <= 100e6);
  if (links && slow.length) {
    console.log(
      `median absolute error at 100 Mbit/s and slower (${slow.length} runs): ${
        median(slow.map((r) => r.errorPct)).toFixed(1)
      }%`,
    );
  }
  console.log(`median absolute error ${v.medianAbsErrorPct.toFixed(1)}%`);
  return 0;
}

if (import.meta.main) {
  await runMain(main, [ResultsError], "Run `deno task project --help` for the options.");
}
