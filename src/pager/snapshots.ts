// Read snapshots: the state of one commit, fixed, read through the pager's pool and log
// index, and the set of open ones with the oldest bound they hold. The protocol, its races
// and its bounds: docs/design/snapshots.md.
//
// Invariants:
//   - every open snapshot belongs to the current log generation: the log is reset only when
//     every snapshot is at the committed end, and the reset rebases them all to bound 0;
//   - a snapshot's bound, page count and slots never change while it is open, except the
//     rebase, which keeps its state (what was in the log below the bound is then home);
//   - at most SNAPSHOTS_MAX are open; a closed snapshot is in no set and refuses every read.

import { assert, PagekvError } from "../errors.js";
import { APP_SLOTS } from "../format/header.js";
import type { Frame } from "./frame.js";
import { type Meta, slotIndex } from "./meta.js";
import type { PageSource } from "./page-source.js";

/** Snapshots one pager may have open at once (each costs well under 200 bytes). */
export const SNAPSHOTS_MAX = 1024;

/** What a snapshot needs of its pager (the Pager implements it). */
export interface SnapshotHost {
  readonly path: string;
  /** Pin page `pgno` as of `s` (the pager's open-state and range checks included). */
  pinAt(s: PagerSnapshot, pgno: number): Frame;
  /** Release a pin taken by pinAt. */
  unpinAt(frame: Frame): void;
}

export class PagerSnapshot implements PageSource {
  /** Pages in the snapshot's state, page 1 included. */
  readonly pageCount: number;
  /** The LSN of the commit it shows (0n before the first). */
  readonly lsn: bigint;
  /** How many commits the pager had made when it was taken (for stats). */
  readonly commitSeq: number;
  /** Frames of the current log generation it sees: those below the bound. */
  bound: number;
  /** Position in its set's array, -1 once closed. */
  slotIndex = -1;
  /** A plain array: taking a snapshot allocates no typed array. */
  private readonly slots: number[] = [0, 0, 0, 0, 0, 0, 0, 0];
  private readonly host: SnapshotHost;
  private readonly set: SnapshotSet;

  /** @internal Made by Pager.snapshot(). */
  constructor(
    host: SnapshotHost,
    set: SnapshotSet,
    meta: Pick<Meta, "pageCount"> & { readonly slots: ArrayLike<number> },
    bound: number,
    lsn: bigint,
    commitSeq: number,
  ) {
    this.host = host;
    this.set = set;
    this.pageCount = meta.pageCount;
    for (let i = 0; i < APP_SLOTS; i++) this.slots[i] = meta.slots[i];
    this.bound = bound;
    this.lsn = lsn;
    this.commitSeq = commitSeq;
  }

  get closed(): boolean {
    return this.slotIndex < 0;
  }

  /**
   * @internal Another open snapshot of the same state (Pager.snapshot() while deferred
   * commits wait for their sync: docs/design/group-commit.md, "Visibility"). The caller
   * checked the set's room.
   */
  copy(): PagerSnapshot {
    const state = { pageCount: this.pageCount, slots: this.slots };
    const s = new PagerSnapshot(this.host, this.set, state, this.bound, this.lsn, this.commitSeq);
    this.set.add(s);
    return s;
  }

  getSlot(i: number): number {
    this.check();
    return this.slots[slotIndex(this.host.path, i)];
  }

  /** Pin page `pgno` as of the snapshot: read-only, unpin it through this snapshot. */
  get(pgno: number): Frame {
    this.check();
    return this.host.pinAt(this, pgno);
  }

  unpin(frame: Frame): void {
    this.host.unpinAt(frame);
  }

  /** Stop reading: the log and the pool need no longer keep its state. Idempotent. */
  close(): void {
    if (this.slotIndex >= 0) this.set.remove(this);
  }

  private check(): void {
    if (this.slotIndex < 0) {
      throw new PagekvError(
        "ERR_CLOSED",
        `${this.host.path}: the snapshot is closed (by its close() or the database's)`,
        { path: this.host.path },
      );
    }
  }
}

/** The open snapshots of one pager. */
export class SnapshotSet {
  private readonly open: PagerSnapshot[] = [];

  get count(): number {
    return this.open.length;
  }

  /** ERR_LIMIT when SNAPSHOTS_MAX are open: checked before one is made. */
  checkRoom(path: string): void {
    if (this.open.length >= SNAPSHOTS_MAX) {
      throw new PagekvError(
        "ERR_LIMIT",
        `${path}: ${SNAPSHOTS_MAX} snapshots are open, the most one database allows ` +
          "(close snapshots and finished iterators)",
        { path },
      );
    }
  }

  add(s: PagerSnapshot): void {
    s.slotIndex = this.open.length;
    this.open.push(s);
  }

  /** O(1): the last one takes the removed one's place. */
  remove(s: PagerSnapshot): void {
    const last = this.open.pop() as PagerSnapshot;
    if (last !== s) {
      this.open[s.slotIndex] = last;
      last.slotIndex = s.slotIndex;
    }
    s.slotIndex = -1;
    this.onClose?.();
  }

  /** Called after each close: a reader's pager lowers or clears its read mark. */
  onClose: (() => void) | null = null;

  /** The `i`th open snapshot (0 <= i < count), in no particular order. */
  at(i: number): PagerSnapshot {
    return this.open[i];
  }

  /** The open snapshot with the lowest bound (the earliest taken among equals), or null. */
  oldest(): PagerSnapshot | null {
    let o: PagerSnapshot | null = null;
    for (const s of this.open) {
      if (o === null || s.bound < o.bound || (s.bound === o.bound && s.commitSeq < o.commitSeq)) {
        o = s;
      }
    }
    return o;
  }

  /** The log was reset with every snapshot at its committed end: what they see is home. */
  rebase(): void {
    for (const s of this.open) s.bound = 0;
  }

  /** Every open snapshot lies within the log's committed end and the page count. */
  checkInvariants(committedEnd: number, pageCount: number): void {
    for (let i = 0; i < this.open.length; i++) {
      const s = this.open[i];
      assert(s.slotIndex === i, `snapshot ${i} thinks it is at ${s.slotIndex}`);
      assert(s.bound <= committedEnd, `snapshot ${i}: bound ${s.bound} past ${committedEnd}`);
      assert(s.pageCount <= pageCount, `snapshot ${i}: ${s.pageCount} pages, past ${pageCount}`);
    }
  }

  closeAll(): void {
    while (this.open.length > 0) this.remove(this.open[this.open.length - 1]);
  }
}
