// MemFS: the in-memory VFS that crash and fault tests run on. It owns each file's current
// bytes (what reads see), its durable bytes (what survives power loss) and the mutations
// in between, and the writer locks its simulated process holds. Platform neutral: it must
// never import node:* or use Buffer.

import { assert, PagekvError } from "../errors.js";
import { Prng } from "./prng.js";
import type {
  Crc32,
  FileSyncMode,
  LockMode,
  OpenOptions,
  ReaderState,
  ReadMark,
  VFile,
  VFS,
  VLock,
} from "./vfs.js";

/*
 * Invariants kept by this file:
 * - The file namespace (the Map) is always durable: create and delete take effect on disk
 *   at once, as NodeFS makes them durable by syncing the parent directory.
 * - node.durable + node.pending replayed in order === node.current, except after a failed
 *   sync, which drops pending mutations that stay in current (Linux fsyncgate).
 * - sync() and crash replay cost O(bytes pending), never O(file size): pending writes are
 *   private copies applied in place to a growable durable image.
 * - Once `crashed`, every call except close() and VLock.release() throws ERR_CRASHED
 *   until crash().
 * - A handle whose epoch is older than the fs epoch was opened before a crash: closed.
 * - `locks` maps each path to its one held MemLock, and holds no lock that is not held.
 *   crash() is the death of the process: it ends every lock and empties the map.
 * - Locks are not files: lock() and release() never count in opCount nor fire armCrash.
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

  dropPending(): void {
    this.pending = [];
    this.pendingBytes = 0;
  }
}

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
  readonly callCounts: Record<FaultOp, number> = { read: 0, write: 0, sync: 0 };
  faults: QueuedFault[] = [];

  /** Throws ERR_CRASHED once an armed crash has happened. */
  checkAlive(op: string, path: string): void {
    if (this.crashed) throw crashedError(op, path);
  }

  /**
   * Every mutating call passes here after its arguments are checked and before it acts:
   * it fires the armed crash (the call then has no effect) or counts the call.
   */
  gateMutation(op: string, path: string): void {
    if (this.crashAfterOps === 0) {
      this.crashAfterOps = null;
      this.crashed = true;
      throw crashedError(op, path);
    }
    if (this.crashAfterOps !== null) this.crashAfterOps--;
    this.mutatingOps++;
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

/**
 * A writer lock of the simulated process. Ended by release() or by the process's death
 * (MemFS.crash()); once ended it stays ended, and never touches a newer lock's entry.
 */
class MemLock implements VLock {
  private readonly locks: Map<string, MemLock>;
  private readonly readerSets: Map<string, Set<MemLock>>;
  private readonly path: string;
  private readonly shared: boolean;
  private isHeld = true;

  constructor(
    locks: Map<string, MemLock>,
    readers: Map<string, Set<MemLock>>,
    path: string,
    shared: boolean,
  ) {
    this.locks = locks;
    this.readerSets = readers;
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
    this.isHeld = false;
    if (this.shared) {
      const set = this.readerSets.get(this.path);
      set?.delete(this);
      if (set !== undefined && set.size === 0) this.readerSets.delete(this.path);
      return;
    }
    assert(this.locks.get(this.path) === this, `MemFS: held lock of "${this.path}" unlisted`);
    this.locks.delete(this.path);
  }

  /** The holder died: the lock ends. The caller clears the registry. */
  end(): void {
    this.isHeld = false;
  }

  /** TEMPORARY until issue 11's MemFS work lands. */
  setMark(_mark: ReadMark | null): void {}

  readers(): ReaderState[] {
    return [];
  }
}

export class MemFS implements VFS {
  // `declare` so no own property exists unless a crc32 is given: the engine's fallback
  // is then exercised, and `"crc32" in fs` is honest.
  declare readonly crc32?: Crc32;

  private readonly files = new Map<string, FileNode>();
  private readonly device = new Device();
  private readonly locks = new Map<string, MemLock>();
  /** Shared (reader) locks by path. */
  private readonly readers = new Map<string, Set<MemLock>>();

  constructor(options: MemFSOptions = {}) {
    if (options.crc32 !== undefined) this.crc32 = options.crc32;
  }

  /**
   * Mutating calls so far: writeAt, writevAt, sync, truncate, delete and an open that
   * creates. A call counts once it reaches the device, even if an injected fault fails it.
   * lock() and release() are not file operations and never count.
   */
  get opCount(): number {
    return this.device.mutatingOps;
  }

  /**
   * Calls of kind `op` (readAt; writeAt and writevAt; sync) so far, as injectFault counts
   * them: a test sweeping a fault over every call of a workload counts them first.
   */
  callCount(op: FaultOp): number {
    return this.device.callCounts[op];
  }

  open(path: string, options: OpenOptions = {}): VFile {
    const device = this.device;
    device.checkAlive("open", path);
    checkPath("open", path);
    let node = this.files.get(path);
    if (node === undefined) {
      if (options.create !== true) {
        throw new PagekvError("ERR_NOT_FOUND", `MemFS: cannot open "${path}": no such file`, {
          path,
        });
      }
      device.gateMutation("create", path);
      node = new FileNode();
      this.files.set(path, node);
    } else if (options.create === true && options.exclusive === true) {
      throw new PagekvError("ERR_EXISTS", `MemFS: cannot create "${path}": file exists`, {
        path,
      });
    }
    return new MemFile(device, node, path, options.readOnly === true);
  }

  delete(path: string): void {
    this.device.checkAlive("delete", path);
    checkPath("delete", path);
    if (!this.files.has(path)) {
      throw new PagekvError("ERR_NOT_FOUND", `MemFS: cannot delete "${path}": no such file`, {
        path,
      });
    }
    this.device.gateMutation("delete", path);
    // Open handles keep the node (POSIX unlink); only the name goes, durably.
    this.files.delete(path);
  }

  exists(path: string): boolean {
    this.device.checkAlive("check existence of", path);
    checkPath("check existence of", path);
    return this.files.has(path);
  }

  /**
   * ERR_LOCKED while a lock on `path` is held. Locks live in memory only: the path needs
   * no file, and taking or releasing one neither counts in opCount nor fires armCrash.
   */
  lock(path: string, mode: LockMode = "exclusive"): VLock {
    this.device.checkAlive("lock", path);
    checkPath("lock", path);
    if (this.locks.has(path)) {
      throw new PagekvError("ERR_LOCKED", `MemFS: "${path}" is locked by another writer`, {
        path,
      });
    }
    if (mode === "shared") {
      const lock = new MemLock(this.locks, this.readers, path, true);
      const set = this.readers.get(path) ?? new Set<MemLock>();
      set.add(lock);
      this.readers.set(path, set);
      return lock;
    }
    if ((this.readers.get(path)?.size ?? 0) > 0) {
      throw new PagekvError("ERR_LOCKED", `MemFS: "${path}" is open for reading`, { path });
    }
    const lock = new MemLock(this.locks, this.readers, path, false);
    this.locks.set(path, lock);
    return lock;
  }

  /**
   * Power loss now: every file's current bytes become what its disk would hold. Clears
   * the crashed state, disarms armCrash, closes every handle opened before this call and,
   * as the process died with the power, ends every lock it held. Queued faults stay queued.
   */
  crash(options: CrashOptions = {}): void {
    const prng = options.seed === undefined ? null : new Prng(options.seed);
    const device = this.device;
    device.crashed = false;
    device.crashAfterOps = null;
    device.epoch++;
    for (const lock of this.locks.values()) lock.end();
    this.locks.clear();
    for (const set of this.readers.values()) for (const lock of set) lock.end();
    this.readers.clear();
    for (const node of this.files.values()) {
      if (prng !== null) replayTorn(node, prng);
      node.dropPending();
      node.current = node.durable.clone();
    }
  }

  /**
   * After `afterOps` more mutating calls succeed, the next one throws ERR_CRASHED without
   * effect, and every later call (but close) throws ERR_CRASHED until crash().
   */
  armCrash(afterOps: number): void {
    if (!Number.isSafeInteger(afterOps) || afterOps < 0) {
      throw new PagekvError(
        "ERR_ARG",
        `MemFS: armCrash needs a non-negative integer, got ${afterOps}`,
      );
    }
    this.device.crashAfterOps = afterOps;
  }

  /**
   * Make the nth read/write/sync call from now (1 = the next one) fail with ERR_IO whose
   * cause has `code`. A failed read or write has no effect; a failed sync discards the
   * file's pending mutations (they stay readable but can never become durable).
   * writevAt counts as one write call. With `landed`, a write fault is reported only after
   * the write took effect (the device wrote it and still said EIO): the engine cannot know.
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
    const device = this.device;
    if (device.faults.length >= MEMFS_FAULTS_MAX) {
      throw new PagekvError("ERR_ARG", `MemFS: injectFault: at most ${MEMFS_FAULTS_MAX} queued`);
    }
    device.faults.push({ op, callNumber: device.callCounts[op] + nth, code, landed });
  }

  /** File names, sorted, for tests. Never throws ERR_CRASHED: inspection is not I/O. */
  fileNames(): string[] {
    return [...this.files.keys()].sort();
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

  private inspect(path: string): FileNode {
    const node = this.files.get(path);
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
  private readonly node: FileNode;
  private readonly readOnly: boolean;
  /** The device epoch at open: a crash since then has closed this handle. */
  private readonly epoch: number;
  private closed = false;

  constructor(device: Device, node: FileNode, path: string, readOnly: boolean) {
    this.device = device;
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
    this.device.gateMutation("write", this.path);
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
    this.device.gateMutation("write", this.path);
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
    this.device.gateMutation("sync", this.path);
    const node = this.node;
    try {
      this.device.takeFault("sync", this.path);
    } catch (e) {
      // fsyncgate: the kernel marks the failed pages clean, so a retry reports success
      // without ever writing them. They stay readable until the next crash loses them.
      node.dropPending();
      throw e;
    }
    for (const op of node.pending) {
      if (op.kind === "write") node.durable.write(op.data, op.offset);
      else node.durable.resize(op.size);
    }
    node.dropPending();
  }

  truncate(size: number): void {
    this.checkWritable("truncate");
    checkBytes("truncate", this.path, "size", size);
    this.device.gateMutation("truncate", this.path);
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
