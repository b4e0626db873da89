// MemFS: the in-memory VFS that crash and fault tests run on. It owns one simulated
// machine: each file's current bytes (what reads see), its durable bytes (what survives
// power loss) and the mutations in between, and the processes sharing them, each with its
// own handles, locks and read marks. Platform neutral: it must never import node:* or use
// Buffer.

import { assert, PagekvError } from "../errors.js";
import { Prng } from "./prng.js";
import {
  type Crc32,
  type FileSyncMode,
  type LockMode,
  type OpenOptions,
  READER_SLOTS_MAX,
  type ReaderState,
  type ReadMark,
  type VFile,
  type VFS,
  type VLock,
} from "./vfs.js";

/*
 * Processes. One `new MemFS()` is one simulated machine (its device, its files, its lock
 * table) and the first process on it; `fs.process()` starts another process on the same
 * machine and returns its handle, another MemFS. Processes share the files and the page
 * cache (every byte written and not yet synced is seen by all, and stays unsynced until a
 * sync by any of them), and each has its own file handles and locks, as real processes do.
 * Each has a pid (1, 2, ... in the order started), reported by the writer's readers().
 *   - proc.kill() is SIGKILL of that one process: its handles close, its locks end, its read
 *     marks vanish from readers() at once (a killed reader's stale file, as a writer's next
 *     listing removes it: docs/design/readers.md, "What a crash leaves"). Files keep every
 *     write it made: the page cache survives a process death. A killed handle stays dead:
 *     its calls are ERR_CLOSED, except the machine's own (below).
 *   - proc.armKill(n) kills it at a file-operation boundary: just before the machine's
 *     (n+1)th mutating call from now; the crash harness kills a writer (or a reader) at
 *     every write and sync that way.
 *   - crash() on any handle is power loss for the whole machine: every process dies (its
 *     handles close, its locks end), and unsynced writes are dropped or torn. Each handle
 *     not killed stays usable afterwards, as its program started again after the boot with
 *     nothing open; a killed one stays dead.
 *   - The machine's own calls work from any handle, killed or not, and see the whole
 *     machine: process(), crash(), armCrash(), injectFault(), opCount, callCount() and the
 *     inspections (fileNames, durableSize, readDurable, pendingBytes, readersOf). There is
 *     no unlimited supply of processes: MEMFS_PROCESSES_MAX alive at once.
 *
 * Locks (docs/design/readers.md, "What a reader is"; docs/design/locking.md). A holder is a
 * process (MemFS has no threads: `thread` is always 0).
 *   - Exclusive excludes exclusive across every process of the machine (ERR_LOCKED).
 *   - Shared locks coexist with each other and with an exclusive lock held by another
 *     process. Within one process: a process holding the writer gets ERR_LOCKED for shared,
 *     and a process holding shared locks gets ERR_LOCKED for exclusive (locking.md, step 1).
 *   - At most READER_SLOTS_MAX shared locks per process and path, then ERR_LIMIT
 *     (readers.md, "Bounds"). Each shared lock is one mark slot: setMark() publishes it and
 *     the writer's readers() sees it when setMark returns (no tearing unless a test asks
 *     for it with tearMark(): race G). A new slot reads null (none: race F).
 *
 * Invariants kept by this file:
 * - The file namespace (the Map) is always durable: create and delete take effect on disk
 *   at once, as NodeFS makes them durable by syncing the parent directory.
 * - node.durable + node.pending replayed in order === node.current, except after a failed
 *   sync, which drops pending mutations that stay in current (Linux fsyncgate).
 * - Pending mutations leave node.pending only from the front (node.makeDurable,
 *   node.dropPending), and node.pendingFirst counts every one that left: so a mutation's
 *   sequence number (pendingFirst + its index) never changes while it is pending, which
 *   is what lets a syncAsync completion find exactly the mutations made before its call.
 * - A syncAsync completion is one mutating call, run in a later macrotask: it is the only
 *   MemFS file operation that happens outside the call that asked for it.
 * - sync() and crash replay cost O(bytes pending), never O(file size): pending writes are
 *   private copies applied in place to a growable durable image.
 * - Once `crashed`, every file, lock and mark call of every process, and process(), throws
 *   ERR_CRASHED until crash(); close(), VLock.release(), kill(), tearMark() and the test
 *   controls and inspections (crash, armCrash, injectFault, opCount, ...) do not.
 * - A handle whose epoch is older than the device epoch was opened before a crash: closed.
 *   A handle of a killed process is closed.
 * - `machine.locks` maps a path to its PathLocks only while that path has a held lock: no
 *   entry is empty and none lists a lock that is not held. Each held lock is also in its
 *   process's `locks`, and in no other process's; a killed process holds none.
 * - Locks are not files: lock(), release(), setMark(), readers(), tearMark(), kill() and
 *   armKill() never count in opCount nor fire armCrash.
 * - An armed kill fires only at a mutating call's gate, after the armed crash's check: a
 *   call is never half done by a kill, as it is never half done by an armed crash.
 */

/** Largest file size, offset and write length accepted (1 TiB): catches garbage numbers. */
export const MEMFS_FILE_BYTES_MAX = 2 ** 40;
/** Torn writes split at absolute multiples of this: the atomic unit of a disk write. */
export const MEMFS_SECTOR_BYTES = 512;
/** At most this many faults can be queued by injectFault. */
export const MEMFS_FAULTS_MAX = 64;
/** injectFault's `nth` may be at most this. */
export const MEMFS_FAULT_NTH_MAX = 2 ** 31;
/** Paths are opaque keys; this only bounds their length. */
export const MEMFS_PATH_CHARS_MAX = 4096;
/** Processes alive at once on one machine (process() past it is ERR_LIMIT). */
export const MEMFS_PROCESSES_MAX = 256;
/** A mark's generation and bound are u32s, as the log stores them (wal-format.ts). */
const MARK_FIELD_MAX = 0xffff_ffff;

const CAPACITY_BYTES_MIN = 64;

export type FaultOp = "read" | "write" | "sync";
export type FaultCode = "EIO" | "ENOSPC";

export interface MemFSOptions {
  /** A native CRC-32 to expose as `crc32`; absent by default so the engine uses its own. */
  crc32?: Crc32;
}

export interface CrashOptions {
  /**
   * Without a seed every unsynced mutation is lost. With one, each pending write survives,
   * is lost or is torn at sector boundaries, chosen by a PRNG seeded with it (replayable).
   */
  seed?: number;
}

type IoCause = Error & { code: string };

/** An Error shaped like a platform error (with `code`), for ERR_IO's `cause`. */
function ioCause(code: string, message: string): IoCause {
  return Object.assign(new Error(`${code}: ${message}`), { code });
}

function checkPath(op: string, path: string): void {
  if (typeof path !== "string" || path.length === 0 || path.length > MEMFS_PATH_CHARS_MAX) {
    throw new PagekvError(
      "ERR_ARG",
      `MemFS: cannot ${op}: path must be a string of 1..${MEMFS_PATH_CHARS_MAX} chars`,
    );
  }
}

function checkBytes(op: string, path: string, what: string, value: number): void {
  if (!Number.isSafeInteger(value) || value < 0 || value > MEMFS_FILE_BYTES_MAX) {
    throw new PagekvError(
      "ERR_ARG",
      `MemFS: cannot ${op} "${path}": ${what} must be an integer in ` +
        `0..${MEMFS_FILE_BYTES_MAX}, got ${value}`,
      { path },
    );
  }
}

function checkBuffer(op: string, path: string, buf: unknown): void {
  if (!(buf instanceof Uint8Array)) {
    throw new PagekvError("ERR_ARG", `MemFS: cannot ${op} "${path}": buffer is not a Uint8Array`, {
      path,
    });
  }
}

/**
 * A file image: `length` bytes are the file, the rest of `bytes` is spare capacity with
 * arbitrary contents. Capacity doubles, so appends are amortised O(bytes written).
 */
class ByteImage {
  bytes: Uint8Array;
  length: number;

  constructor(bytes: Uint8Array, length: number) {
    this.bytes = bytes;
    this.length = length;
  }

  static empty(): ByteImage {
    return new ByteImage(new Uint8Array(0), 0);
  }

  clone(): ByteImage {
    return new ByteImage(this.bytes.slice(0, this.length), this.length);
  }

  read(dst: Uint8Array, offset: number): number {
    if (offset >= this.length) return 0;
    const n = Math.min(dst.length, this.length - offset);
    dst.set(this.bytes.subarray(offset, offset + n));
    return n;
  }

  write(src: Uint8Array, offset: number): void {
    const end = offset + src.length;
    if (end > this.length) {
      this.reserve(end);
      // Spare capacity may hold bytes cut by an earlier shrink: a gap must read as zeros.
      if (offset > this.length) this.bytes.fill(0, this.length, offset);
      this.length = end;
    }
    this.bytes.set(src, offset);
  }

  resize(size: number): void {
    if (size > this.length) {
      this.reserve(size);
      this.bytes.fill(0, this.length, size);
    }
    this.length = size;
  }

  private reserve(needed: number): void {
    if (needed <= this.bytes.length) return;
    const doubled = Math.min(
      Math.max(needed, this.bytes.length * 2, CAPACITY_BYTES_MIN),
      MEMFS_FILE_BYTES_MAX,
    );
    let grown: Uint8Array;
    try {
      grown = new Uint8Array(doubled);
    } catch {
      // Doubling may overshoot what the heap can give; the exact size may still fit.
      try {
        grown = new Uint8Array(needed);
      } catch (e) {
        throw new PagekvError("ERR_IO", `MemFS: cannot grow a file to ${needed} bytes`, {
          cause: Object.assign(ioCause("ENOSPC", "out of memory"), { cause: e }),
        });
      }
    }
    grown.set(this.bytes.subarray(0, this.length));
    this.bytes = grown;
  }
}

/** A mutation made since the file's last successful sync; `data` is a private copy. */
type PendingOp =
  | { readonly kind: "write"; readonly offset: number; readonly data: Uint8Array }
  | { readonly kind: "truncate"; readonly size: number };

class FileNode {
  current = ByteImage.empty();
  durable = ByteImage.empty();
  pending: PendingOp[] = [];
  /** Sum of pending write lengths, kept so pendingBytes() is O(1). */
  pendingBytes = 0;
  /**
   * The sequence number of pending[0]: mutations are numbered 0, 1, ... in the order made,
   * so `pendingFirst + pending.length` is the number of the next one. A syncAsync records
   * that number at its call and, at its completion, makes durable only the mutations
   * numbered below it that are still pending (a sync, a failed sync or a crash in between
   * removed the others from the front).
   */
  pendingFirst = 0;

  /** The sequence number the next mutation will get. */
  get pendingEnd(): number {
    return this.pendingFirst + this.pending.length;
  }

  /** Apply the first `count` pending mutations to `durable`, in order, and remove them. */
  makeDurable(count: number): void {
    assert(
      Number.isSafeInteger(count) && count >= 0 && count <= this.pending.length,
      `MemFS: makeDurable(${count}) with ${this.pending.length} pending`,
    );
    if (count === this.pending.length) {
      for (const op of this.pending) this.applyDurable(op);
      this.dropPending();
      return;
    }
    let bytes = 0;
    for (let i = 0; i < count; i++) {
      const op = this.pending[i];
      this.applyDurable(op);
      if (op.kind === "write") bytes += op.data.length;
    }
    this.pending.splice(0, count);
    this.pendingFirst += count;
    this.pendingBytes -= bytes;
  }

  /** Forget every pending mutation (synced, lost or fsyncgate): they stay in `current`. */
  dropPending(): void {
    this.pendingFirst += this.pending.length;
    this.pending = [];
    this.pendingBytes = 0;
  }

  private applyDurable(op: PendingOp): void {
    if (op.kind === "write") this.durable.write(op.data, op.offset);
    else this.durable.resize(op.size);
  }
}

type Later = (fn: () => void) => unknown;

/**
 * A later macrotask: setImmediate where the platform has it (Node, Bun, Deno), else a
 * zero timeout. Looked up, not imported, so this file stays platform neutral.
 */
const later: Later = (() => {
  const g = globalThis as { setImmediate?: unknown };
  if (typeof g.setImmediate === "function") {
    const immediate = g.setImmediate as Later;
    return (fn: () => void) => immediate(fn);
  }
  return (fn: () => void) => setTimeout(fn, 0);
})();

interface QueuedFault {
  readonly op: FaultOp;
  /** Fires on the call whose per-op count reaches this. */
  readonly callNumber: number;
  readonly code: FaultCode;
  /** A write that reaches the file and still reports the error (EIO after the fact). */
  readonly landed: boolean;
}

/**
 * The simulated machine under the files: power state, armed crash, fault queue and call
 * counters. Shared by MemFS and its handles, kept out of MemFS's public surface.
 */
class Device {
  /** Bumped by crash(); handles from an older epoch are closed. */
  epoch = 0;
  crashed = false;
  /** Mutating calls still allowed before the armed crash; null when not armed. */
  crashAfterOps: number | null = null;
  mutatingOps = 0;
  /** Armed kills (armKill), at most one per process: each counts down like crashAfterOps. */
  kills: { readonly proc: ProcessState; afterOps: number }[] = [];
  readonly callCounts: Record<FaultOp, number> = { read: 0, write: 0, sync: 0 };
  faults: QueuedFault[] = [];

  /** Throws ERR_CRASHED once an armed crash has happened. */
  checkAlive(op: string, path: string): void {
    if (this.crashed) throw crashedError(op, path);
  }

  /**
   * Every mutating call passes here after its arguments are checked and before it acts:
   * it fires the armed crash (the call then has no effect), then the armed kills that are
   * due (the call has no effect if its own process is one), or counts the call.
   */
  gateMutation(op: string, path: string, caller: ProcessState): void {
    if (this.crashAfterOps === 0) {
      this.crashAfterOps = null;
      this.crashed = true;
      throw crashedError(op, path);
    }
    if (this.kills.length > 0) {
      const due = this.kills.filter((k) => k.afterOps === 0);
      if (due.length > 0) {
        this.kills = this.kills.filter((k) => k.afterOps !== 0);
        for (const k of due) k.proc.kill();
      }
      if (caller.killed) throw killedError(op, path, caller.pid);
      for (const k of this.kills) k.afterOps--;
    }
    if (this.crashAfterOps !== null) this.crashAfterOps--;
    this.mutatingOps++;
  }

  /** Arm (or re-arm) the kill of `proc` after `afterOps` more mutating calls. */
  armKill(proc: ProcessState, afterOps: number): void {
    this.disarmKill(proc);
    this.kills.push({ proc, afterOps });
  }

  disarmKill(proc: ProcessState): void {
    this.kills = this.kills.filter((k) => k.proc !== proc);
  }

  /**
   * Counts a read/write/sync call and throws its queued fault, if this is its call; a
   * landed fault is returned instead, for the write to throw once it has been applied.
   */
  takeFault(op: FaultOp, path: string): PagekvError | null {
    const callNumber = ++this.callCounts[op];
    if (this.faults.length === 0) return null;
    let hit: QueuedFault | null = null;
    const kept: QueuedFault[] = [];
    for (const f of this.faults) {
      // Two faults aimed at the same call both fire on it; the first queued names the code.
      if (f.op === op && f.callNumber === callNumber) hit ??= f;
      else kept.push(f);
    }
    if (hit === null) return null;
    this.faults = kept;
    const e = new PagekvError("ERR_IO", `MemFS: cannot ${op} "${path}": injected ${hit.code}`, {
      path,
      cause: ioCause(hit.code, `injected fault on ${op} of "${path}"`),
    });
    if (hit.landed) return e;
    throw e;
  }
}

function crashedError(op: string, path: string): PagekvError {
  return new PagekvError(
    "ERR_CRASHED",
    `MemFS: cannot ${op} "${path}": simulated power loss happened; call crash()`,
    { path },
  );
}

function killedError(op: string, path: string, pid: number): PagekvError {
  return new PagekvError(
    "ERR_CLOSED",
    `MemFS: cannot ${op} "${path}": its process (pid ${pid}) was killed`,
    { path },
  );
}

/** One simulated process: its pid, whether it was killed, the locks it holds. */
class ProcessState {
  readonly pid: number;
  killed = false;
  /** Every lock this process holds, on any path. */
  readonly locks = new Set<MemLock>();
  /** The machine's live processes, which this one leaves when killed. */
  private readonly alive: Set<ProcessState>;

  constructor(pid: number, alive: Set<ProcessState>) {
    this.pid = pid;
    this.alive = alive;
    alive.add(this);
  }

  /** SIGKILL: every lock ends and leaves the tables; handles see `killed`. Idempotent. */
  kill(): void {
    if (this.killed) return;
    for (const lock of [...this.locks]) lock.release();
    assert(this.locks.size === 0, `MemFS: process ${this.pid} still holds locks after kill`);
    this.killed = true;
    this.alive.delete(this);
  }
}

/** The held locks of one path: its writer, and its readers grouped by process. */
class PathLocks {
  writer: MemLock | null = null;
  /** Per process, its shared locks in the order taken (its mark slots); never empty. */
  readonly readers = new Map<ProcessState, MemLock[]>();

  get empty(): boolean {
    return this.writer === null && this.readers.size === 0;
  }
}

/** What every process of one simulated machine shares. */
class Machine {
  readonly device = new Device();
  readonly files = new Map<string, FileNode>();
  readonly locks = new Map<string, PathLocks>();
  /** Processes alive (not killed), at most MEMFS_PROCESSES_MAX. */
  readonly processes = new Set<ProcessState>();
  private pidNext = 1;

  spawn(): ProcessState {
    if (this.processes.size >= MEMFS_PROCESSES_MAX) {
      throw new PagekvError(
        "ERR_LIMIT",
        `MemFS: cannot start a process: ${MEMFS_PROCESSES_MAX} are alive on this machine`,
      );
    }
    return new ProcessState(this.pidNext++, this.processes);
  }

  /** Power loss: every lock of every process ends, and the table empties. */
  endAllLocks(): void {
    for (const proc of this.processes) {
      for (const lock of proc.locks) lock.end();
      proc.locks.clear();
    }
    this.locks.clear();
  }

  /** The live readers of `path` and their marks, by pid (readers.md, the writer's view). */
  readersOf(path: string): ReaderState[] {
    const entry = this.locks.get(path);
    if (entry === undefined) return [];
    const out: ReaderState[] = [];
    for (const [proc, locks] of entry.readers) {
      out.push({ pid: proc.pid, thread: 0, marks: locks.map((l) => l.markValue) });
    }
    return out.sort((a, b) => a.pid - b.pid);
  }
}

function checkMark(path: string, mark: unknown): ReadMark | null {
  if (mark === null) return null;
  const m = mark as { generation?: unknown; bound?: unknown } | undefined;
  const ok = (v: unknown) =>
    typeof v === "number" && Number.isSafeInteger(v) && v >= 0 && v <= MARK_FIELD_MAX;
  if (typeof m !== "object" || !ok(m.generation) || !ok(m.bound)) {
    throw new PagekvError(
      "ERR_ARG",
      `MemFS: cannot set a read mark on "${path}": want null or { generation, bound }, ` +
        `each an integer in 0..${MARK_FIELD_MAX}`,
      { path },
    );
  }
  return { generation: m.generation as number, bound: m.bound as number };
}

/**
 * A lock of one simulated process: its writer lock (exclusive) or one of its reader locks
 * (shared, one mark slot). Ended by release(), by the death of its process (kill()) or by
 * power loss (crash()); once ended it stays ended, and never touches a newer lock's entry.
 */
class MemLock implements VLock {
  private readonly machine: Machine;
  readonly proc: ProcessState;
  private readonly path: string;
  private readonly shared: boolean;
  private isHeld = true;
  /** The mark slot (shared only): null until published; "unknown" once torn (race G). */
  markValue: ReadMark | null | "unknown" = null;

  constructor(machine: Machine, proc: ProcessState, path: string, shared: boolean) {
    this.machine = machine;
    this.proc = proc;
    this.path = path;
    this.shared = shared;
  }

  get held(): boolean {
    return this.isHeld;
  }

  /**
   * Idempotent and never throws, not even ERR_CRASHED: like close(), it is what cleanup
   * paths call, and must not mask the error that led there.
   */
  release(): void {
    if (!this.isHeld) return;
    this.unlist();
    this.isHeld = false;
  }

  /** The holder died (power loss): the lock ends. The caller clears the tables. */
  end(): void {
    this.isHeld = false;
  }

  /** Remove this held lock from the path's entry and from its process's set. */
  unlist(): void {
    const entry = this.machine.locks.get(this.path);
    assert(entry !== undefined, `MemFS: held lock of "${this.path}" has no entry`);
    if (this.shared) {
      const mine = entry.readers.get(this.proc);
      const at = mine === undefined ? -1 : mine.indexOf(this);
      assert(mine !== undefined && at >= 0, `MemFS: held reader of "${this.path}" unlisted`);
      mine.splice(at, 1);
      if (mine.length === 0) entry.readers.delete(this.proc);
    } else {
      assert(entry.writer === this, `MemFS: held writer of "${this.path}" unlisted`);
      entry.writer = null;
    }
    if (entry.empty) this.machine.locks.delete(this.path);
    this.proc.locks.delete(this);
  }

  /** A shared lock: a writer of its path is alive now (held, its process not killed). */
  writerAlive(): boolean {
    const writer = this.machine.locks.get(this.path)?.writer;
    return writer?.held === true && !writer.proc.killed;
  }

  /**
   * Publish this reader's mark (readers.md, "The reader's steps"): one store, so the
   * writer's next readers() sees it whole (a real slot write can tear: tearMark()).
   */
  setMark(mark: ReadMark | null): void {
    if (!this.shared) {
      throw new PagekvError(
        "ERR_ARG",
        `MemFS: cannot set a read mark on "${this.path}": this is the writer's lock`,
        { path: this.path },
      );
    }
    this.checkUsable("set a read mark on");
    this.markValue = checkMark(this.path, mark);
  }

  readers(): ReaderState[] {
    if (this.shared) {
      throw new PagekvError(
        "ERR_ARG",
        `MemFS: cannot list the readers of "${this.path}": this is a reader's lock`,
        { path: this.path },
      );
    }
    this.checkUsable("list the readers of");
    return this.machine.readersOf(this.path);
  }

  private checkUsable(op: string): void {
    this.machine.device.checkAlive(op, this.path);
    if (this.proc.killed) throw killedError(op, this.path, this.proc.pid);
    if (!this.isHeld) {
      throw new PagekvError("ERR_CLOSED", `MemFS: cannot ${op} "${this.path}": lock released`, {
        path: this.path,
      });
    }
  }
}

/** Set by process() while it constructs the new process's MemFS: the machine to join. */
let joining: Machine | null = null;

export class MemFS implements VFS {
  // `declare` so no own property exists unless a crc32 is given: the engine's fallback
  // is then exercised, and `"crc32" in fs` is honest.
  declare readonly crc32?: Crc32;

  private readonly machine: Machine;
  private readonly proc: ProcessState;

  /** A new machine with no files, and its first process (pid 1). */
  constructor(options: MemFSOptions = {}) {
    if (options.crc32 !== undefined) this.crc32 = options.crc32;
    const machine = joining ?? new Machine();
    joining = null;
    this.proc = machine.spawn();
    this.machine = machine;
  }

  /** This process's id, as the writer's readers() reports it. */
  get pid(): number {
    return this.proc.pid;
  }

  /** True once kill() was called on this process. */
  get killed(): boolean {
    return this.proc.killed;
  }

  /**
   * Start another process on this machine: a MemFS sharing its files and page cache, with
   * its own handles and locks. ERR_LIMIT past MEMFS_PROCESSES_MAX alive; ERR_CRASHED once an
   * armed crash fired (the machine is off until crash()).
   */
  process(): MemFS {
    this.machine.device.checkAlive("start a process on", "(machine)");
    joining = this.machine;
    try {
      return new MemFS(this.crc32 === undefined ? {} : { crc32: this.crc32 });
    } finally {
      joining = null;
    }
  }

  /**
   * SIGKILL of this process only: its handles close, its locks end and its read marks
   * leave readers(); the files keep every write it made (synced or not). Idempotent;
   * allowed while crashed (it is no I/O).
   */
  kill(): void {
    this.machine.device.disarmKill(this.proc);
    this.proc.kill();
  }

  /**
   * Kill this process at a file-operation boundary: after `afterOps` more mutating calls
   * on the machine (by any process) succeed, it dies just before the next one (as kill());
   * when that call is its own, the call throws ERR_CLOSED without effect. One armed kill
   * per process (arming again replaces it); kill() and crash() disarm it. ERR_ARG on a
   * bad count; ERR_CLOSED when already killed.
   */
  armKill(afterOps: number): void {
    if (!Number.isSafeInteger(afterOps) || afterOps < 0) {
      throw new PagekvError(
        "ERR_ARG",
        `MemFS: armKill needs a non-negative integer, got ${afterOps}`,
      );
    }
    this.checkLive("arm the kill of", "(process)");
    this.machine.device.armKill(this.proc, afterOps);
  }

  /**
   * Mutating calls so far, by every process of the machine: writeAt, writevAt, sync,
   * truncate, delete, rename and an open that creates. A call counts once it reaches the device,
   * even if an injected fault fails it. Locks are not file operations and never count.
   */
  get opCount(): number {
    return this.machine.device.mutatingOps;
  }

  /**
   * Calls of kind `op` (readAt; writeAt and writevAt; sync) so far, as injectFault counts
   * them: a test sweeping a fault over every call of a workload counts them first.
   */
  callCount(op: FaultOp): number {
    return this.machine.device.callCounts[op];
  }

  open(path: string, options: OpenOptions = {}): VFile {
    const device = this.machine.device;
    device.checkAlive("open", path);
    checkPath("open", path);
    this.checkLive("open", path);
    const files = this.machine.files;
    let node = files.get(path);
    if (node === undefined) {
      if (options.create !== true) {
        throw new PagekvError("ERR_NOT_FOUND", `MemFS: cannot open "${path}": no such file`, {
          path,
        });
      }
      device.gateMutation("create", path, this.proc);
      node = new FileNode();
      files.set(path, node);
    } else if (options.create === true && options.exclusive === true) {
      throw new PagekvError("ERR_EXISTS", `MemFS: cannot create "${path}": file exists`, {
        path,
      });
    }
    return new MemFile(device, this.proc, node, path, options.readOnly === true);
  }

  delete(path: string): void {
    const device = this.machine.device;
    device.checkAlive("delete", path);
    checkPath("delete", path);
    this.checkLive("delete", path);
    if (!this.machine.files.has(path)) {
      throw new PagekvError("ERR_NOT_FOUND", `MemFS: cannot delete "${path}": no such file`, {
        path,
      });
    }
    device.gateMutation("delete", path, this.proc);
    // Open handles keep the node (POSIX unlink); only the name goes, durably.
    this.machine.files.delete(path);
  }

  /**
   * One mutating call: the node moves to the new name (replacing what was there) at once
   * and durably, as the namespace always is here; open handles keep the node.
   */
  rename(from: string, to: string): void {
    const device = this.machine.device;
    device.checkAlive("rename", from);
    checkPath("rename", from);
    checkPath("rename", to);
    this.checkLive("rename", from);
    const node = this.machine.files.get(from);
    if (node === undefined) {
      throw new PagekvError("ERR_NOT_FOUND", `MemFS: cannot rename "${from}": no such file`, {
        path: from,
      });
    }
    device.gateMutation("rename", from, this.proc);
    if (from === to) return;
    this.machine.files.set(to, node);
    this.machine.files.delete(from);
  }

  exists(path: string): boolean {
    this.machine.device.checkAlive("check existence of", path);
    checkPath("check existence of", path);
    this.checkLive("check existence of", path);
    return this.machine.files.has(path);
  }

  /**
   * The rules at the top of this file: exclusive excludes exclusive on every process;
   * shared coexists with another process's writer; within one process writer and readers
   * exclude each other; READER_SLOTS_MAX shared per process and path. Locks live in memory
   * only: the path needs no file, and taking or releasing one neither counts in opCount nor
   * fires armCrash.
   */
  lock(path: string, mode: LockMode = "exclusive"): VLock {
    this.machine.device.checkAlive("lock", path);
    checkPath("lock", path);
    this.checkLive("lock", path);
    if (mode !== "exclusive" && mode !== "shared") {
      throw new PagekvError(
        "ERR_ARG",
        `MemFS: cannot lock "${path}": mode must be "exclusive" or "shared", got ${String(mode)}`,
        { path },
      );
    }
    const proc = this.proc;
    const entry = this.machine.locks.get(path) ?? new PathLocks();
    const writer = entry.writer;
    const mine = entry.readers.get(proc);
    if (mode === "shared") {
      if (writer !== null && writer.proc === proc) {
        throw new PagekvError(
          "ERR_LOCKED",
          `MemFS: cannot lock "${path}" for reading: this process (pid ${proc.pid}) holds its writer`,
          { path },
        );
      }
      if (mine !== undefined && mine.length >= READER_SLOTS_MAX) {
        throw new PagekvError(
          "ERR_LIMIT",
          `MemFS: cannot lock "${path}" for reading: this process (pid ${proc.pid}) ` +
            `already holds ${READER_SLOTS_MAX} shared locks on it`,
          { path },
        );
      }
    } else {
      if (writer !== null) {
        throw new PagekvError(
          "ERR_LOCKED",
          `MemFS: "${path}" is locked by another writer (pid ${writer.proc.pid})`,
          { path },
        );
      }
      if (mine !== undefined) {
        throw new PagekvError(
          "ERR_LOCKED",
          `MemFS: "${path}" is open for reading in this process (pid ${proc.pid})`,
          { path },
        );
      }
    }
    const lock = new MemLock(this.machine, proc, path, mode === "shared");
    if (mode === "shared") {
      if (mine === undefined) entry.readers.set(proc, [lock]);
      else mine.push(lock);
    } else {
      entry.writer = lock;
    }
    this.machine.locks.set(path, entry);
    proc.locks.add(lock);
    return lock;
  }

  /**
   * For tests of race G (readers.md): make this process's mark slots on `path` read
   * "unknown", as a slot caught mid-rewrite reads, until the next setMark() on that slot.
   * `slot` picks one (its index in the order the shared locks were taken; default all).
   * ERR_ARG when this process holds no such shared lock.
   */
  tearMark(path: string, slot?: number): void {
    checkPath("tear a mark of", path);
    this.checkLive("tear a mark of", path);
    const mine = this.machine.locks.get(path)?.readers.get(this.proc) ?? [];
    if (slot === undefined) {
      if (mine.length === 0) {
        throw new PagekvError(
          "ERR_ARG",
          `MemFS: cannot tear a mark of "${path}": process ${this.proc.pid} holds no shared lock on it`,
          { path },
        );
      }
      for (const lock of mine) lock.markValue = "unknown";
      return;
    }
    if (!Number.isSafeInteger(slot) || slot < 0 || slot >= mine.length) {
      throw new PagekvError(
        "ERR_ARG",
        `MemFS: cannot tear mark slot ${slot} of "${path}": process ${this.proc.pid} holds ` +
          `${mine.length} shared lock(s) on it`,
        { path },
      );
    }
    mine[slot].markValue = "unknown";
  }

  /**
   * Power loss now, for the whole machine: every file's current bytes become what its disk
   * would hold. Clears the crashed state, disarms armCrash, closes every handle of every
   * process opened before this call and, as every process died with the power, ends every
   * lock. Queued faults stay queued. Handles not killed stay usable (see the top).
   */
  crash(options: CrashOptions = {}): void {
    const prng = options.seed === undefined ? null : new Prng(options.seed);
    const machine = this.machine;
    const device = machine.device;
    device.crashed = false;
    device.crashAfterOps = null;
    device.kills = [];
    device.epoch++;
    machine.endAllLocks();
    for (const node of machine.files.values()) {
      if (prng !== null) replayTorn(node, prng);
      node.dropPending();
      node.current = node.durable.clone();
    }
  }

  /**
   * After `afterOps` more mutating calls succeed (by any process), the next one throws
   * ERR_CRASHED without effect, and every later call (but close) of every process throws
   * ERR_CRASHED until crash().
   */
  armCrash(afterOps: number): void {
    if (!Number.isSafeInteger(afterOps) || afterOps < 0) {
      throw new PagekvError(
        "ERR_ARG",
        `MemFS: armCrash needs a non-negative integer, got ${afterOps}`,
      );
    }
    this.machine.device.crashAfterOps = afterOps;
  }

  /**
   * Make the nth read/write/sync call from now (1 = the next one, by any process) fail
   * with ERR_IO whose cause has `code`. A failed read or write has no effect; a failed
   * sync discards the file's pending mutations (they stay readable but can never become
   * durable). writevAt counts as one write call. With `landed`, a write fault is reported
   * only after the write took effect (the device wrote it and still said EIO): the engine
   * cannot know.
   */
  injectFault(op: FaultOp, nth: number, code: FaultCode = "EIO", landed = false): void {
    if (landed && op !== "write") {
      throw new PagekvError("ERR_ARG", "MemFS: injectFault: only a write fault can land");
    }
    if (op !== "read" && op !== "write" && op !== "sync") {
      throw new PagekvError("ERR_ARG", `MemFS: injectFault: unknown op ${String(op)}`);
    }
    if (code !== "EIO" && code !== "ENOSPC") {
      throw new PagekvError("ERR_ARG", `MemFS: injectFault: unknown code ${String(code)}`);
    }
    if (!Number.isSafeInteger(nth) || nth < 1 || nth > MEMFS_FAULT_NTH_MAX) {
      throw new PagekvError(
        "ERR_ARG",
        `MemFS: injectFault: nth must be an integer in 1..${MEMFS_FAULT_NTH_MAX}, got ${nth}`,
      );
    }
    const device = this.machine.device;
    if (device.faults.length >= MEMFS_FAULTS_MAX) {
      throw new PagekvError("ERR_ARG", `MemFS: injectFault: at most ${MEMFS_FAULTS_MAX} queued`);
    }
    device.faults.push({ op, callNumber: device.callCounts[op] + nth, code, landed });
  }

  /** File names, sorted, for tests. Never throws ERR_CRASHED: inspection is not I/O. */
  fileNames(): string[] {
    return [...this.machine.files.keys()].sort();
  }

  /**
   * The live readers of `path` and their marks, as the writer's readers() would return
   * them now (there need be no writer), for tests. Never throws ERR_CRASHED.
   */
  readersOf(path: string): ReaderState[] {
    checkPath("list the readers of", path);
    return this.machine.readersOf(path);
  }

  /** Size of the file as it would be after a seedless crash. */
  durableSize(path: string): number {
    return this.inspect(path).durable.length;
  }

  /** A copy of the bytes that would survive a seedless crash. */
  readDurable(path: string): Uint8Array {
    const durable = this.inspect(path).durable;
    return durable.bytes.slice(0, durable.length);
  }

  /** Bytes written to the file since its last successful sync (truncates count 0). */
  pendingBytes(path: string): number {
    return this.inspect(path).pendingBytes;
  }

  /** ERR_CLOSED on a killed process's own calls. */
  private checkLive(op: string, path: string): void {
    if (this.proc.killed) throw killedError(op, path, this.proc.pid);
  }

  private inspect(path: string): FileNode {
    const node = this.machine.files.get(path);
    if (node === undefined) {
      throw new PagekvError("ERR_NOT_FOUND", `MemFS: cannot inspect "${path}": no such file`, {
        path,
      });
    }
    return node;
  }
}

/**
 * Seeded power loss: apply to `node.durable`, in order, the parts of each pending
 * mutation that reached the disk. A write survives whole, is lost whole or is torn: split
 * at absolute sector boundaries, each piece kept or lost on its own. A truncate is a coin.
 */
function replayTorn(node: FileNode, prng: Prng): void {
  for (const op of node.pending) {
    if (op.kind === "truncate") {
      if (prng.int(2) === 0) node.durable.resize(op.size);
      continue;
    }
    const outcome = prng.int(3); // 0 survives, 1 lost, 2 torn
    if (outcome === 0) {
      node.durable.write(op.data, op.offset);
    } else if (outcome === 2) {
      const end = op.offset + op.data.length;
      let pos = op.offset;
      while (pos < end) {
        const sectorEnd = (Math.floor(pos / MEMFS_SECTOR_BYTES) + 1) * MEMFS_SECTOR_BYTES;
        const pieceEnd = Math.min(end, sectorEnd);
        if (prng.int(2) === 0) {
          node.durable.write(op.data.subarray(pos - op.offset, pieceEnd - op.offset), pos);
        }
        pos = pieceEnd;
      }
    }
  }
}

class MemFile implements VFile {
  readonly path: string;
  private readonly device: Device;
  private readonly proc: ProcessState;
  private readonly node: FileNode;
  private readonly readOnly: boolean;
  /** The device epoch at open: a crash since then has closed this handle. */
  private readonly epoch: number;
  private closed = false;

  constructor(device: Device, proc: ProcessState, node: FileNode, path: string, readOnly: boolean) {
    this.device = device;
    this.proc = proc;
    this.node = node;
    this.path = path;
    this.readOnly = readOnly;
    this.epoch = device.epoch;
  }

  readAt(buf: Uint8Array, offset: number): number {
    this.checkOpen("read");
    checkBuffer("read", this.path, buf);
    checkBytes("read", this.path, "offset", offset);
    this.device.takeFault("read", this.path);
    return this.node.current.read(buf, offset);
  }

  writeAt(buf: Uint8Array, offset: number): void {
    this.checkWritable("write");
    checkBuffer("write", this.path, buf);
    this.checkRange("write", offset, buf.length);
    this.device.gateMutation("write", this.path, this.proc);
    const late = this.device.takeFault("write", this.path);
    // The private copy is what makes later caller edits of `buf` invisible to durability.
    this.applyWrite(buf.slice(), offset);
    if (late !== null) throw late;
  }

  writevAt(bufs: readonly Uint8Array[], offset: number): void {
    this.checkWritable("write");
    if (!Array.isArray(bufs)) {
      throw new PagekvError("ERR_ARG", `MemFS: cannot write "${this.path}": bufs not an array`, {
        path: this.path,
      });
    }
    let total = 0;
    for (const b of bufs) {
      checkBuffer("write", this.path, b);
      total += b.length;
    }
    this.checkRange("write", offset, total);
    this.device.gateMutation("write", this.path, this.proc);
    const late = this.device.takeFault("write", this.path);
    // One call, one pending write: a crash tears it like any single write.
    const data = new Uint8Array(total);
    let at = 0;
    for (const b of bufs) {
      data.set(b, at);
      at += b.length;
    }
    this.applyWrite(data, offset);
    if (late !== null) throw late;
  }

  sync(mode?: FileSyncMode): void {
    this.checkOpen("sync");
    if (mode !== undefined && mode !== "data" && mode !== "full") {
      throw new PagekvError("ERR_ARG", `MemFS: cannot sync "${this.path}": bad mode ${mode}`, {
        path: this.path,
      });
    }
    // Allowed on read-only handles, like fsync(2): it flushes the file, not the handle.
    this.device.gateMutation("sync", this.path, this.proc);
    const node = this.node;
    try {
      this.device.takeFault("sync", this.path);
    } catch (e) {
      // fsyncgate: the kernel marks the failed pages clean, so a retry reports success
      // without ever writing them. They stay readable until the next crash loses them.
      node.dropPending();
      throw e;
    }
    node.makeDurable(node.pending.length);
  }

  /**
   * sync() completed in a later macrotask (docs/design/group-commit.md, "The VFS seam"):
   * the call checks the handle and the mode and records how many mutations the file has
   * had; the completion is one mutating call (the crash, kill and fault points of a sync,
   * counted in opCount and callCount("sync")) that makes durable exactly the mutations
   * made before the call, so later writes stay pending. Rejects ERR_CRASHED when power was
   * lost before the completion (an armed crash fired, or crash() ran: the process is
   * gone), ERR_CLOSED when its process was killed, ERR_IO on an injected fault (which
   * drops the pending mutations, as sync() does). close() before the completion is
   * allowed: MemFS has no descriptors, and the sync still completes. Never throws.
   */
  syncAsync(mode?: FileSyncMode): Promise<void> {
    try {
      this.checkOpen("sync");
      if (mode !== undefined && mode !== "data" && mode !== "full") {
        throw new PagekvError("ERR_ARG", `MemFS: cannot sync "${this.path}": bad mode ${mode}`, {
          path: this.path,
        });
      }
    } catch (e) {
      return Promise.reject(e);
    }
    const target = this.node.pendingEnd;
    return new Promise<void>((resolve, reject) => {
      later(() => {
        try {
          this.completeSync(target);
          resolve();
        } catch (e) {
          reject(e);
        }
      });
    });
  }

  truncate(size: number): void {
    this.checkWritable("truncate");
    checkBytes("truncate", this.path, "size", size);
    this.device.gateMutation("truncate", this.path, this.proc);
    this.node.current.resize(size);
    this.node.pending.push({ kind: "truncate", size });
  }

  size(): number {
    this.checkOpen("size");
    return this.node.current.length;
  }

  /** Idempotent and never throws, so cleanup paths cannot mask the error that led there. */
  close(): void {
    this.closed = true;
  }

  /** syncAsync's completion: make the mutations numbered below `target` durable. */
  private completeSync(target: number): void {
    const device = this.device;
    // Power was lost since the call (crash() bumped the epoch) or is off now (an armed
    // crash fired): the process that called is gone, its sync never returned.
    if (this.epoch !== device.epoch) {
      throw new PagekvError(
        "ERR_CRASHED",
        `MemFS: cannot sync "${this.path}": simulated power loss happened before it completed`,
        { path: this.path },
      );
    }
    device.checkAlive("sync", this.path);
    if (this.proc.killed) throw killedError("sync", this.path, this.proc.pid);
    device.gateMutation("sync", this.path, this.proc);
    const node = this.node;
    try {
      device.takeFault("sync", this.path);
    } catch (e) {
      node.dropPending(); // fsyncgate, as in sync()
      throw e;
    }
    const count = Math.min(Math.max(target - node.pendingFirst, 0), node.pending.length);
    node.makeDurable(count);
  }

  private applyWrite(data: Uint8Array, offset: number): void {
    this.node.current.write(data, offset);
    this.node.pending.push({ kind: "write", offset, data });
    this.node.pendingBytes += data.length;
  }

  private checkOpen(op: string): void {
    this.device.checkAlive(op, this.path);
    if (this.closed || this.epoch !== this.device.epoch) {
      throw new PagekvError("ERR_CLOSED", `MemFS: cannot ${op} "${this.path}": handle closed`, {
        path: this.path,
      });
    }
    if (this.proc.killed) throw killedError(op, this.path, this.proc.pid);
  }

  private checkWritable(op: string): void {
    this.checkOpen(op);
    if (this.readOnly) {
      throw new PagekvError("ERR_IO", `MemFS: cannot ${op} "${this.path}": opened read-only`, {
        path: this.path,
        cause: ioCause("EBADF", `"${this.path}" was opened read-only`),
      });
    }
  }

  private checkRange(op: string, offset: number, length: number): void {
    checkBytes(op, this.path, "offset", offset);
    checkBytes(op, this.path, "end (offset + length)", offset + length);
  }
}
