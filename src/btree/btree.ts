// The ordered key/value core: a B+tree of slotted pages (node.ts) built only on the pager's
// contract: get/unpin, allocate/free and the header's application slot for its root. It
// never touches the VFS and never begins or ends a transaction: its caller does. Reads go
// through a page source (the live pager by default, or a view such as a snapshot) by a
// cursor (cursor.ts), which owns a path and a place; writes go only through the pager.
//
// Invariants (check() verifies them):
//   - keys are unique and strictly ascending within a node and across the leaf chain;
//   - every key in an interior cell's child is < the cell's key and >= the previous
//     cell's key; the rightmost child holds keys >= the last cell's key;
//   - all leaves are at the same depth; the leaf chain visits every leaf in key order;
//   - every page is accounted for exactly once: page 1, the tree, overflow chains, free;
//   - an operation pins at most 4 frames at once (a leaf, its parent, a sibling and a new
//     page), so a pool of BTREE_CACHE_FRAMES_MIN frames never runs out mid-way.
//
// Damage: a page can pass the pager's checksum and still not be the node the tree expects
// (a foreign writer, a bug). Every page is validated where an operation first uses it
// (readNode: the header; search: each probed slot; cellProblem: a cell before it is copied
// or its value read; writeNode: the whole node before it changes), every page number read
// from a page is checked to lie in 2..pageCount before it is followed, chain walks are
// bounded by the page count and a range's keys must strictly ascend (or descend): so a bad
// page is ERR_CORRUPT naming the file and page, never a RangeError, a wrong-kind read or a
// loop, and the caller's transaction rolls back whatever the operation had changed. The
// page count and the root are those of the view the operation reads.
//
// Cursors: the tree keeps one for its own operations (writes and point reads, so that a
// get or put allocates nothing), and each entries() iterator owns one while it runs, taken
// once per range from the cursors of ranges that ended (a new one when there is none).

import { assert, PagekvError } from "../errors.js";
import { readU16, readU32, writeU16, writeU32 } from "../format/codec.js";
import type { PageSource } from "../pager/page-source.js";
import type { Frame, Pager } from "../pager/pager.js";
import { Cursor, TREE_DEPTH_MAX, VALUE_BYTES_MAX } from "./cursor.js";
import {
  appendCellFrom,
  cellAt,
  cellBytes,
  childAt,
  compareKey,
  count,
  freeBytes,
  INTERIOR_CELL_HEADER_BYTES,
  initNode,
  inlineCellMaxOf,
  insertCell,
  interiorCellBytes,
  interiorChild,
  KIND_INTERIOR,
  KIND_LEAF,
  KIND_OVERFLOW,
  keyLengthAt,
  keyOffsetAt,
  kind,
  LEAF_CELL_HEADER_BYTES,
  layoutProblems,
  leafCellBytes,
  leafValueOffset,
  leafValueWord,
  NODE_HEADER_BYTES,
  OVERFLOW_FLAG,
  OVERFLOW_MARK,
  OVERFLOW_REF_BYTES,
  removeCell,
  right,
  setChildAt,
  setRight,
  spaceNeeded,
  usedBytes,
} from "./node.js";
import { type RangeTree, TreeRange } from "./tree-range.js";

export { TREE_DEPTH_MAX, VALUE_BYTES_MAX };

/** Frames the tree needs to be sure never to find the pool fully pinned. */
export const BTREE_CACHE_FRAMES_MIN = 8;
/** A node is merged with a sibling when its cells fill less than this share of it. */
const UNDERFULL_SHARE = 0.25;
/**
 * A full leaf shares its cells with a sibling that has at least this share of a page free
 * (and room for the new cell). Measured, 1,000,000 random 16+100-byte entries: file 1.25x
 * the raw bytes at 1/16, 1.234x at 1/32 and at 0, in about the same time.
 */
const SHARE_FREE_SHARE = 1 / 32;
/** Which sibling a full leaf tries first: the left, then the right. */
const SIDES = [-1, 1] as const;
/** Cursors of ended ranges the tree keeps for reuse (ranges open at once need no more). */
const SPARE_CURSORS_MAX = 4;

export interface EntriesOptions {
  gt?: Uint8Array;
  gte?: Uint8Array;
  lt?: Uint8Array;
  lte?: Uint8Array;
  reverse?: boolean;
  /** Entries at most (default: no limit). */
  limit?: number;
  /** Called after each entry is consumed, before the next: may throw to end the range. */
  guard?: () => void;
  /**
   * The view to read (default: the live pager, this tree's own writes included; the
   * iterator then finds its place again after any change the tree makes, and so it does
   * when the tree's own pager is given). Any other source is a fixed view (a snapshot):
   * the iterator finds its place once, whatever this tree does.
   */
  source?: PageSource;
}

/** Where one side of a cell list comes from while a node is rebuilt. */
interface CellRef {
  src: Uint8Array;
  off: number;
}

export class BTree implements RangeTree {
  /** Longest key: pageSize / 16 (32 at 512-byte pages, 256 at 4 KiB). */
  readonly keyBytesMax: number;
  readonly valueBytesMax = VALUE_BYTES_MAX;
  /** Bumped by every change, so iterators know to find their place again. */
  version = 0;
  private readonly pager: Pager;
  private readonly rootSlot: number;
  private readonly usable: number;
  /** Largest leaf cell kept inline: four cells always fit in a leaf. */
  private readonly inlineCellMax: number;
  private readonly overflowPayload: number;
  private readonly scratch: Uint8Array;
  private readonly copy: Uint8Array;
  /** The deal in progress (see deal()): its two leaves and where the new cell goes. */
  private dealL: Uint8Array = EMPTY;
  private dealR: Uint8Array = EMPTY;
  private dealNewLeft = -1;
  private dealNewRight = -1;
  private dealLeftItems = 0;
  private dealCellLen = 0;
  private readonly cuts = new Int32Array(4);
  /** The page a three-way deal made, the page it follows, and its separator. */
  private readonly third = { key: EMPTY, pgno: 0, after: 0 };
  private readonly cell: Uint8Array;
  /**
   * The cursor of the tree's own operations: its path is the one a write changes, and its
   * source is set at the start of each operation (the pager, or a read's source).
   */
  private readonly cur: Cursor;
  /** Cursors of ranges that ended, for the next ranges (at most SPARE_CURSORS_MAX). */
  private readonly spareCursors: Cursor[] = [];

  /** The tree whose root is application slot `rootSlot` of `pager`'s header. */
  constructor(pager: Pager, rootSlot = 0) {
    this.pager = pager;
    this.rootSlot = rootSlot;
    this.usable = pager.usableSize;
    this.keyBytesMax = pager.pageSize / 16;
    this.inlineCellMax = inlineCellMaxOf(this.usable);
    this.overflowPayload = this.usable - NODE_HEADER_BYTES;
    this.scratch = new Uint8Array(this.usable);
    this.copy = new Uint8Array(this.usable);
    this.cell = new Uint8Array(this.inlineCellMax);
    this.cur = new Cursor(pager, rootSlot, this.keyBytesMax, pager);
  }

  // ---- reads ----

  /**
   * The value stored under `key` (a copy the caller owns), or undefined: in `source` when
   * given, else in the live pager.
   */
  get(key: Uint8Array, source?: PageSource): Uint8Array | undefined {
    const cur = this.cur;
    cur.source = source ?? this.pager;
    try {
      return this.getIn(key);
    } catch (e) {
      throw cur.released(e);
    }
  }

  /** Whether `key` is stored: in `source` when given, else in the live pager. */
  has(key: Uint8Array, source?: PageSource): boolean {
    const cur = this.cur;
    cur.source = source ?? this.pager;
    try {
      return this.hasIn(key);
    } catch (e) {
      throw cur.released(e);
    }
  }

  /**
   * Entries in key order (or reverse) within the bounds, as copies, at most `limit`, read
   * from `opts.source` (default: the live pager). The iterator survives changes made while
   * it is open: it continues after the last key it returned (tree-range.ts). It owns a
   * cursor from its first step to its end and holds no pin between two entries.
   */
  entries(opts: EntriesOptions = {}): IterableIterator<[Uint8Array, Uint8Array]> {
    // Bounds given together intersect: keep the tighter one on each side.
    const [lo, loOpen] = tighter(opts.gte, opts.gt, 1);
    const [hi, hiOpen] = tighter(opts.lte, opts.lt, -1);
    const source = opts.source ?? this.pager;
    return new TreeRange(this, {
      lo,
      loOpen,
      hi,
      hiOpen,
      reverse: opts.reverse === true,
      limit: opts.limit ?? Number.POSITIVE_INFINITY,
      guard: opts.guard,
      source,
      live: source === this.pager,
    });
  }

  /**
   * A cursor for a range reading `source`: a spare one if there is one, else a new one (a
   * cursor costs about a microsecond to make: its path lives in typed arrays).
   */
  takeCursor(source: PageSource): Cursor {
    const spare = this.spareCursors.pop();
    const at = spare ?? new Cursor(this.pager, this.rootSlot, this.keyBytesMax, source);
    at.source = source;
    return at;
  }

  /**
   * A range is over (done, stopped by return(), or failed): keep its cursor, which holds no
   * pin (every step unpins or releases what it pinned), for the next range. A range
   * abandoned without return() keeps its cursor until it is collected.
   */
  giveBack(at: Cursor): void {
    assert(at.pinned === 0, "a range ended with pages pinned");
    at.source = this.pager; // keep no view alive
    if (this.spareCursors.length < SPARE_CURSORS_MAX) this.spareCursors.push(at);
  }

  /** Insert `key`, or replace its value (in the live pager, as every write). */
  put(key: Uint8Array, value: Uint8Array): void {
    const cur = this.cur;
    cur.source = this.pager;
    try {
      this.putIn(key, value);
    } catch (e) {
      throw cur.released(e);
    }
  }

  /** Remove `key`; returns whether it was there. */
  delete(key: Uint8Array): boolean {
    const cur = this.cur;
    cur.source = this.pager;
    try {
      return this.deleteIn(key);
    } catch (e) {
      throw cur.released(e);
    }
  }

  /**
   * Every problem found in the tree: ordering, bounds, depth, the leaf chain and page
   * accounting. In `source` when given (a snapshot: every page, the root and the page count
   * are read from it, so a commit made meanwhile cannot show as damage), with `free` the
   * freelist of that same state (a snapshot has no copy of it: the caller takes it at the
   * instant it took the snapshot); else in the live pager, with its freelist.
   */
  check(source?: PageSource, free?: readonly number[]): string[] {
    const cur = this.cur;
    const src = source ?? this.pager;
    cur.source = src;
    try {
      return this.checkIn(src.pageCount, free ?? this.pager.freePageNumbers());
    } catch (e) {
      throw cur.released(e);
    } finally {
      cur.source = this.pager; // keep no view alive
    }
  }

  private getIn(key: Uint8Array): Uint8Array | undefined {
    this.checkKey(key);
    const cur = this.cur;
    if (cur.root() === 0) return undefined;
    const f = cur.descendPinned(key);
    if (!cur.found.exact) {
      cur.unpin(f);
      return undefined;
    }
    return cur.valueOf(f, cur.found.index); // the leaf is still pinned from the descent
  }

  private hasIn(key: Uint8Array): boolean {
    this.checkKey(key);
    const cur = this.cur;
    if (cur.root() === 0) return false;
    cur.descend(key);
    return cur.found.exact;
  }

  // ---- writes ----

  private putIn(key: Uint8Array, value: Uint8Array): void {
    this.checkKey(key);
    if (!(value instanceof Uint8Array)) throw this.argError("value is not a Uint8Array");
    if (value.length > VALUE_BYTES_MAX) {
      throw new PagekvError(
        "ERR_VALUE_TOO_LARGE",
        `${this.pager.path}: value of ${value.length} bytes exceeds the maximum of ${VALUE_BYTES_MAX}`,
        { path: this.pager.path },
      );
    }
    this.version++;
    // inlineCellMax < usable/4 <= 16 KiB, so an inline value's length is below OVERFLOW_MARK.
    const inline = LEAF_CELL_HEADER_BYTES + key.length + value.length <= this.inlineCellMax;
    const first = inline ? 0 : this.writeOverflow(value);
    const cellLen =
      LEAF_CELL_HEADER_BYTES + key.length + (inline ? value.length : OVERFLOW_REF_BYTES);
    const c = this.cell;
    const at = LEAF_CELL_HEADER_BYTES + key.length;
    writeU16(c, 0, key.length);
    writeU16(c, 2, inline ? value.length : OVERFLOW_MARK);
    c.set(key, LEAF_CELL_HEADER_BYTES);
    if (inline) {
      c.set(value, at);
    } else {
      writeU32(c, at, first);
      writeU32(c, at + 4, value.length);
    }

    if (this.root() === 0) {
      const f = this.allocate();
      initNode(f.data, KIND_LEAF);
      this.pager.setSlot(this.rootSlot, f.pgno);
      this.unpin(f, true);
    }
    const leaf = this.cur.descend(key);
    const found = this.cur.found;
    const index = found.index;
    const f = this.writeNode(leaf, KIND_LEAF);
    const d = f.data;
    let oldChain = 0;
    if (found.exact) {
      const off = cellAt(d, index);
      oldChain = chainOf(d, off);
      if (leafCellBytes(d, off) === cellLen) {
        // A new value of the same size (the common update): the cell is rewritten in place.
        copyBytes(d, off, c, 0, cellLen);
        this.cur.keepPrefix(f, found.shared); // the keys did not change
        this.unpin(f, true);
        if (oldChain !== 0) this.freeChain(oldChain, leaf);
        return;
      }
      removeCell(d, index);
    }
    if (freeBytes(d) >= spaceNeeded(cellLen)) {
      copyBytes(d, insertCell(d, index, cellLen, this.scratch), c, 0, cellLen);
      this.cur.keepPrefix(f, found.shared); // the keys it had, and one sharing that much
    } else if (index === count(d) && right(d) === 0) {
      this.splitLeaf(d, leaf, index, cellLen); // an append: splitLeaf keeps the left page full
    } else if (!this.shareLeaf(f, index, cellLen)) {
      this.splitLeaf(d, leaf, index, cellLen);
    }
    this.unpin(f, true);
    if (oldChain !== 0) this.freeChain(oldChain, leaf);
  }

  private deleteIn(key: Uint8Array): boolean {
    this.checkKey(key);
    const cur = this.cur;
    if (cur.root() === 0) return false;
    const leaf = cur.descend(key);
    if (!cur.found.exact) return false;
    this.version++;
    const f = this.writeNode(leaf, KIND_LEAF);
    const d = f.data;
    const index = cur.found.index;
    const chain = chainOf(d, cellAt(d, index));
    removeCell(d, index);
    this.unpin(f, true);
    if (chain !== 0) this.freeChain(chain, leaf);
    this.rebalance(cur.depth - 1);
    return true;
  }

  /** Forget cached positions (after a rollback changed the tree under the iterators). */
  invalidate(): void {
    this.version++;
  }

  // ---- check ----

  private checkIn(pageCount: number, free: readonly number[]): string[] {
    const problems: string[] = [];
    const owner = new Map<number, string>();
    const claim = (pgno: number, what: string): boolean => {
      if (pgno < 2 || pgno > pageCount) {
        problems.push(`${what}: page ${pgno} is out of range`);
        return false;
      }
      const prev = owner.get(pgno);
      if (prev !== undefined) {
        problems.push(`page ${pgno} is used twice: ${prev} and ${what}`);
        return false;
      }
      owner.set(pgno, what);
      return true;
    };
    for (const p of free) claim(p, "freelist");
    const root = this.root();
    const leaves: number[] = [];
    let leafDepth = -1;
    let prevKey: Uint8Array | null = null;
    const walk = (pgno: number, depth: number, lo: Uint8Array | null, hi: Uint8Array | null) => {
      if (depth >= TREE_DEPTH_MAX) {
        problems.push(`page ${pgno}: tree deeper than ${TREE_DEPTH_MAX}`);
        return;
      }
      if (!claim(pgno, `tree node at depth ${depth}`)) return;
      let f: Frame;
      try {
        f = this.read(pgno);
      } catch (e) {
        // Damage is a finding; any other failure (I/O, a closed pager) is not the file's.
        if (!(e instanceof PagekvError) || e.code !== "ERR_CORRUPT") throw e;
        problems.push(`page ${pgno}: ${e.message}`);
        return;
      }
      const d = f.data.slice();
      this.unpin(f);
      const k = kind(d);
      const n = count(d);
      // A node whose layout is broken is not read further: its cells cannot be trusted.
      const layout = layoutProblems(d, this.keyBytesMax);
      if (layout.length > 0) {
        for (const p of layout) problems.push(`page ${pgno}: ${p}`);
        return;
      }
      let prev: Uint8Array | null = null;
      for (let i = 0; i < n; i++) {
        const key = d.slice(keyOffsetAt(d, i), keyOffsetAt(d, i) + keyLengthAt(d, i));
        if (prev !== null && compareBytes(prev, key) >= 0) {
          problems.push(`page ${pgno}: keys ${i - 1} and ${i} are not ascending`);
        }
        if (lo !== null && compareBytes(key, lo) < 0)
          problems.push(`page ${pgno}: key ${i} below its separator`);
        if (hi !== null && compareBytes(key, hi) >= 0)
          problems.push(`page ${pgno}: key ${i} not below its separator`);
        prev = key;
      }
      if (k === KIND_LEAF) {
        if (leafDepth === -1) leafDepth = depth;
        else if (leafDepth !== depth)
          problems.push(`page ${pgno}: leaf at depth ${depth}, others at ${leafDepth}`);
        leaves.push(pgno);
        for (let i = 0; i < n; i++) {
          const off = cellAt(d, i);
          const key = d.slice(keyOffsetAt(d, i), keyOffsetAt(d, i) + keyLengthAt(d, i));
          if (prevKey !== null && compareBytes(prevKey, key) >= 0) {
            problems.push(`page ${pgno}: key ${i} does not follow the previous leaf's keys`);
          }
          prevKey = key;
          const word = leafValueWord(d, off);
          if (word < OVERFLOW_FLAG) continue;
          const length = word - OVERFLOW_FLAG;
          // put() keeps a value inline whenever its cell fits: an overflow one never does.
          if (LEAF_CELL_HEADER_BYTES + key.length + length <= this.inlineCellMax) {
            problems.push(`page ${pgno}: cell ${i}: a ${length}-byte value in an overflow chain`);
          }
          this.checkChain(d, off, length, claim, problems);
        }
        return;
      }
      for (let i = 0; i <= n; i++) {
        const childLo =
          i === 0
            ? lo
            : d.slice(keyOffsetAt(d, i - 1), keyOffsetAt(d, i - 1) + keyLengthAt(d, i - 1));
        const childHi =
          i === n ? hi : d.slice(keyOffsetAt(d, i), keyOffsetAt(d, i) + keyLengthAt(d, i));
        walk(childAt(d, i), depth + 1, childLo, childHi);
      }
    };
    if (root !== 0) walk(root, 0, null, null);
    // The leaf chain: each leaf's right sibling is the next leaf in key order.
    for (let i = 0; i < leaves.length; i++) {
      const f = this.read(leaves[i]);
      const next = right(f.data);
      this.unpin(f);
      const want = i + 1 < leaves.length ? leaves[i + 1] : 0;
      if (next !== want)
        problems.push(`page ${leaves[i]}: right sibling ${next}, expected ${want}`);
    }
    const accounted = owner.size + 1; // page 1
    if (accounted !== pageCount) {
      problems.push(
        `${pageCount} pages, ${accounted} accounted for (page 1, tree, overflow, free)`,
      );
    }
    return problems;
  }

  // ---- internals: pins ----

  // Every pin goes through the tree's cursor, which records it, so that an operation that
  // fails midway leaves nothing pinned (Cursor.released()). Reads go through the cursor's
  // source (the pager itself for a write); writes only ever through the pager.

  private root(): number {
    return this.cur.root();
  }

  private read(pgno: number): Frame {
    return this.cur.read(pgno);
  }

  private readNode(pgno: number, expect: number): Frame {
    return this.cur.readNode(pgno, expect);
  }

  private write(pgno: number): Frame {
    return this.cur.write(pgno);
  }

  /**
   * Pin a node for writing and check it as readNode does, so that a split or merge never
   * copies a bad cell or pointer on.
   */
  private writeNode(pgno: number, expect: number): Frame {
    const f = this.write(pgno);
    this.cur.checkNode(f, expect);
    return f;
  }

  private allocate(): Frame {
    const f = this.pager.allocate();
    this.cur.track(f, true);
    return f;
  }

  private unpin(f: Frame, dirty = false): void {
    this.cur.unpin(f, dirty);
  }

  /** `to`, a page number read from page `from`, if it lies in 2..pageCount. */
  private pointer(from: number, to: number, what: string): number {
    return this.cur.pointer(from, to, what);
  }

  // ---- internals: values ----

  /** Write `value` into a new overflow chain; returns its first page. */
  private writeOverflow(value: Uint8Array): number {
    const per = this.overflowPayload;
    const pages = Math.ceil(value.length / per);
    let next = 0;
    for (let p = pages - 1; p >= 0; p--) {
      const f = this.allocate();
      initNode(f.data, KIND_OVERFLOW);
      setRight(f.data, next);
      const from = p * per;
      f.data.set(value.subarray(from, Math.min(value.length, from + per)), NODE_HEADER_BYTES);
      next = f.pgno;
      this.unpin(f, true);
    }
    return next;
  }

  /** Free the overflow chain from `first` (referenced by leaf `leaf`). */
  private freeChain(first: number, leaf: number): void {
    let from = leaf;
    let pgno = first;
    for (let hops = 0; pgno !== 0; hops++) {
      if (hops > this.pager.pageCount)
        throw this.corrupt(first, "starts an overflow chain with a cycle");
      this.pointer(from, pgno, "an overflow pointer");
      const f = this.read(pgno);
      const k = kind(f.data);
      const next = right(f.data);
      this.unpin(f);
      // Never free what is not an overflow page: a tree node referenced as one stays.
      if (k !== KIND_OVERFLOW)
        throw this.corrupt(pgno, `kind ${k} in an overflow chain (from page ${from})`);
      this.pager.free(pgno);
      from = pgno;
      pgno = next;
    }
  }

  private checkChain(
    d: Uint8Array,
    off: number,
    length: number,
    claim: (pgno: number, what: string) => boolean,
    problems: string[],
  ): void {
    let pgno = readU32(d, leafValueOffset(d, off));
    let left = length;
    while (left > 0) {
      if (pgno === 0) {
        problems.push(`overflow chain ends ${left} bytes short`);
        return;
      }
      if (!claim(pgno, "overflow")) return;
      const f = this.read(pgno);
      const k = kind(f.data);
      const next = right(f.data);
      this.unpin(f);
      if (k !== KIND_OVERFLOW) problems.push(`page ${pgno}: kind ${k} in an overflow chain`);
      left -= Math.min(left, this.overflowPayload);
      pgno = next;
    }
    if (pgno !== 0) problems.push(`overflow chain continues past its ${length} bytes`);
  }

  // ---- internals: splits ----

  /**
   * The leaf `d` (page `pgno`, pinned for writing) cannot take the new cell (this.cell,
   * `cellLen` bytes) at `index`: share its cells and the new one with a new right sibling
   * and post the sibling's first key to the parent.
   */
  /**
   * A full leaf `lf` (at the end of the recorded path) must take the new cell (this.cell,
   * `cellLen` bytes) at `index`. Instead of a split into two half-full pages:
   *   - share: a sibling under the same parent with at least SHARE_FREE_SHARE of a page free
   *     takes cells from it, both ending about equally full;
   *   - else split in three: it and its (full) sibling become three pages about 2/3 full.
   * This keeps the leaves of a random-order load about 80% full instead of 70%. Returns false,
   * changing nothing, when the leaf has no sibling under its parent, or the parent cannot
   * take the new separator in place of the old: the caller then splits the leaf in two.
   * Pins: the leaf (the caller's), the parent, the sibling, and a new page: four.
   */
  private shareLeaf(lf: Frame, index: number, cellLen: number): boolean {
    const level = this.cur.depth - 2;
    if (level < 0) return false;
    const parent = this.cur.pathPages[level];
    const pf = this.writeNode(parent, KIND_INTERIOR);
    const pd = pf.data;
    const at = this.cur.pathIndex[level];
    const n = count(pd);
    const want = Math.max(
      (this.usable - NODE_HEADER_BYTES) * SHARE_FREE_SHARE,
      spaceNeeded(cellLen),
    );
    for (let pass = 0; pass < 2; pass++) {
      for (const side of SIDES) {
        const sep = side < 0 ? at - 1 : at; // the parent cell between the two leaves
        if (sep < 0 || sep >= n) continue;
        const siblingPgno = this.sibling(parent, childAt(pd, side < 0 ? at - 1 : at + 1), lf.pgno);
        const sf = this.writeNode(siblingPgno, KIND_LEAF);
        const three = pass === 1;
        if (!three && freeBytes(sf.data) < want) {
          this.unpin(sf);
          continue;
        }
        const dealt =
          side < 0
            ? this.deal(pd, sep, sf, -1, lf, index, cellLen, three)
            : this.deal(pd, sep, lf, index, sf, -1, cellLen, three);
        this.unpin(sf, dealt);
        if (dealt) {
          this.unpin(pf, true);
          if (three) this.postThird(level, side < 0 ? at : at + 1);
          return true;
        }
      }
    }
    this.unpin(pf);
    return false;
  }

  /**
   * Deal the cells of adjacent leaves `lf` and `rf` (with the new cell this.cell inserted at
   * `newLeft` of the left or `newRight` of the right; -1 for neither) out again, in two
   * pages about equally full, or with `three` in three (the third a new page after the
   * right one, its separator left in this.third for postThird), and set the parent's
   * separator cell `sep` to the right page's new first key. Returns false, changing nothing,
   * when no way to cut fits the pages and the parent. The cuts are those of a rebuild that
   * lays the items out in order (so the tree is the same); only the cells that change pages
   * move, and their pages keep their other cells where they lie (dead bytes are compacted
   * when an insert needs them).
   */
  private deal(
    pd: Uint8Array,
    sep: number,
    lf: Frame,
    newLeft: number,
    rf: Frame,
    newRight: number,
    cellLen: number,
    three: boolean,
  ): boolean {
    const ld = lf.data;
    const rd = rf.data;
    const nL = count(ld);
    const nR = count(rd);
    // The items dealt: the left's cells (the new one at newLeft), then the right's (it at
    // newRight); dealBytes(i) is item i's size with its slot.
    const aL = nL + (newLeft >= 0 ? 1 : 0);
    const total = aL + nR + (newRight >= 0 ? 1 : 0);
    const newItem = newLeft >= 0 ? newLeft : newRight >= 0 ? aL + newRight : -1;
    this.dealL = ld;
    this.dealR = rd;
    this.dealNewLeft = newLeft;
    this.dealNewRight = newRight;
    this.dealLeftItems = aL;
    this.dealCellLen = cellLen;
    const newBytes = newItem >= 0 ? spaceNeeded(cellLen) : 0;
    // Bytes of the left's items, and of all: exact for a node whose cells and garbage fill
    // its content area (every node the tree wrote); never below the cells' own sum on any
    // node that passed nodeProblem, so every fit decided below is safe.
    const leftBytes = usedBytes(ld) + (newLeft >= 0 ? newBytes : 0);
    const sum = leftBytes + usedBytes(rd) + (newRight >= 0 ? newBytes : 0);
    const room = this.usable - NODE_HEADER_BYTES;
    const parts = three ? 3 : 2;
    // Cut points: each page takes items while it stays within its share of the bytes, then
    // more while what is left would not fit the pages after it. The first cut is found from
    // the boundary between the pages (prefix = the bytes of the items before i), so only
    // the items that change pages are read.
    const cuts = this.cuts;
    let i = aL;
    let prefix = leftBytes;
    const firstShare = sum / parts;
    while (i > 0 && prefix > firstShare) prefix -= this.dealBytes(--i);
    let before = 0;
    for (let p = 1; p < parts; p++) {
      const share = (sum * p) / parts;
      for (let b = i < total ? this.dealBytes(i) : 0; i < total && prefix + b <= share; ) {
        prefix += b;
        b = ++i < total ? this.dealBytes(i) : 0;
      }
      while (i < total && sum - prefix > room * (parts - p)) prefix += this.dealBytes(i++);
      const used = prefix - before;
      if (used === 0 || used > room || i === total) return false;
      cuts[p] = i;
      before = prefix;
    }
    if (sum - before > room) return false;
    const m = cuts[1];
    const keyLen = this.dealKeyLength(m);
    const oldSep = cellAt(pd, sep);
    const newSepBytes = INTERIOR_CELL_HEADER_BYTES + keyLen;
    if (freeBytes(pd) + interiorCellBytes(pd, oldSep) < newSepBytes) return false;
    // Move only the cells that change pages, in place (no page is rebuilt; a few cells
    // move in the common share, where a rebuild copied both pages whole): e1 (e2) is how
    // many of the old cells come before cut 1 (2). The chain runs left -> right (-> third)
    // -> the right's old next.
    const tf = three ? this.allocate() : null;
    const e1 = m - (newItem >= 0 && newItem < m ? 1 : 0);
    setRight(ld, rf.pgno);
    if (tf !== null) {
      const m2 = cuts[2];
      const e2 = m2 - (newItem >= 0 && newItem < m2 ? 1 : 0);
      const td = tf.data;
      initNode(td, KIND_LEAF);
      setRight(td, right(rd));
      setRight(rd, tf.pgno);
      // Old cells e2.. go to the third page: the right's tail, then the left's if e2 < nL.
      this.moveTail(rd, Math.max(0, e2 - nL), td);
      if (e2 < nL) this.moveTail(ld, e2, td);
    }
    // The left and right now hold the old cells 0..e2 between them; the left keeps 0..e1.
    const inLeft = count(ld);
    if (inLeft > e1) this.moveTail(ld, e1, rd);
    else if (inLeft < e1) this.moveHead(rd, e1 - inLeft, ld);
    if (newItem >= 0) {
      let dst = ld;
      let at = newItem;
      if (newItem >= m) {
        const inThird = tf !== null && newItem >= cuts[2];
        dst = inThird ? tf.data : rd;
        at = newItem - (inThird ? cuts[2] : m);
      }
      copyBytes(dst, insertCell(dst, at, cellLen, this.scratch), this.cell, 0, cellLen);
    }
    assert(keyLengthAt(rd, 0) === keyLen, "a deal's separator changed length");
    const child = interiorChild(pd, oldSep);
    removeCell(pd, sep);
    const at = insertCell(pd, sep, newSepBytes, this.scratch);
    writeU32(pd, at, child);
    writeU16(pd, at + 4, keyLen);
    copyBytes(pd, at + INTERIOR_CELL_HEADER_BYTES, rd, keyOffsetAt(rd, 0), keyLen);
    if (tf !== null) {
      const k = keyOffsetAt(tf.data, 0);
      this.third.key = tf.data.slice(k, k + keyLengthAt(tf.data, 0));
      this.third.pgno = tf.pgno;
      this.third.after = rf.pgno;
      this.unpin(tf, true);
    }
    this.dealL = EMPTY;
    this.dealR = EMPTY;
    return true;
  }

  /** Item `i` of the deal in progress: its page (dealL or dealR) and cell, -1 for the new one. */
  private dealCell(i: number): number {
    const left = i < this.dealLeftItems;
    const j = left ? i : i - this.dealLeftItems;
    const at = left ? this.dealNewLeft : this.dealNewRight;
    if (j === at) return -1;
    return at >= 0 && j > at ? j - 1 : j;
  }

  /** Bytes of item `i` of the deal in progress, its slot included. */
  private dealBytes(i: number): number {
    const j = this.dealCell(i);
    if (j < 0) return spaceNeeded(this.dealCellLen);
    const d = i < this.dealLeftItems ? this.dealL : this.dealR;
    return spaceNeeded(leafCellBytes(d, cellAt(d, j)));
  }

  /** Key length of item `i` of the deal in progress. */
  private dealKeyLength(i: number): number {
    const j = this.dealCell(i);
    if (j < 0) return readU16(this.cell, 0);
    const d = i < this.dealLeftItems ? this.dealL : this.dealR;
    return readU16(d, cellAt(d, j));
  }

  /** Move the cells `from`.. of leaf `src` to the front of leaf `dst`, in order. */
  private moveTail(src: Uint8Array, from: number, dst: Uint8Array): void {
    const n = count(src);
    for (let i = from; i < n; i++) {
      const off = cellAt(src, i);
      const bytes = leafCellBytes(src, off);
      copyBytes(dst, insertCell(dst, i - from, bytes, this.scratch), src, off, bytes);
    }
    for (let i = n - 1; i >= from; i--) removeCell(src, i);
  }

  /** Move the first `k` cells of leaf `src` to the end of leaf `dst`, in order. */
  private moveHead(src: Uint8Array, k: number, dst: Uint8Array): void {
    for (let i = 0; i < k; i++) {
      const off = cellAt(src, i);
      const bytes = leafCellBytes(src, off);
      copyBytes(dst, insertCell(dst, count(dst), bytes, this.scratch), src, off, bytes);
    }
    for (let i = 0; i < k; i++) removeCell(src, 0);
  }

  /** After deal(three): add the third page's separator to the parent at `level`. */
  private postThird(level: number, rightIndex: number): void {
    const t = this.third;
    this.cur.pathIndex[level] = rightIndex; // the right page's place: the third goes after it
    this.postSeparator(level, t.after, t.key, t.pgno);
    t.key = EMPTY;
  }

  private splitLeaf(d: Uint8Array, pgno: number, index: number, cellLen: number): void {
    this.copy.set(d);
    const old = this.copy;
    const n = count(old);
    const cells: CellRef[] = [];
    for (let i = 0; i <= n; i++) {
      if (i === index) cells.push({ src: this.cell, off: 0 });
      if (i < n) cells.push({ src: old, off: cellAt(old, i) });
    }
    const bytes = (c: CellRef) => (c.src === this.cell ? cellLen : cellBytes(old, c.off)) + 2;
    // Appending at the end of the last leaf (a sequential load): keep the left page full.
    let m: number;
    if (index === n && right(old) === 0) {
      m = n;
    } else {
      const total = cells.reduce((s, c) => s + bytes(c), 0);
      let acc = 0;
      m = 0;
      while (m < cells.length - 1 && acc + bytes(cells[m]) <= total / 2) acc += bytes(cells[m++]);
      if (m === 0) m = 1;
    }
    const sibling = this.allocate();
    const rd = sibling.data;
    initNode(rd, KIND_LEAF);
    setRight(rd, right(old));
    initNode(d, KIND_LEAF);
    setRight(d, sibling.pgno);
    for (let i = 0; i < cells.length; i++) {
      const c = cells[i];
      const dst = i < m ? d : rd;
      if (c.src === this.cell) {
        const at = insertCell(dst, count(dst), cellLen, this.scratch);
        dst.set(this.cell.subarray(0, cellLen), at);
      } else {
        appendCellFrom(dst, old, c.off, this.scratch);
      }
    }
    const sep = rd.slice(keyOffsetAt(rd, 0), keyOffsetAt(rd, 0) + keyLengthAt(rd, 0));
    const siblingPgno = sibling.pgno;
    this.unpin(sibling, true);
    this.postSeparator(this.cur.depth - 2, pgno, sep, siblingPgno);
  }

  /**
   * Page `leftPgno` at `level + 1` split into itself and `rightPgno` at separator `sep`:
   * add the separator to the parent at `level` (or grow a new root).
   */
  private postSeparator(level: number, leftPgno: number, sep: Uint8Array, rightPgno: number): void {
    const cellLen = INTERIOR_CELL_HEADER_BYTES + sep.length;
    if (level < 0) {
      const f = this.allocate();
      initNode(f.data, KIND_INTERIOR);
      writeInteriorCell(f.data, insertCell(f.data, 0, cellLen, this.scratch), leftPgno, sep);
      setRight(f.data, rightPgno);
      this.pager.setSlot(this.rootSlot, f.pgno);
      this.unpin(f, true);
      return;
    }
    const pgno = this.cur.pathPages[level];
    const index = this.cur.pathIndex[level];
    const f = this.writeNode(pgno, KIND_INTERIOR);
    const d = f.data;
    if (freeBytes(d) >= spaceNeeded(cellLen)) {
      writeInteriorCell(d, insertCell(d, index, cellLen, this.scratch), leftPgno, sep);
      setChildAt(d, index + 1, rightPgno);
      this.unpin(f, true);
      return;
    }
    // Split the interior node: the middle cell's key goes up.
    this.copy.set(d);
    const old = this.copy;
    const n = count(old);
    type Entry = { child: number; key: Uint8Array };
    const entries: Entry[] = [];
    for (let i = 0; i < n; i++) {
      const off = cellAt(old, i);
      entries.push({
        child: interiorChild(old, off),
        key: old.slice(keyOffsetAt(old, i), keyOffsetAt(old, i) + keyLengthAt(old, i)),
      });
    }
    let rightmost = right(old);
    entries.splice(index, 0, { child: leftPgno, key: sep });
    if (index + 1 < entries.length) entries[index + 1].child = rightPgno;
    else rightmost = rightPgno;
    const size = (e: Entry) => INTERIOR_CELL_HEADER_BYTES + e.key.length + 2;
    const total = entries.reduce((s, e) => s + size(e), 0);
    let m = 0;
    let acc = 0;
    while (m < entries.length - 2 && acc + size(entries[m]) <= total / 2) acc += size(entries[m++]);
    if (m === 0) m = 1;
    const up = entries[m];
    const sibling = this.allocate();
    const rd = sibling.data;
    initNode(rd, KIND_INTERIOR);
    initNode(d, KIND_INTERIOR);
    for (let i = 0; i < entries.length; i++) {
      if (i === m) continue;
      const e = entries[i];
      const dst = i < m ? d : rd;
      const at = insertCell(
        dst,
        count(dst),
        INTERIOR_CELL_HEADER_BYTES + e.key.length,
        this.scratch,
      );
      writeInteriorCell(dst, at, e.child, e.key);
    }
    setRight(d, up.child);
    setRight(rd, rightmost);
    const siblingPgno = sibling.pgno;
    this.unpin(sibling, true);
    this.unpin(f, true);
    this.postSeparator(level - 1, pgno, up.key, siblingPgno);
  }

  // ---- internals: merges ----

  /**
   * After a delete, the node at `level` of the recorded path may be underfull: merge it
   * with a sibling when both fit in one page, then check the parent; a leaf that cannot
   * merge shares the cells of both evenly instead. Collapse a root left with one child.
   */
  private rebalance(level: number): void {
    if (level === 0) {
      this.collapseRoot();
      return;
    }
    const pgno = this.cur.pathPages[level];
    const f = this.readNode(pgno, 0);
    const k = kind(f.data);
    const underfull = usedBytes(f.data) < (this.usable - NODE_HEADER_BYTES) * UNDERFULL_SHARE;
    this.unpin(f);
    if (!underfull) return;
    const parentPgno = this.cur.pathPages[level - 1];
    const pf = this.writeNode(parentPgno, KIND_INTERIOR);
    const pd = pf.data;
    if (count(pd) === 0) {
      this.unpin(pf);
      return;
    }
    const index = Math.min(this.cur.pathIndex[level - 1], count(pd));
    const l = index > 0 ? index - 1 : 0;
    const leftPgno = this.sibling(parentPgno, childAt(pd, l), 0);
    const rightPgno = this.sibling(parentPgno, childAt(pd, l + 1), leftPgno);
    // Siblings are of the node's kind: merging a leaf into an interior node would be damage.
    const lf = this.writeNode(leftPgno, k);
    const rf = this.writeNode(rightPgno, k);
    const ld = lf.data;
    const rd = rf.data;
    const sepOff = keyOffsetAt(pd, l);
    const sepLen = keyLengthAt(pd, l);
    const leaf = kind(ld) === KIND_LEAF;
    const need = usedBytes(rd) + (leaf ? 0 : spaceNeeded(INTERIOR_CELL_HEADER_BYTES + sepLen));
    if (freeBytes(ld) < need) {
      // Too full together to merge: leaves share their cells evenly instead (an interior
      // node stays as it is: underfull interior nodes cost little).
      const dealt = leaf && this.deal(pd, l, lf, -1, rf, -1, 0, false);
      this.unpin(rf, dealt);
      this.unpin(lf, dealt);
      this.unpin(pf, dealt);
      return;
    }
    if (!leaf) {
      const at = insertCell(ld, count(ld), INTERIOR_CELL_HEADER_BYTES + sepLen, this.scratch);
      writeInteriorCell(ld, at, right(ld), pd.subarray(sepOff, sepOff + sepLen));
    }
    const rn = count(rd);
    for (let i = 0; i < rn; i++) appendCellFrom(ld, rd, cellAt(rd, i), this.scratch);
    setRight(ld, right(rd));
    this.unpin(rf);
    this.unpin(lf, true);
    setChildAt(pd, l + 1, leftPgno);
    removeCell(pd, l);
    this.unpin(pf, true);
    this.pager.free(rightPgno);
    this.rebalance(level - 1);
  }

  private collapseRoot(): void {
    for (let i = 0; i < TREE_DEPTH_MAX; i++) {
      const root = this.root();
      const f = this.readNode(root, 0);
      const only = kind(f.data) === KIND_INTERIOR && count(f.data) === 0 ? right(f.data) : 0;
      this.unpin(f);
      if (only === 0) return;
      this.pointer(root, only, "the only child pointer");
      this.pager.setSlot(this.rootSlot, only);
      this.pager.free(root);
    }
  }

  // ---- errors ----

  /** ERR_ARG for a key that is not bytes, ERR_KEY_TOO_LARGE past the page's bound. */
  checkKey(key: Uint8Array): void {
    if (!(key instanceof Uint8Array)) throw this.argError("key is not a Uint8Array");
    if (key.length > this.keyBytesMax) {
      throw new PagekvError(
        "ERR_KEY_TOO_LARGE",
        `${this.pager.path}: key of ${key.length} bytes exceeds the maximum of ${this.keyBytesMax}`,
        { path: this.pager.path },
      );
    }
  }

  private argError(what: string): PagekvError {
    return new PagekvError("ERR_ARG", `${this.pager.path}: ${what}`, { path: this.pager.path });
  }

  /**
   * `child`, a child of interior node `parent` next to page `other` (0: none), if it is a
   * page number in range other than `other` and `parent` (a node listed twice or as its own
   * child would be merged with itself).
   */
  private sibling(parent: number, child: number, other: number): number {
    this.pointer(parent, child, "a child pointer");
    if (child === other || child === parent) {
      throw this.corrupt(
        parent,
        `lists page ${child} as two neighbouring children or as its own child`,
      );
    }
    return child;
  }

  private corrupt(pgno: number, what: string): PagekvError {
    return this.cur.corrupt(pgno, what);
  }
}

const EMPTY = new Uint8Array(0);

/** Copy `n` bytes of `src` from `from` to `dst` at `at` (a cell: no view allocated). */
function copyBytes(dst: Uint8Array, at: number, src: Uint8Array, from: number, n: number): void {
  for (let k = 0; k < n; k++) dst[at + k] = src[from + k];
}

function writeInteriorCell(d: Uint8Array, at: number, child: number, key: Uint8Array): void {
  writeU32(d, at, child);
  writeU16(d, at + 4, key.length);
  d.set(key, at + INTERIOR_CELL_HEADER_BYTES);
}

/** The first overflow page of the leaf cell at `off`, or 0 when its value is inline. */
function chainOf(d: Uint8Array, off: number): number {
  return leafValueWord(d, off) >= OVERFLOW_FLAG ? readU32(d, leafValueOffset(d, off)) : 0;
}

/**
 * One side's bound from an inclusive and an exclusive candidate: [bound, exclusive]. `dir`
 * is +1 for a lower bound (the larger is tighter), -1 for an upper one.
 */
function tighter(
  inclusive: Uint8Array | undefined,
  exclusive: Uint8Array | undefined,
  dir: 1 | -1,
): [Uint8Array | undefined, boolean] {
  if (exclusive === undefined) return [inclusive, false];
  if (inclusive === undefined) return [exclusive, true];
  // The inclusive bound wins only when strictly tighter; on a tie the exclusive is.
  return compareBytes(inclusive, exclusive) * dir > 0 ? [inclusive, false] : [exclusive, true];
}

function compareBytes(a: Uint8Array, b: Uint8Array): number {
  return compareKey(a, a.length, b, 0, b.length);
}
