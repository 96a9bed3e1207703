// The call ledger without a server: blocks assembled from pieces in order, and every way a
// message can be wrong refused with an error naming the call and the ranks.
import type { CollectiveOp } from "../config/collectives.ts";
import { CallLedger, type Waiter } from "./call_ledger.ts";
import { encode } from "./wire.ts";
import { assert, assertEquals } from "../testing/asserts.ts";

/** A ledger for rank 0 of 3 and an allGather-like waiter collecting blocks of n from 1 and 2. */
function setup(n = 4, op: CollectiveOp = "allGather", step = 5) {
  const counters = { wireBytesReceived: 0, localBytesReceived: 0 };
  const ledger = new CallLedger(0, 4, counters);
  const taken = new Map<number, number[]>();
  const outcome: { done: boolean; error?: Error } = { done: false };
  const waiter = (): Waiter => ({
    op,
    tag: { layer: 2, phase: "forward" },
    step,
    expectFrom: [1, 2],
    expect: new Set([1, 2]),
    elements: () => n,
    take: (from, data) => void taken.set(from, [...data]),
    ready: () => taken.size === 2,
    done: () => (outcome.done = true),
    fail: (error) => (outcome.error = error),
  });
  return { ledger, counters, taken, outcome, waiter };
}

const piece = (
  seq: number,
  from: number,
  values: number[],
  offset: number,
  elements: number,
  op: CollectiveOp = "allGather",
  step = 5,
) =>
  [
    { seq, from, op, step, dtype: "float32" as const },
    { elements, offset, count: values.length, bytes: encode(Float32Array.from(values), "float32") },
    values.length * 4 + 10,
  ] as const;

Deno.test("ledger: pieces in order assemble each block; the call ends when every block is in", () => {
  const { ledger, counters, taken, outcome, waiter } = setup();
  const seq = ledger.begin();
  // Pieces may arrive before this rank registers its side of the call.
  ledger.receivePiece(...piece(seq, 1, [1, 2], 0, 4));
  ledger.wait(seq, waiter());
  ledger.receivePiece(...piece(seq, 1, [3, 4], 2, 4));
  ledger.receiveLocal(seq, 2, "allGather", 5, Float32Array.of(5, 6, 7, 8));
  assertEquals(outcome, { done: true });
  assertEquals(Object.fromEntries(taken), { 1: [1, 2, 3, 4], 2: [5, 6, 7, 8] });
  assertEquals(counters, { wireBytesReceived: 2 * 18, localBytesReceived: 16 });
});

Deno.test("ledger: a duplicate block is refused, naming the sender and the call", () => {
  const { ledger, outcome, waiter } = setup();
  const seq = ledger.begin();
  ledger.wait(seq, waiter());
  ledger.receiveLocal(seq, 1, "allGather", 5, Float32Array.of(1, 2, 3, 4));
  ledger.receiveLocal(seq, 1, "allGather", 5, Float32Array.of(1, 2, 3, 4));
  assertEquals(outcome.error?.message, "Duplicate block from rank 1 in call 0");
});

Deno.test("ledger: a piece out of order, or a first piece not at 0, is refused", () => {
  const a = setup();
  const seq = a.ledger.begin();
  a.ledger.wait(seq, a.waiter());
  a.ledger.receivePiece(...piece(seq, 1, [1, 2], 0, 4));
  a.ledger.receivePiece(...piece(seq, 1, [3, 4], 1, 4)); // should start at 2
  assert(/inconsistent with the pieces before it/.test(a.outcome.error!.message));
  const b = setup();
  const s = b.ledger.begin();
  b.ledger.wait(s, b.waiter());
  b.ledger.receivePiece(...piece(s, 2, [3, 4], 2, 4));
  assertEquals(
    b.outcome.error?.message,
    "Rejected piece from rank 2 in call 0: it starts at element 2, not 0",
  );
});

Deno.test("ledger: another operation, step, length or an unexpected sender is a mismatch naming both ranks", () => {
  const cases: [(l: CallLedger, seq: number) => void, RegExp][] = [
    [
      (l, s) => l.receiveLocal(s, 1, "allReduce", 5, new Float32Array(4)),
      /rank 1 called allReduce but rank 0 called allGather/,
    ],
    [
      (l, s) => l.receiveLocal(s, 1, "allGather", 6, new Float32Array(4)),
      /rank 1 is at step 6 but rank 0 at step 5/,
    ],
    [
      (l, s) => l.receiveLocal(s, 2, "allGather", 5, new Float32Array(3)),
      /length 3 from rank 2 but 4 on rank 0/,
    ],
    [
      (l, s) => l.receivePiece(...piece(s, 7, [1, 2, 3, 4], 0, 4)),
      /rank 7 sent a block, but rank 0 expects none from it/,
    ],
  ];
  for (const [send, message] of cases) {
    const { ledger, outcome, waiter } = setup();
    const seq = ledger.begin();
    ledger.wait(seq, waiter());
    send(ledger, seq);
    assert(message.test(outcome.error?.message ?? ""), `${message}: ${outcome.error?.message}`);
    assert(outcome.error!.message.includes("layer 2"), "the call's tag is named");
  }
});

Deno.test("ledger: a message for a call that is over fails what is pending, never the finished call", () => {
  const { ledger, outcome, waiter } = setup();
  const first = ledger.begin();
  ledger.wait(first, waiter());
  ledger.receiveLocal(first, 1, "allGather", 5, new Float32Array(4));
  ledger.receiveLocal(first, 2, "allGather", 5, new Float32Array(4));
  assertEquals(outcome.done, true);
  const next = setup();
  const pending = ledger.begin();
  ledger.wait(pending, next.waiter());
  ledger.receivePiece(...piece(first, 1, [1, 2, 3, 4], 0, 4)); // late: call 0 is over
  assert(
    /call 0 from rank 1 on rank 0: the call is already over/.test(next.outcome.error!.message),
  );
});

Deno.test("ledger: a timed-out call is dropped, names who is missing; closing fails what is pending", () => {
  const { ledger, outcome, waiter } = setup();
  const seq = ledger.begin();
  ledger.wait(seq, waiter());
  ledger.receiveLocal(seq, 2, "allGather", 5, new Float32Array(4));
  assertEquals(ledger.missing(seq, [1, 2]), [1]);
  ledger.drop(seq);
  const other = setup();
  const s2 = ledger.begin();
  ledger.wait(s2, other.waiter());
  ledger.close(new Error("connection closed"));
  assertEquals(other.outcome.error?.message, "connection closed");
  assertEquals(outcome.done, false);
  ledger.receiveLocal(s2, 1, "allGather", 5, new Float32Array(4)); // ignored once closed
  assert(ledger.closed);
});
