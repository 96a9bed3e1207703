/**
 * The conformance suite every {@linkcode Communicator} implementation must pass: the in-process
 * group here, the NATS communicator in its own test. It checks values, ordering, bit-identical
 * sums, exact payload byte counts, copy semantics, mismatch detection and timeouts.
 *
 * @module
 */

import { assert, assertEquals } from "./asserts.ts";
import { CollectiveError, type Communicator } from "../comm/communicator.ts";

/** A group of communicators under test and how to release it. */
export interface GroupUnderTest {
  /** Communicators indexed by rank. */
  comms: Communicator[];
  /** Releases connections, servers, timers. */
  close(): Promise<void> | void;
}

/** Creates a fresh group of `size` ranks whose collectives time out after `timeoutMs`. */
export type GroupFactory = (size: number, timeoutMs: number) => Promise<GroupUnderTest>;

/** Options of {@linkcode communicatorConformance}. */
export interface ConformanceOptions {
  /** Group sizes to exercise. @default [1, 2, 3, 4] */
  sizes?: number[];
  /** Timeout used by the timeout test, in ms. @default 300 */
  shortTimeoutMs?: number;
  /** Timeout used by every other test, in ms. @default 30000 */
  timeoutMs?: number;
}

/**
 * Runs the suite as steps of a `Deno.test`.
 *
 * @param t The test context.
 * @param factory Creates groups of the implementation under test.
 * @param options Sizes and timeouts.
 */
export async function communicatorConformance(
  t: Deno.TestContext,
  factory: GroupFactory,
  options: ConformanceOptions = {},
): Promise<void> {
  const sizes = options.sizes ?? [1, 2, 3, 4];
  const timeoutMs = options.timeoutMs ?? 30_000;
  const withGroup = async (
    p: number,
    fn: (comms: Communicator[]) => Promise<void>,
    ms = timeoutMs,
  ) => {
    const group = await factory(p, ms);
    try {
      await fn(group.comms);
    } finally {
      await group.close();
    }
  };
  const all = <T>(comms: Communicator[], fn: (c: Communicator) => Promise<T>) =>
    Promise.all(comms.map(fn));

  for (const p of sizes) {
    await t.step(
      `p=${p}: allGather returns every block in rank order`,
      () =>
        withGroup(p, async (comms) => {
          const out = await all(comms, (c) => c.allGather(block(c.rank, 5), { phase: "forward" }));
          for (const blocks of out) {
            assertEquals(blocks.length, p);
            blocks.forEach((b, s) => assertEquals([...b], [...block(s, 5)]));
          }
        }),
    );

    await t.step(
      `p=${p}: reduceScatter sums each rank's chunk, in rank order`,
      () =>
        withGroup(p, async (comms) => {
          // Chunk s has length s + 2: chunks may differ in length between destinations.
          const chunksOf = (r: number) =>
            Array.from({ length: p }, (_, s) => block(10 * r + s, s + 2));
          const out = await all(comms, (c) => c.reduceScatter(chunksOf(c.rank)));
          out.forEach((sum, s) => {
            const expected = Array.from({ length: p }, (_, r) => chunksOf(r)[s]);
            assertEquals([...sum], [...rankOrderSum(expected)]);
          });
        }),
    );

    await t.step(
      `p=${p}: allReduce is bit-identical on every rank`,
      () =>
        withGroup(p, async (comms) => {
          const data = (r: number) =>
            Float32Array.from(
              { length: 64 },
              (_, i) => Math.fround(Math.sin(r * 64 + i) * 1e3) / 7,
            );
          const out = await all(comms, (c) => c.allReduce(data(c.rank)));
          const expected = rankOrderSum(comms.map((c) => data(c.rank)));
          for (const sum of out) assertEquals([...sum], [...expected]);
        }),
    );

    await t.step(`p=${p}: broadcast copies the root's buffer`, () =>
      withGroup(p, async (comms) => {
        const root = p - 1;
        const out = await all(comms, (c) =>
          c.broadcast(c.rank === root ? block(99, 7) : new Float32Array(0), root));
        for (const b of out) {
          assertEquals([...b], [...block(99, 7)]);
        }
      }));

    await t.step(
      `p=${p}: barrier releases nobody before the last rank arrives`,
      () =>
        withGroup(p, async (comms) => {
          let lastArrived = false;
          const early = comms.slice(0, -1).map((c) =>
            c.barrier().then(() => assert(lastArrived, `rank ${c.rank} left the barrier early`))
          );
          await new Promise((r) => setTimeout(r, 30));
          lastArrived = true;
          await Promise.all([...early, comms[p - 1].barrier()]);
        }),
    );

    await t.step(`p=${p}: payload bytes are counted exactly`, () =>
      withGroup(p, async (comms) => {
        const e = 6; // elements per block
        await all(comms, async (c) => {
          await c.allGather(block(c.rank, e));
          await c.reduceScatter(Array.from({ length: p }, (_, s) => block(s, e)));
          await c.allReduce(block(c.rank, e));
          await c.broadcast(c.rank === 0 ? block(0, e) : new Float32Array(0), 0);
          await c.barrier();
        });
        for (const c of comms) {
          const s = c.stats();
          const bpe = c.bytesPerElement;
          const fan = p > 1 ? e : 0;
          const sent = fan + (p - 1) * e + fan + (c.rank === 0 ? fan : 0);
          const received = (p - 1) * e * 3 + (c.rank === 0 ? 0 : e);
          assertEquals(s.bytesSent, sent * bpe, `bytesSent of rank ${c.rank}`);
          assertEquals(s.bytesReceived, received * bpe, `bytesReceived of rank ${c.rank}`);
          assertEquals(s.collectives, 5);
        }
      }));
  }

  const p = Math.max(...sizes);

  await t.step(`p=${p}: results and inputs are not aliased`, () =>
    withGroup(p, async (comms) => {
      const inputs = comms.map((c) => block(c.rank, 4));
      const pending = all(comms, (c) => c.allGather(inputs[c.rank]));
      inputs.forEach((b) => b.fill(-1)); // the caller reuses its buffer at once
      const out = await pending;
      out[0][0].fill(123);
      for (const blocks of out.slice(1)) assertEquals([...blocks[0]], [...block(0, 4)]);
      assertEquals([...out[0][1]], [...block(1, 4)]);
    }));

  await t.step(
    `p=${p}: results go into a caller's receive buffer; a wrong-sized one is refused`,
    () =>
      withGroup(p, async (comms) => {
        const e = 5;
        const gathered = comms.map(() => new Float32Array(p * e).fill(NaN));
        const summed = comms.map(() => new Float32Array(e).fill(NaN));
        const scattered = comms.map(() => new Float32Array(2).fill(NaN));
        await all(comms, async (c) => {
          const blocks = await c.allGather(block(c.rank, e), undefined, gathered[c.rank]);
          assert(blocks.every((b) => b.buffer === gathered[c.rank].buffer), "views of the buffer");
          assert(
            (await c.allReduce(block(c.rank, e), undefined, summed[c.rank])) === summed[c.rank],
          );
          const chunks = Array.from({ length: p }, (_, s) => block(c.rank + s, 2));
          assert(
            (await c.reduceScatter(chunks, undefined, scattered[c.rank])) === scattered[c.rank],
          );
        });
        const expectedSum = rankOrderSum(comms.map((c) => block(c.rank, e)));
        for (const c of comms) {
          assertEquals([...gathered[c.rank]], comms.flatMap((o) => [...block(o.rank, e)]));
          assertEquals([...summed[c.rank]], [...expectedSum]);
          const mine = rankOrderSum(comms.map((o) => block(o.rank + c.rank, 2)));
          assertEquals([...scattered[c.rank]], [...mine]);
        }
        const wrong = await Promise.allSettled(
          comms.map((c) => c.allGather(block(c.rank, e), undefined, new Float32Array(3))),
        );
        for (const r of wrong) {
          assertEquals(r.status, "rejected");
          assert(
            (r as PromiseRejectedResult).reason instanceof RangeError,
            String((r as PromiseRejectedResult).reason),
          );
        }
      }),
  );

  await t.step(
    `p=${p}: 200 mixed collectives in sequence stay matched`,
    () =>
      withGroup(p, async (comms) => {
        await all(comms, async (c) => {
          for (let i = 0; i < 50; i++) {
            const g = await c.allGather(block(c.rank + i, 3));
            assertEquals([...g[p - 1]], [...block(p - 1 + i, 3)]);
            const s = await c.reduceScatter(Array.from({ length: p }, () => new Float32Array([i])));
            assertEquals(s[0], i * p);
            const r = await c.allReduce(new Float32Array([1]));
            assertEquals(r[0], p);
            await c.barrier({ phase: "step", layer: i });
          }
        });
      }),
  );

  await t.step(`p=${p}: a payload above 1 MiB arrives intact`, () =>
    withGroup(p, async (comms) => {
      const n = 262_145; // 1 MiB + 4 bytes of float32
      const big = (r: number) => Float32Array.from({ length: n }, (_, i) => r * 1e6 + i);
      const out = await all(comms, (c) => c.allGather(big(c.rank)));
      for (const blocks of out) {
        blocks.forEach((b, s) => {
          assertEquals(b.length, n);
          assertEquals(b[0], s * 1e6);
          assertEquals(b[n - 1], s * 1e6 + n - 1);
        });
      }
    }));

  if (p >= 2) {
    await t.step(
      `p=${p}: mismatched lengths are rejected on every rank`,
      () =>
        withGroup(p, async (comms) => {
          const results = await Promise.allSettled(
            comms.map((c) => c.allReduce(new Float32Array(c.rank === 1 ? 3 : 4))),
          );
          for (const r of results) {
            assertEquals(r.status, "rejected");
            const reason = (r as PromiseRejectedResult).reason;
            assert(reason instanceof CollectiveError, String(reason));
            assert(/allReduce/.test(reason.message), reason.message);
          }
        }),
    );

    await t.step(
      `p=${p}: a rank that never answers fails the others with a timeout naming it`,
      () =>
        withGroup(p, async (comms) => {
          const silent = p - 1;
          const waiting = comms.filter((c) => c.rank !== silent);
          const settled = await Promise.allSettled(
            waiting.map((c) => c.allGather(block(c.rank, 2), { phase: "forward", layer: 3 })),
          );
          for (const result of settled) {
            assertEquals(result.status, "rejected");
            const reason = (result as PromiseRejectedResult).reason;
            assert(reason instanceof CollectiveError, String(reason));
            assert(reason.message.includes(`ranks ${silent} did not answer`), reason.message);
            assert(reason.message.includes("allGather"), reason.message);
          }
        }, options.shortTimeoutMs ?? 300),
    );
  }
}

function block(seed: number, length: number): Float32Array {
  return Float32Array.from({ length }, (_, i) => seed * 100 + i + 0.25);
}

function rankOrderSum(arrays: Float32Array[]): Float32Array {
  const out = arrays[0].slice();
  for (const a of arrays.slice(1)) for (let i = 0; i < out.length; i++) out[i] += a[i];
  return out;
}
