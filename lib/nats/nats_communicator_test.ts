import { CollectiveError } from "../comm/communicator.ts";
import { communicatorConformance } from "../comm/communicator_conformance.ts";
import { assert, assertEquals, assertRejects } from "../testing/asserts.ts";
import { connectNats } from "./connection.ts";
import { connectNatsGroup, NatsCommunicator } from "./nats_communicator.ts";
import { fileNatsServer, natsTest } from "../testing/system.ts";

// A real nats-server on a free port with the default 1 MiB max_payload, so chunking is exercised.
const server = await fileNatsServer({ maxPayloadBytes: 1024 * 1024 });
const connection = { servers: server?.url };
let runs = 0;
const runId = () => `t${Deno.pid}-${runs++}`;

natsTest("NATS communicator passes the conformance suite", async (t) => {
  await communicatorConformance(t, async (size, timeoutMs) => {
    const group = await connectNatsGroup(connection, size, { runId: runId(), timeoutMs });
    return { comms: group.comms, close: () => group.close() };
  }, { shortTimeoutMs: 500 });
});

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

natsTest("NATS: payload chunking at max_payload, wire bytes count headers and chunks", async () => {
  await using g = await connectNatsGroup(connection, 2, { runId: runId() });
  const maxChunk = g.comms[0].maxChunkBytes;
  assert(maxChunk < 1024 * 1024 && maxChunk % 4 === 0, String(maxChunk));
  for (const elements of [maxChunk / 4, maxChunk / 4 + 1, 262_144, 262_145]) {
    const before = g.comms[0].stats();
    const out = await Promise.all(
      g.comms.map((c) =>
        c.allGather(Float32Array.from({ length: elements }, (_, i) => c.rank + i))
      ),
    );
    assertEquals(out[0][1][elements - 1], 1 + elements - 1);
    const after = g.comms[0].stats();
    const chunks = Math.ceil((elements * 4) / maxChunk);
    assertEquals(after.messagesSent - before.messagesSent, chunks, `${elements} elements`);
    assertEquals(after.bytesSent - before.bytesSent, elements * 4);
    assert(
      after.wireBytesSent - before.wireBytesSent > elements * 4,
      "wire bytes include subjects and headers",
    );
  }
});

natsTest("NATS: float16 and bfloat16 on the wire halve the payload bytes", async () => {
  for (const dtype of ["float16", "bfloat16"] as const) {
    await using g = await connectNatsGroup(connection, 3, { runId: runId(), dtype });
    const out = await Promise.all(
      g.comms.map((c) => c.allReduce(new Float32Array([0.5, 1.25, 2]))),
    );
    for (const o of out) assertEquals([...o], [1.5, 3.75, 6]);
    assertEquals(g.comms[0].bytesPerElement, 2);
    assertEquals(g.comms[0].stats().bytesSent, 6);
    assertEquals(g.comms[0].stats().bytesReceived, 12);
  }
});

natsTest(
  "NATS: messages from another step, a foreign sender or a wrong size are rejected, never summed",
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
      assert(
        String((r as PromiseRejectedResult).reason.message).includes("step"),
        String((r as PromiseRejectedResult).reason),
      );
    }
    // A forged message on this run's subject, claiming to be rank 7 of a group of 2.
    const nc = await connectNats(connection);
    const comm = await NatsCommunicator.attach(nc, {
      runId: id + "x",
      rank: 0,
      size: 2,
      timeoutMs: 2000,
    });
    const pending = comm.barrier();
    pending.catch(() => {}); // rejected before assertRejects looks: not an unhandled rejection
    const { headers } = await import("@nats-io/transport-node");
    const h = headers();
    for (
      const [k, v] of [["run", id + "x"], ["step", "-1"], ["n", "0"], ["d", "float32"], [
        "c",
        "0/1",
      ]]
    ) h.set(k, v);
    const intruder = await connectNats(connection);
    intruder.publish(`pb.${id}x.all.0.barrier.-.-.-1.7`, new Uint8Array(0), { headers: h });
    await intruder.flush();
    await assertRejects(() => pending, CollectiveError, "sender 7 is not another rank");
    // A message on this run's subjects whose header names another run.
    const pending2 = comm.barrier();
    pending2.catch(() => {});
    h.set("run", "someone-else");
    intruder.publish(`pb.${id}x.all.1.barrier.-.-.-1.1`, new Uint8Array(0), { headers: h });
    await intruder.flush();
    await assertRejects(() => pending2, CollectiveError, "run someone-else is not this run");
    await comm.close();
    await nc.close();
    await intruder.close();
  },
);

natsTest(
  "NATS: a rank that dies mid-run fails the others within the timeout, naming it",
  async () => {
    const g = await connectNatsGroup(connection, 3, { runId: runId(), timeoutMs: 400 });
    await Promise.all(g.comms.map((c) => c.barrier()));
    await g.comms[2].close(); // rank 2 is gone
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
