// Replacement-policy simulators for page-access traces: CLOCK (the buffer pool's, as
// src/pager/buffer-pool.ts ran it before S3-FIFO), LRU, SIEVE (NSDI '24), S3-FIFO (SOSP '23,
// as the pool runs it now) and Belady's MIN. One class per policy behind one interface; each counts pages, not bytes,
// and never sees pins (a simulated pool has no pinned frame: see docs/bench/POLICIES.md).
// Every structure is allocated in the constructor, sized by the capacity and the page bound.

import { SMALL_SHARE_RATIO } from "../../src/pager/buffer-pool.js";
import { Ghost } from "../../src/pager/ghost.js";

/** A page cache of `capacity` frames over page numbers 0..pageLimit-1. */
export interface ReplacementPolicy {
  readonly name: string;
  /** A reference to `pgno`: true on a hit; on a miss the page is brought in (evicting one). */
  access(pgno: number): boolean;
  /** True when `pgno` is resident (for tests). */
  has(pgno: number): boolean;
}

/** Makes a policy for one run over `trace` (only Belady's MIN reads the trace ahead). */
export type PolicyFactory = (
  capacity: number,
  pageLimit: number,
  trace: Uint32Array,
) => ReplacementPolicy;

function checkSizes(capacity: number, pageLimit: number, min = 1): void {
  if (!Number.isInteger(capacity) || capacity < min) {
    throw new RangeError(`capacity must be an integer >= ${min}, got ${capacity}`);
  }
  if (!Number.isInteger(pageLimit) || pageLimit < 1 || pageLimit > 2 ** 31 - 1) {
    throw new RangeError(`pageLimit must be an integer in 1..2^31-1, got ${pageLimit}`);
  }
}

function checkPage(pgno: number, pageLimit: number): void {
  if (!(pgno >>> 0 === pgno && pgno < pageLimit)) {
    throw new RangeError(`page ${pgno} outside 0..${pageLimit - 1}`);
  }
}

/**
 * A doubly linked FIFO over the indices 0..size-1 of its own arrays: `newest` is the head,
 * `oldest` the tail. An index is in at most one queue built on the same arrays.
 */
class LinkedQueue {
  newest = -1;
  oldest = -1;
  size = 0;

  constructor(
    /** toward the newest end: newer[oldest] ... newer[newest] = -1 */
    readonly newer: Int32Array,
    /** toward the oldest end */
    readonly older: Int32Array,
  ) {}

  pushNewest(i: number): void {
    this.older[i] = this.newest;
    this.newer[i] = -1;
    if (this.newest >= 0) this.newer[this.newest] = i;
    else this.oldest = i;
    this.newest = i;
    this.size++;
  }

  remove(i: number): void {
    const n = this.newer[i];
    const o = this.older[i];
    if (n >= 0) this.older[n] = o;
    else this.newest = o;
    if (o >= 0) this.newer[o] = n;
    else this.oldest = n;
    this.newer[i] = -1;
    this.older[i] = -1;
    this.size--;
  }
}

/**
 * The buffer pool's CLOCK before S3-FIFO replaced it: the reference bit is set at bind and
 * at every pin (so a page comes in referenced), empty frames are taken in index order before
 * any eviction, and the hand takes the first frame whose bit is clear, clearing bits as it
 * passes.
 */
export class Clock implements ReplacementPolicy {
  readonly name = "CLOCK";
  private readonly pgnoOf: Int32Array;
  private readonly referenced: Uint8Array;
  private readonly slotOf: Int32Array;
  private used = 0;
  private hand = 0;

  constructor(
    readonly capacity: number,
    readonly pageLimit: number,
  ) {
    checkSizes(capacity, pageLimit);
    this.pgnoOf = new Int32Array(capacity).fill(-1);
    this.referenced = new Uint8Array(capacity);
    this.slotOf = new Int32Array(pageLimit).fill(-1);
  }

  access(pgno: number): boolean {
    checkPage(pgno, this.pageLimit);
    const s = this.slotOf[pgno];
    if (s >= 0) {
      this.referenced[s] = 1;
      return true;
    }
    let f: number;
    if (this.used < this.capacity) {
      f = this.used++;
    } else {
      f = this.victim();
      this.slotOf[this.pgnoOf[f]] = -1;
    }
    this.pgnoOf[f] = pgno;
    this.slotOf[pgno] = f;
    this.referenced[f] = 1;
    return false;
  }

  /** chooseVictim with no pinned frame: two sweeps bound it, one and a step suffice. */
  private victim(): number {
    const n = this.capacity;
    for (let step = 0; step < 2 * n; step++) {
      const f = this.hand;
      this.hand = f + 1 === n ? 0 : f + 1;
      if (this.referenced[f] === 1) {
        this.referenced[f] = 0;
        continue;
      }
      return f;
    }
    throw new Error("CLOCK found no victim in two sweeps");
  }

  has(pgno: number): boolean {
    return this.slotOf[pgno] >= 0;
  }
}

/** Least recently used: a hit moves the page to the head, a miss evicts the tail. */
export class Lru implements ReplacementPolicy {
  readonly name = "LRU";
  private readonly queue: LinkedQueue;
  private readonly pgnoOf: Int32Array;
  private readonly slotOf: Int32Array;
  private used = 0;

  constructor(
    readonly capacity: number,
    readonly pageLimit: number,
  ) {
    checkSizes(capacity, pageLimit);
    this.queue = new LinkedQueue(new Int32Array(capacity), new Int32Array(capacity));
    this.pgnoOf = new Int32Array(capacity).fill(-1);
    this.slotOf = new Int32Array(pageLimit).fill(-1);
  }

  access(pgno: number): boolean {
    checkPage(pgno, this.pageLimit);
    const q = this.queue;
    const s = this.slotOf[pgno];
    if (s >= 0) {
      if (q.newest !== s) {
        q.remove(s);
        q.pushNewest(s);
      }
      return true;
    }
    let f: number;
    if (this.used < this.capacity) {
      f = this.used++;
    } else {
      f = q.oldest;
      q.remove(f);
      this.slotOf[this.pgnoOf[f]] = -1;
    }
    this.pgnoOf[f] = pgno;
    this.slotOf[pgno] = f;
    q.pushNewest(f);
    return false;
  }

  has(pgno: number): boolean {
    return this.slotOf[pgno] >= 0;
  }
}

/**
 * SIEVE (Zhang et al., NSDI '24): a FIFO with a visited bit and a hand that moves from the
 * oldest end toward the newest, clearing bits, and evicts the first unvisited page in place
 * (survivors are not moved). A hit only sets the bit; a new page enters at the head unvisited.
 */
export class Sieve implements ReplacementPolicy {
  readonly name = "SIEVE";
  private readonly queue: LinkedQueue;
  private readonly visited: Uint8Array;
  private readonly pgnoOf: Int32Array;
  private readonly slotOf: Int32Array;
  private used = 0;
  /** The next eviction candidate, -1 for "start at the oldest". */
  private hand = -1;

  constructor(
    readonly capacity: number,
    readonly pageLimit: number,
  ) {
    checkSizes(capacity, pageLimit);
    this.queue = new LinkedQueue(new Int32Array(capacity), new Int32Array(capacity));
    this.visited = new Uint8Array(capacity);
    this.pgnoOf = new Int32Array(capacity).fill(-1);
    this.slotOf = new Int32Array(pageLimit).fill(-1);
  }

  access(pgno: number): boolean {
    checkPage(pgno, this.pageLimit);
    const s = this.slotOf[pgno];
    if (s >= 0) {
      this.visited[s] = 1;
      return true;
    }
    let f: number;
    if (this.used < this.capacity) {
      f = this.used++;
    } else {
      f = this.evict();
    }
    this.pgnoOf[f] = pgno;
    this.slotOf[pgno] = f;
    this.visited[f] = 0;
    this.queue.pushNewest(f);
    return false;
  }

  /** Bounded: one pass clears every bit, so at most capacity + 1 steps. */
  private evict(): number {
    const q = this.queue;
    let o = this.hand >= 0 ? this.hand : q.oldest;
    for (let step = 0; this.visited[o] === 1; step++) {
      if (step > this.capacity) throw new Error("SIEVE found no victim in a sweep");
      this.visited[o] = 0;
      o = q.newer[o] >= 0 ? q.newer[o] : q.oldest;
    }
    this.hand = q.newer[o];
    q.remove(o);
    this.slotOf[this.pgnoOf[o]] = -1;
    return o;
  }

  has(pgno: number): boolean {
    return this.slotOf[pgno] >= 0;
  }
}

/** The frequency counter's cap (two bits). */
export const S3FIFO_FREQ_MAX = 3;
/** The small FIFO's share of the frames: the buffer pool's own. */
export const S3FIFO_SMALL_RATIO = SMALL_SHARE_RATIO;

const IN_SMALL = 1;
const IN_MAIN = 2;
/** Rounds of main a victim search may take: a counter of at most 3, then one (the pool's). */
const MAIN_ROUNDS_MAX = S3FIFO_FREQ_MAX + 1;

/**
 * S3-FIFO (Yang et al., SOSP '23) exactly as src/pager/buffer-pool.ts runs it, without pins:
 * a small FIFO S (10% of the frames, at least 1) that new pages enter, a main FIFO M (the
 * rest), and a ghost list G of page numbers evicted from S, the pool's own class
 * (src/pager/ghost.ts: at most the last |M|, fewer when two later ones share a bucket; a
 * page leaves it when a miss brings it back, and a miss looks G up before its own
 * eviction adds to it, as libCacheSim does). A hit
 * increments a counter capped at 3; the miss's own access is not a hit. A miss with every
 * frame in use evicts exactly one page: from S while S holds at least its share (its oldest
 * page moves to M, counter cleared, when the counter reached `moveThreshold`, first evicting
 * from M when M holds its share; otherwise it leaves, its number into G), else from M (the
 * oldest page goes round again with its counter decremented while it is non-zero, else it
 * leaves). A miss on a page in G inserts it into M, any other into S. Unlike Algorithm 1,
 * a move into a full M ends the eviction (Algorithm 1 then also evicts from S: two frames).
 */
export class S3Fifo implements ReplacementPolicy {
  readonly name: string;
  readonly smallFrames: number;
  readonly mainFrames: number;
  readonly ghostEntries: number;
  private readonly small: LinkedQueue;
  private readonly main: LinkedQueue;
  private readonly ghost: Ghost;
  private readonly freq: Uint8Array;
  private readonly where: Uint8Array;
  private readonly pgnoOf: Int32Array;
  private readonly slotOf: Int32Array;
  private used = 0;
  /** Whether the victim just chosen came from S (its page then becomes a ghost). */
  private fromSmall = false;

  constructor(
    readonly capacity: number,
    readonly pageLimit: number,
    /** 2 is Algorithm 1's "freq > 1", libCacheSim's default and the pool's; 1 the older. */
    readonly moveThreshold = 2,
  ) {
    checkSizes(capacity, pageLimit, 2);
    if (!(moveThreshold >= 1 && moveThreshold <= S3FIFO_FREQ_MAX)) {
      throw new RangeError(`moveThreshold must be in 1..${S3FIFO_FREQ_MAX}`);
    }
    this.name = moveThreshold === 2 ? "S3-FIFO" : `S3-FIFO(t=${moveThreshold})`;
    this.smallFrames = Math.max(1, Math.floor(capacity * S3FIFO_SMALL_RATIO));
    this.mainFrames = capacity - this.smallFrames;
    this.ghostEntries = this.mainFrames;
    const newer = new Int32Array(capacity);
    const older = new Int32Array(capacity);
    this.small = new LinkedQueue(newer, older);
    this.main = new LinkedQueue(newer, older);
    this.ghost = new Ghost(this.ghostEntries);
    this.freq = new Uint8Array(capacity);
    this.where = new Uint8Array(capacity);
    this.pgnoOf = new Int32Array(capacity).fill(-1);
    this.slotOf = new Int32Array(pageLimit).fill(-1);
  }

  access(pgno: number): boolean {
    checkPage(pgno, this.pageLimit);
    const s = this.slotOf[pgno];
    if (s >= 0) {
      if (this.freq[s] < S3FIFO_FREQ_MAX) this.freq[s]++;
      return true;
    }
    // The ghost is looked up before this miss's own eviction adds to it (the pool's order).
    const ghosted = this.ghost.take(pgno);
    let f: number;
    if (this.used < this.capacity) {
      f = this.used++;
    } else {
      f = this.victim();
      const old = this.pgnoOf[f];
      (this.where[f] === IN_SMALL ? this.small : this.main).remove(f);
      if (this.fromSmall) this.ghost.add(old);
      this.slotOf[old] = -1;
    }
    this.pgnoOf[f] = pgno;
    this.slotOf[pgno] = f;
    this.freq[f] = 0;
    if (ghosted) {
      this.where[f] = IN_MAIN;
      this.main.pushNewest(f);
    } else {
      this.where[f] = IN_SMALL;
      this.small.pushNewest(f);
    }
    return false;
  }

  /** BufferPool.chooseVictim: the frame to reuse, left in its queue. */
  private victim(): number {
    this.fromSmall = false;
    let v = this.small.size >= this.smallFrames ? this.evictSmall() : -1;
    if (v < 0) v = this.evictMain();
    if (v < 0) v = this.evictSmall();
    if (v < 0) v = this.evictMain();
    if (v < 0) throw new Error("S3-FIFO found no victim");
    return v;
  }

  private evictSmall(): number {
    const s = this.small;
    for (let n = s.size; n > 0; n--) {
      const t = s.oldest;
      if (this.freq[t] >= this.moveThreshold) {
        const v = this.main.size >= this.mainFrames ? this.evictMain() : -1;
        s.remove(t);
        this.freq[t] = 0;
        this.where[t] = IN_MAIN;
        this.main.pushNewest(t);
        if (v >= 0) return v;
        continue;
      }
      this.fromSmall = true;
      return t;
    }
    return -1;
  }

  /** Bounded: every round decrements every counter of at most 3. */
  private evictMain(): number {
    const m = this.main;
    const steps = MAIN_ROUNDS_MAX * m.size;
    for (let step = 0; step < steps; step++) {
      const t = m.oldest;
      if (this.freq[t] === 0) return t;
      this.freq[t]--;
      if (m.newest !== t) {
        m.remove(t);
        m.pushNewest(t);
      }
    }
    return -1;
  }

  has(pgno: number): boolean {
    return this.slotOf[pgno] >= 0;
  }

  /** Where a resident page is, for tests: "small", "main" or null. */
  queueOf(pgno: number): "small" | "main" | null {
    const s = this.slotOf[pgno];
    if (s < 0) return null;
    return this.where[s] === IN_SMALL ? "small" : "main";
  }

  /** Whether `pgno` is on the ghost list, for tests. */
  ghosted(pgno: number): boolean {
    return this.ghost.has(pgno);
  }
}

/**
 * Belady's MIN: on a miss with every frame full, evict the resident page whose next use is
 * farthest (never used again counts as farthest). The next use of every access is computed
 * before the run; a max-heap of (next use, page) with stale entries skipped finds the victim
 * in O(log n). The trace must be replayed exactly, access by access.
 */
export class Belady implements ReplacementPolicy {
  readonly name = "Belady";
  /** nextUse[i]: the index of the next access to trace[i]'s page, or length + i if none. */
  private readonly nextUse: Int32Array;
  /** The key of each resident page's newest heap entry, -1 when not resident. */
  private readonly current: Int32Array;
  private readonly heapKey: Int32Array;
  private readonly heapPage: Int32Array;
  private heapSize = 0;
  private position = 0;
  private used = 0;

  constructor(
    readonly capacity: number,
    readonly pageLimit: number,
    private readonly trace: Uint32Array,
  ) {
    checkSizes(capacity, pageLimit);
    const n = trace.length;
    if (2 * n > 2 ** 31 - 1) throw new RangeError("trace too long for 31-bit keys");
    const next = new Int32Array(n);
    const seen = new Int32Array(pageLimit).fill(-1);
    for (let i = n - 1; i >= 0; i--) {
      const p = trace[i];
      checkPage(p, pageLimit);
      next[i] = seen[p] < 0 ? n + i : seen[p];
      seen[p] = i;
    }
    this.nextUse = next;
    this.current = new Int32Array(pageLimit).fill(-1);
    this.heapKey = new Int32Array(n);
    this.heapPage = new Int32Array(n);
  }

  access(pgno: number): boolean {
    const i = this.position++;
    if (i >= this.trace.length || this.trace[i] !== pgno) {
      throw new Error(`Belady: access ${i} is page ${pgno}, the trace says ${this.trace[i]}`);
    }
    const key = this.nextUse[i];
    const hit = this.current[pgno] >= 0;
    if (!hit) {
      if (this.used === this.capacity) this.evict();
      this.used++;
    }
    this.current[pgno] = key;
    this.push(key, pgno);
    return hit;
  }

  private evict(): void {
    for (;;) {
      if (this.heapSize === 0) throw new Error("Belady: empty heap with a full cache");
      const key = this.heapKey[0];
      const page = this.heapPage[0];
      this.pop();
      // Keys are distinct (one per access), so only a page's newest entry matches.
      if (this.current[page] === key) {
        this.current[page] = -1;
        this.used--;
        return;
      }
    }
  }

  private push(key: number, page: number): void {
    const k = this.heapKey;
    const p = this.heapPage;
    let i = this.heapSize++;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (k[parent] >= key) break;
      k[i] = k[parent];
      p[i] = p[parent];
      i = parent;
    }
    k[i] = key;
    p[i] = page;
  }

  private pop(): void {
    const k = this.heapKey;
    const p = this.heapPage;
    const n = --this.heapSize;
    if (n === 0) return;
    const key = k[n];
    const page = p[n];
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= n) break;
      const r = l + 1;
      const c = r < n && k[r] > k[l] ? r : l;
      if (k[c] <= key) break;
      k[i] = k[c];
      p[i] = p[c];
      i = c;
    }
    k[i] = key;
    p[i] = page;
  }

  has(pgno: number): boolean {
    return this.current[pgno] >= 0;
  }
}

/** The policies of the report, in its column order. */
export const POLICIES: readonly { readonly name: string; readonly make: PolicyFactory }[] = [
  { name: "CLOCK", make: (c, l) => new Clock(c, l) },
  { name: "LRU", make: (c, l) => new Lru(c, l) },
  { name: "SIEVE", make: (c, l) => new Sieve(c, l) },
  { name: "S3-FIFO", make: (c, l) => new S3Fifo(c, l, 2) },
  { name: "S3-FIFO(t=1)", make: (c, l) => new S3Fifo(c, l, 1) },
  { name: "Belady", make: (c, l, t) => new Belady(c, l, t) },
];

/** Replays `trace` through `policy`; the number of misses. */
export function countMisses(policy: ReplacementPolicy, trace: Uint32Array): number {
  let misses = 0;
  for (let i = 0; i < trace.length; i++) if (!policy.access(trace[i])) misses++;
  return misses;
}
