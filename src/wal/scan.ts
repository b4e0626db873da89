// The recovery scan: reads a log's frames in order, verifies each, and links the committed
// ones into a WalIndex. It also reads the salts of a log whose header is damaged from its
// frames. It never writes: what to do with what it found (redo, reset) is the pager's.
//
// Invariants:
//   - the scan stops at the first frame that fails its checks, or whose LSN is lower than the
//     one before it (a leftover of a rewound append, see wal.ts): nothing past it is linked;
//   - when the scan ends, the linked frames are exactly the frames of the commits it kept:
//     the frames of a transaction that never committed (rolled back, or cut by the end of the
//     log) are unlinked by removeFrom as soon as the next transaction's frame, or the end,
//     shows they will not commit;
//   - it can continue where a previous scan of the same generation left off: it reads again
//     from that scan's committed end (see `scanLog`).

import { PagekvError } from "../errors.js";
import { pageDamage, readTrailerCrc } from "../format/page.js";
import {
  decodeFrameHeader,
  type FrameFields,
  frameGeneration,
  WAL_FRAME_HEADER_BYTES,
  WAL_HEADER_BYTES,
  type WalHeader,
  walFrameBytes,
  walFrameOffset,
} from "../format/wal-format.js";
import type { Crc32, VFile } from "../vfs/vfs.js";
import { WAL_INDEX_FRAMES_MAX, type WalIndex } from "./wal-index.js";

/** Frames read per call during the recovery scan, at most. */
const SCAN_FRAMES_PER_READ = 128;
/** Frames of a scan's first read: a reader's refresh usually finds a few new frames. */
const SCAN_FRAMES_FIRST_READ = 4;

export type RecoverMode = "strict" | "truncate";
/**
 * How a scan treats a frame that fails its checks: recovery ("strict", "truncate") looks
 * past it for evidence that it had been synced; a reader following a live log ("follow":
 * docs/design/readers.md) takes it as the end of what is committed so far, since it may be
 * a frame being written, and reads nothing past it.
 */
export type ScanMode = RecoverMode | "follow";

/** What the recovery scan found in an existing log. */
export interface WalRecovery {
  /** Commits found intact and kept. */
  commits: number;
  /** Commits found after damage to synced frames and dropped (recover: "truncate"). */
  droppedTransactions: number;
  /** LSN of the last kept commit, 0n when none. */
  lastCommitLsn: bigint;
  /** Highest LSN on any valid frame, committed or not. */
  maxLsn: bigint;
  /** Page count recorded by the last kept commit, 0 when none. */
  pageCount: number;
}

export function emptyRecovery(): WalRecovery {
  return { commits: 0, droppedTransactions: 0, lastCommitLsn: 0n, maxLsn: 0n, pageCount: 0 };
}

/** A scan's progress through one generation of a log: where the next scan continues. */
export interface ScanState {
  /** Frames that verified, from frame 0: the log's end as far as the scan knows. */
  frames: number;
  /** Frames up to the last kept commit mark (0 when none): where a next scan starts. */
  committedEnd: number;
  /** What was found so far (counts accumulate over scans of the same generation). */
  found: WalRecovery;
}

/** The state before any frame of a generation is scanned. */
export function emptyScanState(): ScanState {
  return { frames: 0, committedEnd: 0, found: emptyRecovery() };
}

/**
 * A scan's read buffer (SCAN_FRAMES_PER_READ frames) and views of each frame slot in it,
 * made once: a scan allocates nothing per frame, and a Wal that scans often (a reader's
 * refresh) keeps one.
 */
export class ScanBuffers {
  readonly chunk: Uint8Array;
  readonly slots: { header: Uint8Array; page: Uint8Array; covered: Uint8Array }[] = [];

  constructor(pageSize: number) {
    const frameBytes = walFrameBytes(pageSize);
    this.chunk = new Uint8Array(SCAN_FRAMES_PER_READ * frameBytes);
    for (let i = 0; i < SCAN_FRAMES_PER_READ; i++) {
      const at = i * frameBytes;
      const page = this.chunk.subarray(at + WAL_FRAME_HEADER_BYTES, at + frameBytes);
      this.slots.push({
        header: this.chunk.subarray(at, at + WAL_FRAME_HEADER_BYTES),
        page,
        covered: page.subarray(0, pageSize - 4),
      });
    }
  }
}

/** The log a scan reads: its file, and the generation (salts) its frames must carry. */
export interface ScanSource {
  readonly file: VFile;
  readonly path: string;
  readonly salt: WalHeader;
  readonly crc: Crc32;
}

/**
 * Scan `log` from frame `state.committedEnd` on, link every kept commit's frames into
 * `index` and update `state` (its frame count, committed end and counts). From frame 0 with
 * an empty state and index, it is the recovery of a whole log. Continuing (issue 11: frames
 * another process appended since), `index` must hold exactly the commits of the scan that
 * left `state`. The scan continues at the committed end rather than at `state.frames`:
 * the frames past it were unlinked at the end of the previous scan, and may belong to a
 * transaction whose commit mark was appended since.
 *
 * Damage to frames that had been synced throws ERR_CORRUPT naming the frame, or with mode
 * "truncate" keeps the commits before it and counts the ones dropped
 * (`found.droppedTransactions`, the count of this scan). Frames at or past `limit` are not
 * read (a reader stops at the log's published end: docs/design/group-commit.md).
 */
export function scanLog(
  log: ScanSource,
  index: WalIndex,
  mode: ScanMode,
  state: ScanState,
  buffers: ScanBuffers = new ScanBuffers(log.salt.pageSize),
  limit = WAL_INDEX_FRAMES_MAX,
): void {
  const from = state.committedEnd;
  const found = state.found;
  const { file, salt, crc } = log;
  const pageSize = salt.pageSize;
  const frameBytes = walFrameBytes(pageSize);
  const size = file.size();
  // An append never passes WAL_INDEX_FRAMES_MAX (ERR_FULL): frames past it are not the log's.
  const total = Math.min(
    limit,
    size > WAL_HEADER_BYTES ? Math.floor((size - WAL_HEADER_BYTES) / frameBytes) : 0,
  );
  const { chunk, slots } = buffers;
  // Reads grow from a few frames to the whole buffer: O(new frames) bytes for a refresh.
  let readFrames = SCAN_FRAMES_FIRST_READ;
  const f: FrameFields = { pgno: 0, commit: 0, lsn: 0n, index: 0, synced: 0 };
  // The LSN of the frame before `from`: the last kept commit's, none at frame 0.
  let lsn = from > 0 ? found.lastCommitLsn : -1n;
  let committedEnd = from;
  let breakAt = -1;
  let chunkStart = -1;
  let chunkFrames = 0;
  const frameAt = (i: number): (typeof slots)[number] | null => {
    if (i < chunkStart || i >= chunkStart + chunkFrames) {
      chunkStart = i;
      const want = Math.min(readFrames, total - i);
      readFrames = Math.min(SCAN_FRAMES_PER_READ, readFrames * 2);
      const got = file.readAt(chunk.subarray(0, want * frameBytes), walFrameOffset(i, pageSize));
      chunkFrames = Math.floor(got / frameBytes);
      if (chunkFrames === 0) return null;
    }
    return slots[i - chunkStart];
  };
  const valid = (i: number, fr: { header: Uint8Array; page: Uint8Array }): boolean =>
    decodeFrameHeader(fr.header, readTrailerCrc(fr.page), salt, i, crc, f);

  for (let i = from; i < total; i++) {
    const fr = frameAt(i);
    if (
      fr === null ||
      !valid(i, fr) ||
      f.pgno === 0 ||
      pageDamage(fr.page, fr.covered, f.pgno, crc) !== null
    ) {
      breakAt = i;
      break;
    }
    if (f.lsn < lsn) {
      breakAt = i; // a leftover of a rewound append: the log ended before it
      break;
    }
    if (f.lsn !== lsn) {
      // An earlier transaction that never committed (rolled back): unlink its frames.
      index.removeFrom(committedEnd);
      lsn = f.lsn;
    }
    index.add(i, f.pgno);
    if (f.lsn > found.maxLsn) found.maxLsn = f.lsn;
    if (f.commit !== 0) {
      found.commits++;
      found.lastCommitLsn = f.lsn;
      found.pageCount = f.commit;
      committedEnd = i + 1;
    }
  }
  // The transaction the log ends in never committed.
  index.removeFrom(committedEnd);
  state.frames = breakAt < 0 ? Math.max(total, from) : breakAt;
  state.committedEnd = committedEnd;

  found.droppedTransactions = 0;
  if (breakAt >= 0 && mode !== "follow") {
    // Was the broken frame ever synced? Any later frame of this generation that counted
    // it among the synced ones says so; without such evidence it is a torn tail.
    let durableDamage = false;
    let dropped = 0;
    for (let j = breakAt + 1; j < total; j++) {
      const fr = frameAt(j);
      if (fr === null) break;
      if (!valid(j, fr)) continue;
      if (f.synced > breakAt) durableDamage = true;
      if (f.commit !== 0) dropped++;
    }
    if (durableDamage && mode === "strict") {
      throw new PagekvError(
        "ERR_CORRUPT",
        `${log.path}: log frame ${breakAt} is damaged but had been synced: committed data ` +
          `is lost (open with recover: "truncate" to keep the ${found.commits} commits before it)`,
        { path: log.path },
      );
    }
    if (durableDamage) found.droppedTransactions = dropped;
  }
}

/**
 * The salts of a log whose header is damaged, read from its frames. When frame 0 verifies
 * as this database's (under the generation it names), that generation is the log's to
 * replay: frame 0 is the first frame a generation writes, after its header is durable, so
 * it names either the header's generation or, when that one wrote no frame yet, the one
 * before it, whose every page a checkpoint already copied home (replaying it writes the
 * same images again; the home header's checkpoint LSN is kept). Otherwise, if any
 * frame of this database says frames had been synced, committed data is damaged: strict
 * is ERR_CORRUPT naming the header; "truncate" gives up the log (returning how many commit
 * marks it gives up, at least 1). With no such frame the log holds nothing durable: null.
 */
export function saltFromFrames(
  file: VFile,
  path: string,
  expect: { pageSize: number; databaseId: number },
  crc: Crc32,
  mode: RecoverMode,
): { salt: WalHeader | null; dropped: number } {
  const frameBytes = walFrameBytes(expect.pageSize);
  const total = Math.floor(Math.max(0, file.size() - WAL_HEADER_BYTES) / frameBytes);
  const frame = new Uint8Array(frameBytes);
  const header = frame.subarray(0, WAL_FRAME_HEADER_BYTES);
  const page = frame.subarray(WAL_FRAME_HEADER_BYTES);
  const covered = page.subarray(0, expect.pageSize - 4);
  const fields: FrameFields = { pgno: 0, commit: 0, lsn: 0n, index: 0, synced: 0 };
  const verifies = (i: number): WalHeader | null => {
    if (file.readAt(frame, walFrameOffset(i, expect.pageSize)) < frameBytes) return null;
    const salt = { ...expect, generation: frameGeneration(header) };
    const ok =
      decodeFrameHeader(header, readTrailerCrc(page), salt, i, crc, fields) &&
      fields.pgno !== 0 &&
      pageDamage(page, covered, fields.pgno, crc) === null;
    return ok ? salt : null;
  };
  if (total === 0) return { salt: null, dropped: 0 };
  const first = verifies(0);
  if (first !== null) return { salt: first, dropped: 0 };
  let synced = 0;
  let commits = 0;
  let witness = -1;
  for (let i = 1; i < total; i++) {
    if (verifies(i) === null) continue;
    if (fields.synced > synced) {
      synced = fields.synced;
      witness = i;
    }
    if (fields.commit !== 0) commits++;
  }
  if (witness < 0) return { salt: null, dropped: 0 };
  if (mode === "strict") {
    throw new PagekvError(
      "ERR_CORRUPT",
      `${path}: the log header is damaged and so is its first frame, while frame ${witness} ` +
        `of this database says ${synced} frames had been synced: committed data is lost ` +
        `(open with recover: "truncate" to open without the log)`,
      { path },
    );
  }
  return { salt: { ...expect, generation: 0 }, dropped: Math.max(1, commits) };
}
