// The pager: page numbers in, pinned in-memory frames out. It owns the main file, page 1
// (the header), the buffer pool, the freelist, transactions and the checkpoint, and it
// composes the write-ahead log. Layers above see only usable page bytes and the contracts
// below; they never touch the files, the trailers or page 1.
//
// States (src/pager/state.ts; the write transaction is src/pager/txn.ts):
//   OPEN, no transaction      every call allowed
//   OPEN, transaction         pages or the header changed since the last commit. Implicit
//                             (no begin) until checkpoint()/close() commits it; explicit
//                             after begin(), ended by commit() or rollback()
//   FENCED                    a sync failed: write calls throw ERR_FENCED, reads see the
//                             last commit; close() (without checkpoint) and reopen recover
//                             to the last durable commit
//
// A failed write and a failed sync are not alike. A failed write of log frames (disk full,
// EIO on write) is ERR_IO for the call that made it: the log rewinds the append, a commit
// rolls its transaction back, a spill leaves its frames dirty, and the pager stays OPEN:
// reads always work, writes again once there is space. Nothing was lost, because nothing
// that was written can be trusted before a sync that succeeded. A failed sync is
// different: the kernel may have dropped the dirty pages and marked them clean
// (fsyncgate), so which of the log's writes are on the disk is unknown, and a retry would
// report success for bytes that are gone. So a failed sync fences, as does a failed write
// of the log's header (a new generation half started) and of a checkpoint's sync. A failed
// write home during a checkpoint (the log still holds every page) is ERR_IO and no more.
//   CLOSED / DEAD             every call throws ERR_CLOSED (DEAD: the VFS lost its lock,
//                             MemFS.crash() simulating the death of the process)
//
// Invariants (checkInvariants verifies them; `debug: true` runs it after every call):
//   - the main file is written only by checkpoint: a dirty page that must leave the pool
//     goes to the log as a frame of the open transaction, never home;
//   - a page's newest image is, in order: its pool frame, its log frame (open transaction,
//     then committed), the main file. Reads follow that order;
//   - every bound frame holds a page in 2..pageCount that is not free: a free page never
//     has a frame, so it can never be read or logged as live data;
//   - a dirty frame exists only inside a transaction; commit logs every dirty frame, and
//     page 1 (the header) whenever it changed and in a generation's first commit, so the
//     freelist and slots are exact at every commit point and a log with commits holds
//     page 1 (what repairs a torn write of it home);
//   - pageCount only grows within a transaction, but for shrink(), which lowers it past
//     free pages only (so no current frame is left past it), and a page number or freelist
//     entry is consumed only once the frame that will hold it is secured;
//   - a checkpoint never writes home a page past pageCount, and the main file is cut to
//     pageCount pages only by a checkpoint that resets the log, after the pages and page 1
//     are synced (docs/design/compact.md, "The cut");
//   - commit, rollback and checkpoint never run while a frame is pinned for writing;
//   - checkpoint backfills the main file from the committed log (page 1 last), syncs it,
//     and only then starts a new log generation: a crash at any instant leaves a log that
//     still holds every committed page, and open redoes the checkpoint.

import { assert, PagekvError } from "../errors.js";
import { U64_MAX } from "../format/codec.js";
import { crc32 as crc32Fallback } from "../format/crc32.js";
import { encodeTrunk, loadFreelist, trunkCapacity, trunksNeeded } from "../format/freelist.js";
import {
  APPLICATION_ID_NONE,
  decodeHeader,
  encodeHeader,
  HEADER_BYTES,
  type Header,
  newHeader,
} from "../format/header.js";
import {
  checksummedView,
  isValidPageSize,
  PAGE_NUMBER_MAX,
  PAGE_SIZE_DEFAULT,
  pageDamage,
  sealPage,
  usableSizeOf,
} from "../format/page.js";
import {
  checkOptions,
  describe,
  optionalBoolean,
  optionalChoice,
  optionalInteger,
} from "../options.js";
import type { Crc32, ReaderState, VFile, VFS, VLock } from "../vfs/vfs.js";
import { type RecoverMode, Wal } from "../wal/wal.js";
import { BufferPool } from "./buffer-pool.js";
import { CURRENT, type Frame, ORPHAN, type PoolFrame } from "./frame.js";
import { FreePages } from "./free-pages.js";
import { MarkPublisher, oldestReaderBound, type ReaderLag, readerLags } from "./marks.js";
import { Meta, slotIndex } from "./meta.js";
import { BACKFILL_STAGING_PAGES, ioError, PageIO } from "./page-io.js";
import type { PageSource } from "./page-source.js";
import { PagerSnapshot, SnapshotSet } from "./snapshots.js";
import { assertTransition, CLOSED, FENCED, OPEN, type PagerState } from "./state.js";
import { WriteTxn } from "./txn.js";

export type { Frame } from "./frame.js";
export type { ReaderLag } from "./marks.js";
export type { PageSource } from "./page-source.js";
export { PagerSnapshot, SNAPSHOTS_MAX } from "./snapshots.js";
export type Intent = "read" | "write";
export type SyncMode = "full" | "normal" | "off";

export const CACHE_FRAMES_DEFAULT = 2048;
export const CACHE_FRAMES_MIN = 1;
/** A bound on the pool: 2^20 frames (4 GiB of 4 KiB pages, past ARENA_BYTES_MAX anyway). */
export const CACHE_FRAMES_MAX = 1 << 20;
/** The arena is one ArrayBuffer; keep it well inside what V8 allocates in one piece. */
export const ARENA_BYTES_MAX = 2 ** 31;
/** Opens a reader tries when what it reads fails its checks (see Pager.open). */
const READER_OPEN_ATTEMPTS = 5;
/** Pages one checkpoint write may carry (Linux's IOV_MAX for writev). */
export const WRITE_RUN_PAGES_MAX = 1024;
/**
 * The automatic checkpoint's threshold unless set: this many pages, or the pool's frame
 * count when that is larger (the log may hold as many pages as the pool; those a
 * checkpoint copies home are then mostly still resident). 32 MiB of log at 4 KiB pages,
 * larger than SQLite's 1000: a page written by several transactions between checkpoints
 * goes home once. Measured: random 1,000-key updates, 1,000,000 keys, 8 MiB pool, 25 us/key
 * at 1000, 17 at 4000, 12 at 16000; a random-order load of 1,000,000 keys in 10,000-key
 * transactions with a 221 MiB pool, 52,560 keys/s at 8192, 67,215 at 56640 (the pool's
 * frames). The cost is log size (the file keeps its largest size while open, and is
 * deleted at close) and recovery time.
 */
export const WAL_AUTO_CHECKPOINT_PAGES_DEFAULT = 8192;
export const WAL_AUTO_CHECKPOINT_PAGES_MAX = 2 ** 31;
/** Most frames one spill logs (a write of about 256 KiB at 4 KiB pages). */
const SPILL_FRAMES_MAX = 64;
/** Frames nearest eviction a spill looks at for more dirty ones to log with the victim. */
const SPILL_WINDOW_FRAMES = 256;

/** The log file of the database at `path`. */
export function walPathOf(path: string): string {
  return `${path}-wal`;
}

export interface PagerOptions {
  /** Bytes per page, a power of two in 512..65536 (create only; a file keeps its own). */
  pageSize?: number;
  /** Frames in the buffer pool. */
  cacheFrames?: number;
  /** Check every invariant after every call (slow; for tests). */
  debug?: boolean;
  /**
   * What kind of file this is (create only): a u32 the layer above chooses and checks at
   * open (see `applicationId`). Default APPLICATION_ID_NONE.
   */
  applicationId?: number;
  /**
   * Open for reading only (open only): a shared lock (readers coexist; a writer makes it
   * ERR_LOCKED), the log recovered in memory and never written, and every write call
   * ERR_READ_ONLY.
   */
  readOnly?: boolean;
  /** Largest page count allocate() may reach before ERR_FULL. */
  pageCountMax?: number;
  /**
   * "full": a commit is durable when it returns. "normal": the log is synced only at
   * checkpoint; a power failure may lose recent commits but never tears one. "off": never
   * sync; a power failure may corrupt the database (a process crash cannot).
   */
  sync?: SyncMode;
  /**
   * Checkpoint after a commit leaves at least this many frames in the log; 0: never.
   * Default: WAL_AUTO_CHECKPOINT_PAGES_DEFAULT or cacheFrames, whichever is larger.
   */
  walAutoCheckpointPages?: number;
  /**
   * What open does when a log frame that had been synced is damaged: "strict" fails with
   * ERR_CORRUPT; "truncate" opens at the last good commit (see droppedTransactions).
   */
  recover?: RecoverMode;
}

export interface PagerStats {
  hits: number;
  misses: number;
  evictions: number;
  /** Dirty victims written to the log as frames of the open transaction. */
  writebacks: number;
  pagesRead: number;
  pagesWritten: number;
  framesPinned: number;
  framesDirty: number;
  cacheFrames: number;
  /** Frames the pool has made so far (at most cacheFrames): they are made as pages come in. */
  framesCreated: number;
  pageCount: number;
  freePages: number;
  commits: number;
  checkpoints: number;
  /** Frames in the current log generation. */
  walFrames: number;
  /** Snapshots open. */
  snapshots: number;
  /** Commits made since the oldest open snapshot was taken (0 with none open). */
  snapshotCommitsBehind: number;
  /** Log frames committed after the oldest open snapshot's instant: what it keeps in the log. */
  snapshotFramesHeld: number;
  /**
   * The writer's view of the live readers in other processes and threads
   * (docs/design/readers.md): each one's pid, thread and how many log frames its oldest
   * mark holds back. Empty on a reader's pager.
   */
  readers: ReaderLag[];
}

interface Resolved {
  applicationId: number;
  cacheFrames: number;
  debug: boolean;
  pageCountMax: number;
  sync: SyncMode;
  walAutoCheckpointPages: number;
  recover: RecoverMode;
}

export class Pager implements PageSource {
  readonly path: string;
  readonly pageSize: number;
  readonly usableSize: number;
  /**
   * Commit marks found after damage to synced log frames, dropped at open (recover:
   * "truncate"). A lower bound: the damaged frame may itself have been a commit mark.
   */
  readonly droppedTransactions: number;
  private readonly vfs: VFS;
  private readonly file: VFile;
  private readonly lock: VLock;
  private readonly wal: Wal;
  private readonly crc: Crc32;
  private readonly pool: BufferPool;
  private readonly freePages = new FreePages();
  /** The freelist's first trunk page as last loaded (a reader's refresh compares it). */
  private freeTrunk = 0;
  private readonly opts: Resolved;
  /** Page-sized buffer for page 1 and freelist trunks, outside the pool. */
  private readonly scratch: Uint8Array;
  private readonly scratchCovered: Uint8Array;
  /** Page 1 as each commit logs it. */
  private readonly commitHead: Uint8Array;
  private readonly commitHeadCovered: Uint8Array;
  /** The header bytes of page 1's newest image, in the log or at home. */
  private readonly lastHead = new Uint8Array(HEADER_BYTES);
  /** Commit's dirty frames, reused from commit to commit. */
  private readonly dirtyFrames: PoolFrame[] = [];
  /** Reused by spill(): the frames, page numbers and pages of one log write. */
  private readonly spilling: PoolFrame[] = [];
  private readonly spillPgnos: number[] = [];
  private readonly spillPages: Uint8Array[] = [];
  /** Verified reads from both files, writes home. */
  private readonly io: PageIO;
  /** The open snapshots (snapshots.ts). */
  private readonly snaps = new SnapshotSet();
  /** Log frames below this are home and synced: a checkpoint bounded by a snapshot got so far. */
  private backfilled = 0;
  /**
   * The highest page count since the log's last reset: older images kept for snapshots (and
   * the snapshots' own counts) may lie past a count that shrink() lowered.
   */
  private pageCountHigh = 0;

  /** The header as of now: the last commit plus the open transaction's changes. */
  private readonly meta: Meta;
  /** The freelist changed since its trunks were last logged. */
  private freelistDirty = false;
  private readonly txn = new WriteTxn();
  private nextLsn = 1n;
  private lastCommitLsn = 0n;

  /** See state.ts. */
  private state: PagerState = OPEN;
  // A reader beside a live writer (a read-only open; docs/design/readers.md). Its view is
  // the log's committed end as of its last refresh; `marks` publishes what it may still
  // read. The view is held from a refresh until its event loop next runs (`releaseTimer`):
  // then `viewReleased`, and the next read refreshes first.
  private marks: MarkPublisher | null = null;
  private viewHeld = false;
  private viewReleased = false;
  private releaseTimer: ReturnType<typeof setTimeout> | null = null;
  private readonly changedPages: number[] = [];
  /** Log frames an automatic checkpoint held back by a reader waits for before it retries. */
  private autoRetryAt = 0;
  /** The readers the last checkpoint listed (what stats() falls back on). */
  private lastReaders: readonly ReaderState[] = [];
  /** The last backfill stopped at a reader's mark (not only this pager's snapshots). */
  private heldByReader = false;
  /** The failure that fenced the pager (state FENCED). */
  private fencedBy: PagekvError | null = null;
  // Deferred commits (docs/design/group-commit.md): appended, not yet synced. While there
  // are any (sync "full"), `gate` is a snapshot of the last durable commit, which is what
  // snapshot() and the Database's reads see; `syncing` is the one sync in flight.
  private gate: PagerSnapshot | null = null;
  /**
   * The gate's successor: the state the sync in flight will make durable, taken at the
   * first deferred commit made while it is in flight (the queue's drain before a
   * synchronous call does that). Null otherwise.
   */
  private nextGate: PagerSnapshot | null = null;
  private syncing: Promise<void> | null = null;
  private readOnly = false;

  private hits = 0;
  private misses = 0;
  private evictions = 0;
  private writebacks = 0;
  private pagesWritten = 0;
  private commits = 0;
  private checkpoints = 0;

  private constructor(
    vfs: VFS,
    file: VFile,
    wal: Wal,
    lock: VLock,
    crc: Crc32,
    header: Header,
    opts: Resolved,
    droppedTransactions: number,
  ) {
    this.vfs = vfs;
    this.file = file;
    this.wal = wal;
    this.lock = lock;
    this.path = file.path;
    this.crc = crc;
    this.pageSize = header.pageSize;
    this.usableSize = usableSizeOf(header.pageSize);
    this.pool = new BufferPool(opts.cacheFrames, this.pageSize, this.usableSize);
    this.io = new PageIO(this.path, file, wal, crc, this.pageSize);
    this.opts = opts;
    this.droppedTransactions = droppedTransactions;
    this.scratch = new Uint8Array(this.pageSize);
    this.scratchCovered = checksummedView(this.scratch);
    this.commitHead = new Uint8Array(this.pageSize);
    this.commitHeadCovered = checksummedView(this.commitHead);
    this.meta = Meta.of(header);
  }

  /** Create a new database file. ERR_EXISTS if a non-empty file is already there. */
  static create(vfs: VFS, path: string, options?: PagerOptions): Pager {
    checkPath(path);
    const o = checkPagerOptions(options, "create", path);
    const pageSize = o.pageSize ?? PAGE_SIZE_DEFAULT;
    if (!isValidPageSize(pageSize)) {
      throw new PagekvError(
        "ERR_ARG",
        `${path}: page size ${String(pageSize)} is not a power of two in 512..65536`,
        { path },
      );
    }
    const opts = resolveOptions(path, pageSize, o);
    path = canonicalPath(vfs, path);
    const lock = vfs.lock(path);
    let file: VFile | null = null;
    let wal: Wal | null = null;
    try {
      file = vfs.open(path, { create: true });
      const size = file.size();
      if (size > 0) {
        throw new PagekvError(
          "ERR_EXISTS",
          `${path}: cannot create: the file already holds ${size} bytes (open it instead)`,
          { path },
        );
      }
      const crc = vfs.crc32 ?? crc32Fallback;
      const header = newHeader(pageSize, randomU32(), opts.applicationId);
      const publishing = opts.sync === "full";
      wal = Wal.create(vfs, walPathOf(path), newSaltAvoiding(header, lock), crc, publishing);
      const pager = new Pager(vfs, file, wal, lock, crc, header, opts, 0);
      pager.writeHeaderHome();
      pager.syncMain();
      return pager;
    } catch (e) {
      if (wal !== null) closeQuietly(wal);
      if (file !== null) closeQuietly(file);
      lock.release();
      throw e;
    }
  }

  /**
   * The page size in the header of the database at `path`, or null when it cannot be read
   * (open then says why): for sizing a pool in bytes before opening. Takes no lock.
   */
  static pageSizeOf(vfs: VFS, path: string): number | null {
    let file: VFile | null = null;
    try {
      file = vfs.open(path, { readOnly: true });
      const first = new Uint8Array(HEADER_BYTES);
      if (file.readAt(first, 0) < HEADER_BYTES) return null;
      return decodeHeader(first, vfs.crc32 ?? crc32Fallback, path).pageSize;
    } catch {
      return null;
    } finally {
      if (file !== null) closeQuietly(file);
    }
  }

  /**
   * Open an existing database: take the writer lock, recover the log (redoing any
   * checkpoint a crash interrupted) and start a fresh log generation.
   * ERR_NOT_FOUND, ERR_LOCKED, ERR_CORRUPT.
   */
  static open(vfs: VFS, path: string, options?: Omit<PagerOptions, "pageSize">): Pager {
    checkPath(path);
    const o = checkPagerOptions(options, "open", path);
    if (!vfs.exists(path)) {
      throw new PagekvError("ERR_NOT_FOUND", `${path}: no such database file`, { path });
    }
    path = canonicalPath(vfs, path);
    // A reader may meet a checkpoint writing page 1 home or a reset leaving stale frames
    // behind a new header: what it read then fails its checks, and reading again settles it
    // (docs/design/readers.md, races A and C). Damage that stays is reported.
    for (let attempt = 1; ; attempt++) {
      try {
        return Pager.openOnce(vfs, path, o);
      } catch (e) {
        const settles = o.readOnly === true && e instanceof PagekvError && e.code === "ERR_CORRUPT";
        if (!settles || attempt >= READER_OPEN_ATTEMPTS) throw e;
      }
    }
  }

  private static openOnce(vfs: VFS, path: string, o: PagerOptions): Pager {
    const readOnly = o.readOnly === true;
    const lock = vfs.lock(path, readOnly ? "shared" : "exclusive");
    // A reader holds everything before it reads anything (race A).
    const marks = readOnly ? new MarkPublisher(lock) : null;
    let file: VFile | null = null;
    let wal: Wal | null = null;
    try {
      marks?.publish(0, 0);
      file = vfs.open(path, { readOnly });
      const crc = vfs.crc32 ?? crc32Fallback;
      const size = file.size();
      const first = new Uint8Array(HEADER_BYTES);
      let home: Header | null = null;
      let homeError: unknown = null;
      try {
        if (file.readAt(first, 0) < HEADER_BYTES) {
          throw new PagekvError(
            "ERR_CORRUPT",
            `${path}: the file is ${size} bytes, too short to be a pagekv database`,
            { path, pgno: 1 },
          );
        }
        home = decodeHeader(first, crc, path);
      } catch (e) {
        homeError = e;
      }
      const expect =
        home === null ? null : { pageSize: home.pageSize, databaseId: home.databaseId };
      const mode = o.recover ?? "strict";
      // A reader beside a live writer stops at what it published; after a crash the end on
      // disk may be older than what was synced (docs/design/group-commit.md, "Visibility").
      const published = readOnly && (lock.writerAlive?.() ?? true);
      const recovered = Wal.recover(vfs, walPathOf(path), expect, crc, mode, readOnly, published);
      wal = recovered?.wal ?? null;
      const found = recovered?.found ?? null;
      // Committed frames to redo. The first commit of a generation always logs page 1
      // (see commitTxn), so a log with commits holds page 1 too.
      const logged =
        found !== null && found.commits > 0 && wal !== null && wal.lookupCommitted(1) >= 0;
      if (home === null && !logged) throw homeError;
      let fresh = false;
      if (wal === null) {
        // No log of this database (none, torn, or another's): start one.
        if (home === null) throw homeError;
        wal = readOnly
          ? Wal.absent(walPathOf(path), newSalt(home), crc)
          : Wal.create(vfs, walPathOf(path), newSaltAvoiding(home, lock), crc, publishes(o));
        fresh = true;
      } else if (!readOnly && publishes(o)) {
        // Every header this writer writes publishes (the reset or continuation below).
        wal.startPublishing();
      }
      const pageSize = home?.pageSize ?? wal.pageSizeOf();
      const resolved = resolveOptions(path, pageSize, o);
      // A short file is damage only when no log will redo the checkpoint that was
      // extending it (page 1 may reach the disk before the pages it counts).
      if (home !== null && !logged && size < home.pageCount * home.pageSize) {
        throw new PagekvError(
          "ERR_CORRUPT",
          `${path}: the file is truncated: the header counts ${home.pageCount} pages ` +
            `(${home.pageCount * home.pageSize} bytes) but the file holds ${size} bytes`,
          { path },
        );
      }
      // Until the log is reset its image of page 1 wins: a checkpoint torn while writing
      // page 1 home must not stop the database from opening.
      let header = home;
      const bootstrap = header ?? newHeader(pageSize, 0);
      const pager = new Pager(
        vfs,
        file,
        wal,
        lock,
        crc,
        bootstrap,
        resolved,
        found?.droppedTransactions ?? 0,
      );
      pager.io.checkFrames = readOnly;
      // Page 1 as a whole (header and trailer) verifies, from the log if it is there.
      pager.readInto(1, pager.scratch, pager.scratchCovered);
      pager.lastHead.set(pager.scratch.subarray(0, HEADER_BYTES));
      if (!logged && readOnly && home !== null) {
        // A reader's page 1 is the one read after the log (race F): a checkpoint that did
        // not see this reader's mark may have written page 1 home and reset the log since
        // the first read, and the first read's page count and freelist would then go with
        // the pages of the state before (docs/design/readers.md, race F).
        header = decodeHeader(pager.scratch, crc, path);
        pager.meta.copyFrom(header);
      }
      if (logged) {
        header = decodeHeader(pager.scratch, crc, `${walPathOf(path)} (page 1)`);
        pager.meta.copyFrom(header);
        // A checkpoint that wrote its LSN home and then failed to start a new generation
        // left the log's older page 1: the LSN a caller recorded must not go back.
        if (home !== null)
          pager.meta.checkpointLsn = laterLsn(home.checkpointLsn, header.checkpointLsn);
      }
      pager.loadFreelist(header?.freeTrunk ?? 0, header?.freeCount ?? 0);
      const lastLsn = found === null ? 0n : found.lastCommitLsn;
      pager.lastCommitLsn = laterLsn(lastLsn, pager.meta.checkpointLsn);
      const maxLsn = found === null ? 0n : found.maxLsn;
      pager.nextLsn = laterLsn(maxLsn, pager.lastCommitLsn) + 1n;
      // A fresh log has nothing to recover. Otherwise the log's commits go home (a new
      // generation starts), or, with none, a new generation starts at once: nothing may
      // ever be appended after stale frames.
      // Read-only: the recovered index serves reads and nothing is written.
      if (readOnly) {
        pager.readOnly = true;
        pager.marks = marks;
        pager.snaps.onClose = () => pager.publishMarkQuietly();
        pager.holdView();
      } else if (logged) {
        // A reader holding the log: the generation goes on (docs/design/readers.md, rule 5).
        if (!pager.backfill(pager.lastCommitLsn, true)) pager.continueGeneration();
      } else if (!fresh) {
        wal.reset(wal.generation + 1, pager.walKeepFrames());
      }
      pager.afterCall();
      return pager;
    } catch (e) {
      if (wal !== null) closeQuietly(wal);
      if (file !== null) closeQuietly(file);
      lock.release();
      throw e;
    }
  }

  /** High-water mark of allocated pages, page 1 included. */
  get pageCount(): number {
    return this.meta.pageCount;
  }

  /** LSN recorded by the last checkpoint. */
  get checkpointLSN(): bigint {
    return this.meta.checkpointLsn;
  }

  /**
   * The application id in the header: what kind of file this is, as its creator (or a
   * setApplicationId() since) said. APPLICATION_ID_NONE for a file of format version 2.
   */
  get applicationId(): number {
    return this.meta.applicationId;
  }

  /** True when the file was read as format version 2 (before application ids). */
  get legacyFormat(): boolean {
    return this.meta.legacy;
  }

  /**
   * Set the application id, as a change of the open (or implicit) transaction: for a layer
   * that adopts a file of format version 2 after checking its contents.
   */
  setApplicationId(id: number): void {
    this.checkWritable();
    if (!Number.isInteger(id) || id < 0 || id > 0xffff_ffff) {
      throw new PagekvError("ERR_ARG", `${this.path}: application id ${String(id)} is not a u32`, {
        path: this.path,
      });
    }
    if (!this.txn.active) this.beginWrite();
    this.meta.applicationId = id;
  }

  /** True between begin() and commit()/rollback(). */
  get inTransaction(): boolean {
    return this.txn.explicit;
  }

  /**
   * Pin page `pgno` (2..pageCount, not free) and return its frame. The frame is the
   * caller's until the matching unpin; modify `data` only under a "write" pin.
   * A cache hit allocates nothing.
   */
  get(pgno: number, intent: Intent = "read"): Frame {
    this.checkOpen();
    if (this.viewReleased) this.refresh();
    let write = false;
    if (intent !== "read") {
      if (intent !== "write") throw this.badIntent(intent);
      this.checkWritable();
      write = true;
      if (!this.txn.active) this.beginWrite();
    }
    // Only valid page numbers are ever bound, so a hit needs no range check.
    const frame = this.pool.lookup(pgno);
    if (frame === null) return this.miss(pgno, write);
    this.hits++;
    this.pool.pin(frame, write);
    if (this.opts.debug) this.afterCall();
    return frame;
  }

  /** Release one pin on `frame`; `dirty` declares that the caller changed its bytes. */
  unpin(frame: Frame, dirty = false): void {
    this.checkOpen();
    const pool = this.pool;
    if (!pool.owns(frame)) {
      throw new PagekvError(
        "ERR_ARG",
        `${this.path}: unpin of an object that is not a frame of this pager`,
        { path: this.path },
      );
    }
    if (frame.pins === 0) {
      throw new PagekvError(
        "ERR_PIN",
        `${this.path}: unpin of page ${frame.pgno}, which is not pinned (unpinned twice?)`,
        { path: this.path, pgno: frame.pgno },
      );
    }
    if (dirty) {
      if (frame.version !== CURRENT) throw this.olderImage(frame);
      if (this.readOnly) this.checkWritable();
      if (!this.txn.active) this.beginWrite();
    }
    pool.unpin(frame, dirty);
    if (frame.version === ORPHAN && frame.pins === 0) this.discard(frame);
    if (this.opts.debug) this.afterCall();
  }

  /**
   * A read snapshot of the last commit: its pages and slots stay what they are now,
   * whatever is committed, rolled back or checkpointed later, until it is closed. Takes no
   * I/O. While it is open, checkpoints copy home only what it cannot see and the log is not
   * reset (it grows). ERR_LIMIT past SNAPSHOTS_MAX open. See docs/design/snapshots.md.
   */
  snapshot(): PagerSnapshot {
    this.checkOpen();
    this.snaps.checkRoom(this.path);
    // Deferred commits are not durable yet: a snapshot sees the last durable one.
    if (this.gate !== null) return this.gate.copy();
    if (this.marks !== null) this.refresh();
    const committed = this.txn.active ? this.txn.saved : this.meta;
    const s = new PagerSnapshot(
      this,
      this.snaps,
      committed,
      this.wal.committedEnd,
      this.lastCommitLsn,
      this.commits,
    );
    this.snaps.add(s);
    return s;
  }

  /**
   * A reader's view moves to the last commit in the log (docs/design/readers.md, "Refresh"):
   * every read of a read-only open starts here; snapshot() calls it, and get() after the
   * view was released. Two reads of the log when nothing changed, O(new frames) otherwise.
   * Returns whether the view moved. On a writer's pager: false, nothing done.
   */
  refresh(): boolean {
    this.checkOpen();
    const marks = this.marks;
    if (marks === null) return false;
    if (marks.none) marks.publish(this.wal.generation, 0); // race A
    const changed = this.changedPages;
    changed.length = 0;
    const before = this.wal.committedEnd;
    const result = this.wal.follow(this.vfs, changed);
    if (result !== "same") this.moveView(result === "reset", before, changed);
    this.holdView();
    if (this.opts.debug) this.afterCall();
    return result !== "same";
  }

  /** The log moved on from committed end `before`: cached images and page 1 follow. */
  private moveView(reset: boolean, before: number, changed: readonly number[]): void {
    if (reset) {
      // Rule 2: a reset comes only once every mark is at its generation's end, all home. A
      // snapshot held a mark; the view may not have (released, it held none), so what the
      // pool holds may predate commits this reader never saw: all of it goes.
      for (let i = 0; i < this.snaps.count; i++) {
        assert(this.snaps.at(i).bound === before, "the log was reset under an older snapshot");
      }
      this.snaps.rebase();
      this.pool.dropAll();
    }
    const keep = this.snaps.count > 0;
    for (const pgno of changed) {
      const frame = this.pool.lookup(pgno);
      if (frame === null) continue;
      // The image it holds: the newest below the old end (the main file's after a reset).
      const version = reset ? 0 : this.wal.lookupAt(pgno, before) + 1;
      this.pool.demote(frame, version, keep);
    }
    this.readInto(1, this.scratch, this.scratchCovered);
    const header = decodeHeader(this.scratch, this.crc, `${this.wal.path} (page 1)`);
    // The freelist is the new view's too (a hole readers.md's step 3 leaves open: it names
    // page 1's slots and page count only). Read again only when it may have changed: a new
    // head or count, a trunk page (free pages include the trunks) rewritten, or a reset.
    const freelistMoved =
      reset ||
      header.freeTrunk !== this.freeTrunk ||
      header.freeCount !== this.freePages.count ||
      changed.some((pgno) => this.freePages.has(pgno));
    const countBefore = this.meta.pageCount;
    this.meta.copyFrom(header);
    if (header.pageCount < countBefore) {
      // shrink(): pages past the new count hold no current image either (compact.md).
      this.pageCountHigh = Math.max(this.pageCountHigh, countBefore);
      for (const frame of this.pool.frames) {
        if (frame.pgno > header.pageCount && frame.version === CURRENT) {
          this.pool.demote(frame, reset ? 0 : this.wal.lookupAt(frame.pgno, before) + 1, keep);
        }
      }
    }
    if (freelistMoved) {
      this.freePages.clear();
      this.loadFreelist(header.freeTrunk, header.freeCount);
      // A page freed since holds no current image (a free page is never bound current);
      // what the pool cached of it is an older version now, for the snapshots.
      for (const pgno of this.freePages.entries()) {
        const frame = this.pool.lookup(pgno);
        if (frame !== null) this.pool.demote(frame, this.wal.lookupAt(pgno, before) + 1, keep);
      }
    }
    this.lastCommitLsn = laterLsn(this.wal.lastCommitLsnFound, this.meta.checkpointLsn);
  }

  /** The view is held until the event loop next runs; the mark covers it meanwhile. */
  private holdView(): void {
    this.viewHeld = true;
    this.viewReleased = false;
    this.publishMark();
    if (this.releaseTimer === null) {
      const timer = setTimeout(() => this.releaseView(), 0);
      // Node and Bun: a pending release must not keep the process alive.
      (timer as { unref?: () => void }).unref?.();
      this.releaseTimer = timer;
    }
  }

  private releaseView(): void {
    this.releaseTimer = null;
    if (this.state === CLOSED || this.marks === null) return;
    this.viewHeld = false;
    this.viewReleased = true;
    this.publishMarkQuietly();
  }

  /** The reader's mark: its oldest snapshot's bound, or its view's end while held. */
  private publishMark(): void {
    const marks = this.marks as MarkPublisher;
    const oldest = this.snaps.oldest();
    const end = this.wal.committedEnd;
    const bound = oldest !== null ? oldest.bound : this.viewHeld ? end : null;
    marks.publish(this.wal.generation, bound);
  }

  /**
   * After a snapshot closed or the view was released: a mark that cannot be written stays
   * as it was, lower than needed, which holds the writer back and is never unsafe.
   */
  private publishMarkQuietly(): void {
    if (this.state === CLOSED || this.marks === null) return;
    try {
      this.publishMark();
    } catch {
      // Retried at the next refresh or close.
    }
  }

  /**
   * @internal For PagerSnapshot.get: page `pgno` as of `s`. Its image is the newest
   * committed frame below s.bound, else the main file's. When that is also the page's
   * newest image and the pool's current frame is clean, that frame serves; otherwise an
   * older image in the version table, read in at a miss.
   */
  pinAt(s: PagerSnapshot, pgno: number): Frame {
    this.checkOpen();
    if (!(typeof pgno === "number" && pgno >>> 0 === pgno && pgno >= 2 && pgno <= s.pageCount)) {
      throw new PagekvError(
        "ERR_PAGE_RANGE",
        `${this.path}: snapshot read of page ${String(pgno)}: valid pages are 2..${s.pageCount}`,
        { path: this.path },
      );
    }
    const current = this.pool.lookup(pgno);
    if (current !== null && s.bound === this.wal.committedEnd && !this.txn.active) {
      // Nothing committed or changed since the snapshot (a commit moves the committed end;
      // a reset rebased it to 0 with the end): its pages are the current ones.
      this.hits++;
      this.pool.pin(current, false);
      return current;
    }
    const logged = this.wal.lookupAt(pgno, s.bound);
    const newest = logged === this.wal.lookupNewest;
    if (newest && current !== null && !current.dirty) {
      this.hits++;
      this.pool.pin(current, false);
      return current;
    }
    const version = logged + 1;
    const older = this.pool.lookupVersion(pgno, version);
    if (older !== null) {
      this.hits++;
      this.pool.pin(older, false);
      return older;
    }
    const frame = this.obtainFrame(pgno);
    this.misses++;
    try {
      this.io.read(logged, pgno, frame.page, frame.covered);
    } catch (e) {
      this.pool.release(frame);
      throw e;
    }
    // The newest image of a page in use is its current one: the writer may use it too.
    // Never past the page count either: a page shrink() cut may be allocated again later.
    if (newest && current === null && pgno <= this.meta.pageCount && !this.freePages.has(pgno))
      this.pool.bind(frame, pgno);
    else this.pool.bindVersion(frame, pgno, version);
    this.pool.pin(frame, false);
    if (this.opts.debug) this.afterCall();
    return frame;
  }

  /** @internal For PagerSnapshot.unpin. */
  unpinAt(frame: Frame): void {
    this.unpin(frame, false);
  }

  /**
   * @internal For backups (src/db/backup.ts, docs/design/backup.md): the sealed images
   * (trailers included) of pages `first..first+n-1` as of `s`, into `out` (n pages), each
   * verified, read past the pool (a backup neither evicts nor pins frames): one read of the
   * run from the main file, then the snapshot's log frame over each page that has one (the
   * rule pinAt follows). Pages for which `skip(pgno)` is true are not verified (free pages:
   * they may have no image); their bytes in `out` are unspecified.
   */
  readRunAt(
    s: PagerSnapshot,
    first: number,
    n: number,
    out: Uint8Array,
    skip: (pgno: number) => boolean,
  ): void {
    this.checkOpen();
    if (s.closed) {
      throw new PagekvError("ERR_CLOSED", `${this.path}: the snapshot is closed`, {
        path: this.path,
      });
    }
    const size = this.pageSize;
    assert(first >= 1 && n >= 1 && first + n - 1 <= s.pageCount, "readRunAt: pages in range");
    assert(out.length >= n * size, "readRunAt: out holds the run");
    let got: number;
    try {
      got = this.file.readAt(out.subarray(0, n * size), (first - 1) * size);
    } catch (e) {
      throw this.ioError(e, `reading pages ${first}..${first + n - 1}`, first);
    }
    for (let i = 0; i < n; i++) {
      const pgno = first + i;
      if (skip(pgno)) continue;
      const page = out.subarray(i * size, (i + 1) * size);
      const covered = checksummedView(page);
      const logged = this.wal.lookupAt(pgno, s.bound);
      if (logged >= 0) {
        this.io.readLogged(logged, pgno, page, covered);
        continue;
      }
      const damage =
        got < (i + 1) * size
          ? `lies past the end of the file (${got} bytes read from page ${first})`
          : pageDamage(page, covered, pgno, this.crc);
      if (damage !== null) {
        throw new PagekvError("ERR_CORRUPT", `${this.path}: page ${pgno} ${damage}`, {
          path: this.path,
          pgno,
        });
      }
    }
  }

  /** @internal The VFS this pager's files are on (a backup creates its copy there). */
  get fileSystem(): VFS {
    return this.vfs;
  }

  /** @internal The CRC-32 this pager seals pages with. */
  get crc32(): Crc32 {
    return this.crc;
  }

  private olderImage(frame: PoolFrame): PagekvError {
    return new PagekvError(
      "ERR_ARG",
      `${this.path}: page ${frame.pgno} was pinned through a snapshot: it is read-only`,
      { path: this.path, pgno: frame.pgno },
    );
  }

  /** A new page, pinned for writing, zeroed and dirty. Reuses the freelist first. */
  allocate(): Frame {
    this.checkWritable();
    const reuse = this.freePages.count > 0;
    if (!reuse && this.meta.pageCount >= this.opts.pageCountMax) {
      throw new PagekvError(
        "ERR_FULL",
        `${this.path}: cannot allocate: the database has reached its limit of ` +
          `${this.opts.pageCountMax} pages`,
        { path: this.path },
      );
    }
    // Secure the frame before consuming a page number, so a failure leaks nothing.
    const frame = this.obtainFrame(0);
    if (!this.txn.active) this.beginWrite();
    const pgno = reuse ? this.freePages.pop() : ++this.meta.pageCount;
    frame.page.fill(0);
    this.pool.bind(frame, pgno);
    this.pool.pin(frame, true);
    this.pool.markDirty(frame);
    if (reuse) this.freelistDirty = true;
    if (this.opts.debug) this.afterCall();
    return frame;
  }

  /** Put page `pgno` on the freelist. Its bytes are discarded; it must not be pinned. */
  free(pgno: number): void {
    this.checkWritable();
    this.checkPageNumber(pgno, "free");
    if (this.freePages.has(pgno)) {
      throw new PagekvError("ERR_PIN", `${this.path}: page ${pgno} is already free (freed twice)`, {
        path: this.path,
        pgno,
      });
    }
    const frame = this.pool.lookup(pgno);
    if (frame !== null && frame.pins > 0) {
      throw new PagekvError(
        "ERR_PIN",
        `${this.path}: cannot free page ${pgno}: it is pinned ${frame.pins} time(s)`,
        { path: this.path, pgno },
      );
    }
    if (!this.txn.active) this.beginWrite();
    if (frame !== null) this.discard(frame);
    this.freePages.add(pgno);
    this.freelistDirty = true;
    if (this.opts.debug) this.afterCall();
  }

  /**
   * Until the next free(), allocate() hands out free pages lowest first (compaction: live
   * pages move down into them). Starts the transaction; ERR_TXN after its first change.
   * The commit rewrites the freelist's trunk pages; a rollback restores the order.
   */
  reuseLowestFirst(): void {
    this.checkWritable();
    this.checkFirstChange("reuseLowestFirst");
    this.beginWrite();
    this.freePages.reorder(true);
    this.freelistDirty = true;
    if (this.opts.debug) this.afterCall();
  }

  /**
   * Lower the page count past the free pages at the end of the file, taking them off the
   * freelist; returns how many were cut (0: the last page is in use). A change of the
   * transaction it starts (ERR_TXN after its first change), committed like any other: page
   * 1 is logged. The main file is cut to the new count at the next checkpoint that resets
   * the log (docs/design/compact.md).
   */
  shrink(): number {
    this.checkWritable();
    this.checkFirstChange("shrink");
    const free = this.freePages;
    if (!free.has(this.meta.pageCount)) return 0; // nothing to cut: no change
    this.beginWrite();
    free.reorder(false);
    const from = this.meta.pageCount;
    this.pageCountHigh = Math.max(this.pageCountHigh, from);
    while (this.meta.pageCount > 1 && free.has(this.meta.pageCount)) {
      const pgno = free.pop();
      assert(pgno === this.meta.pageCount, `shrink popped page ${pgno}, not the last`);
      this.meta.pageCount--;
    }
    this.freelistDirty = true;
    if (this.opts.debug) this.afterCall();
    return from - this.meta.pageCount;
  }

  /** Bytes of the main file now (it may be longer than pageCount pages until a checkpoint). */
  get fileBytes(): number {
    this.checkOpen();
    try {
      return this.file.size();
    } catch (e) {
      throw this.ioError(e, "reading the size of the database file", 0);
    }
  }

  /** Every page on the freelist, trunk pages included (a copy; for consistency checks). */
  freePageNumbers(): number[] {
    this.checkOpen();
    return Array.from(this.freePages.entries());
  }

  /** One of the header's 8 u32 application slots, as of the last setSlot. */
  getSlot(i: number): number {
    this.checkOpen();
    return this.meta.slots[this.checkSlot(i)];
  }

  /** Set an application slot; part of the open (or implicit) transaction. */
  setSlot(i: number, v: number): void {
    this.checkWritable();
    const slot = this.checkSlot(i);
    if (!Number.isInteger(v) || v < 0 || v > 0xffff_ffff) {
      throw new PagekvError("ERR_ARG", `${this.path}: slot value ${v} is not a u32`, {
        path: this.path,
      });
    }
    if (!this.txn.active) this.beginWrite();
    this.meta.slots[slot] = v;
    if (this.opts.debug) this.afterCall();
  }

  /** Start a write transaction; work done since the last commit without begin() joins it. */
  begin(): void {
    this.checkWritable();
    if (this.txn.explicit) {
      throw new PagekvError("ERR_TXN", `${this.path}: begin inside a transaction`, {
        path: this.path,
      });
    }
    // The snapshot rollback needs is taken at the first change (beginImplicit), which
    // until then equals the last commit: an empty transaction writes nothing.
    this.txn.explicit = true;
  }

  /**
   * Commit the transaction: log its dirty pages and page 1 (the commit mark), sync per the
   * sync mode, and return its LSN. On failure nothing of it stays visible (rolled back);
   * a failed log write or sync also fences the pager.
   */
  commit(): bigint {
    this.checkWritable();
    if (!this.txn.explicit) {
      throw new PagekvError("ERR_TXN", `${this.path}: commit without begin`, { path: this.path });
    }
    this.checkNoWriters("commit");
    this.txn.explicit = false;
    const lsn = this.commitTxn(false);
    this.autoCheckpoint();
    if (this.opts.debug) this.afterCall();
    return lsn;
  }

  // ---- deferred commits (docs/design/group-commit.md, "The pager's part") ----

  /**
   * Commit the begin() transaction into the log without waiting for its sync: with sync
   * "full" it is durable, and visible to snapshot(), `visible` readers and other processes,
   * only once syncAsync() (or any later sync of the log) completed. Returns its LSN. No
   * automatic checkpoint (afterSync() runs it). On failure nothing of it stays (as
   * commit()). While a syncAsync is in flight it is allowed, and waits for a later sync.
   */
  commitDeferred(): bigint {
    this.checkWritable();
    if (!this.txn.explicit) {
      throw new PagekvError("ERR_TXN", `${this.path}: commit without begin`, { path: this.path });
    }
    this.checkNoWriters("commit");
    this.txn.explicit = false;
    const defer = this.opts.sync === "full" && this.txn.active;
    // The gate: the last durable commit, taken before the first deferred commit after it;
    // during a sync, the state that sync will make durable (the gate's successor).
    const opened = defer && this.gate === null;
    const next = defer && !opened && this.syncing !== null && this.nextGate === null;
    if (opened) this.gate = this.snapshotOfLastCommit();
    if (next) this.nextGate = this.snapshotOfLastCommit();
    try {
      const lsn = this.commitTxn(defer);
      if (this.opts.debug) this.afterCall();
      return lsn;
    } catch (e) {
      if (opened) this.dropGate();
      if (next) this.dropNextGate();
      throw e;
    }
  }

  /**
   * Make every deferred commit durable, off the thread where the VFS can: then publish them
   * to readers and drop the gate. Resolves at once when none waits. Never throws: a failure
   * is a rejected promise. A failed sync fences the pager and cuts the deferred commits
   * from the log (the gate stays: reads keep seeing the last durable commit).
   */
  syncAsync(): Promise<void> {
    try {
      this.checkWritable();
      if (this.syncing !== null) {
        throw new PagekvError("ERR_TXN", `${this.path}: a syncAsync is in flight already`, {
          path: this.path,
        });
      }
    } catch (e) {
      return Promise.reject(e);
    }
    const gate = this.gate;
    if (gate === null) return Promise.resolve();
    const lsn = this.lastCommitLsn;
    const end = this.wal.committedEnd;
    const done = this.wal.syncAsync().then(
      () => {
        this.syncing = null;
        // Closed meanwhile (close synced first), or a synchronous sync got there first.
        if (this.state !== OPEN || this.gate !== gate) return;
        if (this.wal.committedEnd === end) {
          this.becameDurable();
          return;
        }
        // Deferred commits came after the call: the gate moves up to what this sync made
        // durable, and waits for the next sync for the rest.
        assert(this.nextGate !== null && this.nextGate.lsn === lsn, "the gate's successor");
        gate.close();
        this.gate = this.nextGate;
        this.nextGate = null;
        this.publishQuietly(end);
      },
      (e: unknown) => {
        this.syncing = null;
        if (this.state === CLOSED) return;
        const err = this.fence(e, "syncing the log for deferred commits");
        // Not covered by a synchronous sync since: those commits were never durable.
        if (this.gate === gate) {
          this.discardNotDurable();
          this.dropNextGate();
        }
        throw err;
      },
    );
    this.syncing = done;
    return done;
  }

  /** The automatic checkpoint, if due, after deferred commits became durable (as commit()). */
  afterSync(): void {
    if (this.state !== OPEN || this.readOnly || this.gate !== null || this.txn.explicit) return;
    this.autoCheckpoint();
    if (this.opts.debug) this.afterCall();
  }

  /**
   * What the Database reads while deferred commits wait for their sync: the last durable
   * commit (null when every commit is durable: read the live state).
   */
  get visible(): PagerSnapshot | null {
    return this.gate;
  }

  /** The LSN of the last durable commit (with sync "full"; the last commit otherwise). */
  get durableLsn(): bigint {
    return this.gate === null ? this.lastCommitLsn : this.gate.lsn;
  }

  /** A snapshot of the last commit, outside the SNAPSHOTS_MAX count (for the gate). */
  private snapshotOfLastCommit(): PagerSnapshot {
    const committed = this.txn.active ? this.txn.saved : this.meta;
    const s = new PagerSnapshot(
      this,
      this.snaps,
      committed,
      this.wal.committedEnd,
      this.lastCommitLsn,
      this.commits,
    );
    this.snaps.add(s);
    return s;
  }

  /**
   * After a failed sync: cut from the log every commit not known durable (the deferred ones
   * too) and the open transaction's frames, best effort (wal.discardFrom).
   */
  private discardNotDurable(): void {
    if (this.gate === null) {
      this.wal.discardUncommitted();
      return;
    }
    // The pool's current images of the pages those commits changed are theirs: they go
    // (a pinned one stays until unpinned; the pager is fenced, and reads go through the
    // gate, which reads what is left in the log or home).
    const changed = this.changedPages;
    changed.length = 0;
    this.wal.pagesFrom(this.gate.bound, changed);
    this.wal.discardFrom(this.gate.bound);
    for (const pgno of changed) {
      const frame = this.pool.lookup(pgno);
      if (frame !== null && frame.pins === 0) this.discard(frame);
    }
    changed.length = 0;
  }

  private dropGate(): void {
    this.gate?.close();
    this.gate = null;
    this.dropNextGate();
  }

  private dropNextGate(): void {
    this.nextGate?.close();
    this.nextGate = null;
  }

  /**
   * Every commit in the log is durable (a sync of the log returned): readers in other
   * processes may see them (the published end), and so may this process (no gate). A
   * write of the published end that fails with ERR_IO (a failing device) only delays the
   * readers until the next sync publishes again: the commits are durable and stand, and the
   * call that made them returns (log-failures.md: a failed write is not an outage). Any
   * other failure (the process is dying) is the caller's.
   */
  private becameDurable(): void {
    this.dropGate();
    this.publishQuietly(this.wal.committedEnd);
  }

  private publishQuietly(end: number): void {
    try {
      this.wal.publish(end);
    } catch (e) {
      if (!(e instanceof PagekvError && e.code === "ERR_IO")) throw e;
    }
  }

  /** Roll the transaction back: every page reads as before begin() (or the last commit). */
  rollback(): void {
    this.checkOpen();
    if (!this.txn.explicit) {
      throw new PagekvError("ERR_TXN", `${this.path}: rollback without begin`, { path: this.path });
    }
    this.checkNoWriters("rollback");
    for (const f of this.pool.frames) {
      if (f.pins > 0 && f.dirty) {
        throw new PagekvError(
          "ERR_PIN",
          `${this.path}: cannot roll back while changed page ${f.pgno} is pinned`,
          { path: this.path, pgno: f.pgno },
        );
      }
    }
    this.txn.explicit = false;
    this.rollbackTxn();
    if (this.opts.debug) this.afterCall();
  }

  /**
   * Commit work done outside begin/commit, then backfill: copy every committed page from
   * the log home, sync, write page 1 with the checkpoint LSN (`lsn`, default the last
   * commit's), sync, and start a new log generation. ERR_TXN inside begin/commit, ERR_PIN
   * while a frame is pinned for writing. Returns false, having copied home only what no
   * open snapshot can see and recorded nothing, while a snapshot is behind the last commit
   * (docs/design/snapshots.md): the checkpoint after it closes finishes the job.
   */
  checkpoint(lsn?: bigint): boolean {
    this.checkWritable();
    if (
      lsn !== undefined &&
      (typeof lsn !== "bigint" || lsn < this.meta.checkpointLsn || lsn > U64_MAX)
    ) {
      throw new PagekvError(
        "ERR_ARG",
        `${this.path}: checkpoint LSN ${String(lsn)} must be a u64 bigint no lower than the ` +
          `last one (${this.meta.checkpointLsn})`,
        { path: this.path },
      );
    }
    if (this.txn.explicit) {
      throw new PagekvError(
        "ERR_TXN",
        `${this.path}: checkpoint inside a transaction (commit or roll back first)`,
        { path: this.path },
      );
    }
    this.checkNoWriters("checkpoint");
    this.commitTxn();
    const done = this.backfill(this.checkpointTarget(lsn), false);
    // Later commits get LSNs above any LSN a caller recorded.
    if (this.nextLsn <= this.meta.checkpointLsn) this.nextLsn = this.meta.checkpointLsn + 1n;
    if (this.opts.debug) this.afterCall();
    return done;
  }

  stats(): PagerStats {
    this.checkOpen();
    const oldest = this.snaps.oldest();
    return {
      hits: this.hits,
      misses: this.misses,
      evictions: this.evictions,
      writebacks: this.writebacks,
      pagesRead: this.io.pagesRead,
      pagesWritten: this.pagesWritten,
      framesPinned: this.pool.framesPinned,
      framesDirty: this.pool.framesDirty,
      cacheFrames: this.pool.cacheFrames,
      framesCreated: this.pool.framesCreated,
      pageCount: this.meta.pageCount,
      freePages: this.freePages.count,
      commits: this.commits,
      checkpoints: this.checkpoints,
      walFrames: this.wal.frameCount,
      snapshots:
        this.snaps.count -
        (this.gate === null || this.gate.closed ? 0 : 1) -
        (this.nextGate === null || this.nextGate.closed ? 0 : 1),
      snapshotCommitsBehind: oldest === null ? 0 : this.commits - oldest.commitSeq,
      snapshotFramesHeld: oldest === null ? 0 : this.wal.committedEnd - oldest.bound,
      readers: this.readerLagsNow(),
    };
  }

  /**
   * The live readers and how far behind each is, listed now; when the listing fails (the
   * device is failing), the last listing a checkpoint made: stats() never fails for it.
   */
  private readerLagsNow(): ReaderLag[] {
    if (this.readOnly) return [];
    let readers = this.lastReaders;
    try {
      readers = this.lock.readers();
    } catch {
      // The last listing stands.
    }
    return readerLags(readers, this.wal.generation, this.wal.committedEnd);
  }

  /**
   * Roll back an open begin() transaction, checkpoint (committing implicit work), remove
   * the log and close: a cleanly closed database is one file. ERR_PIN (and the pager
   * stays open) while a frame is pinned for writing. A fenced pager closes without
   * checkpoint. On any other failure the files are closed anyway and the error rethrown.
   */
  close(): void {
    this.checkOpen();
    if (this.state === OPEN && !this.readOnly) this.checkNoWriters("close");
    // Every snapshot goes first, so that the checkpoint below completes.
    this.snaps.closeAll();
    if (this.readOnly) {
      // Nothing to write.
    } else if (this.state === FENCED) {
      // No checkpoint: drop the open transaction and cut its frames from the log.
      this.txn.explicit = false;
      this.rollbackTxn();
      this.discardNotDurable();
    } else {
      this.checkNoWriters("close");
      try {
        if (this.txn.explicit) {
          this.txn.explicit = false;
          this.rollbackTxn();
        }
        // Rule 3: the log goes only when it is home and no reader may have it open. Held
        // back by a reader, it stays, synced: a returned close is durable either way.
        if (!this.checkpoint()) this.syncLogForCheckpoint();
        else if (this.readersNow().length === 0) {
          this.wal.retire();
          this.wal.close();
          this.vfs.delete(this.wal.path);
        }
      } catch (e) {
        this.shutdown();
        throw e;
      }
    }
    this.shutdown();
  }

  /** Verify the pager's and the pool's invariants; throws on the first violation. */
  checkInvariants(): void {
    this.pool.checkInvariants();
    for (const f of this.pool.frames) {
      if (f.pgno === 0) continue;
      if (f.version !== CURRENT) {
        // An older image a snapshot reads: of a page that existed, perhaps free now.
        const high = Math.max(this.meta.pageCount, this.pageCountHigh);
        assert(f.pgno >= 2 && f.pgno <= high, `frame ${f.index}: page ${f.pgno}`);
        continue;
      }
      assert(
        f.pgno >= 2 && f.pgno <= this.meta.pageCount && !this.freePages.has(f.pgno),
        `frame ${f.index} holds page ${f.pgno}, which is out of range or free`,
      );
      assert(!f.dirty || this.txn.active, `page ${f.pgno} is dirty outside a transaction`);
    }
    assert(this.freePages.count < this.meta.pageCount, "more free pages than pages");
    this.snaps.checkInvariants(
      this.wal.committedEnd,
      Math.max(this.meta.pageCount, this.pageCountHigh),
    );
  }

  // ---- transactions ----

  /**
   * The first change of a transaction. A checkpoint a reader held back after the last
   * commit is tried again first (rule 6): readers have had the time since that commit to
   * move their marks to it, which they cannot have done at the commit itself.
   */
  private beginWrite(): void {
    if (this.heldByReader) this.tryAutoCheckpoint();
    this.beginImplicit();
  }

  private beginImplicit(): void {
    this.txn.start(this.nextLsn++, this.meta, this.freelistDirty);
    this.freePages.commit();
  }

  /** Log the open transaction (if any) as one commit; returns the last commit's LSN. */
  private commitTxn(defer = false): bigint {
    if (!this.txn.active) return this.lastCommitLsn;
    const pgnos: number[] = [];
    const pages: Uint8Array[] = [];
    const dirty = this.dirtyFrames;
    dirty.length = 0;
    this.pool.collectDirty(dirty);
    dirty.sort(byPgno);
    for (const f of dirty) {
      sealPage(f.page, f.covered, f.pgno, this.crc);
      pgnos.push(f.pgno);
      pages.push(f.page);
    }
    let withHeader = false;
    try {
      if (this.freelistDirty) this.logFreelist(pgnos, pages);
      // Page 1 goes in when the header changed, when nothing else is logged, and in the
      // first commit of a log generation (so that a log with commits always holds page 1,
      // and a checkpoint can repair a torn write of page 1 home from it). Otherwise the
      // log's or the home image of page 1 is still exact, and the commit mark rides on the
      // last page logged: a one-page update logs one frame, not two.
      // (The header's fields alone decide; the page is made and sealed only when it goes.)
      const head = this.commitHead;
      this.encodeHeaderFields(head, this.meta.checkpointLsn);
      withHeader =
        pgnos.length === 0 || this.wal.lookupCommitted(1) < 0 || !sameHeader(head, this.lastHead);
      if (withHeader) {
        this.meta.changeCounter = (this.meta.changeCounter + 1) >>> 0;
        this.encodeHeaderPage(head, this.commitHeadCovered, this.meta.checkpointLsn);
        pgnos.push(1);
        pages.push(head);
      }
      this.wal.append(pgnos, pages, this.txn.lsn, this.meta.pageCount);
    } catch (e) {
      // The log rewound the failed append; nothing of this transaction is committed, and
      // the pager stays usable (see "A failed write" at the top).
      this.rollbackTxn();
      throw this.ioError(e, `committing ${pgnos.length} page(s) to the log`, 0);
    }
    if (withHeader) this.lastHead.set(this.commitHead.subarray(0, HEADER_BYTES));
    this.pagesWritten += pages.length;
    const synced = this.opts.sync === "full" && !defer;
    try {
      if (synced) this.wal.sync();
    } catch (e) {
      this.rollbackTxn();
      const err = this.fence(e, "syncing the log for a commit");
      this.discardNotDurable();
      throw err;
    }
    this.wal.commitTxn();
    for (const f of dirty) this.pool.markClean(f);
    this.pool.clearDirtyList();
    dirty.length = 0;
    this.freePages.commit();
    this.freelistDirty = false;
    this.txn.finish();
    this.lastCommitLsn = this.txn.lsn;
    this.commits++;
    if (synced) this.becameDurable();
    return this.txn.lsn;
  }

  /** Forget the open transaction: its frames, its log frames, its header changes. */
  private rollbackTxn(): void {
    if (!this.txn.active) return;
    for (const f of this.pool.frames) {
      if (
        f.pgno !== 0 &&
        f.version === CURRENT &&
        f.pins === 0 &&
        (f.dirty || this.wal.lookup(f.pgno) !== this.wal.lookupCommitted(f.pgno))
      ) {
        this.discard(f);
      }
    }
    this.wal.dropTxn();
    const saved = this.txn.saved;
    this.meta.pageCount = saved.pageCount;
    this.meta.slots.set(saved.slots);
    this.meta.applicationId = saved.applicationId;
    this.freePages.rollback();
    this.freelistDirty = this.txn.savedFreelistDirty;
    this.txn.finish();
  }

  /** Append the freelist's trunk pages (drawn from the free pages themselves). */
  private logFreelist(pgnos: number[], pages: Uint8Array[]): void {
    const free = this.freePages.entries();
    const total = free.length;
    const trunks = trunksNeeded(total, this.usableSize);
    const capacity = trunkCapacity(this.usableSize);
    let leaf = trunks;
    for (let t = 0; t < trunks; t++) {
      const page = new Uint8Array(this.pageSize);
      const count = Math.min(capacity, total - leaf);
      encodeTrunk(
        page.subarray(0, this.usableSize),
        t + 1 < trunks ? free[t + 1] : 0,
        free,
        leaf,
        count,
      );
      leaf += count;
      sealPage(page, checksummedView(page), free[t], this.crc);
      pgnos.push(free[t]);
      pages.push(page);
    }
  }

  /** After a commit: checkpoint once the log reached the threshold, unless a reader holds it. */
  private autoCheckpoint(): void {
    if (!this.heldByReader) this.tryAutoCheckpoint();
  }

  /**
   * The automatic checkpoint, when the log reached its threshold (and, held back by a
   * reader, grew by another eighth of it since: rule 6, reading the marks costs a listing).
   */
  private tryAutoCheckpoint(): void {
    const limit = this.opts.walAutoCheckpointPages;
    if (limit === 0 || this.state === FENCED || this.txn.active) return;
    if (this.wal.frameCount < Math.max(limit, this.autoRetryAt)) return;
    try {
      this.backfill(this.checkpointTarget(undefined), false);
      this.autoRetryAt = this.heldByReader ? this.wal.frameCount + Math.max(1, limit >> 3) : 0;
    } catch {
      // The commit is durable already; a failed checkpoint is retried after the next
      // commit, and one that fenced the pager is reported by the next write call.
    }
  }

  /**
   * Copy the committed log home and start a new log generation (cutting the log file back
   * when `cutLog`: at recovery). No transaction is open.
   * Order: (log synced) pages, page 1 -> one sync -> log reset, durable. A crash anywhere
   * before the reset is durable leaves the log intact, and open redoes all of it.
   * With a snapshot behind the last commit, only the frames below its bound go home and the
   * log stays (returns false): docs/design/snapshots.md, rules 1-3.
   */
  private backfill(lsn: bigint, cutLog: boolean): boolean {
    assert(!this.txn.active, "backfill with an open transaction");
    // Nothing goes home that is not durable: deferred commits are synced first (and the
    // gate, a snapshot, goes with them, so it holds nothing back).
    if (this.gate !== null) this.syncLogForCheckpoint();
    // The least bound anyone may still read: this pager's snapshots', and the marks of the
    // readers in other processes and threads (docs/design/readers.md, rules 1 and 2).
    // Snapshots are judged before the LSN-only commit below: one at the committed end does
    // not read page 1, the only page that commit logs, so it stays at the end for the reset.
    this.heldByReader = false;
    const oldest = this.snaps.oldest();
    // Held by a snapshot of ours at what is home already: nothing to do, no need to look.
    if (
      oldest !== null &&
      oldest.bound <= this.backfilled &&
      oldest.bound < this.wal.committedEnd
    ) {
      return false;
    }
    let bound = oldest === null ? this.wal.committedEnd : oldest.bound;
    const readers = this.readersNow();
    const held = this.readerBound(readers);
    if (held !== null && held < bound) {
      bound = held;
      this.heldByReader = true;
    }
    if (bound < this.wal.committedEnd) {
      this.backfillBelow(bound);
      return false;
    }
    if (this.wal.committedPages === 0) {
      if (lsn === this.meta.checkpointLsn) return true;
      // Only the LSN changes: log page 1 first, so a torn write of it home is repairable.
      // (Any commit in the log logged page 1 already: see commitTxn.)
      assert(!cutLog, "recovery found no commit to redo");
      this.beginImplicit();
      this.commitTxn();
      // Readers read page 1 (at every refresh), and it is about to go home: a reader at the
      // old end now holds the log again.
      if (this.readerBound(readers) !== null) {
        this.heldByReader = true;
        return false;
      }
    }
    const syncing = this.opts.sync !== "off";
    this.syncLogForCheckpoint();
    this.copyHome(this.wal.committedEnd);
    try {
      const want = this.meta.pageCount * this.pageSize;
      if (this.file.size() < want) this.file.truncate(want);
    } catch (e) {
      throw this.ioError(e, `extending the file to ${this.meta.pageCount} pages`, 0);
    }
    // One sync covers the pages and page 1: until the log reset below is durable, the log
    // still holds every one of them, so their order on the way to the disk does not matter.
    const lsnBefore = this.meta.checkpointLsn;
    this.meta.checkpointLsn = lsn;
    try {
      this.writeHeaderHome();
    } catch (e) {
      this.meta.checkpointLsn = lsnBefore; // the log's page 1 still holds the old one
      throw e;
    }
    if (syncing) this.syncMain();
    // Every view is at the committed end, home and synced: pages past the count are no
    // one's. A crash before the cut, or with it unsynced, leaves a longer file, which open
    // accepts (docs/design/compact.md, "The cut").
    this.cutFile(syncing);
    try {
      this.wal.reset(this.wal.generation + 1, cutLog ? this.walKeepFrames() : undefined);
    } catch (e) {
      // A failed write of the new header left the log in its generation (the pages are
      // home and synced, and the log still holds them): only a failed sync fences.
      const what = "starting a new log generation";
      throw this.wal.headerRewritePending ? this.ioError(e, what, 0) : this.fence(e, what);
    }
    // Every snapshot was at the committed end, which is now home, whole (rule 2).
    this.snaps.rebase();
    this.pool.dropVersions();
    this.pageCountHigh = this.meta.pageCount;
    this.backfilled = 0;
    this.checkpoints++;
    return true;
  }

  /** Truncate the main file to the page count when it is longer (a full checkpoint only). */
  private cutFile(syncing: boolean): void {
    const want = this.meta.pageCount * this.pageSize;
    try {
      if (this.file.size() <= want) return;
      this.file.truncate(want);
    } catch (e) {
      throw this.ioError(e, `cutting the file to ${this.meta.pageCount} pages`, 0);
    }
    if (syncing) this.syncMain();
  }

  /**
   * The readers of other processes and threads now. A listing that fails (ERR_IO) fails the
   * checkpoint that needed it: nothing goes home on a guess.
   */
  private readersNow(): readonly ReaderState[] {
    this.lastReaders = this.lock.readers();
    return this.lastReaders;
  }

  private readerBound(readers: readonly ReaderState[]): number | null {
    return oldestReaderBound(readers, this.wal.generation, this.wal.committedEnd);
  }

  /**
   * Recovery could not reset the log under a reader's mark (rule 5): go on in its
   * generation, durable and cut at the committed end.
   */
  private continueGeneration(): void {
    try {
      this.wal.continueGeneration();
    } catch (e) {
      throw this.fence(e, "continuing the log after recovery");
    }
  }

  /** A checkpoint bounded by a snapshot: frames below `bound` go home; the log stays. */
  private backfillBelow(bound: number): void {
    if (bound <= this.backfilled) return;
    this.syncLogForCheckpoint();
    this.copyHome(bound);
    if (this.opts.sync !== "off") this.syncMain();
    this.backfilled = bound;
  }

  /** The log's frames are durable before any page they hold is written home. */
  private syncLogForCheckpoint(): void {
    try {
      if ((this.opts.sync !== "off" || this.gate !== null) && this.wal.unsynced) this.wal.sync();
    } catch (e) {
      throw this.fence(e, "syncing the log before a checkpoint");
    }
    if (this.opts.sync === "full") this.becameDurable();
  }

  /**
   * Write home every page's newest committed image below log frame `bound`, unless it is
   * below `backfilled` (home already), page 1 excepted (the caller writes it).
   * Pages go home in page order, adjacent pages in one write. A page whose image is its
   * current pool frame (clean: no transaction is open) is written from there, sealed
   * already; others are read from the log, consecutive frames in one read, and verified
   * before they are trusted.
   */
  private copyHome(bound: number): void {
    const stage = this.io.stage();
    const run: Uint8Array[] = [];
    const reading: number[] = [];
    let first = 0;
    let slots = 0;
    let readFrom = 0;
    let readSlot = 0;
    const flushRead = () => {
      if (reading.length === 0) return;
      this.io.readLoggedRun(readFrom, reading, readSlot);
      reading.length = 0;
    };
    const flushWrite = () => {
      flushRead();
      if (run.length > 0) this.io.writeHome(run, first);
      this.pagesWritten += run.length;
      run.length = 0;
      slots = 0;
    };
    for (const pgno of this.wal.committedPageNumbers(bound)) {
      // Past the page count (shrink() cut it): no view at the committed end reads it, and
      // one behind reads its own frames or home, which must keep its image (compact.md).
      if (pgno === 1 || pgno > this.meta.pageCount) continue;
      const frame = this.wal.lookupAt(pgno, bound);
      if (frame < this.backfilled) continue;
      const current = frame === this.wal.lookupNewest ? this.pool.lookup(pgno) : null;
      if (run.length > 0 && (pgno !== first + run.length || run.length >= WRITE_RUN_PAGES_MAX)) {
        flushWrite();
      }
      if (current === null && slots === BACKFILL_STAGING_PAGES) flushWrite();
      if (run.length === 0) first = pgno;
      if (current !== null) {
        if (this.opts.debug) {
          assert(pageDamage(current.page, current.covered, pgno, this.crc) === null, "unsealed");
        }
        run.push(current.page);
        continue;
      }
      if (reading.length === 0 || frame !== readFrom + reading.length) {
        flushRead();
        readFrom = frame;
        readSlot = slots;
      }
      reading.push(pgno);
      run.push(stage.pages[slots++]);
    }
    flushWrite();
  }

  /**
   * Frames of log file kept across a reset: what a generation holds before its automatic
   * checkpoint, overwritten in place by the next one.
   */
  private walKeepFrames(): number {
    const auto = this.opts.walAutoCheckpointPages;
    return auto === 0 ? WAL_AUTO_CHECKPOINT_PAGES_DEFAULT : auto;
  }

  /** The LSN a checkpoint records: `lsn`, else the last commit's; never lower than before. */
  private checkpointTarget(lsn: bigint | undefined): bigint {
    return laterLsn(lsn ?? this.lastCommitLsn, this.meta.checkpointLsn);
  }

  // ---- reads ----

  private miss(pgno: number, write: boolean): Frame {
    this.checkPageNumber(pgno, "get");
    const frame = this.obtainFrame(pgno);
    this.misses++;
    try {
      this.readInto(pgno, frame.page, frame.covered);
    } catch (e) {
      this.pool.release(frame);
      throw e;
    }
    this.pool.bind(frame, pgno);
    this.pool.pin(frame, write);
    if (this.opts.debug) this.afterCall();
    return frame;
  }

  /** An unbound frame: an empty one, else the pool's victim with its bytes safe in the log. */
  private obtainFrame(forPgno: number): PoolFrame {
    const empty = this.pool.takeEmpty();
    if (empty !== null) return empty;
    const victim = this.pool.chooseVictim();
    if (victim === null) {
      const what = forPgno === 0 ? "allocate a page" : `bring in page ${forPgno}`;
      throw new PagekvError(
        "ERR_POOL_EXHAUSTED",
        `${this.path}: cannot ${what}: all ${this.pool.cacheFrames} frames are pinned`,
        { path: this.path },
      );
    }
    if (victim.dirty) this.spill(victim);
    this.pool.unbind(victim);
    this.evictions++;
    return victim;
  }

  /**
   * Where a dirty victim's bytes go before its frame is reused: the one place that decides.
   * To the log, as frames of the open transaction, never to the main file: the main file
   * holds only checkpointed state. The victim goes together with the dirty unpinned frames
   * nearest eviction (at most SPILL_FRAMES_MAX, one write); those stay resident and clean,
   * their newest image now in the log, so their own eviction costs no write. A failed log
   * write fences the pager (the log's tail is then unknown); every frame stays dirty.
   */
  private spill(victim: PoolFrame): void {
    if (this.state === FENCED) throw this.fencedError();
    const batch = this.spilling;
    this.pool.collectSpill(victim, batch, SPILL_FRAMES_MAX, SPILL_WINDOW_FRAMES);
    const pgnos = this.spillPgnos;
    const pages = this.spillPages;
    pgnos.length = 0;
    pages.length = 0;
    for (const f of batch) {
      sealPage(f.page, f.covered, f.pgno, this.crc);
      pgnos.push(f.pgno);
      pages.push(f.page);
    }
    try {
      this.wal.append(pgnos, pages, this.txn.lsn, 0);
    } catch (e) {
      // Rewound by the log; the frames stay dirty and the transaction intact.
      batch.length = 0;
      throw this.ioError(e, `logging ${pgnos.length} page(s) to make room in the pool`, 0);
    }
    for (const f of batch) this.pool.markClean(f);
    this.writebacks += batch.length;
    this.pagesWritten += batch.length;
    batch.length = 0;
    pages.length = 0;
  }

  /** Read the newest image of page `pgno` into `page` and verify it. */
  private readInto(pgno: number, page: Uint8Array, covered: Uint8Array): void {
    this.io.read(this.wal.lookup(pgno), pgno, page, covered);
  }

  private loadFreelist(head: number, freeCount: number): void {
    const pages = loadFreelist(
      {
        path: this.path,
        pageCount: this.meta.pageCount,
        usableSize: this.usableSize,
        readTrunk: (pgno) => {
          this.readInto(pgno, this.scratch, this.scratchCovered);
          return this.scratch.subarray(0, this.usableSize);
        },
      },
      head,
      freeCount,
    );
    for (const p of pages) this.freePages.add(p);
    this.freePages.commit();
    this.freeTrunk = head;
  }

  // ---- writes home (checkpoint only) ----

  /** Page 1 as the header stands now, sealed, into `page`. */
  /** Page 1's header fields (HEADER_BYTES, with their own CRC) at the start of `page`. */
  private encodeHeaderFields(page: Uint8Array, checkpointLsn: bigint): void {
    encodeHeader(
      {
        pageSize: this.pageSize,
        changeCounter: this.meta.changeCounter,
        pageCount: this.meta.pageCount,
        freeTrunk: this.freeTrunkHead(),
        freeCount: this.freePages.count,
        checkpointLsn,
        slots: this.meta.slots,
        databaseId: this.meta.databaseId,
        applicationId: this.meta.applicationId,
        legacy: false,
      },
      page,
      this.crc,
    );
  }

  /** Page 1 whole in `page` (`covered`: its checksummedView): the header, zeros, sealed. */
  private encodeHeaderPage(page: Uint8Array, covered: Uint8Array, checkpointLsn: bigint): void {
    page.fill(0);
    this.encodeHeaderFields(page, checkpointLsn);
    sealPage(page, covered, 1, this.crc);
  }

  /** The first trunk page as logFreelist lays the freelist out. */
  private freeTrunkHead(): number {
    return this.freePages.count === 0 ? 0 : this.freePages.entries()[0];
  }

  private writeHeaderHome(): void {
    this.encodeHeaderPage(this.scratch, this.scratchCovered, this.meta.checkpointLsn);
    this.io.writeHome([this.scratch], 1);
    this.lastHead.set(this.scratch.subarray(0, HEADER_BYTES));
    this.pagesWritten++;
  }

  private syncMain(): void {
    try {
      this.file.sync("data");
    } catch (e) {
      throw this.fence(e, "syncing the database file");
    }
  }

  // ---- state and checks ----

  /** Drop a frame's page from the pool (its bytes are not wanted). */
  private discard(frame: PoolFrame): void {
    this.pool.unbind(frame);
    this.pool.release(frame);
  }

  private shutdown(): void {
    if (this.releaseTimer !== null) clearTimeout(this.releaseTimer);
    this.releaseTimer = null;
    this.snaps.onClose = null;
    this.snaps.closeAll();
    assertTransition(this.state, CLOSED);
    this.state = CLOSED;
    closeQuietly(this.wal);
    closeQuietly(this.file);
    this.lock.release();
  }

  private afterCall(): void {
    if (this.opts.debug) this.checkInvariants();
  }

  /** The state check at every entry: OPEN or FENCED, and the lock still held. */
  private checkOpen(): void {
    if (this.state === CLOSED || !this.lock.held) throw this.closedError();
  }

  private checkWritable(): void {
    this.checkOpen();
    if (this.readOnly) {
      throw new PagekvError("ERR_READ_ONLY", `${this.path}: the database is open read-only`, {
        path: this.path,
      });
    }
    if (this.state === FENCED) throw this.fencedError();
  }

  /** ERR_TXN when the transaction has made a change already (reorders need a clean one). */
  private checkFirstChange(op: string): void {
    if (this.txn.active) {
      throw new PagekvError(
        "ERR_TXN",
        `${this.path}: ${op} must come before the transaction's first change`,
        { path: this.path },
      );
    }
  }

  private checkNoWriters(op: string): void {
    const writers = this.pool.framesWriting;
    if (writers > 0) {
      throw new PagekvError(
        "ERR_PIN",
        `${this.path}: cannot ${op} while ${writers} frame(s) are pinned for writing`,
        { path: this.path },
      );
    }
  }

  /** Record a failed log write or sync: from now on every write call is refused. */
  private fence(e: unknown, what: string): unknown {
    const err = this.ioError(e, what, 0);
    if (err instanceof PagekvError && err.code === "ERR_IO" && this.state === OPEN) {
      assertTransition(this.state, FENCED);
      this.state = FENCED;
      this.fencedBy = err;
    }
    return err;
  }

  private fencedError(): PagekvError {
    return new PagekvError(
      "ERR_FENCED",
      `${this.path}: an earlier write or sync failed (${this.fencedBy?.message}); close and ` +
        "reopen to recover to the last durable commit",
      { path: this.path, cause: this.fencedBy },
    );
  }

  private checkPageNumber(pgno: number, op: string): void {
    if (
      typeof pgno === "number" &&
      pgno >>> 0 === pgno &&
      pgno >= 2 &&
      pgno <= this.meta.pageCount
    ) {
      if (op === "get" && this.freePages.has(pgno)) {
        throw new PagekvError(
          "ERR_PAGE_RANGE",
          `${this.path}: get of page ${pgno}, which is free`,
          {
            path: this.path,
            pgno,
          },
        );
      }
      return;
    }
    const why =
      pgno === 1 ? "page 1 belongs to the pager" : `valid pages are 2..${this.meta.pageCount}`;
    throw new PagekvError("ERR_PAGE_RANGE", `${this.path}: ${op} of page ${String(pgno)}: ${why}`, {
      path: this.path,
    });
  }

  private checkSlot(i: number): number {
    return slotIndex(this.path, i);
  }

  private badIntent(intent: unknown): PagekvError {
    return new PagekvError(
      "ERR_ARG",
      `${this.path}: intent ${String(intent)} is not "read" or "write"`,
      { path: this.path },
    );
  }

  /** Add what the pager was doing to an ERR_IO from the VFS; other errors pass through. */
  private ioError(e: unknown, what: string, pgno: number): unknown {
    return ioError(this.path, e, what, pgno);
  }

  private closedError(): PagekvError {
    const why =
      this.state === CLOSED
        ? "the pager is closed"
        : "the process holding it died (its lock is gone)";
    return new PagekvError("ERR_CLOSED", `${this.path}: ${why}`, { path: this.path });
  }
}

/**
 * The name every file of the database at `path` is derived from: the VFS's one name for
 * the file (symlinks resolved), so that two names of one file never make two databases.
 */
function canonicalPath(vfs: VFS, path: string): string {
  return vfs.canonical === undefined ? path : vfs.canonical(path);
}

/** A database path is a non-empty string: checked before it is used in any message. */
function checkPath(path: unknown): asserts path is string {
  if (typeof path !== "string" || path.length === 0) {
    throw new PagekvError(
      "ERR_ARG",
      `database path must be a non-empty string, got ${describe(path)}`,
    );
  }
}

/** Options Pager.create takes, and Pager.open. */
const CREATE_OPTIONS = [
  "pageSize",
  "cacheFrames",
  "debug",
  "applicationId",
  "pageCountMax",
  "sync",
  "walAutoCheckpointPages",
] as const;
const OPEN_OPTIONS = [
  "cacheFrames",
  "debug",
  "readOnly",
  "pageCountMax",
  "sync",
  "walAutoCheckpointPages",
  "recover",
] as const;

/**
 * The options of `site` ("create" or "open") checked for names and types before anything
 * is read or written; the bound that depends on the page size is resolveOptions'.
 */
function checkPagerOptions(options: unknown, site: "create" | "open", path: string): PagerOptions {
  const where = `${path}: Pager.${site}`;
  const o = checkOptions<PagerOptions>(
    options,
    site === "create" ? CREATE_OPTIONS : OPEN_OPTIONS,
    where,
    path,
  );
  optionalInteger(o.pageSize, "pageSize", 512, 65536, where, path); // a power of two: create
  optionalInteger(o.cacheFrames, "cacheFrames", CACHE_FRAMES_MIN, CACHE_FRAMES_MAX, where, path);
  optionalBoolean(o.debug, "debug", where, path);
  optionalBoolean(o.readOnly, "readOnly", where, path);
  optionalInteger(o.applicationId, "applicationId", 0, 0xffff_ffff, where, path);
  optionalInteger(o.pageCountMax, "pageCountMax", 1, PAGE_NUMBER_MAX, where, path);
  optionalChoice(o.sync, "sync", ["full", "normal", "off"], where, path);
  const autoMax = WAL_AUTO_CHECKPOINT_PAGES_MAX;
  optionalInteger(o.walAutoCheckpointPages, "walAutoCheckpointPages", 0, autoMax, where, path);
  optionalChoice(o.recover, "recover", ["strict", "truncate"], where, path);
  return o;
}

/** The options as the pager runs with them (types checked by checkPagerOptions). */
function resolveOptions(path: string, pageSize: number, options: PagerOptions): Resolved {
  const cacheFrames = options.cacheFrames ?? CACHE_FRAMES_DEFAULT;
  if (cacheFrames * pageSize > ARENA_BYTES_MAX) {
    throw new PagekvError(
      "ERR_ARG",
      `${path}: cacheFrames ${cacheFrames} of ${pageSize}-byte pages is more than the ` +
        `${ARENA_BYTES_MAX} bytes one pool may hold`,
      { path },
    );
  }
  return {
    applicationId: options.applicationId ?? APPLICATION_ID_NONE,
    cacheFrames,
    debug: options.debug === true,
    pageCountMax: options.pageCountMax ?? PAGE_NUMBER_MAX,
    sync: options.sync ?? "full",
    walAutoCheckpointPages:
      options.walAutoCheckpointPages ?? Math.max(WAL_AUTO_CHECKPOINT_PAGES_DEFAULT, cacheFrames),
    recover: options.recover ?? "strict",
  };
}

function byPgno(a: PoolFrame, b: PoolFrame): number {
  return a.pgno - b.pgno;
}

/** The salts of a new log for the database `h` describes: a random first generation. */
function newSalt(h: Header): { pageSize: number; generation: number; databaseId: number } {
  return { pageSize: h.pageSize, generation: randomU32(), databaseId: h.databaseId };
}

/**
 * A new log file's salt, of a generation no live reader's mark names (rule 4): a reader
 * still holding a mark of a retired log cannot be mistaken for one of this log.
 */
function newSaltAvoiding(h: Header, lock: VLock): ReturnType<typeof newSalt> {
  const taken = new Set<number>();
  for (const r of lock.readers()) {
    for (const m of r.marks) if (m !== null && m !== "unknown") taken.add(m.generation);
  }
  let salt = newSalt(h);
  while (taken.has(salt.generation)) salt = newSalt(h);
  return salt;
}

/** The larger of two LSNs (Math.max takes numbers only). */
/** A writer with sync "full" publishes its durable end to readers (group-commit.md). */
function publishes(o: PagerOptions): boolean {
  return o.readOnly !== true && (o.sync ?? "full") === "full";
}

function laterLsn(a: bigint, b: bigint): bigint {
  return a > b ? a : b;
}

/** A salt or database id: distinct across databases and log generations by chance alone. */
function randomU32(): number {
  return (Math.random() * 0x1_0000_0000) >>> 0;
}

function closeQuietly(file: { close(): void }): void {
  try {
    file.close();
  } catch {
    // Already failing: the first error is the one worth reporting.
  }
}

/** True when two header images (page 1's first HEADER_BYTES) are equal. */
function sameHeader(page: Uint8Array, head: Uint8Array): boolean {
  for (let i = 0; i < HEADER_BYTES; i++) if (page[i] !== head[i]) return false;
  return true;
}
