// Moving live pages down (compaction, docs/design/compact.md): a depth-first walk of the
// tree that copies every live page past the target into a free page below it and rewrites
// the one pointer that names it (a parent's child, the root slot, a left sibling's link, a
// leaf cell's first overflow page, the previous overflow page's link). It never begins or
// ends a transaction: the caller runs step() inside one, and commits between steps.
//
// Invariants:
//   - the nodes on the walk's stack, the previous leaf and the chain's previous page are at
//     their final page numbers (a page is moved before the walk goes into it), and the
//     walk's state is exact between two steps: only the walk changed the tree since it read
//     those pages;
//   - a step makes at most `movesMax` moves, allocates every new page before it frees any
//     old one (the pager hands out free pages lowest first only until the next free()), and
//     holds no pin when it returns or throws;
//   - every page number read from a page is checked to lie in 2..pageCount, the stack is at
//     most TREE_DEPTH_MAX deep and a chain walk is bounded by the page count: damage is
//     ERR_CORRUPT naming the page, never a loop.

import { assert } from "../errors.js";
import { readU32, writeU32 } from "../format/codec.js";
import type { Frame, Pager } from "../pager/pager.js";
import { Cursor, TREE_DEPTH_MAX } from "./cursor.js";
import {
  cellAt,
  childAt,
  count,
  KIND_INTERIOR,
  KIND_LEAF,
  KIND_OVERFLOW,
  kind,
  leafValueOffset,
  leafValueWord,
  OVERFLOW_FLAG,
  right,
  setChildAt,
  setRight,
} from "./node.js";

/**
 * Pages one compaction transaction moves at most: with each move's pointer page and a
 * leaf's left sibling, the transaction dirties at most about three times as many pages.
 */
export const COMPACT_MOVES_PER_TXN = 256;

export class Relocator {
  /** Live pages the file needs (page 1 included): the page count compaction ends at. */
  readonly target: number;
  /** Live pages past the target when the walk began: what it has to move. */
  readonly wanted: number;
  /** Pages moved so far. */
  moved = 0;
  /** Every page past the target was moved, or the walk visited the whole tree. */
  done: boolean;
  private readonly pager: Pager;
  private readonly rootSlot: number;
  private readonly cur: Cursor;
  /** Interior nodes from the root down, and the next child index of each. */
  private readonly stackPages = new Uint32Array(TREE_DEPTH_MAX);
  private readonly stackIndex = new Int32Array(TREE_DEPTH_MAX);
  private depth = 0;
  private started = false;
  /** The last leaf visited (the next one's left sibling), 0 before the first. */
  private prevLeaf = 0;
  /** The leaf whose cells the walk is going through (0: none), and the cell. */
  private leaf = 0;
  private cell = 0;
  /** In an overflow chain: the page that names `chainNext` (0: the leaf's cell). */
  private chainPrev = 0;
  /** The next chain page to look at; 0 when not in a chain. */
  private chainNext = 0;
  private chainHops = 0;
  /** Pages moved in this step, freed at its end. */
  private readonly moves: number[] = [];

  /** A walk of the tree in `rootSlot` of `pager`, to the target of its state now. */
  constructor(pager: Pager, rootSlot: number) {
    this.pager = pager;
    this.rootSlot = rootSlot;
    this.cur = new Cursor(pager, rootSlot, pager.pageSize / 16, pager);
    const free = pager.freePageNumbers();
    this.target = pager.pageCount - free.length;
    let low = 0;
    for (const p of free) if (p <= this.target) low++;
    // Free slots below the target = live pages above it (the low part has target slots).
    this.wanted = low;
    this.done = low === 0;
  }

  /**
   * Go on with the walk inside the caller's transaction, moving at most `movesMax` pages
   * (the caller made the pager hand out free pages lowest first: reuseLowestFirst()).
   * Returns the pages moved by this step.
   */
  step(movesMax: number): number {
    assert(Number.isSafeInteger(movesMax) && movesMax > 0, "relocate step of no moves");
    const moves = this.moves;
    moves.length = 0;
    try {
      if (!this.started) this.start();
      while (!this.done && moves.length < movesMax) {
        if (this.moved === this.wanted) this.done = true;
        else if (this.leaf !== 0) this.leafUnit();
        else if (this.depth > 0) this.interiorUnit();
        else this.done = true; // the whole tree visited
      }
      // Allocations are over: the moved pages go to the freelist now (compact.md).
      for (const pgno of moves) this.pager.free(pgno);
    } catch (e) {
      throw this.cur.released(e);
    }
    assert(this.cur.pinned === 0, "a relocate step ended with pages pinned");
    return moves.length;
  }

  // ---- the walk ----

  private start(): void {
    this.started = true;
    let root = this.pager.getSlot(this.rootSlot);
    if (root === 0) {
      this.done = true;
      return;
    }
    this.cur.pointer(1, root, "the root slot");
    let from = 0;
    if (root > this.target) {
      from = root;
      root = this.move(root, 0);
      this.pager.setSlot(this.rootSlot, root);
    }
    this.visit(root, from);
  }

  /** The next child of the deepest interior node: moved down if past the target, visited. */
  private interiorUnit(): void {
    const top = this.depth - 1;
    const pgno = this.stackPages[top];
    const i = this.stackIndex[top];
    const f = this.cur.readNode(pgno, KIND_INTERIOR);
    const n = count(f.data);
    const child = i <= n ? childAt(f.data, i) : 0;
    this.cur.unpin(f);
    if (i > n) {
      this.depth--;
      return;
    }
    this.cur.pointer(pgno, child, "a child pointer");
    this.stackIndex[top] = i + 1;
    if (child <= this.target) {
      this.visit(child, 0);
      return;
    }
    const to = this.move(child, 0);
    const pf = this.write(pgno, KIND_INTERIOR);
    if (childAt(pf.data, i) !== child) {
      this.cur.unpin(pf, true);
      throw this.cur.corrupt(pgno, `child ${i} changed under compaction`);
    }
    setChildAt(pf.data, i, to);
    this.cur.unpin(pf, true);
    this.visit(to, child);
  }

  /**
   * A node at its final page `pgno` (moved from `from`, 0: not moved): an interior node goes
   * on the stack; a leaf's left sibling is pointed at it, and its cells come next.
   */
  private visit(pgno: number, from: number): void {
    const f = this.cur.readNode(pgno, 0);
    const leaf = kind(f.data) === KIND_LEAF;
    this.cur.unpin(f);
    if (!leaf) {
      if (this.depth === TREE_DEPTH_MAX) {
        throw this.cur.corrupt(pgno, `the tree is deeper than ${TREE_DEPTH_MAX}`);
      }
      this.stackPages[this.depth] = pgno;
      this.stackIndex[this.depth] = 0;
      this.depth++;
      return;
    }
    if (from !== 0 && this.prevLeaf !== 0) {
      const lf = this.write(this.prevLeaf, KIND_LEAF);
      if (right(lf.data) !== from) {
        const was = right(lf.data);
        this.cur.unpin(lf, true);
        throw this.cur.corrupt(
          this.prevLeaf,
          `right sibling ${was}, expected ${from} (the next leaf in key order)`,
        );
      }
      setRight(lf.data, pgno);
      this.cur.unpin(lf, true);
    }
    this.leaf = pgno;
    this.cell = 0;
    this.chainNext = 0;
  }

  /** One cell of the current leaf, or one page of the overflow chain it is in. */
  private leafUnit(): void {
    const leaf = this.leaf;
    if (this.chainNext === 0) {
      const f = this.cur.readNode(leaf, KIND_LEAF);
      const d = f.data;
      if (this.cell >= count(d)) {
        this.cur.unpin(f);
        this.prevLeaf = leaf;
        this.leaf = 0;
        return;
      }
      this.cur.checkCell(f, this.cell);
      const off = cellAt(d, this.cell);
      const first =
        leafValueWord(d, off) >= OVERFLOW_FLAG ? readU32(d, leafValueOffset(d, off)) : 0;
      this.cur.unpin(f);
      if (first === 0) {
        this.cell++;
        return;
      }
      this.chainPrev = 0;
      this.chainHops = 0;
      this.chainNext = this.cur.pointer(leaf, first, "an overflow pointer");
      return;
    }
    if (this.chainHops++ > this.pager.pageCount) {
      throw this.cur.corrupt(leaf, `cell ${this.cell} starts an overflow chain with a cycle`);
    }
    let pgno = this.chainNext;
    if (pgno > this.target) {
      const to = this.move(pgno, KIND_OVERFLOW);
      this.pointChainAt(pgno, to);
      pgno = to;
    }
    const f = this.cur.read(pgno);
    const k = kind(f.data);
    const next = right(f.data);
    this.cur.unpin(f);
    if (k !== KIND_OVERFLOW) {
      throw this.cur.corrupt(pgno, `kind ${k} in an overflow chain (from leaf ${leaf})`);
    }
    this.chainPrev = pgno;
    if (next === 0) {
      this.chainNext = 0;
      this.cell++;
    } else {
      this.chainNext = this.cur.pointer(pgno, next, "an overflow pointer");
    }
  }

  /** The chain page `from` moved to `to`: its leaf cell or previous page names `to`. */
  private pointChainAt(from: number, to: number): void {
    if (this.chainPrev !== 0) {
      const f = this.write(this.chainPrev, 0);
      const was = right(f.data);
      if (was === from) setRight(f.data, to);
      this.cur.unpin(f, true);
      if (was !== from)
        throw this.cur.corrupt(this.chainPrev, `next page ${was}, expected ${from}`);
      return;
    }
    const f = this.write(this.leaf, KIND_LEAF);
    const d = f.data;
    const at = leafValueOffset(d, cellAt(d, this.cell));
    const was = readU32(d, at);
    if (was === from) writeU32(d, at, to);
    this.cur.unpin(f, true);
    if (was !== from) {
      throw this.cur.corrupt(
        this.leaf,
        `cell ${this.cell}'s first overflow page ${was}, expected ${from}`,
      );
    }
  }

  // ---- pages ----

  /**
   * Copy page `from` (a node, or with KIND_OVERFLOW an overflow page) into the lowest free
   * page, which lies below the target; `from` is freed at the end of the step.
   */
  private move(from: number, expect: number): number {
    const src = expect === KIND_OVERFLOW ? this.cur.read(from) : this.cur.readNode(from, expect);
    if (expect === KIND_OVERFLOW && kind(src.data) !== KIND_OVERFLOW) {
      const k = kind(src.data);
      this.cur.unpin(src);
      throw this.cur.corrupt(from, `kind ${k} in an overflow chain (from leaf ${this.leaf})`);
    }
    const dst = this.pager.allocate();
    this.cur.track(dst, true);
    // Free slots below the target are exactly the pages still to move (see the constructor).
    assert(dst.pgno <= this.target, `compaction allocated page ${dst.pgno} past ${this.target}`);
    dst.data.set(src.data);
    const to = dst.pgno;
    this.cur.unpin(src);
    this.cur.unpin(dst, true);
    this.moves.push(from);
    this.moved++;
    return to;
  }

  /** Pin `pgno` for writing (a node of kind `expect` when not 0: checked as the tree does). */
  private write(pgno: number, expect: number): Frame {
    const f = this.cur.write(pgno);
    if (expect !== 0) this.cur.checkNode(f, expect);
    return f;
  }
}
