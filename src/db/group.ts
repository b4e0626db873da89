// Group commit: the queue behind the Database's asynchronous writes (putAsync, deleteAsync,
// batchAsync, transactionAsync). Calls wait in call order; at the end of the event turn, or
// when the sync in flight completes, every waiting call is applied in one pager
// transaction, committed into the log without waiting (Pager.commitDeferred), and one
// Pager.syncAsync makes the whole group durable, off the thread. The protocol, its states and
// its races: docs/design/group-commit.md.
//
// Invariants:
//   - calls are applied in call order, each exactly once (a transaction function never runs
//     twice: after a failure, the items before it are replayed from their write sets);
//   - at most one group is SYNCING; the next one is applied only after it settled, so no
//     await ever falls inside an open pager transaction;
//   - a group's promises settle together, in call order, after its commit is durable
//     (pager.durableLsn reached its LSN), or all reject when it failed; an item that failed
//     alone rejects at once;
//   - `pending` holds at most PENDING_CALLS_MAX calls and PENDING_BYTES_MAX bytes of keys and
//     values; later calls wait in `overflow`, in call order, and move up as room is made.

import type { BTree } from "../btree/btree.js";
import { PagekvError } from "../errors.js";
import type { Pager } from "../pager/pager.js";

/** Calls one group may hold (a bound on `pending`; more wait in `overflow`). */
export const PENDING_CALLS_MAX = 65_536;
/** Bytes of keys and values one group may hold (at least one call, whatever its size). */
export const PENDING_BYTES_MAX = 64 * 2 ** 20;

/**
 * Items of one group that may fail alone (each costs a replay of the items before it); past
 * it, the rest of the group is rejected with the next failure: bounded work per group.
 */
export const ITEM_FAILURES_MAX = 16;

/** One write of a write set: a put (value) or a delete (value null). */
export interface WriteOp {
  readonly key: Uint8Array;
  readonly value: Uint8Array | null;
}

/**
 * One asynchronous call. `run` applies it for the first time, pushing what it wrote onto
 * `writes`, and returns its result; the write set replays it after a rollback.
 */
export interface GroupItem {
  readonly bytes: number;
  run(tree: BTree, writes: WriteOp[]): unknown;
  resolve(value: unknown): void;
  reject(error: unknown): void;
}

/** An item in a group: its write set and result once applied. */
interface Applied {
  readonly item: GroupItem;
  writes: WriteOp[] | null;
  result: unknown;
}

/** A committed group: settles once its LSN is durable. */
interface Group {
  readonly members: Applied[];
  readonly lsn: bigint;
  settled: boolean;
}

/**
 * The errors an item can cause on its own: its arguments, its size, the database's limits,
 * damage met on its path, and anything a transaction function throws. Every other engine
 * error (ERR_IO, ERR_FENCED, ERR_CLOSED, ERR_CRASHED, ...) is the log's or the pager's and
 * fails the whole group.
 */
const ITEM_CODES: ReadonlySet<string> = new Set([
  "ERR_ARG",
  "ERR_KEY_TOO_LARGE",
  "ERR_VALUE_TOO_LARGE",
  "ERR_FULL",
  "ERR_LIMIT",
  "ERR_TXN",
  "ERR_CORRUPT",
  "ERR_PAGE_RANGE",
]);

function groupWide(e: unknown): boolean {
  return e instanceof PagekvError && !ITEM_CODES.has(e.code);
}

export class GroupQueue {
  private readonly pager: Pager;
  private readonly tree: BTree;
  private readonly path: string;
  private pending: GroupItem[] = [];
  private pendingBytes = 0;
  private overflow: GroupItem[] = [];
  private overflowAt = 0;
  /** A flush is scheduled for the end of the turn. */
  private scheduled = false;
  /** The group whose sync is in flight (SYNCING), or null. */
  private syncing: Group | null = null;
  /** Groups committed by a synchronous drain, waiting for a durable LSN (normally none). */
  private drained: Group[] = [];
  private idleWaiters: (() => void)[] = [];
  private groups = 0;

  constructor(pager: Pager, tree: BTree, path: string) {
    this.pager = pager;
    this.tree = tree;
    this.path = path;
  }

  /** Groups committed so far (stats().groupCommits). */
  get groupCommits(): number {
    return this.groups;
  }

  /** Nothing is waiting, being applied or syncing. */
  get idle(): boolean {
    return (
      this.pending.length === 0 &&
      this.overflowAt >= this.overflow.length &&
      this.syncing === null &&
      this.drained.length === 0
    );
  }

  /** Queue a call (its arguments checked and copied already). */
  enqueue(item: GroupItem): void {
    const full =
      this.pending.length >= PENDING_CALLS_MAX ||
      (this.pending.length > 0 && this.pendingBytes + item.bytes > PENDING_BYTES_MAX);
    if (full || this.overflowAt < this.overflow.length) this.overflow.push(item);
    else this.add(item);
    this.schedule();
  }

  /** Resolves once the queue is idle (closeAsync). */
  whenIdle(): Promise<void> {
    if (this.idle) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /**
   * Before a synchronous write, checkpoint or close (call order): apply every waiting call
   * now as one group, committed into the log (not synced), so that the caller's own sync
   * covers it, and the group in flight too. Should the caller not sync (its write failed),
   * the next flush syncs it. A failure is the waiting calls' (rejected), not the caller's.
   */
  drain(): void {
    this.refill(true);
    if (this.pending.length > 0) {
      const items = this.take();
      const group = this.apply(items, () => this.pager.commitDeferred());
      if (group !== null) {
        this.drained.push(group);
        this.schedule();
      }
    }
    this.settleDurable();
  }

  /** After a synchronous sync of the log: settle every group it made durable. */
  settleDurable(): void {
    const durable = this.pager.durableLsn;
    const syncing = this.syncing;
    if (syncing !== null && !syncing.settled && syncing.lsn <= durable) settle(syncing);
    if (this.drained.length > 0) {
      for (const g of this.drained) if (g.lsn <= durable) settle(g);
      this.drained = this.drained.filter((g) => !g.settled);
    }
    this.notifyIdle();
  }

  /**
   * The database closed: groups its close made durable resolve, every other call rejects
   * (ERR_CLOSED, or `cause`'s error when the close failed).
   */
  closeAll(cause: unknown): void {
    this.settleDurable();
    const err =
      cause ??
      new PagekvError("ERR_CLOSED", `${this.path}: the database is closed`, { path: this.path });
    for (const g of [this.syncing, ...this.drained]) {
      if (g !== null && !g.settled) fail(g, err);
    }
    this.syncing = null;
    this.drained = [];
    for (const item of this.take()) item.reject(err);
    for (const item of this.overflow.slice(this.overflowAt)) item.reject(err);
    this.overflow = [];
    this.overflowAt = 0;
    this.notifyIdle();
  }

  // ---- the states (group-commit.md, "States of the queue") ----

  private schedule(): void {
    if (this.scheduled || this.syncing !== null) return;
    this.scheduled = true;
    nextTurn(() => {
      this.scheduled = false;
      this.flush();
    });
  }

  /**
   * COLLECTING -> APPLYING -> SYNCING: one group, if any call waits; or only the sync, for
   * groups a drain committed that no synchronous sync covered.
   */
  private flush(): void {
    if (this.syncing !== null) return;
    this.settleDurable();
    this.refill(false);
    let group: Group | null = null;
    if (this.pending.length > 0) {
      const items = this.take();
      group = this.apply(items, () => this.pager.commitDeferred());
    }
    if (group === null && this.drained.length === 0) {
      if (this.pending.length > 0 || this.overflowAt < this.overflow.length) this.schedule();
      this.notifyIdle();
      return;
    }
    const done: Group = group ?? { members: [], lsn: 0n, settled: true };
    this.syncing = done;
    this.pager.syncAsync().then(
      () => {
        if (!done.settled) settle(done);
        this.afterGroup(done);
      },
      (e: unknown) => {
        if (!done.settled) fail(done, e);
        for (const g of this.drained) if (!g.settled) fail(g, e);
        this.drained = [];
        this.afterGroup(done);
      },
    );
  }

  /** SYNCING -> IDLE: the automatic checkpoint, then the next group at the end of the turn. */
  private afterGroup(group: Group): void {
    if (this.syncing !== group) return; // closed meanwhile
    this.syncing = null;
    this.settleDurable();
    try {
      this.pager.afterSync();
    } catch {
      // The commits are durable; a failed checkpoint is retried after a later commit, and
      // one that fenced the pager fails the next group.
    }
    this.notifyIdle();
    if (this.pending.length > 0 || this.overflowAt < this.overflow.length) this.schedule();
  }

  /**
   * APPLYING: the items in call order in one transaction, committed by `commit`. An item
   * that throws is rejected alone and the others applied again without it; a fault of the
   * log or pager rejects them all. Returns the committed group, or null when nothing was.
   */
  private apply(items: GroupItem[], commit: () => bigint): Group | null {
    const live: Applied[] = items.map((item) => ({ item, writes: null, result: undefined }));
    for (let failures = 0; ; failures++) {
      if (live.length === 0) return null;
      let failedAt = -1;
      let failure: unknown = null;
      try {
        this.pager.begin();
      } catch (e) {
        for (const a of live) a.item.reject(e);
        return null;
      }
      for (let i = 0; i < live.length && failedAt < 0; i++) {
        const a = live[i];
        try {
          if (a.writes !== null) replay(this.tree, a.writes);
          else {
            const writes: WriteOp[] = [];
            a.result = a.item.run(this.tree, writes);
            a.writes = writes;
          }
        } catch (e) {
          failedAt = i;
          failure = e;
        }
      }
      if (failedAt < 0) {
        let lsn: bigint;
        try {
          lsn = commit();
        } catch (e) {
          // The pager rolled the transaction back (and fenced it if a sync failed).
          this.tree.invalidate();
          for (const a of live) a.item.reject(e);
          return null;
        }
        this.groups++;
        return { members: live, lsn, settled: false };
      }
      try {
        if (this.pager.inTransaction) this.pager.rollback();
      } catch (e) {
        failure = e; // the rollback itself failed: nothing of the group can go on
        failedAt = -1;
      }
      this.tree.invalidate();
      if (failedAt < 0 || groupWide(failure) || failures >= ITEM_FAILURES_MAX) {
        for (const a of live) a.item.reject(failure);
        return null;
      }
      live[failedAt].item.reject(failure);
      live.splice(failedAt, 1);
    }
  }

  /** Take every pending call (the group), leaving `pending` empty. */
  private take(): GroupItem[] {
    const items = this.pending;
    this.pending = [];
    this.pendingBytes = 0;
    return items;
  }

  /** Move waiting calls from `overflow` into `pending` while there is room (or all). */
  private refill(all: boolean): void {
    while (this.overflowAt < this.overflow.length) {
      const item = this.overflow[this.overflowAt];
      const room =
        all ||
        this.pending.length === 0 ||
        (this.pending.length < PENDING_CALLS_MAX &&
          this.pendingBytes + item.bytes <= PENDING_BYTES_MAX);
      if (!room) break;
      this.add(item);
      this.overflowAt++;
    }
    if (this.overflowAt >= this.overflow.length) {
      this.overflow = [];
      this.overflowAt = 0;
    }
  }

  private add(item: GroupItem): void {
    this.pending.push(item);
    this.pendingBytes += item.bytes;
  }

  private notifyIdle(): void {
    if (!this.idle || this.idleWaiters.length === 0) return;
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const w of waiters) w();
  }
}

/**
 * Run `fn` at the end of this event turn, after pending I/O callbacks: `setImmediate` where
 * the platform has it (Node, Bun, Deno), a zero timeout in a browser.
 */
const nextTurn: (fn: () => void) => void = (() => {
  const g = globalThis as { setImmediate?: (fn: () => void) => unknown };
  if (typeof g.setImmediate === "function") {
    const immediate = g.setImmediate;
    return (fn: () => void) => {
      immediate(fn);
    };
  }
  return (fn: () => void) => {
    setTimeout(fn, 0);
  };
})();

function replay(tree: BTree, writes: readonly WriteOp[]): void {
  for (const w of writes) {
    if (w.value === null) tree.delete(w.key);
    else tree.put(w.key, w.value);
  }
}

function settle(group: Group): void {
  group.settled = true;
  for (const a of group.members) a.item.resolve(a.result);
}

function fail(group: Group, e: unknown): void {
  group.settled = true;
  for (const a of group.members) a.item.reject(e);
}
