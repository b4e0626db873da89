// The write-ahead log: an append-only file of page images (`<db>-wal`) and its in-memory
// index. It owns the log file, its WalIndex (wal-index.ts) and which of the index's frames
// are committed; the recovery scan is scan.ts. The pager decides what to append, when to
// sync and when to checkpoint. It never writes the main file.
//
// Invariants:
//   (Failed writes, rewinds and damaged headers: docs/design/log-failures.md.)
//   - appends only move forward, and a rolled-back transaction's frames stay where they
//     are (its LSN never commits), with one exception: an append whose write fails (disk
//     full, EIO) is rewound, and the next append overwrites its positions. The failed
//     write may have left some of its frames valid on disk behind the new end;
//   - every transaction has its own LSN, carried by each of its frames, and LSNs never
//     decrease along the log of a generation. So a frame whose LSN is lower than the one
//     before it is a leftover of a rewound append, and the recovery scan ends there: a
//     leftover can never join a later commit, nor be applied after frames that replaced it;
//   - a transaction's last frame carries the commit mark, and a commit covers exactly the
//     frames of its LSN;
//   - the index links exactly the frames of the commits of this generation and those the
//     open transaction appended: frames below `committedEnd` that are linked are committed,
//     linked frames at or past it are the open transaction's. A rollback (dropTxn,
//     discardUncommitted) unlinks everything from `committedEnd` on; a commit only moves
//     `committedEnd` to the end of the log. So the newest committed image of a page is the
//     index's newest linked frame below `committedEnd`, the writer's own newest is the newest
//     linked frame, and a snapshot's is the newest below the committed end it was taken at
//     (docs/design/snapshots.md);
//   - a frame enters the index only once the whole append that wrote it succeeded;
//   - a frame records how many frames of its generation were synced before it was
//     written, so recovery can tell a torn tail (never synced) from damage to synced data.

import { assert, assertFailed, PagekvError } from "../errors.js";
import { readTrailerCrc } from "../format/page.js";
import {
  decodeFrameHeader,
  decodeWalHeader,
  encodeFrameHeader,
  encodeWalHeader,
  type FrameFields,
  WAL_FRAME_HEADER_BYTES,
  WAL_HEADER_BYTES,
  type WalHeader,
  walFrameBytes,
  walFrameOffset,
} from "../format/wal-format.js";
import type { Crc32, VFile, VFS } from "../vfs/vfs.js";
import {
  emptyRecovery,
  emptyScanState,
  type RecoverMode,
  ScanBuffers,
  type ScanState,
  saltFromFrames,
  scanLog,
  type WalRecovery,
} from "./scan.js";
import { WAL_INDEX_FRAMES_MAX, WalIndex } from "./wal-index.js";

export type { RecoverMode, WalRecovery } from "./scan.js";

/** Frames appended in one writev (two buffers a frame, within Linux's IOV_MAX of 1024). */
export const WAL_APPEND_FRAMES_MAX = 512;
/**
 * Frames of zeros written past the end of the log whenever an append extends it, so that
 * the appends after it overwrite allocated blocks: a sync then need not also record a new
 * file size (here, on ext4, a 4 KiB write + fdatasync took about 360 us appending and 270 us
 * overwriting). Zeros never pass a frame's checks: recovery reads them as the end of the log.
 */
const WAL_GROW_FRAMES = 64;
/**
 * Most frames one log generation may hold: what the index can address (frame positions on
 * disk are u32; 2^30 frames are at least 552 GiB of log at the smallest page size).
 */
export const WAL_FRAMES_MAX = WAL_INDEX_FRAMES_MAX;

/**
 * What a reader's refresh found (Wal.follow): nothing new; new commits in the same
 * generation; or a new generation (or no log at all), the index rebuilt from its frame 0.
 */
export type FollowResult = "same" | "grew" | "reset";

export class Wal {
  readonly path: string;
  private file: VFile;
  private readonly crc: Crc32;
  private readonly pageSize: number;
  private salt: WalHeader;
  /** This generation's committed frames and the open transaction's (see the invariants). */
  private readonly index = new WalIndex();
  /** Pages whose only linked frames are the open transaction's (for committedPages). */
  private txnNewPages = 0;
  private frames = 0;
  private framesSynced = 0;
  /** Frames up to the last commit mark: everything after belongs to no commit. */
  private committedEndValue = 0;
  /** A write of a new generation's header failed: the header on disk is unknown. */
  private headerUnsure = false;
  /** Known size of the log file, or -1 until the first append reads it. */
  private fileBytes = -1;
  /** WAL_GROW_FRAMES frames of zeros, made at the first growth. */
  private zeros: Uint8Array | null = null;
  /** Frame headers for one append; grown on demand, never shrunk. */
  private headers: Uint8Array;
  private readonly fields: FrameFields = { pgno: 0, commit: 0, lsn: 0n, index: 0, synced: 0 };
  // A reader's (docs/design/readers.md, "The reader's steps"): where its scans continue,
  // their buffers, and one frame's worth for the probe of frame committedEnd and for
  // checked reads. Made at the first follow.
  private scanState: ScanState = emptyScanState();
  private buffers: ScanBuffers | null = null;
  private probe: Uint8Array | null = null;
  /** The header bytes a reader read last, what they decoded to, and a buffer to read into. */
  private readonly headRead = new Uint8Array(WAL_HEADER_BYTES);
  private readonly headSeen = new Uint8Array(WAL_HEADER_BYTES);
  private headLast: WalHeader | null = null;
  /** A reader with no log file open (none existed, or it was retired): follow looks again. */
  private detached = false;
  /**
   * A writer that publishes (sync "full": docs/design/group-commit.md, "Visibility"): every
   * header it writes has the published flag, and publish() moves the end readers may see.
   */
  private publishing = false;
  /** The end the header on disk publishes (a writer's; 0 in a new generation). */
  private publishedEnd = 0;

  private constructor(file: VFile, crc: Crc32, salt: WalHeader) {
    this.file = file;
    this.path = file.path;
    this.crc = crc;
    this.pageSize = salt.pageSize;
    this.salt = saltOf(salt);
    this.headers = new Uint8Array(WAL_FRAME_HEADER_BYTES * 8);
  }

  /**
   * Start an empty log of generation `salt` at `path`, replacing whatever was there, and
   * make its header durable before any frame of it can be written.
   */
  static create(vfs: VFS, path: string, salt: WalHeader, crc: Crc32, publishing = false): Wal {
    const file = vfs.open(path, { create: true });
    try {
      const wal = new Wal(file, crc, salt);
      wal.publishing = publishing;
      wal.writeHeader(wal.salt);
      file.sync("data");
      return wal;
    } catch (e) {
      closeQuietly(file);
      throw e;
    }
  }

  /**
   * Scan the log at `path` and rebuild the committed index. Returns null when there is no
   * log, or its header is torn, or it belongs to another database than `expect` (when
   * given): such a log holds nothing of this database's state. A log of an older
   * generation cannot be found: its reset to a new generation was durable first.
   * Damage to frames that had been synced throws ERR_CORRUPT naming the frame, or with
   * mode "truncate" keeps the commits before it and counts the ones dropped. With
   * `published` (a reader beside a live writer) the scan stops at the header's published
   * end, when it has one.
   */
  static recover(
    vfs: VFS,
    path: string,
    expect: { pageSize: number; databaseId: number } | null,
    crc: Crc32,
    mode: RecoverMode,
    readOnly = false,
    published = false,
  ): { wal: Wal; found: WalRecovery } | null {
    if (!vfs.exists(path)) return null;
    let file: VFile;
    try {
      file = vfs.open(path, { readOnly });
    } catch (e) {
      // A reader may find the log a closing writer deletes right after (readers.md, race
      // D): no log, and the main file that close made whole is the state.
      if (readOnly && e instanceof PagekvError && e.code === "ERR_NOT_FOUND") return null;
      throw e;
    }
    try {
      const head = new Uint8Array(WAL_HEADER_BYTES);
      let salt = file.readAt(head, 0) === WAL_HEADER_BYTES ? decodeWalHeader(head, crc) : null;
      let dropped = 0;
      if (salt === null && expect !== null) {
        // A damaged header is not an empty log when the frames behind it are this
        // database's: they carry the salts themselves.
        const salvaged = saltFromFrames(file, path, expect, crc, mode);
        salt = salvaged.salt;
        dropped = salvaged.dropped;
      }
      const belongs =
        salt !== null &&
        (expect === null ||
          (salt.pageSize === expect.pageSize && salt.databaseId === expect.databaseId));
      if (salt === null || !belongs) {
        file.close();
        return null;
      }
      // A retired log (a closing writer's, left by a crash before its unlink) is an empty
      // one: no frame has its generation. Its flag is not carried on.
      if (salt.retired === true) salt = { ...salt, retired: undefined };
      const wal = new Wal(file, crc, salt);
      if (dropped > 0) {
        // recover: "truncate" over a log whose header and first frame are both damaged:
        // nothing of it can be trusted, so it opens as an empty log (reset by the pager).
        return { wal, found: { ...emptyRecovery(), droppedTransactions: dropped } };
      }
      const state = emptyScanState();
      // A reader beside a live writer sees only what it published (group-commit.md);
      // recovery sees every commit.
      const limit = published ? salt.published : undefined;
      scanLog({ file, path, salt: wal.salt, crc }, wal.index, mode, state, undefined, limit);
      wal.frames = state.frames;
      wal.framesSynced = state.frames;
      wal.committedEndValue = state.committedEnd;
      wal.scanState = state;
      return { wal, found: state.found };
    } catch (e) {
      closeQuietly(file);
      throw e;
    }
  }

  /**
   * A log with no file and no frames, for a read-only open of a database that has none:
   * lookups find nothing, and any write is ERR_READ_ONLY.
   */
  static absent(path: string, salt: WalHeader, crc: Crc32): Wal {
    const wal = new Wal(new AbsentFile(path), crc, salt);
    wal.detached = true;
    return wal;
  }

  // ---- a reader following a live log (docs/design/readers.md, "The reader's steps") ----

  /**
   * Bring the index up to the log's committed end now, pushing onto `changed` the page of
   * every frame that became committed (newest first, once per frame). When nothing changed
   * it costs two reads (frame committedEnd, then the header). "reset": the log is of another
   * generation, or gone, or retired: the index was emptied and rebuilt from frame 0 (or left
   * empty: the main file is the whole state). Read-only: it never writes.
   */
  follow(vfs: VFS, changed: number[]): FollowResult {
    if (this.probe === null) this.probe = new Uint8Array(walFrameBytes(this.pageSize));
    if (this.detached) return this.reattach(vfs, changed);
    const end = this.committedEndValue;
    const first = this.readHeader();
    if (first !== null && first.published !== undefined && !first.retired) {
      // A publishing writer: the header says how far to read (group-commit.md). A reset
      // cannot come while frames below the published end are read: this reader's mark is
      // below the committed end whenever it has any to read (rule 2; race R5).
      if (first.generation !== this.salt.generation) return this.moveTo(first, changed);
      if (first.published <= end) return "same";
      this.scanFrom(end, changed, first.published);
      return this.committedEndValue === end ? "same" : "grew";
    }
    const grown = this.frameVerifies(end, this.probe);
    if (!grown) {
      // Nothing new in this generation, by the header read before the probe (a reset
      // since would only make frame `end` fail as well: the view stands, race C).
      if (first === null || first.generation === this.salt.generation) return "same";
      if (first.retired === true) return this.reattach(vfs, changed);
      return this.moveTo(first, changed);
    }
    // A reset leaves this generation's frames past the new one's end valid (the file is not
    // cut), so frames that verify do not prove the log is still of this generation: the
    // header, read after them, does (generations only move forward).
    this.scanFrom(end, changed);
    const head = this.readHeader();
    if (head === null || (head.generation === this.salt.generation && !head.retired)) {
      return this.committedEndValue === end ? "same" : "grew";
    }
    if (head.retired === true) return this.reattach(vfs, changed);
    return this.moveTo(head, changed);
  }

  /**
   * The header names another generation (or another database: then the view stands, since
   * that log is not this database's to read).
   */
  private moveTo(head: WalHeader, changed: number[]): FollowResult {
    if (head.generation === this.salt.generation || !this.sameDatabase(head)) return "same";
    this.restart(head, changed);
    return "reset";
  }

  /**
   * Read frame `frame`'s image of page `pgno` into `page` if the frame still verifies as
   * that frame of this generation (header, position, page number, CRCs); false if not: the
   * log was reset since the index was built, or the frame is damaged (see headerMoved).
   */
  readChecked(frame: number, pgno: number, page: Uint8Array): boolean {
    if (this.probe === null) this.probe = new Uint8Array(walFrameBytes(this.pageSize));
    if (!this.frameVerifies(frame, this.probe) || this.fields.pgno !== pgno) return false;
    page.set(this.probe.subarray(WAL_FRAME_HEADER_BYTES));
    return true;
  }

  /** True when the log's header no longer names this generation (or cannot be read). */
  headerMoved(): boolean {
    if (this.detached) return false;
    const head = this.readHeader();
    return head === null || head.generation !== this.salt.generation;
  }

  /** Frame `frame` read into `buf` verifies as this generation's at that position. */
  private frameVerifies(frame: number, buf: Uint8Array): boolean {
    let n: number;
    try {
      n = this.file.readAt(buf, walFrameOffset(frame, this.pageSize));
    } catch (e) {
      throw this.readError(e);
    }
    if (n < buf.length) return false;
    const header = buf.subarray(0, WAL_FRAME_HEADER_BYTES);
    const page = buf.subarray(WAL_FRAME_HEADER_BYTES);
    return (
      decodeFrameHeader(header, readTrailerCrc(page), this.salt, frame, this.crc, this.fields) &&
      this.fields.pgno !== 0
    );
  }

  /**
   * The log's header now, or null when it does not verify. Allocates nothing when its
   * bytes are the ones read last time (a refresh with nothing new reads it every time).
   */
  private readHeader(): WalHeader | null {
    const head = this.headRead;
    let n: number;
    try {
      n = this.file.readAt(head, 0);
    } catch (e) {
      throw this.readError(e);
    }
    if (n !== WAL_HEADER_BYTES) return null;
    let same = this.headLast !== null;
    for (let i = 0; same && i < WAL_HEADER_BYTES; i++) same = head[i] === this.headSeen[i];
    if (same) return this.headLast;
    const decoded = decodeWalHeader(head, this.crc);
    this.headSeen.set(head);
    this.headLast = decoded;
    return decoded;
  }

  /** Scan on from frame `from` (this generation), noting the pages that became committed. */
  private scanFrom(from: number, changed: number[], limit?: number): void {
    if (this.buffers === null) this.buffers = new ScanBuffers(this.pageSize);
    const src = { file: this.file, path: this.path, salt: this.salt, crc: this.crc };
    try {
      scanLog(src, this.index, "follow", this.scanState, this.buffers, limit);
    } catch (e) {
      throw this.readError(e);
    }
    this.frames = this.scanState.frames;
    this.framesSynced = this.frames;
    this.committedEndValue = this.scanState.committedEnd;
    this.index.pagesLinkedFrom(from, changed);
  }

  /** A new generation `salt` of the same log: everything is read again from its frame 0. */
  private restart(salt: WalHeader, changed: number[]): void {
    this.salt = saltOf(salt);
    this.forget();
    this.scanFrom(0, changed, salt.published);
  }

  /** An empty index and scan state: nothing of the log is known. */
  private forget(): void {
    this.index.clear();
    this.scanState = emptyScanState();
    this.frames = 0;
    this.framesSynced = 0;
    this.committedEndValue = 0;
  }

  /**
   * Open the log's path again (the one open was retired, or there was none): a new log is
   * read from its frame 0; none (or a retired one still there) leaves the index empty, the
   * main file being the whole state (rule 3).
   */
  private reattach(vfs: VFS, changed: number[]): FollowResult {
    const wasDetached = this.detached;
    let file: VFile | null = null;
    try {
      if (vfs.exists(this.path)) file = vfs.open(this.path, { readOnly: true });
    } catch (e) {
      if (!(e instanceof PagekvError && e.code === "ERR_NOT_FOUND")) throw e;
    }
    closeQuietly(this.file);
    this.file = file ?? new AbsentFile(this.path);
    const head = file === null ? null : this.readHeader();
    if (head !== null && head.retired !== true && this.sameDatabase(head)) {
      this.detached = false;
      this.restart(head, changed);
      return "reset";
    }
    this.detached = true;
    if (wasDetached) return "same";
    this.forget();
    return "reset";
  }

  private sameDatabase(head: WalHeader): boolean {
    return head.pageSize === this.pageSize && head.databaseId === this.salt.databaseId;
  }

  private readError(e: unknown): PagekvError {
    if (e instanceof PagekvError) return e;
    return new PagekvError("ERR_IO", `${this.path}: reading the log failed`, {
      path: this.path,
      cause: e,
    });
  }

  /** Page size the log was written with (what a database whose header is torn uses). */
  pageSizeOf(): number {
    return this.pageSize;
  }

  get generation(): number {
    return this.salt.generation;
  }

  /**
   * True after a failed write of a new generation's header (reset), until the next append
   * has written the current header again: the generation did not change.
   */
  get headerRewritePending(): boolean {
    return this.headerUnsure;
  }

  /** LSN of the last commit a scan of this generation found (0n: none, or not scanned). */
  get lastCommitLsnFound(): bigint {
    return this.scanState.found.lastCommitLsn;
  }

  /** Frames written in this generation, committed or not. */
  get frameCount(): number {
    return this.frames;
  }

  /** Frames up to the last commit mark: a snapshot taken now has this bound. */
  get committedEnd(): number {
    return this.committedEndValue;
  }

  /** Pages with a committed image in the log. */
  get committedPages(): number {
    return this.index.pageCount - this.txnNewPages;
  }

  /** True when frames were appended since the last sync. */
  get unsynced(): boolean {
    return this.framesSynced < this.frames;
  }

  /** Frame holding the newest image of `pgno` the writer may see, or -1. Allocates nothing. */
  lookup(pgno: number): number {
    return this.index.newestOf(pgno);
  }

  /**
   * Newest committed frame of `pgno`, or -1 (the open transaction's frames ignored).
   * Allocates nothing; `lookupNewest` then tells the writer's newest frame of the page.
   */
  lookupCommitted(pgno: number): number {
    return this.index.lookup(pgno, this.committedEndValue);
  }

  /**
   * Newest committed frame of `pgno` below `bound` (a snapshot's: a committed end of this
   * generation, so 0 <= bound <= committedEnd), or -1. Allocates nothing; `lookupNewest`
   * then tells whether another, newer frame of the page exists.
   */
  lookupAt(pgno: number, bound: number): number {
    if (!(bound >= 0 && bound <= this.committedEndValue)) {
      assertFailed(
        `${this.path}: lookup bound ${bound} past the committed end ${this.committedEndValue}`,
      );
    }
    return this.index.lookup(pgno, bound);
  }

  /**
   * The newest frame of the page of the last lookupAt or lookupCommitted, the open
   * transaction's included, or -1: that lookup found the page's newest image when the two
   * are equal.
   */
  get lookupNewest(): number {
    return this.index.newest;
  }

  /** Pages with a committed image below frame `bound`, ascending: what a checkpoint copies home. */
  committedPageNumbers(bound = this.committedEndValue): Uint32Array {
    return this.index.pages(bound);
  }

  /** Read the page image of frame `index` into `page` (pageSize bytes). Unverified. */
  readPage(index: number, page: Uint8Array): number {
    return this.file.readAt(page, walFrameOffset(index, this.pageSize) + WAL_FRAME_HEADER_BYTES);
  }

  /** Read whole frames from frame `index` into `dst`; returns the bytes read. Unverified. */
  readFrames(index: number, dst: Uint8Array): number {
    return this.file.readAt(dst, walFrameOffset(index, this.pageSize));
  }

  /**
   * Append sealed page images as frames of the transaction `lsn`, in one write. With
   * `commitPageCount` > 0 the last frame is the commit mark (the caller then syncs and
   * calls commitTxn). Each page's trailer must already be sealed.
   */
  append(
    pgnos: readonly number[],
    pages: readonly Uint8Array[],
    lsn: bigint,
    commitPageCount: number,
  ): void {
    const n = pgnos.length;
    assert(n === pages.length, "log append: as many pages as page numbers");
    if (this.frames + n > WAL_FRAMES_MAX) {
      throw new PagekvError("ERR_FULL", `${this.path}: the log cannot hold ${n} more frames`, {
        path: this.path,
      });
    }
    const hb = WAL_FRAME_HEADER_BYTES;
    if (this.headers.length < Math.min(n, WAL_APPEND_FRAMES_MAX) * hb) {
      this.headers = new Uint8Array(Math.min(n, WAL_APPEND_FRAMES_MAX) * hb);
    }
    const f = this.fields;
    const bufs: Uint8Array[] = [];
    const first = this.frames;
    if (this.headerUnsure) {
      // Synced together with the frames that follow it, by the commit's sync.
      this.writeHeader(this.salt);
      this.headerUnsure = false;
    }
    try {
      for (let start = 0; start < n; start += WAL_APPEND_FRAMES_MAX) {
        const end = Math.min(n, start + WAL_APPEND_FRAMES_MAX);
        bufs.length = 0;
        for (let i = start; i < end; i++) {
          const header = this.headers.subarray((i - start) * hb, (i - start + 1) * hb);
          f.pgno = pgnos[i];
          f.commit = i === n - 1 ? commitPageCount : 0;
          f.lsn = lsn;
          f.index = first + i;
          f.synced = this.framesSynced;
          encodeFrameHeader(header, f, this.salt, readTrailerCrc(pages[i]), this.crc);
          bufs.push(header, pages[i]);
        }
        this.file.writevAt(bufs, walFrameOffset(first + start, this.pageSize));
      }
    } catch (e) {
      // Rewound: the next append overwrites these positions (see the invariants above).
      this.fileBytes = -1;
      throw e;
    }
    // Only a whole append enters the index. Every frame appended lies at or past the
    // committed end: a page new to the index is new to the open transaction.
    const pagesBefore = this.index.pageCount;
    for (let i = 0; i < n; i++) this.index.add(first + i, pgnos[i]);
    this.txnNewPages += this.index.pageCount - pagesBefore;
    this.frames = first + n;
    this.growPast(walFrameOffset(this.frames, this.pageSize));
  }

  /**
   * After an append that ended at byte `end`: zero-fill ahead if it extended the file. Only
   * a speed-up (see WAL_GROW_FRAMES): when it fails (a full disk) the append stands, and
   * the next one extends the file itself.
   */
  private growPast(end: number): void {
    try {
      if (this.fileBytes < 0) this.fileBytes = this.file.size();
      if (end <= this.fileBytes) return;
      if (this.zeros === null) {
        this.zeros = new Uint8Array(WAL_GROW_FRAMES * walFrameBytes(this.pageSize));
      }
      const zeros = this.zeros;
      this.file.writeAt(zeros, end);
      this.fileBytes = end + zeros.length;
    } catch {
      this.fileBytes = -1;
    }
  }

  /** Make every appended frame durable. */
  sync(): void {
    this.file.sync("data");
    this.framesSynced = this.frames;
  }

  /**
   * sync(), off the thread where the VFS can (VFile.syncAsync): every frame appended before
   * the call is durable when it resolves. Rejects with the VFS's error (ERR_IO, ERR_CLOSED).
   * Frames appended meanwhile, and a new generation begun meanwhile, are not its to count.
   */
  async syncAsync(): Promise<void> {
    const generation = this.salt.generation;
    const frames = this.frames;
    const file = this.file;
    if (file.syncAsync === undefined) file.sync("data");
    else await file.syncAsync("data");
    if (this.salt.generation === generation && frames > this.framesSynced) {
      this.framesSynced = frames;
    }
  }

  /**
   * A writer with sync "full" publishes: from now on every header it writes carries the
   * published flag, starting with the one publish() writes (group-commit.md).
   */
  startPublishing(): void {
    this.publishing = true;
  }

  /**
   * Let readers see the commits below frame `end` of this generation (a commit's end, all
   * of it synced): the header is rewritten with one write, not synced (readers read it;
   * recovery ignores the field). A no-op when not publishing or when `end` is not past
   * what the header says.
   */
  publish(end: number): void {
    if (!this.publishing || end <= this.publishedEnd) return;
    assert(
      end <= this.committedEndValue && end <= this.framesSynced,
      "publishing past the synced commits",
    );
    const before = this.publishedEnd;
    this.publishedEnd = end;
    try {
      this.writeHeader(this.salt);
    } catch (e) {
      // The header on disk is unknown now: the next append writes it again (see append).
      this.publishedEnd = before;
      this.headerUnsure = true;
      throw e;
    }
  }

  /** The end readers may see, as the header on disk says (a publishing writer's). */
  get published(): number {
    return this.publishedEnd;
  }

  /**
   * The open transaction committed: its frames become the pages' committed images. O(1):
   * its frames are linked already, and now lie below the committed end.
   */
  commitTxn(): void {
    this.committedEndValue = this.frames;
    this.txnNewPages = 0;
  }

  /**
   * After a failed append or sync: cut the log back to its last commit mark, best effort,
   * so the failed transaction's frames cannot be read back as committed by a later open
   * of the same, still running, system. Errors are ignored: the caller is fencing already.
   */
  discardUncommitted(): void {
    this.discardFrom(this.committedEndValue);
  }

  /** Push the page of every linked frame at or past `first` (newest first) onto `out`. */
  pagesFrom(first: number, out: number[]): void {
    this.index.pagesLinkedFrom(first, out);
  }

  /**
   * discardUncommitted(), and the commits at or past frame `end` too (a commit's end): after
   * a failed sync of commits that were appended but never made durable (group-commit.md,
   * "Failure"), so that nothing of them stays readable in the log.
   */
  discardFrom(end: number): void {
    assert(end <= this.committedEndValue, "discarding past the committed end");
    this.committedEndValue = end;
    this.dropTxn();
    this.frames = this.committedEndValue;
    if (this.framesSynced > this.frames) this.framesSynced = this.frames;
    try {
      this.fileBytes = -1;
      this.file.truncate(walFrameOffset(this.committedEndValue, this.pageSize));
    } catch {
      // The device is failing; recovery's checks still hold without this.
    }
  }

  /** The open transaction rolled back: unlink its frames (they stay in the file, inert). */
  dropTxn(): void {
    this.index.removeFrom(this.committedEndValue);
    this.txnNewPages = 0;
  }

  /**
   * Start generation `generation`: its header is durable before this returns, and the
   * index is empty. Older frames stay in the file (they fail the salt check) and are
   * overwritten in place, which spares fdatasync a file-size change per commit. With
   * `keepFrames` the file is also cut to that many frames, so that a long finished
   * generation leaves no stale tail for a later open to read (cutting a large file costs
   * milliseconds: recovery does it, a routine checkpoint does not).
   *
   * A failed write of the header (ERR_IO) changes nothing: the log stays in its generation,
   * whose frames stay valid. Since the header on disk may then be the new one, old or torn,
   * the next append first writes the current header again (see append). A failed sync of
   * it is the caller's to fence: the log's state on disk is then unknown.
   */
  reset(generation: number, keepFrames?: number): void {
    const salt = { ...this.salt, generation };
    try {
      this.publishedEnd = 0;
      this.writeHeader(salt);
    } catch (e) {
      this.headerUnsure = true;
      throw e;
    }
    this.headerUnsure = false;
    this.file.sync("data");
    this.salt = salt;
    this.index.clear();
    this.txnNewPages = 0;
    this.frames = 0;
    this.framesSynced = 0;
    this.committedEndValue = 0;
    // Only now: cut before the new header were durable, a crash could leave the old header
    // over a prefix of its frames, and replaying a prefix would undo later commits.
    if (keepFrames === undefined) return;
    const keepBytes = walFrameOffset(keepFrames, this.pageSize);
    this.fileBytes = -1;
    try {
      if (this.file.size() > keepBytes) this.file.truncate(keepBytes);
    } catch {
      // Only space: the stale tail fails the salt check, and is overwritten in place.
    }
  }

  /**
   * The writer goes on in this generation after a recovery that could not reset the log
   * (a reader holds it: docs/design/readers.md, rule 5): every frame is made durable, and
   * the file is cut at the committed end, so the dead writer's uncommitted leftovers go.
   */
  continueGeneration(): void {
    this.frames = this.committedEndValue;
    this.fileBytes = -1;
    this.file.truncate(walFrameOffset(this.frames, this.pageSize));
    // The header is this writer's: publishing everything committed, or (sync other than
    // "full") not publishing, so that readers do not wait on a dead writer's published end.
    this.publishedEnd = this.publishing ? this.frames : 0;
    this.writeHeader(this.salt);
    this.file.sync("data");
    this.framesSynced = this.frames;
  }

  /**
   * Mark the log retired just before the writer unlinks it (rule 3): a reader that has it
   * open reads the flag and opens the path again. Not synced: a crash leaves a log whose
   * header names a generation no frame has, which opens as empty.
   */
  retire(): void {
    this.publishing = false;
    this.writeHeader({ ...this.salt, generation: (this.salt.generation + 1) >>> 0, retired: true });
  }

  close(): void {
    this.file.close();
  }

  /** Write the header of generation `salt` (not synced: the caller syncs). */
  private writeHeader(salt: WalHeader): void {
    const head = this.headWrite;
    const published = this.publishing ? this.publishedEnd : undefined;
    encodeWalHeader({ ...salt, published }, head, this.crc);
    this.file.writeAt(head, 0);
  }
  private readonly headWrite = new Uint8Array(WAL_HEADER_BYTES);
}

/** A header's salts and flags without its published end (which moves within a generation). */
function saltOf(h: WalHeader): WalHeader {
  if (h.published === undefined) return h;
  const { published: _, ...salt } = h;
  return salt;
}

function closeQuietly(file: VFile): void {
  try {
    file.close();
  } catch {
    // Already failing: the first error is the one worth reporting.
  }
}

/** The file behind Wal.absent(): empty, and refusing every change. */
class AbsentFile implements VFile {
  constructor(readonly path: string) {}
  readAt(): number {
    return 0;
  }
  writeAt(): void {
    throw this.readOnly();
  }
  writevAt(): void {
    throw this.readOnly();
  }
  sync(): void {}
  truncate(): void {
    throw this.readOnly();
  }
  size(): number {
    return 0;
  }
  close(): void {}
  private readOnly(): PagekvError {
    return new PagekvError("ERR_READ_ONLY", `${this.path}: the database is open read-only`, {
      path: this.path,
    });
  }
}
