import { validateTrainConfig } from "../config/config.ts";
import { predictCosts } from "../config/cost_model.ts";
import { ConfigError } from "../config/config_error.ts";
import { assert, assertEquals, assertThrows } from "../testing/asserts.ts";
import { calibrateProfile, type MeasuredRun, nnls } from "./calibrate.ts";
import { collectiveTime } from "./collectives.ts";
import { BUILTIN_PROFILES, type HardwareProfile, loadProfile, parseProfile } from "./profile.ts";
import { projectStep } from "./step_model.ts";
import { validateProjection } from "./validate.ts";
import { Rng } from "../nn/rng.ts";
import { median } from "../results/stats.ts";

const close = (a: number, b: number, rel = 1e-9) =>
  Math.abs(a - b) <= rel * Math.max(Math.abs(a), Math.abs(b));

/** A small profile with round numbers, for hand-computed answers. */
function toy(algorithm: "ring" | "hierarchical" | "nats"): HardwareProfile {
  return parseProfile({
    id: "toy",
    description: "round numbers",
    devicesPerNode: 4,
    devicesPerPowerDomain: 2,
    maxNodes: null,
    compute: {
      precision: "fp32",
      peakFlops: { fp32: 1e12 },
      efficiency: [[1e6, 0.5], [1e8, 0.5]],
      hbmBytesPerS: 1e11,
      memoryBytes: 1e9,
      updateBytesPerParameter: 10,
    },
    collectives: {
      algorithm,
      hostS: 1e-5,
      intra: { alphaS: 1e-6, busBytesPerS: 1e10 },
      inter: { alphaS: 4e-6, nicBytesPerSPerNode: 1e10, efficiency: 0.5 },
      nats: { messageS: 2e-6, bytesPerS: 1e9, assemblyBytesPerS: 2e9, connectionsMax: null },
    },
    power: { busyW: 300, idleW: 100, waitFraction: 0.25, nodeStaticW: 50 },
    bands: { optimistic: { compute: 1.2 }, pessimistic: { alpha: 2 } },
    sources: {},
  }, "toy");
}

Deno.test("ring: (p-1) alpha and ((p-1)/p) S / B inside a node; across nodes alpha_inter and min(B_intra, eta NIC)", () => {
  const t = collectiveTime(toy("ring"), "allGather", 4, 4e6);
  assert(
    close(t.latencyS, 3e-6) && close(t.bandwidthS, 0.75 * 4e6 / 1e10) && t.hostS === 1e-5,
    JSON.stringify(t),
  );
  const across = collectiveTime(toy("ring"), "allGather", 8, 8e6);
  assert(close(across.latencyS, 7 * 4e-6), `${across.latencyS}`);
  assert(close(across.bandwidthS, (7 / 8) * 8e6 / 5e9), `${across.bandwidthS}`); // 0.5 x 1e10 < 1e10
  const ar = collectiveTime(toy("ring"), "allReduce", 4, 4e6);
  assert(close(ar.latencyS, 2 * 3e-6) && close(ar.bandwidthS, 2 * 0.75 * 4e6 / 1e10));
  assertEquals(collectiveTime(toy("ring"), "allGather", 1, 1e6), {
    hostS: 0,
    latencyS: 0,
    bandwidthS: 0,
    assemblyS: 0,
  });
});

Deno.test("hierarchical: (N-1) alpha_inter + (g-1) alpha_intra; S over the NIC and the intra tier", () => {
  const t = collectiveTime(toy("hierarchical"), "allGather", 8, 8e6); // 2 nodes x 4
  assert(close(t.latencyS, 1 * 4e-6 + 3 * 1e-6), `${t.latencyS}`);
  assert(close(t.bandwidthS, 8e6 * ((1 / 2) / 5e9 + (3 / 4) / 1e10)), `${t.bandwidthS}`);
});

Deno.test("nats: a message per other connection and the bytes of the other ranks; assembly per rank", () => {
  const t = collectiveTime(toy("nats"), "allGather", 4, 4e6); // blocks of 1e6 B: 4 pieces of 256 KiB
  assert(close(t.latencyS, 3 * 4 * 2e-6), `${t.latencyS}`);
  assert(close(t.bandwidthS, 3e6 / 1e9) && close(t.assemblyS, 3e6 / 2e9));
  const shared = { ...toy("nats") };
  shared.collectives = {
    ...shared.collectives,
    nats: { ...shared.collectives.nats!, connectionsMax: 2 },
  };
  const s = collectiveTime(shared, "allGather", 4, 4e3); // 2 connections of 2 ranks
  assert(close(s.latencyS, 1 * 2e-6) && close(s.bandwidthS, 2e3 / 1e9), JSON.stringify(s));
});

Deno.test("energy: busy devices at idle + u (busy - idle), waiting at idle + w (busy - idle), whole power domains, node static", () => {
  const profile = toy("ring");
  const config = validateTrainConfig({
    mode: "tp",
    ranks: 3,
    width: 96,
    batch: 8,
    layers: 1,
    inputWidth: 8,
    outputWidth: 4,
  });
  const s = projectStep(config, profile);
  assertEquals(s.devicesCharged, 4); // 3 ranks on power domains of 2
  assert(close(s.utilisation, 0.5));
  const comm = s.hostS + s.latencyS + s.bandwidthS;
  const expected = 4 * ((100 + 0.5 * 200) * s.computeS + (100 + 0.25 * 200) * comm) +
    1 * 50 * s.stepS;
  assert(close(s.energyJ!, expected), `${s.energyJ} vs ${expected}`);
});

// deno-lint-ignore no-explicit-any
type ProfileEdit = (p: Record<string, any>) => unknown;

Deno.test("profiles: built-ins load with a source for every section; bad fields are named", async () => {
  for (const name of BUILTIN_PROFILES) {
    const p = await loadProfile(name);
    for (
      const key of [
        "devicesPerNode",
        "compute.peakFlops.fp32",
        "compute.efficiency",
        "collectives.intra.alphaS",
        "collectives.inter.nicBytesPerSPerNode",
        "power.busyW",
        "power.idleW",
        "bands",
      ]
    ) {
      assert(p.sources[key]?.length > 10, `${name}: no source for ${key}`);
    }
  }
  const good = JSON.parse(JSON.stringify(toy("ring")));
  // deno-lint-ignore no-explicit-any
  const broken = (edit: (p: Record<string, any>) => void) => {
    const p = JSON.parse(JSON.stringify(good));
    edit(p);
    return assertThrows(() => parseProfile(p, "mine.json"), ConfigError).message;
  };
  assert(broken((p) => delete p.compute.hbmBytesPerS).includes("compute.hbmBytesPerS is missing"));
  assert(
    broken((p) => (p.collectives.algorithm = "tree")).includes(
      "collectives.algorithm must be one of ring, hierarchical, nats",
    ),
  );
  assert(broken((p) => (p.compute.efficiency = [[1e6, 1.5]])).includes("compute.efficiency"));
  assert(broken((p) => (p.bands.optimistic = { speed: 2 })).includes("bands.optimistic.speed"));
  assert(broken((p) => (p.devicesPerNode = "8")).includes("devicesPerNode must be an integer"));
  // Hostile numbers: negative or zero bandwidths, negative latencies, power upside down.
  for (
    const [edit, field] of [
      [
        (p) => (p.collectives.intra.busBytesPerS = -1e9),
        "collectives.intra.busBytesPerS -1000000000",
      ],
      [
        (p) => (p.collectives.inter.nicBytesPerSPerNode = 0),
        "collectives.inter.nicBytesPerSPerNode 0",
      ],
      [(p) => (p.compute.hbmBytesPerS = -5), "compute.hbmBytesPerS -5"],
      [(p) => (p.collectives.intra.alphaS = -1e-6), "collectives.intra.alphaS"],
      [(p) => (p.collectives.inter.efficiency = 3), "collectives.inter.efficiency 3"],
      [(p) => p.power && (p.power.busyW = p.power.idleW - 1), "power.busyW"],
      [(p) => p.power && (p.power.waitFraction = -0.5), "power.waitFraction"],
    ] as [ProfileEdit, string][]
  ) {
    const message = broken(edit);
    assert(message.includes(field), `${field}: ${message}`);
  }
});

/** A host profile in the form calibration fits, with known coefficients. */
function truth(): HardwareProfile {
  const half = 2e6;
  const efficiency: [number, number][] = [];
  for (let e = 2; e <= 13; e += 0.5) efficiency.push([10 ** e, 10 ** e / (10 ** e + half)]);
  return parseProfile({
    id: "truth",
    description: "synthetic host",
    devicesPerNode: 2,
    devicesPerPowerDomain: 1,
    maxNodes: 1,
    compute: {
      precision: "fp32",
      peakFlops: { fp32: 8e10 },
      efficiency,
      hbmBytesPerS: 1e12,
      memoryBytes: 1e15,
      updateBytesPerParameter: 2000,
    },
    collectives: {
      algorithm: "nats",
      hostS: 3e-4,
      intra: { alphaS: 0, busBytesPerS: 1 },
      inter: { alphaS: 0, nicBytesPerSPerNode: 1, efficiency: 1 },
      nats: { messageS: 4e-5, bytesPerS: 2e8, assemblyBytesPerS: 5e8, connectionsMax: 16 },
    },
    power: { busyW: 12, idleW: 0, waitFraction: 0.4, nodeStaticW: 45 },
    bands: { optimistic: {}, pessimistic: {} },
    sources: {},
  }, "truth");
}

function synthetic(
  profile: HardwareProfile,
  noise: (i: number) => number = () => 0,
): MeasuredRun[] {
  const runs: MeasuredRun[] = [];
  let i = 0;
  for (const ranks of [1, 2, 4, 8, 16, 32, 64]) {
    for (const [mode, k] of [["tp", undefined], ["phantom", 4], ["phantom", 16]] as const) {
      for (const [width, batch] of [[512, 32], [1024, 128]]) {
        if (mode === "phantom" && (ranks === 1 || k! >= width / ranks)) continue;
        const config = validateTrainConfig({
          mode,
          ranks,
          width,
          batch,
          phantomWidth: k,
          layers: 2,
        });
        const s = projectStep(config, profile);
        const e = 1 + noise(i++);
        runs.push({
          id: `${mode}-p${ranks}-n${width}-k${k}-b${batch}`,
          config,
          bytesPerElement: 4,
          stepS: s.stepS * e,
          computeS: s.computeS * e,
          commS: (s.stepS - s.computeS) * e,
          energyJ: s.energyJ! * e,
          bytesSent: 0,
          bytesReceived: 0,
        });
      }
    }
  }
  return runs;
}

Deno.test("calibration recovers a synthetic host's profile within 2%", () => {
  const t = truth();
  const fitted = calibrateProfile(synthetic(t), 2);
  const within = (a: number, b: number, what: string) =>
    assert(Math.abs(a - b) / b < 0.02, `${what}: ${a} vs ${b}`);
  within(fitted.compute.peakFlops.fp32, t.compute.peakFlops.fp32, "peak");
  within(fitted.collectives.hostS, t.collectives.hostS, "host");
  within(fitted.collectives.nats!.messageS, t.collectives.nats!.messageS, "per message");
  within(fitted.collectives.nats!.bytesPerS, t.collectives.nats!.bytesPerS, "bandwidth");
  within(
    fitted.collectives.nats!.assemblyBytesPerS,
    t.collectives.nats!.assemblyBytesPerS,
    "assembly",
  );
  within(fitted.power!.nodeStaticW, 45, "static power");
  within(fitted.power!.busyW, 12, "busy power");
  within(fitted.power!.waitFraction, 0.4, "wait fraction");
  // And it predicts what it was fitted on.
  for (const r of synthetic(t)) within(projectStep(r.config, fitted).stepS, r.stepS, r.id);
});

Deno.test("validation on synthetic data with a known error reports it", () => {
  const exact = validateProjection(synthetic(truth()), 2);
  assert(exact.medianAbsErrorPct < 2, `${exact.medianAbsErrorPct}`);
  // Every measured time off by 10%, up or down at random: the held-out predictions miss by about 10%.
  const rng = new Rng(7);
  const signs = Array.from({ length: 200 }, () => (rng.uniform() < 0.5 ? -0.1 : 0.1));
  const noisy = validateProjection(synthetic(truth(), (i) => signs[i]), 2);
  assert(noisy.medianAbsErrorPct > 7 && noisy.medianAbsErrorPct < 14, `${noisy.medianAbsErrorPct}`);
  assertEquals(noisy.rows.length, synthetic(truth()).length);
});

Deno.test("nnls keeps coefficients non-negative", () => {
  const x = nnls([[1, 1], [1, 2], [1, 3]], [3, 2, 1], [1, 1, 1]); // the free fit has a negative slope
  assert(x.every((v) => v >= 0), `${x}`);
});

Deno.test("shaped links: the server host's busier direction plus a piece each way, overlapping the transport's per-byte work", () => {
  const profile = toy("nats");
  const slow = { ...profile.collectives, link: { bytesPerS: 1e6, efficiency: 0.5, rate: "8mbit" } };
  const linked = { ...profile, collectives: slow };
  const config = validateTrainConfig({ mode: "tp", ranks: 4, width: 64, batch: 8, layers: 2 });
  const plain = projectStep(config, profile);
  const shaped = projectStep(config, linked);
  // By hand: S = 8 x 64 x 4 = 2048 B. allGather x2: 4 ranks receive 3 blocks of 512 B each
  // (6144 B) + 2 x 512; reduceScatter x2: 6144 B both ways + 2 x 512; allReduce (S = 8 x 16 x 4 =
  // 512 B): 4 x 3 x 512 = 6144 + 2 x 512. At 1e6 B/s x 0.5.
  const expected = (2 * (6144 + 1024) + 2 * (6144 + 1024) + (6144 + 1024)) / 0.5e6;
  assert(close(shaped.linkS, expected), `${shaped.linkS} vs ${expected}`);
  assertEquals(plain.linkS, 0);
  // The link time replaces the per-byte term where it is longer; everything else is unchanged.
  assert(close(shaped.stepS - shaped.bandwidthS, plain.stepS - plain.bandwidthS));
  assert(shaped.bandwidthS >= shaped.linkS && shaped.bandwidthS < shaped.linkS + plain.bandwidthS);
  // A fast link hides under the transport's own per-byte work.
  const fast = { ...profile.collectives, link: { bytesPerS: 1e12, efficiency: 1, rate: "8tbit" } };
  assert(close(projectStep(config, { ...profile, collectives: fast }).stepS, plain.stepS));
  assertThrows(
    () =>
      parseProfile(
        { ...profile, collectives: { ...slow, link: { ...slow.link, efficiency: 1.5 } } },
        "x.json",
      ),
    ConfigError,
    "collectives.link.efficiency",
  );
});

Deno.test("network sweep validation: calibrated on the unshaped runs, shaped runs predicted from their link", () => {
  const host = truth();
  const unshaped = synthetic(host).filter((r) => r.config.ranks >= 2);
  // The same runs "measured" on 10 and 100 Mbit/s links: what the link model says, +-5%.
  const shaped = [10e6, 100e6].flatMap((bits, j) =>
    unshaped.map((r, i): MeasuredRun => {
      const rate = `${bits / 1e6}mbit`;
      const link = { bytesPerS: bits / 8, efficiency: 1448 / 1514, rate };
      const s = projectStep(r.config, { ...host, collectives: { ...host.collectives, link } });
      const e = (i + j) % 2 ? 1.05 : 0.95;
      return { ...r, id: `${r.id}-${rate}`, stepS: s.stepS * e, commS: s.stepS * e, link: rate };
    })
  );
  const v = validateProjection([...unshaped.map((r) => ({ ...r, link: null })), ...shaped], 2);
  assertEquals(v.rows.length, shaped.length, "a row per shaped run, none for the unshaped");
  assertEquals(Object.keys(v.byLink!).sort(), ["100mbit", "10mbit"]);
  assert(Math.abs(v.medianAbsErrorPct - 5) < 1, `${v.medianAbsErrorPct}`);
  // Only shaped runs: nothing to calibrate on, said in one line.
  assertThrows(() => validateProjection(shaped, 2), ConfigError, "all on shaped links");
});

Deno.test("data parallelism in the step model: the gradient all-reduce on the right tier, G ranks charged", () => {
  const ring = toy("ring");
  const one = validateTrainConfig({ mode: "tp", ranks: 4, width: 64, batch: 8, layers: 2 });
  const dp = { ...one, replicas: 2 };
  const a = projectStep(one, ring);
  const b = projectStep(dp, ring);
  assertEquals(a.dataParallelS, 0);
  // G = 8 > 4 devices per node: across nodes, the 4 model ranks of a node share its NIC
  // (efficiency 0.5 x 1e10 / 4), a ring of d = 2: 2 steps of alpha_inter, 2 (d-1)/d S.
  const bytes = 4 * (predictCosts(one).parametersPerRank + 1);
  const expected = 1e-5 + 2 * 4e-6 + bytes / Math.min(1e10, (0.5 * 1e10) / 4);
  assert(close(b.dataParallelS, expected), `${b.dataParallelS} vs ${expected}`);
  assert(close(b.stepS - a.stepS, expected));
  assertEquals([a.nodes, b.nodes], [1, 2]);
  assertEquals(b.devicesCharged, 8);
  // Inside one node (G = 4 <= 4 devices): the intra tier.
  const small = {
    ...validateTrainConfig({ mode: "tp", ranks: 2, width: 64, batch: 8 }),
    replicas: 2,
  };
  const s = projectStep(small, ring);
  const sBytes = 4 * (predictCosts(small).parametersPerRank + 1);
  assert(close(s.dataParallelS, 1e-5 + 2 * 1e-6 + sBytes / 1e10), `${s.dataParallelS}`);
});

Deno.test("validation with replicas: calibrated on the runs without, the data-parallel term predicts the rest", () => {
  const host = truth();
  const plain = synthetic(host).filter((r) => r.config.ranks >= 2);
  // The same configurations with 2 replicas, "measured" as the model says, +-5%.
  const replicated = plain.map((r, i): MeasuredRun => {
    const config = { ...r.config, replicas: 2 };
    const s = projectStep(config, host);
    // The all-reduce itself measured 20% above the model: shown apart.
    return {
      ...r,
      id: `${r.id}-d2`,
      config,
      stepS: s.stepS * (i % 2 ? 1.05 : 0.95),
      dataParallelS: s.dataParallelS * 1.2,
    };
  });
  const v = validateProjection([...plain, ...replicated], 2);
  assertEquals(v.rows.length, replicated.length);
  assertEquals(Object.keys(v.byReplicas!), ["2"]);
  assert(Math.abs(v.medianAbsErrorPct - 5) < 1.5, `${v.medianAbsErrorPct}`);
  // Each row carries the measured all-reduce and the calibrated profile's prediction of it; the
  // median of their errors is the term's own error.
  const errors = v.rows.map((row, i) => {
    const truth = projectStep(replicated[i].config, host).dataParallelS * 1000;
    assert(close(row.measuredDataParallelMs!, 1.2 * truth), row.id);
    assert(row.predictedDataParallelMs! > 0, row.id);
    return (100 * Math.abs(row.predictedDataParallelMs! - row.measuredDataParallelMs!)) /
      row.measuredDataParallelMs!;
  });
  assert(close(v.dataParallelErrorPct!, median(errors)), `${v.dataParallelErrorPct}`);
  assert(v.dataParallelErrorPct! > 10, `${v.dataParallelErrorPct}: the 20% was not seen`);
  // Without the measured term (an older results file) no column and no such error.
  const older = validateProjection(
    [...plain, ...replicated.map(({ dataParallelS: _, ...r }) => r)],
    2,
  );
  assertEquals(older.dataParallelErrorPct, undefined);
  assertEquals(older.rows[0].measuredDataParallelMs, undefined);
  assertThrows(() => validateProjection(replicated, 2), ConfigError, "all have replicas");
});
