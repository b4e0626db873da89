// The buffer pool: frames carved from one ArrayBuffer arena, the page table, the stack of
// empty frames and S3-FIFO replacement. It does no I/O and knows nothing of files: the pager
// decides what a victim's bytes need before reuse and what to read into a frame. The arena
// is allocated at open (the OS commits its pages only as they are touched); a frame's object
// and views are made the first time a miss needs a frame and none is empty, so a large pool
// costs its bookkeeping only for the frames that have held a page.
//
// Invariants (checkInvariants verifies them; the pager's debug mode runs it after every call):
//   - frames is dense: frames[i].index === i for i < frames.length <= cacheFrames, and frame
//     i views the arena at i * pageSize. A frame, once made, lives as long as the pool;
//   - a new frame is made only when the empty stack is empty, and the pager asks for a
//     victim only when every frame exists (frames.length === cacheFrames): a frame that
//     exists is never evicted while the arena has room for another;
//   - a frame is either empty (pgno 0, on the empty stack, not in the table) or bound
//     (pgno > 0, in the table under its pgno, not on the empty stack), never both;
//   - a frame with pins > 0 is never chosen as a victim;
//   - 0 <= writers <= pins; framesPinned / framesDirty / framesWriting count frames with
//     pins > 0 / dirty / writers > 0;
//   - every dirty frame is on the dirty list (the list may also hold clean frames), so a
//     commit finds its dirty pages without scanning the pool;
//   - a bound frame holds either its page's current image (version CURRENT, in the page
//     table) or an older image a snapshot reads (version >= 0, in the version table, never
//     dirty), or is an ORPHAN (an older image dropped while pinned, in neither table, freed
//     by its last unpin). Either kind is evicted alike; a lookup of the current image never
//     looks at the older ones;
//   - S3-FIFO (Yang et al., SOSP '23; docs/bench/POLICIES.md measured it on pagekv's own
//     traces): every bound frame is in exactly one of two FIFO queues, small (new pages) or
//     main, and no empty frame is in either; their sizes add up to the bound frames. A page
//     enters small, or main when it is on the ghost list (numbers of pages evicted from
//     small without reaching main, at most the last mainShare of them, plus the one
//     evicted last, which joins at the next bind; none of them a page whose current image
//     is resident; ghost.ts). A pin counts a use (PoolFrame.freq); the pin of the
//     caller that brought the page in does not. chooseVictim takes from small while small
//     holds at least smallShare frames: its oldest frame moves to main with two uses, else
//     it is the victim (its number a ghost); otherwise from main: its oldest frame goes
//     round again with one use less while it has any, else it is the victim. A pinned frame
//     at a queue's end goes round unchanged, so one call gives one unpinned victim, or null
//     when every bound frame is pinned, in a bounded number of steps.

import { assert, assertFailed } from "../errors.js";
import { checksummedView } from "../format/page.js";
import { CURRENT, FREQ_NO_USE, FREQ_TWO_USES, ORPHAN, PoolFrame } from "./frame.js";
import { Ghost } from "./ghost.js";
import { PageTable } from "./page-table.js";
import { VersionTable } from "./version-table.js";

/** Small's share of the frames (S3-FIFO's 10%), at least one frame. */
export const SMALL_SHARE_RATIO = 0.1;
/** Queue tags (BufferPool's queueTag); also the indices of its heads, tails and sizes. */
const NO_QUEUE = 0;
const SMALL = 1;
const MAIN = 2;
/** The most rounds of main a victim search takes: a use counter of at most 3, then one. */
const MAIN_ROUNDS_MAX = 4;

export class BufferPool {
  /** The frames made so far (see the invariants): every loop over the pool walks these. */
  readonly frames: readonly PoolFrame[];
  /** The same array as `frames`, for the one place that appends to it (makeFrame). */
  private readonly made: PoolFrame[];
  private readonly arena: ArrayBuffer;
  private readonly table: PageTable;
  private readonly versions: VersionTable;
  /** Indices of empty frames; a miss takes one in O(1) instead of scanning the pool. */
  private readonly empty: Int32Array;
  private emptyTop: number;
  /** Indices of frames that became dirty since the last takeDirty(); see `listed`. */
  private readonly dirtyList: Int32Array;
  private dirtyListed = 0;
  /** Frames small holds before it is evicted from (10%, at least 1); main has the rest. */
  readonly smallShare: number;
  readonly mainShare: number;
  /** S3-FIFO's queues: doubly linked over frame indices, head newest, tail oldest. */
  private readonly newer: Int32Array;
  private readonly older: Int32Array;
  /** NO_QUEUE, SMALL or MAIN, per frame index. */
  private readonly queueTag: Uint8Array;
  /** Indexed by SMALL and MAIN (slot 0 unused): newest, oldest (-1 when empty), size. */
  private readonly heads = new Int32Array(3).fill(-1);
  private readonly tails = new Int32Array(3).fill(-1);
  private readonly sizes = new Int32Array(3);
  /** Pages evicted from small without reaching main, at most mainShare of them. */
  readonly ghost: Ghost;
  /** The victim chooseVictim took from small: its unbind makes its page a ghost. */
  private ghostOnUnbind: PoolFrame | null = null;
  /**
   * That victim's page, unbound, waiting to join the ghost list at the next bind (after the
   * bind's own ghost lookup, as libCacheSim orders them: a miss's own eviction never pushes
   * the missed page off a full list), or at the next release, unbind or chooseVictim. 0 none.
   */
  private ghostPending = 0;
  framesPinned = 0;
  framesDirty = 0;
  framesWriting = 0;

  constructor(
    readonly cacheFrames: number,
    private readonly pageSize: number,
    private readonly usableSize: number,
  ) {
    assert(cacheFrames >= 1 && usableSize <= pageSize, "pool geometry");
    this.arena = new ArrayBuffer(cacheFrames * pageSize);
    this.made = [];
    this.frames = this.made;
    // Typed arrays sized for the whole pool: zero-filled memory the OS commits as it is
    // touched (16 bytes a frame in the two tables, 8 in these two; see page-table.ts).
    this.table = new PageTable(cacheFrames);
    this.versions = new VersionTable(cacheFrames);
    this.empty = new Int32Array(cacheFrames);
    this.dirtyList = new Int32Array(cacheFrames);
    this.emptyTop = 0;
    this.smallShare = Math.max(1, Math.floor(cacheFrames * SMALL_SHARE_RATIO));
    this.mainShare = cacheFrames - this.smallShare;
    // 9 bytes a frame for the queues; the ghost 16 to 32 per entry (ghost.ts), mainShare
    // entries: at most about 38 bytes a frame, committed by the OS only as it is touched.
    this.newer = new Int32Array(cacheFrames);
    this.older = new Int32Array(cacheFrames);
    this.queueTag = new Uint8Array(cacheFrames);
    this.ghost = new Ghost(this.mainShare);
  }

  /** Frames made so far: frames.length, at most cacheFrames. */
  get framesCreated(): number {
    return this.made.length;
  }

  /** The frame holding `pgno`, or null. Allocates nothing. */
  lookup(pgno: number): PoolFrame | null {
    const i = this.table.get(pgno);
    return i < 0 ? null : this.frames[i];
  }

  /** The frame holding `version` of `pgno` (an older image), or null. Allocates nothing. */
  lookupVersion(pgno: number, version: number): PoolFrame | null {
    if (this.versions.size === 0) return null;
    const i = this.versions.get(pgno, version);
    return i < 0 ? null : this.frames[i];
  }

  /** True when `frame` is one of this pool's frame objects. */
  owns(frame: unknown): frame is PoolFrame {
    return frame instanceof PoolFrame && this.frames[frame.index] === frame;
  }

  /**
   * An empty frame: one from the empty stack, else a new one while fewer than cacheFrames
   * exist; null when every possible frame exists and holds a page (then chooseVictim).
   */
  takeEmpty(): PoolFrame | null {
    if (this.emptyTop > 0) return this.made[this.empty[--this.emptyTop]];
    return this.made.length < this.cacheFrames ? this.makeFrame() : null;
  }

  /** Frame number frames.length, its views over the arena at its offset. Misses only. */
  private makeFrame(): PoolFrame {
    const i = this.made.length;
    const page = new Uint8Array(this.arena, i * this.pageSize, this.pageSize);
    const frame = new PoolFrame(i, page, page.subarray(0, this.usableSize), checksummedView(page));
    this.made.push(frame);
    return frame;
  }

  /**
   * S3-FIFO's victim (see the top of this file): one unpinned bound frame, left at the tail
   * of its queue for unbind() to take out, or null when every bound frame is pinned.
   * Bounded: small is walked at most twice and main at most MAIN_ROUNDS_MAX times round,
   * three times over.
   */
  chooseVictim(): PoolFrame | null {
    this.flushGhost();
    this.ghostOnUnbind = null;
    if (this.framesPinned === this.sizes[SMALL] + this.sizes[MAIN]) return null;
    let victim = this.sizes[SMALL] >= this.smallShare ? this.evictSmall() : null;
    if (victim === null) victim = this.evictMain();
    // Main all pinned or empty: small gives one though below its share, or moved its
    // unpinned frames to main, where they now have no use left.
    if (victim === null) victim = this.evictSmall() ?? this.evictMain();
    assert(victim !== null, "an unpinned frame is in neither queue");
    return victim;
  }

  /** Small's oldest unpinned frame with fewer than two uses; those with two move to main. */
  private evictSmall(): PoolFrame | null {
    for (let n = this.sizes[SMALL]; n > 0; n--) {
      const i = this.tails[SMALL];
      const f = this.frames[i];
      if (f.pins > 0) {
        this.requeue(SMALL, i);
        continue;
      }
      if (f.freq >= FREQ_TWO_USES) {
        // Room in main first (the move must not evict the page it moves), then the move,
        // its uses cleared: main's own rounds count from here.
        const victim = this.sizes[MAIN] >= this.mainShare ? this.evictMain() : null;
        this.dequeue(i);
        f.freq = FREQ_NO_USE;
        this.enqueue(MAIN, i);
        if (victim !== null) return victim;
        continue;
      }
      if (f.version === CURRENT) this.ghostOnUnbind = f;
      return f;
    }
    return null;
  }

  /** Main's oldest unpinned frame with no use left, taking one use per round from others. */
  private evictMain(): PoolFrame | null {
    const steps = MAIN_ROUNDS_MAX * this.sizes[MAIN];
    for (let step = 0; step < steps; step++) {
      const i = this.tails[MAIN];
      const f = this.frames[i];
      if (f.pins > 0) {
        this.requeue(MAIN, i);
      } else if (f.freq > FREQ_NO_USE) {
        f.freq >>= 1;
        this.requeue(MAIN, i);
      } else {
        return f;
      }
    }
    return null;
  }

  /** The queue a bound `frame` is in, null for an empty one (tests and benchmarks). */
  queueOf(frame: PoolFrame): "small" | "main" | null {
    const q = this.queueTag[frame.index];
    return q === SMALL ? "small" : q === MAIN ? "main" : null;
  }

  /** Frame `i` (in no queue) becomes the newest of queue `q`. */
  private enqueue(q: number, i: number): void {
    const head = this.heads[q];
    this.older[i] = head;
    this.newer[i] = -1;
    if (head >= 0) this.newer[head] = i;
    else this.tails[q] = i;
    this.heads[q] = i;
    this.sizes[q]++;
    this.queueTag[i] = q;
  }

  /** Take frame `i` out of its queue, wherever it sits. O(1). */
  private dequeue(i: number): void {
    const q = this.queueTag[i];
    if (q === NO_QUEUE) assertFailed(`frame ${i} is in no queue`); // the message only then
    const n = this.newer[i];
    const o = this.older[i];
    if (n >= 0) this.older[n] = o;
    else this.heads[q] = o;
    if (o >= 0) this.newer[o] = n;
    else this.tails[q] = n;
    this.sizes[q]--;
    this.queueTag[i] = NO_QUEUE;
  }

  /** Frame `i` of queue `q` goes to its head (once round again). */
  private requeue(q: number, i: number): void {
    if (this.heads[q] === i) return;
    this.dequeue(i);
    this.enqueue(q, i);
  }

  /**
   * Dirty, unpinned frames nearest eviction, `victim` first: the `window` frames from the
   * tail of small, then of main, at most `max` in all, into `out` (cleared first). A dirty
   * victim is logged together with these, so one write makes room for the next misses too
   * instead of one write per miss. Allocates nothing when `out` has room.
   */
  collectSpill(victim: PoolFrame, out: PoolFrame[], max: number, window: number): void {
    out.length = 0;
    out.push(victim);
    let steps = 0;
    for (let q = SMALL; q <= MAIN; q++) {
      for (let i = this.tails[q]; i >= 0 && steps < window && out.length < max; i = this.newer[i]) {
        const f = this.frames[i];
        if (f.dirty && f.pins === 0 && f !== victim) out.push(f);
        steps++;
      }
    }
  }

  /** Record that `frame` (taken empty or as a victim, already unbound) now holds `pgno`. */
  bind(frame: PoolFrame, pgno: number): void {
    assert(frame.pgno === 0 && frame.pins === 0, "bind of a frame that is in use");
    frame.pgno = pgno;
    frame.freq = 0;
    frame.checked = 0;
    this.table.set(pgno, frame.index);
    // (A victim's own page bound again, which the pager never does, counts as a ghost.)
    const ghosted = this.ghost.take(pgno) || this.ghostPending === pgno;
    if (this.ghostPending === pgno) this.ghostPending = 0;
    this.flushGhost();
    this.enqueue(ghosted ? MAIN : SMALL, frame.index);
  }

  /** The pending victim's page joins the ghost list (see ghostPending). */
  private flushGhost(): void {
    if (this.ghostPending === 0) return;
    this.ghost.add(this.ghostPending);
    this.ghostPending = 0;
  }

  /** As bind(), for an older image of `pgno`: `version` (see version-table.ts). */
  bindVersion(frame: PoolFrame, pgno: number, version: number): void {
    assert(frame.pgno === 0 && frame.pins === 0, "bind of a frame that is in use");
    frame.pgno = pgno;
    frame.version = version;
    frame.freq = 0;
    frame.checked = 0;
    this.versions.set(pgno, version, frame.index);
    // An older image enters small and is never looked up in the ghost list, of pages.
    this.flushGhost();
    this.enqueue(SMALL, frame.index);
  }

  /**
   * Forget every older image (the log was reset: their versions named frames of the old
   * generation). Unpinned ones are emptied; pinned ones become ORPHANs.
   */
  dropVersions(): void {
    if (this.versions.size === 0) return;
    for (const f of this.frames) {
      if (f.version < 0 || f.pgno === 0) continue;
      if (f.pins === 0) {
        this.unbind(f);
        this.release(f);
      } else {
        this.versions.delete(f.pgno, f.version);
        f.version = ORPHAN;
      }
    }
  }

  /**
   * A reader's view moved past the image the CURRENT `frame` holds (docs/design/readers.md,
   * refresh step 3): it becomes the older image `version`, for the snapshots that may read
   * it (`keep`) or its pins; otherwise, unpinned, it is emptied. A pinned frame whose version
   * is held already becomes an ORPHAN, freed at its last unpin.
   */
  demote(frame: PoolFrame, version: number, keep: boolean): void {
    assert(frame.version === CURRENT && frame.pgno !== 0 && !frame.dirty, "demote of a frame");
    if (frame.pins === 0 && (!keep || this.versions.get(frame.pgno, version) >= 0)) {
      this.unbind(frame);
      this.release(frame);
      return;
    }
    this.table.delete(frame.pgno);
    if (this.versions.get(frame.pgno, version) >= 0) {
      frame.version = ORPHAN;
      return;
    }
    frame.version = version;
    this.versions.set(frame.pgno, version, frame.index);
  }

  /**
   * Forget every image, current and older (a reader saw the log reset: what it cached may
   * predate commits it never saw). Unpinned frames are emptied; pinned ones become ORPHANs.
   * None may be dirty.
   */
  dropAll(): void {
    this.dropVersions();
    for (const f of this.frames) {
      if (f.pgno === 0 || f.version !== CURRENT) continue;
      assert(!f.dirty, "dropAll with a dirty frame");
      if (f.pins === 0) {
        this.unbind(f);
        this.release(f);
      } else {
        this.table.delete(f.pgno);
        f.version = ORPHAN;
      }
    }
  }

  /** Forget the page `frame` holds (its bytes are discarded); the frame stays out of the stack. */
  unbind(frame: PoolFrame): void {
    assert(frame.pins === 0 && frame.pgno !== 0, "unbind of a pinned or empty frame");
    this.dequeue(frame.index);
    this.flushGhost();
    if (frame === this.ghostOnUnbind) this.ghostPending = frame.pgno;
    this.ghostOnUnbind = null;
    if (frame.version === CURRENT) this.table.delete(frame.pgno);
    else if (frame.version !== ORPHAN) this.versions.delete(frame.pgno, frame.version);
    frame.version = CURRENT;
    if (frame.dirty) this.framesDirty--;
    frame.dirty = false;
    frame.freq = 0;
    frame.writers = 0;
    frame.pgno = 0;
  }

  /** Return an unbound frame to the empty stack. */
  release(frame: PoolFrame): void {
    assert(frame.pgno === 0 && frame.pins === 0, "release of a bound frame");
    assert(this.queueTag[frame.index] === NO_QUEUE, "release of a queued frame");
    this.flushGhost();
    this.empty[this.emptyTop++] = frame.index;
  }

  /** One pin, one use counted (PoolFrame.freq, its 4-bit mask written out: the hit path). */
  pin(frame: PoolFrame, write: boolean): void {
    if (frame.pins++ === 0) this.framesPinned++;
    if (write && frame.writers++ === 0) this.framesWriting++;
    frame.freq = ((frame.freq << 1) | 1) & 15;
  }

  /**
   * Drop one pin. A dirty unpin releases a write pin; a clean one may be either kind, so
   * `writers` is only capped at `pins` (conservative: checkpoint may wait for a reader).
   */
  unpin(frame: PoolFrame, dirty: boolean): void {
    const writing = frame.writers > 0;
    if (dirty) {
      this.markDirty(frame);
      if (frame.writers > 0) frame.writers--;
    }
    if (--frame.pins === 0) {
      this.framesPinned--;
      frame.writers = 0;
    } else if (frame.writers > frame.pins) {
      frame.writers = frame.pins;
    }
    if (writing && frame.writers === 0) this.framesWriting--;
  }

  markDirty(frame: PoolFrame): void {
    if (!frame.dirty) {
      frame.dirty = true;
      this.framesDirty++;
      if (!frame.listed) {
        frame.listed = true;
        this.dirtyList[this.dirtyListed++] = frame.index;
      }
    }
  }

  /**
   * The dirty frames, each once, into `out`. O(frames made dirty since the last
   * clearDirtyList()), never O(pool). The list is kept until clearDirtyList().
   */
  collectDirty(out: PoolFrame[]): void {
    for (let i = 0; i < this.dirtyListed; i++) {
      const f = this.frames[this.dirtyList[i]];
      if (f.dirty) out.push(f); // each frame is listed at most once: see `listed`
    }
  }

  /** Forget the dirty list once every frame on it is clean (after a commit). */
  clearDirtyList(): void {
    for (let i = 0; i < this.dirtyListed; i++) {
      const f = this.frames[this.dirtyList[i]];
      if (f.dirty) assertFailed(`clearing the dirty list while frame ${f.index} is dirty`);
      f.listed = false;
    }
    this.dirtyListed = 0;
  }

  markClean(frame: PoolFrame): void {
    if (frame.dirty) {
      frame.dirty = false;
      this.framesDirty--;
    }
  }

  /** Verify every invariant listed at the top of this file. O(frames): debug mode only. */
  checkInvariants(): void {
    let pinned = 0;
    let dirty = 0;
    let writing = 0;
    let bound = 0;
    let older = 0;
    const made = this.made.length;
    assert(made <= this.cacheFrames, `${made} frames made, the pool has ${this.cacheFrames}`);
    assert(this.emptyTop <= made, `${this.emptyTop} empty frames of ${made} made`);
    const onStack = new Uint8Array(made);
    for (let s = 0; s < this.emptyTop; s++) {
      const i = this.empty[s];
      assert(i >= 0 && i < made, `frame ${i} on the empty stack was never made`);
      assert(onStack[i] === 0, `frame ${i} is on the empty stack twice`);
      onStack[i] = 1;
    }
    for (let i = 0; i < made; i++) {
      const f = this.made[i];
      assert(f.index === i, `frame ${i} says it is frame ${f.index}`);
      assert(f.pins >= 0 && f.writers >= 0 && f.writers <= f.pins, `frame ${f.index} pin counts`);
      if (f.pins > 0) pinned++;
      if (f.dirty) dirty++;
      if (f.writers > 0) writing++;
      assert(!f.dirty || f.listed, `dirty frame ${f.index} is not on the dirty list`);
      if (f.pgno === 0) {
        assert(f.pins === 0 && !f.dirty, `empty frame ${f.index} is pinned or dirty`);
      } else if (f.version === CURRENT) {
        bound++;
        assert(onStack[f.index] === 0, `bound frame ${f.index} is on the empty stack`);
        assert(this.table.get(f.pgno) === f.index, `page ${f.pgno} missing from the page table`);
      } else {
        older++;
        assert(onStack[f.index] === 0, `bound frame ${f.index} is on the empty stack`);
        assert(!f.dirty, `frame ${f.index} holds an older image of page ${f.pgno} and is dirty`);
        if (f.version === ORPHAN) {
          assert(f.pins > 0, `orphan frame ${f.index} is not pinned`);
        } else {
          assert(
            this.versions.get(f.pgno, f.version) === f.index,
            `version ${f.version} of page ${f.pgno} missing from the version table`,
          );
        }
      }
    }
    assert(pinned === this.framesPinned, `framesPinned ${this.framesPinned} != ${pinned}`);
    assert(dirty === this.framesDirty, `framesDirty ${this.framesDirty} != ${dirty}`);
    assert(writing === this.framesWriting, `framesWriting ${this.framesWriting} != ${writing}`);
    assert(bound === this.table.size, `page table holds ${this.table.size}, ${bound} bound`);
    assert(bound + older + this.emptyTop === made, "a frame is neither bound nor empty");
    this.checkQueues(bound + older);
  }

  /** The S3-FIFO invariants: queues, their sizes, every bound frame in one, the ghosts. */
  private checkQueues(boundFrames: number): void {
    const made = this.made.length;
    const seen = new Uint8Array(made);
    for (let q = SMALL; q <= MAIN; q++) {
      let n = 0;
      let prev = -1;
      for (let i = this.tails[q]; i >= 0; i = this.newer[i]) {
        assert(i < made && n < made, `queue ${q} runs past the frames made`);
        assert(seen[i] === 0, `frame ${i} is in a queue twice`);
        seen[i] = 1;
        assert(this.queueTag[i] === q, `frame ${i} in queue ${q} is tagged ${this.queueTag[i]}`);
        assert(this.older[i] === prev, `frame ${i}'s older link is ${this.older[i]}, not ${prev}`);
        assert(this.made[i].pgno !== 0, `empty frame ${i} is in queue ${q}`);
        assert(this.made[i].freq <= 15, `frame ${i}'s use counter ${this.made[i].freq}`);
        prev = i;
        n++;
      }
      assert(this.heads[q] === prev, `queue ${q}'s head is ${this.heads[q]}, not ${prev}`);
      assert(this.sizes[q] === n, `queue ${q} says it holds ${this.sizes[q]}, it holds ${n}`);
    }
    assert(
      this.sizes[SMALL] + this.sizes[MAIN] === boundFrames,
      `the queues hold ${this.sizes[SMALL] + this.sizes[MAIN]} frames, ${boundFrames} are bound`,
    );
    for (let i = 0; i < made; i++) {
      const tag = this.queueTag[i];
      assert((tag !== NO_QUEUE) === (seen[i] === 1), `frame ${i} is tagged ${tag}`);
      assert(seen[i] === (this.made[i].pgno !== 0 ? 1 : 0), `frame ${i}'s queue membership`);
    }
    assert(this.ghost.size <= this.mainShare, `${this.ghost.size} ghosts > ${this.mainShare}`);
    const pending = this.ghostPending;
    assert(pending === 0 || this.table.get(pending) < 0, `pending ghost ${pending} is resident`);
    assert(pending === 0 || !this.ghost.has(pending), `pending ghost ${pending} is a ghost`);
    let ghosts = 0;
    this.ghost.forEach((pgno) => {
      ghosts++;
      assert(this.table.get(pgno) < 0, `page ${pgno} is resident and a ghost`);
    });
    assert(ghosts === this.ghost.size, `the ghost list holds ${ghosts}, says ${this.ghost.size}`);
  }
}
