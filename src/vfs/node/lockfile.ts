// The locks behind NodeFS.lock(): a writer's lock file `${dbPath}-lock`, readers' files
// `${dbPath}-lock.r<pid>.<threadId>`, and this thread's registry of the locks it holds. It
// must never block or wait, and never take over a lock whose holder may still be alive.

import * as fs from "node:fs";
import * as path from "node:path";
import { assert, PagekvError } from "../../errors.js";
import type { ReaderState, ReadMark, VLock } from "../vfs.js";
import {
  decodeRecord,
  encodeRecord,
  liveHolder,
  type OwnerRecord,
  PID_MAX,
  self,
} from "./owner.js";

/*
 * THE LOCK PROTOCOL (the design note, with every race and what a crash leaves:
 * docs/design/locking.md; keep the two true together). Node has no flock(2), so locks are
 * files. The holder of a lock is a
 * thread: a process's main thread or one of its worker_threads, each with its own module
 * state, so threads of one process exclude each other through the files exactly as
 * processes do.
 *
 * What each side writes. A holder's record (owner.ts) is one line
 * `pid=<pid> thread=<threadId> start=<ticks> boot=<boot id>`: the start time of its
 * process (field 22 of /proc/<pid>/stat) and the boot id (/proc/sys/kernel/random/boot_id)
 * where /proc exists, omitted where it does not. A file holding just a pid (the format
 * before threads were told apart) still reads: thread, start and boot unknown.
 * - The writer creates `${dbPath}-lock` with O_CREAT|O_EXCL (only one creator can win)
 *   and writes its record into it; release() unlinks it.
 * - A reader thread creates `${dbPath}-lock.r<pid>.<threadId>` holding its record when it
 *   takes its first shared lock on the database, and unlinks it when it releases its last.
 * - Both enter the lock in this thread's registry (`heldLocks`, `readers`).
 *
 * How a record is judged (liveHolder in owner.ts). Stale: written in another boot; naming a
 * dead pid; naming a live pid whose process started at another time than recorded (the pid
 * was reused); naming this process with another start time, or with no thread (an earlier
 * process that had our pid); naming this very thread (this thread's registry is consulted
 * first, so such a file is a leftover of a failed release); unreadable (empty, garbage).
 * Live: a live pid of another process with the recorded start time (or none recorded); this
 * process and another thread: a sibling thread, which cannot be probed from here.
 *
 * The writer's lock(), in order:
 * 1. This thread's registry holds a writer or readers of the same file: ERR_LOCKED.
 * 2. Create the lock file. It exists: read the record; a live holder is ERR_LOCKED (file
 *    untouched); a stale one is unlinked and the create retried once, and an EEXIST then
 *    means another thread took it since we looked: ERR_LOCKED.
 * 3. List the reader files: a live one of another thread or process is ERR_LOCKED (our
 *    lock file is removed again); a stale one is removed on the way.
 * A reader's lock(): refused (ERR_LOCKED) if this thread holds the writer; creates its
 * reader file (first shared lock of this thread on the file); then reads the lock file: a
 * live writer is ERR_LOCKED (the new reader file is removed again). Later shared locks of
 * the thread read the lock file again, since a reader without a reader file (below) is
 * invisible to writers.
 *
 * Races. A reader and a writer arriving together: each creates its file before it looks
 * for the other's, so at least one sees the other (both may, and both back off): they
 * never both proceed. A reader reading a writer's lock file in the instant between its
 * create and its record write sees it empty, so stale, and proceeds; the writer then sees
 * the reader's file and backs off. A writer reading a reader file before its record is
 * written judges it by the pid and thread in its name: alive, so it backs off. Two
 * writers: O_EXCL lets one create; the other reads the winner's record.
 *
 * One file, whatever its name. The pager locks NodeFS.canonical(path) (absolute, symlinks
 * resolved, hard-linked files refused), so every name of a file meets at one lock file. The
 * registry also knows each lock by the device and inode of the database file (taken
 * lazily: Pager.create locks before it creates the file), so in one thread even a name the
 * realpath cannot unify (a bind mount) meets the same entry.
 *
 * Crashes and exits. A process that dies leaves its files naming a dead pid: stale, taken
 * over or removed by the next writer. A thread (or process) that ends without close()
 * releases its locks in its 'exit' event (a worker that ends by itself or calls
 * process.exit()); a worker stopped by terminate() emits none, and its locks then hold until
 * the process exits.
 *
 * Known limits, the price of having no flock: two takers of the same stale lock file at
 * the same instant can both win (one unlinks the other's fresh file), and a lock file
 * seen empty (between create and write) is stale, so another writer can take it over in
 * that instant. Where /proc is absent (macOS, the BSDs) no start time or boot id is
 * recorded: a dead holder's pid reused by a live process keeps the lock until that
 * process exits, and a leftover naming our own pid and another thread reads as a sibling
 * thread. Such a stuck lock is cleared by hand: delete `${dbPath}-lock` (and
 * `${dbPath}-lock.r*`) when no process uses the database. A reader in a directory it
 * cannot write (EACCES, EPERM, EROFS) proceeds without a reader file: it still sees a
 * writer's lock file, but a writer (one who can write the directory, another user)
 * cannot see it: such a reader is not protected from a writer that comes in while it
 * reads. A hard link made while the database is open is not noticed (canonical() checks
 * at open). Across threads and processes a bind mount meets at one lock file only when a
 * directory is the thing mounted, not the database file alone. Processes on other
 * machines, or in another pid namespace (containers sharing a directory), cannot be
 * probed: locks assume one machine and one pid namespace.
 *
 * Invariant: `heldLocks` holds exactly this thread's held writer locks, `readers` exactly
 * the databases this thread holds shared locks on (count > 0), at most one entry per file.
 */

/** The lock file of database `dbPath` is `dbPath + LOCK_FILE_SUFFIX`. */
export const LOCK_FILE_SUFFIX = "-lock";
/** A reader file is `${dbPath}${LOCK_FILE_SUFFIX}${READER_FILE_INFIX}<pid>.<threadId>`. */
export const READER_FILE_INFIX = ".r";
/**
 * At most this many bytes of a lock or reader file are read; a longer one is garbage.
 * A record is under 100 bytes (10-digit pid, 15-digit thread, 20-digit start, 36-char id).
 */
export const LOCK_FILE_BYTES_MAX = 256;

/** Directory errors that mean "this user may not create files here". */
const DIR_NOT_WRITABLE = new Set(["EACCES", "EPERM", "EROFS"]);

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

/** Device and inode of the file at `p`, or null while there is none. */
function inodeOf(p: string): string | null {
  try {
    const st = fs.statSync(p, { bigint: true });
    return `${st.dev}:${st.ino}`;
  } catch {
    return null;
  }
}

/** The names a locked database is known by in this thread's registry. */
class DbNames {
  /** path.resolve(dbPath), taken once: a chdir cannot make release() miss its files. */
  readonly resolved: string;
  /** Device and inode of the database file; null until the file exists. */
  private inode: string | null;

  constructor(dbPath: string) {
    this.resolved = path.resolve(dbPath);
    this.inode = inodeOf(this.resolved);
  }

  /** Whether `other` (just made, so its inode is current) names the same file. */
  same(other: DbNames): boolean {
    if (this.resolved === other.resolved) return true;
    // Locked before the file existed (Pager.create): it may exist now.
    if (this.inode === null) this.inode = inodeOf(this.resolved);
    return this.inode !== null && this.inode === other.inode;
  }
}

class NodeLock implements VLock {
  readonly names: DbNames;
  readonly lockPath: string;
  private isHeld = true;

  constructor(names: DbNames, lockPath: string) {
    this.names = names;
    this.lockPath = lockPath;
  }

  get held(): boolean {
    return this.isHeld && !exited;
  }

  /**
   * Idempotent. The lock is given up in this thread even when the unlink fails (ERR_IO):
   * the file then names this live thread, so others wait until the process exits, and a
   * later lock() in this thread takes it over as its own leftover.
   */
  release(): void {
    if (!this.isHeld) return;
    this.isHeld = false;
    if (exited) return;
    assert(heldLocks.has(this), `NodeFS: held lock of "${this.names.resolved}" unlisted`);
    heldLocks.delete(this);
    removeOwnFile(this.lockPath, "remove", this.lockPath);
  }

  /** TEMPORARY until issue 11's lock work lands: no reader coexists yet. */
  readers(): ReaderState[] {
    return [];
  }

  setMark(_mark: ReadMark | null): void {
    throw new PagekvError("ERR_ARG", "setMark on a writer lock");
  }
}

/**
 * Unlink a lock or reader file this thread made: gone already is fine; any other failure
 * is ERR_IO (the file then names this live thread, so others wait until the process exits).
 */
function removeOwnFile(file: string, op: string, lockPath: string): void {
  try {
    fs.unlinkSync(file);
  } catch (e) {
    if (errnoCode(e) !== "ENOENT") throw ioError(op, lockPath, e);
  }
}

/** This thread's shared locks on one database, and its reader file (null: none made). */
interface ReaderEntry {
  readonly names: DbNames;
  readonly lockPath: string;
  count: number;
  readonly file: string | null;
}

/** The writer locks this thread holds. */
const heldLocks = new Set<NodeLock>();
/** The databases this thread holds shared locks on. */
const readers = new Set<ReaderEntry>();

function heldOf(names: DbNames): NodeLock | undefined {
  for (const l of heldLocks) if (l.names.same(names)) return l;
  return undefined;
}

function readersOf(names: DbNames): ReaderEntry | undefined {
  for (const r of readers) if (r.names.same(names)) return r;
  return undefined;
}

let exitHooked = false;
/** Set in the 'exit' event, once every lock of this thread is given up: release() is then a no-op. */
let exited = false;

/**
 * Release this thread's locks when it ends without close(): the 'exit' event of a
 * process, or of a worker that ends by itself or calls process.exit() (not terminate()).
 */
function hookExit(): void {
  if (exitHooked) return;
  exitHooked = true;
  process.once("exit", () => {
    for (const l of heldLocks) unlinkQuietly(l.lockPath);
    for (const r of readers) if (r.file !== null) unlinkQuietly(r.file);
    heldLocks.clear();
    readers.clear();
    exited = true;
  });
}

/** Create a file holding this thread's record; false if `exclusive` and it exists. */
function createRecordFile(filePath: string, exclusive: boolean): boolean {
  const flags = exclusive
    ? fs.constants.O_CREAT | fs.constants.O_EXCL | fs.constants.O_WRONLY
    : fs.constants.O_CREAT | fs.constants.O_TRUNC | fs.constants.O_WRONLY;
  // Not synced: after a crash of the machine every holder is gone (another boot id).
  const fd = fs.openSync(filePath, flags, 0o644);
  try {
    const record = new TextEncoder().encode(encodeRecord(self()));
    // Positional write of a few bytes to a new file: short writes do not happen here, and
    // if one did, the truncated record would read as garbage (stale) or another process.
    fs.writeSync(fd, record, 0, record.length, 0);
  } catch (e) {
    // Leave no empty or partial file behind.
    closeQuietly(fd);
    unlinkQuietly(filePath);
    throw e;
  }
  try {
    fs.closeSync(fd);
  } catch (e) {
    unlinkQuietly(filePath);
    throw e;
  }
  return true;
}

/** Create the lock file holding our record; false if it exists. */
function createLockFile(lockPath: string): boolean {
  try {
    return createRecordFile(lockPath, true);
  } catch (e) {
    if (errnoCode(e) === "EEXIST") return false;
    throw ioError("create", lockPath, e);
  }
}

function closeQuietly(fd: number): void {
  try {
    fs.closeSync(fd);
  } catch {
    // Already failing with the error that matters.
  }
}

function unlinkQuietly(filePath: string): void {
  try {
    fs.unlinkSync(filePath);
  } catch {
    // Already failing with the error that matters, or gone.
  }
}

/**
 * The record in a lock or reader file; null when its content is not one (empty, garbage,
 * too long), and undefined when the file is gone (its holder released it meanwhile).
 */
function readRecord(filePath: string, lockPath: string): OwnerRecord | null | undefined {
  let fd: number;
  try {
    fd = fs.openSync(filePath, fs.constants.O_RDONLY);
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
  return decodeRecord(new TextDecoder().decode(buf.subarray(0, n)));
}

/** The lock file path NodeFS uses for the database at `dbPath`. */
export function lockFilePath(dbPath: string): string {
  return `${dbPath}${LOCK_FILE_SUFFIX}`;
}

function checkPath(dbPath: string): void {
  if (typeof dbPath !== "string" || dbPath.length === 0) {
    throw new PagekvError("ERR_ARG", "NodeFS: cannot lock: path must be a non-empty string");
  }
}

/** NodeFS.lock(): see the protocol at the top of this file. */
export function takeLock(dbPath: string): VLock {
  checkPath(dbPath);
  const names = new DbNames(dbPath);
  const lockPath = lockFilePath(names.resolved);
  if (heldOf(names) !== undefined) throw lockedError(dbPath, lockPath, "this thread");
  if (readersOf(names) !== undefined) throw lockedError(dbPath, lockPath, "readers in this thread");
  if (!createLockFile(lockPath)) {
    const record = readRecord(lockPath, lockPath);
    if (record !== undefined) {
      const holder = record === null ? null : liveHolder(record, lockPath);
      if (holder !== null) throw lockedError(dbPath, lockPath, holder);
      try {
        fs.unlinkSync(lockPath);
      } catch (e) {
        // ENOENT: another taker removed the stale file first; the create decides.
        if (errnoCode(e) !== "ENOENT") throw ioError("remove stale", lockPath, e);
      }
    }
    // One retry: an EEXIST now means another thread or process created it since we looked.
    if (!createLockFile(lockPath)) {
      throw lockedError(dbPath, lockPath, "another process or thread that took it just now");
    }
  }
  // Now that the lock file exists, a reader arriving later sees it: look for earlier ones.
  let reader: string | null;
  try {
    reader = liveReader(lockPath);
  } catch (e) {
    unlinkQuietly(lockPath);
    throw e;
  }
  if (reader !== null) {
    unlinkQuietly(lockPath);
    throw lockedError(dbPath, lockPath, `a reader, ${reader}`);
  }
  const lock = new NodeLock(names, lockPath);
  heldLocks.add(lock);
  hookExit();
  return lock;
}

/**
 * Who holds a live reader file of `lockPath` (the caller holds no readers of it), or
 * null. Stale reader files are removed on the way.
 */
function liveReader(lockPath: string): string | null {
  const dir = path.dirname(lockPath);
  const prefix = `${path.basename(lockPath)}${READER_FILE_INFIX}`;
  let names: string[];
  try {
    names = fs.readdirSync(dir);
  } catch (e) {
    throw ioError("list the readers of", lockPath, e);
  }
  for (const name of names) {
    if (!name.startsWith(prefix)) continue;
    const file = path.join(dir, name);
    const record = readerRecord(name.slice(prefix.length), file, lockPath);
    if (record === undefined) continue; // released meanwhile
    const holder = record === null ? null : liveHolder(record, lockPath);
    if (holder !== null) return holder;
    unlinkQuietly(file); // stale: its reader is gone
  }
  return null;
}

/**
 * The record of a reader file named `<prefix><suffix>`: `<pid>.<threadId>`, or `<pid>`
 * (the format before threads). Its content adds start time and boot id; content not yet
 * written or not matching the name leaves the name's pid and thread to decide. null: a
 * name that is not a reader's (garbage, removed); undefined: gone.
 */
function readerRecord(
  suffix: string,
  file: string,
  lockPath: string,
): OwnerRecord | null | undefined {
  const match = /^(\d{1,10})(?:\.(\d{1,15}))?$/.exec(suffix);
  if (match === null) return null;
  const pid = Number(match[1]);
  if (pid < 1 || pid > PID_MAX) return null;
  const thread = match[2] === undefined ? null : Number(match[2]);
  const content = readRecord(file, lockPath);
  if (content === undefined) return undefined;
  if (content !== null && content.pid === pid && content.thread === thread) return content;
  return { pid, thread, start: null, boot: null };
}

function readerFilePath(lockPath: string): string {
  const me = self();
  return `${lockPath}${READER_FILE_INFIX}${me.pid}.${me.thread}`;
}

/**
 * The reader file of this thread for `lockPath`, created; null when the directory is not
 * writable by this user (the reader then goes unseen by writers: see the protocol).
 */
function createReaderFile(lockPath: string): string | null {
  const file = readerFilePath(lockPath);
  try {
    createRecordFile(file, false);
  } catch (e) {
    if (DIR_NOT_WRITABLE.has(errnoCode(e) ?? "")) return null;
    throw ioError("create the reader file of", lockPath, e);
  }
  return file;
}

class SharedLock implements VLock {
  private readonly entry: ReaderEntry;
  private isHeld = true;

  constructor(entry: ReaderEntry) {
    this.entry = entry;
  }

  get held(): boolean {
    return this.isHeld && !exited;
  }

  /** Idempotent; the last shared lock of this thread on the file removes its reader file. */
  release(): void {
    if (!this.isHeld) return;
    this.isHeld = false;
    if (exited) return;
    const entry = this.entry;
    assert(readers.has(entry) && entry.count > 0, "NodeFS: shared lock unlisted");
    entry.count--;
    if (entry.count > 0) return;
    readers.delete(entry);
    if (entry.file !== null) removeOwnFile(entry.file, "remove the reader file of", entry.lockPath);
  }

  /** TEMPORARY until issue 11's lock work lands. */
  setMark(_mark: ReadMark | null): void {}

  readers(): ReaderState[] {
    throw new PagekvError("ERR_ARG", "readers() on a shared lock");
  }
}

/**
 * A reader's lock: refused (ERR_LOCKED) while a writer holds the database, in this thread
 * or a live other one. The first shared lock of this thread on the file creates its reader
 * file (which writers elsewhere see), the last one to release removes it.
 */
export function takeSharedLock(dbPath: string): VLock {
  checkPath(dbPath);
  const names = new DbNames(dbPath);
  const lockPath = lockFilePath(names.resolved);
  if (heldOf(names) !== undefined) throw lockedError(dbPath, lockPath, "a writer in this thread");
  const existing = readersOf(names);
  if (existing !== undefined) {
    // Checked again: without a reader file (a directory we cannot write) a writer of
    // another user may have come in since this thread's first shared lock.
    checkNoWriter(dbPath, lockPath);
    existing.count++;
    return new SharedLock(existing);
  }
  const file = createReaderFile(lockPath);
  // The reader file exists: a writer arriving now sees it. Look for one that came before.
  try {
    checkNoWriter(dbPath, lockPath);
  } catch (e) {
    if (file !== null) unlinkQuietly(file);
    throw e;
  }
  const entry: ReaderEntry = { names, lockPath, count: 1, file };
  readers.add(entry);
  hookExit();
  return new SharedLock(entry);
}

/** ERR_LOCKED when the lock file names a live writer (another thread or process). */
function checkNoWriter(dbPath: string, lockPath: string): void {
  const record = readRecord(lockPath, lockPath);
  const holder = record === undefined || record === null ? null : liveHolder(record, lockPath);
  if (holder !== null) throw lockedError(dbPath, lockPath, `the writer, ${holder}`);
}
