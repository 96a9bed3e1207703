/**
 * What a report holds, in order, as data: each section with its tables, the chart sections drawn
 * after them, an introduction where one is needed, and the reason where a section is left out.
 * The HTML page (lib/report/report_html.ts) and the LaTeX tables (lib/report/latex.ts, through
 * write_report.ts) both read it, so a table added here appears in both. Pure.
 *
 * @module
 */

import type { ResultsFile } from "../results/results.ts";
import { type Finding, findings } from "./findings.ts";
import type { Table } from "./table.ts";
import {
  configsTable,
  energyTable,
  failuresTable,
  inferenceTable,
  kSearchTable,
  memoryTable,
  paperClaimTable,
  projectionTable,
  provenanceTable,
  runsTable,
  summaryTable,
  targetTable,
} from "./tables.ts";

/** One section of a report. */
export interface ReportSection {
  id: string;
  title: string;
  /** The tables, in order (empty for a section of charts only). */
  tables: Table[];
  /** Chart sections (lib/report/charts.ts `section`) drawn after the tables. */
  charts: string[];
  /** A paragraph before the tables. */
  intro?: string;
  /** Whether every number in it is projected by a model (said in the page). */
  projected?: boolean;
  /** Where the section has nothing to show: why (the page lists it under "not shown"). */
  absent?: string;
  /** Whether its tables belong in a paper's tables (LaTeX): not failures or provenance. */
  paper: boolean;
}

/**
 * The sections of a results file's report.
 *
 * @param results The results.
 * @param found Its findings (computed when not given).
 * @returns Every section in order, empty ones with `absent` set.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { fixtureResults } from "../testing/results_fixture.ts";
 * import { reportPlan } from "./report_plan.ts";
 * const plan = reportPlan(fixtureResults([{ point: "tp-p2" }]));
 * assert.deepEqual(plan.slice(0, 2).map((s) => s.id), ["summary", "runs-section"]);
 * assert(plan.find((s) => s.id === "inference-section")!.absent === "no inference runs");
 * ```
 */
export function reportPlan(
  results: ResultsFile,
  found: Finding[] = findings(results),
): ReportSection[] {
  const energyMeasured = results.runs.some((r) => r.metrics?.energy.joulesPerStep);
  const present = (t: Table | null): Table[] => (t ? [t] : []);
  const projection = projectionTable(results);
  const memory = memoryTable(results);
  const inference = inferenceTable(results);
  const target = targetTable(results);
  const energy = energyTable(results);
  const sections: ReportSection[] = [
    {
      id: "summary",
      title: "Summary",
      tables: found.length ? [summaryTable(found)] : [],
      charts: [],
      paper: true,
    },
    { id: "runs-section", title: "Runs", tables: [runsTable(results)], charts: [], paper: true },
  ];
  if (projection) {
    // A file of projections opens with them (the paper's claim, holds or not), before the sentences.
    const allProjected = results.runs.every((r) => r.projected);
    sections.splice(allProjected ? 0 : sections.length, 0, {
      id: "projection-section",
      title: "Projection",
      tables: [
        ...present(paperClaimTable(found)),
        projection,
        ...present(kSearchTable(results)),
      ],
      charts: [],
      paper: true,
      projected: true,
      intro: `Every number in this section, and every run marked "projected" elsewhere, comes ` +
        `from a model (deno task project), not a measurement. Profile: ${
          results.projection?.profile.description ?? ""
        }`,
    });
  }
  sections.push(
    {
      id: "memory-section",
      paper: true,
      title: "Memory per rank",
      tables: present(memory),
      charts: memory ? ["Memory"] : [],
      ...(memory ? {} : { absent: "no run recorded memory (results written before it existed)" }),
    },
    {
      id: "inference-section",
      paper: true,
      title: "Inference",
      tables: present(inference),
      charts: inference ? ["Inference"] : [],
      ...(inference ? {} : { absent: "no inference runs" }),
    },
    {
      id: "target-section",
      paper: true,
      title: "Loss to target",
      tables: present(target),
      charts: target ? ["Loss"] : [],
      ...(target
        ? {
          intro: "Models of different size and rank count side by side: the paper's claim that " +
            "small phantom models on few ranks reach a loss sooner and with less energy than " +
            "large TP models on many.",
        }
        : { absent: "no training runs" }),
    },
    { id: "time-section", title: "Time", tables: [], charts: ["Time"], paper: false },
    {
      id: "comm-section",
      title: "Communication",
      tables: [],
      charts: ["Communication"],
      paper: false,
    },
    { id: "energy-section", title: "Energy", tables: [], charts: ["Energy"], paper: false },
    {
      id: "energy-breakdown-section",
      paper: true,
      title: "Energy by node and device",
      tables: present(energy),
      charts: [],
      ...(energy
        ? {}
        : { absent: energyMeasured ? "no per-device figures" : "energy was not measured" }),
    },
    {
      id: "failures-section",
      paper: false,
      title: "Failures and exclusions",
      tables: [failuresTable(results)],
      charts: [],
    },
    {
      id: "provenance-section",
      paper: false,
      title: "Provenance",
      tables: [provenanceTable(results), configsTable(results)],
      charts: [],
    },
  );
  return sections;
}
