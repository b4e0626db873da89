// The write-ahead log's bytes: a 32-byte log header, then frames of (40-byte frame header +
// one whole sealed page image). Every frame verifies on its own: its header names the log
// generation (salts) and its own position, and its CRC covers the header plus the page's
// own trailer CRC, which in turn covers the page. So a frame is recognised after a break,
// and a stale frame from an older generation or another position never passes.

import type { Crc32 } from "../vfs/vfs.js";
import { readU32, readU64, writeU32, writeU64 } from "./codec.js";

export const WAL_HEADER_BYTES = 32;
export const WAL_FRAME_HEADER_BYTES = 40;
export const WAL_MAGIC = 0x504b_5657; // "PKVW"
export const WAL_VERSION = 1;

// Log header offsets: [magic][version][page size][salt 1 = generation][salt 2 = database id]
// [flags][published end][crc of bytes 0..28].
const H_MAGIC = 0;
const H_VERSION = 4;
const H_PAGE_SIZE = 8;
const H_GENERATION = 12;
const H_DATABASE_ID = 16;
const H_FLAGS = 20;
const H_PUBLISHED = 24;
const H_CRC = 28;
/**
 * Flag: the log was retired by a closing writer just before it unlinked it: a reader that
 * still has it open must open the path again (docs/design/readers.md, rule 3). Older
 * versions ignore the field and read an empty log of a generation no frame has.
 */
const FLAG_RETIRED = 1;
/**
 * Flag: readers see only the commits below the published end (docs/design/group-commit.md,
 * "Visibility"): a writer with sync "full" rewrites it after each sync of the log. Older
 * versions read the field as reserved and follow the frames.
 */
const FLAG_PUBLISHED = 2;

// Frame header offsets.
const F_PGNO = 0;
/** Page count after the commit on a transaction's last frame; 0 on every other frame. */
const F_COMMIT = 4;
const F_LSN = 8;
const F_GENERATION = 16;
const F_DATABASE_ID = 20;
const F_INDEX = 24;
/** Frames of this generation already synced when this one was written: durability evidence. */
const F_SYNCED = 28;
const F_CRC = 32;

export interface WalHeader {
  pageSize: number;
  generation: number;
  databaseId: number;
  /** Set only in the header of a log about to be unlinked (FLAG_RETIRED). */
  retired?: boolean;
  /**
   * With FLAG_PUBLISHED: the end (in frames, a commit's end) of what readers may see of this
   * generation; absent: readers follow the frames. Recovery ignores it.
   */
  published?: number;
}

export function walFrameBytes(pageSize: number): number {
  return WAL_FRAME_HEADER_BYTES + pageSize;
}

/** Byte offset of frame `index` (0-based) in the log. */
export function walFrameOffset(index: number, pageSize: number): number {
  return WAL_HEADER_BYTES + index * walFrameBytes(pageSize);
}

export function encodeWalHeader(h: WalHeader, out: Uint8Array, crc: Crc32): void {
  out.fill(0, 0, WAL_HEADER_BYTES);
  writeU32(out, H_MAGIC, WAL_MAGIC);
  writeU32(out, H_VERSION, WAL_VERSION);
  writeU32(out, H_PAGE_SIZE, h.pageSize);
  writeU32(out, H_GENERATION, h.generation);
  writeU32(out, H_DATABASE_ID, h.databaseId);
  const published = h.published !== undefined;
  writeU32(
    out,
    H_FLAGS,
    (h.retired === true ? FLAG_RETIRED : 0) | (published ? FLAG_PUBLISHED : 0),
  );
  writeU32(out, H_PUBLISHED, published ? (h.published as number) : 0);
  writeU32(out, H_CRC, crc(out.subarray(0, H_CRC), 0));
}

/** The log header, or null when the bytes are not a whole, valid pagekv log header. */
export function decodeWalHeader(bytes: Uint8Array, crc: Crc32): WalHeader | null {
  if (bytes.length < WAL_HEADER_BYTES) return null;
  if (readU32(bytes, H_MAGIC) !== WAL_MAGIC || readU32(bytes, H_VERSION) !== WAL_VERSION) {
    return null;
  }
  if (readU32(bytes, H_CRC) !== crc(bytes.subarray(0, H_CRC), 0)) return null;
  const h: WalHeader = {
    pageSize: readU32(bytes, H_PAGE_SIZE),
    generation: readU32(bytes, H_GENERATION),
    databaseId: readU32(bytes, H_DATABASE_ID),
  };
  const flags = readU32(bytes, H_FLAGS);
  if ((flags & FLAG_RETIRED) !== 0) h.retired = true;
  if ((flags & FLAG_PUBLISHED) !== 0) h.published = readU32(bytes, H_PUBLISHED);
  return h;
}

/**
 * The generation a frame header claims, unverified: what a scan tries when the log header
 * that names the generation is damaged (decodeFrameHeader then checks the claim).
 */
export function frameGeneration(header: Uint8Array): number {
  return readU32(header, F_GENERATION);
}

export interface FrameFields {
  pgno: number;
  commit: number;
  lsn: bigint;
  index: number;
  synced: number;
}

/**
 * Write a frame header into `out` (WAL_FRAME_HEADER_BYTES) for a page image whose trailer
 * CRC is `pageCrc` (the last 4 bytes of the sealed page).
 */
export function encodeFrameHeader(
  out: Uint8Array,
  f: FrameFields,
  salt: WalHeader,
  pageCrc: number,
  crc: Crc32,
): void {
  writeU32(out, F_PGNO, f.pgno);
  writeU32(out, F_COMMIT, f.commit);
  writeU64(out, F_LSN, f.lsn);
  writeU32(out, F_GENERATION, salt.generation);
  writeU32(out, F_DATABASE_ID, salt.databaseId);
  writeU32(out, F_INDEX, f.index);
  writeU32(out, F_SYNCED, f.synced);
  writeU32(out, F_CRC, frameCrc(out, pageCrc, crc));
  writeU32(out, F_CRC + 4, 0);
}

function frameCrc(header: Uint8Array, pageCrc: number, crc: Crc32): number {
  // The header bytes before the CRC field, then the page's own CRC: one call over a copy
  // (a native CRC call costs more than copying 32 bytes).
  const covered = FRAME_CRC_INPUT;
  for (let i = 0; i < F_CRC; i++) covered[i] = header[i];
  writeU32(covered, F_CRC, pageCrc);
  return crc(covered, 0);
}

const FRAME_CRC_INPUT = new Uint8Array(F_CRC + 4);

/**
 * Decode the frame header at `header` and check that it belongs to generation `salt` at
 * position `index` with a CRC matching `pageCrc`. Returns false when it does not (a torn,
 * stale or foreign frame); fills `out` when it does. The page itself is verified apart.
 */
export function decodeFrameHeader(
  header: Uint8Array,
  pageCrc: number,
  salt: WalHeader,
  index: number,
  crc: Crc32,
  out: FrameFields,
): boolean {
  if (readU32(header, F_GENERATION) !== salt.generation) return false;
  if (readU32(header, F_DATABASE_ID) !== salt.databaseId) return false;
  if (readU32(header, F_INDEX) !== index) return false;
  if (readU32(header, F_CRC) !== frameCrc(header, pageCrc, crc)) return false;
  out.pgno = readU32(header, F_PGNO);
  out.commit = readU32(header, F_COMMIT);
  out.lsn = readU64(header, F_LSN);
  out.index = index;
  out.synced = readU32(header, F_SYNCED);
  return true;
}
