// The public key/value API: open(path) and a Database of byte-ordered keys, with one-call
// writes, batches, transaction functions and range iterators, over the B+tree and the
// pager. It owns argument checking (keys and values are Uint8Array or UTF-8 strings) and
// the transaction discipline; it never touches pages itself.
//
// Invariants:
//   - every write is one pager transaction: it commits whole or rolls back whole;
//   - inside a transaction function, writes go through `tx` only (a write through the
//     Database is ERR_TXN) and reads through the Database see the last commit, through a
//     snapshot taken at the first such read and closed before the commit;
//   - range() reads a snapshot of its own (snapshot.ts: OwnedRange) unless asked to follow
//     the live tree; close() closes every snapshot (the pager's close does);
//   - on a read-only open (a reader beside a writer that may be running elsewhere:
//     docs/design/readers.md) every read starts with the pager's refresh, so it sees the
//     last commit in the log when it began; its ranges always read a snapshot, since the
//     live view moves at each refresh;
//   - returned keys and values are copies the caller owns;
//   - the asynchronous writes (putAsync, ...) go through the group queue (group.ts): applied
//     in call order with the synchronous ones, which first apply what waits (drain) and then
//     settle what their sync made durable; with sync "full", reads see only durable commits
//     (the pager's gate: `pager.visible`). docs/design/group-commit.md.

import { BTREE_CACHE_FRAMES_MIN, BTree } from "../btree/btree.js";
import { count, freeBytes, KIND_INTERIOR, KIND_LEAF, kind, usedBytes } from "../btree/node.js";
import { PagekvError } from "../errors.js";
import { APP_SLOTS, APPLICATION_ID_NONE } from "../format/header.js";
import { WAL_HEADER_BYTES } from "../format/wal-format.js";
import {
  checkOptions,
  describe,
  optionalBoolean,
  optionalChoice,
  optionalInteger,
} from "../options.js";
import {
  Pager,
  type PagerSnapshot,
  type PagerStats,
  type SyncMode,
  WAL_AUTO_CHECKPOINT_PAGES_DEFAULT,
  WAL_AUTO_CHECKPOINT_PAGES_MAX,
  walPathOf,
} from "../pager/pager.js";
import type { VFile, VFS } from "../vfs/vfs.js";
import type { RecoverMode } from "../wal/wal.js";
import {
  type BackupOptions,
  type BackupResult,
  BackupRun,
  backupAsync,
  backup as backupSync,
} from "./backup.js";
import {
  COMPACT_MOVES_PER_TXN,
  type CompactOptions,
  type CompactResult,
  compactPager,
} from "./compact.js";
import { type GroupItem, GroupQueue, type WriteOp } from "./group.js";
import { type Bytes, bytes, RANGE_OPTIONS, type RangeOptions, rangeOf } from "./range.js";
import { OwnedRange, Snapshot } from "./snapshot.js";

export type { BackupOptions, BackupProgress, BackupResult } from "./backup.js";
export { BACKUP_CHUNK_BYTES, BACKUP_CHUNK_PAGES_MAX, BACKUP_TEMP_SUFFIX } from "./backup.js";
export { COMPACT_MOVES_PER_TXN, type CompactOptions, type CompactResult } from "./compact.js";
export { PENDING_BYTES_MAX, PENDING_CALLS_MAX } from "./group.js";
export type { Bytes, RangeOptions } from "./range.js";
export { Snapshot } from "./snapshot.js";

/**
 * The pool open() makes unless told: 256 MiB, 65,536 frames of 4 KiB. The pool makes a
 * frame only when a page first needs one (buffer-pool.ts), so this costs nothing at open
 * (npm run bench:pool-rss: 0.3 MiB of RSS at open for 256 MiB, 0.1 MiB for 8 MiB) and grows
 * with the pages read, to at most the figure. 256 MiB holds every interior page of a tree of
 * a few GiB (about one page in a hundred at 4 KiB pages and short keys) and tens of
 * thousands of its hottest leaves, so such a database needs no tuning; smaller data never
 * reaches it. A fixed figure: the core never asks the platform how much memory it has.
 */
export const CACHE_BYTES_DEFAULT = 256 * 2 ** 20;

export interface DbOpenOptions {
  /** Page size for a new file; an existing file keeps its own. */
  pageSize?: number;
  /** Buffer pool bytes; raised to BTREE_CACHE_FRAMES_MIN pages if smaller. */
  cacheBytes?: number;
  sync?: SyncMode;
  /**
   * Checkpoint (copy the log home) after a commit leaves at least this many pages in the
   * log; 0: only at close or db.checkpoint(). Default: 8192 pages, or, when `cacheBytes`
   * is given, the pool's pages (cacheBytes / pageSize) if that is more: the default pool
   * (CACHE_BYTES_DEFAULT) is sized for reads and does not raise it, so the log of a
   * database opened with no options stays at most 8192 pages past a commit.
   */
  autoCheckpointPages?: number;
  /** Create the file when it does not exist (default true; never when readOnly). */
  create?: boolean;
  /**
   * Open for reading: read-only opens of one database coexist; a writer makes them
   * ERR_LOCKED; every write is ERR_READ_ONLY; a missing file is ERR_NOT_FOUND.
   */
  readOnly?: boolean;
  /**
   * What open does when the log holds damaged frames that had been synced (committed data
   * lost): "strict" (default) fails with ERR_CORRUPT; "truncate" opens at the last good
   * commit and counts what it dropped in `db.droppedTransactions`.
   */
  recover?: RecoverMode;
  /** The file system (default: the platform's, passed by the entry point). */
  vfs: VFS;
}

/** db.range()'s options: a snapshot's and a transaction's, and whether to take a snapshot. */
export interface DbRangeOptions extends RangeOptions {
  /**
   * true (default): read a snapshot taken now, closed when the iterator ends. false: follow
   * the live tree, continuing after the last key returned when the database changes.
   */
  snapshot?: boolean;
}

export type BatchOp = { type: "put"; key: Bytes; value: Bytes } | { type: "del"; key: Bytes };

export interface DbStats extends PagerStats {
  pageSize: number;
  /** Groups of asynchronous writes committed so far (docs/design/group-commit.md). */
  groupCommits: number;
}

const COMPACT_OPTIONS = ["movesPerTransaction"] as const;

/** The options open() takes. */
const OPEN_OPTIONS = [
  "pageSize",
  "cacheBytes",
  "sync",
  "autoCheckpointPages",
  "create",
  "readOnly",
  "recover",
  "vfs",
] as const;

/**
 * The application id of a key/value database ("PKKV"): open() refuses a pagekv file with
 * another, such as one made with the bare Pager (APPLICATION_ID_NONE).
 */
export const KV_APPLICATION_ID = 0x504b_4b56;

/** Open (by default creating) the database at `path`. */
export function openDatabase(path: string, options: DbOpenOptions): Database {
  if (typeof path !== "string" || path.length === 0) {
    throw new PagekvError(
      "ERR_ARG",
      `open: path must be a non-empty string, got ${describe(path)}`,
    );
  }
  const where = `${path}: open`;
  const o = checkOptions<DbOpenOptions>(options, OPEN_OPTIONS, where, path);
  const vfs = o.vfs;
  if (
    typeof vfs !== "object" ||
    vfs === null ||
    typeof vfs.open !== "function" ||
    typeof vfs.exists !== "function" ||
    typeof vfs.lock !== "function"
  ) {
    throw new PagekvError("ERR_ARG", `${where}: option "vfs" must be a VFS, got ${describe(vfs)}`, {
      path,
    });
  }
  const readOnly = optionalBoolean(o.readOnly, "readOnly", where, path) === true;
  const createOption = optionalBoolean(o.create, "create", where, path);
  const pageSizeOption = optionalInteger(o.pageSize, "pageSize", 512, 65536, where, path);
  const cacheBytes =
    optionalInteger(o.cacheBytes, "cacheBytes", 0, Number.MAX_SAFE_INTEGER, where, path) ??
    CACHE_BYTES_DEFAULT;
  const sync = optionalChoice(o.sync, "sync", ["full", "normal", "off"], where, path) ?? "full";
  const walAutoCheckpointPages =
    optionalInteger(
      o.autoCheckpointPages,
      "autoCheckpointPages",
      0,
      WAL_AUTO_CHECKPOINT_PAGES_MAX,
      where,
      path,
    ) ?? (o.cacheBytes === undefined ? WAL_AUTO_CHECKPOINT_PAGES_DEFAULT : undefined);
  const recover = optionalChoice(o.recover, "recover", ["strict", "truncate"], where, path);
  const create = !readOnly && (createOption ?? true);
  const state = fileState(vfs, path);
  if (state !== "database" && !create) {
    const why = readOnly ? "readOnly" : "create: false";
    if (state === "empty") {
      throw new PagekvError(
        "ERR_NOT_DATABASE",
        `${path}: the file is empty (0 bytes), not a database yet (${why}: open it writable to create one)`,
        { path },
      );
    }
    throw new PagekvError("ERR_NOT_FOUND", `${path}: no such database (${why})`, { path });
  }
  const pageSize = pageSizeOption ?? 4096;
  const framesFor = (size: number) =>
    Math.max(BTREE_CACHE_FRAMES_MIN, Math.min(2 ** 20, Math.floor(cacheBytes / size)));
  // An existing file's page size wins: size the pool in its pages.
  const existing = state === "database";
  const filePageSize = existing ? (Pager.pageSizeOf(vfs, path) ?? pageSize) : pageSize;
  const pager = existing
    ? Pager.open(vfs, path, {
        cacheFrames: framesFor(filePageSize),
        sync,
        readOnly,
        walAutoCheckpointPages,
        recover,
      })
    : Pager.create(vfs, path, {
        pageSize,
        cacheFrames: framesFor(pageSize),
        sync,
        walAutoCheckpointPages,
        applicationId: KV_APPLICATION_ID,
      });
  try {
    checkKind(pager, readOnly);
  } catch (e) {
    pager.close();
    throw e;
  }
  return new Database(pager, readOnly);
}

/**
 * What is at `path`: a database to open (or a log to recover one from), an empty file to
 * create one in (as `mktemp` leaves), or nothing.
 */
function fileState(vfs: VFS, path: string): "database" | "empty" | "missing" {
  if (!vfs.exists(path)) return "missing";
  if (sizeOf(vfs, path) > 0) return "database";
  // A log beside an empty file may hold the database (a checkpoint had not reached home),
  // if it holds a frame at all: a power loss while a new database was being created leaves
  // an empty file beside an empty (or header-only) log, which is no database yet.
  const name = vfs.canonical === undefined ? path : vfs.canonical(path);
  const wal = walPathOf(name);
  if (!vfs.exists(wal)) return "empty";
  let log: VFile;
  try {
    log = vfs.open(wal, { readOnly: true });
  } catch (e) {
    // A writer closing meanwhile deleted its log after its checkpoint had made the main
    // file whole (docs/design/readers.md, race D): look at the main file again.
    if (e instanceof PagekvError && e.code === "ERR_NOT_FOUND") {
      return sizeOf(vfs, path) > 0 ? "database" : "empty";
    }
    throw e;
  }
  try {
    return log.size() > WAL_HEADER_BYTES ? "database" : "empty";
  } finally {
    log.close();
  }
}

function sizeOf(vfs: VFS, path: string): number {
  const file = vfs.open(path, { readOnly: true });
  try {
    return file.size();
  } finally {
    file.close();
  }
}

/**
 * Refuse a pagekv file that is not a key/value database (ERR_NOT_DATABASE). A file of
 * format version 2 has no application id: it is taken when its tree's root is a B-tree
 * node and no other slot is used, and stamped with the id at its next commit (never when
 * `readOnly`). Exported for the CLI's check, which reads its own pager's snapshot.
 */
export function checkKind(pager: Pager, readOnly: boolean): void {
  const id = pager.applicationId;
  if (id === KV_APPLICATION_ID) return;
  const path = pager.path;
  if (!pager.legacyFormat) {
    const what =
      id === APPLICATION_ID_NONE
        ? "it has no application id (a file made with the bare Pager)"
        : `its application id is 0x${id.toString(16).padStart(8, "0")}, not the key/value database's`;
    throw new PagekvError("ERR_NOT_DATABASE", `${path}: not a pagekv key/value database: ${what}`, {
      path,
    });
  }
  const problem = legacyTreeProblem(pager);
  if (problem !== null) {
    throw new PagekvError(
      "ERR_NOT_DATABASE",
      `${path}: not a pagekv key/value database: a format-2 file whose ${problem} ` +
        "(a file made with the bare Pager?)",
      { path },
    );
  }
  if (!readOnly) pager.setApplicationId(KV_APPLICATION_ID);
}

/** Why a format-2 file's slots and root page are not a tree's, or null when they are. */
function legacyTreeProblem(pager: Pager): string | null {
  for (let i = 1; i < APP_SLOTS; i++) {
    if (pager.getSlot(i) !== 0) return `slot ${i} is in use (the tree uses slot 0 only)`;
  }
  const root = pager.getSlot(0);
  if (root === 0) return null;
  if (root < 2 || root > pager.pageCount) return `root page ${root} is out of range`;
  const f = pager.get(root);
  try {
    const d = f.data;
    const k = kind(d);
    if ((k !== KIND_LEAF && k !== KIND_INTERIOR) || d[1] !== 0) {
      return `root page ${root} is not a B-tree node (kind byte ${k})`;
    }
    if (freeBytes(d) < 0 || usedBytes(d) < 0 || (k === KIND_INTERIOR && count(d) === 0)) {
      return `root page ${root} has an impossible node header`;
    }
    return null;
  } finally {
    pager.unpin(f);
  }
}

export class Database {
  readonly path: string;
  private readonly pager: Pager;
  private readonly tree: BTree;
  private tx: Transaction | null = null;
  /** The last commit, which reads through the Database see while a tx function runs. */
  private txSnapshot: PagerSnapshot | null = null;
  private closed = false;
  /** closeAsync() was called: new calls are ERR_CLOSED while the queue empties. */
  private closing = false;
  /** The asynchronous writes waiting, being applied or syncing. */
  private readonly queue: GroupQueue;

  /** A read-only open: each read first follows the log (see the invariants). */
  private readonly follows: boolean;

  constructor(pager: Pager, readOnly: boolean) {
    this.pager = pager;
    this.path = pager.path;
    this.tree = new BTree(pager);
    this.follows = readOnly;
    this.queue = new GroupQueue(pager, this.tree, this.path);
  }

  /**
   * Commits dropped at open because synced log frames before them were damaged (only with
   * recover: "truncate"; 0 otherwise). A lower bound: the damaged frame may have been one.
   */
  get droppedTransactions(): number {
    return this.pager.droppedTransactions;
  }

  get(key: Bytes): Uint8Array | undefined {
    const source = this.reader();
    return this.tree.get(this.key(key), source);
  }

  has(key: Bytes): boolean {
    const source = this.reader();
    return this.tree.has(this.key(key), source);
  }

  put(key: Bytes, value: Bytes): void {
    const k = this.key(key);
    const v = bytes(value, "value", this.path);
    this.write(() => this.tree.put(k, v));
  }

  delete(key: Bytes): boolean {
    const k = this.key(key);
    return this.write(() => this.tree.delete(k));
  }

  /** Apply the operations in array order, as one transaction. */
  batch(ops: readonly BatchOp[]): void {
    this.open();
    const prepared = this.prepareBatch(ops, false);
    this.write(() => {
      for (const w of prepared) {
        if (w.value === null) this.tree.delete(w.key);
        else this.tree.put(w.key, w.value);
      }
    });
  }

  /**
   * A snapshot of the last commit: reads through it see that state until it is closed,
   * whatever is written after. ERR_LIMIT when SNAPSHOTS_MAX are open.
   */
  snapshot(): Snapshot {
    this.open();
    return new Snapshot(this.path, this.tree, this.pager.snapshot());
  }

  /**
   * Run `fn` with a snapshot of the last commit, closed when `fn` returns or throws; returns
   * what `fn` returns. `fn` must be synchronous (a promise is ERR_ARG).
   */
  read<T>(fn: (snapshot: Snapshot) => T): T {
    this.open();
    if (typeof fn !== "function")
      throw new PagekvError("ERR_ARG", `${this.path}: read takes a function`);
    const s = this.snapshot();
    try {
      const result = fn(s);
      if (isThenable(result)) {
        throw new PagekvError(
          "ERR_ARG",
          `${this.path}: a read function must be synchronous (it returned a promise; its snapshot is closed)`,
        );
      }
      return result;
    } finally {
      s.close();
    }
  }

  /**
   * Run `fn` in one transaction: it commits when `fn` returns and rolls back (and
   * rethrows) when it throws. `fn` must be synchronous (a promise is ERR_TXN).
   */
  transaction<T>(fn: (tx: Transaction) => T): T {
    this.open();
    if (this.tx !== null) throw new PagekvError("ERR_TXN", `${this.path}: nested transaction`);
    if (typeof fn !== "function")
      throw new PagekvError("ERR_ARG", `${this.path}: transaction takes a function`);
    this.queue.drain();
    this.pager.begin();
    const tx = new Transaction(this, this.tree);
    this.tx = tx;
    try {
      const result = fn(tx);
      this.refuseAsyncTransaction(result);
      // Its reads are done: the commit's automatic checkpoint must not wait for it.
      this.endTxSnapshot();
      this.pager.commit();
      this.queue.settleDurable();
      return result;
    } catch (e) {
      if (this.pager.inTransaction) this.pager.rollback();
      this.tree.invalidate();
      throw e;
    } finally {
      tx.end();
      this.tx = null;
      this.endTxSnapshot();
    }
  }

  /**
   * Entries in key order within the options' bounds, as of a snapshot taken now (closed
   * when the iterator ends, breaks, throws or is garbage collected), or with
   * `snapshot: false` following the live tree. Inside a transaction function it reads the
   * last commit either way.
   */
  range(options: DbRangeOptions = {}): IterableIterator<[Uint8Array, Uint8Array]> {
    this.open();
    const where = `${this.path}: range`;
    const o = checkOptions<DbRangeOptions>(options, DB_RANGE_OPTIONS, where, this.path);
    const live = optionalBoolean(o.snapshot, "snapshot", where, this.path) === false;
    const guard = () => this.open();
    if (live && this.tx === null && !this.follows && this.pager.visible === null) {
      return rangeOf(this.tree, o, this.path, guard, undefined, DB_RANGE_OPTIONS);
    }
    const snap = this.pager.snapshot();
    try {
      const inner = rangeOf(this.tree, o, this.path, guard, snap, DB_RANGE_OPTIONS);
      return new OwnedRange(inner, snap);
    } catch (e) {
      snap.close();
      throw e;
    }
  }

  /**
   * Copy the last commit (a snapshot taken now) into a new database at `dest`: a clean
   * single file, no log, synced and renamed into place whole (docs/design/backup.md).
   * ERR_EXISTS if `dest` or its log exists. Writes may go on meanwhile: from `onProgress`
   * in this thread, from other processes and threads at any time; the copy is the
   * snapshot's. Works on a read-only open. Synchronous: use backupAsync() to let this
   * thread's other work run between chunks.
   */
  backup(dest: string, options?: BackupOptions): BackupResult {
    return backupSync(this.backupRun(dest, options));
  }

  /** backup(), yielding to the event loop between chunks of the copy. */
  backupAsync(dest: string, options?: BackupOptions): Promise<BackupResult> {
    return new Promise<BackupResult>((resolve, reject) => {
      backupAsync(this.backupRun(dest, options)).then(resolve, reject);
    });
  }

  private backupRun(dest: string, options: BackupOptions | undefined): BackupRun {
    this.open();
    if (this.tx !== null) {
      throw new PagekvError("ERR_TXN", `${this.path}: backup inside a transaction function`);
    }
    this.follow();
    return new BackupRun(this.pager, dest, options, KV_APPLICATION_ID);
  }

  check(): string[] {
    this.open();
    this.follow();
    return this.tree.check();
  }

  /**
   * Copy the log home and start a new one: true. false while an open snapshot is behind the
   * last commit (only what no snapshot can see went home; the log stays).
   */
  checkpoint(): boolean {
    this.open();
    if (this.tx !== null)
      throw new PagekvError("ERR_TXN", `${this.path}: checkpoint inside a transaction`);
    this.queue.drain();
    const done = this.pager.checkpoint();
    this.queue.settleDurable();
    return done;
  }

  /**
   * Give disk space back (docs/design/compact.md): live pages near the end of the file move
   * into free pages lower down, in transactions of at most COMPACT_MOVES_PER_TXN moves, the
   * free tail is cut from the page count, and a checkpoint cuts the file (unless a snapshot
   * or a reader is behind: `fileCut` false, the file is cut at a later checkpoint). No data
   * changes. ERR_TXN inside a transaction function, ERR_READ_ONLY on a read-only open.
   * `movesPerTransaction` (1..2^20, default COMPACT_MOVES_PER_TXN) bounds each transaction:
   * fewer means a smaller log and pool footprint per commit, more commits (and syncs).
   */
  compact(options: CompactOptions = {}): CompactResult {
    this.open();
    const where = `${this.path}: compact`;
    const o = checkOptions<CompactOptions>(options, COMPACT_OPTIONS, where, this.path);
    const movesPerTxn =
      optionalInteger(o.movesPerTransaction, "movesPerTransaction", 1, 2 ** 20, where, this.path) ??
      COMPACT_MOVES_PER_TXN;
    if (this.tx !== null)
      throw new PagekvError("ERR_TXN", `${this.path}: compact inside a transaction`);
    if (this.follows) {
      throw new PagekvError("ERR_READ_ONLY", `${this.path}: compact on a read-only open`, {
        path: this.path,
      });
    }
    this.queue.drain();
    try {
      return compactPager(this.pager, 0, movesPerTxn);
    } finally {
      // Pages moved under any iterator that follows the live tree: it finds its place again.
      this.tree.invalidate();
      this.queue.settleDurable();
    }
  }

  stats(): DbStats {
    this.open();
    return {
      ...this.pager.stats(),
      pageSize: this.pager.pageSize,
      groupCommits: this.queue.groupCommits,
    };
  }

  /**
   * Close: asynchronous writes still waiting are applied and committed first (their promises
   * settle as if their group had synced); every later call is ERR_CLOSED.
   */
  close(): void {
    this.open();
    if (this.tx !== null)
      throw new PagekvError("ERR_TXN", `${this.path}: close inside a transaction`);
    this.queue.drain();
    this.closed = true;
    let failure: unknown = null;
    try {
      this.pager.close();
    } catch (e) {
      failure = e;
      throw e;
    } finally {
      this.queue.closeAll(failure);
    }
  }

  /**
   * Close once every asynchronous write settled: calls made after this are ERR_CLOSED (a
   * rejected promise); the promise resolves when the database is closed.
   */
  async closeAsync(): Promise<void> {
    this.open();
    if (this.closing) throw this.closedError();
    if (this.tx !== null)
      throw new PagekvError("ERR_TXN", `${this.path}: closeAsync inside a transaction`);
    this.closing = true;
    await this.queue.whenIdle();
    if (!this.closed) this.close();
  }

  // ---- asynchronous writes (docs/design/group-commit.md) ----

  /**
   * put(), resolved once durable under the database's sync mode: the call joins the group
   * of every write called in this event turn, or while the group before it syncs, and the
   * thread never waits for the disk. Reads see it once it resolved (sync "full").
   */
  putAsync(key: Bytes, value: Bytes): Promise<void> {
    return this.later(() => {
      const k = ownBytes(key, "key", this.path);
      const v = ownBytes(value, "value", this.path);
      this.tree.checkKey(k);
      return {
        bytes: k.length + v.length,
        run: (tree, writes) => {
          tree.put(k, v);
          writes.push({ key: k, value: v });
          return undefined;
        },
      };
    });
  }

  /** delete(), asynchronously as putAsync: resolves to whether the key existed. */
  deleteAsync(key: Bytes): Promise<boolean> {
    return this.later(() => {
      const k = ownBytes(key, "key", this.path);
      this.tree.checkKey(k);
      return {
        bytes: k.length,
        run: (tree, writes) => {
          const existed = tree.delete(k);
          writes.push({ key: k, value: null });
          return existed;
        },
      };
    });
  }

  /** batch(), asynchronously as putAsync: all of it or none, in array order. */
  batchAsync(ops: readonly BatchOp[]): Promise<void> {
    return this.later(() => {
      const prepared = this.prepareBatch(ops, true);
      let total = 0;
      for (const w of prepared) {
        this.tree.checkKey(w.key);
        total += w.key.length + (w.value?.length ?? 0);
      }
      return {
        bytes: total,
        run: (tree, writes) => {
          for (const w of prepared) {
            if (w.value === null) tree.delete(w.key);
            else tree.put(w.key, w.value);
            writes.push(w);
          }
          return undefined;
        },
      };
    });
  }

  /**
   * transaction(), asynchronously: `fn` runs once, when its group is applied (after every
   * write called before it), with a `tx` that reads its writes and theirs. It must be
   * synchronous. Resolves to what `fn` returned once durable; rejects, alone, if it threw.
   */
  transactionAsync<T>(fn: (tx: Transaction) => T): Promise<T> {
    return this.later<T>(() => {
      if (typeof fn !== "function")
        throw new PagekvError("ERR_ARG", `${this.path}: transactionAsync takes a function`);
      return {
        bytes: 0,
        run: (tree, writes) => this.runInGroup(fn, tree, writes),
      };
    });
  }

  // ---- internals ----

  /**
   * An asynchronous call: check its state and arguments now (a failure is a rejected
   * promise, never a throw) and queue it.
   */
  private later<T>(prepare: () => Omit<GroupItem, "resolve" | "reject">): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      if (this.closed || this.closing) throw this.closedError();
      if (this.tx !== null) {
        throw new PagekvError(
          "ERR_TXN",
          `${this.path}: an asynchronous write inside a transaction function (use tx)`,
        );
      }
      if (this.follows) {
        throw new PagekvError("ERR_READ_ONLY", `${this.path}: the database is open read-only`, {
          path: this.path,
        });
      }
      const item = prepare();
      const settle = resolve as (value: unknown) => void;
      this.queue.enqueue({ bytes: item.bytes, run: item.run, resolve: settle, reject });
    });
  }

  /** A transaction function of a group: its writes are recorded as they are made. */
  private runInGroup<T>(fn: (tx: Transaction) => T, tree: BTree, writes: WriteOp[]): T {
    const tx = new Transaction(this, tree, writes);
    this.tx = tx;
    try {
      const result = fn(tx);
      this.refuseAsyncTransaction(result);
      return result;
    } finally {
      tx.end();
      this.tx = null;
      this.endTxSnapshot();
    }
  }

  /** A batch's operations checked (and with `own`, copied) into write ops. */
  private prepareBatch(ops: readonly BatchOp[], own: boolean): WriteOp[] {
    if (!Array.isArray(ops)) throw new PagekvError("ERR_ARG", `${this.path}: batch takes an array`);
    const take = own ? ownBytes : bytes;
    return ops.map((op, i) => {
      if (op === null || typeof op !== "object") {
        throw new PagekvError("ERR_ARG", `${this.path}: batch operation ${i} is not an object`);
      }
      if (op.type === "put") {
        return { key: take(op.key, "key", this.path), value: take(op.value, "value", this.path) };
      }
      if (op.type === "del") return { key: take(op.key, "key", this.path), value: null };
      throw new PagekvError(
        "ERR_ARG",
        `${this.path}: batch operation ${i} has type ${String((op as { type?: unknown }).type)}`,
      );
    });
  }

  /** ERR_TXN for a transaction function that returned a promise (it must be synchronous). */
  private refuseAsyncTransaction(result: unknown): void {
    if (isThenable(result)) {
      throw new PagekvError(
        "ERR_TXN",
        `${this.path}: a transaction function must be synchronous (it returned a promise)`,
      );
    }
  }

  private closedError(): PagekvError {
    return new PagekvError("ERR_CLOSED", `${this.path}: the database is closed`);
  }

  /**
   * The source reads go to: while a transaction function runs, a snapshot of the last
   * commit, taken at the first read through the Database (no commit can come between the
   * transaction's start and then, so it is the state at the start).
   */
  private reader(): PagerSnapshot | undefined {
    this.open();
    if (this.tx === null) {
      this.follow();
      // Deferred commits wait for their sync: reads see the last durable one.
      return this.pager.visible ?? undefined;
    }
    if (this.txSnapshot === null) this.txSnapshot = this.pager.snapshot();
    return this.txSnapshot;
  }

  /** A reader's read starts at the log's last commit. */
  private follow(): void {
    if (this.follows && this.pager.refresh()) this.tree.invalidate();
  }

  private endTxSnapshot(): void {
    this.txSnapshot?.close();
    this.txSnapshot = null;
  }

  private write<T>(fn: () => T): T {
    this.open();
    if (this.tx !== null) {
      throw new PagekvError(
        "ERR_TXN",
        `${this.path}: write through the database inside a transaction function (use tx)`,
      );
    }
    this.queue.drain();
    this.pager.begin();
    try {
      const r = fn();
      this.pager.commit();
      this.queue.settleDurable();
      return r;
    } catch (e) {
      if (this.pager.inTransaction) this.pager.rollback();
      this.tree.invalidate();
      throw e;
    }
  }

  private key(key: Bytes): Uint8Array {
    this.open();
    return bytes(key, "key", this.path);
  }

  private open(): void {
    if (this.closed) throw this.closedError();
  }
}

/** The handle a transaction function gets: reads see its own writes. */
export class Transaction {
  private active = true;

  /** @internal `writes`: a group's record of what it writes (group.ts), or null. */
  constructor(
    private readonly db: Database,
    private readonly tree: BTree,
    private readonly writes: WriteOp[] | null = null,
  ) {}

  get(key: Bytes): Uint8Array | undefined {
    return this.tree.get(this.key(key));
  }

  has(key: Bytes): boolean {
    return this.tree.has(this.key(key));
  }

  put(key: Bytes, value: Bytes): void {
    const k = this.key(key);
    const own = this.writes !== null;
    const v = own ? ownBytes(value, "value", this.db.path) : bytes(value, "value", this.db.path);
    const kk = own && k === key ? k.slice() : k;
    this.tree.put(kk, v);
    this.writes?.push({ key: kk, value: v });
  }

  delete(key: Bytes): boolean {
    const k = this.key(key);
    const existed = this.tree.delete(k);
    this.writes?.push({ key: this.writes !== null && k === key ? k.slice() : k, value: null });
    return existed;
  }

  /** Entries as the transaction sees them; the iterator is usable only while it is open. */
  range(options: RangeOptions = {}): IterableIterator<[Uint8Array, Uint8Array]> {
    return rangeOf(this.tree, options, this.db.path, () => this.check());
  }

  /** @internal */
  end(): void {
    this.active = false;
  }

  private key(key: Bytes): Uint8Array {
    this.check();
    return bytes(key, "key", this.db.path);
  }

  private check(): void {
    if (!this.active) {
      throw new PagekvError("ERR_TXN", `${this.db.path}: the transaction is over`);
    }
  }
}

/** A promise, or anything else awaitable: what a function that must be synchronous returned. */
function isThenable(x: unknown): boolean {
  return x !== null && typeof (x as { then?: unknown })?.then === "function";
}

/**
 * bytes(), and a copy the engine owns when the caller passed its own array: an
 * asynchronous write is applied later, after the caller may have reused its buffer.
 */
function ownBytes(x: unknown, what: string, path: string): Uint8Array {
  const b = bytes(x, what, path);
  return b === x ? b.slice() : b;
}

/** The options db.range() takes: a range's, and `snapshot`. */
const DB_RANGE_OPTIONS = [...RANGE_OPTIONS, "snapshot"] as const;
