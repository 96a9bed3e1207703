/**
 * The NATS wire format of the collectives, as pure functions: subjects, the binary frame every
 * message carries, its parser (which validates everything before anything is used), and the
 * packing of a rank's outgoing blocks into messages below the server's max_payload.
 *
 * Subjects (one run never sees another's traffic):
 * - `pb.<run>.all`: blocks every rank needs (all-gather, all-reduce, broadcast, barrier),
 *   published once and delivered once to every other connection;
 * - `pb.<run>.c<connection>`: blocks for ranks of one connection (reduce-scatter chunks), batched per connection;
 * - `pb.<run>.connections`: connection announcements (which ranks each connection carries).
 * A rank connection is one NATS connection and the ranks it carries (its id is its lowest rank).
 *
 * Frame (little-endian): a 32-byte header, a table of 16 bytes per section, then the sections'
 * data, each starting on a 4-byte boundary.
 *
 *     0  u32 magic "PBF1"        16 u32 sender rank
 *     4  u32 run hash (FNV-1a)   20 u8 op, u8 dtype, u16 sections
 *     8  u32 call number         24 u32 reserved (0), u32 reserved (0)
 *    12 i32 step
 *     section: u32 to (a rank, or 0xffffffff for every rank), u32 elements of the whole block,
 *              u32 offset of this piece in the block (elements), u32 elements in this piece
 *
 * A block larger than one message is split into pieces sent in order (NATS keeps the order of one
 * publisher's messages to one subscriber), so a receiver accepts a piece only at the next
 * expected offset: anything else is a duplicate or a forgery.
 *
 * @module
 */

import { COLLECTIVE_OPS, type CollectiveOp } from "../config/collectives.ts";
import { bytesPerElement, encode, type WireDtype } from "./wire.ts";

/** The collective operations, as they appear in frames (a frame carries the index). */
export const OPS = COLLECTIVE_OPS;

/** `to` of a section every rank takes. */
export const EVERY_RANK = 0xffffffff;

const MAGIC = 0x31464250; // "PBF1" in little-endian bytes
const HEADER_BYTES = 32;
const SECTION_BYTES = 16;
const DTYPES: readonly WireDtype[] = ["float32", "float16", "bfloat16"];

/** The subjects of a run. */
export interface RunSubjects {
  /** Blocks for every rank. */
  all: string;
  /** Connection announcements. */
  connections: string;
  /** Blocks for the ranks of one connection. */
  connection(id: number): string;
}

/**
 * @param runId The run (letters, digits, `-` and `_`).
 * @returns Its subjects.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { runSubjects } from "./frame.ts";
 * assert(runSubjects("r1").connection(8) === "pb.r1.c8");
 * ```
 */
export function runSubjects(runId: string): RunSubjects {
  return {
    all: `pb.${runId}.all`,
    connections: `pb.${runId}.connections`,
    connection: (id) => `pb.${runId}.c${id}`,
  };
}

/**
 * A 32-bit FNV-1a hash of the run id, carried in every frame: a message that reaches this run's
 * subjects but was built for another run is refused.
 *
 * @param runId The run.
 * @returns The hash.
 */
export function runHash(runId: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < runId.length; i++) {
    h ^= runId.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/** What a frame's header says. */
export interface FrameHeader {
  /** Hash of the run id ({@linkcode runHash}). */
  runHash: number;
  /** The sender's collective call number. */
  seq: number;
  /** The sender's training step (-1 before the first). */
  step: number;
  /** The sending rank. */
  from: number;
  /** The collective. */
  op: CollectiveOp;
  /** Element type of the data. */
  dtype: WireDtype;
}

/** A piece of one block for one rank (or every rank). */
export interface Section {
  /** The receiving rank, or {@linkcode EVERY_RANK}. */
  to: number;
  /** Elements of the whole block. */
  elements: number;
  /** Where this piece starts in the block, in elements. */
  offset: number;
  /** Elements in this piece. */
  count: number;
  /** The piece's bytes in the wire dtype (a view of the frame). */
  bytes: Uint8Array;
}

/** A parsed frame. */
export interface Frame extends FrameHeader {
  /** Its sections, in order. */
  sections: Section[];
}

/** A block to send: values for one rank or every rank. */
export interface Outgoing {
  /** The receiving rank, or {@linkcode EVERY_RANK}. */
  to: number;
  /** The block's values (float32; encoded to the header's dtype). */
  values: Float32Array;
}

const pad4 = (n: number) => (n + 3) & ~3;

/**
 * Packs blocks into frames of at most `maxBytes` each, in order: small blocks share a frame, a
 * block too large for one is split into pieces across consecutive frames. A block of zero
 * elements still travels (as an empty section), so every receiver hears from every sender.
 *
 * @param header What every frame's header says.
 * @param blocks The blocks.
 * @param maxBytes Largest frame, in bytes (the server's max_payload).
 * @returns The frames' bytes.
 * @throws {RangeError} If maxBytes cannot hold a header and one element.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { EVERY_RANK, packFrames, parseFrame } from "./frame.ts";
 * const header = { runHash: 7, seq: 3, step: 0, from: 1, op: "allGather" as const, dtype: "float32" as const };
 * const frames = packFrames(header, [{ to: EVERY_RANK, values: new Float32Array(100) }], 256);
 * assert(frames.length === 2 && frames.every((f) => f.byteLength <= 256));
 * const first = parseFrame(frames[0], { runHash: 7, size: 4 });
 * assert(typeof first !== "string" && first.sections[0].count === 52);
 * ```
 */
export function packFrames(
  header: FrameHeader,
  blocks: Outgoing[],
  maxBytes: number,
): Uint8Array[] {
  const size = bytesPerElement(header.dtype);
  if (maxBytes < HEADER_BYTES + SECTION_BYTES + 8) {
    throw new RangeError(`Cannot pack frames: max frame (${maxBytes} bytes) is too small`);
  }
  const frames: Uint8Array[] = [];
  let pending: { to: number; elements: number; offset: number; values: Float32Array }[] = [];
  let used = HEADER_BYTES;
  const flush = () => {
    if (pending.length > 0) frames.push(encodeFrame(header, pending));
    pending = [];
    used = HEADER_BYTES;
  };
  for (const block of blocks) {
    const elements = block.values.length;
    let offset = 0;
    while (true) {
      // Whole elements that fit; an even count keeps half-precision pieces 4-byte aligned.
      const room = Math.floor((maxBytes - used - SECTION_BYTES) / size) & ~1;
      if (room <= 0 || (room < elements - offset && pending.length > 0 && offset === 0)) {
        // No room, or a block that would be split although a fresh frame could hold more of it.
        if (pending.length > 0) {
          flush();
          continue;
        }
      }
      const count = Math.min(elements - offset, room);
      const values = block.values.subarray(offset, offset + count);
      pending.push({ to: block.to, elements, offset, values });
      used += SECTION_BYTES + pad4(count * size);
      offset += count;
      if (offset >= elements) break;
      flush();
    }
  }
  flush();
  return frames;
}

function encodeFrame(
  header: FrameHeader,
  sections: { to: number; elements: number; offset: number; values: Float32Array }[],
): Uint8Array {
  const size = bytesPerElement(header.dtype);
  const dataStart = HEADER_BYTES + SECTION_BYTES * sections.length;
  const total = sections.reduce((n, s) => n + pad4(s.values.length * size), dataStart);
  const bytes = new Uint8Array(total);
  const view = new DataView(bytes.buffer);
  view.setUint32(0, MAGIC, true);
  view.setUint32(4, header.runHash, true);
  view.setUint32(8, header.seq, true);
  view.setInt32(12, header.step, true);
  view.setUint32(16, header.from, true);
  view.setUint8(20, OPS.indexOf(header.op));
  view.setUint8(21, DTYPES.indexOf(header.dtype));
  view.setUint16(22, sections.length, true);
  let at = dataStart;
  sections.forEach((s, i) => {
    const entry = HEADER_BYTES + SECTION_BYTES * i;
    view.setUint32(entry, s.to, true);
    view.setUint32(entry + 4, s.elements, true);
    view.setUint32(entry + 8, s.offset, true);
    view.setUint32(entry + 12, s.values.length, true);
    bytes.set(encode(s.values, header.dtype), at);
    at += pad4(s.values.length * size);
  });
  return bytes;
}

/** What a receiver knows to check a frame against. */
export interface FrameExpectation {
  /** This run's hash. */
  runHash: number;
  /** Ranks in the group. */
  size: number;
}

/**
 * Parses and checks a frame: magic, run, sender, op, dtype, section table and bounds. Nothing in
 * the frame is trusted before this passes.
 *
 * @param bytes The message payload (any alignment).
 * @param expect The run's hash and group size.
 * @returns The frame (sections are views of `bytes`), or why it is refused.
 */
export function parseFrame(bytes: Uint8Array, expect: FrameExpectation): Frame | string {
  if (bytes.byteLength < HEADER_BYTES) {
    return `${bytes.byteLength} bytes is shorter than a frame header`;
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (view.getUint32(0, true) !== MAGIC) return "not a phantom-bench frame (bad magic)";
  const hash = view.getUint32(4, true);
  if (hash !== expect.runHash) {
    return `run hash ${hash.toString(16)} is not this run's (${expect.runHash.toString(16)})`;
  }
  const from = view.getUint32(16, true);
  if (from >= expect.size) return `sender ${from} is not a rank of this group of ${expect.size}`;
  const op = OPS[view.getUint8(20)];
  const dtype = DTYPES[view.getUint8(21)];
  if (!op) return `unknown operation code ${view.getUint8(20)}`;
  if (!dtype) return `unknown dtype code ${view.getUint8(21)}`;
  const count = view.getUint16(22, true);
  const size = bytesPerElement(dtype);
  const sections: Section[] = [];
  let at = HEADER_BYTES + SECTION_BYTES * count;
  if (at > bytes.byteLength) return `${count} sections do not fit ${bytes.byteLength} bytes`;
  for (let i = 0; i < count; i++) {
    const entry = HEADER_BYTES + SECTION_BYTES * i;
    const to = view.getUint32(entry, true);
    const elements = view.getUint32(entry + 4, true);
    const offset = view.getUint32(entry + 8, true);
    const n = view.getUint32(entry + 12, true);
    if (to !== EVERY_RANK && to >= expect.size) {
      return `section ${i} is for rank ${to}, not a rank of this group of ${expect.size}`;
    }
    if (offset + n > elements) {
      return `section ${i} runs past its block (${offset} + ${n} > ${elements} elements)`;
    }
    const end = at + n * size;
    if (end > bytes.byteLength) {
      return `section ${i} runs past the frame (${end} > ${bytes.byteLength} bytes)`;
    }
    sections.push({ to, elements, offset, count: n, bytes: bytes.subarray(at, end) });
    at += pad4(n * size);
  }
  return {
    runHash: hash,
    seq: view.getUint32(8, true),
    step: view.getInt32(12, true),
    from,
    op,
    dtype,
    sections,
  };
}

/**
 * Reads just the call number and sender of a frame, to attribute a refused frame to a collective.
 *
 * @param bytes The message payload.
 * @returns The call number and sender, or undefined when the frame is too short or foreign.
 */
export function peekCall(bytes: Uint8Array): { seq: number; from: number } | undefined {
  if (bytes.byteLength < HEADER_BYTES) return undefined;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (view.getUint32(0, true) !== MAGIC) return undefined;
  return { seq: view.getUint32(8, true), from: view.getUint32(16, true) };
}
