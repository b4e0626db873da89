// NodeFS: the VFS over node:fs with synchronous positional I/O, plus zlib's native crc32.
// It owns mapping platform errors to PagekvError and making creates and deletes durable.
// With the other files of src/vfs/node/ (canonical names, locks), the only engine code
// allowed node:* imports; it must never buffer or reorder writes.

import * as fs from "node:fs";
import * as path from "node:path";
import * as zlib from "node:zlib";
import { PagekvError } from "../../errors.js";
import type { Crc32, FileSyncMode, LockMode, OpenOptions, VFile, VFS, VLock } from "../vfs.js";
import { canonicalName } from "./canonical.js";
import { takeLock, takeSharedLock } from "./lockfile.js";

/** Largest offset and file size accepted (1 TiB), matching MemFS: catches garbage numbers. */
export const NODEFS_FILE_BYTES_MAX = 2 ** 40;

type NativeCrc32 = (data: Uint8Array, value?: number) => number;

// zlib.crc32 exists from Node 20.15; older typings may not declare it, so look it up as
// an unknown property and narrow instead of trusting the declaration.
const nativeCrc32Candidate: unknown = (zlib as unknown as { crc32?: unknown }).crc32;
const nativeCrc32: NativeCrc32 | undefined =
  typeof nativeCrc32Candidate === "function" ? (nativeCrc32Candidate as NativeCrc32) : undefined;

function errnoCode(e: unknown): string | undefined {
  if (typeof e === "object" && e !== null && "code" in e) {
    const code = (e as { code: unknown }).code;
    if (typeof code === "string") return code;
  }
  return undefined;
}

/** ENOENT → ERR_NOT_FOUND, EEXIST → ERR_EXISTS, anything else → ERR_IO; cause kept. */
function mapError(op: string, filePath: string, e: unknown): PagekvError {
  const code = errnoCode(e);
  const why = e instanceof Error ? e.message : String(e);
  const details = { cause: e, path: filePath };
  if (code === "ENOENT") {
    return new PagekvError(
      "ERR_NOT_FOUND",
      `NodeFS: cannot ${op} "${filePath}": no such file`,
      details,
    );
  }
  if (code === "EEXIST") {
    return new PagekvError(
      "ERR_EXISTS",
      `NodeFS: cannot ${op} "${filePath}": file exists`,
      details,
    );
  }
  return new PagekvError("ERR_IO", `NodeFS: cannot ${op} "${filePath}": ${why}`, details);
}

function checkBytes(op: string, filePath: string, what: string, value: number): void {
  // A negative position means "the current file position" to node:fs: never pass one.
  if (!Number.isSafeInteger(value) || value < 0 || value > NODEFS_FILE_BYTES_MAX) {
    throw new PagekvError(
      "ERR_ARG",
      `NodeFS: cannot ${op} "${filePath}": ${what} must be an integer in ` +
        `0..${NODEFS_FILE_BYTES_MAX}, got ${value}`,
      { path: filePath },
    );
  }
}

/** Platforms (and some file systems) that refuse fsync on a directory say so this way. */
const DIR_SYNC_UNSUPPORTED = new Set(["EISDIR", "EINVAL", "EPERM"]);

/** Make a create or unlink in `dir` durable: the name lives in the directory's data. */
function syncDir(dir: string, filePath: string): void {
  let fd: number;
  try {
    fd = fs.openSync(dir, fs.constants.O_RDONLY);
  } catch (e) {
    if (DIR_SYNC_UNSUPPORTED.has(errnoCode(e) ?? "")) return;
    throw mapError("sync the directory of", filePath, e);
  }
  try {
    fs.fsyncSync(fd);
  } catch (e) {
    if (!DIR_SYNC_UNSUPPORTED.has(errnoCode(e) ?? "")) {
      throw mapError("sync the directory of", filePath, e);
    }
  } finally {
    fs.closeSync(fd);
  }
}

export class NodeFS implements VFS {
  // `declare` so there is no own property when the platform has no native crc32.
  declare readonly crc32?: Crc32;

  constructor() {
    const native = nativeCrc32;
    if (native !== undefined) {
      this.crc32 = (data: Uint8Array, initial: number): number => native(data, initial);
    }
  }

  open(filePath: string, options: OpenOptions = {}): VFile {
    const readOnly = options.readOnly === true;
    const access = readOnly ? fs.constants.O_RDONLY : fs.constants.O_RDWR;
    if (options.create === true) {
      // O_EXCL tells us whether this call made the file, and so must make its name durable.
      let fd: number | null = null;
      try {
        fd = fs.openSync(filePath, access | fs.constants.O_CREAT | fs.constants.O_EXCL, 0o644);
      } catch (e) {
        if (errnoCode(e) !== "EEXIST" || options.exclusive === true) {
          throw mapError("create", filePath, e);
        }
      }
      if (fd !== null) {
        try {
          syncDir(path.dirname(filePath), filePath);
        } catch (e) {
          fs.closeSync(fd);
          throw e;
        }
        return new NodeFile(filePath, fd);
      }
    }
    try {
      return new NodeFile(filePath, fs.openSync(filePath, access));
    } catch (e) {
      throw mapError("open", filePath, e);
    }
  }

  delete(filePath: string): void {
    try {
      fs.unlinkSync(filePath);
    } catch (e) {
      throw mapError("delete", filePath, e);
    }
    syncDir(path.dirname(filePath), filePath);
  }

  /** rename(2), then both directories synced: the new name is durable when this returns. */
  rename(from: string, to: string): void {
    try {
      fs.renameSync(from, to);
    } catch (e) {
      throw mapError("rename", from, e);
    }
    syncDir(path.dirname(to), to);
    if (path.dirname(from) !== path.dirname(to)) syncDir(path.dirname(from), from);
  }

  exists(filePath: string): boolean {
    return fs.existsSync(filePath);
  }

  /**
   * Absolute, symlinks resolved (for a new file, its directory's); ERR_LINKED for a file
   * with more than one hard link, ERR_NOT_FOUND for a missing directory. See canonical.ts.
   */
  canonical(filePath: string): string {
    return canonicalName(filePath);
  }

  /**
   * The lock is the file `${filePath}-lock` holding the owner's pid, thread and process
   * start time, reader files beside it (each with its thread's mark slots, so readers run
   * beside a writer of this version: docs/design/readers.md), and this thread's own
   * registry; a dead owner's lock file is taken over. Pass the canonical() name. Protocol
   * and limits: lockfile.ts.
   */
  lock(filePath: string, mode: LockMode = "exclusive"): VLock {
    return mode === "shared" ? takeSharedLock(filePath) : takeLock(filePath);
  }
}

class NodeFile implements VFile {
  readonly path: string;
  /** -1 once closed, so a reused descriptor number can never be touched by this handle. */
  private fd: number;
  /** syncAsync calls whose fsync/fdatasync has not called back yet. */
  private syncsInFlight = 0;
  /**
   * The descriptor close() left open because syncs were in flight (-1: none). The last of
   * them closes it: closing it earlier could let an open() elsewhere reuse the number while
   * libuv's thread pool still syncs it. Invariant: != -1 only while fd === -1 and
   * syncsInFlight > 0.
   */
  private fdClosing = -1;

  constructor(filePath: string, fd: number) {
    this.path = filePath;
    this.fd = fd;
  }

  readAt(buf: Uint8Array, offset: number): number {
    const fd = this.openFd("read");
    checkBytes("read", this.path, "offset", offset);
    let done = 0;
    try {
      // Each pass reads at least one byte or stops, so this runs at most buf.length times.
      while (done < buf.length) {
        const n = fs.readSync(fd, buf, done, buf.length - done, offset + done);
        if (n === 0) break; // end of file: a short read
        done += n;
      }
    } catch (e) {
      throw mapError("read", this.path, e);
    }
    return done;
  }

  writeAt(buf: Uint8Array, offset: number): void {
    const fd = this.openFd("write");
    checkBytes("write", this.path, "offset", offset);
    checkBytes("write", this.path, "end (offset + length)", offset + buf.length);
    this.writeAll(fd, buf, offset);
  }

  writevAt(bufs: readonly Uint8Array[], offset: number): void {
    const fd = this.openFd("write");
    let total = 0;
    for (const b of bufs) total += b.length;
    checkBytes("write", this.path, "offset", offset);
    checkBytes("write", this.path, "end (offset + length)", offset + total);
    if (total === 0) return;
    let written: number;
    try {
      written = fs.writevSync(fd, bufs, offset);
    } catch (e) {
      throw mapError("write", this.path, e);
    }
    if (written >= total) return;
    // A short writev: finish each buffer's unwritten tail with plain positional writes.
    let skip = written;
    let at = offset + written;
    for (const b of bufs) {
      if (skip >= b.length) {
        skip -= b.length;
        continue;
      }
      const rest = b.subarray(skip);
      skip = 0;
      this.writeAll(fd, rest, at);
      at += rest.length;
    }
  }

  sync(mode?: FileSyncMode): void {
    const fd = this.openFd("sync");
    try {
      if (mode === "data") fs.fdatasyncSync(fd);
      else fs.fsyncSync(fd);
    } catch (e) {
      throw mapError("sync", this.path, e);
    }
  }

  /**
   * sync() in libuv's thread pool: fs.fdatasync for "data", fs.fsync otherwise. Never
   * throws: a closed handle is a rejected ERR_CLOSED, a failed sync a rejected ERR_IO (as
   * sync() maps it). close() while it is in flight closes the descriptor when it completes.
   */
  syncAsync(mode?: FileSyncMode): Promise<void> {
    let fd: number;
    try {
      fd = this.openFd("sync");
    } catch (e) {
      return Promise.reject(e);
    }
    this.syncsInFlight++;
    return new Promise<void>((resolve, reject) => {
      let settled = false;
      const done = (e: NodeJS.ErrnoException | null): void => {
        // Exactly once per call, whether the platform called back or threw at once.
        if (settled) return;
        settled = true;
        this.syncDone();
        if (e === null || e === undefined) resolve();
        else reject(mapError("sync", this.path, e));
      };
      try {
        if (mode === "data") fs.fdatasync(fd, done);
        else fs.fsync(fd, done);
      } catch (e) {
        done(e as NodeJS.ErrnoException);
      }
    });
  }

  truncate(size: number): void {
    const fd = this.openFd("truncate");
    checkBytes("truncate", this.path, "size", size);
    try {
      fs.ftruncateSync(fd, size);
    } catch (e) {
      throw mapError("truncate", this.path, e);
    }
  }

  size(): number {
    const fd = this.openFd("size");
    try {
      return fs.fstatSync(fd).size;
    } catch (e) {
      throw mapError("stat", this.path, e);
    }
  }

  /**
   * Idempotent: a second close is a no-op, so cleanup paths cannot mask earlier errors.
   * With syncAsync calls in flight the handle is closed now (every later call is
   * ERR_CLOSED) and the descriptor when the last of them completes.
   */
  close(): void {
    const fd = this.fd;
    if (fd === -1) return;
    // Mark closed first: after a failed close(2) the descriptor is gone on Linux anyway.
    this.fd = -1;
    if (this.syncsInFlight > 0) {
      this.fdClosing = fd;
      return;
    }
    try {
      fs.closeSync(fd);
    } catch (e) {
      throw mapError("close", this.path, e);
    }
  }

  /** One syncAsync completed: close the descriptor if close() left it to the last one. */
  private syncDone(): void {
    this.syncsInFlight--;
    if (this.syncsInFlight > 0 || this.fdClosing === -1) return;
    const fd = this.fdClosing;
    this.fdClosing = -1;
    try {
      fs.closeSync(fd);
    } catch {
      // close() returned long ago and has no one left to tell; on Linux the descriptor is
      // released even when close(2) fails, so nothing leaks.
    }
  }

  private writeAll(fd: number, buf: Uint8Array, offset: number): void {
    let done = 0;
    try {
      // Each pass writes at least one byte or throws, so at most buf.length passes.
      while (done < buf.length) {
        const n = fs.writeSync(fd, buf, done, buf.length - done, offset + done);
        if (n <= 0) {
          const cause = Object.assign(new Error("write(2) made no progress"), { code: "EIO" });
          throw cause;
        }
        done += n;
      }
    } catch (e) {
      throw mapError("write", this.path, e);
    }
  }

  private openFd(op: string): number {
    if (this.fd === -1) {
      throw new PagekvError("ERR_CLOSED", `NodeFS: cannot ${op} "${this.path}": handle closed`, {
        path: this.path,
      });
    }
    return this.fd;
  }
}
