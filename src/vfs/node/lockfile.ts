// The locks behind NodeFS.lock(): a writer's lock file `${dbPath}-lock`, readers' files
// `${dbPath}-lock.r<pid>.<threadId>`, and this thread's registry of the locks it holds. It
// must never block or wait, and never take over a lock whose holder may still be alive.

import * as fs from "node:fs";
import * as path from "node:path";
import { assert, PagekvError } from "../../errors.js";
import { READER_SLOTS_MAX, type ReaderState, type ReadMark, type VLock } from "../vfs.js";
import {
  checkMark,
  decodeSlots,
  encodeSlot,
  READER_FILE_BYTES,
  readerFileImage,
  recordText,
  SLOT_BYTES,
  type SlotContent,
  slotOffset,
} from "./marks.js";
import {
  decodeRecord,
  encodeRecord,
  knowsReadMarks,
  liveHolder,
  type OwnerRecord,
  PID_MAX,
  self,
} from "./owner.js";

/*
 * THE LOCK PROTOCOL (the design notes, with every race and what a crash leaves:
 * docs/design/locking.md for the files and who is live, docs/design/readers.md for the
 * read marks; keep the three true together). Node has no flock(2), so locks are files.
 * The holder of a lock is a thread: a process's main thread or one of its worker_threads,
 * each with its own module state, so threads of one process exclude each other through the
 * files exactly as processes do.
 *
 * What each side writes. A holder's record (owner.ts) is one line
 * `pid=<pid> thread=<threadId> start=<ticks> boot=<boot id> proto=2`: the start time of its
 * process (field 22 of /proc/<pid>/stat) and the boot id (/proc/sys/kernel/random/boot_id)
 * where /proc exists, omitted where it does not, and the protocol (LOCK_PROTO). Older
 * formats still read: a file holding just a pid (before threads were told apart), and a
 * record without `proto` (before readers beside a writer): thread, start, boot or proto
 * then unknown.
 * - The writer creates `${dbPath}-lock` with O_CREAT|O_EXCL (only one creator can win)
 *   and writes its record into it; release() unlinks it.
 * - A reader thread creates `${dbPath}-lock.r<pid>.<threadId>` when it takes its first
 *   shared lock on the database: its record, padded, then READER_SLOTS_MAX mark slots, all
 *   none (marks.ts), in one write. It keeps the file open, and each shared lock (one per
 *   readOnly open) owns one slot, written with one positional write by setMark() and
 *   cleared at release (readers.md, "The files"). The last release unlinks the file.
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
 * Who excludes whom. Writers exclude writers. A writer and readers coexist when both
 * records say proto=2 (readers.md, "What a reader is"); a live holder without it (an
 * older pagekv, or a reader file whose record is not readable yet) excludes the other
 * side as before. Within one thread the writer and readers of one file still exclude each
 * other: the writer's thread reads through snapshot() instead.
 *
 * The writer's lock(), in order:
 * 1. This thread's registry holds a writer or readers of the same file: ERR_LOCKED.
 * 2. Create the lock file. It exists: read the record; a live holder is ERR_LOCKED (file
 *    untouched); a stale one is unlinked and the create retried once, and an EEXIST then
 *    means another thread took it since we looked: ERR_LOCKED.
 * 3. List the reader files: a live one without proto=2 is ERR_LOCKED (our lock file is
 *    removed again); a stale one is removed on the way; live proto=2 readers stay.
 * A reader's lock(): refused (ERR_LOCKED) if this thread holds the writer; ERR_LIMIT past
 * READER_SLOTS_MAX in this thread; creates its reader file (first shared lock of this
 * thread on the file); then reads the lock file: a live writer without proto=2 is
 * ERR_LOCKED (the new reader file is removed again), and so is any live writer for a
 * reader that could not create its file. Later shared locks of the thread read the lock
 * file again, since a reader without a reader file (below) is invisible to writers.
 * The writer's readers(): the listing of step 3, returning each live reader's slots
 * (readers.md, "How the writer reads a mark"; races F and G).
 *
 * Races. A reader and an older writer (or an older reader and a writer) arriving together:
 * each creates its file before it looks for the other's, so at least one sees the other
 * (both may, and both back off): they never both proceed. A reader reading a writer's lock
 * file in the instant between its create and its record write sees it empty, so stale, and
 * proceeds; the writer then lists the reader's file: both of this version, they coexist;
 * an older writer backs off. A writer reading a reader file before its record is written
 * judges it by the pid and thread in its name: alive and not known to be proto=2, so it
 * backs off (a spurious ERR_LOCKED beside a reader of this version, in a window of one
 * write: see locking.md). Two writers: O_EXCL lets one create; the other reads the
 * winner's record.
 *
 * One file, whatever its name. The pager locks NodeFS.canonical(path) (absolute, symlinks
 * resolved, hard-linked files refused), so every name of a file meets at one lock file. The
 * registry also knows each lock by the device and inode of the database file (taken
 * lazily: Pager.create locks before it creates the file), so in one thread even a name the
 * realpath cannot unify (a bind mount) meets the same entry.
 *
 * Crashes and exits. A process that dies leaves its files naming a dead pid: stale, taken
 * over or removed by the next writer (its marks are then ignored: readers.md, "What a
 * crash leaves"). A thread (or process) that ends without close() releases its locks in
 * its 'exit' event (a worker that ends by itself or calls process.exit()); a worker stopped
 * by terminate() emits none, and its locks (and the marks in its reader file) then hold
 * until the process exits.
 *
 * Known limits, the price of having no flock: two takers of the same stale lock file at
 * the same instant can both win (one unlinks the other's fresh file); likewise a writer
 * removing a stale reader file can remove, in that instant, a fresh one of the same name
 * (a new process that got the dead reader's pid), whose marks it then cannot see; a lock file
 * seen empty (between create and write) is stale, so another writer can take it over in
 * that instant. Where /proc is absent (macOS, the BSDs) no start time or boot id is
 * recorded: a dead holder's pid reused by a live process keeps the lock until that
 * process exits, and a leftover naming our own pid and another thread reads as a sibling
 * thread. Such a stuck lock is cleared by hand: delete `${dbPath}-lock` (and
 * `${dbPath}-lock.r*`) when no process uses the database. A reader in a directory it
 * cannot write (EACCES, EPERM, EROFS) proceeds without a reader file: it has nowhere to
 * publish its marks, so it is refused while any live writer holds the database (a hole
 * in readers.md, which assumes every reader has its file; closed here by refusing), but a
 * writer that comes in later (one who can write the directory, another user) cannot see
 * it: such a reader is not protected from that writer's checkpoints. A hard link made while the database is open is not noticed (canonical()
 * checks at open). Across threads and processes a bind mount meets at one lock file only
 * when a directory is the thing mounted, not the database file alone. Processes on other
 * machines, or in another pid namespace (containers sharing a directory), cannot be
 * probed: locks assume one machine and one pid namespace.
 *
 * Invariant: `heldLocks` holds exactly this thread's held writer locks, `readers` exactly
 * the databases this thread holds shared locks on (count > 0), at most one entry per file;
 * an entry's `slots` marks exactly the slots its held SharedLocks own (count of them =
 * count), and every other slot of its file holds none.
 */

/** The lock file of database `dbPath` is `dbPath + LOCK_FILE_SUFFIX`. */
export const LOCK_FILE_SUFFIX = "-lock";
/** A reader file is `${dbPath}${LOCK_FILE_SUFFIX}${READER_FILE_INFIX}<pid>.<threadId>`. */
export const READER_FILE_INFIX = ".r";
/**
 * A reader file is written under `${dbPath}-lock.n<pid>.<threadId>` first (not listed by
 * writers), then renamed to its name. A crash between leaves that file; the next reader of
 * the same pid and thread overwrites it.
 */
export const READER_TEMP_INFIX = ".n";
/**
 * At most this many bytes of a writer's lock file are read; a longer one is garbage. A
 * record is under 110 bytes (10-digit pid, 15-digit thread, 20-digit start, 36-char id,
 * proto). A reader file is read up to READER_FILE_BYTES (marks.ts), its record in the
 * first RECORD_BYTES (the same 256).
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

function closedError(what: string, lockPath: string): PagekvError {
  return new PagekvError("ERR_CLOSED", `NodeFS: ${what} on a released lock ("${lockPath}")`, {
    path: lockPath,
  });
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

  /**
   * The live readers and their slots, read now (readers.md, "How the writer reads a
   * mark"): stale reader files are removed and not listed, one that vanishes meanwhile is
   * skipped. ERR_CLOSED once released; ERR_IO when the directory cannot be listed.
   */
  readers(): ReaderState[] {
    if (!this.held) throw closedError("readers()", this.lockPath);
    return listReaders(this.lockPath).live;
  }

  setMark(_mark: ReadMark | null): void {
    throw new PagekvError(
      "ERR_ARG",
      `NodeFS: setMark on the writer's lock of "${this.names.resolved}": marks are a reader's`,
      { path: this.names.resolved },
    );
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

/**
 * This thread's shared locks on one database: its reader file (null: none made, the
 * directory is not writable) and the file's descriptor, open from the first shared lock to
 * the last release, and which of its slots are owned.
 */
interface ReaderEntry {
  readonly names: DbNames;
  readonly lockPath: string;
  count: number;
  readonly file: string | null;
  fd: number | null;
  /** slots[i]: slot i is owned by a held SharedLock. count of true = count. */
  readonly slots: boolean[];
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
    for (const r of readers) {
      if (r.fd !== null) closeQuietly(r.fd);
      if (r.file !== null) unlinkQuietly(r.file);
    }
    heldLocks.clear();
    readers.clear();
    exited = true;
  });
}

/**
 * Create a file and write `content` into it with one positional write (with `exclusive`,
 * an existing file is the platform's EEXIST). Returns its descriptor, open for writing,
 * when `keep`; else closes it and returns null. Leaves no empty or partial file behind
 * when it fails.
 */
function createFile(
  filePath: string,
  content: Uint8Array,
  exclusive: boolean,
  keep: boolean,
): number | null {
  const flags = exclusive
    ? fs.constants.O_CREAT | fs.constants.O_EXCL | fs.constants.O_WRONLY
    : fs.constants.O_CREAT | fs.constants.O_TRUNC | fs.constants.O_WRONLY;
  // Not synced: after a crash of the machine every holder is gone (another boot id).
  const fd = fs.openSync(filePath, flags, 0o644);
  try {
    // One positional write to a new file: short writes do not happen here, and if one
    // did, the truncated content reads as garbage (stale) or missing slots ("unknown").
    const n = fs.writeSync(fd, content, 0, content.length, 0);
    if (n !== content.length) {
      throw new Error(`short write: ${n} of ${content.length} bytes`);
    }
  } catch (e) {
    closeQuietly(fd);
    unlinkQuietly(filePath);
    throw e;
  }
  if (keep) return fd;
  try {
    fs.closeSync(fd);
  } catch (e) {
    unlinkQuietly(filePath);
    throw e;
  }
  return null;
}

/** Create the lock file holding our record; false if it exists. */
function createLockFile(lockPath: string): boolean {
  try {
    createFile(lockPath, new TextEncoder().encode(encodeRecord(self())), true, false);
    return true;
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
 * Up to `max` bytes of a file from offset 0, with one read: the buffer and how many bytes
 * it holds; undefined when the file is gone (its holder released it meanwhile).
 */
function readHead(
  filePath: string,
  lockPath: string,
  max: number,
): { bytes: Uint8Array; length: number } | undefined {
  let fd: number;
  try {
    fd = fs.openSync(filePath, fs.constants.O_RDONLY);
  } catch (e) {
    if (errnoCode(e) === "ENOENT") return undefined;
    throw ioError("open", lockPath, e);
  }
  const bytes = new Uint8Array(max);
  let length: number;
  try {
    length = fs.readSync(fd, bytes, 0, bytes.length, 0);
  } catch (e) {
    closeQuietly(fd);
    throw ioError("read", lockPath, e);
  }
  closeQuietly(fd);
  return { bytes, length };
}

/**
 * The record in the writer's lock file; null when its content is not one (empty,
 * garbage, too long), and undefined when the file is gone.
 */
function readRecord(filePath: string, lockPath: string): OwnerRecord | null | undefined {
  // One byte more than the bound, to tell "exactly the bound" from "longer".
  const head = readHead(filePath, lockPath, LOCK_FILE_BYTES_MAX + 1);
  if (head === undefined) return undefined;
  if (head.length > LOCK_FILE_BYTES_MAX) return null;
  return decodeRecord(new TextDecoder().decode(head.bytes.subarray(0, head.length)));
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
  // Readers of this version stay (readers.md, "What a reader is"); an older one excludes us.
  let legacy: string | null;
  try {
    legacy = listReaders(lockPath).legacy;
  } catch (e) {
    unlinkQuietly(lockPath);
    throw e;
  }
  if (legacy !== null) {
    unlinkQuietly(lockPath);
    throw lockedError(
      dbPath,
      lockPath,
      `a reader, ${legacy}, that does not know the read-mark protocol (no proto=2 in its file)`,
    );
  }
  const lock = new NodeLock(names, lockPath);
  heldLocks.add(lock);
  hookExit();
  return lock;
}

/**
 * The reader files of `lockPath` (the caller holds no readers of it), read once each:
 * `live`, every live reader with its slots; `legacy`, who holds the first live one that
 * does not say proto=2 (null: none). Stale files are removed on the way; one that vanishes
 * meanwhile (released) is skipped.
 *
 * A live file whose record does not say proto=2 (an older pagekv's, or one whose record is
 * not readable: garbage, or not written yet) is listed with marks ["unknown"], which holds
 * everything (readers.md, "How the writer reads a mark": "a reader file whose slots cannot
 * be read: 0"). A proto=2 file's slot whose bytes are missing or do not verify is
 * "unknown" (races F and G).
 */
function listReaders(lockPath: string): { live: ReaderState[]; legacy: string | null } {
  const dir = path.dirname(lockPath);
  const prefix = `${path.basename(lockPath)}${READER_FILE_INFIX}`;
  let names: string[];
  try {
    names = fs.readdirSync(dir);
  } catch (e) {
    throw ioError("list the readers of", lockPath, e);
  }
  const live: ReaderState[] = [];
  let legacy: string | null = null;
  for (const name of names) {
    if (!name.startsWith(prefix)) continue;
    const file = path.join(dir, name);
    const found = readReaderFile(name.slice(prefix.length), file, lockPath);
    if (found === undefined) continue; // released meanwhile
    const holder = found === null ? null : liveHolder(found.record, lockPath);
    if (found === null || holder === null) {
      unlinkQuietly(file); // stale: its reader is gone
      continue;
    }
    live.push({ pid: found.record.pid, thread: found.record.thread ?? 0, marks: found.marks });
    if (found.marks === LEGACY_MARKS && legacy === null) legacy = holder;
  }
  return { live, legacy };
}

/** The marks a reader without readable proto=2 slots is listed with: it holds everything. */
const LEGACY_MARKS: readonly SlotContent[] = Object.freeze(["unknown"]);

/**
 * A reader file named `<prefix><suffix>`, read with one read: its record and its slots.
 * The suffix is `<pid>.<threadId>`, or `<pid>` (the format before threads). The content
 * adds start time, boot id and proto; content not yet written or not matching the name
 * leaves the name's pid and thread to decide, with LEGACY_MARKS. null: a name that is not
 * a reader's (garbage, removed); undefined: gone.
 */
function readReaderFile(
  suffix: string,
  file: string,
  lockPath: string,
): { record: OwnerRecord; marks: readonly SlotContent[] } | null | undefined {
  const match = /^(\d{1,10})(?:\.(\d{1,15}))?$/.exec(suffix);
  if (match === null) return null;
  const pid = Number(match[1]);
  if (pid < 1 || pid > PID_MAX) return null;
  const thread = match[2] === undefined ? null : Number(match[2]);
  const head = readHead(file, lockPath, READER_FILE_BYTES);
  if (head === undefined) return undefined;
  const content = decodeRecord(recordText(head.bytes, head.length));
  if (content !== null && content.pid === pid && content.thread === thread) {
    const marks = knowsReadMarks(content) ? decodeSlots(head.bytes, head.length) : LEGACY_MARKS;
    return { record: content, marks };
  }
  return { record: { pid, thread, start: null, boot: null, proto: null }, marks: LEGACY_MARKS };
}

function readerFilePath(lockPath: string): string {
  const me = self();
  return `${lockPath}${READER_FILE_INFIX}${me.pid}.${me.thread}`;
}

/**
 * This thread's reader file for `lockPath`, created holding our record and every slot
 * none, in one write, and left open: its path and descriptor. null when the directory is
 * not writable by this user (the reader then goes unseen by writers: see the protocol).
 */
function createReaderFile(lockPath: string): { file: string; fd: number } | null {
  const file = readerFilePath(lockPath);
  // Written whole under a name no writer lists, then renamed into place: a writer's listing
  // never sees it empty or half written (race F), which it would take for a reader of an
  // older pagekv (no proto=2) and refuse to open beside.
  const temp = `${lockPath}${READER_TEMP_INFIX}${file.slice(lockPath.length + READER_FILE_INFIX.length)}`;
  let fd: number | null;
  try {
    fd = createFile(temp, readerFileImage(encodeRecord(self())), false, true);
  } catch (e) {
    if (DIR_NOT_WRITABLE.has(errnoCode(e) ?? "")) return null;
    throw ioError("create the reader file of", lockPath, e);
  }
  assert(fd !== null, "NodeFS: a kept reader file has no descriptor");
  try {
    fs.renameSync(temp, file);
  } catch (e) {
    closeQuietly(fd);
    unlinkQuietly(temp);
    if (DIR_NOT_WRITABLE.has(errnoCode(e) ?? "")) return null;
    throw ioError("create the reader file of", lockPath, e);
  }
  return { file, fd };
}

/**
 * Write slot `index` of `entry`'s reader file with one positional write of SLOT_BYTES
 * (readers.md, race G: a writer reading it meanwhile sees a CRC that does not match).
 * A reader without a file (a directory it cannot write) has no slots to write.
 */
function writeSlot(entry: ReaderEntry, index: number, mark: ReadMark | null): void {
  if (entry.fd === null || entry.file === null) return;
  const slot = new Uint8Array(SLOT_BYTES);
  encodeSlot(mark, index, slot, 0);
  let n: number;
  try {
    n = fs.writeSync(entry.fd, slot, 0, SLOT_BYTES, slotOffset(index));
  } catch (e) {
    throw ioError(`write mark slot ${index} of reader file "${entry.file}" of`, entry.lockPath, e);
  }
  if (n !== SLOT_BYTES) {
    throw ioError(
      `write mark slot ${index} of reader file "${entry.file}" of`,
      entry.lockPath,
      new Error(`short write: ${n} of ${SLOT_BYTES} bytes`),
    );
  }
}

class SharedLock implements VLock {
  private readonly entry: ReaderEntry;
  /** The slot of the entry's reader file this lock owns. */
  private readonly slot: number;
  private isHeld = true;

  constructor(entry: ReaderEntry, slot: number) {
    this.entry = entry;
    this.slot = slot;
  }

  get held(): boolean {
    return this.isHeld && !exited;
  }

  /**
   * Idempotent. Clears this lock's slot (none), then, for the last shared lock of this
   * thread on the file, closes and removes the reader file. The lock is given up even when
   * a write or the unlink fails (ERR_IO, thrown after): a slot that could not be cleared
   * holds the log until the file goes.
   */
  release(): void {
    if (!this.isHeld) return;
    this.isHeld = false;
    if (exited) return;
    const entry = this.entry;
    assert(readers.has(entry) && entry.count > 0, "NodeFS: shared lock unlisted");
    assert(entry.slots[this.slot] === true, "NodeFS: a shared lock's slot is not owned");
    entry.slots[this.slot] = false;
    entry.count--;
    let failure: unknown = null;
    // Cleared even before the file is removed: if the unlink fails, the file stays, and
    // must not keep holding the log with this lock's last mark.
    try {
      writeSlot(entry, this.slot, null);
    } catch (e) {
      failure = e;
    }
    if (entry.count === 0) {
      readers.delete(entry);
      if (entry.fd !== null) {
        const fd = entry.fd;
        entry.fd = null;
        try {
          fs.closeSync(fd);
        } catch (e) {
          failure ??= ioError("close the reader file of", entry.lockPath, e);
        }
      }
      if (entry.file !== null) {
        try {
          removeOwnFile(entry.file, "remove the reader file of", entry.lockPath);
        } catch (e) {
          failure ??= e;
        }
      }
    }
    if (failure !== null) throw failure;
  }

  /**
   * Publish this open's mark in its slot, with one positional write (readers.md, "The
   * files"): when this returns, a writer's next readers() reads it. ERR_ARG for a value
   * that is not a mark, ERR_CLOSED once released, ERR_IO when the write fails.
   */
  setMark(mark: ReadMark | null): void {
    checkMark(mark, `"${this.entry.names.resolved}"`);
    if (!this.isHeld) throw closedError("setMark", this.entry.lockPath);
    if (exited) return; // the thread is ending: its reader file is gone already
    writeSlot(this.entry, this.slot, mark);
  }

  readers(): ReaderState[] {
    throw new PagekvError(
      "ERR_ARG",
      `NodeFS: readers() on a reader's lock of "${this.entry.names.resolved}": only the writer lists them`,
      { path: this.entry.names.resolved },
    );
  }

  /** The lock file names a live writer now (judged as lock() judges it: liveHolder). */
  writerAlive(): boolean {
    if (!this.isHeld) throw closedError("writerAlive", this.entry.lockPath);
    const record = readRecord(this.entry.lockPath, this.entry.lockPath);
    if (record === undefined || record === null) return false;
    return liveHolder(record, this.entry.lockPath) !== null;
  }
}

/**
 * A reader's lock: refused (ERR_LOCKED) while this thread holds the writer, or while a live
 * writer that does not know the read-mark protocol holds it; ERR_LIMIT past
 * READER_SLOTS_MAX of this thread on the file. The first shared lock of this thread on the
 * file creates its reader file (which writers see), the last one to release removes it;
 * each owns one slot in it.
 */
export function takeSharedLock(dbPath: string): VLock {
  checkPath(dbPath);
  const names = new DbNames(dbPath);
  const lockPath = lockFilePath(names.resolved);
  if (heldOf(names) !== undefined) throw lockedError(dbPath, lockPath, "a writer in this thread");
  const existing = readersOf(names);
  if (existing !== undefined) {
    const slot = existing.slots.indexOf(false);
    if (slot < 0) {
      throw new PagekvError(
        "ERR_LIMIT",
        `NodeFS: "${dbPath}": this thread already holds ${READER_SLOTS_MAX} read-only opens ` +
          `of it (READER_SLOTS_MAX, one mark slot each); close one first`,
        { path: dbPath },
      );
    }
    // Checked again: without a reader file (a directory we cannot write) a writer of
    // another user may have come in since this thread's first shared lock.
    checkWriter(dbPath, lockPath, existing.file !== null);
    existing.slots[slot] = true;
    existing.count++;
    return new SharedLock(existing, slot);
  }
  const created = createReaderFile(lockPath);
  // The reader file exists: a writer arriving now sees it. Look for one that came before.
  try {
    checkWriter(dbPath, lockPath, created !== null);
  } catch (e) {
    if (created !== null) {
      closeQuietly(created.fd);
      unlinkQuietly(created.file);
    }
    throw e;
  }
  const slots = new Array<boolean>(READER_SLOTS_MAX).fill(false);
  slots[0] = true;
  const entry: ReaderEntry = {
    names,
    lockPath,
    count: 1,
    file: created?.file ?? null,
    fd: created?.fd ?? null,
    slots,
  };
  readers.add(entry);
  hookExit();
  return new SharedLock(entry, 0);
}

/**
 * ERR_LOCKED when the lock file names a live writer (another thread or process) that does
 * not say proto=2; a writer of this version is a reader's neighbour (readers.md), but only
 * for a reader with a reader file (`published`): one without (a directory it cannot write)
 * has nowhere to publish its marks, and the writer's checkpoints would not wait for it.
 * readers.md does not cover that case; refusing it is this file's choice (locking.md,
 * "Known limits").
 */
function checkWriter(dbPath: string, lockPath: string, published: boolean): void {
  const record = readRecord(lockPath, lockPath);
  if (record === undefined || record === null) return;
  if (published && knowsReadMarks(record)) return;
  const holder = liveHolder(record, lockPath);
  if (holder === null) return;
  throw lockedError(
    dbPath,
    lockPath,
    published
      ? `the writer, ${holder}, which does not know the read-mark protocol (no proto=2 in its lock file)`
      : `the writer, ${holder}: this reader cannot create its reader file, so it has nowhere to publish its read marks`,
  );
}
