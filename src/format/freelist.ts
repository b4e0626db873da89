// Freelist trunk pages: how the set of free pages is written into the file. A trunk page is
// itself a free page whose usable bytes hold [u32 next trunk][u32 count][count x u32 page].
// Loading trusts nothing: every pointer is range-checked, cycles and duplicates are found,
// counts are bounded by capacity, and the walk is bounded by the page count.

import { PagekvError } from "../errors.js";
import { readU32, writeU32 } from "./codec.js";

const OFF_NEXT = 0;
const OFF_COUNT = 4;
const OFF_ENTRIES = 8;

/** Free page numbers one trunk page can list. */
export function trunkCapacity(usableSize: number): number {
  return Math.floor((usableSize - OFF_ENTRIES) / 4);
}

/** Trunk pages needed to hold `freeCount` free pages (trunks are drawn from those pages). */
export function trunksNeeded(freeCount: number, usableSize: number): number {
  return Math.ceil(freeCount / (trunkCapacity(usableSize) + 1));
}

/** Fill `data` (a page's usable bytes) as a trunk listing `pages[from, from + count)`. */
export function encodeTrunk(
  data: Uint8Array,
  next: number,
  pages: ArrayLike<number>,
  from: number,
  count: number,
): void {
  data.fill(0);
  writeU32(data, OFF_NEXT, next);
  writeU32(data, OFF_COUNT, count);
  for (let i = 0; i < count; i++) writeU32(data, OFF_ENTRIES + 4 * i, pages[from + i]);
}

export interface FreelistSource {
  readonly path: string;
  readonly pageCount: number;
  readonly usableSize: number;
  /** The verified usable bytes of page `pgno` (valid until the next call). */
  readTrunk(pgno: number): Uint8Array;
}

/**
 * Walk the trunk chain from `head` and return every free page (trunks included), in chain
 * order. Throws ERR_CORRUPT naming the page on any inconsistency with the header's count.
 */
export function loadFreelist(src: FreelistSource, head: number, freeCount: number): number[] {
  const { path, pageCount } = src;
  const capacity = trunkCapacity(src.usableSize);
  const seen = new Set<number>();
  const pages: number[] = [];
  const corrupt = (pgno: number, what: string) =>
    new PagekvError("ERR_CORRUPT", `${path}: freelist trunk page ${pgno}: ${what}`, {
      path,
      pgno,
    });
  const claim = (owner: number, pgno: number, role: string) => {
    if (pgno < 2 || pgno > pageCount) {
      throw corrupt(owner, `${role} ${pgno} is outside pages 2..${pageCount}`);
    }
    if (seen.has(pgno)) throw corrupt(owner, `${role} ${pgno} is listed twice (a cycle)`);
    if (pages.length >= freeCount) {
      throw corrupt(owner, `lists more than the header's ${freeCount} free pages`);
    }
    seen.add(pgno);
    pages.push(pgno);
  };
  let trunk = head;
  let owner = 1; // the header points at the first trunk
  // Bounded: every trunk is claimed once, so the walk ends within freeCount trunks.
  while (trunk !== 0) {
    claim(owner, trunk, "trunk pointer");
    const data = src.readTrunk(trunk);
    const count = readU32(data, OFF_COUNT);
    if (count > capacity) {
      throw corrupt(trunk, `count ${count} exceeds capacity ${capacity}`);
    }
    for (let i = 0; i < count; i++) claim(trunk, readU32(data, OFF_ENTRIES + 4 * i), "free page");
    owner = trunk;
    trunk = readU32(data, OFF_NEXT);
  }
  if (pages.length !== freeCount) {
    throw corrupt(owner, `chain holds ${pages.length} pages, header says ${freeCount}`);
  }
  return pages;
}
