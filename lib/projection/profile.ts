/**
 * Hardware profiles: what a projection needs to know about a machine, as data (JSON). Built-in
 * profiles live in lib/projection/profiles/ with the source of every default value; `--profile
 * FILE` loads a user's own; `--calibrate` writes one fitted to measured results. A profile that
 * does not validate is an error naming the field.
 *
 * Fields (per device, i.e. per rank, unless noted):
 * - `devicesPerNode`; `devicesPerPowerDomain` (2 for MI250X: power is read per package);
 *   `maxNodes` (the host itself: 1; a cluster: null);
 * - `compute`: `peakFlops` per precision and the `precision` used, `efficiency` (matmul FLOPs of
 *   one product -> fraction of peak, interpolated on log FLOPs), `hbmBytesPerS`,
 *   `memoryBytes` (capacity), `updateBytesPerParameter` (bytes the optimizer update moves per
 *   parameter, at memory bandwidth);
 * - `collectives`: `algorithm` (`ring`, `hierarchical`, or `nats`: the suite's transport), `hostS`
 *   per call, `intra` and `inter` tiers (`alphaS` per step or message, `busBytesPerS`,
 *   `nicBytesPerSPerNode` and `efficiency` for inter), and for `nats` the per-message and per-byte
 *   costs of a connection (`messageS`, `bytesPerS`), the rate at which a rank assembles what it
 *   receives (`assemblyBytesPerS`), and how many connections the ranks share
 *   (`connectionsMax`: the local launcher puts up to 8 worker threads, each one connection, in
 *   each of its processes); and for an emulated network (`bench --emulate-hosts`: ranks on
 *   worker hosts, the server on the bench's host) the `link` every host is attached by
 *   (`bytesPerS` both ways, `efficiency`: the payload fraction of what it carries);
 * - `power`: `busyW` and `idleW` per device, `waitFraction` (a waiting device draws idle +
 *   waitFraction (busy - idle)), `nodeStaticW`;
 * - `bands`: multipliers for an `optimistic` and a `pessimistic` projection (`compute`, `alpha`,
 *   `bandwidth`, `power`);
 * - `sources`: field path -> where its value comes from.
 *
 * @module
 */

import { ConfigError } from "../config/config_error.ts";
import { type Infer, s, validate } from "../results/schema.ts";

const tier = s.object({
  /** Latency per ring step (ring, hierarchical) or per message (nats), in s. */
  alphaS: s.number(),
  /** Bus bandwidth of the tier, bytes/s. */
  busBytesPerS: s.number(),
});

const profileSchema = s.object({
  id: s.string(),
  description: s.string(),
  devicesPerNode: s.integer(),
  devicesPerPowerDomain: s.integer(),
  maxNodes: s.nullable(s.integer()),
  compute: s.object({
    precision: s.string(),
    peakFlops: s.record(s.number()),
    /** [matmul FLOPs of one product, fraction of peak], ascending in FLOPs. */
    efficiency: s.array(s.tuple(s.number(), s.number())),
    hbmBytesPerS: s.number(),
    memoryBytes: s.number(),
    updateBytesPerParameter: s.number(),
    /** Fixed time per step and rank outside the products (framework overhead), in s. @default 0 */
    stepOverheadS: s.optional(s.number()),
  }),
  collectives: s.object({
    algorithm: s.enum(["ring", "hierarchical", "nats"] as const),
    hostS: s.number(),
    intra: tier,
    inter: s.object({
      alphaS: s.number(),
      nicBytesPerSPerNode: s.number(),
      efficiency: s.number(),
    }),
    nats: s.optional(s.object({
      messageS: s.number(),
      bytesPerS: s.number(),
      /** Bytes per second at which a rank assembles what a collective delivers (copies, checks). */
      assemblyBytesPerS: s.number(),
      /** Most NATS connections (worker threads) the ranks use; null: one per rank. */
      connectionsMax: s.nullable(s.integer()),
    })),
    /**
     * The shaped link of every host of an emulated network (lib/projection/link_model.ts): all
     * traffic goes through the server on the bench's host, whose link carries every rank's bytes.
     */
    link: s.optional(s.object({
      /** The link's rate, bytes/s, each way. */
      bytesPerS: s.number(),
      /** Payload per byte on the link (TCP/IP and Ethernet headers: 1448 / 1514). */
      efficiency: s.number(),
      /** The rate as given (tc notation), for people. */
      rate: s.string(),
    })),
  }),
  power: s.nullable(s.object({
    busyW: s.number(),
    idleW: s.number(),
    waitFraction: s.number(),
    nodeStaticW: s.number(),
  })),
  bands: s.object({
    optimistic: s.record(s.number()),
    pessimistic: s.record(s.number()),
  }),
  sources: s.record(s.string()),
});

/** A hardware profile. */
export type HardwareProfile = Infer<typeof profileSchema>;

/** The built-in profiles. */
export const BUILTIN_PROFILES = ["frontier-mi250x", "dgx-h100"] as const;

/**
 * Validates a profile, naming the first field at fault.
 *
 * @param value Parsed JSON.
 * @param source The file or name, for the error.
 * @returns The profile.
 * @throws {ConfigError} Naming the field and value.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseProfile } from "./profile.ts";
 * assert.throws(() => parseProfile({ id: "x" }, "mine.json"), /description/);
 * ```
 */
export function parseProfile(value: unknown, source: string): HardwareProfile {
  const profile = validate(
    profileSchema,
    value,
    (path, message) =>
      new ConfigError(
        "--profile",
        source,
        `is not a valid profile: ${path || "the file"} ${message}`,
      ),
  );
  const e = profile.compute.efficiency;
  const bad = (path: string, v: unknown, why: string) => {
    throw new ConfigError(
      "--profile",
      source,
      `is not a valid profile: ${path} ${JSON.stringify(v)} ${why}`,
    );
  };
  if (!(profile.compute.peakFlops[profile.compute.precision] > 0)) {
    bad(
      "compute.peakFlops",
      profile.compute.peakFlops,
      `must hold a positive entry for precision "${profile.compute.precision}"`,
    );
  }
  if (
    e.length === 0 ||
    e.some(([f, x], i) => !(f > 0) || !(x > 0 && x <= 1) || (i > 0 && f <= e[i - 1][0]))
  ) {
    bad(
      "compute.efficiency",
      e,
      "must be [FLOPs, fraction] pairs, FLOPs ascending and positive, fractions in (0, 1]",
    );
  }
  if (profile.devicesPerNode < 1 || profile.devicesPerPowerDomain < 1) {
    bad("devicesPerNode", profile.devicesPerNode, "and devicesPerPowerDomain must be at least 1");
  }
  // Rates must be positive and times non-negative (finite): a negative bandwidth would give
  // negative step times and energy, a zero one Infinity.
  const c = profile.compute;
  const k = profile.collectives;
  const positive: [string, number][] = [
    ["compute.hbmBytesPerS", c.hbmBytesPerS],
    ["compute.memoryBytes", c.memoryBytes],
    ["compute.updateBytesPerParameter", c.updateBytesPerParameter],
    ["collectives.intra.busBytesPerS", k.intra.busBytesPerS],
    ["collectives.inter.nicBytesPerSPerNode", k.inter.nicBytesPerSPerNode],
    ...Object.entries(c.peakFlops).map(([p, v]): [string, number] => [`compute.peakFlops.${p}`, v]),
    ...(k.nats
      ? [
        ["collectives.nats.bytesPerS", k.nats.bytesPerS],
        ["collectives.nats.assemblyBytesPerS", k.nats.assemblyBytesPerS],
      ] as [string, number][]
      : []),
    ...(k.link ? [["collectives.link.bytesPerS", k.link.bytesPerS] as [string, number]] : []),
  ];
  for (const [path, v] of positive) {
    if (!(v > 0) || !Number.isFinite(v)) bad(path, v, "must be a positive, finite number");
  }
  const nonNegative: [string, number | undefined][] = [
    ["compute.stepOverheadS", c.stepOverheadS],
    ["collectives.hostS", k.hostS],
    ["collectives.intra.alphaS", k.intra.alphaS],
    ["collectives.inter.alphaS", k.inter.alphaS],
    ["collectives.nats.messageS", k.nats?.messageS],
    ["power.idleW", profile.power?.idleW],
    ["power.nodeStaticW", profile.power?.nodeStaticW],
  ];
  for (const [path, v] of nonNegative) {
    if (v !== undefined && (!(v >= 0) || !Number.isFinite(v))) {
      bad(path, v, "must be a finite number, 0 or more");
    }
  }
  if (k.link && !(k.link.efficiency > 0 && k.link.efficiency <= 1)) {
    bad("collectives.link.efficiency", k.link.efficiency, "must be a fraction in (0, 1]");
  }
  if (!(k.inter.efficiency > 0 && k.inter.efficiency <= 1)) {
    bad("collectives.inter.efficiency", k.inter.efficiency, "must be a fraction in (0, 1]");
  }
  if (profile.power) {
    const { busyW, idleW, waitFraction } = profile.power;
    if (!(busyW >= idleW) || !Number.isFinite(busyW)) {
      bad("power.busyW", busyW, `must be finite and at least power.idleW (${idleW})`);
    }
    if (!(waitFraction >= 0 && waitFraction <= 1)) {
      bad("power.waitFraction", waitFraction, "must be a fraction in [0, 1]");
    }
  }
  for (
    const [path, v] of [
      ["maxNodes", profile.maxNodes],
      ["collectives.nats.connectionsMax", k.nats?.connectionsMax ?? null],
    ] as const
  ) {
    if (v !== null && v < 1) bad(path, v, "must be at least 1 (or null)");
  }
  if (profile.collectives.algorithm === "nats" && !profile.collectives.nats) {
    bad("collectives.nats", undefined, "is required with algorithm nats");
  }
  for (const [name, band] of Object.entries(profile.bands)) {
    for (const [k, v] of Object.entries(band)) {
      if (!["compute", "alpha", "bandwidth", "power"].includes(k) || !(v > 0)) {
        bad(
          `bands.${name}.${k}`,
          v,
          "must be a positive multiplier of compute, alpha, bandwidth or power",
        );
      }
    }
  }
  return profile;
}

/**
 * Loads a built-in profile by name or a JSON file.
 *
 * @param nameOrPath A name of {@linkcode BUILTIN_PROFILES} or a path to a .json file.
 * @returns The profile.
 * @throws {ConfigError} If it is neither, cannot be read, or does not validate.
 */
export async function loadProfile(nameOrPath: string): Promise<HardwareProfile> {
  const builtin = (BUILTIN_PROFILES as readonly string[]).includes(nameOrPath);
  const path = builtin ? new URL(`./profiles/${nameOrPath}.json`, import.meta.url) : nameOrPath;
  if (!builtin && !nameOrPath.endsWith(".json")) {
    throw new ConfigError(
      "--profile",
      nameOrPath,
      `must be one of ${BUILTIN_PROFILES.join(", ")} or a .json file`,
    );
  }
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (error) {
    throw new ConfigError("--profile", nameOrPath, `cannot be read: ${(error as Error).message}`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new ConfigError(
      "--profile",
      nameOrPath,
      `is not valid JSON: ${(error as Error).message}`,
    );
  }
  return parseProfile(json, nameOrPath);
}

/**
 * A profile with a band's multipliers applied (compute efficiency, latencies, bandwidths, power).
 *
 * @param profile The profile.
 * @param band `optimistic`, `pessimistic` or `nominal`.
 * @returns The adjusted profile.
 */
export function withBand(
  profile: HardwareProfile,
  band: "nominal" | "optimistic" | "pessimistic",
): HardwareProfile {
  if (band === "nominal") return profile;
  const m = { compute: 1, alpha: 1, bandwidth: 1, power: 1, ...profile.bands[band] };
  const c = profile.collectives;
  return {
    ...profile,
    compute: {
      ...profile.compute,
      efficiency: profile.compute.efficiency.map(([f, e]) =>
        [f, Math.min(1, e * m.compute)] as [number, number]
      ),
    },
    collectives: {
      ...c,
      hostS: c.hostS * m.alpha,
      intra: { alphaS: c.intra.alphaS * m.alpha, busBytesPerS: c.intra.busBytesPerS * m.bandwidth },
      inter: {
        ...c.inter,
        alphaS: c.inter.alphaS * m.alpha,
        nicBytesPerSPerNode: c.inter.nicBytesPerSPerNode * m.bandwidth,
      },
      nats: c.nats && {
        ...c.nats,
        messageS: c.nats.messageS * m.alpha,
        bytesPerS: c.nats.bytesPerS * m.bandwidth,
        assemblyBytesPerS: c.nats.assemblyBytesPerS * m.bandwidth,
      },
    },
    power: profile.power && {
      ...profile.power,
      busyW: profile.power.busyW * m.power,
      idleW: profile.power.idleW * m.power,
      nodeStaticW: profile.power.nodeStaticW * m.power,
    },
  };
}
