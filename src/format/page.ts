// Page geometry and the per-page trailer. Every page ends in an 8-byte trailer the pager
// owns: [u32 page number][u32 CRC-32 of every byte before the CRC]. Recording the page
// number catches a page written to the wrong offset; the CRC catches torn and flipped bytes,
// and an all-zero page (never written) never verifies. Callers above the pager never see it.

import type { Crc32 } from "../vfs/vfs.js";
import { readU32, writeU32 } from "./codec.js";

export const PAGE_SIZE_MIN = 512;
export const PAGE_SIZE_MAX = 65536;
export const PAGE_SIZE_DEFAULT = 4096;
export const PAGE_TRAILER_BYTES = 8;
/** Largest page number: u32 on disk, 0 reserved as the null page. */
export const PAGE_NUMBER_MAX = 0xffff_fffe;

export function isValidPageSize(pageSize: number): boolean {
  return (
    Number.isInteger(pageSize) &&
    pageSize >= PAGE_SIZE_MIN &&
    pageSize <= PAGE_SIZE_MAX &&
    (pageSize & (pageSize - 1)) === 0
  );
}

/** Bytes of a page the layers above may use (the page minus its trailer). */
export function usableSizeOf(pageSize: number): number {
  return pageSize - PAGE_TRAILER_BYTES;
}

/** Byte offset of page `pgno` in the main file (page 1 at offset 0). */
export function pageOffset(pgno: number, pageSize: number): number {
  return (pgno - 1) * pageSize;
}

/** The view the checksum covers: every byte of `page` before the CRC field. */
export function checksummedView(page: Uint8Array): Uint8Array {
  return page.subarray(0, page.length - 4);
}

/**
 * Stamp page number and checksum into the trailer of `page`.
 * `covered` must be checksummedView(page), passed in so that sealing allocates nothing.
 */
export function sealPage(page: Uint8Array, covered: Uint8Array, pgno: number, crc: Crc32): void {
  const end = page.length;
  writeU32(page, end - 8, pgno);
  writeU32(page, end - 4, crc(covered, 0));
}

/**
 * Why `page` does not verify as page `pgno`, or null when it does. The reason is for an
 * error message; building it only happens on the failure path.
 */
export function pageDamage(
  page: Uint8Array,
  covered: Uint8Array,
  pgno: number,
  crc: Crc32,
): string | null {
  const end = page.length;
  const stored = readU32(page, end - 4);
  const computed = crc(covered, 0);
  if (stored !== computed) {
    return `checksum mismatch (stored 0x${hex32(stored)}, computed 0x${hex32(computed)})`;
  }
  const owner = readU32(page, end - 8);
  if (owner !== pgno) return `trailer names page ${owner}: the page was written to the wrong place`;
  return null;
}

/** The CRC stored in a sealed page's trailer. */
export function readTrailerCrc(page: Uint8Array): number {
  return readU32(page, page.length - 4);
}

export function hex32(v: number): string {
  return v.toString(16).padStart(8, "0");
}
