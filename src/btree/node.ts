// B+tree node layout: slotted pages read and written in place. A node is a page's usable
// bytes: a 16-byte header, a slot array of u16 cell offsets in key order growing up, and
// cells packed from the end of the page growing down. Nothing here allocates or decodes a
// node into objects: search compares key bytes where they lie.
//
//   header: [u8 kind][u8 0][u16 count][u16 content start][u16 garbage][u32 right][u32 0]
//   leaf cell:     [u16 key length][u16 value length | OVERFLOW_MARK][key][value]
//                  or, for a value in an overflow chain (OVERFLOW_MARK):
//                  [u16 key length][u16 OVERFLOW_MARK][key][u32 first page][u32 value length]
//   interior cell: [u32 child][u16 key length][key]   (child holds keys < key)
//   overflow page: header (kind, right = next page), then payload bytes
//
// Invariants (check() in btree.ts verifies them): slots are in strictly ascending key
// order; content start >= the end of the slot array; `garbage` counts the bytes of dead
// cells inside the content area; a leaf's `right` is its right sibling (0 at the end); an
// interior node's `right` is its rightmost child, which holds keys >= its last key.
//
// A page's checksum proves only that the pager wrote it, not that it holds a node: the
// tree validates what it reads before it reads it (nodeProblem whole once per image read
// in, headerProblem at every later visit, cellProblem before a cell of a node not yet
// checked whole is copied or its value read, nodeProblem for a page about to be written).
// They return null when the bytes are sound, allocating nothing, and a description of the
// damage otherwise. search() reads only nodes checked whole.

import { readU16, readU32, writeU16, writeU32 } from "../format/codec.js";

export const KIND_LEAF = 1;
export const KIND_INTERIOR = 2;
export const KIND_OVERFLOW = 3;
export const NODE_HEADER_BYTES = 16;
/**
 * Added to the value length in the word leafValueWord() returns when the value lives in
 * an overflow chain (on the page, the cell's u16 value field then holds OVERFLOW_MARK).
 */
export const OVERFLOW_FLAG = 0x8000_0000;
/** The u16 value field of a leaf cell whose value is in an overflow chain. */
export const OVERFLOW_MARK = 0xffff;
/** An overflow cell's body after the key: u32 first page, u32 value length. */
export const OVERFLOW_REF_BYTES = 8;
export const LEAF_CELL_HEADER_BYTES = 4;
export const INTERIOR_CELL_HEADER_BYTES = 6;

const OFF_KIND = 0;
const OFF_COUNT = 2;
const OFF_CONTENT = 4;
const OFF_GARBAGE = 6;
const OFF_RIGHT = 8;

export function kind(d: Uint8Array): number {
  return d[OFF_KIND];
}

export function count(d: Uint8Array): number {
  return readU16(d, OFF_COUNT);
}

export function right(d: Uint8Array): number {
  return readU32(d, OFF_RIGHT);
}

export function setRight(d: Uint8Array, pgno: number): void {
  writeU32(d, OFF_RIGHT, pgno);
}

export function initNode(d: Uint8Array, k: number): void {
  d.fill(0, 0, NODE_HEADER_BYTES);
  d[OFF_KIND] = k;
  writeU16(d, OFF_CONTENT, d.length); // usable bytes are at most 65528: a u16
}

function contentStart(d: Uint8Array): number {
  return readU16(d, OFF_CONTENT);
}

/** Largest leaf cell kept inline in a page of `usable` bytes: four such cells always fit. */
export function inlineCellMaxOf(usable: number): number {
  return Math.floor((usable - NODE_HEADER_BYTES) / 4) - 2;
}

// ---- validation ----

function kindName(k: number): string {
  return k === KIND_LEAF
    ? "leaf"
    : k === KIND_INTERIOR
      ? "interior"
      : k === KIND_OVERFLOW
        ? "overflow"
        : "unknown";
}

/**
 * The header's damage, or null: the kind is a tree node's (`expect`, or either kind when 0),
 * the slot array ends at or before the content start, which is inside the page, and the
 * garbage fits in the content area.
 */
export function headerProblem(d: Uint8Array, expect: number): string | null {
  const k = d[OFF_KIND];
  if ((k !== KIND_LEAF && k !== KIND_INTERIOR) || (expect !== 0 && k !== expect)) {
    const want = expect === 0 ? "a leaf or interior node" : `a ${kindName(expect)} node`;
    return `kind ${k} (${kindName(k)}), expected ${want}`;
  }
  const n = readU16(d, OFF_COUNT);
  const start = readU16(d, OFF_CONTENT);
  const slotsEnd = NODE_HEADER_BYTES + 2 * n;
  if (slotsEnd > start || start > d.length) {
    return (
      `${kindName(k)} header is inconsistent: ${n} slots end at ${slotsEnd}, ` +
      `content starts at ${start}, the page has ${d.length} bytes`
    );
  }
  const garbage = readU16(d, OFF_GARBAGE);
  if (garbage > d.length - start) {
    return `${kindName(k)} header counts ${garbage} bytes of garbage in a content area of ${d.length - start}`;
  }
  return null;
}

/**
 * For a page whose header is sound: the damage of cell `i`, or null. The cell must lie in
 * the content area, with a key of at most `keyMax` bytes and, in a leaf, an inline cell of
 * at most inlineCellMaxOf() bytes: what put() writes, and what splits and merges assume
 * (a larger cell could make the half of a split bigger than a page).
 */
export function cellProblem(d: Uint8Array, i: number, keyMax: number): string | null {
  const off = readU16(d, NODE_HEADER_BYTES + 2 * i);
  const start = readU16(d, OFF_CONTENT);
  const leaf = d[OFF_KIND] === KIND_LEAF;
  const what = leaf ? "leaf" : "interior";
  if (off < start)
    return `${what} cell ${i} at offset ${off} is outside the content area (${start}..${d.length})`;
  const head = leaf ? LEAF_CELL_HEADER_BYTES : INTERIOR_CELL_HEADER_BYTES;
  const bytes = off + head > d.length ? head : cellBytes(d, off);
  if (off + bytes > d.length) {
    return `${what} cell ${i} extends past the page (offset ${off} + ${bytes} > ${d.length})`;
  }
  const keyLength = readU16(d, leaf ? off : off + 4);
  if (keyLength > keyMax) {
    return `${what} cell ${i} has a key of ${keyLength} bytes, larger than the maximum ${keyMax}`;
  }
  if (leaf && readU16(d, off + 2) !== OVERFLOW_MARK && bytes > inlineCellMaxOf(d.length)) {
    return (
      `leaf cell ${i} holds ${bytes} bytes inline, larger than the ` +
      `${inlineCellMaxOf(d.length)} a leaf keeps inline`
    );
  }
  return null;
}

/**
 * The damage of a whole node, or null: its header, every cell (see cellProblem), and
 * cells plus garbage no more than the content area. Checked on each page the tree is
 * about to change, so that compaction and the copying of cells stay inside the page.
 */
export function nodeProblem(d: Uint8Array, expect: number, keyMax: number): string | null {
  const header = headerProblem(d, expect);
  if (header !== null) return header;
  const n = count(d);
  let sum = 0;
  for (let i = 0; i < n; i++) {
    const cell = cellProblem(d, i, keyMax);
    if (cell !== null) return cell;
    sum += cellBytes(d, cellAt(d, i));
  }
  const area = d.length - contentStart(d);
  const garbage = readU16(d, OFF_GARBAGE);
  if (sum + garbage > area) {
    return `${kindName(kind(d))} cells (${sum} bytes) and garbage (${garbage}) exceed the content area (${area})`;
  }
  return null;
}

/**
 * nodeProblem(d, expect, keyMax) === null, in one pass that builds no message: the check
 * of every page read in (Cursor.checkNode), where nodeProblem, called only when this
 * says false, describes the damage. The same conditions, in the same terms.
 */
export function nodeSound(d: Uint8Array, expect: number, keyMax: number): boolean {
  const k = d[OFF_KIND];
  if ((k !== KIND_LEAF && k !== KIND_INTERIOR) || (expect !== 0 && k !== expect)) return false;
  const end = d.length;
  const n = readU16(d, OFF_COUNT);
  const start = readU16(d, OFF_CONTENT);
  if (NODE_HEADER_BYTES + 2 * n > start || start > end) return false;
  const garbage = readU16(d, OFF_GARBAGE);
  if (garbage > end - start) return false;
  let sum = 0;
  if (k === KIND_LEAF) {
    const inlineMax = inlineCellMaxOf(end);
    for (let i = 0; i < n; i++) {
      const off = readU16(d, NODE_HEADER_BYTES + 2 * i);
      if (off < start || off + LEAF_CELL_HEADER_BYTES > end) return false;
      const keyLength = readU16(d, off);
      const v = readU16(d, off + 2);
      const bytes =
        LEAF_CELL_HEADER_BYTES + keyLength + (v === OVERFLOW_MARK ? OVERFLOW_REF_BYTES : v);
      if (off + bytes > end || keyLength > keyMax) return false;
      if (v !== OVERFLOW_MARK && bytes > inlineMax) return false;
      sum += bytes;
    }
  } else {
    for (let i = 0; i < n; i++) {
      const off = readU16(d, NODE_HEADER_BYTES + 2 * i);
      if (off < start || off + INTERIOR_CELL_HEADER_BYTES > end) return false;
      const keyLength = readU16(d, off + 4);
      const bytes = INTERIOR_CELL_HEADER_BYTES + keyLength;
      if (off + bytes > end || keyLength > keyMax) return false;
      sum += bytes;
    }
  }
  return sum + garbage <= end - start;
}

/**
 * Every problem of a node's layout, for check(): the header, each cell's bounds, cells
 * that overlap, and the content area's accounting (cells + garbage = content area).
 */
export function layoutProblems(d: Uint8Array, keyMax: number): string[] {
  const header = headerProblem(d, 0);
  if (header !== null) return [header];
  const problems: string[] = [];
  const n = count(d);
  const spans: [number, number][] = [];
  for (let i = 0; i < n; i++) {
    const cell = cellProblem(d, i, keyMax);
    if (cell !== null) problems.push(cell);
    else spans.push([cellAt(d, i), cellBytes(d, cellAt(d, i))]);
  }
  if (problems.length > 0) return problems;
  spans.sort((a, b) => a[0] - b[0]);
  let sum = 0;
  for (let i = 0; i < spans.length; i++) {
    sum += spans[i][1];
    if (i > 0 && spans[i - 1][0] + spans[i - 1][1] > spans[i][0]) {
      problems.push(`cells at offsets ${spans[i - 1][0]} and ${spans[i][0]} overlap`);
    }
  }
  const area = d.length - contentStart(d);
  const garbage = readU16(d, OFF_GARBAGE);
  if (sum + garbage !== area) {
    problems.push(
      `cells (${sum} bytes) and garbage (${garbage}) do not add up to the content area (${area})`,
    );
  }
  return problems;
}

/** Offset of cell `i`. */
export function cellAt(d: Uint8Array, i: number): number {
  return readU16(d, NODE_HEADER_BYTES + 2 * i);
}

// ---- cells ----

export function leafKeyOffset(off: number): number {
  return off + LEAF_CELL_HEADER_BYTES;
}

/**
 * The value-length word: the inline value's length, or OVERFLOW_FLAG plus the length of a
 * value in an overflow chain (whose first page is the u32 at leafValueOffset()).
 */
export function leafValueWord(d: Uint8Array, off: number): number {
  const v = readU16(d, off + 2);
  if (v !== OVERFLOW_MARK) return v;
  return OVERFLOW_FLAG + readU32(d, leafValueOffset(d, off) + 4);
}

/** Where the value starts (for an overflow cell: its first page, then its length). */
export function leafValueOffset(d: Uint8Array, off: number): number {
  return off + LEAF_CELL_HEADER_BYTES + readU16(d, off);
}

export function leafCellBytes(d: Uint8Array, off: number): number {
  const v = readU16(d, off + 2);
  const stored = v === OVERFLOW_MARK ? OVERFLOW_REF_BYTES : v;
  return LEAF_CELL_HEADER_BYTES + readU16(d, off) + stored;
}

export function interiorChild(d: Uint8Array, off: number): number {
  return readU32(d, off);
}

export function interiorKeyLength(d: Uint8Array, off: number): number {
  return readU16(d, off + 4);
}

export function interiorKeyOffset(off: number): number {
  return off + INTERIOR_CELL_HEADER_BYTES;
}

export function interiorCellBytes(d: Uint8Array, off: number): number {
  return INTERIOR_CELL_HEADER_BYTES + readU16(d, off + 4);
}

export function cellBytes(d: Uint8Array, off: number): number {
  return kind(d) === KIND_LEAF ? leafCellBytes(d, off) : interiorCellBytes(d, off);
}

/** Key offset and length of cell `i`, for either kind. */
export function keyOffsetAt(d: Uint8Array, i: number): number {
  const off = cellAt(d, i);
  return off + (kind(d) === KIND_LEAF ? LEAF_CELL_HEADER_BYTES : INTERIOR_CELL_HEADER_BYTES);
}

export function keyLengthAt(d: Uint8Array, i: number): number {
  const off = cellAt(d, i);
  return kind(d) === KIND_LEAF ? readU16(d, off) : readU16(d, off + 4);
}

/** The child pointer at position `i` of an interior node: cell i's child, or `right`. */
export function childAt(d: Uint8Array, i: number): number {
  return i === count(d) ? right(d) : readU32(d, cellAt(d, i));
}

export function setChildAt(d: Uint8Array, i: number, child: number): void {
  if (i === count(d)) setRight(d, child);
  else writeU32(d, cellAt(d, i), child);
}

// ---- comparison and search ----

/** Unsigned byte comparison of key[0..keyLen) with d[off..off+len). Allocates nothing. */
export function compareKey(
  key: Uint8Array,
  keyLen: number,
  d: Uint8Array,
  off: number,
  len: number,
): number {
  const n = Math.min(keyLen, len);
  for (let i = 0; i < n; i++) {
    const diff = key[i] - d[off + i];
    if (diff !== 0) return diff;
  }
  return keyLen - len;
}

/**
 * Bytes every key of the node shares at its start: the common prefix of its first and last
 * keys, which bounds every key between them (0 with fewer than two cells). The node must
 * be checked whole (nodeProblem). search() skips these bytes in all but one comparison.
 */
export function commonPrefix(d: Uint8Array): number {
  const n = count(d);
  if (n < 2) return 0;
  const leaf = kind(d) === KIND_LEAF;
  const head = leaf ? LEAF_CELL_HEADER_BYTES : INTERIOR_CELL_HEADER_BYTES;
  const lengthAt = leaf ? 0 : 4;
  const a = cellAt(d, 0);
  const b = cellAt(d, n - 1);
  const m = Math.min(readU16(d, a + lengthAt), readU16(d, b + lengthAt));
  const ka = a + head;
  const kb = b + head;
  let i = 0;
  while (i < m && d[ka + i] === d[kb + i]) i++;
  return i;
}

/**
 * Leaf: index of the first cell whose key is >= `key`; interior: index of the child
 * pointer to follow (first cell whose key is > `key`, or count for the rightmost).
 * `exact` (leaf only) is set when the cell at the index equals the key. The node must be
 * checked whole (nodeProblem: every slot points at a cell inside the page), and `prefix`
 * must be its commonPrefix() (or less): the key is compared with those bytes once, against
 * the first key, and every probe compares only the bytes after them. Allocates nothing.
 */
export function search(
  d: Uint8Array,
  key: Uint8Array,
  keyLen: number,
  prefix: number,
  out: SearchResult,
): void {
  const leaf = kind(d) === KIND_LEAF;
  const head = leaf ? LEAF_CELL_HEADER_BYTES : INTERIOR_CELL_HEADER_BYTES;
  const lengthAt = leaf ? 0 : 4;
  const n = count(d);
  out.exact = false;
  out.shared = prefix;
  if (prefix > 0) {
    // Every key starts with the first key's `prefix` bytes: a key that does not sorts
    // before all of them or after all of them (a proper prefix of them sorts before).
    const first = cellAt(d, 0) + head;
    const m = Math.min(keyLen, prefix);
    for (let i = 0; i < m; i++) {
      const diff = key[i] - d[first + i];
      if (diff !== 0) {
        out.index = diff < 0 ? 0 : n;
        out.shared = i;
        return;
      }
    }
    if (keyLen < prefix) {
      out.index = 0;
      out.shared = keyLen;
      return;
    }
  }
  let lo = 0;
  let hi = n;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    const off = cellAt(d, mid);
    const len = readU16(d, off + lengthAt);
    const k = off + head;
    const m = Math.min(keyLen, len);
    let c = keyLen - len;
    for (let i = prefix; i < m; i++) {
      const diff = key[i] - d[k + i];
      if (diff !== 0) {
        c = diff;
        break;
      }
    }
    if (leaf) {
      if (c === 0) {
        out.index = mid;
        out.exact = true;
        return;
      }
      if (c > 0) lo = mid + 1;
      else hi = mid;
    } else if (c >= 0) {
      lo = mid + 1; // equal keys live in the right subtree
    } else {
      hi = mid;
    }
  }
  out.index = lo;
}

export interface SearchResult {
  index: number;
  exact: boolean;
  /**
   * Leading bytes of the key the node's keys all share (at most the prefix given): with
   * the key inserted, the node's keys still share that many (see Cursor.keepPrefix).
   */
  shared: number;
}

// ---- space ----

/** Bytes a new cell of `cellBytes` needs, slot included. */
export function spaceNeeded(bytes: number): number {
  return bytes + 2;
}

/** Free bytes, counting dead cells that compaction would reclaim. */
export function freeBytes(d: Uint8Array): number {
  return contentStart(d) - (NODE_HEADER_BYTES + 2 * count(d)) + readU16(d, OFF_GARBAGE);
}

/** Bytes used by cells and slots. */
export function usedBytes(d: Uint8Array): number {
  return d.length - NODE_HEADER_BYTES - freeBytes(d);
}

/**
 * Reserve `bytes` for a new cell whose slot goes at index `i`; returns the cell's offset.
 * The caller has checked freeBytes(d) >= spaceNeeded(bytes). Compacts through `scratch`
 * (a buffer at least d.length long) when the gap alone is too small.
 */
export function insertCell(d: Uint8Array, i: number, bytes: number, scratch: Uint8Array): number {
  const n = count(d);
  let start = contentStart(d);
  if (start - (NODE_HEADER_BYTES + 2 * n) < bytes + 2) {
    compact(d, scratch);
    start = contentStart(d);
  }
  const off = start - bytes;
  writeU16(d, OFF_CONTENT, off);
  const slots = NODE_HEADER_BYTES;
  d.copyWithin(slots + 2 * (i + 1), slots + 2 * i, slots + 2 * n);
  writeU16(d, slots + 2 * i, off);
  writeU16(d, OFF_COUNT, n + 1);
  return off;
}

/** Remove cell `i`; its bytes become garbage until the next compaction. */
export function removeCell(d: Uint8Array, i: number): void {
  const n = count(d);
  const off = cellAt(d, i);
  writeU16(d, OFF_GARBAGE, readU16(d, OFF_GARBAGE) + cellBytes(d, off));
  const slots = NODE_HEADER_BYTES;
  d.copyWithin(slots + 2 * i, slots + 2 * (i + 1), slots + 2 * n);
  writeU16(d, OFF_COUNT, n - 1);
  if (n === 1) {
    writeU16(d, OFF_GARBAGE, 0);
    writeU16(d, OFF_CONTENT, d.length);
  }
}

/** Rewrite the content area without dead cells. */
export function compact(d: Uint8Array, scratch: Uint8Array): void {
  const n = count(d);
  if (n <= COMPACT_IN_PLACE_CELLS_MAX && compactInPlace(d, n)) return;
  let end = d.length;
  for (let i = 0; i < n; i++) {
    const off = cellAt(d, i);
    const bytes = cellBytes(d, off);
    end -= bytes;
    scratch.set(d.subarray(off, off + bytes), end);
    writeU16(d, NODE_HEADER_BYTES + 2 * i, end);
  }
  d.set(scratch.subarray(end, d.length), end);
  writeU16(d, OFF_CONTENT, end);
  writeU16(d, OFF_GARBAGE, 0);
}

/** Append a copy of cell `off` of `src` (same kind) as the last cell of `d`. */
export function appendCellFrom(
  d: Uint8Array,
  src: Uint8Array,
  off: number,
  scratch: Uint8Array,
): void {
  const bytes = cellBytes(src, off);
  const at = insertCell(d, count(d), bytes, scratch);
  d.set(src.subarray(off, off + bytes), at);
}

/** Cells compact() moves in place (an insertion sort of their offsets); more go through scratch. */
const COMPACT_IN_PLACE_CELLS_MAX = 128;
/** compactInPlace's cells, (offset << 16 | slot), sorted by offset (allocated once). */
const compactOrder = new Uint32Array(COMPACT_IN_PLACE_CELLS_MAX);

/**
 * compact() for a node of at most COMPACT_IN_PLACE_CELLS_MAX cells, allocating nothing: the
 * cells are packed against the page's end in the order of their offsets, highest first, so
 * each moves only up (copyWithin) over dead bytes or its own, never over a cell not yet
 * moved. The cells' order in the content area may then differ from slot order (nothing
 * depends on it). Returns false, changing nothing, when two cells overlap (damage that
 * nodeProblem does not look for, check() does): then the copy through scratch is safe.
 */
function compactInPlace(d: Uint8Array, n: number): boolean {
  const order = compactOrder;
  for (let i = 0; i < n; i++) {
    const v = ((cellAt(d, i) << 16) | i) >>> 0;
    let j = i;
    for (; j > 0 && order[j - 1] < v; j--) order[j] = order[j - 1];
    order[j] = v;
  }
  for (let k = 0, above = d.length; k < n; k++) {
    const off = order[k] >>> 16;
    if (off + cellBytes(d, off) > above) return false;
    above = off;
  }
  let end = d.length;
  for (let k = 0; k < n; k++) {
    const off = order[k] >>> 16;
    const bytes = cellBytes(d, off);
    end -= bytes;
    if (end !== off) d.copyWithin(end, off, off + bytes);
    writeU16(d, NODE_HEADER_BYTES + 2 * (order[k] & 0xffff), end);
  }
  writeU16(d, OFF_CONTENT, end);
  writeU16(d, OFF_GARBAGE, 0);
  return true;
}
