// The file-system seam: the only way the engine touches storage. Synchronous and
// positional, because a page miss cannot afford a promise, and because browser OPFS sync
// access handles have the same shape. Implementations: NodeFS (node/), MemFS (tests).
// Every failure surfaces as a PagekvError: ERR_NOT_FOUND, ERR_EXISTS, ERR_CLOSED or ERR_IO
// (with the platform's error as `cause`).

export interface OpenOptions {
  /** Create the file if it does not exist (the new name is made durable). */
  create?: boolean;
  /** With `create`: fail with ERR_EXISTS if the file already exists. */
  exclusive?: boolean;
  /** Open for reading only: writeAt, writevAt and truncate fail with ERR_IO (sync is harmless). */
  readOnly?: boolean;
}

/** How far VFile.sync() goes: "data" (fdatasync) or "full" (fsync). Not the pager's SyncMode. */
export type FileSyncMode = "data" | "full";

/** CRC-32 (IEEE 802.3, as zlib computes it), continuing from `initial` (0 to start). */
export type Crc32 = (data: Uint8Array, initial: number) => number;

/** Shared locks one thread may hold on one database (one mark slot each). */
export const READER_SLOTS_MAX = 64;

export interface VFS {
  open(path: string, options?: OpenOptions): VFile;
  /** Remove a file; the removal is durable when this returns. ERR_NOT_FOUND if missing. */
  delete(path: string): void;
  exists(path: string): boolean;
  /**
   * Give the file at `from` the name `to`, replacing a file there, atomically (a crash
   * leaves one name or the other, never half); durable when this returns. ERR_NOT_FOUND if
   * `from` is missing. Optional: absent where the platform cannot (OPFS's synchronous
   * API); what needs it (db.backup: docs/design/backup.md) says so with ERR_ARG.
   */
  rename?(from: string, to: string): void;
  /**
   * Take the lock for the database at `path`: "exclusive" (the default) for its one
   * writer, "shared" for a reader. Exclusive: ERR_LOCKED when another writer holds it
   * (alive), or when this thread holds readers on it, or when a live reader does not know
   * the read-mark protocol. Shared: ERR_LOCKED when this thread holds the writer, or when a
   * live writer does not know the protocol; readers coexist with a writer of this version
   * (docs/design/readers.md). ERR_LIMIT past READER_SLOTS_MAX shared locks of one thread on
   * one database. A lock left by a dead process is taken over.
   */
  lock(path: string, mode?: LockMode): VLock;
  /**
   * The one name of the file at `path`: the name its lock, its log and its lock files are
   * kept under, so that two names of one file (a symlink, "./x" and an absolute path) are
   * one database. NodeFS resolves symlinks and makes the path absolute (for a file that
   * does not exist yet, it resolves its directory); ERR_LINKED when the file has more than
   * one hard link, since two names would mean two logs. Absent: the path is its own name.
   */
  canonical?(path: string): string;
  /**
   * A fast CRC-32 the platform provides (Node: zlib's native one). The engine falls back
   * to its pure-TypeScript crc32 when absent; both give identical values.
   */
  readonly crc32?: Crc32;
}

export type LockMode = "exclusive" | "shared";

/**
 * A reader's read mark (docs/design/readers.md): it may still read the frames of log
 * generation `generation` below frame `bound`, and the main file's image of every page
 * without such a frame.
 */
export interface ReadMark {
  readonly generation: number;
  readonly bound: number;
}

/** A live reader of the database, as the writer sees it through readers(). */
export interface ReaderState {
  readonly pid: number;
  /** Its worker thread id (0: the main thread). */
  readonly thread: number;
  /**
   * One entry per open of the database in that reader (a slot): its mark, null when it
   * reads nothing, "unknown" when the slot cannot be read (being rewritten, or damaged),
   * which the writer must count as holding everything.
   */
  readonly marks: readonly (ReadMark | null | "unknown")[];
}

export interface VLock {
  /** False once released, or once the process that took it died (MemFS.crash()). */
  readonly held: boolean;
  /** Give the lock up; a no-op when it is no longer held. */
  release(): void;
  /**
   * A shared lock only: publish this open's read mark (null: it reads nothing). When this
   * returns, the writer's next readers() sees it. ERR_IO when it cannot be written; ERR_ARG
   * on an exclusive lock.
   */
  setMark(mark: ReadMark | null): void;
  /**
   * An exclusive lock only: the live readers of the database and their marks, read now.
   * Stale reader files (dead processes) are removed on the way and not listed. ERR_ARG on
   * a shared lock.
   */
  readers(): ReaderState[];
  /**
   * A shared lock only: whether a live writer holds the database now. A reader's open trusts
   * the log's published end only then (docs/design/group-commit.md, "Visibility"): after a
   * crash the end on disk may be older than what was synced. Absent: taken as true.
   */
  writerAlive?(): boolean;
}

export interface VFile {
  readonly path: string;
  /** Fill `buf` from byte `offset`; returns bytes read, fewer only at end of file. */
  readAt(buf: Uint8Array, offset: number): number;
  /** Write all of `buf` at byte `offset`, extending the file (with zeros) if needed. */
  writeAt(buf: Uint8Array, offset: number): void;
  /** Write the buffers back to back from `offset`, as one call where the platform can. */
  writevAt(bufs: readonly Uint8Array[], offset: number): void;
  /** Make every completed write durable. "data" may skip metadata not needed to read it. */
  sync(mode?: FileSyncMode): void;
  /**
   * sync(), off the calling thread: resolves once every write completed before the call is
   * durable (later writes may or may not be). Rejects with ERR_IO (the platform's error as
   * `cause`) or ERR_CLOSED; never throws. close() while one is in flight is allowed: the
   * file is closed when it completes. Optional: without it the engine calls sync() and
   * resolves (docs/design/group-commit.md, "The VFS seam").
   */
  syncAsync?(mode?: FileSyncMode): Promise<void>;
  /** Set the file's length, cutting or extending with zeros. */
  truncate(size: number): void;
  size(): number;
  close(): void;
}
