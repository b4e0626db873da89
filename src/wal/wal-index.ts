// The log index: per frame of the current generation its page and the previous frame of the
// same page; per page its newest frame. It answers "the newest frame of page p below bound b"
// (the committed image, a snapshot's image) in O(log n) steps and allocates nothing to do so.
// It owns no file and knows nothing of commits: the Wal decides which frames are linked and
// at which bound to ask (docs/design/snapshots.md, "Who writes what").
//
// Invariants:
//   - a frame is linked from its add until a removeFrom at or below it, or a clear; a linked
//     frame's page, previous frame, jump and depth entries are never overwritten (only an add
//     at a position no linked frame holds writes those entries);
//   - a page's linked frames form one chain, newest first: `prev` and `jump` always point to
//     a strictly older linked frame of the same page (or, for the chain's first frame, prev is
//     NONE and jump the frame itself), so every walk ends and never leaves the page;
//   - the page table holds exactly the pages with a linked frame, each with its newest;
//   - `before` threads every linked frame of every page, newest first, from `lastLinked`: so
//     removeFrom visits only the frames it unlinks, however many frames earlier rollbacks
//     left unlinked in between;
//   - jump pointers are Myers' skew-binary ones (E. W. Myers, "An applicative random-access
//     stack", 1983): from any frame, the newest frame below a bound is found in O(log depth)
//     steps.

import { assert, assertFailed } from "../errors.js";

/** Frames one generation's index can hold: frame numbers are kept in Int32Arrays. */
export const WAL_INDEX_FRAMES_MAX = 2 ** 30;
/** Frame slots allocated at construction (grown by doubling). */
const FRAMES_INITIAL = 1024;
/** Page-table slots allocated at construction (doubled when half full). */
const PAGE_SLOTS_INITIAL = 64;
/** No frame. */
const NONE = -1;
/** An empty page-table slot: page 0 is the null page and never logged. */
const EMPTY = 0;

export class WalIndex {
  /**
   * Set by every `lookup`: the page's newest linked frame, or -1 (none). Read it right after
   * the lookup: a caller learns in one probe whether the frame found is the page's newest.
   */
  newest = NONE;
  /** Chain steps the last `lookup` took (a debug counter: tests prove the O(log n) bound). */
  lastSteps = 0;

  // Per frame, indexed by frame number (entries of frames never added are garbage).
  private framePgno: Uint32Array;
  private framePrev: Int32Array;
  private frameJump: Int32Array;
  private frameDepth: Int32Array;
  private frameBefore: Int32Array;
  /** Newest linked frame of any page, or NONE. */
  private lastLinked = NONE;

  // Per page: page number -> newest linked frame (linear probing, Fibonacci hashing,
  // backward-shift deletion, as in src/pager/page-table.ts), never more than half full.
  private keys: Uint32Array;
  private values: Int32Array;
  private mask: number;
  private shift: number;
  private count = 0;

  constructor() {
    this.framePgno = new Uint32Array(FRAMES_INITIAL);
    this.framePrev = new Int32Array(FRAMES_INITIAL);
    this.frameJump = new Int32Array(FRAMES_INITIAL);
    this.frameDepth = new Int32Array(FRAMES_INITIAL);
    this.frameBefore = new Int32Array(FRAMES_INITIAL);
    this.keys = new Uint32Array(PAGE_SLOTS_INITIAL);
    this.values = new Int32Array(PAGE_SLOTS_INITIAL);
    this.mask = PAGE_SLOTS_INITIAL - 1;
    this.shift = 32 - Math.log2(PAGE_SLOTS_INITIAL);
  }

  /** Distinct pages with any linked frame. */
  get pageCount(): number {
    return this.count;
  }

  /** Frame slots allocated (grows by doubling; for tests of growth). */
  get frameCapacity(): number {
    return this.framePgno.length;
  }

  /** Page-table slots allocated (doubles when half full; for tests of growth). */
  get pageCapacity(): number {
    return this.keys.length;
  }

  /**
   * Link frame `frame`, an image of page `pgno`, as that page's newest. Frame numbers must
   * exceed every linked frame's: they strictly increase between adds, gaps allowed (a
   * rolled-back transaction's frames stay in the file, unlinked), and after a removeFrom
   * an add may reuse positions it unlinked (an append rewound over them).
   */
  add(frame: number, pgno: number): void {
    // Checks without a message built per call: add runs once per appended frame.
    if (!(Number.isInteger(frame) && frame > this.lastLinked && frame < WAL_INDEX_FRAMES_MAX)) {
      assertFailed(`log index: frame ${frame} added after frame ${this.lastLinked}`);
    }
    if (!(pgno > 0 && pgno <= 0xffff_ffff && Number.isInteger(pgno))) {
      assertFailed(`log index: page ${pgno} added`);
    }
    if (frame >= this.framePgno.length) this.growFrames(frame + 1);
    let i = this.slotOf(pgno);
    let parent = NONE;
    if (this.keys[i] === pgno) {
      parent = this.values[i];
    } else {
      if ((this.count + 1) * 2 > this.keys.length) {
        this.growPages();
        i = this.slotOf(pgno);
      }
      this.keys[i] = pgno;
      this.count++;
    }
    this.values[i] = frame;
    this.framePgno[frame] = pgno;
    this.framePrev[frame] = parent;
    const depth = this.frameDepth;
    const jump = this.frameJump;
    if (parent === NONE) {
      depth[frame] = 0;
      jump[frame] = frame;
    } else {
      // Myers: jump two equal spans at once when the parent's jump and its jump's jump cover
      // equal depths, else jump to the parent. Spans stay powers-of-two-minus-one sized.
      const pj = jump[parent];
      depth[frame] = depth[parent] + 1;
      jump[frame] = depth[parent] - depth[pj] === depth[pj] - depth[jump[pj]] ? jump[pj] : parent;
    }
    this.frameBefore[frame] = this.lastLinked;
    this.lastLinked = frame;
  }

  /**
   * The newest linked frame of `pgno` below `bound` (frames < bound), or -1. Sets `newest`
   * to the page's newest linked frame. At most about 2*log2(versions) chain steps; allocates
   * nothing.
   */
  lookup(pgno: number, bound: number): number {
    if (!(bound >= 0)) assertFailed(`log index: lookup bound ${bound}`);
    const keys = this.keys;
    let i = Math.imul(pgno, 0x9e3779b1) >>> this.shift;
    for (;;) {
      const k = keys[i];
      // EMPTY first: page 0 must never match an empty slot.
      if (k === EMPTY) {
        this.newest = NONE;
        this.lastSteps = 0;
        return NONE;
      }
      if (k === pgno) break;
      i = (i + 1) & this.mask;
    }
    const v = this.values[i];
    this.newest = v;
    return this.walk(v, bound);
  }

  /** The newest linked frame of `pgno`, or -1. */
  newestOf(pgno: number): number {
    const i = this.slotOf(pgno);
    return this.keys[i] === pgno ? this.values[i] : NONE;
  }

  /**
   * Unlink every linked frame >= `first`: each page's newest goes back to its previous
   * frame, and a page left with none leaves the table. Visits only the frames it unlinks
   * (frames an earlier removeFrom unlinked are not on the `before` thread).
   */
  removeFrom(first: number): void {
    const keys = this.keys;
    const mask = this.mask;
    let f = this.lastLinked;
    while (f >= first) {
      const pgno = this.framePgno[f];
      let i = this.slotOf(pgno);
      // The thread runs newest first, so f is its page's newest: its newer frames went first.
      if (keys[i] !== pgno || this.values[i] !== f) {
        assertFailed(`log index: frame ${f} of page ${pgno} is not the page's newest`);
      }
      const prev = this.framePrev[f];
      if (prev !== NONE) {
        this.values[i] = prev;
      } else {
        // Backward shift: pull later entries of the probe run into the hole when the hole
        // lies between their home slot and where they sit, so every key stays reachable.
        let j = i;
        for (;;) {
          j = (j + 1) & mask;
          const k = keys[j];
          if (k === EMPTY) break;
          const h = Math.imul(k, 0x9e3779b1) >>> this.shift;
          if (((j - h) & mask) >= ((j - i) & mask)) {
            keys[i] = k;
            this.values[i] = this.values[j];
            i = j;
          }
        }
        keys[i] = EMPTY;
        this.count--;
      }
      f = this.frameBefore[f];
    }
    this.lastLinked = f;
  }

  /**
   * Push onto `out` the page of every linked frame >= `first`, newest first (a page once per
   * frame): what a reader's refresh learns changed (docs/design/readers.md). Visits only
   * those frames.
   */
  pagesLinkedFrom(first: number, out: number[]): void {
    for (let f = this.lastLinked; f >= first; f = this.frameBefore[f]) out.push(this.framePgno[f]);
  }

  /** Unlink every frame: a new generation. Keeps the arrays allocated. */
  clear(): void {
    this.keys.fill(EMPTY);
    this.count = 0;
    this.lastLinked = NONE;
    this.newest = NONE;
  }

  /** Ascending page numbers with a linked frame below `bound`: what a checkpoint copies home. */
  pages(bound: number): Uint32Array {
    assert(bound >= 0, `log index: pages bound ${bound}`);
    const out = new Uint32Array(this.count);
    let n = 0;
    const keys = this.keys;
    for (let i = 0; i < keys.length; i++) {
      if (keys[i] !== EMPTY && this.walk(this.values[i], bound) !== NONE) out[n++] = keys[i];
    }
    // sort() of a typed array is numeric.
    return (n === out.length ? out : out.slice(0, n)).sort();
  }

  /**
   * Verify the invariants above (for tests: O(frames + pages)); throws on the first
   * violation.
   */
  checkInvariants(): void {
    const seen = new Map<number, number>(); // page -> oldest linked frame visited so far
    let linked = 0;
    for (let f = this.lastLinked; f !== NONE; f = this.frameBefore[f]) {
      const pgno = this.framePgno[f];
      const before = this.frameBefore[f];
      assert(before < f, `log index: frame ${f}'s thread goes to ${before}`);
      const newer = seen.get(pgno);
      if (newer === undefined) {
        assert(this.newestOf(pgno) === f, `log index: page ${pgno}'s newest is not ${f}`);
      } else {
        assert(this.framePrev[newer] === f, `log index: frame ${newer}'s prev is not ${f}`);
      }
      seen.set(pgno, f);
      const prev = this.framePrev[f];
      const jump = this.frameJump[f];
      if (prev === NONE) {
        assert(jump === f && this.frameDepth[f] === 0, `log index: chain start ${f}`);
      } else {
        assert(prev < f && this.framePgno[prev] === pgno, `log index: frame ${f}'s prev`);
        assert(this.frameDepth[f] === this.frameDepth[prev] + 1, `log index: frame ${f}'s depth`);
        assert(jump < f && this.framePgno[jump] === pgno, `log index: frame ${f}'s jump`);
      }
      linked++;
    }
    assert(seen.size === this.count, `log index: ${this.count} pages, ${seen.size} linked`);
    for (const [pgno, oldest] of seen) {
      assert(this.framePrev[oldest] === NONE, `log index: page ${pgno}'s chain is cut`);
    }
    assert(linked <= WAL_INDEX_FRAMES_MAX, "log index: too many linked frames");
  }

  /** Walk back from frame `v` to the newest frame below `bound`, or -1. */
  private walk(v: number, bound: number): number {
    const jump = this.frameJump;
    const prev = this.framePrev;
    let steps = 0;
    // Frames strictly decrease along a chain, and NONE (-1) is below every bound.
    while (v >= bound) {
      const j = jump[v];
      // Every frame between v and j is newer than j: when j is still too new, so are they.
      v = j !== v && j >= bound ? j : prev[v];
      steps++;
    }
    this.lastSteps = steps;
    return v;
  }

  /** Slot holding `pgno`, or the empty slot where it would go. */
  private slotOf(pgno: number): number {
    const keys = this.keys;
    let i = Math.imul(pgno, 0x9e3779b1) >>> this.shift;
    for (;;) {
      const k = keys[i];
      if (k === EMPTY || k === pgno) return i;
      i = (i + 1) & this.mask;
    }
  }

  private growFrames(need: number): void {
    let cap = this.framePgno.length;
    while (cap < need) cap *= 2;
    cap = Math.min(cap, WAL_INDEX_FRAMES_MAX);
    const pgno = new Uint32Array(cap);
    pgno.set(this.framePgno);
    this.framePgno = pgno;
    this.framePrev = grownInt32(this.framePrev, cap);
    this.frameJump = grownInt32(this.frameJump, cap);
    this.frameDepth = grownInt32(this.frameDepth, cap);
    this.frameBefore = grownInt32(this.frameBefore, cap);
  }

  /** Double the page table (at most 2^31 slots: at most WAL_INDEX_FRAMES_MAX pages). */
  private growPages(): void {
    const oldKeys = this.keys;
    const oldValues = this.values;
    const slots = oldKeys.length * 2;
    this.keys = new Uint32Array(slots);
    this.values = new Int32Array(slots);
    this.mask = slots - 1;
    this.shift--;
    for (let i = 0; i < oldKeys.length; i++) {
      const k = oldKeys[i];
      if (k === EMPTY) continue;
      const j = this.slotOf(k);
      this.keys[j] = k;
      this.values[j] = oldValues[i];
    }
  }
}

function grownInt32(old: Int32Array, length: number): Int32Array {
  const a = new Int32Array(length);
  a.set(old);
  return a;
}
