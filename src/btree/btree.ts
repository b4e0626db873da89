// The ordered key/value core: a B+tree of slotted pages (node.ts) built only on the pager's
// contract: get/unpin, allocate/free and the header's application slot for its root. It
// never touches the VFS and never begins or ends a transaction: its caller does.
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
// loop, and the caller's transaction rolls back whatever the operation had changed.

import { assert, isPagekvError, PagekvError } from "../errors.js";
import { readU16, readU32, writeU16, writeU32 } from "../format/codec.js";
import type { Frame, Pager } from "../pager/pager.js";
import { copyEntry, copyOut } from "./copies.js";
import {
  appendCellFrom,
  cellAt,
  cellBytes,
  cellProblem,
  childAt,
  compareKey,
  count,
  freeBytes,
  headerProblem,
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
  leafKeyOffset,
  leafValueOffset,
  leafValueWord,
  NODE_HEADER_BYTES,
  nodeProblem,
  OVERFLOW_FLAG,
  OVERFLOW_MARK,
  OVERFLOW_REF_BYTES,
  removeCell,
  right,
  type SearchResult,
  search,
  setChildAt,
  setRight,
  spaceNeeded,
  usedBytes,
} from "./node.js";

/** Largest value: 64 MiB (an overflow chain of about 16,400 pages at 4 KiB). */
/** Frame.checked once checkNode has checked the frame's node whole. */
const NODE_CHECKED = 1;

export const VALUE_BYTES_MAX = 64 * 2 ** 20;
/** Deepest tree walked before the file is declared corrupt (fan-out >= 4: 2^64 keys). */
export const TREE_DEPTH_MAX = 32;
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
/** Entries a range copies out of one leaf at a time (bounds the copies held ahead). */
const LEAF_COPY_MAX = 256;

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
}

/** Where one side of a cell list comes from while a node is rebuilt. */
interface CellRef {
  src: Uint8Array;
  off: number;
}

export class BTree {
  /** Longest key: pageSize / 16 (32 at 512-byte pages, 256 at 4 KiB). */
  readonly keyBytesMax: number;
  readonly valueBytesMax = VALUE_BYTES_MAX;
  /** Bumped by every change, so iterators know to find their place again. */
  version = 0;
  private readonly pager: Pager;
  private readonly rootSlot: number;
  private readonly committed: boolean;
  private readonly usable: number;
  /** Largest leaf cell kept inline: four cells always fit in a leaf. */
  private readonly inlineCellMax: number;
  private readonly overflowPayload: number;
  private readonly scratch: Uint8Array;
  private readonly copy: Uint8Array;
  private readonly copy2: Uint8Array;
  /** shareCells' list of cells: the bytes each lies in and its offset there (reused). */
  private readonly dealtSrc: Uint8Array[] = [];
  private readonly dealtOff: number[] = [];
  private readonly dealtPages: Uint8Array[] = [EMPTY, EMPTY, EMPTY];
  private readonly cuts = new Int32Array(4);
  /** The page a three-way deal made, the page it follows, and its separator. */
  private readonly third = { key: EMPTY, pgno: 0, after: 0 };
  private readonly cell: Uint8Array;
  private readonly found: SearchResult = { index: 0, exact: false };
  /** Where a range goes next: written by the positioning methods (leaf 0: nowhere). */
  private readonly cursor = { leaf: 0, index: -1 };
  private readonly pathPages = new Uint32Array(TREE_DEPTH_MAX);
  private readonly pathIndex = new Int32Array(TREE_DEPTH_MAX);
  private depth = 0;
  /** Pins the current operation holds (at most 4 by design; 8 is the hard bound). */
  private readonly held: Frame[] = new Array<Frame>(8);
  private readonly heldWrite: boolean[] = new Array<boolean>(8).fill(false);
  private heldCount = 0;

  /**
   * `view: "committed"` reads the tree as of the pager's last commit, whatever an open
   * transaction changed (through pager.getCommitted); such a tree cannot be written.
   */
  constructor(pager: Pager, rootSlot = 0, view: "current" | "committed" = "current") {
    this.pager = pager;
    this.rootSlot = rootSlot;
    this.committed = view === "committed";
    this.usable = pager.usableSize;
    this.keyBytesMax = pager.pageSize / 16;
    this.inlineCellMax = inlineCellMaxOf(this.usable);
    this.overflowPayload = this.usable - NODE_HEADER_BYTES;
    this.scratch = new Uint8Array(this.usable);
    this.copy = new Uint8Array(this.usable);
    this.copy2 = new Uint8Array(this.usable);
    this.cell = new Uint8Array(this.inlineCellMax);
  }

  // ---- reads ----

  /** The value stored under `key` (a copy the caller owns), or undefined. */
  get(key: Uint8Array): Uint8Array | undefined {
    try {
      return this.getIn(key);
    } catch (e) {
      throw this.released(e);
    }
  }

  has(key: Uint8Array): boolean {
    try {
      return this.hasIn(key);
    } catch (e) {
      throw this.released(e);
    }
  }

  /**
   * Entries in key order (or reverse) within the bounds, as copies, at most `limit`. The
   * iterator survives changes made while it is open: it continues after the last key it
   * returned. Entries are copied a leaf at a time (one pin per leaf, not three per entry);
   * a change to the tree between two entries drops the rest of the copied leaf and finds
   * the place again, so an entry is never returned after the tree changed under it.
   */
  *entries(opts: EntriesOptions = {}): IterableIterator<[Uint8Array, Uint8Array]> {
    // Bounds given together intersect: keep the tighter one on each side.
    const [lo, loOpen] = tighter(opts.gte, opts.gt, 1);
    const [hi, hiOpen] = tighter(opts.lte, opts.lt, -1);
    const reverse = opts.reverse === true;
    const guard = opts.guard;
    let remaining = opts.limit ?? Number.POSITIVE_INFINITY;
    const batch: [Uint8Array, Uint8Array][] = [];
    const at = this.cursor;
    let last: Uint8Array | null = null;
    let leaf = 0;
    let index = -1;
    let seen = -1;
    const dir = reverse ? -1 : 1;
    while (remaining > 0) {
      guard?.();
      let ended: boolean;
      let from = 0;
      try {
        if (seen !== this.version) {
          // (Re)find our place: after `last`, or at the start bound.
          seen = this.version;
          if (this.root() === 0) return;
          if (reverse) {
            const from = last ?? hi;
            if (from === undefined) this.lastEntry();
            else this.seekBefore(from, last !== null || hiOpen);
          } else {
            this.seekFrom(last ?? lo ?? EMPTY, last !== null || (lo !== undefined && loOpen));
          }
          leaf = at.leaf;
          index = at.index;
        }
        if (leaf === 0) return;
        const bound = reverse ? lo : hi;
        const open = reverse ? loOpen : hiOpen;
        from = leaf;
        ended = this.copyLeaf(leaf, index, reverse, bound, open, remaining, batch);
        leaf = at.leaf;
        index = at.index;
      } catch (e) {
        throw this.released(e);
      }
      for (let i = 0; i < batch.length; i++) {
        const entry = batch[i];
        // Keys strictly ascend (descend): a leaf chain or leaf out of order is damage, and
        // this bounds a range over a cyclic chain by the keys the file holds.
        if (last !== null && compareBytes(entry[0], last) * dir <= 0) {
          batch.length = 0;
          throw this.corrupt(
            from,
            `key order breaks in a ${reverse ? "reverse " : ""}range (a leaf or the leaf chain is out of order)`,
          );
        }
        last = entry[0];
        remaining--;
        const version = this.version;
        yield entry;
        guard?.();
        if (this.version !== version) {
          seen = -1;
          ended = false;
          break;
        }
      }
      batch.length = 0;
      if (ended) return;
    }
  }

  /** Insert `key`, or replace its value. */
  put(key: Uint8Array, value: Uint8Array): void {
    try {
      this.putIn(key, value);
    } catch (e) {
      throw this.released(e);
    }
  }

  /** Remove `key`; returns whether it was there. */
  delete(key: Uint8Array): boolean {
    try {
      return this.deleteIn(key);
    } catch (e) {
      throw this.released(e);
    }
  }

  /** Every problem found: ordering, bounds, depth, the leaf chain and page accounting. */
  check(): string[] {
    try {
      return this.checkIn();
    } catch (e) {
      throw this.released(e);
    }
  }

  private getIn(key: Uint8Array): Uint8Array | undefined {
    this.checkKey(key);
    if (this.root() === 0) return undefined;
    const f = this.descendPinned(key);
    if (!this.found.exact) {
      this.unpin(f);
      return undefined;
    }
    return this.valueOf(f, this.found.index); // the leaf is still pinned from the descent
  }

  private hasIn(key: Uint8Array): boolean {
    this.checkKey(key);
    if (this.root() === 0) return false;
    this.descend(key);
    return this.found.exact;
  }

  // ---- writes ----

  private putIn(key: Uint8Array, value: Uint8Array): void {
    this.checkWritable();
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
    const leaf = this.descend(key);
    const index = this.found.index;
    const f = this.writeNode(leaf, KIND_LEAF);
    const d = f.data;
    let oldChain = 0;
    if (this.found.exact) {
      const off = cellAt(d, index);
      oldChain = chainOf(d, off);
      if (leafCellBytes(d, off) === cellLen) {
        // A new value of the same size (the common update): the cell is rewritten in place.
        d.set(c.subarray(0, cellLen), off);
        this.unpin(f, true);
        if (oldChain !== 0) this.freeChain(oldChain, leaf);
        return;
      }
      removeCell(d, index);
    }
    if (freeBytes(d) >= spaceNeeded(cellLen)) {
      const at = insertCell(d, index, cellLen, this.scratch);
      d.set(c.subarray(0, cellLen), at);
    } else if (index === count(d) && right(d) === 0) {
      this.splitLeaf(d, leaf, index, cellLen); // an append: splitLeaf keeps the left page full
    } else if (!this.shareLeaf(f, index, cellLen)) {
      this.splitLeaf(d, leaf, index, cellLen);
    }
    this.unpin(f, true);
    if (oldChain !== 0) this.freeChain(oldChain, leaf);
  }

  private deleteIn(key: Uint8Array): boolean {
    this.checkWritable();
    this.checkKey(key);
    if (this.root() === 0) return false;
    const leaf = this.descend(key);
    if (!this.found.exact) return false;
    this.version++;
    const f = this.writeNode(leaf, KIND_LEAF);
    const d = f.data;
    const chain = chainOf(d, cellAt(d, this.found.index));
    removeCell(d, this.found.index);
    this.unpin(f, true);
    if (chain !== 0) this.freeChain(chain, leaf);
    this.rebalance(this.depth - 1);
    return true;
  }

  /** Forget cached positions (after a rollback changed the tree under the iterators). */
  invalidate(): void {
    this.version++;
  }

  // ---- check ----

  private checkIn(): string[] {
    const problems: string[] = [];
    const owner = new Map<number, string>();
    const claim = (pgno: number, what: string): boolean => {
      if (pgno < 2 || pgno > this.pager.pageCount) {
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
    for (const p of this.pager.freePageNumbers()) claim(p, "freelist");
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
    if (accounted !== this.pager.pageCount) {
      problems.push(
        `${this.pager.pageCount} pages, ${accounted} accounted for (page 1, tree, overflow, free)`,
      );
    }
    return problems;
  }

  // ---- internals: descent ----

  private root(): number {
    return this.committed
      ? this.pager.getCommittedSlot(this.rootSlot)
      : this.pager.getSlot(this.rootSlot);
  }

  // Every pin an operation takes goes through these, so that an operation that fails
  // midway (an I/O error, a full pool, a crash, a damaged page) leaves nothing pinned: see
  // released(). Every page number the tree asks for came from the file (the root slot, a
  // child, sibling or overflow pointer), so a page the pager refuses (free, or out of
  // range) is damage: ERR_CORRUPT.

  /** Pin a page for reading, in this tree's view. */
  private read(pgno: number): Frame {
    let f: Frame;
    try {
      f = this.committed ? this.pager.getCommitted(pgno) : this.pager.get(pgno);
    } catch (e) {
      throw this.refused(e, pgno);
    }
    this.track(f, false);
    return f;
  }

  private write(pgno: number): Frame {
    let f: Frame;
    try {
      f = this.pager.get(pgno, "write");
    } catch (e) {
      throw this.refused(e, pgno);
    }
    this.track(f, true);
    return f;
  }

  /** Pin a node for reading and check its header: kind `expect` (0: leaf or interior). */
  private readNode(pgno: number, expect: number): Frame {
    const f = this.read(pgno);
    this.checkNode(f, expect);
    return f;
  }

  /**
   * Pin a node for writing and check it as readNode does, so that a split or merge never
   * copies a bad cell or pointer on.
   */
  private writeNode(pgno: number, expect: number): Frame {
    const f = this.write(pgno);
    this.checkNode(f, expect);
    return f;
  }

  /**
   * The pinned node `f` must be a node of kind `expect` (0: either), checked at every pin;
   * and whole (header, every cell, the space count, every page number it holds), checked
   * once per image read in (Frame.checked): what the tree writes keeps a node whole, so
   * the pages it uses again and again are not checked again and again. A failure throws
   * (the caller's released() unpins `f`).
   */
  private checkNode(f: Frame, expect: number): void {
    const d = f.data;
    if (f.checked === NODE_CHECKED) {
      if (expect === 0 || kind(d) === expect) return;
      throw this.corrupt(f.pgno, headerProblem(d, expect) ?? "is not the node expected");
    }
    const problem = nodeProblem(d, expect, this.keyBytesMax);
    if (problem !== null) throw this.corrupt(f.pgno, problem);
    if (kind(d) === KIND_INTERIOR) {
      const n = count(d);
      for (let i = 0; i <= n; i++) this.pointer(f.pgno, childAt(d, i), "a child pointer");
    } else if (right(d) !== 0) {
      this.pointer(f.pgno, right(d), "the right sibling pointer");
    }
    f.checked = NODE_CHECKED;
  }

  /** `to`, a page number read from page `from`, if it lies in 2..pageCount. */
  private pointer(from: number, to: number, what: string): number {
    if (to >= 2 && to <= this.pager.pageCount) return to;
    throw this.corrupt(from, `${what} points at page ${to}, outside 2..${this.pager.pageCount}`);
  }

  /** Cell `i` of the pinned node `f` (header checked) must lie inside the page. */
  private checkCell(f: Frame, i: number): void {
    if (f.checked === NODE_CHECKED) return; // every cell was checked with the node
    const problem = cellProblem(f.data, i, this.keyBytesMax);
    if (problem !== null) throw this.corrupt(f.pgno, problem);
  }

  /** An error of the pager for a page the tree asked for, as the tree reports it. */
  private refused(e: unknown, pgno: number): unknown {
    if (!isPagekvError(e, "ERR_PAGE_RANGE")) return e;
    return new PagekvError(
      "ERR_CORRUPT",
      `${this.pager.path}: page ${pgno}: the tree refers to it, but it is not a page in use (${e.message})`,
      { path: this.pager.path, pgno, cause: e },
    );
  }

  private allocate(): Frame {
    const f = this.pager.allocate();
    this.track(f, true);
    return f;
  }

  private unpin(f: Frame, dirty = false): void {
    for (let i = this.heldCount - 1; i >= 0; i--) {
      if (this.held[i] === f) {
        this.held[i] = this.held[this.heldCount - 1];
        this.heldWrite[i] = this.heldWrite[this.heldCount - 1];
        this.heldCount--;
        break;
      }
    }
    this.pager.unpin(f, dirty);
  }

  private track(f: Frame, write: boolean): void {
    if (this.heldCount === this.held.length) {
      this.pager.unpin(f, write);
      throw new Error("pagekv internal assertion failed: a tree operation pinned too many pages");
    }
    this.held[this.heldCount] = f;
    this.heldWrite[this.heldCount++] = write;
  }

  /**
   * After a failure: release every pin the operation still holds, pages pinned for writing
   * as dirty (they may be half changed, so the transaction's rollback must discard them).
   */
  private released(e: unknown): unknown {
    while (this.heldCount > 0) {
      this.heldCount--;
      try {
        this.pager.unpin(this.held[this.heldCount], this.heldWrite[this.heldCount]);
      } catch {
        // The pager is closed or dead: nothing is pinned any more.
      }
    }
    return e;
  }

  private checkWritable(): void {
    if (this.committed) throw this.argError("a committed view of the tree cannot be written");
  }

  /**
   * Walk from the root to the leaf where `key` belongs, recording the path; `found` holds
   * the leaf index. Pins one page at a time and allocates nothing.
   */
  private descend(key: Uint8Array): number {
    const f = this.descendPinned(key);
    const pgno = f.pgno;
    this.unpin(f);
    return pgno;
  }

  /** descend(), returning the leaf still pinned for reading: the caller unpins it. */
  private descendPinned(key: Uint8Array): Frame {
    let pgno = this.root();
    for (let depth = 0; depth < TREE_DEPTH_MAX; depth++) {
      const f = this.readNode(pgno, 0);
      const d = f.data;
      if (!search(d, key, key.length, this.found)) {
        const i = this.found.index;
        const problem = cellProblem(d, i, this.keyBytesMax);
        throw this.corrupt(pgno, problem ?? `cell ${i} lies outside the page`);
      }
      this.pathPages[depth] = pgno;
      this.pathIndex[depth] = this.found.index;
      if (kind(d) === KIND_LEAF) {
        this.depth = depth + 1;
        return f;
      }
      const child = childAt(d, this.found.index);
      this.unpin(f);
      pgno = this.pointer(pgno, child, "a child pointer");
    }
    throw this.corrupt(pgno, `lies deeper than ${TREE_DEPTH_MAX} levels`);
  }

  // Positioning: each of these leaves its answer in `cursor` (leaf 0 when there is no such
  // entry), so a range step allocates no tuple.

  /** First entry >= key (> key when `open`). */
  private seekFrom(key: Uint8Array, open: boolean): void {
    const leaf = this.descend(key);
    const index = this.found.exact && open ? this.found.index + 1 : this.found.index;
    this.settleForward(leaf, index);
  }

  /** Last entry <= key (< key when `open`). */
  private seekBefore(key: Uint8Array, open: boolean): void {
    const leaf = this.descend(key);
    const index = this.found.exact && !open ? this.found.index : this.found.index - 1;
    if (index >= 0) this.place(leaf, index);
    else this.previousLeafEnd();
  }

  /** The last entry of the tree. */
  private lastEntry(): void {
    let pgno = this.root();
    for (let depth = 0; depth < TREE_DEPTH_MAX; depth++) {
      const f = this.readNode(pgno, 0);
      const d = f.data;
      const k = kind(d);
      const n = count(d);
      this.pathPages[depth] = pgno;
      this.pathIndex[depth] = n;
      const child = right(d);
      this.unpin(f);
      if (k === KIND_LEAF) {
        this.depth = depth + 1;
        if (n > 0) this.place(pgno, n - 1);
        else this.previousLeafEnd();
        return;
      }
      pgno = this.pointer(pgno, child, "the rightmost child pointer");
    }
    throw this.corrupt(pgno, `lies deeper than ${TREE_DEPTH_MAX} levels`);
  }

  /** From the leaf at the end of the recorded path, the last entry of an earlier leaf. */
  private previousLeafEnd(): void {
    // Each round visits one more leaf to the left: more rounds than pages is a cycle.
    for (let round = 0; ; round++) {
      let level = this.depth - 2;
      while (level >= 0 && this.pathIndex[level] === 0) level--;
      if (level < 0) {
        this.place(0, -1);
        return;
      }
      const parent = this.pathPages[level];
      if (round > this.pager.pageCount) {
        throw this.corrupt(
          parent,
          "leads a reverse walk through more leaves than the file has pages",
        );
      }
      // Down the left neighbour's subtree along rightmost children.
      let f = this.readNode(parent, KIND_INTERIOR);
      const at = this.pathIndex[level] - 1;
      let pgno = at < count(f.data) ? childAt(f.data, at) : 0;
      this.unpin(f);
      pgno = this.pointer(parent, pgno, "a child pointer");
      this.pathIndex[level]--;
      for (let depth = level + 1; ; depth++) {
        if (depth >= TREE_DEPTH_MAX)
          throw this.corrupt(pgno, `lies deeper than ${TREE_DEPTH_MAX} levels`);
        f = this.readNode(pgno, 0);
        const d = f.data;
        const n = count(d);
        this.pathPages[depth] = pgno;
        this.pathIndex[depth] = n;
        const leaf = kind(d) === KIND_LEAF;
        const child = right(d);
        this.unpin(f);
        if (leaf) {
          this.depth = depth + 1;
          if (n > 0) {
            this.place(pgno, n - 1);
            return;
          }
          break; // an empty leaf: keep going left
        }
        pgno = this.pointer(pgno, child, "the rightmost child pointer");
      }
    }
  }

  /** `index` in `leaf` if it is inside the leaf, else the first entry of a later leaf. */
  private settleForward(leaf: number, index: number): void {
    let pgno = leaf;
    let i = index;
    for (let hops = 0; pgno !== 0; hops++) {
      if (hops > this.pager.pageCount) throw this.corrupt(leaf, "starts a leaf chain with a cycle");
      const f = this.readNode(pgno, KIND_LEAF);
      const n = count(f.data);
      const next = right(f.data);
      this.unpin(f);
      if (i < n) {
        this.place(pgno, i);
        return;
      }
      if (next !== 0) this.pointer(pgno, next, "the right sibling pointer");
      pgno = next;
      i = 0;
    }
    this.place(0, -1);
  }

  private place(leaf: number, index: number): void {
    this.cursor.leaf = leaf;
    this.cursor.index = index;
  }

  /**
   * Copy entries of `leaf` from `index` on (down when `reverse`) into `out`: at most `max`,
   * stopping at the leaf's end, past `bound` (inclusive unless `open`), or before an overflow
   * value unless it comes first (it is then the only entry). Leaves the next entry's place in
   * `cursor`; returns true when `bound` was passed (the range is done). One pin at a time.
   */
  private copyLeaf(
    leaf: number,
    index: number,
    reverse: boolean,
    bound: Uint8Array | undefined,
    open: boolean,
    max: number,
    out: [Uint8Array, Uint8Array][],
  ): boolean {
    const f = this.readNode(leaf, KIND_LEAF);
    const d = f.data;
    const n = count(d);
    const step = reverse ? -1 : 1;
    const passed = reverse ? (open ? 0 : 1) : open ? 0 : -1;
    let i = index;
    let overflow = false;
    for (; i >= 0 && i < n && out.length < max && out.length < LEAF_COPY_MAX; i += step) {
      this.checkCell(f, i);
      const off = keyOffsetAt(d, i);
      const len = keyLengthAt(d, i);
      if (bound !== undefined) {
        const c = cmp(bound, d, off, len);
        if (reverse ? c >= passed : c <= passed) {
          this.unpin(f);
          return true;
        }
      }
      const cell = cellAt(d, i);
      const word = leafValueWord(d, cell);
      if (word >= OVERFLOW_FLAG) {
        overflow = out.length === 0;
        if (overflow) out.push([copyOut(d, off, off + len), EMPTY]);
        break;
      }
      // The value follows the key in the cell (see node.ts): one copy takes both.
      assert(leafValueOffset(d, cell) === off + len, "a leaf value does not follow its key");
      out.push(copyEntry(d, off, len, word));
    }
    const firstKey = out.length > 0 ? out[0][0] : null;
    const next = right(d);
    this.unpin(f);
    if (next !== 0) this.pointer(leaf, next, "the right sibling pointer");
    if (overflow) {
      out[0][1] = this.readValue(leaf, i);
      i += step;
    }
    // The next place: inside this leaf, or across to the neighbour.
    if (i >= 0 && i < n) this.place(leaf, i);
    else if (!reverse) this.settleForward(next, 0);
    else if (firstKey === null) this.place(0, -1);
    else {
      this.descend(firstKey); // records the path to this leaf
      this.previousLeafEnd();
    }
    return false;
  }

  // ---- internals: values ----

  private readValue(leaf: number, index: number): Uint8Array {
    const f = this.readNode(leaf, KIND_LEAF);
    if (index >= count(f.data)) throw this.corrupt(leaf, `has no cell ${index} any more`);
    return this.valueOf(f, index);
  }

  /** A copy of the value of cell `index` of leaf `f`, which is pinned: this unpins it. */
  private valueOf(f: Frame, index: number): Uint8Array {
    const leaf = f.pgno;
    const d = f.data;
    this.checkCell(f, index);
    const off = cellAt(d, index);
    const word = leafValueWord(d, off);
    if (word < OVERFLOW_FLAG) {
      const at = leafValueOffset(d, off);
      const value = copyOut(d, at, at + word);
      this.unpin(f);
      return value;
    }
    const length = word - OVERFLOW_FLAG;
    let pgno = readU32(d, leafValueOffset(d, off));
    this.unpin(f);
    // The length is checked before it is allocated, the chain against it as it is read.
    const pages = Math.ceil(length / this.overflowPayload);
    if (length > VALUE_BYTES_MAX || pages >= this.pager.pageCount) {
      throw this.corrupt(
        leaf,
        `cell ${index} holds an overflow value of ${length} bytes (${pages} pages), ` +
          `more than the maximum ${VALUE_BYTES_MAX} or than the file's ${this.pager.pageCount} pages`,
      );
    }
    const value = new Uint8Array(length);
    let from = leaf;
    let done = 0;
    while (done < length) {
      if (pgno === 0) {
        throw this.corrupt(
          from,
          `ends the overflow chain of a ${length}-byte value at byte ${done}`,
        );
      }
      this.pointer(from, pgno, "an overflow pointer");
      const o = this.read(pgno);
      if (kind(o.data) !== KIND_OVERFLOW) {
        throw this.corrupt(pgno, `kind ${kind(o.data)} in an overflow chain (from page ${from})`);
      }
      const n = Math.min(this.overflowPayload, length - done);
      value.set(o.data.subarray(NODE_HEADER_BYTES, NODE_HEADER_BYTES + n), done);
      done += n;
      const next = right(o.data);
      this.unpin(o);
      from = pgno;
      pgno = next;
    }
    if (pgno !== 0) {
      throw this.corrupt(
        from,
        `continues the overflow chain of a ${length}-byte value past its end`,
      );
    }
    return value;
  }

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
    const level = this.depth - 2;
    if (level < 0) return false;
    const parent = this.pathPages[level];
    const pf = this.writeNode(parent, KIND_INTERIOR);
    const pd = pf.data;
    const at = this.pathIndex[level];
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
   * when no way to cut fits the pages and the parent.
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
    const oldL = this.copy;
    const oldR = this.copy2;
    oldL.set(ld);
    oldR.set(rd);
    const srcs = this.dealtSrc;
    const offs = this.dealtOff;
    srcs.length = 0;
    offs.length = 0;
    const gather = (src: Uint8Array, newAt: number) => {
      const k = count(src);
      for (let i = 0; i <= k; i++) {
        if (i === newAt) {
          srcs.push(this.cell);
          offs.push(0);
        }
        if (i < k) {
          srcs.push(src);
          offs.push(cellAt(src, i));
        }
      }
    };
    gather(oldL, newLeft);
    gather(oldR, newRight);
    const bytes = (i: number) =>
      spaceNeeded(srcs[i] === this.cell ? cellLen : leafCellBytes(srcs[i], offs[i]));
    const total = srcs.length;
    let sum = 0;
    for (let i = 0; i < total; i++) sum += bytes(i);
    const room = this.usable - NODE_HEADER_BYTES;
    const parts = three ? 3 : 2;
    // Cut points: each page takes cells while it stays within its share of the bytes,
    // then more while what is left would not fit the pages after it.
    const cuts = this.cuts;
    let i = 0;
    let before = 0;
    for (let p = 1; p < parts; p++) {
      let used = 0;
      while (i < total && before + used + bytes(i) <= (sum * p) / parts) used += bytes(i++);
      while (i < total && sum - before - used > room * (parts - p)) used += bytes(i++);
      if (used === 0 || used > room || i === total) return false;
      cuts[p] = i;
      before += used;
    }
    if (sum - before > room) return false;
    cuts[0] = 0;
    cuts[parts] = total;
    const m = cuts[1];
    const keyLen = readU16(srcs[m], offs[m]);
    const oldSep = cellAt(pd, sep);
    const newSepBytes = INTERIOR_CELL_HEADER_BYTES + keyLen;
    if (freeBytes(pd) + interiorCellBytes(pd, oldSep) < newSepBytes) return false;
    // Rebuild the pages; the chain runs left -> right (-> third) -> the right's old next.
    const tf = three ? this.allocate() : null;
    const pages = this.dealtPages;
    pages[0] = ld;
    pages[1] = rd;
    pages[2] = tf === null ? rd : tf.data;
    initNode(ld, KIND_LEAF);
    setRight(ld, rf.pgno);
    initNode(rd, KIND_LEAF);
    setRight(rd, tf === null ? right(oldR) : tf.pgno);
    if (tf !== null) {
      initNode(tf.data, KIND_LEAF);
      setRight(tf.data, right(oldR));
    }
    for (let p = 0; p < parts; p++) {
      const dst = pages[p];
      for (let c = cuts[p]; c < cuts[p + 1]; c++) {
        if (srcs[c] === this.cell) {
          dst.set(
            this.cell.subarray(0, cellLen),
            insertCell(dst, count(dst), cellLen, this.scratch),
          );
        } else {
          appendCellFrom(dst, srcs[c], offs[c], this.scratch);
        }
      }
    }
    const child = interiorChild(pd, oldSep);
    removeCell(pd, sep);
    const keyOff = leafKeyOffset(offs[m]);
    const key = srcs[m].subarray(keyOff, keyOff + keyLen);
    writeInteriorCell(pd, insertCell(pd, sep, newSepBytes, this.scratch), child, key);
    if (tf !== null) {
      const k = keyOffsetAt(tf.data, 0);
      this.third.key = tf.data.slice(k, k + keyLengthAt(tf.data, 0));
      this.third.pgno = tf.pgno;
      this.third.after = rf.pgno;
      this.unpin(tf, true);
    }
    srcs.length = 0;
    return true;
  }

  /** After deal(three): add the third page's separator to the parent at `level`. */
  private postThird(level: number, rightIndex: number): void {
    const t = this.third;
    this.pathIndex[level] = rightIndex; // the right page's place: the third goes after it
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
    this.postSeparator(this.depth - 2, pgno, sep, siblingPgno);
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
    const pgno = this.pathPages[level];
    const index = this.pathIndex[level];
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
    const pgno = this.pathPages[level];
    const f = this.readNode(pgno, 0);
    const k = kind(f.data);
    const underfull = usedBytes(f.data) < (this.usable - NODE_HEADER_BYTES) * UNDERFULL_SHARE;
    this.unpin(f);
    if (!underfull) return;
    const parentPgno = this.pathPages[level - 1];
    const pf = this.writeNode(parentPgno, KIND_INTERIOR);
    const pd = pf.data;
    if (count(pd) === 0) {
      this.unpin(pf);
      return;
    }
    const index = Math.min(this.pathIndex[level - 1], count(pd));
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

  private checkKey(key: Uint8Array): void {
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
    return new PagekvError("ERR_CORRUPT", `${this.pager.path}: page ${pgno}: ${what}`, {
      path: this.pager.path,
      pgno,
    });
  }
}

const EMPTY = new Uint8Array(0);

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

function cmp(key: Uint8Array, d: Uint8Array, off: number, len: number): number {
  return compareKey(key, key.length, d, off, len);
}

function compareBytes(a: Uint8Array, b: Uint8Array): number {
  return compareKey(a, a.length, b, 0, b.length);
}
