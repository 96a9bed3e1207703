/**
 * Sweeps are data: a plain object (id, version, base configuration, axes, repeats, warm-up,
 * exclusions, loss target) that {@linkcode expandSweep}, a pure function, turns into run points.
 * Points that cannot exist (p not dividing n, k not below n/p, ...) are excluded by the
 * configuration rules with the reason recorded, never silently dropped.
 *
 * @module
 */

import { ConfigError } from "./config_error.ts";
import {
  DEFAULT_TRAIN_CONFIG,
  gridSuffix,
  type TrainConfig,
  validateTrainConfig,
} from "./config.ts";
import { linkBitsPerS } from "./link_rate.ts";

/** The loss target of a sweep's runs. */
export interface TargetSpec {
  /** `absolute` MSE, or `fraction` of the initial held-out loss. */
  kind: "absolute" | "fraction";
  /** The number. */
  value: number;
}

/** A benchmark sweep. */
export interface Sweep {
  /** Name, e.g. `scaling`. */
  id: string;
  /** Bumped whenever the sweep's points change meaning. */
  version: number;
  /** One line for humans. */
  description: string;
  /** Fields every point starts from (config fields, and `warmup`). */
  base: Record<string, unknown>;
  /** Axes: field -> values; a value that is an object is merged into the point. Cartesian product. */
  axes: Record<string, unknown[]>;
  /** Repeats of every point. */
  repeats: number;
  /** Steps excluded from timing. */
  warmup: number;
  /** Extra exclusions: points matching every field of `when` are excluded with `reason`. */
  exclusions?: { when: Record<string, unknown>; reason: string }[];
  /** Overrides applied with --quick (e.g. fewer steps, fewer ranks). */
  quick?: { base?: Record<string, unknown>; axes?: Record<string, unknown[]>; warmup?: number };
  /** Loss target. @default 50% of the initial loss */
  target?: TargetSpec;
  /** Memory cap per rank in bytes (--memory-cap overrides): points predicted above it are recorded out-of-memory, not run. */
  memoryCap?: number;
  /**
   * `memory-wall`: of every series of points that differ only in width, run just the widest that
   * fits the memory cap and record the next wider as out-of-memory (lib/config/memory_wall.ts).
   */
  search?: "memory-wall";
}

/** One point of a sweep. */
export interface SweepPoint {
  /** Readable id, e.g. `phantom-p8-n1024-k16-L2-b64`. */
  id: string;
  /** The validated configuration. */
  config: TrainConfig;
  /** Raw fields as expanded. */
  raw: Record<string, unknown>;
  /**
   * The rate every link of an emulated network is shaped to for this point (`link` field, tc
   * notation, null: unshaped); absent when the point does not set one (`bench --emulate-hosts`
   * reshapes the links before such a point; on a real network the point cannot run).
   */
  link?: string | null;
}

/** The expansion of a sweep. */
export interface Expansion {
  /** Points to run (each `repeats` times). */
  points: SweepPoint[];
  /** Points that cannot or should not run, with the reason. */
  excluded: { point: string; reason: string }[];
  /** Repeats per point. */
  repeats: number;
  /** Warm-up steps. */
  warmup: number;
}

/** Options of {@linkcode expandSweep}. */
export interface ExpandOptions {
  /** Apply the sweep's quick overrides. */
  quick?: boolean;
  /** Override the repeats. */
  repeats?: number;
  /** Keep only points matching this filter (see {@linkcode parseFilter}). */
  filter?: string;
  /** Fields forced onto every point (e.g. backend from the CLI). */
  overrides?: Record<string, unknown>;
}

/**
 * Expands a sweep into points.
 *
 * @param sweep The sweep.
 * @param options Quick mode, repeats, filter, overrides.
 * @returns Points, exclusions, repeats and warm-up.
 * @throws {ConfigError} If the filter does not parse or repeats is not a positive integer.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { expandSweep } from "./sweep.ts";
 * const e = expandSweep({
 *   id: "demo", version: 1, description: "", repeats: 1, warmup: 1,
 *   base: { mode: "tp", width: 64 }, axes: { ranks: [1, 3, 4] },
 * });
 * assert(e.points.length === 2 && e.excluded[0].reason.includes("must divide width"));
 * ```
 */
export function expandSweep(sweep: Sweep, options: ExpandOptions = {}): Expansion {
  const quick = options.quick ? sweep.quick ?? {} : {};
  const base = { ...sweep.base, ...quick.base, ...options.overrides };
  const axes = { ...sweep.axes, ...quick.axes };
  for (const key of Object.keys(options.overrides ?? {})) delete axes[key];
  const repeats = options.repeats ?? sweep.repeats;
  if (!Number.isSafeInteger(repeats) || repeats < 1) {
    throw new ConfigError("--repeats", repeats, "must be a positive integer");
  }
  const all = product(base, axes);
  const keep = options.filter
    ? parseFilter(options.filter, [...new Set([...POINT_FIELDS, ...all.flatMap(Object.keys)])])
    : () => true;
  const points: SweepPoint[] = [];
  const excluded: Expansion["excluded"] = [];
  let matched = 0;
  for (const raw of all) {
    if (raw.mode !== "phantom") delete raw.phantomWidth;
    const id = pointId(raw);
    if (!keep(raw)) continue;
    matched++;
    const rule = sweep.exclusions?.find((x) =>
      Object.entries(x.when).every(([k, v]) => raw[k] === v)
    );
    if (rule) {
      excluded.push({ point: id, reason: rule.reason });
      continue;
    }
    try {
      const { warmup: _w, link, ...fields } = raw;
      points.push({
        id,
        raw,
        config: validateTrainConfig(fields),
        ...("link" in raw ? { link: pointLink(link) } : {}),
      });
    } catch (error) {
      if (!(error instanceof ConfigError)) throw error;
      excluded.push({ point: id, reason: error.message });
    }
  }
  if (options.filter && matched === 0) {
    throw new ConfigError(
      "--filter",
      options.filter,
      `matches none of the sweep's ${all.length} points (e.g. ${
        all.slice(0, 3).map(pointId).join(", ")
      })`,
    );
  }
  return { points, excluded, repeats, warmup: quick.warmup ?? sweep.warmup };
}

/** A point's `link`: null (unshaped) or a rate; anything else is a ConfigError naming it. */
function pointLink(link: unknown, field = "link"): string | null {
  if (link === null || (typeof link === "string" && linkBitsPerS(link))) return link;
  throw new ConfigError(field, link, 'must be null (unshaped) or a rate like "25mbit" or "1gbit"');
}

/** Point fields a filter may name in any sweep (besides the sweep's own axes and base). */
const POINT_FIELDS = [
  "mode",
  "ranks",
  "width",
  "phantomWidth",
  "layers",
  "batch",
  "inputWidth",
  "outputWidth",
  "steps",
  "seed",
  "backend",
  "workload",
];

function product(
  base: Record<string, unknown>,
  axes: Record<string, unknown[]>,
): Record<string, unknown>[] {
  let out: Record<string, unknown>[] = [{ ...base }];
  for (const [key, values] of Object.entries(axes)) {
    out = out.flatMap((partial) =>
      values.map((v) =>
        v !== null && typeof v === "object" && !Array.isArray(v)
          ? { ...partial, ...(v as Record<string, unknown>) }
          : { ...partial, [key]: v }
      )
    );
  }
  return out;
}

/**
 * A readable point id.
 *
 * @param c Point fields.
 * @returns E.g. `phantom-p8-n1024-k16-L2-b64`.
 */
export function pointId(c: Record<string, unknown>): string {
  const k = c.mode === "phantom" ? `-k${c.phantomWidth}` : "";
  const workload = c.workload === "inference" ? "-inference" : "";
  const link = "link" in c ? `-link-${c.link ?? "none"}` : "";
  const replicas = gridSuffix(c);
  return `${c.mode}-p${c.ranks}${replicas}-n${c.width}${k}-L${c.layers}-b${c.batch}${workload}${link}`;
}

const FILTER = /^\s*([A-Za-z]+)\s*(<=|>=|!=|=|<|>)\s*([^,]+?)\s*$/;

/**
 * Parses a filter: comma-separated conditions on point fields, all of which must hold, e.g.
 * `mode=phantom,ranks<=8`.
 *
 * @param text The filter.
 * @param fields The fields a condition may name (any, when not given).
 * @returns A predicate over point fields.
 * @throws {ConfigError} Naming --filter and the condition that does not parse, or the unknown
 *   field with the valid ones.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseFilter } from "./sweep.ts";
 * assert(parseFilter("ranks<=8")({ ranks: 4 }));
 * assert.throws(() => parseFilter("rnks<=8", ["mode", "ranks"]), /unknown field "rnks" \(fields: mode, ranks\)/);
 * ```
 */
export function parseFilter(
  text: string,
  fields?: readonly string[],
): (point: Record<string, unknown>) => boolean {
  const tests = text.split(",").map((part) => {
    const m = part.match(FILTER);
    if (!m) {
      throw new ConfigError(
        "--filter",
        text,
        `has a condition that does not parse: "${part.trim()}" (use e.g. mode=phantom,ranks<=8)`,
      );
    }
    const [, field, op, rawValue] = m;
    if (fields && !fields.includes(field)) {
      throw new ConfigError(
        "--filter",
        text,
        `has an unknown field "${field}" (fields: ${fields.join(", ")})`,
      );
    }
    const value = /^-?\d+(\.\d+)?$/.test(rawValue) ? Number(rawValue) : rawValue;
    return (p: Record<string, unknown>) => {
      const v = p[field];
      // A null field (an unshaped link) is written "none" or "null".
      const same = v === value || (v === null && (value === "none" || value === "null"));
      switch (op) {
        case "=":
          return same;
        case "!=":
          return !same;
        case "<":
          return typeof v === "number" && v < Number(value);
        case ">":
          return typeof v === "number" && v > Number(value);
        case "<=":
          return typeof v === "number" && v <= Number(value);
        default:
          return typeof v === "number" && v >= Number(value);
      }
    };
  });
  return (p) => tests.every((t) => t(p));
}

/**
 * Parses a sweep file (JSON with the fields of {@linkcode Sweep}).
 *
 * @param text The file's content.
 * @param name The file name, for errors.
 * @returns The sweep.
 * @throws {ConfigError} If it is not JSON or a field is missing or of the wrong type, naming it.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseSweepFile } from "./sweep.ts";
 * const s = parseSweepFile('{"id":"x","version":1,"base":{},"axes":{},"repeats":1,"warmup":0}', "x.json");
 * assert(s.description === "");
 * ```
 */
export function parseSweepFile(text: string, name: string): Sweep {
  let sweep: unknown;
  try {
    sweep = JSON.parse(text);
  } catch (error) {
    throw new ConfigError("--sweep", name, `cannot be read as JSON: ${(error as Error).message}`);
  }
  const isObject = (v: unknown) => typeof v === "object" && v !== null && !Array.isArray(v);
  if (!isObject(sweep)) throw new ConfigError("--sweep", name, "must hold a JSON object");
  const fields = sweep as Record<string, unknown>;
  const checks: [string, (v: unknown) => boolean, string][] = [
    // The id names the results file: a path in it would write outside --out.
    [
      "id",
      (v) => typeof v === "string" && /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/.test(v),
      "a name of letters, digits, '.', '_' and '-' (it names the results file)",
    ],
    ["version", (v) => typeof v === "number", "a number"],
    ["base", isObject, "an object"],
    ["axes", isObject, "an object"],
    ["repeats", (v) => typeof v === "number", "a number"],
    ["warmup", (v) => typeof v === "number", "a number"],
    ["memoryCap", (v) => v === undefined || (typeof v === "number" && v > 0), "a positive number"],
    ["search", (v) => v === undefined || v === "memory-wall", '"memory-wall"'],
  ];
  for (const [field, ok, what] of checks) {
    if (!ok(fields[field])) {
      throw new ConfigError(`--sweep ${name}: ${field}`, fields[field], `must be ${what}`);
    }
  }
  checkSweepShape(fields, name);
  return { ...(sweep as Sweep), description: (fields.description as string) ?? "" };
}

/** The fields a sweep file may have. */
const SWEEP_FIELDS = [
  "id",
  "version",
  "description",
  "base",
  "axes",
  "repeats",
  "warmup",
  "exclusions",
  "quick",
  "target",
  "memoryCap",
  "search",
];

/**
 * The fields a point may set (a training configuration's, the warm-up, and the link rate of an
 * emulated network).
 */
const CONFIG_FIELDS = [
  ...Object.keys(DEFAULT_TRAIN_CONFIG),
  "mode",
  "phantomWidth",
  "warmup",
  "link",
  "replicas",
  "placement",
  "overlap",
];
const NESTED_FIELDS: Record<string, string[]> = {
  optimizer: Object.keys(DEFAULT_TRAIN_CONFIG.optimizer),
  task: Object.keys(DEFAULT_TRAIN_CONFIG.task),
};

/**
 * Checks what the simple checks do not: every field known (a typo such as `widht` would
 * otherwise train at the default width), every axis a non-empty list, counts whole numbers,
 * exclusions, quick overrides and the target well formed.
 */
function checkSweepShape(fields: Record<string, unknown>, name: string): void {
  const at = (field: string) => `--sweep ${name}: ${field}`;
  const isObject = (v: unknown): v is Record<string, unknown> =>
    typeof v === "object" && v !== null && !Array.isArray(v);
  const unknown = (where: string, keys: string[], known: string[]) => {
    const bad = keys.find((k) => !known.includes(k));
    if (bad !== undefined) {
      throw new ConfigError(at(where), bad, `is not a known field (known: ${known.join(", ")})`);
    }
  };
  const point = (where: string, value: Record<string, unknown>) => {
    unknown(where, Object.keys(value), CONFIG_FIELDS);
    if ("link" in value) pointLink(value.link, at(`${where}.link`));
    for (const [nested, known] of Object.entries(NESTED_FIELDS)) {
      if (isObject(value[nested])) unknown(`${where}.${nested}`, Object.keys(value[nested]), known);
    }
  };
  const axes = (where: string, value: unknown) => {
    if (!isObject(value)) throw new ConfigError(at(where), value, "must be an object");
    for (const [key, list] of Object.entries(value)) {
      if (!Array.isArray(list) || list.length === 0) {
        throw new ConfigError(at(`${where}.${key}`), list, "must be a non-empty list of values");
      }
      // An entry that is an object sets several fields at once; otherwise the axis is a field.
      for (const v of list) point(`${where}.${key}`, isObject(v) ? v : { [key]: v });
    }
  };
  const count = (where: string, v: unknown, least: number) => {
    if (!Number.isSafeInteger(v) || (v as number) < least) {
      throw new ConfigError(
        at(where),
        v,
        least > 0 ? "must be a positive integer" : "must be a whole number (0 or more)",
      );
    }
  };
  unknown("(top level)", Object.keys(fields), SWEEP_FIELDS);
  count("version", fields.version, 1);
  count("repeats", fields.repeats, 1);
  count("warmup", fields.warmup, 0);
  if (fields.description !== undefined && typeof fields.description !== "string") {
    throw new ConfigError(at("description"), fields.description, "must be text");
  }
  point("base", fields.base as Record<string, unknown>);
  axes("axes", fields.axes);
  if (fields.exclusions !== undefined) {
    if (!Array.isArray(fields.exclusions)) {
      throw new ConfigError(at("exclusions"), fields.exclusions, "must be a list");
    }
    fields.exclusions.forEach((x, i) => {
      if (!isObject(x) || !isObject(x.when) || typeof x.reason !== "string") {
        throw new ConfigError(
          at(`exclusions[${i}]`),
          x,
          'must be { "when": { field: value, ... }, "reason": "..." }',
        );
      }
      point(`exclusions[${i}].when`, x.when);
    });
  }
  if (fields.quick !== undefined) {
    const quick = fields.quick;
    if (!isObject(quick)) throw new ConfigError(at("quick"), quick, "must be an object");
    unknown("quick", Object.keys(quick), ["base", "axes", "warmup"]);
    if (quick.base !== undefined) {
      if (!isObject(quick.base)) {
        throw new ConfigError(at("quick.base"), quick.base, "must be an object");
      }
      point("quick.base", quick.base);
    }
    if (quick.axes !== undefined) axes("quick.axes", quick.axes);
    if (quick.warmup !== undefined) count("quick.warmup", quick.warmup, 0);
  }
  if (fields.target !== undefined) {
    const t = fields.target as Record<string, unknown>;
    if (!isObject(t) || (t.kind !== "absolute" && t.kind !== "fraction")) {
      throw new ConfigError(
        at("target"),
        t,
        'must be { "kind": "absolute" | "fraction", "value": N }',
      );
    }
    const v = t.value;
    if (
      typeof v !== "number" || !(v > 0) || !Number.isFinite(v) || (t.kind === "fraction" && v >= 1)
    ) {
      throw new ConfigError(
        at("target.value"),
        v,
        t.kind === "fraction"
          ? "must be a fraction of the initial loss in (0, 1)"
          : "must be a positive loss",
      );
    }
  }
}
