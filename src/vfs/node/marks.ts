// The bytes of a reader file `<db>-lock.r<pid>.<thread>` (docs/design/readers.md, "The
// files"): its owner record, padded to a fixed length, then READER_SLOTS_MAX mark slots at
// fixed offsets. Encodes and decodes only: it never opens, writes or judges a file.

import * as zlib from "node:zlib";
import { assert, PagekvError } from "../../errors.js";
import { READER_SLOTS_MAX, type ReadMark } from "../vfs.js";

/*
 * LAYOUT (all numbers big-endian):
 *
 *   [0, RECORD_BYTES)                 the record text (owner.ts), then spaces: whitespace
 *                                     is skipped by decodeRecord, so the text reads as is
 *   SLOTS_OFFSET + i * SLOT_BYTES     slot i, for i in [0, READER_SLOTS_MAX):
 *     +0  u32 kind: SLOT_NONE or SLOT_MARK
 *     +4  u32 generation   (0 when none)
 *     +8  u32 bound        (0 when none)
 *     +12 u32 CRC-32 of bytes +0..+12 and of the slot's index (a slot written at the wrong
 *         offset does not verify)
 *
 * Invariants. A slot is always rewritten whole, with one positional write of SLOT_BYTES
 * (lockfile.ts), so a reader of the file sees the old slot, the new one, or a mix whose
 * CRC does not match: "unknown", which holds everything (readers.md, race G). Zero bytes
 * (a hole, a file extended but not yet written) do not verify either: only what was
 * written as none reads as none. The whole file is READER_FILE_BYTES, which is more than
 * LOCK_FILE_BYTES_MAX: an older pagekv writer reads it as garbage, judges the reader by
 * the pid and thread in its name, and backs off, as it must (readers.md, "What a reader
 * is": an older writer and a reader of this version exclude each other).
 */

/** Bytes of the record region at the start of a reader file (the record, padded). */
export const RECORD_BYTES = 256;
/** Bytes of one mark slot. */
export const SLOT_BYTES = 16;
/** Offset of slot 0. */
export const SLOTS_OFFSET = RECORD_BYTES;
/** Bytes of a whole reader file of this version. */
export const READER_FILE_BYTES = SLOTS_OFFSET + READER_SLOTS_MAX * SLOT_BYTES;
/** Largest generation and bound a slot holds (u32). */
export const MARK_FIELD_MAX = 0xffff_ffff;

const SLOT_NONE = 0;
const SLOT_MARK = 1;
const SLOT_CRC_OFFSET = 12;

/** What one slot holds, as the writer reads it (ReaderState.marks). */
export type SlotContent = ReadMark | null | "unknown";

type NativeCrc32 = (data: Uint8Array, value?: number) => number;
// zlib.crc32 is there from Node 20.15 (package.json's floor); looked up as an unknown
// property, as nodefs.ts does, since older typings do not declare it.
const nativeCandidate: unknown = (zlib as unknown as { crc32?: unknown }).crc32;
const nativeCrc32: NativeCrc32 | null =
  typeof nativeCandidate === "function" ? (nativeCandidate as NativeCrc32) : null;

/**
 * CRC-32 (IEEE, as zlib computes it) of `bytes`, continuing from `initial`, bit by bit: the
 * stand-in where zlib.crc32 is missing (Node before 20.15). Slots are 16 bytes, so speed
 * does not matter here, and the vfs layer may not import format/crc32.ts (a layer above).
 */
export function crc32Bitwise(bytes: Uint8Array, initial: number): number {
  let crc = (initial ^ 0xffff_ffff) >>> 0;
  for (const byte of bytes) {
    crc ^= byte;
    for (let k = 0; k < 8; k++) crc = crc & 1 ? (crc >>> 1) ^ 0xedb8_8320 : crc >>> 1;
  }
  return (crc ^ 0xffff_ffff) >>> 0;
}

const crc32: (bytes: Uint8Array, initial: number) => number = nativeCrc32 ?? crc32Bitwise;

/** CRC-32 of a slot's first 12 bytes, continued over its index. */
function slotCrc(slot: Uint8Array, index: number): number {
  const tail = new Uint8Array(4);
  new DataView(tail.buffer).setUint32(0, index);
  return crc32(tail, crc32(slot.subarray(0, SLOT_CRC_OFFSET), 0)) >>> 0;
}

/** Byte offset of slot `index` in a reader file. */
export function slotOffset(index: number): number {
  assert(
    Number.isInteger(index) && index >= 0 && index < READER_SLOTS_MAX,
    `marks: slot ${index} out of range`,
  );
  return SLOTS_OFFSET + index * SLOT_BYTES;
}

function isField(n: unknown): n is number {
  return typeof n === "number" && Number.isInteger(n) && n >= 0 && n <= MARK_FIELD_MAX;
}

/**
 * ERR_ARG unless `mark` is null or a ReadMark of two u32 integers; `what` names the
 * database for the message.
 */
export function checkMark(mark: unknown, what: string): asserts mark is ReadMark | null {
  if (mark === null) return;
  if (typeof mark === "object") {
    const m = mark as { generation?: unknown; bound?: unknown };
    if (isField(m.generation) && isField(m.bound)) return;
  }
  throw new PagekvError(
    "ERR_ARG",
    `NodeFS: setMark on ${what}: a mark is null or { generation, bound }, each an integer ` +
      `in 0..${MARK_FIELD_MAX}`,
  );
}

/** Write slot `index` holding `mark` into `out` (SLOT_BYTES at `at`). */
export function encodeSlot(
  mark: ReadMark | null,
  index: number,
  out: Uint8Array,
  at: number,
): void {
  const slot = out.subarray(at, at + SLOT_BYTES);
  assert(slot.length === SLOT_BYTES, "marks: slot buffer too short");
  const view = new DataView(slot.buffer, slot.byteOffset, SLOT_BYTES);
  view.setUint32(0, mark === null ? SLOT_NONE : SLOT_MARK);
  view.setUint32(4, mark === null ? 0 : mark.generation);
  view.setUint32(8, mark === null ? 0 : mark.bound);
  view.setUint32(SLOT_CRC_OFFSET, slotCrc(slot, index));
}

/** The content of slot `index` from its SLOT_BYTES bytes: "unknown" unless it verifies. */
export function decodeSlot(slot: Uint8Array, index: number): SlotContent {
  if (slot.length < SLOT_BYTES) return "unknown";
  const view = new DataView(slot.buffer, slot.byteOffset, SLOT_BYTES);
  if (view.getUint32(SLOT_CRC_OFFSET) !== slotCrc(slot, index)) return "unknown";
  const kind = view.getUint32(0);
  const generation = view.getUint32(4);
  const bound = view.getUint32(8);
  if (kind === SLOT_NONE) return generation === 0 && bound === 0 ? null : "unknown";
  if (kind === SLOT_MARK) return { generation, bound };
  return "unknown";
}

/**
 * Every slot of a reader file read into `file[0, length)`: one entry per slot, "unknown"
 * for a slot whose bytes are missing (a short file) or do not verify.
 */
export function decodeSlots(file: Uint8Array, length: number): SlotContent[] {
  const marks: SlotContent[] = [];
  for (let i = 0; i < READER_SLOTS_MAX; i++) {
    const at = slotOffset(i);
    marks.push(
      at + SLOT_BYTES > length ? "unknown" : decodeSlot(file.subarray(at, at + SLOT_BYTES), i),
    );
  }
  return marks;
}

/** The text of the record region of a file read into `file[0, length)`. */
export function recordText(file: Uint8Array, length: number): string {
  return new TextDecoder().decode(file.subarray(0, Math.min(length, RECORD_BYTES)));
}

/** A whole new reader file: `record` (one line, at most RECORD_BYTES) padded, every slot none. */
export function readerFileImage(record: string): Uint8Array {
  const image = new Uint8Array(READER_FILE_BYTES);
  const text = new TextEncoder().encode(record);
  assert(text.length <= RECORD_BYTES, `marks: a record of ${text.length} bytes`);
  image.fill(0x20, 0, RECORD_BYTES);
  image.set(text, 0);
  for (let i = 0; i < READER_SLOTS_MAX; i++) encodeSlot(null, i, image, slotOffset(i));
  return image;
}
