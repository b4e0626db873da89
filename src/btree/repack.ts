// Packing leaves full (compaction's first pass, docs/design/compact.md): after a large
// delete the leaves are left between a quarter and a half full (a delete merges a leaf only
// below UNDERFULL_SHARE), so moving pages alone would keep a file several times its data.
// This walk goes through the leaves of each parent in key order and moves the cells of
// each leaf's right neighbour into it while they fit: a neighbour emptied is merged (its
// separator leaves the parent, its page is freed), one left with cells gets its new first
// key as separator. It never begins or ends a transaction: the caller runs step() inside
// one, and commits between steps.
//
// Invariants:
//   - only leaves and their parents change, and no page is allocated: the page numbers on
//     the walk's stack stay valid across steps, and the index into the current parent is
//     exact (the walk made every change to it);
//   - a step does at most `unitsMax` units (one pair of neighbours each: three pages
//     dirtied at most) and holds no pin when it returns or throws;
//   - a separator is replaced only when the parent has room for the new one: nothing is
//     changed for a pair that would need a split;
//   - the walk's stack is at most TREE_DEPTH_MAX deep; every page number it reads is
//     checked to lie in 2..pageCount.

import { assert } from "../errors.js";
import { writeU16, writeU32 } from "../format/codec.js";
import type { Frame, Pager } from "../pager/pager.js";
import { Cursor, TREE_DEPTH_MAX } from "./cursor.js";
import {
  appendCellFrom,
  cellAt,
  cellBytes,
  childAt,
  count,
  freeBytes,
  INTERIOR_CELL_HEADER_BYTES,
  initNode,
  insertCell,
  interiorCellBytes,
  interiorChild,
  KIND_INTERIOR,
  KIND_LEAF,
  keyLengthAt,
  keyOffsetAt,
  kind,
  removeCell,
  right,
  setChildAt,
  setRight,
  spaceNeeded,
} from "./node.js";

export class Repacker {
  /** Leaves emptied into their left neighbour and freed. */
  merged = 0;
  /** Pairs whose cells moved without emptying the right one. */
  shifted = 0;
  /** Interior roots with one child taken out. */
  collapsed = 0;
  done = false;
  private readonly pager: Pager;
  private readonly rootSlot: number;
  private readonly cur: Cursor;
  private readonly stackPages = new Uint32Array(TREE_DEPTH_MAX);
  /** Per interior node: the next child to descend into, or (a parent of leaves) the left one. */
  private readonly stackIndex = new Int32Array(TREE_DEPTH_MAX);
  private depth = 0;
  private started = false;
  private readonly old: Uint8Array;
  private readonly scratch: Uint8Array;

  constructor(pager: Pager, rootSlot: number) {
    this.pager = pager;
    this.rootSlot = rootSlot;
    this.cur = new Cursor(pager, rootSlot, pager.pageSize / 16, pager);
    this.old = new Uint8Array(pager.usableSize);
    this.scratch = new Uint8Array(pager.usableSize);
  }

  /** Go on inside the caller's transaction, at most `unitsMax` pairs; returns the units done. */
  step(unitsMax: number): number {
    assert(Number.isSafeInteger(unitsMax) && unitsMax > 0, "repack step of no units");
    let units = 0;
    try {
      if (!this.started) this.start();
      while (!this.done && units < unitsMax) {
        if (this.depth === 0) {
          this.collapseRoot();
          this.done = true;
        } else if (this.unit()) {
          units++;
        }
      }
    } catch (e) {
      throw this.cur.released(e);
    }
    assert(this.cur.pinned === 0, "a repack step ended with pages pinned");
    return units;
  }

  private start(): void {
    this.started = true;
    const root = this.pager.getSlot(this.rootSlot);
    if (root === 0) {
      this.done = true;
      return;
    }
    this.cur.pointer(1, root, "the root slot");
    const f = this.cur.readNode(root, 0);
    const interior = kind(f.data) === KIND_INTERIOR;
    this.cur.unpin(f);
    if (!interior) {
      this.done = true; // one leaf: nothing to pack it with
      return;
    }
    this.push(root);
  }

  private push(pgno: number): void {
    if (this.depth === TREE_DEPTH_MAX) {
      throw this.cur.corrupt(pgno, `the tree is deeper than ${TREE_DEPTH_MAX}`);
    }
    this.stackPages[this.depth] = pgno;
    this.stackIndex[this.depth] = 0;
    this.depth++;
  }

  /** One step of the walk; true when it was a pair of leaves (a unit of the budget). */
  private unit(): boolean {
    const top = this.depth - 1;
    const pgno = this.stackPages[top];
    const i = this.stackIndex[top];
    const f = this.cur.readNode(pgno, KIND_INTERIOR);
    const d = f.data;
    const n = count(d);
    const first = this.cur.pointer(pgno, childAt(d, 0), "a child pointer");
    this.cur.unpin(f);
    const c = this.cur.readNode(first, 0);
    const leaves = kind(c.data) === KIND_LEAF;
    this.cur.unpin(c);
    if (!leaves) {
      if (i > n) {
        this.depth--;
        return false;
      }
      this.stackIndex[top] = i + 1;
      const rf = this.cur.readNode(pgno, KIND_INTERIOR);
      const child = childAt(rf.data, i);
      this.cur.unpin(rf);
      this.push(this.cur.pointer(pgno, child, "a child pointer"));
      return false;
    }
    if (i >= n) {
      this.depth--; // no right neighbour under this parent
      return false;
    }
    if (!this.pack(pgno, i)) this.stackIndex[top] = i + 1;
    return true;
  }

  /**
   * Move the cells of child i + 1 of `parent` into child i while they fit. Returns true when
   * child i + 1 was emptied and merged (child i then takes the next neighbour), false when
   * the walk goes on with child i + 1 as the left one.
   */
  private pack(parent: number, i: number): boolean {
    // Decided on read pins: a pair that stays as it is dirties nothing (and a compact() with
    // nothing to do commits nothing).
    const k = this.cellsToMove(parent, i);
    if (k === 0) return false;
    const pf = this.write(parent, KIND_INTERIOR);
    const pd = pf.data;
    const leftPgno = childAt(pd, i);
    const rightPgno = childAt(pd, i + 1);
    const lf = this.write(leftPgno, KIND_LEAF);
    const rf = this.write(rightPgno, KIND_LEAF);
    const ld = lf.data;
    const rd = rf.data;
    const rn = count(rd);
    if (k === rn) {
      for (let c = 0; c < rn; c++) appendCellFrom(ld, rd, cellAt(rd, c), this.scratch);
      setRight(ld, right(rd));
      setChildAt(pd, i + 1, leftPgno);
      removeCell(pd, i);
      this.release(pf, lf, rf, true);
      this.pager.free(rightPgno);
      this.merged++;
      return true;
    }
    // The right leaf keeps cells k..: its first key becomes the separator (room checked).
    const old = this.old;
    old.set(rd);
    for (let c = 0; c < k; c++) appendCellFrom(ld, old, cellAt(old, c), this.scratch);
    initNode(rd, KIND_LEAF);
    setRight(rd, right(old));
    for (let c = k; c < rn; c++) appendCellFrom(rd, old, cellAt(old, c), this.scratch);
    const keyLen = keyLengthAt(old, k);
    const sepOff = cellAt(pd, i);
    const child = interiorChild(pd, sepOff);
    removeCell(pd, i);
    const at = insertCell(pd, i, INTERIOR_CELL_HEADER_BYTES + keyLen, this.scratch);
    writeU32(pd, at, child);
    writeU16(pd, at + 4, keyLen);
    const keyAt = keyOffsetAt(old, k);
    pd.set(old.subarray(keyAt, keyAt + keyLen), at + INTERIOR_CELL_HEADER_BYTES);
    this.release(pf, lf, rf, true);
    this.shifted++;
    return false;
  }

  /**
   * How many of the first cells of child i + 1 of `parent` fit at the end of child i: all of
   * them (a merge), some (when the parent has room for the new separator), or 0.
   */
  private cellsToMove(parent: number, i: number): number {
    const pf = this.cur.readNode(parent, KIND_INTERIOR);
    const pd = pf.data;
    const leftPgno = this.cur.pointer(parent, childAt(pd, i), "a child pointer");
    const rightPgno = this.cur.pointer(parent, childAt(pd, i + 1), "a child pointer");
    if (leftPgno === rightPgno || leftPgno === parent || rightPgno === parent) {
      this.cur.unpin(pf);
      throw this.cur.corrupt(parent, `lists page ${rightPgno} twice or as its own child`);
    }
    const lf = this.cur.readNode(leftPgno, KIND_LEAF);
    const rf = this.cur.readNode(rightPgno, KIND_LEAF);
    const ld = lf.data;
    const rd = rf.data;
    const was = right(ld);
    const rn = count(rd);
    let room = freeBytes(ld);
    let k = 0;
    while (k < rn && spaceNeeded(cellBytes(rd, cellAt(rd, k))) <= room) {
      room -= spaceNeeded(cellBytes(rd, cellAt(rd, k)));
      k++;
    }
    const sepRoom = freeBytes(pd) + interiorCellBytes(pd, cellAt(pd, i));
    const sepBytes = k < rn ? INTERIOR_CELL_HEADER_BYTES + keyLengthAt(rd, k) : 0;
    this.cur.unpin(rf);
    this.cur.unpin(lf);
    this.cur.unpin(pf);
    if (was !== rightPgno) {
      throw this.cur.corrupt(leftPgno, `right sibling ${was}, expected ${rightPgno}`);
    }
    return k < rn && sepRoom < sepBytes ? 0 : k;
  }

  /** A root left with one child (every leaf under it merged into one) gives way to it. */
  private collapseRoot(): void {
    for (let hops = 0; hops < TREE_DEPTH_MAX; hops++) {
      const root = this.pager.getSlot(this.rootSlot);
      if (root === 0) return;
      const f = this.cur.readNode(root, 0);
      const only = kind(f.data) === KIND_INTERIOR && count(f.data) === 0 ? right(f.data) : 0;
      this.cur.unpin(f);
      if (only === 0) return;
      this.cur.pointer(root, only, "the only child pointer");
      this.pager.setSlot(this.rootSlot, only);
      this.pager.free(root);
      this.collapsed++;
    }
  }

  private release(pf: Frame, lf: Frame, rf: Frame, dirty: boolean): void {
    this.cur.unpin(rf, dirty);
    this.cur.unpin(lf, dirty);
    this.cur.unpin(pf, dirty);
  }

  private write(pgno: number, expect: number): Frame {
    const f = this.cur.write(pgno);
    this.cur.checkNode(f, expect);
    return f;
  }
}
