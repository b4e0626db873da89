// Verified page I/O: reads of page images from the log and the main file, each checked
// (length, page number, checksum) before it is trusted, the staging buffer a checkpoint
// reads runs of log frames into, and writes home. It owns no decision: the pager says
// which image to read and when to write; this says whether the bytes are what was written.
//
// Invariants:
//   - a page read here is never handed on unverified: a short read or a checksum that does
//     not match is ERR_CORRUPT naming the file (the log or the main file), frame and page;
//   - a failure of the file system is ERR_IO naming what was being done (see ioError);
//   - it allocates only the staging buffer, once, at the first checkpoint.

import { PagekvError } from "../errors.js";
import { checksummedView, pageDamage, pageOffset } from "../format/page.js";
import { WAL_FRAME_HEADER_BYTES } from "../format/wal-format.js";
import type { Crc32, VFile } from "../vfs/vfs.js";
import type { Wal } from "../wal/wal.js";

/** Checkpoint reads log frames through a staging buffer of this many frames. */
export const BACKFILL_STAGING_PAGES = 256;

/** A checkpoint's buffer of whole log frames and views of the pages in them. */
export interface Staging {
  frames: Uint8Array;
  frameBytes: number;
  pages: Uint8Array[];
  covered: Uint8Array[];
}

export class PageIO {
  /** Pages read and verified, from either file. */
  pagesRead = 0;
  /**
   * A reader beside a live writer: every log read checks the frame's header too, and a
   * frame reused by a newer generation is read from home (docs/design/readers.md,
   * "Reading a frame"). Set by the pager of a read-only open.
   */
  checkFrames = false;
  private readonly path: string;
  private readonly file: VFile;
  private readonly wal: Wal;
  private readonly crc: Crc32;
  private readonly pageSize: number;
  private staging: Staging | null = null;

  constructor(path: string, file: VFile, wal: Wal, crc: Crc32, pageSize: number) {
    this.path = path;
    this.file = file;
    this.wal = wal;
    this.crc = crc;
    this.pageSize = pageSize;
  }

  /** Read page `pgno` from the database file into `page` and verify it. */
  readHome(pgno: number, page: Uint8Array, covered: Uint8Array): void {
    let n: number;
    try {
      n = this.file.readAt(page, pageOffset(pgno, this.pageSize));
    } catch (e) {
      throw ioError(this.path, e, `reading page ${pgno}`, pgno);
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

  /** Read page `pgno`'s image from log frame `frame` into `page` and verify it. */
  readLogged(frame: number, pgno: number, page: Uint8Array, covered: Uint8Array): void {
    if (this.checkFrames) {
      this.readFollowed(frame, pgno, page, covered);
      return;
    }
    let n: number;
    try {
      n = this.wal.readPage(frame, page);
    } catch (e) {
      throw ioError(this.path, e, `reading page ${pgno} from log frame ${frame}`, pgno);
    }
    const damage =
      n !== this.pageSize ? `is cut short (${n} bytes)` : pageDamage(page, covered, pgno, this.crc);
    if (damage !== null) throw this.corruptFrame(frame, pgno, damage);
    this.pagesRead++;
  }

  /**
   * A reader's log read. A frame that no longer verifies as this generation's was reused
   * by a reset, which happens only once the generation is home and every reader is at its
   * end (rule 2), so home holds the image; a frame that does not verify in a log still of
   * this generation is damage.
   */
  private readFollowed(frame: number, pgno: number, page: Uint8Array, covered: Uint8Array): void {
    let ok: boolean;
    try {
      ok = this.wal.readChecked(frame, pgno, page);
    } catch (e) {
      throw ioError(this.path, e, `reading page ${pgno} from log frame ${frame}`, pgno);
    }
    if (!ok) {
      if (this.wal.headerMoved()) {
        this.readHome(pgno, page, covered);
        return;
      }
      throw this.corruptFrame(frame, pgno, "does not verify (header, position or checksum)");
    }
    const damage = pageDamage(page, covered, pgno, this.crc);
    if (damage !== null) throw this.corruptFrame(frame, pgno, damage);
    this.pagesRead++;
  }

  /** Read `pgno`'s image from log frame `frame` when it is >= 0, else from home. */
  read(frame: number, pgno: number, page: Uint8Array, covered: Uint8Array): void {
    if (frame >= 0) this.readLogged(frame, pgno, page, covered);
    else this.readHome(pgno, page, covered);
  }

  /** Whole log frames for a checkpoint, with views of their pages: allocated at first use. */
  stage(): Staging {
    if (this.staging === null) {
      const frameBytes = WAL_FRAME_HEADER_BYTES + this.pageSize;
      const frames = new Uint8Array(BACKFILL_STAGING_PAGES * frameBytes);
      const pages: Uint8Array[] = [];
      const covered: Uint8Array[] = [];
      for (let i = 0; i < BACKFILL_STAGING_PAGES; i++) {
        const at = i * frameBytes + WAL_FRAME_HEADER_BYTES;
        pages.push(frames.subarray(at, at + this.pageSize));
        covered.push(checksummedView(pages[i]));
      }
      this.staging = { frames, frameBytes, pages, covered };
    }
    return this.staging;
  }

  /** Read log frames from..from+pgnos.length-1 into staging slots from `slot`, verified. */
  readLoggedRun(from: number, pgnos: readonly number[], slot: number): void {
    const stage = this.stage();
    const bytes = pgnos.length * stage.frameBytes;
    const dst = stage.frames.subarray(slot * stage.frameBytes, slot * stage.frameBytes + bytes);
    let n: number;
    try {
      n = this.wal.readFrames(from, dst);
    } catch (e) {
      throw ioError(this.path, e, `reading log frames ${from}..${from + pgnos.length - 1}`, 0);
    }
    for (let i = 0; i < pgnos.length; i++) {
      const cut = n < (i + 1) * stage.frameBytes;
      const damage = cut
        ? "is cut short"
        : pageDamage(stage.pages[slot + i], stage.covered[slot + i], pgnos[i], this.crc);
      if (damage !== null) throw this.corruptFrame(from + i, pgnos[i], damage);
    }
    this.pagesRead += pgnos.length;
  }

  /** Write sealed pages first.. home in one write (a checkpoint's). */
  writeHome(run: readonly Uint8Array[], first: number): void {
    try {
      this.file.writevAt(run, pageOffset(first, this.pageSize));
    } catch (e) {
      throw ioError(this.path, e, `writing pages ${first}..${first + run.length - 1} home`, first);
    }
  }

  private corrupt(pgno: number, what: string): PagekvError {
    return new PagekvError("ERR_CORRUPT", `${this.path}: page ${pgno} ${what}`, {
      path: this.path,
      pgno,
    });
  }

  private corruptFrame(frame: number, pgno: number, damage: string): PagekvError {
    return new PagekvError(
      "ERR_CORRUPT",
      `${this.wal.path}: log frame ${frame} (page ${pgno}) ${damage}`,
      { path: this.wal.path, pgno },
    );
  }
}

/**
 * An ERR_IO from the VFS with what the pager was doing added (and the database's path);
 * any other error passes through unchanged.
 */
export function ioError(path: string, e: unknown, what: string, pgno: number): unknown {
  if (!(e instanceof PagekvError) || e.code !== "ERR_IO") return e;
  return new PagekvError("ERR_IO", `${path}: ${what}: ${e.message}`, {
    cause: e.cause,
    path,
    pgno: pgno === 0 ? undefined : pgno,
  });
}
