import {
  EVERY_RANK,
  type FrameHeader,
  packFrames,
  parseFrame,
  peekCall,
  runHash,
  runSubjects,
} from "./frame.ts";
import { decode } from "./wire.ts";
import { assert, assertEquals, assertThrows } from "../testing/asserts.ts";

const header: FrameHeader = {
  runHash: runHash("run-1"),
  seq: 41,
  step: 7,
  from: 2,
  op: "reduceScatter",
  dtype: "float32",
};
const expect = { runHash: header.runHash, size: 4 };
const values = (n: number, seed: number) =>
  Float32Array.from({ length: n }, (_, i) => seed * 1000 + i);

function parsed(frame: Uint8Array) {
  const f = parseFrame(frame, expect);
  if (typeof f === "string") throw new Error(f);
  return f;
}

/** Reassembles every block of a list of frames, checking pieces arrive in order. */
function reassemble(frames: Uint8Array[]) {
  const blocks = new Map<number, { elements: number; values: number[] }>();
  for (const frame of frames) {
    for (const s of parsed(frame).sections) {
      const b = blocks.get(s.to) ?? { elements: s.elements, values: [] };
      assertEquals(s.offset, b.values.length, "pieces arrive in order");
      b.values.push(...decode(s.bytes, "float32"));
      blocks.set(s.to, b);
    }
  }
  return blocks;
}

Deno.test("frames: a header and several blocks round-trip", () => {
  const blocks = [{ to: 0, values: values(5, 0) }, { to: 3, values: values(2, 3) }];
  const [frame, ...rest] = packFrames(header, blocks, 1 << 20);
  assertEquals(rest.length, 0);
  const f = parsed(frame);
  assertEquals([f.seq, f.step, f.from, f.op, f.dtype], [41, 7, 2, "reduceScatter", "float32"]);
  assertEquals(f.sections.map((s) => [s.to, s.elements, s.offset, s.count]), [[0, 5, 0, 5], [
    3,
    2,
    0,
    2,
  ]]);
  assertEquals([...decode(f.sections[1].bytes, "float32")], [...values(2, 3)]);
  assertEquals(peekCall(frame), { seq: 41, from: 2 });
  const subjects = runSubjects("run-1");
  assertEquals([subjects.all, subjects.connections, subjects.connection(3)], [
    "pb.run-1.all",
    "pb.run-1.connections",
    "pb.run-1.c3",
  ]);
});

Deno.test("frames: split at the size limit exactly, and one byte below it", () => {
  for (const elements of [2, 100, 1000, 4096]) {
    const exact = 32 + 16 + 4 * elements; // one section that just fits
    for (const max of [exact, exact - 1, 56].filter((m) => m >= 56)) {
      const frames = packFrames(header, [{ to: 1, values: values(elements, 1) }], max);
      assert(frames.every((f) => f.byteLength <= max), `frame above ${max}`);
      const expected = max === exact ? 1 : Math.ceil(4 * elements / (max - 48));
      assertEquals(frames.length, expected, `${elements} elements at ${max} bytes`);
      assertEquals(reassemble(frames).get(1)!.values, [...values(elements, 1)]);
    }
  }
  assertThrows(() => packFrames(header, [], 50), RangeError, "too small");
});

Deno.test("frames: small blocks share a frame; a block that does not fit starts a fresh one", () => {
  const blocks = [0, 1, 2, 3].map((to) => ({ to, values: values(10, to) }));
  const one = packFrames(header, blocks, 1000);
  assertEquals(one.length, 1);
  const tight = packFrames(header, blocks, 32 + 2 * (16 + 40) + 4);
  assertEquals(tight.length, 2);
  assertEquals(tight.map((f) => parsed(f).sections.length), [2, 2]);
  const all = reassemble(tight);
  for (const to of [0, 1, 2, 3]) assertEquals(all.get(to)!.values, [...values(10, to)]);
});

Deno.test("frames: empty blocks travel (barriers), half types stay 4-byte aligned", () => {
  const empty = packFrames({ ...header, op: "barrier" }, [{
    to: EVERY_RANK,
    values: new Float32Array(0),
  }], 64);
  assertEquals(parsed(empty[0]).sections.map((s) => [s.to, s.elements, s.count]), [[
    EVERY_RANK,
    0,
    0,
  ]]);
  const half = { ...header, dtype: "float16" as const };
  const frames = packFrames(half, [{ to: 0, values: values(3, 0) }, {
    to: 1,
    values: values(5, 1),
  }], 90);
  let total = 0;
  for (const frame of frames) {
    const f = parseFrame(frame, expect);
    assert(typeof f !== "string", String(f));
    for (const s of f.sections) {
      assertEquals((s.bytes.byteOffset - frame.byteOffset) % 4, 0, "section data aligned");
      total += s.count;
    }
  }
  assertEquals(total, 8);
});

const BAD: [string, (f: Uint8Array) => Uint8Array, string][] = [
  ["too short", (f) => f.subarray(0, 20), "shorter than a frame header"],
  ["bad magic", (f) => (f[0] ^= 1, f), "bad magic"],
  [
    "another run",
    (f) => (new DataView(f.buffer).setUint32(4, runHash("other"), true), f),
    "is not this run's",
  ],
  [
    "a sender outside the group",
    (f) => (new DataView(f.buffer).setUint32(16, 7, true), f),
    "sender 7 is not a rank of this group of 4",
  ],
  ["an unknown op", (f) => (f[20] = 9, f), "unknown operation code 9"],
  ["an unknown dtype", (f) => (f[21] = 9, f), "unknown dtype code 9"],
  [
    "too many sections",
    (f) => (new DataView(f.buffer).setUint16(22, 500, true), f),
    "500 sections do not fit",
  ],
  [
    "a section for a rank outside",
    (f) => (new DataView(f.buffer).setUint32(32, 9, true), f),
    "is for rank 9",
  ],
  [
    "a piece past its block",
    (f) => (new DataView(f.buffer).setUint32(40, 2, true), f),
    "runs past its block",
  ],
  ["a piece past the frame", (f) => f.subarray(0, f.byteLength - 4), "runs past the frame"],
];

for (const [label, corrupt, message] of BAD) {
  Deno.test(`frames: ${label} is refused with the reason`, () => {
    const [frame] = packFrames(header, [{ to: 1, values: values(4, 1) }], 1 << 16);
    const result = parseFrame(corrupt(frame.slice()), expect);
    assert(typeof result === "string" && result.includes(message), String(result));
  });
}
