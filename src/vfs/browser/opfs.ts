// OpfsVFS: the VFS over the Origin Private File System's FileSystemSyncAccessHandle, for a
// dedicated worker. It owns the handles of one database (its file and its `-wal` log),
// opened asynchronously before the synchronous engine starts, and the mapping of
// DOMExceptions to PagekvError. It must never import node:* and never buffer writes.
//
// Design (docs/design/browser.md: states, races, crashes; README "In the browser"):
//   - The handles are the lock. A sync access handle is exclusive per file across every
//     tab and worker of the origin: createSyncAccessHandle() rejects with
//     NoModificationAllowedError while another holds one, and the browser drops a dead
//     worker's handles. acquire() takes the database file's handle first, then the log's,
//     so two openers never deadlock and the second gets ERR_LOCKED. lock() only checks
//     that this VFS still holds them. (Web Locks would be a second, advisory mechanism
//     beside the one that already excludes; see the README.)
//   - Absent = empty. A handle can only be had for an entry that exists, and the engine
//     deletes and re-creates its log synchronously, so the log's entry is created at
//     acquire() and an empty (0-byte) log reads as absent: exists() is false, open()
//     without `create` is ERR_NOT_FOUND. delete() truncates to 0 and flushes (durable at
//     once, as the engine requires); the entry itself is removed asynchronously when the
//     lock is released, before the database file's handle is let go, so no other opener
//     can have taken the log meanwhile. An engine log of 0 bytes holds nothing anyway: its
//     header is written and synced before any frame.
//
// Invariants: every handle is closed once `released`; after that every call is ERR_CLOSED.
// A file opened before a delete() of its name is stale (ERR_NOT_FOUND) from then on.

import { PagekvError } from "../../errors.js";
import type { LockMode, OpenOptions, ReaderState, ReadMark, VFile, VFS, VLock } from "../vfs.js";

/** Largest offset and file size accepted (1 TiB), as MemFS and NodeFS: catches garbage. */
export const OPFS_FILE_BYTES_MAX = 2 ** 40;
/** OPFS entry names are at most this long here (file systems under it allow 255 bytes). */
export const OPFS_NAME_CHARS_MAX = 200;
/** The log of database `name` is the entry `name + OPFS_WAL_SUFFIX` (walPathOf's rule). */
export const OPFS_WAL_SUFFIX = "-wal";
/**
 * writevAt() copies its buffers into one staging buffer of at most this many bytes and
 * writes it with one call: each write() of a sync access handle costs about 13 us here in
 * Chromium whatever its size (against 1 us for a 4 KiB pwrite on Node), so a log append of
 * 64 frames (128 buffers) is one call instead of 128. Larger writes go in chunks.
 */
export const OPFS_WRITEV_STAGING_BYTES_MAX = 4 * 2 ** 20;
/** acquire() retries a handle whose entry was removed under it at most this many times. */
const ACQUIRE_TRIES_MAX = 3;

export interface OpfsAcquireOptions {
  /** The directory holding the files (default: the origin's root, storage.getDirectory()). */
  directory?: FileSystemDirectoryHandle;
  /** Read-only handles (Chromium's mode "read-only": readers coexist, a writer excludes). */
  readOnly?: boolean;
  /** Create the database file when it does not exist (default true; never when readOnly). */
  create?: boolean;
}

/**
 * Releases under way in this worker, by database name: acquire() of the name waits for
 * them, so a reopen right after db.close() does not meet its own closing handles.
 */
const pendingReleases = new Map<string, Promise<void>>();

/** One file the VFS may serve: its handle (null: no entry) and whether it "exists". */
interface Slot {
  readonly name: string;
  handle: FileSystemSyncAccessHandle | null;
  present: boolean;
  /** Bumped by delete(): files opened before it are stale. */
  generation: number;
  /** delete() was called: remove the entry at release. */
  removeAtRelease: boolean;
}

type SyncHandleMode = "readwrite" | "read-only";
type HandleFactory = (o?: { mode: SyncHandleMode }) => Promise<FileSystemSyncAccessHandle>;

function domName(e: unknown): string {
  if (typeof e === "object" && e !== null && "name" in e) {
    const name = (e as { name: unknown }).name;
    if (typeof name === "string") return name;
  }
  return "Error";
}

function why(e: unknown): string {
  return e instanceof Error ? `${e.name}: ${e.message}` : String(e);
}

/** A DOMException of an operation on `path` as a PagekvError (the DOMException as cause). */
function mapError(op: string, path: string, e: unknown): PagekvError {
  if (e instanceof PagekvError) return e;
  const name = domName(e);
  const details = { cause: e, path };
  if (name === "NotFoundError") {
    return new PagekvError(
      "ERR_NOT_FOUND",
      `OpfsVFS: cannot ${op} "${path}": no such file`,
      details,
    );
  }
  if (name === "QuotaExceededError") {
    return new PagekvError(
      "ERR_IO",
      `OpfsVFS: cannot ${op} "${path}": the origin's storage quota is exhausted (${why(e)})`,
      details,
    );
  }
  return new PagekvError("ERR_IO", `OpfsVFS: cannot ${op} "${path}": ${why(e)}`, details);
}

function lockedError(name: string, e: unknown): PagekvError {
  return new PagekvError(
    "ERR_LOCKED",
    `OpfsVFS: "${name}" is locked: another tab or worker (or another open in this worker) ` +
      "holds the database; close it there first",
    { path: name, cause: e },
  );
}

function checkName(name: unknown): asserts name is string {
  if (
    typeof name !== "string" ||
    name.length === 0 ||
    name.length > OPFS_NAME_CHARS_MAX ||
    name === "." ||
    name === ".." ||
    /[/\\\0]/.test(name)
  ) {
    throw new PagekvError(
      "ERR_ARG",
      `OpfsVFS: a database name must be 1..${OPFS_NAME_CHARS_MAX} chars without "/", "\\" ` +
        `or NUL, and not "." or "..", got ${JSON.stringify(String(name))}`,
    );
  }
}

function checkBytes(op: string, path: string, what: string, value: number): void {
  if (!Number.isSafeInteger(value) || value < 0 || value > OPFS_FILE_BYTES_MAX) {
    throw new PagekvError(
      "ERR_ARG",
      `OpfsVFS: cannot ${op} "${path}": ${what} must be an integer in ` +
        `0..${OPFS_FILE_BYTES_MAX}, got ${value}`,
      { path },
    );
  }
}

async function rootDirectory(): Promise<FileSystemDirectoryHandle> {
  const storage = (globalThis as { navigator?: { storage?: StorageManager } }).navigator?.storage;
  if (storage === undefined || typeof storage.getDirectory !== "function") {
    throw new PagekvError(
      "ERR_IO",
      "OpfsVFS: this context has no Origin Private File System (navigator.storage.getDirectory); " +
        "use a dedicated worker of a page served over https or http://localhost",
    );
  }
  try {
    return await storage.getDirectory();
  } catch (e) {
    throw mapError("open the origin's directory for", "/", e);
  }
}

/**
 * A sync access handle on `name` in `dir`, or null when the entry does not exist and
 * `create` is false. ERR_LOCKED when another context holds a handle on it.
 */
async function openHandle(
  dir: FileSystemDirectoryHandle,
  name: string,
  create: boolean,
  mode: SyncHandleMode,
  lockName: string,
): Promise<FileSystemSyncAccessHandle | null> {
  for (let attempt = 1; ; attempt++) {
    let file: FileSystemFileHandle;
    try {
      file = await dir.getFileHandle(name, { create });
    } catch (e) {
      if (domName(e) === "NotFoundError" && !create) return null;
      throw mapError("open", name, e);
    }
    const factory = file.createSyncAccessHandle as unknown as HandleFactory | undefined;
    if (typeof factory !== "function") {
      throw new PagekvError(
        "ERR_IO",
        `OpfsVFS: cannot open "${name}": no FileSystemSyncAccessHandle here (only a dedicated ` +
          "worker has createSyncAccessHandle)",
        { path: name },
      );
    }
    try {
      // Chromium reads the mode; a browser that does not takes the exclusive default.
      return await factory.call(file, { mode });
    } catch (e) {
      const n = domName(e);
      if (n === "NoModificationAllowedError" || n === "InvalidStateError") {
        throw lockedError(lockName, e);
      }
      // The entry was removed between getFileHandle and here (a closing writer removing
      // its log): look it up again.
      if (n === "NotFoundError" && attempt < ACQUIRE_TRIES_MAX) continue;
      throw mapError("open", name, e);
    }
  }
}

export class OpfsVFS implements VFS {
  /** The database's name (its entry in the directory); the lock's path. */
  readonly name: string;
  readonly readOnly: boolean;
  private readonly directory: FileSystemDirectoryHandle;
  private readonly slots = new Map<string, Slot>();
  /** Entries this VFS created at acquire (release(true) removes them again if still empty). */
  private readonly created: string[];
  private lockHeld = false;
  private releasedValue = false;
  /** writevAt's staging buffer, shared by this VFS's files; grown on demand, bounded. */
  private staging = new Uint8Array(0);
  private releasing: Promise<void> | null = null;

  private constructor(
    name: string,
    directory: FileSystemDirectoryHandle,
    readOnly: boolean,
    created: string[],
  ) {
    this.name = name;
    this.directory = directory;
    this.readOnly = readOnly;
    this.created = created;
  }

  /**
   * Open the sync access handles of database `name` (its file, then its log) so that the
   * synchronous engine can run on them. ERR_LOCKED when another tab or worker holds them,
   * ERR_ARG for a bad name, ERR_IO when there is no OPFS here.
   */
  static async acquire(name: string, options: OpfsAcquireOptions = {}): Promise<OpfsVFS> {
    checkName(name);
    const pending = pendingReleases.get(name);
    if (pending !== undefined) await pending;
    const readOnly = options.readOnly === true;
    const create = !readOnly && options.create !== false;
    const dir = options.directory ?? (await rootDirectory());
    const mode: SyncHandleMode = readOnly ? "read-only" : "readwrite";
    const walName = `${name}${OPFS_WAL_SUFFIX}`;
    const created: string[] = [];
    const existedMain = await entryExists(dir, name);
    const main = await openHandle(dir, name, create, mode, name);
    if (main !== null && !existedMain) created.push(name);
    let wal: FileSystemSyncAccessHandle | null = null;
    if (main !== null) {
      try {
        const existedWal = await entryExists(dir, walName);
        wal = await openHandle(dir, walName, !readOnly, mode, name);
        if (wal !== null && !existedWal) created.push(walName);
      } catch (e) {
        main.close();
        throw e;
      }
    }
    const vfs = new OpfsVFS(name, dir, readOnly, created);
    vfs.addSlot(name, main, main !== null);
    // An empty log is an absent one; so is an empty database file only if it has no handle.
    vfs.addSlot(walName, wal, wal !== null && sizeQuietly(wal) > 0);
    return vfs;
  }

  private addSlot(name: string, handle: FileSystemSyncAccessHandle | null, present: boolean): void {
    this.slots.set(name, { name, handle, present, generation: 0, removeAtRelease: false });
  }

  /** True once the lock was released (db.close()) or release() ran: every handle closed. */
  get released(): boolean {
    return this.releasedValue;
  }

  /** Resolves when the handles are closed and deleted entries removed (after release). */
  whenReleased(): Promise<void> {
    return this.releasing ?? Promise.resolve();
  }

  open(path: string, options: OpenOptions = {}): VFile {
    const slot = this.slotOf("open", path);
    const handle = slot.handle;
    if (handle === null) {
      if (options.create === true) {
        throw new PagekvError(
          "ERR_IO",
          `OpfsVFS: cannot create "${path}": it was not created when the database was ` +
            "acquired (a read-only or create: false open)",
          { path },
        );
      }
      throw new PagekvError("ERR_NOT_FOUND", `OpfsVFS: cannot open "${path}": no such file`, {
        path,
      });
    }
    const readOnly = options.readOnly === true || this.readOnly;
    if (!slot.present) {
      if (options.create !== true) {
        throw new PagekvError("ERR_NOT_FOUND", `OpfsVFS: cannot open "${path}": no such file`, {
          path,
        });
      }
      slot.present = true;
      slot.removeAtRelease = false;
    } else if (options.create === true && options.exclusive === true) {
      throw new PagekvError("ERR_EXISTS", `OpfsVFS: cannot create "${path}": file exists`, {
        path,
      });
    }
    return new OpfsFile(this, slot, handle, readOnly);
  }

  /** Truncate to 0 and flush (durable now: "absent"); the entry goes at release. */
  delete(path: string): void {
    const slot = this.slotOf("delete", path);
    if (slot.handle === null || !slot.present) {
      throw new PagekvError("ERR_NOT_FOUND", `OpfsVFS: cannot delete "${path}": no such file`, {
        path,
      });
    }
    if (this.readOnly) {
      throw new PagekvError("ERR_IO", `OpfsVFS: cannot delete "${path}": opened read-only`, {
        path,
      });
    }
    try {
      slot.handle.truncate(0);
      slot.handle.flush();
    } catch (e) {
      throw mapError("delete", path, e);
    }
    slot.present = false;
    slot.generation++;
    slot.removeAtRelease = true;
  }

  exists(path: string): boolean {
    this.checkOpen("look up", path);
    const slot = this.slots.get(path);
    return slot?.present === true;
  }

  /**
   * The handles taken by acquire() are the lock between contexts; this only refuses a
   * second lock through the same VFS. Releasing the lock releases the VFS: the handles
   * close (the log's first, after its removal if it was deleted), and the VFS is done.
   */
  lock(path: string, mode: LockMode = "exclusive"): VLock {
    this.checkOpen("lock", path);
    if (path !== this.name) {
      throw new PagekvError(
        "ERR_ARG",
        `OpfsVFS: cannot lock "${path}": this VFS holds the database "${this.name}"`,
        { path },
      );
    }
    if (mode === "exclusive" && this.readOnly) {
      throw lockedError(this.name, new Error("the handles were opened read-only"));
    }
    if (this.lockHeld) throw lockedError(this.name, new Error("already open through this VFS"));
    this.lockHeld = true;
    return new OpfsLock(this);
  }

  /** @internal Whether the lock taken by lock() is held. */
  get lockIsHeld(): boolean {
    return this.lockHeld && !this.releasedValue;
  }

  /** Bytes in the file `path` now (0 when absent): for stats pages. */
  sizeOf(path: string): number {
    this.checkOpen("size", path);
    const slot = this.slots.get(path);
    if (slot === undefined || slot.handle === null || !slot.present) return 0;
    return sizeQuietly(slot.handle);
  }

  /**
   * Close every handle; deleted entries (and, with `removeCreated`, entries this VFS
   * created that are still empty) are removed first, asynchronously, before the database
   * file's handle closes. Idempotent; whenReleased() tells when it is done.
   */
  release(removeCreated = false): Promise<void> {
    if (this.releasing !== null) return this.releasing;
    this.releasedValue = true;
    this.lockHeld = false;
    const main = this.slots.get(this.name);
    const toRemove: string[] = [];
    for (const slot of this.slots.values()) {
      if (slot.name === this.name || slot.handle === null) continue;
      const empty = sizeQuietly(slot.handle) === 0;
      closeQuietly(slot.handle);
      slot.handle = null;
      if ((slot.removeAtRelease || (removeCreated && this.created.includes(slot.name))) && empty)
        toRemove.push(slot.name);
    }
    const mainEmpty = main?.handle != null && sizeQuietly(main.handle) === 0;
    this.releasing = (async () => {
      for (const name of toRemove) await removeQuietly(this.directory, name);
      if (main !== undefined && main.handle !== null) {
        closeQuietly(main.handle);
        main.handle = null;
        if (removeCreated && mainEmpty && this.created.includes(this.name)) {
          await removeQuietly(this.directory, this.name);
        }
      }
    })();
    const p = this.releasing;
    pendingReleases.set(this.name, p);
    void p.finally(() => {
      if (pendingReleases.get(this.name) === p) pendingReleases.delete(this.name);
    });
    return p;
  }

  private slotOf(op: string, path: string): Slot {
    this.checkOpen(op, path);
    const slot = this.slots.get(path);
    if (slot === undefined) {
      throw new PagekvError(
        "ERR_NOT_FOUND",
        `OpfsVFS: cannot ${op} "${path}": this VFS serves only "${this.name}" and its log`,
        { path },
      );
    }
    return slot;
  }

  /** @internal A staging buffer of at least `bytes` (<= OPFS_WRITEV_STAGING_BYTES_MAX). */
  stagingOf(bytes: number): Uint8Array {
    if (this.staging.length < bytes) {
      this.staging = new Uint8Array(
        Math.min(OPFS_WRITEV_STAGING_BYTES_MAX, Math.max(bytes, this.staging.length * 2)),
      );
    }
    return this.staging;
  }

  /** @internal ERR_CLOSED once released. */
  checkOpen(op: string, path: string): void {
    if (this.releasedValue) {
      throw new PagekvError(
        "ERR_CLOSED",
        `OpfsVFS: cannot ${op} "${path}": the database "${this.name}" was closed (its handles are released)`,
        { path },
      );
    }
  }
}

async function entryExists(dir: FileSystemDirectoryHandle, name: string): Promise<boolean> {
  try {
    await dir.getFileHandle(name, { create: false });
    return true;
  } catch (e) {
    if (domName(e) === "NotFoundError") return false;
    throw mapError("look up", name, e);
  }
}

function sizeQuietly(handle: FileSystemSyncAccessHandle): number {
  try {
    return handle.getSize();
  } catch {
    return -1;
  }
}

function closeQuietly(handle: FileSystemSyncAccessHandle): void {
  try {
    handle.close();
  } catch {
    // Closing is cleanup: nothing to report.
  }
}

async function removeQuietly(dir: FileSystemDirectoryHandle, name: string): Promise<void> {
  try {
    await dir.removeEntry(name);
  } catch {
    // Gone already, or taken by another opener: an empty entry reads as absent anyway.
  }
}

/** The lock of an OpfsVFS: releasing it releases the VFS (its handles). */
class OpfsLock implements VLock {
  private readonly vfs: OpfsVFS;
  private isHeld = true;

  constructor(vfs: OpfsVFS) {
    this.vfs = vfs;
  }

  get held(): boolean {
    return this.isHeld && this.vfs.lockIsHeld;
  }

  release(): void {
    if (!this.isHeld) return;
    this.isHeld = false;
    void this.vfs.release();
  }

  /** Nothing to publish: sync access handles are exclusive, so no writer runs beside. */
  setMark(_mark: ReadMark | null): void {}

  /** None: sync access handles are exclusive, so no reader runs beside the writer. */
  readers(): ReaderState[] {
    return [];
  }
}

class OpfsFile implements VFile {
  readonly path: string;
  private readonly vfs: OpfsVFS;
  private readonly slot: Slot;
  private readonly handle: FileSystemSyncAccessHandle;
  private readonly readOnly: boolean;
  private readonly generation: number;
  private closed = false;

  constructor(vfs: OpfsVFS, slot: Slot, handle: FileSystemSyncAccessHandle, readOnly: boolean) {
    this.path = slot.name;
    this.vfs = vfs;
    this.slot = slot;
    this.handle = handle;
    this.readOnly = readOnly;
    this.generation = slot.generation;
  }

  readAt(buf: Uint8Array, offset: number): number {
    this.check("read");
    checkBytes("read", this.path, "offset", offset);
    let done = 0;
    try {
      // Each pass reads at least one byte or stops: at most buf.length passes.
      while (done < buf.length) {
        const n = this.handle.read(buf.subarray(done), { at: offset + done });
        if (n === 0) break;
        done += n;
      }
    } catch (e) {
      throw mapError("read", this.path, e);
    }
    return done;
  }

  writeAt(buf: Uint8Array, offset: number): void {
    this.checkWrite();
    checkBytes("write", this.path, "offset", offset);
    checkBytes("write", this.path, "end (offset + length)", offset + buf.length);
    this.writeAll(buf, offset);
  }

  writevAt(bufs: readonly Uint8Array[], offset: number): void {
    this.checkWrite();
    let total = 0;
    for (const b of bufs) total += b.length;
    checkBytes("write", this.path, "offset", offset);
    checkBytes("write", this.path, "end (offset + length)", offset + total);
    if (bufs.length === 1 && bufs[0] !== undefined) {
      this.writeAll(bufs[0], offset);
      return;
    }
    // Gather into the staging buffer; flush it whenever the next buffer would not fit. A
    // buffer larger than the staging bound is written on its own.
    const staging = this.vfs.stagingOf(Math.min(total, OPFS_WRITEV_STAGING_BYTES_MAX));
    let at = offset;
    let used = 0;
    for (const b of bufs) {
      if (used + b.length > staging.length && used > 0) {
        this.writeAll(staging.subarray(0, used), at);
        at += used;
        used = 0;
      }
      if (b.length > staging.length) {
        this.writeAll(b, at);
        at += b.length;
        continue;
      }
      staging.set(b, used);
      used += b.length;
    }
    if (used > 0) this.writeAll(staging.subarray(0, used), at);
  }

  sync(): void {
    this.check("sync");
    if (this.readOnly) return;
    try {
      this.handle.flush();
    } catch (e) {
      throw mapError("sync", this.path, e);
    }
  }

  /**
   * sync() now: sync access handles have no asynchronous flush, so the flush happens at
   * the call and the promise only reports it. Never throws: sync()'s error rejects it.
   */
  syncAsync(): Promise<void> {
    try {
      this.sync();
      return Promise.resolve();
    } catch (e) {
      return Promise.reject(e);
    }
  }

  truncate(size: number): void {
    this.checkWrite();
    checkBytes("truncate", this.path, "size", size);
    try {
      this.handle.truncate(size);
    } catch (e) {
      throw mapError("truncate", this.path, e);
    }
  }

  size(): number {
    this.check("size");
    try {
      return this.handle.getSize();
    } catch (e) {
      throw mapError("size", this.path, e);
    }
  }

  /** Only this view closes: the handle belongs to the VFS until its lock is released. */
  close(): void {
    this.closed = true;
  }

  private writeAll(buf: Uint8Array, offset: number): void {
    let done = 0;
    try {
      // Each pass writes at least one byte or throws: at most buf.length passes.
      while (done < buf.length) {
        const n = this.handle.write(buf.subarray(done), { at: offset + done });
        if (n <= 0) {
          throw new PagekvError(
            "ERR_IO",
            `OpfsVFS: cannot write "${this.path}": the write stopped at byte ${offset + done}`,
            { path: this.path },
          );
        }
        done += n;
      }
    } catch (e) {
      throw mapError("write", this.path, e);
    }
  }

  private checkWrite(): void {
    this.check("write");
    if (this.readOnly) {
      throw new PagekvError("ERR_IO", `OpfsVFS: cannot write "${this.path}": opened read-only`, {
        path: this.path,
      });
    }
  }

  private check(op: string): void {
    if (this.closed) {
      throw new PagekvError("ERR_CLOSED", `OpfsVFS: cannot ${op} "${this.path}": file is closed`, {
        path: this.path,
      });
    }
    this.vfs.checkOpen(op, this.path);
    if (this.generation !== this.slot.generation) {
      throw new PagekvError(
        "ERR_NOT_FOUND",
        `OpfsVFS: cannot ${op} "${this.path}": the file was deleted`,
        { path: this.path },
      );
    }
  }
}
