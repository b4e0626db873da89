// The pager: page numbers in, pinned in-memory frames out. It owns the main file, page 1
// (the header), the buffer pool, the freelist and the checkpoint. Layers above see only
// usable page bytes and the Get/Unpin, Allocate/Free and Checkpoint contracts; they never
// touch the file, the trailer or page 1.
//
// States: OPEN (every call allowed) -> CLOSED (every call throws ERR_CLOSED). A failed call
// leaves the pager OPEN with its state as before the call, except that a failed
// checkpoint leaves dirty frames dirty to be written again.
//
// Invariants (checkInvariants verifies them; `debug: true` runs it after every call):
//   - every bound frame holds a page in 2..pageCount that is not on the freelist: a free
//     page never has a frame, so it can never be read or written back as live data;
//   - the pool's invariants (buffer-pool.ts), above all: a pinned frame is never a victim;
//   - pageCount only grows, and a page number or freelist entry is consumed only once the
//     frame that will hold it has been secured (a failed allocate() leaks nothing);
//   - checkpoint never runs while a frame is pinned for writing, so it never writes a page
//     mid-change;
//   - after checkpoint() returns, the file holds every page, the freelist and the header,
//     synced: it reopens to exactly the state at the checkpoint.
//
// Not yet crash-safe *during* a checkpoint or against torn unsynced write-backs: that is
// the write-ahead log's job (see `spill`, the one place dirty victims leave the pool).

import { type ErrorCode, PagekvError } from "../errors.js";
import { U64_MAX } from "../format/codec.js";
import { crc32 as crc32Fallback } from "../format/crc32.js";
import { encodeTrunk, loadFreelist, trunkCapacity, trunksNeeded } from "../format/freelist.js";
import { decodeHeader, encodeHeader, HEADER_BYTES, newHeader } from "../format/header.js";
import {
  checksummedView,
  isValidPageSize,
  PAGE_NUMBER_MAX,
  PAGE_SIZE_DEFAULT,
  pageDamage,
  pageOffset,
  sealPage,
  usableSizeOf,
} from "../format/page.js";
import type { Crc32, VFile, VFS } from "../vfs/vfs.js";
import { BufferPool } from "./buffer-pool.js";
import type { Frame } from "./frame.js";
import { FreePages } from "./free-pages.js";

export type { Frame } from "./frame.js";
export type Intent = "read" | "write";

export const CACHE_FRAMES_DEFAULT = 2048;
export const CACHE_FRAMES_MIN = 1;
/** Frame indices must fit in 20 bits (checkpoint's sort keys pack pgno and index). */
export const CACHE_FRAMES_MAX = 1 << 20;
/** The arena is one ArrayBuffer; keep it well inside what V8 allocates in one piece. */
export const ARENA_BYTES_MAX = 2 ** 31;
/** Pages one checkpoint write may carry (Linux's IOV_MAX for writev). */
export const WRITE_RUN_PAGES_MAX = 1024;
const FRAME_INDEX_SPAN = CACHE_FRAMES_MAX;

export interface PagerOptions {
  /** Bytes per page, a power of two in 512..65536 (create only; a file keeps its own). */
  pageSize?: number;
  /** Frames in the buffer pool. */
  cacheFrames?: number;
  /** Check every invariant after every call (slow; for tests). */
  debug?: boolean;
  /** Largest page count allocate() may reach before ERR_FULL. */
  pageCountMax?: number;
}

export interface PagerStats {
  hits: number;
  misses: number;
  evictions: number;
  writebacks: number;
  pagesRead: number;
  pagesWritten: number;
  framesPinned: number;
  framesDirty: number;
  cacheFrames: number;
  pageCount: number;
  freePages: number;
}

interface Resolved {
  cacheFrames: number;
  debug: boolean;
  pageCountMax: number;
}

export class Pager {
  readonly path: string;
  readonly pageSize: number;
  readonly usableSize: number;
  private readonly file: VFile;
  private readonly crc: Crc32;
  private readonly pool: BufferPool;
  private readonly freePages = new FreePages();
  private readonly debug: boolean;
  private readonly pageCountMax: number;
  /** Page-sized buffer for page 1 and freelist trunks, outside the pool. */
  private readonly scratch: Uint8Array;
  private readonly scratchCovered: Uint8Array;
  /** Sort keys (pgno * 2^20 + frame index) for checkpoint's page-ordered writes. */
  private readonly sortKeys: Float64Array;

  // The header, as it will be written at the next checkpoint.
  private pageCountValue: number;
  private changeCounter: number;
  private checkpointLsnValue: bigint;
  private readonly slots: Uint32Array;
  private freeTrunk: number;
  /** Page count, slots or freelist changed since the last checkpoint. */
  private headerDirty = false;
  /** The freelist changed since its trunks were last written. */
  private freelistDirty = false;
  /** Pages were written back at eviction since the last sync: a checkpoint must sync. */
  private writebacksUnsynced = false;
  private closed = false;

  private hits = 0;
  private misses = 0;
  private evictions = 0;
  private writebacks = 0;
  private pagesRead = 0;
  private pagesWritten = 0;

  private constructor(
    file: VFile,
    crc: Crc32,
    header: ReturnType<typeof newHeader>,
    opts: Resolved,
  ) {
    this.file = file;
    this.path = file.path;
    this.crc = crc;
    this.pageSize = header.pageSize;
    this.usableSize = usableSizeOf(header.pageSize);
    this.pool = new BufferPool(opts.cacheFrames, this.pageSize, this.usableSize);
    this.debug = opts.debug;
    this.pageCountMax = opts.pageCountMax;
    this.scratch = new Uint8Array(this.pageSize);
    this.scratchCovered = checksummedView(this.scratch);
    this.sortKeys = new Float64Array(opts.cacheFrames);
    this.pageCountValue = header.pageCount;
    this.changeCounter = header.changeCounter;
    this.checkpointLsnValue = header.checkpointLsn;
    this.slots = header.slots;
    this.freeTrunk = header.freeTrunk;
  }

  /** Create a new database file. ERR_EXISTS if a non-empty file is already there. */
  static create(vfs: VFS, path: string, options: PagerOptions = {}): Pager {
    const pageSize = options.pageSize ?? PAGE_SIZE_DEFAULT;
    if (!isValidPageSize(pageSize)) {
      throw new PagekvError(
        "ERR_ARG",
        `${path}: page size ${String(pageSize)} is not a power of two in 512..65536`,
        { path },
      );
    }
    const opts = resolveOptions(path, pageSize, options);
    const file = vfs.open(path, { create: true });
    try {
      const size = file.size();
      if (size > 0) {
        throw new PagekvError(
          "ERR_EXISTS",
          `${path}: cannot create: the file already holds ${size} bytes (open it instead)`,
          { path },
        );
      }
      const pager = new Pager(file, vfs.crc32 ?? crc32Fallback, newHeader(pageSize), opts);
      pager.writeHeader();
      pager.syncFile();
      return pager;
    } catch (e) {
      closeQuietly(file);
      throw e;
    }
  }

  /** Open an existing database file. ERR_NOT_FOUND if missing, ERR_CORRUPT if not valid. */
  static open(vfs: VFS, path: string, options: Omit<PagerOptions, "pageSize"> = {}): Pager {
    const file = vfs.open(path);
    try {
      const crc = vfs.crc32 ?? crc32Fallback;
      const size = file.size();
      const first = new Uint8Array(HEADER_BYTES);
      if (file.readAt(first, 0) < HEADER_BYTES) {
        throw new PagekvError(
          "ERR_CORRUPT",
          `${path}: the file is ${size} bytes, too short to be a pagekv database`,
          { path, pgno: 1 },
        );
      }
      const header = decodeHeader(first, crc, path);
      const opts = resolveOptions(path, header.pageSize, options);
      const expected = header.pageCount * header.pageSize;
      if (size < expected) {
        throw new PagekvError(
          "ERR_CORRUPT",
          `${path}: the file is truncated: the header counts ${header.pageCount} pages ` +
            `(${expected} bytes) but the file holds ${size} bytes`,
          { path },
        );
      }
      const pager = new Pager(file, crc, header, opts);
      pager.readInto(1, pager.scratch, pager.scratchCovered);
      pager.loadFreelist(header.freeTrunk, header.freeCount);
      pager.afterCall();
      return pager;
    } catch (e) {
      closeQuietly(file);
      throw e;
    }
  }

  /** High-water mark of allocated pages, page 1 included. */
  get pageCount(): number {
    return this.pageCountValue;
  }

  /** LSN recorded by the last checkpoint. */
  get checkpointLSN(): bigint {
    return this.checkpointLsnValue;
  }

  /**
   * Pin page `pgno` (2..pageCount, not free) and return its frame. The frame is the
   * caller's until the matching unpin; modify `data` only under a "write" pin.
   * A cache hit allocates nothing.
   */
  get(pgno: number, intent: Intent = "read"): Frame {
    if (this.closed) throw this.closedError();
    if (intent !== "read" && intent !== "write") throw this.badIntent(intent);
    const write = intent === "write";
    // Only valid page numbers are ever bound, so a hit needs no range check.
    const frame = this.pool.lookup(pgno);
    if (frame === null) return this.miss(pgno, write);
    this.hits++;
    this.pool.pin(frame, write);
    if (this.debug) this.afterCall();
    return frame;
  }

  /** Release one pin on `frame`; `dirty` declares that the caller changed its bytes. */
  unpin(frame: Frame, dirty = false): void {
    if (this.closed) throw this.closedError();
    const pool = this.pool;
    if (!pool.owns(frame)) {
      throw new PagekvError(
        "ERR_ARG",
        `${this.path}: unpin of an object that is not a frame of this pager`,
        {
          path: this.path,
        },
      );
    }
    if (frame.pins === 0) {
      throw new PagekvError(
        "ERR_PIN",
        `${this.path}: unpin of page ${frame.pgno}, which is not pinned (unpinned twice?)`,
        { path: this.path, pgno: frame.pgno },
      );
    }
    pool.unpin(frame, dirty);
    if (this.debug) this.afterCall();
  }

  /** A new page, pinned for writing, zeroed and dirty. Reuses the freelist first. */
  allocate(): Frame {
    if (this.closed) throw this.closedError();
    const reuse = this.freePages.count > 0;
    if (!reuse && this.pageCountValue >= this.pageCountMax) {
      throw new PagekvError(
        "ERR_FULL",
        `${this.path}: cannot allocate: the database has reached its limit of ` +
          `${this.pageCountMax} pages`,
        { path: this.path },
      );
    }
    // Secure the frame before consuming a page number, so a failure leaks nothing.
    const frame = this.obtainFrame(0);
    const pgno = reuse ? this.freePages.pop() : ++this.pageCountValue;
    frame.page.fill(0);
    this.pool.bind(frame, pgno);
    this.pool.pin(frame, true);
    this.pool.markDirty(frame);
    this.headerDirty = true;
    if (reuse) this.freelistDirty = true;
    if (this.debug) this.afterCall();
    return frame;
  }

  /** Put page `pgno` on the freelist. Its bytes are discarded; it must not be pinned. */
  free(pgno: number): void {
    if (this.closed) throw this.closedError();
    this.checkPageNumber(pgno, "free");
    if (this.freePages.has(pgno)) {
      throw new PagekvError("ERR_PIN", `${this.path}: page ${pgno} is already free (freed twice)`, {
        path: this.path,
        pgno,
      });
    }
    const frame = this.pool.lookup(pgno);
    if (frame !== null) {
      if (frame.pins > 0) {
        throw new PagekvError(
          "ERR_PIN",
          `${this.path}: cannot free page ${pgno}: it is pinned ${frame.pins} time(s)`,
          { path: this.path, pgno },
        );
      }
      this.pool.unbind(frame);
      this.pool.release(frame);
    }
    this.freePages.add(pgno);
    this.freelistDirty = true;
    this.headerDirty = true;
    if (this.debug) this.afterCall();
  }

  /** One of the header's 8 u32 application slots, as of the last setSlot. */
  getSlot(i: number): number {
    if (this.closed) throw this.closedError();
    return this.slots[this.checkSlot(i)];
  }

  /** Set an application slot; durable at the next checkpoint. */
  setSlot(i: number, v: number): void {
    if (this.closed) throw this.closedError();
    const slot = this.checkSlot(i);
    if (!Number.isInteger(v) || v < 0 || v > 0xffff_ffff) {
      throw new PagekvError("ERR_ARG", `${this.path}: slot value ${v} is not a u32`, {
        path: this.path,
      });
    }
    this.slots[slot] = v;
    this.headerDirty = true;
    if (this.debug) this.afterCall();
  }

  /**
   * Make the file a torn-free image of the current state: write every dirty frame in page
   * order (adjacent pages coalesced), the freelist trunks, then sync; then write the header
   * with `lsn` (default: unchanged) and sync again. ERR_PIN while any frame is pinned for
   * writing. Nothing to write and no new LSN: no I/O at all.
   */
  checkpoint(lsn?: bigint): void {
    if (this.closed) throw this.closedError();
    if (
      lsn !== undefined &&
      (typeof lsn !== "bigint" || lsn < this.checkpointLsnValue || lsn > U64_MAX)
    ) {
      throw new PagekvError(
        "ERR_ARG",
        `${this.path}: checkpoint LSN ${String(lsn)} must be a u64 bigint no lower than the ` +
          `last one (${this.checkpointLsnValue})`,
        { path: this.path },
      );
    }
    const writers = this.pool.writersPinned();
    if (writers > 0) {
      throw new PagekvError(
        "ERR_PIN",
        `${this.path}: cannot checkpoint while ${writers} frame(s) are pinned for writing`,
        { path: this.path },
      );
    }
    const lsnNew = lsn ?? this.checkpointLsnValue;
    if (
      this.pool.framesDirty === 0 &&
      !this.headerDirty &&
      !this.writebacksUnsynced &&
      lsnNew === this.checkpointLsnValue
    ) {
      return;
    }
    const written = this.writeDirtyFrames();
    if (this.freelistDirty) this.writeFreelist();
    this.extendFile();
    this.syncFile();
    this.writebacksUnsynced = false;
    // The data is durable: those frames are clean even if the header write below fails.
    const frames = this.pool.frames;
    for (let i = 0; i < written; i++)
      this.pool.markClean(frames[this.sortKeys[i] % FRAME_INDEX_SPAN]);
    this.freelistDirty = false;
    this.changeCounter = (this.changeCounter + 1) >>> 0;
    this.checkpointLsnValue = lsnNew;
    this.writeHeader();
    this.syncFile();
    this.headerDirty = false;
    if (this.debug) this.afterCall();
  }

  stats(): PagerStats {
    if (this.closed) throw this.closedError();
    return {
      hits: this.hits,
      misses: this.misses,
      evictions: this.evictions,
      writebacks: this.writebacks,
      pagesRead: this.pagesRead,
      pagesWritten: this.pagesWritten,
      framesPinned: this.pool.framesPinned,
      framesDirty: this.pool.framesDirty,
      cacheFrames: this.pool.cacheFrames,
      pageCount: this.pageCountValue,
      freePages: this.freePages.count,
    };
  }

  /**
   * Checkpoint, then close the file. ERR_PIN (and the pager stays open) while a frame is
   * pinned for writing; on ERR_IO the file is closed anyway and the error rethrown.
   */
  close(): void {
    if (this.closed) throw this.closedError();
    try {
      this.checkpoint();
    } catch (e) {
      if (e instanceof PagekvError && e.code === "ERR_PIN") throw e;
      this.closed = true;
      closeQuietly(this.file);
      throw e;
    }
    this.closed = true;
    this.file.close();
  }

  /** Verify the pager's and the pool's invariants; throws on the first violation. */
  checkInvariants(): void {
    this.pool.checkInvariants();
    for (const f of this.pool.frames) {
      if (f.pgno === 0) continue;
      if (f.pgno < 2 || f.pgno > this.pageCountValue || this.freePages.has(f.pgno)) {
        throw new Error(`pagekv internal assertion failed: frame ${f.index} holds page ${f.pgno}`);
      }
    }
    if (this.freePages.count >= this.pageCountValue) {
      throw new Error("pagekv internal assertion failed: more free pages than pages");
    }
  }

  // ---- internals ----

  private afterCall(): void {
    if (this.debug) this.checkInvariants();
  }

  private miss(pgno: number, write: boolean): Frame {
    this.checkPageNumber(pgno, "get");
    const frame = this.obtainFrame(pgno);
    this.misses++;
    try {
      this.readInto(pgno, frame.page, frame.covered);
    } catch (e) {
      this.pool.release(frame);
      throw e;
    }
    this.pool.bind(frame, pgno);
    this.pool.pin(frame, write);
    if (this.debug) this.afterCall();
    return frame;
  }

  /** An unbound frame: an empty one, else a CLOCK victim with its bytes safe elsewhere. */
  private obtainFrame(forPgno: number) {
    const empty = this.pool.takeEmpty();
    if (empty !== null) return empty;
    const victim = this.pool.chooseVictim();
    if (victim === null) {
      const what = forPgno === 0 ? "allocate a page" : `bring in page ${forPgno}`;
      throw new PagekvError(
        "ERR_POOL_EXHAUSTED",
        `${this.path}: cannot ${what}: all ${this.pool.cacheFrames} frames are pinned`,
        { path: this.path },
      );
    }
    if (victim.dirty) this.spill(victim);
    this.pool.unbind(victim);
    this.evictions++;
    return victim;
  }

  /**
   * Where a dirty victim's bytes go before its frame is reused: the one place that decides.
   * For now, as the seed did, home to the main file (unsynced until the next checkpoint).
   * The write-ahead log will send them to the log instead. On failure the victim stays
   * bound and dirty.
   */
  private spill(frame: { page: Uint8Array; covered: Uint8Array; pgno: number }): void {
    sealPage(frame.page, frame.covered, frame.pgno, this.crc);
    this.writeAt(frame.page, frame.pgno, `writing back page ${frame.pgno}`);
    this.writebacksUnsynced = true;
    this.writebacks++;
    this.pagesWritten++;
  }

  /** Read page `pgno` into `page` and verify it; ERR_CORRUPT or ERR_IO naming the page. */
  private readInto(pgno: number, page: Uint8Array, covered: Uint8Array): void {
    let n: number;
    try {
      n = this.file.readAt(page, pageOffset(pgno, this.pageSize));
    } catch (e) {
      throw this.ioError(e, `reading page ${pgno}`, pgno);
    }
    if (n !== this.pageSize) {
      throw this.corrupt(
        pgno,
        `lies past the end of the file (read ${n} of ${this.pageSize} bytes)`,
      );
    }
    const damage = pageDamage(page, covered, pgno, this.crc);
    if (damage !== null) throw this.corrupt(pgno, damage);
    this.pagesRead++;
  }

  private loadFreelist(head: number, freeCount: number): void {
    const pages = loadFreelist(
      {
        path: this.path,
        pageCount: this.pageCountValue,
        usableSize: this.usableSize,
        readTrunk: (pgno) => {
          this.readInto(pgno, this.scratch, this.scratchCovered);
          return this.scratch.subarray(0, this.usableSize);
        },
      },
      head,
      freeCount,
    );
    for (const p of pages) this.freePages.add(p);
  }

  /** Write dirty frames in page order, coalescing adjacent pages; returns how many. */
  private writeDirtyFrames(): number {
    const frames = this.pool.frames;
    const keys = this.sortKeys;
    let n = 0;
    for (const f of frames) if (f.dirty) keys[n++] = f.pgno * FRAME_INDEX_SPAN + f.index;
    keys.subarray(0, n).sort();
    const run: Uint8Array[] = [];
    let i = 0;
    while (i < n) {
      const first = Math.floor(keys[i] / FRAME_INDEX_SPAN);
      run.length = 0;
      while (i < n && run.length < WRITE_RUN_PAGES_MAX) {
        const f = frames[keys[i] % FRAME_INDEX_SPAN];
        if (f.pgno !== first + run.length) break;
        sealPage(f.page, f.covered, f.pgno, this.crc);
        run.push(f.page);
        i++;
      }
      try {
        this.file.writevAt(run, pageOffset(first, this.pageSize));
      } catch (e) {
        throw this.ioError(e, `writing pages ${first}..${first + run.length - 1}`, first);
      }
      this.pagesWritten += run.length;
    }
    return n;
  }

  /** Write the freelist into trunk pages drawn from the free pages themselves. */
  private writeFreelist(): void {
    const pages = this.freePages.sorted();
    const total = pages.length;
    const trunks = trunksNeeded(total, this.usableSize);
    const capacity = trunkCapacity(this.usableSize);
    const data = this.scratch.subarray(0, this.usableSize);
    let leaf = trunks;
    for (let t = 0; t < trunks; t++) {
      const count = Math.min(capacity, total - leaf);
      encodeTrunk(data, t + 1 < trunks ? pages[t + 1] : 0, pages, leaf, count);
      leaf += count;
      sealPage(this.scratch, this.scratchCovered, pages[t], this.crc);
      this.writeAt(this.scratch, pages[t], `writing freelist trunk page ${pages[t]}`);
      this.pagesWritten++;
    }
    this.freeTrunk = total === 0 ? 0 : pages[0];
  }

  private writeHeader(): void {
    this.scratch.fill(0);
    encodeHeader(
      {
        pageSize: this.pageSize,
        changeCounter: this.changeCounter,
        pageCount: this.pageCountValue,
        freeTrunk: this.freeTrunk,
        freeCount: this.freePages.count,
        checkpointLsn: this.checkpointLsnValue,
        slots: this.slots,
      },
      this.scratch,
      this.crc,
    );
    sealPage(this.scratch, this.scratchCovered, 1, this.crc);
    this.writeAt(this.scratch, 1, "writing the header (page 1)");
    this.pagesWritten++;
  }

  /** Keep the file at least pageCount pages long, so a reopen never sees it truncated. */
  private extendFile(): void {
    const want = this.pageCountValue * this.pageSize;
    try {
      if (this.file.size() < want) this.file.truncate(want);
    } catch (e) {
      throw this.ioError(e, `extending the file to ${this.pageCountValue} pages`, 0);
    }
  }

  private writeAt(page: Uint8Array, pgno: number, what: string): void {
    try {
      this.file.writeAt(page, pageOffset(pgno, this.pageSize));
    } catch (e) {
      throw this.ioError(e, what, pgno);
    }
  }

  private syncFile(): void {
    try {
      this.file.sync("data");
    } catch (e) {
      throw this.ioError(e, "syncing", 0);
    }
  }

  private checkPageNumber(pgno: number, op: string): void {
    if (
      typeof pgno === "number" &&
      pgno >>> 0 === pgno &&
      pgno >= 2 &&
      pgno <= this.pageCountValue
    ) {
      if (op === "get" && this.freePages.has(pgno)) {
        throw new PagekvError(
          "ERR_PAGE_RANGE",
          `${this.path}: get of page ${pgno}, which is free`,
          {
            path: this.path,
            pgno,
          },
        );
      }
      return;
    }
    const why =
      pgno === 1 ? "page 1 belongs to the pager" : `valid pages are 2..${this.pageCountValue}`;
    throw new PagekvError("ERR_PAGE_RANGE", `${this.path}: ${op} of page ${String(pgno)}: ${why}`, {
      path: this.path,
    });
  }

  private checkSlot(i: number): number {
    if (!Number.isInteger(i) || i < 0 || i >= this.slots.length) {
      throw new PagekvError("ERR_ARG", `${this.path}: slot ${String(i)} is not in 0..7`, {
        path: this.path,
      });
    }
    return i;
  }

  private badIntent(intent: unknown): PagekvError {
    return new PagekvError(
      "ERR_ARG",
      `${this.path}: intent ${String(intent)} is not "read" or "write"`,
      {
        path: this.path,
      },
    );
  }

  private corrupt(pgno: number, what: string): PagekvError {
    return new PagekvError("ERR_CORRUPT", `${this.path}: page ${pgno} ${what}`, {
      path: this.path,
      pgno,
    });
  }

  /** Add what the pager was doing to an ERR_IO from the VFS; other errors pass through. */
  private ioError(e: unknown, what: string, pgno: number): unknown {
    if (!(e instanceof PagekvError) || e.code !== ("ERR_IO" satisfies ErrorCode)) return e;
    return new PagekvError("ERR_IO", `${this.path}: ${what}: ${e.message}`, {
      cause: e.cause,
      path: this.path,
      pgno: pgno === 0 ? undefined : pgno,
    });
  }

  private closedError(): PagekvError {
    return new PagekvError("ERR_CLOSED", `${this.path}: the pager is closed`, { path: this.path });
  }
}

function resolveOptions(path: string, pageSize: number, options: PagerOptions): Resolved {
  const cacheFrames = options.cacheFrames ?? CACHE_FRAMES_DEFAULT;
  if (
    !Number.isInteger(cacheFrames) ||
    cacheFrames < CACHE_FRAMES_MIN ||
    cacheFrames > CACHE_FRAMES_MAX ||
    cacheFrames * pageSize > ARENA_BYTES_MAX
  ) {
    throw new PagekvError(
      "ERR_ARG",
      `${path}: cacheFrames ${String(cacheFrames)} must be an integer in ` +
        `${CACHE_FRAMES_MIN}..${CACHE_FRAMES_MAX} with at most ${ARENA_BYTES_MAX} bytes of pages`,
      { path },
    );
  }
  const pageCountMax = options.pageCountMax ?? PAGE_NUMBER_MAX;
  if (!Number.isInteger(pageCountMax) || pageCountMax < 1 || pageCountMax > PAGE_NUMBER_MAX) {
    throw new PagekvError(
      "ERR_ARG",
      `${path}: pageCountMax ${String(pageCountMax)} must be an integer in 1..${PAGE_NUMBER_MAX}`,
      { path },
    );
  }
  return { cacheFrames, debug: options.debug === true, pageCountMax };
}

function closeQuietly(file: VFile): void {
  try {
    file.close();
  } catch {
    // Already failing: the first error is the one worth reporting.
  }
}
