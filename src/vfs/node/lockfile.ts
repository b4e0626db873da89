// The writer lock behind NodeFS.lock(): a lock file `${dbPath}-lock` holding the owner's
// pid, plus this process's registry of the locks it holds. It must never block or wait,
// and never take over a lock whose owner is a live process other than this one.

import * as fs from "node:fs";
import * as path from "node:path";
import { assert, PagekvError } from "../../errors.js";
import type { VLock } from "../vfs.js";

/*
 * Why a file and not flock(2): Node has no flock. So the lock is a file created with
 * O_CREAT|O_EXCL (only one creator can win), holding the owner's pid as decimal text:
 * - no file: create it, register, held.
 * - this process's registry has the path: ERR_LOCKED (the pid in the file is ours and
 *   alive, so the file alone cannot tell two holders in one process apart).
 * - a live pid other than ours: ERR_LOCKED.
 * - a dead pid, unreadable content (empty, garbage), or our own pid with no registry
 *   entry (a leftover of an earlier process that had our pid): stale, taken over by
 *   unlinking it and retrying the exclusive create once; losing that race is ERR_LOCKED.
 * A dead process's lock is taken over at the next lock(), so no 'exit' hook is needed.
 *
 * Readers (shared locks) of other processes are seen through reader files
 * `${dbPath}-lock.r<pid>`, one per process that has the database open read-only. A reader
 * creates its file, then checks for a live writer; a writer creates the lock file, then
 * looks for live readers' files. Each creates before it checks, so of a reader and a writer
 * arriving together at least one sees the other (both may, and both back off): they never
 * both proceed. A reader file naming a dead process is removed by the next writer.
 *
 * Known limits, the price of having no flock: two processes taking over the same stale
 * file at the same instant can both win (one unlinks the other's fresh file), and a lock
 * file seen in the instant between its create and its pid write reads as empty, so
 * stale. A reused pid makes a dead owner look alive: the lock then waits for that process
 * to exit, or for the lock file to be removed by hand.
 *
 * Invariant: `heldLocks` maps each resolved database path to its one held NodeLock, and
 * holds no lock that is not held.
 */

/** The lock file of database `dbPath` is `dbPath + LOCK_FILE_SUFFIX`. */
export const LOCK_FILE_SUFFIX = "-lock";
/** A reader file is `${dbPath}${LOCK_FILE_SUFFIX}${READER_FILE_INFIX}<pid>`. */
export const READER_FILE_INFIX = ".r";
/** At most this many bytes of a lock file are read; a longer one is garbage, so stale. */
export const LOCK_FILE_BYTES_MAX = 32;
/** Largest pid believed: a bigger number is garbage, and kill() must never see it. */
const PID_MAX = 2 ** 31 - 1;

/** The locks this process holds, by path.resolve(dbPath). */
const heldLocks = new Map<string, NodeLock>();
/** Shared (reader) locks this process holds, counted by path.resolve(dbPath). */
const readers = new Map<string, number>();

function errnoCode(e: unknown): string | undefined {
  if (typeof e === "object" && e !== null && "code" in e) {
    const code = (e as { code: unknown }).code;
    if (typeof code === "string") return code;
  }
  return undefined;
}

function ioError(op: string, lockPath: string, e: unknown): PagekvError {
  const why = e instanceof Error ? e.message : String(e);
  return new PagekvError("ERR_IO", `NodeFS: cannot ${op} lock file "${lockPath}": ${why}`, {
    cause: e,
    path: lockPath,
  });
}

function lockedError(dbPath: string, lockPath: string, holder: string): PagekvError {
  return new PagekvError(
    "ERR_LOCKED",
    `NodeFS: "${dbPath}" is locked by ${holder} (lock file "${lockPath}")`,
    { path: dbPath },
  );
}

class NodeLock implements VLock {
  private readonly key: string;
  private readonly lockPath: string;
  private isHeld = true;

  constructor(key: string, lockPath: string) {
    this.key = key;
    this.lockPath = lockPath;
  }

  get held(): boolean {
    return this.isHeld;
  }

  /**
   * Idempotent. The lock is given up in this process even when the unlink fails (ERR_IO):
   * the file then names our live pid, so other processes wait until this one exits, and a
   * later lock() here takes it over as our own leftover.
   */
  release(): void {
    if (!this.isHeld) return;
    this.isHeld = false;
    assert(heldLocks.get(this.key) === this, `NodeFS: held lock of "${this.key}" unlisted`);
    heldLocks.delete(this.key);
    try {
      fs.unlinkSync(this.lockPath);
    } catch (e) {
      if (errnoCode(e) !== "ENOENT") throw ioError("remove", this.lockPath, e);
    }
  }
}

/** Create the lock file holding our pid; false if it exists. Its name is not synced. */
function createLockFile(lockPath: string): boolean {
  let fd: number;
  try {
    fd = fs.openSync(
      lockPath,
      fs.constants.O_CREAT | fs.constants.O_EXCL | fs.constants.O_WRONLY,
      0o644,
    );
  } catch (e) {
    if (errnoCode(e) === "EEXIST") return false;
    throw ioError("create", lockPath, e);
  }
  try {
    const pid = new TextEncoder().encode(String(process.pid));
    // Positional write of a few bytes to a new file: short writes do not happen here, and
    // if one did, the truncated pid would read as another (most likely dead) process.
    fs.writeSync(fd, pid, 0, pid.length, 0);
    fs.fsyncSync(fd);
  } catch (e) {
    // Leave no empty or partial lock behind: it would read as stale, but say nothing.
    closeQuietly(fd);
    unlinkQuietly(lockPath);
    throw ioError("write", lockPath, e);
  }
  try {
    fs.closeSync(fd);
  } catch (e) {
    unlinkQuietly(lockPath);
    throw ioError("close", lockPath, e);
  }
  return true;
}

function closeQuietly(fd: number): void {
  try {
    fs.closeSync(fd);
  } catch {
    // Already failing with the error that matters.
  }
}

function unlinkQuietly(lockPath: string): void {
  try {
    fs.unlinkSync(lockPath);
  } catch {
    // Already failing with the error that matters.
  }
}

/**
 * The pid the lock file names; null when its content is not a pid (empty, garbage), and
 * undefined when the file is gone (its owner released it meanwhile).
 */
function readOwnerPid(lockPath: string): number | null | undefined {
  let fd: number;
  try {
    fd = fs.openSync(lockPath, fs.constants.O_RDONLY);
  } catch (e) {
    if (errnoCode(e) === "ENOENT") return undefined;
    throw ioError("open", lockPath, e);
  }
  // One byte more than the bound, to tell "exactly the bound" from "longer".
  const buf = new Uint8Array(LOCK_FILE_BYTES_MAX + 1);
  let n: number;
  try {
    n = fs.readSync(fd, buf, 0, buf.length, 0);
  } catch (e) {
    closeQuietly(fd);
    throw ioError("read", lockPath, e);
  }
  closeQuietly(fd);
  if (n > LOCK_FILE_BYTES_MAX) return null;
  const match = /^\s*(\d{1,10})\s*$/.exec(new TextDecoder().decode(buf.subarray(0, n)));
  if (match === null) return null;
  const pid = Number(match[1]);
  // pid 0 or a negative one would make kill() signal a whole process group.
  return pid >= 1 && pid <= PID_MAX ? pid : null;
}

/** kill(pid, 0) probes without signalling: EPERM means alive but not ours to signal. */
function isAlive(pid: number, lockPath: string): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    const code = errnoCode(e);
    if (code === "ESRCH") return false;
    if (code === "EPERM") return true;
    throw ioError(`check the owner (pid ${pid}) of`, lockPath, e);
  }
}

/** The lock file path NodeFS uses for the database at `dbPath`. */
export function lockFilePath(dbPath: string): string {
  return `${dbPath}${LOCK_FILE_SUFFIX}`;
}

/** NodeFS.lock(): see the rules at the top of this file. */
export function takeLock(dbPath: string): VLock {
  if (typeof dbPath !== "string" || dbPath.length === 0) {
    throw new PagekvError("ERR_ARG", "NodeFS: cannot lock: path must be a non-empty string");
  }
  // Resolved once, so a chdir while the lock is held cannot make release() miss its file.
  const key = path.resolve(dbPath);
  const lockPath = lockFilePath(key);
  if (heldLocks.has(key)) throw lockedError(dbPath, lockPath, "this process");
  if ((readers.get(key) ?? 0) > 0) throw lockedError(dbPath, lockPath, "readers in this process");
  if (!createLockFile(lockPath)) {
    const pid = readOwnerPid(lockPath);
    if (pid !== undefined) {
      if (pid !== null && pid !== process.pid && isAlive(pid, lockPath)) {
        throw lockedError(dbPath, lockPath, `live process ${pid}`);
      }
      try {
        fs.unlinkSync(lockPath);
      } catch (e) {
        // ENOENT: another process removed the stale file first; the create decides.
        if (errnoCode(e) !== "ENOENT") throw ioError("remove stale", lockPath, e);
      }
    }
    // One retry: an EEXIST now means another process created it since we looked.
    if (!createLockFile(lockPath)) {
      throw lockedError(dbPath, lockPath, "another process that took it just now");
    }
  }
  // Now that the lock file exists, a reader arriving later sees it: look for earlier ones.
  let reader: number | null;
  try {
    reader = liveOtherReader(lockPath);
  } catch (e) {
    unlinkQuietly(lockPath);
    throw e;
  }
  if (reader !== null) {
    unlinkQuietly(lockPath);
    throw lockedError(dbPath, lockPath, `a reader, live process ${reader}`);
  }
  const lock = new NodeLock(key, lockPath);
  heldLocks.set(key, lock);
  return lock;
}

/**
 * The pid of a live process other than this one with a reader file for `lockPath`, or
 * null. Reader files of dead processes, and our own pid's when this process has no reader
 * (a leftover of an earlier process with our pid), are removed on the way.
 */
function liveOtherReader(lockPath: string): number | null {
  const dir = path.dirname(lockPath);
  const prefix = `${path.basename(lockPath)}${READER_FILE_INFIX}`;
  let names: string[];
  try {
    names = fs.readdirSync(dir);
  } catch (e) {
    throw ioError("list the readers of", lockPath, e);
  }
  const key = lockPath.slice(0, -LOCK_FILE_SUFFIX.length);
  for (const name of names) {
    if (!name.startsWith(prefix)) continue;
    const digits = name.slice(prefix.length);
    const pid = /^\d{1,10}$/.test(digits) ? Number(digits) : 0;
    const ours = pid === process.pid && (readers.get(key) ?? 0) > 0;
    if (ours) continue;
    if (pid >= 1 && pid <= PID_MAX && pid !== process.pid && isAlive(pid, lockPath)) return pid;
    unlinkQuietly(path.join(dir, name)); // stale: its reader is gone
  }
  return null;
}

function readerFilePath(lockPath: string): string {
  return `${lockPath}${READER_FILE_INFIX}${process.pid}`;
}

/**
 * A reader's lock: refused (ERR_LOCKED) while a writer holds the database, in this
 * process or in a live other one. The first reader of this process creates its reader
 * file (which writers in other processes see), the last one to release removes it.
 */
export function takeSharedLock(dbPath: string): VLock {
  if (typeof dbPath !== "string" || dbPath.length === 0) {
    throw new PagekvError("ERR_ARG", "NodeFS: cannot lock: path must be a non-empty string");
  }
  const key = path.resolve(dbPath);
  const lockPath = lockFilePath(key);
  if (heldLocks.has(key)) throw lockedError(dbPath, lockPath, "a writer in this process");
  const first = (readers.get(key) ?? 0) === 0;
  const readerFile = readerFilePath(lockPath);
  if (first) {
    try {
      fs.writeFileSync(readerFile, "");
    } catch (e) {
      throw ioError("create the reader file of", lockPath, e);
    }
  }
  // The reader file exists: a writer arriving now sees it. Look for one that came before.
  let pid: number | null | undefined;
  try {
    pid = readOwnerPid(lockPath);
    if (pid !== undefined && pid !== null && pid !== process.pid && isAlive(pid, lockPath)) {
      throw lockedError(dbPath, lockPath, `the writer, live process ${pid}`);
    }
  } catch (e) {
    if (first) unlinkQuietly(readerFile);
    throw e;
  }
  readers.set(key, (readers.get(key) ?? 0) + 1);
  let held = true;
  return {
    get held() {
      return held;
    },
    release() {
      if (!held) return;
      held = false;
      const n = (readers.get(key) ?? 1) - 1;
      if (n > 0) {
        readers.set(key, n);
        return;
      }
      readers.delete(key);
      try {
        fs.unlinkSync(readerFile);
      } catch (e) {
        // Gone already is fine; otherwise writers see a live reader until we exit.
        if (errnoCode(e) !== "ENOENT") throw ioError("remove the reader file of", lockPath, e);
      }
    },
  };
}
