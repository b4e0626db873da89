// Online backup: a copy of one snapshot of a live database into a new, clean single-file
// database (no log), written under a temporary name, synced, then renamed into place. It
// owns the copy's page 1, the snapshot's freelist and the chunked loop; it never writes the
// source and never reads pages through the buffer pool. Protocol, crash points and races:
// docs/design/backup.md.
//
// Invariants:
//   - every page copied is the snapshot's image (Pager.readRunAt), whatever the writer
//     commits or checkpoints between chunks; the snapshot is closed when the run ends;
//   - nothing is ever written under `dest` but by the final rename of a synced, closed file;
//   - a failed run deletes its temporary file (best effort: a crash may leave it);
//   - memory: one chunk buffer (chunkPages pages), one page of scratch, the free pages.

import { assert, PagekvError } from "../errors.js";
import { readU32 } from "../format/codec.js";
import { loadFreelist } from "../format/freelist.js";
import { decodeHeader, encodeHeader } from "../format/header.js";
import { checksummedView, sealPage } from "../format/page.js";
import { checkOptions, describe, optionalInteger } from "../options.js";
import { type Pager, type PagerSnapshot, walPathOf } from "../pager/pager.js";
import type { VFile, VFS } from "../vfs/vfs.js";

/** A backup copies this many bytes of pages per chunk unless told otherwise. */
export const BACKUP_CHUNK_BYTES = 2 ** 20;
/** The most pages one chunk may hold (`chunkPages`): 256 MiB at 64 KiB pages. */
export const BACKUP_CHUNK_PAGES_MAX = 4096;
/** The copy is written as `<dest>` + this, then renamed to `<dest>`. */
export const BACKUP_TEMP_SUFFIX = ".backup-tmp";

export interface BackupProgress {
  /** Pages written to the copy so far. */
  pagesDone: number;
  /** Pages the copy will hold (the snapshot's page count). */
  pagesTotal: number;
  /** Bytes written so far (pagesDone x page size). */
  bytesDone: number;
}

export interface BackupOptions {
  /**
   * Called after each chunk (and once at the start, with pagesDone 0). It may read and write
   * the database: the copy is of the snapshot taken before it first ran.
   */
  onProgress?: (progress: BackupProgress) => void;
  /** Pages per chunk, 1..BACKUP_CHUNK_PAGES_MAX (default: BACKUP_CHUNK_BYTES of pages). */
  chunkPages?: number;
}

export interface BackupResult {
  /** Pages in the copy, page 1 included. */
  pages: number;
  /** Bytes of the copy. */
  bytes: number;
  /** The LSN of the commit the copy holds (0n: the empty database before any commit). */
  lsn: bigint;
}

const BACKUP_OPTIONS = ["onProgress", "chunkPages"] as const;

/**
 * One backup from start to end: start() takes the snapshot and makes the temporary file,
 * step() copies one chunk, finish() syncs and publishes, abort() undoes.
 */
export class BackupRun {
  private readonly pager: Pager;
  private readonly vfs: VFS;
  private readonly dest: string;
  private readonly temp: string;
  private readonly onProgress: ((p: BackupProgress) => void) | undefined;
  private readonly chunkPages: number;
  /** The application id to stamp on a format-2 copy (it is written as version 3). */
  private readonly legacyId: number;
  private snap: PagerSnapshot | null = null;
  private file: VFile | null = null;
  private madeTemp = false;
  private chunk: Uint8Array = new Uint8Array(0);
  /** The snapshot's free pages that are not trunks, ascending: written as sealed zeros. */
  private free: Uint32Array = new Uint32Array(0);
  private next = 1;
  private pageCount = 0;
  private lsn = 0n;

  constructor(pager: Pager, dest: unknown, options: unknown, legacyId: number) {
    const path = pager.path;
    if (typeof dest !== "string" || dest.length === 0) {
      throw new PagekvError(
        "ERR_ARG",
        `${path}: backup: the destination must be a non-empty string, got ${describe(dest)}`,
        { path },
      );
    }
    const where = `${path}: backup`;
    const o = checkOptions<BackupOptions>(options ?? {}, BACKUP_OPTIONS, where, path);
    if (o.onProgress !== undefined && typeof o.onProgress !== "function") {
      throw new PagekvError(
        "ERR_ARG",
        `${where}: option "onProgress" must be a function, got ${describe(o.onProgress)}`,
        { path },
      );
    }
    const rename = pager.fileSystem.rename;
    if (typeof rename !== "function") {
      throw new PagekvError(
        "ERR_ARG",
        `${where}: this file system cannot rename files, which a backup needs to publish its copy whole`,
        { path },
      );
    }
    this.pager = pager;
    this.vfs = pager.fileSystem;
    this.dest = dest;
    this.temp = dest + BACKUP_TEMP_SUFFIX;
    this.onProgress = o.onProgress;
    const byDefault = Math.max(1, Math.floor(BACKUP_CHUNK_BYTES / pager.pageSize));
    this.chunkPages =
      optionalInteger(o.chunkPages, "chunkPages", 1, BACKUP_CHUNK_PAGES_MAX, where, path) ??
      byDefault;
    this.legacyId = legacyId;
  }

  /** Take the snapshot and create the temporary file; nothing under `dest` yet. */
  start(): void {
    this.refuseExisting();
    const pager = this.pager;
    this.snap = pager.snapshot();
    try {
      const s = this.snap;
      this.pageCount = s.pageCount;
      this.lsn = s.lsn;
      this.chunk = new Uint8Array(Math.min(this.chunkPages, s.pageCount) * pager.pageSize);
      this.readFreelist(s);
      try {
        this.file = this.vfs.open(this.temp, { create: true, exclusive: true });
      } catch (e) {
        if (e instanceof PagekvError && e.code === "ERR_EXISTS") {
          throw new PagekvError(
            "ERR_EXISTS",
            `${this.temp}: exists: another backup to ${this.dest} is running, or one was ` +
              "interrupted (delete it if none is running)",
            { path: this.temp },
          );
        }
        throw e;
      }
      this.madeTemp = true;
      this.report();
    } catch (e) {
      this.abort();
      throw e;
    }
  }

  /** Copy the next chunk; false once every page is written. */
  step(): boolean {
    if (this.next > this.pageCount) return false;
    try {
      this.copyChunk();
      this.report();
    } catch (e) {
      this.abort();
      throw e;
    }
    return this.next <= this.pageCount;
  }

  /**
   * finish(), with the copy's sync off the thread where the VFS can (VFile.syncAsync): the
   * thread's other work, a writer's commits included, goes on while the copy is synced.
   */
  async finishAsync(): Promise<BackupResult> {
    const file = this.file;
    assert(file !== null && this.next > this.pageCount, "backup finished before its last chunk");
    try {
      if (file.syncAsync === undefined) file.sync("full");
      else await file.syncAsync("full");
    } catch (e) {
      this.abort();
      throw e;
    }
    return this.finish(true);
  }

  /** Sync the copy (unless `synced`), close it and rename it into place; close the snapshot. */
  finish(synced = false): BackupResult {
    const file = this.file;
    assert(file !== null && this.next > this.pageCount, "backup finished before its last chunk");
    try {
      if (!synced) file.sync("full");
      this.file = null;
      file.close();
      // Checked again: the window left is this call to the rename (docs/design/backup.md).
      this.refuseExisting();
      (this.vfs.rename as (from: string, to: string) => void).call(this.vfs, this.temp, this.dest);
      this.madeTemp = false;
    } catch (e) {
      this.abort();
      throw e;
    }
    this.closeSnapshot();
    return { pages: this.pageCount, bytes: this.pageCount * this.pager.pageSize, lsn: this.lsn };
  }

  /** Undo: close and delete the temporary file, close the snapshot. Never throws. */
  abort(): void {
    const file = this.file;
    this.file = null;
    if (file !== null) {
      try {
        file.close();
      } catch {
        // Failing already: the first error is the one reported.
      }
    }
    if (this.madeTemp) {
      this.madeTemp = false;
      try {
        this.vfs.delete(this.temp);
      } catch {
        // A crash or a failing disk: the temporary file stays, never under `dest`.
      }
    }
    this.closeSnapshot();
  }

  private closeSnapshot(): void {
    const s = this.snap;
    this.snap = null;
    if (s !== null) {
      try {
        s.close();
      } catch {
        // A snapshot's close only fails on a pager that is failing already.
      }
    }
  }

  private report(): void {
    const size = this.pager.pageSize;
    const done = this.next - 1;
    this.onProgress?.({ pagesDone: done, pagesTotal: this.pageCount, bytesDone: done * size });
  }

  private refuseExisting(): void {
    for (const p of [this.dest, walPathOf(this.dest)]) {
      if (this.vfs.exists(p)) {
        throw new PagekvError(
          "ERR_EXISTS",
          `${p}: exists: a backup never overwrites a file (the destination and its log must not exist)`,
          { path: p },
        );
      }
    }
  }

  /** The snapshot's freelist, read from its trunk pages (the pager's is the live one). */
  private readFreelist(s: PagerSnapshot): void {
    const pager = this.pager;
    const page = new Uint8Array(pager.pageSize);
    pager.readRunAt(s, 1, 1, page, () => false);
    const header = decodeHeader(page, pager.crc32, `${pager.path} (page 1 of the snapshot)`);
    if (header.pageCount !== s.pageCount) {
      throw new PagekvError(
        "ERR_CORRUPT",
        `${pager.path}: page 1 of the snapshot says ${header.pageCount} pages, the snapshot ${s.pageCount}`,
        { path: pager.path, pgno: 1 },
      );
    }
    if (header.freeCount === 0) return;
    const usable = pager.usableSize;
    const readTrunk = (pgno: number): Uint8Array => {
      pager.readRunAt(s, pgno, 1, page, () => false);
      return page.subarray(0, usable);
    };
    const all = loadFreelist(
      { path: pager.path, pageCount: s.pageCount, usableSize: usable, readTrunk },
      header.freeTrunk,
      header.freeCount,
    );
    // The chain was verified whole: its trunks are walked again, bounded by its length.
    const trunks = new Set<number>();
    for (let t = header.freeTrunk; t !== 0 && trunks.size < all.length; ) {
      trunks.add(t);
      t = readU32(readTrunk(t), 0);
    }
    this.free = Uint32Array.from(all.filter((p) => !trunks.has(p))).sort();
  }

  private isFree(pgno: number): boolean {
    const free = this.free;
    let lo = 0;
    let hi = free.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (free[mid] < pgno) lo = mid + 1;
      else hi = mid;
    }
    return lo < free.length && free[lo] === pgno;
  }

  private copyChunk(): void {
    const pager = this.pager;
    const s = this.snap as PagerSnapshot;
    const file = this.file as VFile;
    const size = pager.pageSize;
    const first = this.next;
    const n = Math.min(this.chunkPages, this.pageCount - first + 1);
    const out = this.chunk;
    const skip = (pgno: number) => this.isFree(pgno);
    pager.readRunAt(s, first, n, out, skip);
    for (let i = 0; i < n; i++) {
      const pgno = first + i;
      const page = out.subarray(i * size, (i + 1) * size);
      if (pgno === 1) this.rewriteHeader(page);
      else if (skip(pgno)) {
        page.fill(0);
        sealPage(page, checksummedView(page), pgno, pager.crc32);
      }
    }
    file.writeAt(out.subarray(0, n * size), (first - 1) * size);
    this.next = first + n;
  }

  /**
   * The copy's page 1: the snapshot's header with its commit's LSN as the checkpoint LSN
   * and a new database id (a log of the source never replays onto the copy).
   */
  private rewriteHeader(page: Uint8Array): void {
    const pager = this.pager;
    const crc = pager.crc32;
    const h = decodeHeader(page, crc, `${pager.path} (page 1 of the snapshot)`);
    if (this.lsn > h.checkpointLsn) h.checkpointLsn = this.lsn;
    h.databaseId = newDatabaseId(h.databaseId);
    if (h.legacy) h.applicationId = this.legacyId;
    page.fill(0);
    encodeHeader(h, page, crc);
    sealPage(page, checksummedView(page), 1, crc);
  }
}

/** A random u32 other than `old`. */
function newDatabaseId(old: number): number {
  for (;;) {
    const id = (Math.random() * 0x1_0000_0000) >>> 0;
    if (id !== old) return id;
  }
}

/** The whole backup in this call (docs/design/backup.md, "Bounded work per step"). */
export function backup(run: BackupRun): BackupResult {
  run.start();
  while (run.step()) {
    // One chunk a step; onProgress runs between them.
  }
  return run.finish();
}

/** The backup with a macrotask turn between chunks: the thread's other work goes on. */
export async function backupAsync(run: BackupRun): Promise<BackupResult> {
  run.start();
  for (;;) {
    await nextTurn();
    if (!run.step()) break;
  }
  return run.finishAsync();
}

function nextTurn(): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, 0));
}
