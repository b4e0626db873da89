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

export interface VFS {
  open(path: string, options?: OpenOptions): VFile;
  /** Remove a file; the removal is durable when this returns. ERR_NOT_FOUND if missing. */
  delete(path: string): void;
  exists(path: string): boolean;
  /**
   * Take the lock for the database at `path`: "exclusive" (the default) for its one
   * writer, "shared" for a reader. ERR_LOCKED when a writer holds it (a lock of this
   * process, or of another process that is still alive), or, for "exclusive", when this
   * process holds readers on it. A lock left by a dead process is taken over.
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

export interface VLock {
  /** False once released, or once the process that took it died (MemFS.crash()). */
  readonly held: boolean;
  /** Give the lock up; a no-op when it is no longer held. */
  release(): void;
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
  /** Set the file's length, cutting or extending with zeros. */
  truncate(size: number): void;
  size(): number;
  close(): void;
}
