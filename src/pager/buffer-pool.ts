// The buffer pool: frames carved from one ArrayBuffer arena, the page table, the stack of
// empty frames and CLOCK replacement. It does no I/O and knows nothing of files: the pager
// decides what a victim's bytes need before reuse and what to read into a frame. The arena
// is allocated at open (the OS commits its pages only as they are touched); a frame's object
// and views are made the first time a miss needs a frame and none is empty, so a large pool
// costs its bookkeeping only for the frames that have held a page.
//
// Invariants (checkInvariants verifies them; the pager's debug mode runs it after every call):
//   - frames is dense: frames[i].index === i for i < frames.length <= cacheFrames, and frame
//     i views the arena at i * pageSize. A frame, once made, lives as long as the pool;
//   - a new frame is made only when the empty stack is empty, and CLOCK chooses a victim
//     only when every frame exists (frames.length === cacheFrames): a frame that exists is
//     never evicted while the arena has room for another;
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
//     by its last unpin). CLOCK evicts either kind; a lookup of the current image never
//     looks at the older ones.

import { assert } from "../errors.js";
import { checksummedView } from "../format/page.js";
import { CURRENT, ORPHAN, PoolFrame } from "./frame.js";
import { PageTable } from "./page-table.js";
import { VersionTable } from "./version-table.js";

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
  private hand = 0;
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
   * exist; null when every possible frame exists and holds a page (then CLOCK chooses).
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
   * CLOCK: the first unpinned frame whose reference bit is clear, clearing bits as the hand
   * passes. Bounded: two sweeps suffice (the first clears every unpinned bit), so it returns
   * null, never spins, when every frame is pinned. Over the frames that exist (all of them
   * when takeEmpty() found none to give).
   */
  chooseVictim(): PoolFrame | null {
    const n = this.made.length;
    if (this.framesPinned === n) return null;
    const frames = this.frames;
    for (let step = 0; step < 2 * n; step++) {
      const f = frames[this.hand];
      this.hand = this.hand + 1 === n ? 0 : this.hand + 1;
      if (f.pins > 0 || f.pgno === 0) continue;
      if (f.referenced) {
        f.referenced = false;
        continue;
      }
      return f;
    }
    return null;
  }

  /**
   * Dirty, unpinned frames that CLOCK will reach soonest, `victim` first: the `window`
   * frames after the hand, at most `max` in all, into `out` (cleared first). A dirty victim
   * is logged together with these, so one write makes room for the next misses too instead
   * of one write per miss. Allocates nothing when `out` has room.
   */
  collectSpill(victim: PoolFrame, out: PoolFrame[], max: number, window: number): void {
    out.length = 0;
    out.push(victim);
    const n = this.made.length;
    let i = this.hand;
    for (let step = 0; step < window && step < n && out.length < max; step++) {
      const f = this.frames[i];
      if (f.dirty && f.pins === 0 && f !== victim) out.push(f);
      i = i + 1 === n ? 0 : i + 1;
    }
  }

  /** Record that `frame` (taken empty or as a victim, already unbound) now holds `pgno`. */
  bind(frame: PoolFrame, pgno: number): void {
    assert(frame.pgno === 0 && frame.pins === 0, "bind of a frame that is in use");
    frame.pgno = pgno;
    frame.referenced = true;
    frame.checked = 0;
    this.table.set(pgno, frame.index);
  }

  /** As bind(), for an older image of `pgno`: `version` (see version-table.ts). */
  bindVersion(frame: PoolFrame, pgno: number, version: number): void {
    assert(frame.pgno === 0 && frame.pins === 0, "bind of a frame that is in use");
    frame.pgno = pgno;
    frame.version = version;
    frame.referenced = true;
    frame.checked = 0;
    this.versions.set(pgno, version, frame.index);
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
    if (frame.version === CURRENT) this.table.delete(frame.pgno);
    else if (frame.version !== ORPHAN) this.versions.delete(frame.pgno, frame.version);
    frame.version = CURRENT;
    if (frame.dirty) this.framesDirty--;
    frame.dirty = false;
    frame.referenced = false;
    frame.writers = 0;
    frame.pgno = 0;
  }

  /** Return an unbound frame to the empty stack. */
  release(frame: PoolFrame): void {
    assert(frame.pgno === 0 && frame.pins === 0, "release of a bound frame");
    this.empty[this.emptyTop++] = frame.index;
  }

  pin(frame: PoolFrame, write: boolean): void {
    if (frame.pins++ === 0) this.framesPinned++;
    if (write && frame.writers++ === 0) this.framesWriting++;
    frame.referenced = true;
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
      assert(!f.dirty, `clearing the dirty list while frame ${f.index} is dirty`);
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
    assert(this.hand < Math.max(made, 1), `the CLOCK hand ${this.hand} is past the frames`);
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
  }
}
