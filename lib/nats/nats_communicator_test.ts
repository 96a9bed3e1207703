import { CollectiveError } from "../comm/communicator.ts";
import { communicatorConformance } from "../testing/communicator_conformance.ts";
import { createInProcessGroup } from "../comm/in_process_communicator.ts";
import { assert, assertEquals, assertRejects } from "../testing/asserts.ts";
import { connectNats } from "./connection.ts";
import { EVERY_RANK, packFrames, runHash, runSubjects } from "./frame.ts";
import { connectNatsGroup, openGridConnections } from "./nats_group.ts";
import { createInProcessGrid } from "../comm/grid.ts";
import { RankConnection } from "./rank_connection.ts";
import { fileNatsServer, natsTest } from "../testing/system.ts";

// A real nats-server on a free port with the default 1 MiB max_payload, so pieces are exercised.
const server = await fileNatsServer({ maxPayloadBytes: 1024 * 1024 });
const connection = server?.connection;
let runs = 0;
const runId = () => `t${Deno.pid}-${runs++}`;

for (const ranksPerConnection of [1, 2, 3]) {
  natsTest(
    `NATS communicator passes the conformance suite (${ranksPerConnection} ranks per connection)`,
    async (t) => {
      await communicatorConformance(t, async (size, timeoutMs) => {
        const group = await connectNatsGroup(connection, size, {
          runId: runId(),
          timeoutMs,
          ranksPerConnection,
        });
        return { comms: group.comms, close: () => group.close() };
      }, { shortTimeoutMs: 500, sizes: ranksPerConnection === 1 ? [1, 2, 3, 4] : [2, 4, 5] });
    },
  );
}

natsTest(
  "NATS: results are bit-identical to the in-process group whatever the placement of ranks",
  async () => {
    const p = 6;
    const data = (r: number) =>
      Float32Array.from({ length: 33 }, (_, i) => Math.fround(Math.sin(r * 33 + i) * 1e3) / 7);
    const chunks = (r: number) =>
      Array.from({ length: p }, (_, s) => data(10 * r + s).subarray(0, 5 + s));
    const run = async (
      comms: {
        allReduce: (d: Float32Array) => Promise<Float32Array>;
        reduceScatter: (c: Float32Array[]) => Promise<Float32Array>;
        rank: number;
      }[],
    ) =>
      JSON.stringify(
        await Promise.all(
          comms.map(async (
            c,
          ) => [[...await c.allReduce(data(c.rank))], [...await c.reduceScatter(chunks(c.rank))]]),
        ),
      );
    const reference = await run(createInProcessGroup(p));
    for (const ranksPerConnection of [1, 2, 4, 6]) {
      await using g = await connectNatsGroup(connection, p, { runId: runId(), ranksPerConnection });
      assertEquals(await run(g.comms), reference, `${ranksPerConnection} ranks per connection`);
    }
  },
);

natsTest("NATS: two runs on one server never see each other's traffic", async () => {
  await using a = await connectNatsGroup(connection, 2, { runId: runId() });
  await using b = await connectNatsGroup(connection, 2, { runId: runId() });
  const [ra, rb] = await Promise.all([
    Promise.all(a.comms.map((c) => c.allReduce(new Float32Array([1 + c.rank])))),
    Promise.all(b.comms.map((c) => c.allReduce(new Float32Array([10 * (1 + c.rank)])))),
  ]);
  assertEquals(ra.map((x) => x[0]), [3, 3]);
  assertEquals(rb.map((x) => x[0]), [30, 30]);
});

natsTest(
  "NATS: blocks above max_payload travel in pieces; wire bytes count subjects and framing",
  async () => {
    // Asking for more than the server's max_payload (1 MiB here) gets the server's limit.
    await using g = await connectNatsGroup(connection, 2, {
      runId: runId(),
      maxMessageBytes: 4 << 20,
    });
    const max = g.connections[0].maxMessageBytes;
    assertEquals(max, 1024 * 1024);
    await using small = await connectNatsGroup(connection, 2, { runId: runId() });
    assertEquals(small.connections[0].maxMessageBytes, 256 * 1024, "the default is 256 KiB");
    const perFrame = Math.floor((max - 48) / 4) & ~1; // elements of one piece
    for (const elements of [perFrame, perFrame + 1, 262_144, 262_145, 3 * perFrame + 5]) {
      const before = g.comms[0].stats();
      const out = await Promise.all(
        g.comms.map((c) =>
          c.allGather(Float32Array.from({ length: elements }, (_, i) => c.rank + i))
        ),
      );
      assertEquals(out[0][1][elements - 1], 1 + elements - 1);
      assertEquals(out[1][0][elements - 1], elements - 1);
      const after = g.comms[0].stats();
      assertEquals(
        after.messagesSent - before.messagesSent,
        Math.ceil(elements / perFrame),
        `${elements} elements`,
      );
      assertEquals(after.bytesSent - before.bytesSent, elements * 4);
      const framing = after.wireBytesSent - before.wireBytesSent - elements * 4;
      assert(
        framing > 0 && framing < 100 * (after.messagesSent - before.messagesSent),
        `framing ${framing} bytes`,
      );
    }
  },
);

natsTest(
  "NATS: ranks of one connection exchange in memory; wire and local bytes say which is which",
  async () => {
    // 4 ranks on 2 connections: each rank hears 1 block in memory and 2 over the wire.
    await using g = await connectNatsGroup(connection, 4, {
      runId: runId(),
      ranksPerConnection: 2,
    });
    const e = 1000;
    await Promise.all(g.comms.map((c) => c.allGather(new Float32Array(e).fill(c.rank))));
    for (const c of g.comms) {
      const s = c.stats();
      assertEquals(s.bytesReceived, 3 * e * 4, "payload is logical: 3 blocks");
      assertEquals(
        s.localBytesReceived,
        e * 4,
        "one of them from the other rank of the connection",
      );
      // The other connection's 2 blocks arrive as 2 messages, each shared by this connection's 2 ranks.
      assert(
        s.wireBytesReceived > e * 4 && s.wireBytesReceived < 1.1 * e * 4,
        String(s.wireBytesReceived),
      );
      assertEquals(s.messagesSent, 1, "one publication reaches every other connection");
    }
    // A reduce-scatter sends one message per other connection, carrying the chunks of its ranks.
    const before = g.comms.map((c) => c.stats().messagesSent);
    await Promise.all(
      g.comms.map((c) =>
        c.reduceScatter(Array.from({ length: 4 }, () => new Float32Array(8).fill(1)))
      ),
    );
    g.comms.forEach((c, i) => assertEquals(c.stats().messagesSent - before[i], 1));
  },
);

natsTest(
  "NATS: float16 and bfloat16 on the wire halve the payload bytes, in memory too",
  async () => {
    for (const dtype of ["float16", "bfloat16"] as const) {
      for (const ranksPerConnection of [1, 3]) {
        await using g = await connectNatsGroup(connection, 3, {
          runId: runId(),
          dtype,
          ranksPerConnection,
        });
        const out = await Promise.all(
          g.comms.map((c) => c.allReduce(new Float32Array([0.5, 1.25, 2 + 1 / 3]))),
        );
        const expected = dtype === "float16" ? 1.5 + 3.75 : 1.5 + 3.75; // exact in both
        for (const o of out) {
          assertEquals([o[0] + o[1]], [expected]);
          assert(o[2] !== 3 * (2 + 1 / 3), `${dtype} rounds in memory as on the wire (${o[2]})`);
        }
        assertEquals(out[0][2], out[2][2]);
        assertEquals(g.comms[0].bytesPerElement, 2);
        assertEquals(g.comms[0].stats().bytesSent, 6);
        assertEquals(g.comms[0].stats().bytesReceived, 12);
      }
    }
  },
);

natsTest(
  "NATS: a mismatched step, a forged sender or another run's frame is rejected, never summed",
  async () => {
    const id = runId();
    await using g = await connectNatsGroup(connection, 2, { runId: id, timeoutMs: 2000 });
    // Rank 1 is a step ahead: both ranks must refuse rather than sum.
    g.comms[0].setStep(4);
    g.comms[1].setStep(5);
    const results = await Promise.allSettled(
      g.comms.map((c) => c.allReduce(new Float32Array([1]))),
    );
    for (const r of results) {
      assertEquals(r.status, "rejected");
      const message = String((r as PromiseRejectedResult).reason.message);
      assert(message.includes("is at step"), message);
    }
    // Forged frames on a run's subject: a sender outside the group, then another run's frame.
    const victimRun = id + "x";
    await using victim = await connectNatsGroup(connection, 2, {
      runId: victimRun,
      timeoutMs: 2000,
    });
    const intruder = await connectNats(connection);
    const forge = (hash: number, from: number) =>
      packFrames(
        { runHash: hash, seq: 0, step: -1, from, op: "barrier", dtype: "float32" },
        [{ to: EVERY_RANK, values: new Float32Array(0) }],
        1024,
      )[0];
    // Rank 0 waits for rank 1, which never comes; the forged frame is all it hears.
    const pending = victim.comms[0].barrier();
    pending.catch(() => {});
    intruder.publish(runSubjects(victimRun).all, forge(runHash(victimRun), 7));
    await intruder.flush();
    await assertRejects(
      () => pending,
      CollectiveError,
      "sender 7 is not a rank of this group of 2",
    );
    const third = await connectNatsGroup(connection, 2, {
      runId: victimRun + "y",
      timeoutMs: 2000,
    });
    const p2 = third.comms[0].barrier();
    p2.catch(() => {});
    intruder.publish(runSubjects(victimRun + "y").all, forge(runHash("someone-else"), 1));
    await intruder.flush();
    await assertRejects(() => p2, CollectiveError, "is not this run's");
    await third.close();
    await intruder.close();
  },
);

natsTest(
  "NATS: many forged frames at once are all refused and the run stays matched afterwards",
  async () => {
    const id = runId();
    await using g = await connectNatsGroup(connection, 3, { runId: id, timeoutMs: 3000 });
    const intruder = await connectNats(connection);
    // Before any collective: garbage and foreign frames must not crash the connections.
    for (let i = 0; i < 200; i++) {
      intruder.publish(
        runSubjects(id).all,
        i % 2 ? new Uint8Array([1, 2, 3]) : new Uint8Array(64).fill(i),
      );
    }
    await intruder.flush();
    await intruder.close();
    // The next collective fails cleanly (the refusals were attributed), never hangs or sums junk.
    const settled = await Promise.allSettled(
      g.comms.map((c) => c.allReduce(new Float32Array([1]))),
    );
    for (const s of settled) {
      if (s.status === "fulfilled") assertEquals(s.value[0], 3);
      else assert(s.reason instanceof CollectiveError, String(s.reason));
    }
  },
);

natsTest(
  "NATS: connections that claim the same rank, or never appear, are errors naming the ranks",
  async () => {
    const id = runId();
    const a = RankConnection.connect(connection, {
      runId: id,
      size: 3,
      ranks: [0, 1],
      timeoutMs: 1500,
    });
    const b = RankConnection.connect(connection, {
      runId: id,
      size: 3,
      ranks: [1, 2],
      timeoutMs: 1500,
    });
    const settled = await Promise.allSettled([a, b]);
    assert(
      settled.some((s) =>
        s.status === "rejected" && s.reason.message.includes("rank 1 is claimed by connections")
      ),
      JSON.stringify(settled.map((s) => s.status)),
    );
    for (const s of settled) if (s.status === "fulfilled") await s.value.close();
    await assertRejects(
      () =>
        RankConnection.connect(connection, {
          runId: runId(),
          size: 4,
          ranks: [0, 1],
          timeoutMs: 400,
        }),
      CollectiveError,
      "ranks 2, 3 have no connection",
    );
  },
);

natsTest(
  "NATS: a rank that dies mid-run fails the others within the timeout, naming it",
  async () => {
    const g = await connectNatsGroup(connection, 3, { runId: runId(), timeoutMs: 400 });
    await Promise.all(g.comms.map((c) => c.barrier()));
    await g.connections[2].close(); // rank 2 is gone
    const start = performance.now();
    const results = await Promise.allSettled(
      g.comms.slice(0, 2).map((c) =>
        c.allGather(new Float32Array([c.rank]), { phase: "forward", layer: 1 })
      ),
    );
    assert(performance.now() - start < 2000);
    for (const r of results) {
      assertEquals(r.status, "rejected");
      const message = (r as PromiseRejectedResult).reason.message;
      assert(
        message.includes("ranks 2 did not answer") && message.includes("allGather forward layer 1"),
        message,
      );
    }
    await g.close();
  },
);

/** A d x p grid over NATS from two connections (ranks split in halves), as two processes would. */
async function natsGrid(d: number, p: number, timeoutMs: number) {
  const id = runId();
  const ncs = await Promise.all([0, 1].map(() => connectNats(connection)));
  const g = d * p;
  const halves = [
    [...Array(Math.ceil(g / 2)).keys()],
    [...Array(g).keys()].slice(Math.ceil(g / 2)),
  ];
  const grids = await Promise.all(
    halves.map((ranks, i) =>
      openGridConnections(ncs[i], id, { replicas: d, modelRanks: p }, ranks, { timeoutMs })
    ),
  );
  const comms = (rank: number) => grids[rank < halves[0].length ? 0 : 1].comms(rank);
  const close = async () => {
    await Promise.all(grids.flatMap((x) => x.connections.map((c) => c.close())));
    await Promise.all(ncs.map((nc) => nc.close()));
  };
  return { comms, close };
}

natsTest("NATS grid groups pass the conformance suite: data groups and model groups", async (t) => {
  await t.step("data groups", (s) =>
    communicatorConformance(s, async (size, timeoutMs) => {
      const grid = await natsGrid(size, 2, timeoutMs);
      const comms = [...Array(size).keys()].map((i) => grid.comms(i * 2 + 1).data!);
      return { comms, close: grid.close };
    }, { shortTimeoutMs: 500, sizes: [2, 3] }));
  await t.step("model groups", (s) =>
    communicatorConformance(s, async (size, timeoutMs) => {
      const grid = await natsGrid(2, size, timeoutMs);
      const comms = [...Array(size).keys()].map((r) => grid.comms(size + r).model);
      return { comms, close: grid.close };
    }, { shortTimeoutMs: 500, sizes: [2, 3] }));
});

natsTest(
  "NATS grid: groups on their own subjects give the in-process grid's sums, bit for bit",
  async () => {
    const [d, p] = [2, 3];
    const grid = await natsGrid(d, p, 10_000);
    try {
      const data = (g: number) =>
        Float32Array.from({ length: 20 }, (_, i) => Math.sin(g * 20 + i) / 3);
      const over = await Promise.all([...Array(d * p).keys()].map(async (g) => {
        const c = grid.comms(g);
        return [await c.model.allReduce(data(g)), await c.data!.allReduce(data(g + 100))];
      }));
      const local = createInProcessGrid(d, p);
      const here = await Promise.all(local.map(async ({ position, model, data: dg }) => [
        await model.allReduce(data(position.rank)),
        await dg!.allReduce(data(position.rank + 100)),
      ]));
      assertEquals(over.map((x) => x.map((a) => [...a])), here.map((x) => x.map((a) => [...a])));
      // Each group counted its own payload: model groups 20 floats sent per rank, data groups too,
      // received from p - 1 and d - 1 others.
      const c = grid.comms(4);
      assertEquals([c.model.stats().bytesSent, c.model.stats().bytesReceived], [80, 80 * (p - 1)]);
      assertEquals([c.data!.stats().bytesSent, c.data!.stats().bytesReceived], [80, 80 * (d - 1)]);
    } finally {
      await grid.close();
    }
  },
);
