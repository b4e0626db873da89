// The database header: the first 128 bytes of page 1. It names the file as pagekv's, fixes
// the page size, and records what the pager needs to reopen: page count, freelist head and
// size, checkpoint LSN, and 8 application slots for the layers above. Decoding validates
// every field and throws ERR_CORRUPT; it never returns a header it does not believe.

import { PagekvError } from "../errors.js";
import type { Crc32 } from "../vfs/vfs.js";
import { readU32, readU64, writeU32, writeU64 } from "./codec.js";
import { hex32, isValidPageSize, PAGE_NUMBER_MAX } from "./page.js";

export const HEADER_BYTES = 128;
/**
 * The version every header is written with. 3: the application id (what kind of file it
 * is). 2 (leaf cells with a 4-byte header) is still read, as application id 0 with
 * `legacy` set, and written as 3 at its next checkpoint. 1 (6-byte cell headers) and any
 * other version do not open.
 */
export const FORMAT_VERSION = 3;
/** The oldest version read. */
export const FORMAT_VERSION_MIN = 2;
/** Application id of a file that has none: the bare Pager's, unless its creator set one. */
export const APPLICATION_ID_NONE = 0;
export const APP_SLOTS = 8;
/** "pagekv" then 0x00 0x1a: stops `cat` and text tools early, like PNG's signature. */
export const MAGIC = Uint8Array.of(0x70, 0x61, 0x67, 0x65, 0x6b, 0x76, 0x00, 0x1a);

// Field offsets. Bytes 80..123 are reserved and written as zeros.
const OFF_VERSION = 8;
const OFF_PAGE_SIZE = 12;
const OFF_CHANGE_COUNTER = 16;
const OFF_PAGE_COUNT = 20;
const OFF_FREE_TRUNK = 24;
const OFF_FREE_COUNT = 28;
const OFF_CHECKPOINT_LSN = 32;
const OFF_SLOTS = 40;
const OFF_DATABASE_ID = 72;
const OFF_APPLICATION_ID = 76;
const OFF_CRC = 124;

export interface Header {
  pageSize: number;
  /** Incremented by every checkpoint that writes the header. */
  changeCounter: number;
  /** High-water mark of allocated pages, page 1 included. */
  pageCount: number;
  /** First freelist trunk page, 0 when the freelist is empty. */
  freeTrunk: number;
  /** Pages on the freelist, trunk pages included. */
  freeCount: number;
  checkpointLsn: bigint;
  slots: Uint32Array;
  /** Random at create: a log whose database id differs belongs to another database. */
  databaseId: number;
  /**
   * What kind of file this is, set by its creator (the key/value database has its own):
   * a layer refuses files of another kind. APPLICATION_ID_NONE for the bare Pager's.
   */
  applicationId: number;
  /** Read from a version-2 file, which has no application id (it reads as none). */
  legacy: boolean;
}

export function newHeader(
  pageSize: number,
  databaseId: number,
  applicationId = APPLICATION_ID_NONE,
): Header {
  return {
    pageSize,
    changeCounter: 0,
    pageCount: 1,
    freeTrunk: 0,
    freeCount: 0,
    checkpointLsn: 0n,
    slots: new Uint32Array(APP_SLOTS),
    databaseId,
    applicationId,
    legacy: false,
  };
}

/** Write `h` into the first HEADER_BYTES of `page` (the rest of the page is untouched). */
export function encodeHeader(h: Header, page: Uint8Array, crc: Crc32): void {
  page.fill(0, 0, HEADER_BYTES);
  page.set(MAGIC, 0);
  writeU32(page, OFF_VERSION, FORMAT_VERSION);
  writeU32(page, OFF_PAGE_SIZE, h.pageSize);
  writeU32(page, OFF_CHANGE_COUNTER, h.changeCounter);
  writeU32(page, OFF_PAGE_COUNT, h.pageCount);
  writeU32(page, OFF_FREE_TRUNK, h.freeTrunk);
  writeU32(page, OFF_FREE_COUNT, h.freeCount);
  writeU64(page, OFF_CHECKPOINT_LSN, h.checkpointLsn);
  for (let i = 0; i < APP_SLOTS; i++) writeU32(page, OFF_SLOTS + 4 * i, h.slots[i]);
  writeU32(page, OFF_DATABASE_ID, h.databaseId);
  writeU32(page, OFF_APPLICATION_ID, h.applicationId);
  writeU32(page, OFF_CRC, crc(page.subarray(0, OFF_CRC), 0));
}

/** True when `bytes` starts with the pagekv magic. */
export function hasMagic(bytes: Uint8Array): boolean {
  if (bytes.length < MAGIC.length) return false;
  for (let i = 0; i < MAGIC.length; i++) if (bytes[i] !== MAGIC[i]) return false;
  return true;
}

/** Decode and validate the header at the start of `bytes` (at least HEADER_BYTES long). */
export function decodeHeader(bytes: Uint8Array, crc: Crc32, path: string): Header {
  const corrupt = (what: string) =>
    new PagekvError("ERR_CORRUPT", `${path}: page 1 header: ${what}`, { path, pgno: 1 });
  if (bytes.length < HEADER_BYTES || !hasMagic(bytes)) {
    return fail(corrupt("not a pagekv file (magic bytes missing)"));
  }
  const stored = readU32(bytes, OFF_CRC);
  const computed = crc(bytes.subarray(0, OFF_CRC), 0);
  if (stored !== computed) {
    return fail(
      corrupt(
        `checksum mismatch (stored 0x${hex32(stored)}, computed 0x${hex32(computed)}): ` +
          "the header is torn or damaged",
      ),
    );
  }
  const version = readU32(bytes, OFF_VERSION);
  if (version < FORMAT_VERSION_MIN || version > FORMAT_VERSION) {
    return fail(
      corrupt(
        `format version ${version} is not supported (this pagekv reads versions ` +
          `${FORMAT_VERSION_MIN}..${FORMAT_VERSION})`,
      ),
    );
  }
  const legacy = version < 3;
  const h: Header = {
    pageSize: readU32(bytes, OFF_PAGE_SIZE),
    changeCounter: readU32(bytes, OFF_CHANGE_COUNTER),
    pageCount: readU32(bytes, OFF_PAGE_COUNT),
    freeTrunk: readU32(bytes, OFF_FREE_TRUNK),
    freeCount: readU32(bytes, OFF_FREE_COUNT),
    checkpointLsn: readU64(bytes, OFF_CHECKPOINT_LSN),
    slots: new Uint32Array(APP_SLOTS),
    databaseId: readU32(bytes, OFF_DATABASE_ID),
    applicationId: legacy ? APPLICATION_ID_NONE : readU32(bytes, OFF_APPLICATION_ID),
    legacy,
  };
  for (let i = 0; i < APP_SLOTS; i++) h.slots[i] = readU32(bytes, OFF_SLOTS + 4 * i);
  if (!isValidPageSize(h.pageSize)) {
    return fail(corrupt(`page size ${h.pageSize} is not a power of two in 512..65536`));
  }
  if (h.pageCount < 1 || h.pageCount > PAGE_NUMBER_MAX) {
    return fail(corrupt(`page count ${h.pageCount} is out of range`));
  }
  if (h.freeCount >= h.pageCount) {
    return fail(corrupt(`free count ${h.freeCount} is not below page count ${h.pageCount}`));
  }
  if ((h.freeTrunk === 0) !== (h.freeCount === 0)) {
    return fail(corrupt(`freelist head ${h.freeTrunk} disagrees with free count ${h.freeCount}`));
  }
  if (h.freeTrunk === 1 || h.freeTrunk > h.pageCount) {
    return fail(corrupt(`freelist head ${h.freeTrunk} is outside pages 2..${h.pageCount}`));
  }
  return h;
}

function fail(e: PagekvError): never {
  throw e;
}
