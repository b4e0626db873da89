// A range over a B+tree: the iterator BTree.entries() returns. Entries are copied out of
// one leaf at a time (Cursor.copyLeaf: one pin per leaf, not three per entry) and handed
// out one per next(), as copies the caller owns. A hand-written iterator, not a generator:
// in a profile of scans of 100 short entries the generator's own frame took 13% of the
// time, and this class made the scans 7-9% faster (an in-process A/B of the two builds).
//
// Invariants:
//   - the iterator holds no pin between two calls (copyLeaf unpins what it pinned);
//   - it owns its cursor from its first next() until it ends (done, return(), a throw),
//     then gives it back to the tree, once;
//   - keys come out strictly ascending (descending for reverse): a leaf or leaf chain out
//     of order is reported as damage, which also bounds a range over a cyclic chain;
//   - reading the live tree, a change to it between two entries drops the rest of the
//     copied leaf and finds the place again after the last key returned, so an entry is
//     never returned after the view changed under it. A fixed view (a snapshot) never
//     changes, and its place is found once.

import type { PageSource } from "../pager/page-source.js";
import type { Cursor } from "./cursor.js";
import { compareKey } from "./node.js";

/** What the range needs of its tree (BTree implements it). */
export interface RangeTree {
  /** Bumped by every change the tree makes. */
  readonly version: number;
  /** A cursor reading `source`, owned by the caller until giveBack(). */
  takeCursor(source: PageSource): Cursor;
  giveBack(at: Cursor): void;
}

/** The bounds and options of one range, as BTree.entries() resolved them. */
export interface RangeSpec {
  lo: Uint8Array | undefined;
  loOpen: boolean;
  hi: Uint8Array | undefined;
  hiOpen: boolean;
  reverse: boolean;
  limit: number;
  guard: (() => void) | undefined;
  source: PageSource;
  /** Reading the tree's own pager: follow its changes. */
  live: boolean;
}

const FRESH = 0;
const RUNNING = 1;
const DONE = 2;

const EMPTY = new Uint8Array(0);

export class TreeRange implements IterableIterator<[Uint8Array, Uint8Array]> {
  private readonly tree: RangeTree;
  private readonly spec: RangeSpec;
  private state = FRESH;
  private at: Cursor | null = null;
  private remaining: number;
  /** Entries copied from the leaf `from`, handed out from `next`. */
  private readonly batch: [Uint8Array, Uint8Array][] = [];
  private next_ = 0;
  private from = 0;
  /** The leaf after the batch says the range ends there. */
  private ended = false;
  /** The last key handed out. */
  private last: Uint8Array | null = null;
  /** Where the next copy starts (leaf 0: nowhere), valid while `seen` is the view's. */
  private leaf = 0;
  private index = -1;
  private seen = -1;
  /** The view's version when the last entry was handed out. */
  private handedAt = 0;

  constructor(tree: RangeTree, spec: RangeSpec) {
    this.tree = tree;
    this.spec = spec;
    this.remaining = spec.limit;
  }

  [Symbol.iterator](): this {
    return this;
  }

  next(): IteratorResult<[Uint8Array, Uint8Array]> {
    if (this.state === DONE) return { done: true, value: undefined };
    const spec = this.spec;
    try {
      if (this.state === FRESH) {
        this.at = this.tree.takeCursor(spec.source);
        this.state = RUNNING;
        // A range that yields nothing is still a use of its view: a closed one must say so.
        if (this.remaining <= 0) spec.guard?.();
      } else {
        // The caller is done with the last entry: the view must still be usable, and a
        // change since drops what is left of the copied leaf.
        spec.guard?.();
        if (this.version() !== this.handedAt) {
          this.seen = -1;
          this.ended = false;
          this.batch.length = 0;
          this.next_ = 0;
        }
      }
      for (;;) {
        if (this.next_ < this.batch.length) return this.handOut(this.batch[this.next_++]);
        this.batch.length = 0;
        this.next_ = 0;
        if (this.ended || this.remaining <= 0) return this.finish();
        spec.guard?.();
        if (!this.copyNext()) return this.finish();
      }
    } catch (e) {
      this.finish();
      throw e;
    }
  }

  return(): IteratorResult<[Uint8Array, Uint8Array]> {
    return this.finish();
  }

  /** The view's version: the tree's for the live pager, constant for a fixed one. Never -1. */
  private version(): number {
    return this.spec.live ? this.tree.version : 0;
  }

  private handOut(entry: [Uint8Array, Uint8Array]): IteratorResult<[Uint8Array, Uint8Array]> {
    const last = this.last;
    if (last !== null) {
      const c = compareBytes(entry[0], last);
      if (this.spec.reverse ? c >= 0 : c <= 0) {
        throw (this.at as Cursor).corrupt(
          this.from,
          `key order breaks in a ${this.spec.reverse ? "reverse " : ""}range (a leaf or the leaf chain is out of order)`,
        );
      }
    }
    this.last = entry[0];
    this.remaining--;
    this.handedAt = this.version();
    return { done: false, value: entry };
  }

  /** Copy the next leaf's entries into the batch; false when the range has no more. */
  private copyNext(): boolean {
    const at = this.at as Cursor;
    const spec = this.spec;
    try {
      const now = this.version();
      if (this.seen !== now) {
        // (Re)find our place: after the last key, or at the start bound.
        this.seen = now;
        if (at.root() === 0) return false;
        const last = this.last;
        if (spec.reverse) {
          const from = last ?? spec.hi;
          if (from === undefined) at.lastEntry();
          else at.seekBefore(from, last !== null || spec.hiOpen);
        } else {
          at.seekFrom(
            last ?? spec.lo ?? EMPTY,
            last !== null || (spec.lo !== undefined && spec.loOpen),
          );
        }
        this.leaf = at.leaf;
        this.index = at.index;
      }
      if (this.leaf === 0) return false;
      this.from = this.leaf;
      this.ended = at.copyLeaf(
        this.leaf,
        this.index,
        spec.reverse,
        spec.reverse ? spec.lo : spec.hi,
        spec.reverse ? spec.loOpen : spec.hiOpen,
        this.remaining,
        this.batch,
      );
      this.leaf = at.leaf;
      this.index = at.index;
      return true;
    } catch (e) {
      this.batch.length = 0;
      throw at.released(e);
    }
  }

  private finish(): IteratorResult<[Uint8Array, Uint8Array]> {
    this.state = DONE;
    this.batch.length = 0;
    const at = this.at;
    if (at !== null) {
      this.at = null;
      this.tree.giveBack(at);
    }
    return { done: true, value: undefined };
  }
}

function compareBytes(a: Uint8Array, b: Uint8Array): number {
  return compareKey(a, a.length, b, 0, b.length);
}
