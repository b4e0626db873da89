// The write-ahead log against what the platform allows in the same run, on NodeFS: durable
// commits vs writev + fdatasync of the same frame bytes, unsynced appends vs writev,
// recovery vs a sequential read of the log, checkpoint vs writev + fdatasync. Every figure
// is the median of rotated pagekv/raw runs, printed next to its limit.

import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import * as zlib from "node:zlib";
import { crc32 as crc32Fallback } from "../src/format/crc32.js";
import { WAL_FRAME_HEADER_BYTES, WAL_HEADER_BYTES } from "../src/format/wal-format.js";
import { CACHE_FRAMES_DEFAULT, NodeFS, Pager, type PagerStats } from "../src/index.js";
import { Wal } from "../src/wal/wal.js";
import {
  fmt,
  fmtInt,
  fsTypeName,
  machineLoad,
  median,
  medianSpeedup,
  printRunsOf,
  printTable,
  rotated,
  type Side,
  stampedPager,
  verdict,
} from "./harness.js";

const PAGE_BYTES = 4096;
const FRAME_BYTES = WAL_FRAME_HEADER_BYTES + PAGE_BYTES;
/** Measured rounds per benchmark (every side once per round, the order rotating). */
const RUNS = 7;
/** Commit rounds are short (a few hundred fsyncs) and many, to ride out a noisy disk. */
const COMMIT_RUNS = 9;
/** Recovery rounds copy a 400 MiB log per pagekv run: the minimum of 5 keeps time down. */
const RECOVERY_RUNS = 5;
/** Untimed rounds of every side before measuring, so each is JIT-compiled and warm. */
const WARMUP_RUNS = 1;
/** Linux's IOV_MAX: the most buffers one writev may carry. */
const WRITEV_BUFFERS_MAX = 1024;

// 1-2. durable commits
const HOT_PAGES = 100;
/** The "auto" side checkpoints every AUTO_FRAMES frames: once per run of one-page commits. */
const AUTO_FRAMES = 500;
const COMMITS_1_PER_RUN = 500;
const COMMITS_10_PER_RUN = 200;
const COMMIT_TARGET = 0.8;

// 3. unsynced appends
const APPEND_TXN_PAGES = 100;
const APPEND_TXNS_PER_RUN = 100;

// 4. recovery
const RECOVERY_TXNS = 1000;
const RECOVERY_TXN_PAGES = 100;
/** Distinct pages the recovery log covers: each is logged 10 times. */
const RECOVERY_PAGES = 9900;
const RECOVERY_BUILD_FRAMES = 10_240;
const READ_CHUNK_BYTES = 1 << 20;

// 5. checkpoint
const CKPT_TXNS = 10;
const CKPT_TXN_PAGES = 1000;
const CKPT_PAGES = CKPT_TXNS * CKPT_TXN_PAGES;
const CKPT_LARGE_FRAMES = 10_240;
const CKPT_SMALL_FRAMES = 256;
/** Pages per staging read in the raw read-back floor (what checkpoint stages, too). */
const CKPT_STAGING_PAGES = 256;
const CKPT_TARGET = 0.8;

type Crc32Native = (data: Uint8Array, value?: number) => number;
const nativeCrc32: Crc32Native = zlib.crc32;

type Row = [benchmark: string, pagekv: string, raw: string, ratio: string, target: string];

function main(): void {
  const t0 = process.hrtime.bigint();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "pagekv-wal-bench-"));
  console.log("pagekv write-ahead log benchmark");
  console.log(`node ${process.version} on ${os.platform()} ${os.arch()}`);
  console.log(`cpu: ${os.cpus()[0]?.model ?? "unknown"} (${os.cpus().length} logical cores)`);
  console.log(`temp dir: ${dir} (${fsTypeName(dir)})`);
  console.log(
    `each figure: median of ${RUNS} runs (commits: ${COMMIT_RUNS}, recovery: ` +
      `${RECOVERY_RUNS}) after ${WARMUP_RUNS} ` +
      "warm-up round; pagekv and raw runs rotate inside each round; ratios are medians of " +
      "the per-round ratios; page size 4096 B, log frame 40 + 4096 B",
  );
  console.log(`machine load at start: ${machineLoad()}`);
  const rows: Row[] = [];
  try {
    rows.push(...benchCommits(dir, 1, COMMITS_1_PER_RUN));
    rows.push(...benchCommits(dir, 10, COMMITS_10_PER_RUN));
    rows.push(...benchAppend(dir));
    rows.push(...benchRecovery(dir));
    rows.push(...benchCheckpoint(dir));
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
  console.log(`\nmachine load at end: ${machineLoad()}`);
  console.log("\n## Summary\n");
  printTable(["benchmark", "pagekv", "raw limit", "ratio", "target"], rows);
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  console.log(`\ntotal time ${fmt(seconds, 1)} s; temp files removed`);
}

// ---- 1-2. durable commits ----

function benchCommits(dir: string, txnPages: number, commits: number): Row[] {
  // A commit logs its pages, the commit mark on the last; page 1 only when the header
  // changes (never here, but for a log generation's first commit).
  const frames = txnPages;
  const section = txnPages === 1 ? 1 : 2;
  console.log(
    `\n## ${section}. Durable ${txnPages}-page commits (sync "full") vs writev + fdatasync ` +
      `of ${frames} frames' bytes (NodeFS)\n`,
  );
  const vfs = new NodeFS();
  // With walAutoCheckpointPages 0 the log only grows: the timed loop never checkpoints.
  const never = commitPager(vfs, path.join(dir, `commit${txnPages}.pkv`), 0);
  // Automatic checkpoints: one after the commit that takes the log to AUTO_FRAMES frames.
  const amortise = txnPages === 1;
  const auto = amortise ? commitPager(vfs, path.join(dir, "commit1-auto.pkv"), AUTO_FRAMES) : null;
  const raw = rawCommitLog(path.join(dir, `commit${txnPages}.raw`), frames, commits, 0);
  // That log resets to frame 0 every AUTO_FRAMES frames and then overwrites in place: the
  // same I/O without the file growing is this floor.
  const overwrite = amortise
    ? rawCommitLog(path.join(dir, "commit1-overwrite.raw"), frames, commits, AUTO_FRAMES)
    : null;

  // A second floor file: the same loop on another file measures how much two files alone
  // differ (block placement, journal), the noise any single floor carries on this disk.
  const raw2 = rawCommitLog(path.join(dir, `commit${txnPages}-b.raw`), frames, commits, 0);

  const sides: Side[] = [
    { run: commitLoop(never, txnPages, commits) },
    { run: raw.run },
    { run: raw2.run },
  ];
  if (auto !== null && overwrite !== null) {
    sides.push({ run: commitLoop(auto, txnPages, commits) }, { run: overwrite.run });
  }
  const beforeNever = never.stats();
  const beforeAuto = auto?.stats() ?? null;
  const t = rotated(COMMIT_RUNS, commits, sides, WARMUP_RUNS);
  const afterNever = never.stats();
  const afterAuto = auto?.stats() ?? null;
  const [pk, rawA, rawB] = t;
  // The floor of each round: the mean of the two floor files' times in that round.
  const floor = rawA.map((x, i) => (x + rawB[i]) / 2);

  const rate = (ns: readonly number[]): number => 1e9 / median(ns);
  const speed = medianSpeedup({ a: pk, b: floor });
  const speedA = medianSpeedup({ a: pk, b: rawA });
  const speedB = medianSpeedup({ a: pk, b: rawB });
  const control = medianSpeedup({ a: rawB, b: rawA });
  console.log(
    `${HOT_PAGES} hot pages, pool ${fmtInt(CACHE_FRAMES_DEFAULT)} frames (all resident), ` +
      `${fmtInt(commits)} commits/run; each commit: begin, ${txnPages} x ` +
      "get(write)+modify+unpin(dirty), commit",
  );
  console.log(
    `raw floor: per commit one fs.writevSync of ${2 * frames} buffers (${frames} x ` +
      `(40 + 4096) = ${fmtInt(frames * FRAME_BYTES)} B) appended to a growing file, ` +
      "then fs.fdatasyncSync; run on two files (a, b), the floor is their mean per round",
  );
  printRunsOf("pagekv ckpt never", pk, "us/commit", 1000);
  printRunsOf("raw append, a    ", rawA, "us/commit", 1000);
  printRunsOf("raw append, b    ", rawB, "us/commit", 1000);
  if (t.length > 3) {
    printRunsOf("pagekv ckpt 1000 ", t[3], "us/commit", 1000);
    printRunsOf("raw overwrite    ", t[4], "us/commit", 1000);
  }
  console.log(
    `pagekv, walAutoCheckpointPages 0 (never): ${fmtInt(rate(pk))} commits/s ` +
      `(${fmt(median(pk) / 1000, 1)} us/commit)`,
  );
  console.log(
    `raw writev + fdatasync, appending        : ${fmtInt(rate(floor))} loops/s ` +
      `(${fmt(median(floor) / 1000, 1)} us/loop; file a ${fmt(median(rawA) / 1000, 1)}, ` +
      `file b ${fmt(median(rawB) / 1000, 1)})`,
  );
  console.log(
    `throughput pagekv/raw                    : ${fmt(speed, 2)}x ` +
      `(target >= ${COMMIT_TARGET}x); vs file a ${fmt(speedA, 2)}x, vs file b ` +
      `${fmt(speedB, 2)}x`,
  );
  console.log(
    `control, raw file b / raw file a         : ${fmt(control, 2)}x (identical loops: ` +
      "what two files alone differ by)",
  );
  console.log(
    `timed runs (never): ${statDelta(beforeNever, afterNever, "commits")} commits, ` +
      `${statDelta(beforeNever, afterNever, "checkpoints")} checkpoints, log now ` +
      `${fmtInt(afterNever.walFrames)} frames`,
  );
  const rows: Row[] = [
    [
      `durable ${txnPages}-page commit, sync full, no checkpoint`,
      `${fmtInt(rate(pk))} commits/s`,
      // The floor appends; pagekv zero-fills its log ahead and so overwrites: on ext4 that
      // spares fdatasync a file-size change (the overwrite floor, below for 1 page).
      `${fmtInt(rate(floor))} loops/s (appending writev of ${frames} frame(s) + fdatasync)`,
      `${fmt(speed, 2)}x throughput`,
      `>= ${COMMIT_TARGET}x ${verdict(speed >= COMMIT_TARGET)}; raw/raw control ` +
        `${fmt(control, 2)}x`,
    ],
  ];
  if (auto !== null && beforeAuto !== null && afterAuto !== null && t.length > 3) {
    const autoT = t[3];
    const overT = t[4];
    const autoSpeed = medianSpeedup({ a: autoT, b: floor });
    const overSpeed = medianSpeedup({ a: autoT, b: overT });
    const checkpoints = afterAuto.checkpoints - beforeAuto.checkpoints;
    const cost = checkpointCommitCost(auto, 3 * commits);
    console.log(
      `\npagekv, walAutoCheckpointPages ${AUTO_FRAMES}: ` +
        `${fmtInt(rate(autoT))} commits/s (${fmt(median(autoT) / 1000, 1)} us/commit)`,
    );
    console.log(
      `raw writev + fdatasync, overwriting a ${AUTO_FRAMES}-frame ` +
        `region: ${fmtInt(rate(overT))} loops/s (${fmt(median(overT) / 1000, 1)} us/loop)`,
    );
    console.log(
      `throughput pagekv(auto)/raw append      : ${fmt(autoSpeed, 2)}x; ` +
        `vs raw overwrite: ${fmt(overSpeed, 2)}x`,
    );
    console.log(
      `timed runs (auto): ${statDelta(beforeAuto, afterAuto, "commits")} commits, ` +
        `${fmtInt(checkpoints)} checkpoints (one per ` +
        `${fmtInt((afterAuto.commits - beforeAuto.commits) / Math.max(1, checkpoints))} commits)`,
    );
    console.log(
      "after its first reset the auto side's log is rewritten in place: no file-size change " +
        'for fdatasync to journal; compare the append and overwrite floors for "never"',
    );
    const share = (100 * cost.amortisedUs) / cost.plainUs;
    console.log(
      `checkpoint cost, timed commit by commit over ${fmtInt(3 * commits)} more commits: ` +
        `a plain commit ${fmt(cost.plainUs, 1)} us (median), a commit that checkpoints ` +
        `${cost.checkpointUs.map((x) => fmt(x / 1000, 2)).join(", ")} ms; amortised ` +
        `${fmt(cost.amortisedUs, 1)} us/commit (${fmt(share, 1)}%)`,
    );
    rows.push(
      [
        `durable 1-page commit, sync full, auto-checkpoint every ${AUTO_FRAMES} frames`,
        `${fmtInt(rate(autoT))} commits/s`,
        `${fmtInt(rate(floor))} loops/s (append floor above)`,
        `${fmt(autoSpeed, 2)}x throughput`,
        `none; checkpoints add ${fmt(cost.amortisedUs, 1)} us/commit amortised`,
      ],
      [
        "  same, vs the floor that overwrites in place like a reset log",
        `${fmtInt(rate(autoT))} commits/s`,
        `${fmtInt(rate(overT))} loops/s (writev ${frames} frame + fdatasync)`,
        `${fmt(overSpeed, 2)}x throughput`,
        "none",
      ],
    );
  }
  never.close();
  auto?.close();
  raw.close();
  raw2.close();
  overwrite?.close();
  return rows;
}

/** A database of HOT_PAGES pages, all home, pool at its default size. */
function commitPager(vfs: NodeFS, dbPath: string, walAutoCheckpointPages: number): Pager {
  return stampedPager(vfs, dbPath, HOT_PAGES, {
    pageSize: PAGE_BYTES,
    sync: "full",
    walAutoCheckpointPages,
  });
}

/** `commits` transactions of `txnPages` consecutive hot pages each (cycling). */
function commitLoop(pager: Pager, txnPages: number, commits: number): () => number {
  let cursor = 0;
  return () => {
    let sink = 0;
    for (let c = 0; c < commits; c++) {
      pager.begin();
      for (let j = 0; j < txnPages; j++) {
        const f = pager.get(2 + cursor, "write");
        cursor = cursor + 1 === HOT_PAGES ? 0 : cursor + 1;
        f.data[1] = (f.data[1] + 1) & 0xff;
        sink ^= f.data[1];
        pager.unpin(f, true);
      }
      pager.commit();
    }
    return sink;
  };
}

/**
 * Time `commits` 1-page commits one by one and split them into plain ones and ones whose
 * commit ran the automatic checkpoint: what a checkpoint adds, and that spread over all.
 */
function checkpointCommitCost(
  pager: Pager,
  commits: number,
): { plainUs: number; checkpointUs: number[]; amortisedUs: number } {
  const plain: number[] = [];
  const checkpointing: number[] = [];
  let cursor = 0;
  for (let c = 0; c < commits; c++) {
    const before = pager.stats().checkpoints;
    const t0 = process.hrtime.bigint();
    pager.begin();
    const f = pager.get(2 + cursor, "write");
    cursor = cursor + 1 === HOT_PAGES ? 0 : cursor + 1;
    f.data[1] = (f.data[1] + 1) & 0xff;
    pager.unpin(f, true);
    pager.commit();
    const us = Number(process.hrtime.bigint() - t0) / 1000;
    (pager.stats().checkpoints > before ? checkpointing : plain).push(us);
  }
  const plainUs = median(plain);
  let extraUs = 0;
  for (const us of checkpointing) extraUs += us - plainUs;
  return { plainUs, checkpointUs: checkpointing, amortisedUs: extraUs / commits };
}

interface RawLog {
  run: () => number;
  close: () => void;
}

/**
 * The commit floor: per loop one writev of `frames` (header, page) buffer pairs at the
 * offset the log would use, then fdatasync. `regionFrames` 0 appends forever (the file
 * grows, as a never-checkpointed log does); otherwise the offset wraps within a region
 * written and synced up front, as a log reset to frame 0 is rewritten in place.
 */
function rawCommitLog(file: string, frames: number, commits: number, regionFrames: number): RawLog {
  const fd = fs.openSync(file, "w+");
  const bufs: Uint8Array[] = [];
  for (let i = 0; i < frames; i++) {
    const header = new Uint8Array(WAL_FRAME_HEADER_BYTES);
    header[3] = i + 1;
    const page = new Uint8Array(PAGE_BYTES);
    page[0] = i + 1;
    bufs.push(header, page);
  }
  const want = frames * FRAME_BYTES;
  // Same layout as the log: a 32-byte header first, so frames sit at the same offsets.
  writeAll(fd, new Uint8Array(WAL_HEADER_BYTES), 0);
  if (regionFrames > 0) writeAll(fd, new Uint8Array(regionFrames * FRAME_BYTES), WAL_HEADER_BYTES);
  fs.fdatasyncSync(fd);
  let frame = 0;
  const run = (): number => {
    for (let c = 0; c < commits; c++) {
      if (regionFrames > 0 && frame + frames > regionFrames) frame = 0;
      const n = fs.writevSync(fd, bufs, WAL_HEADER_BYTES + frame * FRAME_BYTES);
      if (n !== want) throw new Error(`short writev: ${n} of ${want} bytes`);
      fs.fdatasyncSync(fd);
      frame += frames;
    }
    return frame;
  };
  return { run, close: () => fs.closeSync(fd) };
}

// ---- 3. unsynced appends ----

function benchAppend(dir: string): Row[] {
  const frames = APPEND_TXN_PAGES; // page 1 only in a generation's first commit
  const txnBytes = frames * FRAME_BYTES;
  const runBytes = APPEND_TXNS_PER_RUN * txnBytes;
  console.log(
    `\n## 3. Log append without sync (sync "off", ${APPEND_TXN_PAGES}-page transactions) ` +
      "vs writev of the same bytes (NodeFS)\n",
  );
  const vfs = new NodeFS();
  const dbPath = path.join(dir, "append.pkv");
  const pager = stampedPager(vfs, dbPath, APPEND_TXN_PAGES, {
    pageSize: PAGE_BYTES,
    sync: "off",
    walAutoCheckpointPages: 0,
  });
  const pagekvRun = (): number => {
    let sink = 0;
    for (let t = 0; t < APPEND_TXNS_PER_RUN; t++) {
      pager.begin();
      for (let j = 0; j < APPEND_TXN_PAGES; j++) {
        const f = pager.get(2 + j, "write");
        f.data[1] = (f.data[1] + 1) & 0xff;
        f.data[3000] = t & 0xff;
        sink ^= f.data[1];
        pager.unpin(f, true);
      }
      pager.commit();
    }
    return sink;
  };
  // Before each run: checkpoint (untimed). It resets the log to frame 0 and syncs its
  // header, which also flushes the last run's frames: every run rewrites a clean log.
  const pagekvBefore = (): void => {
    pager.checkpoint();
  };

  const rawPath = path.join(dir, "append.raw");
  const fd = fs.openSync(rawPath, "w+");
  writeAll(fd, new Uint8Array(WAL_HEADER_BYTES), 0);
  const bufs: Uint8Array[] = [];
  for (let i = 0; i < frames; i++) {
    const header = new Uint8Array(WAL_FRAME_HEADER_BYTES);
    header[3] = i + 1;
    const page = new Uint8Array(PAGE_BYTES);
    page[0] = i + 1;
    bufs.push(header, page);
  }
  const rawTxn = (t: number): number => {
    const n = fs.writevSync(fd, bufs, WAL_HEADER_BYTES + t * txnBytes);
    if (n !== txnBytes) throw new Error(`short writev: ${n} of ${txnBytes} bytes`);
    return n;
  };
  const rawRun = (): number => {
    let sink = 0;
    for (let t = 0; t < APPEND_TXNS_PER_RUN; t++) sink ^= rawTxn(t);
    return sink;
  };
  // The same plus zlib's crc32 of every page and frame header: what any checksummed log
  // computes at least (pagekv seals each page and checksums each frame header).
  const rawCrcRun = (): number => {
    let sink = 0;
    for (let t = 0; t < APPEND_TXNS_PER_RUN; t++) {
      for (let i = 0; i < frames; i++) {
        const page = bufs[2 * i + 1];
        page[2] = t & 0xff;
        sink ^= nativeCrc32(bufs[2 * i], nativeCrc32(page));
      }
      rawTxn(t);
    }
    return sink;
  };
  const rawBefore = (): void => fs.fdatasyncSync(fd);

  const before = pager.stats();
  const t = rotated(
    RUNS,
    APPEND_TXNS_PER_RUN,
    [
      { run: pagekvRun, before: pagekvBefore },
      { run: rawRun, before: rawBefore },
      { run: rawCrcRun, before: rawBefore },
    ],
    WARMUP_RUNS,
  );
  const after = pager.stats();
  pager.close();
  fs.closeSync(fd);
  fs.rmSync(rawPath);

  const mbps = (ns: readonly number[]): number => (txnBytes / median(ns)) * 1000;
  const speed = medianSpeedup({ a: t[0], b: t[1] });
  const speedCrc = medianSpeedup({ a: t[0], b: t[2] });
  console.log(
    `${APPEND_TXNS_PER_RUN} transactions/run of ${APPEND_TXN_PAGES} resident pages ` +
      `(${frames} frames, ${fmtInt(txnBytes)} B, one writev of ${2 * frames} buffers each); ` +
      `${fmt(runBytes / 1e6, 1)} MB/run; walAutoCheckpointPages 0; an untimed checkpoint ` +
      "before each pagekv run resets the log, so both sides rewrite a clean file in place",
  );
  printRunsOf("pagekv      ", t[0], "ms/txn", 1e6);
  printRunsOf("raw writev  ", t[1], "ms/txn", 1e6);
  printRunsOf("raw +crc32  ", t[2], "ms/txn", 1e6);
  console.log(`pagekv commit (sync off)         : ${fmt(mbps(t[0]), 0)} MB/s of log`);
  console.log(`raw writevSync                   : ${fmt(mbps(t[1]), 0)} MB/s`);
  console.log(`raw zlib.crc32 per frame + writev: ${fmt(mbps(t[2]), 0)} MB/s`);
  console.log(
    `throughput pagekv/raw writev     : ${fmt(speed, 2)}x; vs raw+crc32: ${fmt(speedCrc, 2)}x`,
  );
  console.log(
    `timed runs: ${statDelta(before, after, "commits")} commits (plus the untimed ` +
      `checkpoints' own), ${statDelta(before, after, "checkpoints")} checkpoints (untimed)`,
  );
  return [
    [
      `log append, sync off, ${APPEND_TXN_PAGES}-page txns`,
      `${fmt(mbps(t[0]), 0)} MB/s`,
      `${fmt(mbps(t[1]), 0)} MB/s (writev)`,
      `${fmt(speed, 2)}x throughput`,
      "none stated",
    ],
    [
      "  same, vs writev + zlib.crc32 of every frame",
      `${fmt(mbps(t[0]), 0)} MB/s`,
      `${fmt(mbps(t[2]), 0)} MB/s (crc32 + writev)`,
      `${fmt(speedCrc, 2)}x throughput`,
      "none stated",
    ],
  ];
}

// ---- 4. recovery ----

function benchRecovery(dir: string): Row[] {
  const totalFrames = RECOVERY_TXNS * RECOVERY_TXN_PAGES + 1; // page 1 in the first commit
  console.log(
    `\n## 4. Recovery of a log of ${fmtInt(totalFrames)} frames vs reading it (NodeFS)\n`,
  );
  const vfs = new NodeFS();
  const crc = vfs.crc32 ?? crc32Fallback;
  const crash = path.join(dir, "crash.pkv");
  const crashWal = `${crash}-wal`;
  const tb = process.hrtime.bigint();
  buildCrashed(vfs, path.join(dir, "build.pkv"), crash);
  const logBytes = fs.statSync(crashWal).size;
  const dbBytes = fs.statSync(crash).size;
  console.log(
    `crashed state: ${fmtInt(RECOVERY_TXNS)} commits of ${RECOVERY_TXN_PAGES} pages (page 1 in the first) ` +
      `(sync "normal", walAutoCheckpointPages 0) over ${fmtInt(RECOVERY_PAGES)} distinct ` +
      `pages, copied from a pager never closed: log ${fmt(logBytes / 2 ** 20, 1)} MiB, ` +
      `main file ${fmt(dbBytes / 2 ** 20, 1)} MiB (built and copied in ` +
      `${fmt(Number(process.hrtime.bigint() - tb) / 1e9, 1)} s)`,
  );

  // pagekv: Pager.open on a fresh copy (made and synced untimed) scans the log, then
  // redoes the checkpoint: every committed page home, syncs, page 1, sync, log reset.
  const run = path.join(dir, "run.pkv");
  // Holders, not lets: the compiler does not see the closures assign them.
  const opened: { pager: Pager | null; stats: PagerStats | null } = { pager: null, stats: null };
  const openSide: Side = {
    before: () => {
      copyDurably(crash, run);
      copyDurably(crashWal, `${run}-wal`);
    },
    run: () => {
      const p = Pager.open(vfs, run);
      opened.pager = p;
      return p.pageCount;
    },
    after: () => {
      const p = opened.pager;
      if (p === null) throw new Error("Pager.open returned nothing");
      opened.stats = p.stats();
      if (p.pageCount !== RECOVERY_PAGES + 1) {
        throw new Error(`recovered ${p.pageCount} pages, want ${RECOVERY_PAGES + 1}`);
      }
      p.close();
      opened.pager = null;
      fs.rmSync(run);
    },
  };
  // The scan alone: Wal.recover reads and verifies every frame and rebuilds the index.
  let scanned = 0;
  const scanSide: Side = {
    run: () => {
      const r = Wal.recover(vfs, crashWal, null, crc, "strict");
      if (r === null) throw new Error("the crashed log was not recognised");
      scanned = r.wal.frameCount;
      r.wal.close();
      return r.found.commits;
    },
  };
  const chunk = new Uint8Array(READ_CHUNK_BYTES);
  const readLog = (withCrc: boolean): number => {
    const fd = fs.openSync(crashWal, "r");
    let sink = 0;
    let at = 0;
    for (;;) {
      const n = fs.readSync(fd, chunk, 0, chunk.length, at);
      if (n === 0) break;
      if (withCrc) sink ^= nativeCrc32(chunk.subarray(0, n));
      at += n;
    }
    fs.closeSync(fd);
    if (at !== logBytes) throw new Error(`read ${at} of ${logBytes} bytes`);
    return sink ^ at;
  };
  const readSide: Side = { run: () => readLog(false) };
  const readCrcSide: Side = { run: () => readLog(true) };
  // The I/O floor of the whole recovery: read the log, write every distinct page home in
  // runs of up to IOV_MAX pages, one fdatasync (pagekv syncs the main file twice).
  const home: Uint8Array[] = [];
  const homeArena = new Uint8Array(RECOVERY_PAGES * PAGE_BYTES);
  for (let i = 0; i < RECOVERY_PAGES; i++) {
    home.push(homeArena.subarray(i * PAGE_BYTES, (i + 1) * PAGE_BYTES));
  }
  const rawHome = path.join(dir, "raw-home.pkv");
  const readHomeSide: Side = {
    before: () => copyDurably(crash, rawHome),
    run: () => {
      const sink = readLog(false);
      const fd = fs.openSync(rawHome, "r+");
      writePages(fd, home, PAGE_BYTES);
      fs.fdatasyncSync(fd);
      fs.closeSync(fd);
      return sink;
    },
    after: () => fs.rmSync(rawHome),
  };

  const t = rotated(
    RECOVERY_RUNS,
    totalFrames,
    [openSide, readHomeSide, scanSide, readCrcSide, readSide],
    WARMUP_RUNS,
  );
  const stats = opened.stats;
  fs.rmSync(crash);
  fs.rmSync(crashWal);

  const ms = (ns: readonly number[]): number => (median(ns) * totalFrames) / 1e6;
  const fps = (ns: readonly number[]): number => 1e9 / median(ns);
  const mbps = (ns: readonly number[]): number => logBytes / ((median(ns) * totalFrames) / 1e3);
  const openVsHome = medianSpeedup({ a: t[0], b: t[1] });
  const scanVsCrc = medianSpeedup({ a: t[2], b: t[3] });
  const scanVsRead = medianSpeedup({ a: t[2], b: t[4] });
  const openVsRead = medianSpeedup({ a: t[0], b: t[4] });
  printRunsOf("pagekv Pager.open       ", t[0], "ms", 1e6 / totalFrames);
  printRunsOf("raw read + home + sync  ", t[1], "ms", 1e6 / totalFrames);
  printRunsOf("pagekv Wal.recover scan ", t[2], "ms", 1e6 / totalFrames);
  printRunsOf("raw read + crc32        ", t[3], "ms", 1e6 / totalFrames);
  printRunsOf("raw read                ", t[4], "ms", 1e6 / totalFrames);
  console.log(
    `pagekv Pager.open (scan + backfill) : ${fmt(ms(t[0]), 0)} ms, ` +
      `${fmtInt(fps(t[0]))} frames/s, ${fmt(mbps(t[0]), 0)} MB/s of log`,
  );
  console.log(
    `  of which Wal.recover (scan only)  : ${fmt(ms(t[2]), 0)} ms ` +
      `(${fmt((100 * median(t[2])) / median(t[0]), 0)}% of open), ${fmtInt(fps(t[2]))} frames/s; ` +
      `${fmtInt(scanned)} frames indexed`,
  );
  console.log(
    `  so backfill + open's rest        ~: ${fmt(ms(t[0]) - ms(t[2]), 0)} ms for ` +
      `${fmtInt(RECOVERY_PAGES)} pages home`,
  );
  console.log(
    `raw read log (1 MiB readSync)       : ${fmt(ms(t[4]), 0)} ms, ${fmtInt(fps(t[4]))} ` +
      `frames/s, ${fmt(mbps(t[4]), 0)} MB/s`,
  );
  console.log(
    `raw read log + crc32 of it          : ${fmt(ms(t[3]), 0)} ms, ${fmtInt(fps(t[3]))} frames/s`,
  );
  console.log(
    `raw read log + writev ${fmtInt(RECOVERY_PAGES)} pages home + fdatasync: ` +
      `${fmt(ms(t[1]), 0)} ms`,
  );
  console.log(
    `ratios (throughput pagekv/raw): open vs read+home ${fmt(openVsHome, 2)}x, open vs read ` +
      `${fmt(openVsRead, 2)}x, scan vs read+crc32 ${fmt(scanVsCrc, 2)}x, scan vs read ` +
      `${fmt(scanVsRead, 2)}x`,
  );
  if (stats !== null) {
    console.log(
      `last recovered pager: ${fmtInt(stats.pagesRead)} pages read, ` +
        `${fmtInt(stats.pagesWritten)} written, ${stats.checkpoints} checkpoint, ` +
        `log now ${stats.walFrames} frames`,
    );
  }
  return [
    [
      `recovery: Pager.open on a ${fmtInt(totalFrames)}-frame log (scan + backfill)`,
      `${fmt(ms(t[0]), 0)} ms (${fmtInt(fps(t[0]))} frames/s)`,
      `${fmt(ms(t[1]), 0)} ms (read log + write ${fmtInt(RECOVERY_PAGES)} pages + fdatasync)`,
      `${fmt(openVsHome, 2)}x throughput`,
      "none stated",
    ],
    [
      "  same, vs reading the log only",
      `${fmt(ms(t[0]), 0)} ms`,
      `${fmt(ms(t[4]), 0)} ms (readSync, ${fmt(mbps(t[4]), 0)} MB/s)`,
      `${fmt(openVsRead, 2)}x throughput`,
      "none stated",
    ],
    [
      "recovery scan only (Wal.recover)",
      `${fmt(ms(t[2]), 0)} ms (${fmtInt(fps(t[2]))} frames/s)`,
      `${fmt(ms(t[3]), 0)} ms (read log + crc32 of it)`,
      `${fmt(scanVsCrc, 2)}x throughput`,
      "none stated",
    ],
  ];
}

/**
 * Commit RECOVERY_TXNS transactions to a fresh database with sync "normal" and no
 * checkpoint, then copy its two files, as they are, to `crash` (synced): the state a
 * process killed right after its last commit leaves. The builder is closed only then.
 */
function buildCrashed(vfs: NodeFS, buildPath: string, crash: string): void {
  const pager = stampedPager(vfs, buildPath, RECOVERY_PAGES, {
    pageSize: PAGE_BYTES,
    cacheFrames: RECOVERY_BUILD_FRAMES,
    sync: "normal",
    walAutoCheckpointPages: 0,
  });
  for (let t = 0; t < RECOVERY_TXNS; t++) {
    pager.begin();
    for (let j = 0; j < RECOVERY_TXN_PAGES; j++) {
      const f = pager.get(2 + ((t * RECOVERY_TXN_PAGES + j) % RECOVERY_PAGES), "write");
      f.data[1] = t & 0xff;
      f.data[2] = (t >>> 8) & 0xff;
      pager.unpin(f, true);
    }
    pager.commit();
  }
  const frames = pager.stats().walFrames;
  const want = RECOVERY_TXNS * RECOVERY_TXN_PAGES + 1;
  if (frames !== want) throw new Error(`the log holds ${frames} frames, want ${want}`);
  copyDurably(buildPath, crash);
  copyDurably(`${buildPath}-wal`, `${crash}-wal`);
  pager.close();
  fs.rmSync(buildPath);
}

// ---- 5. checkpoint ----

function benchCheckpoint(dir: string): Row[] {
  console.log(
    `\n## 5. Checkpoint of ${fmtInt(CKPT_PAGES)} committed pages vs writev + fdatasync ` +
      "(NodeFS)\n",
  );
  const vfs = new NodeFS();
  const large = checkpointPager(vfs, path.join(dir, "ckpt-large.pkv"), CKPT_LARGE_FRAMES);
  const small = checkpointPager(vfs, path.join(dir, "ckpt-small.pkv"), CKPT_SMALL_FRAMES);
  const pagekvSide = (pager: Pager): Side => {
    let round = 0;
    return {
      // Untimed: CKPT_TXNS durable commits of CKPT_TXN_PAGES distinct pages each.
      before: () => {
        round++;
        for (let t = 0; t < CKPT_TXNS; t++) {
          pager.begin();
          for (let j = 0; j < CKPT_TXN_PAGES; j++) {
            const f = pager.get(2 + t * CKPT_TXN_PAGES + j, "write");
            f.data[1] = round & 0xff;
            f.data[2000] = round & 0xff;
            pager.unpin(f, true);
          }
          pager.commit();
        }
      },
      run: () => {
        pager.checkpoint();
        return 0;
      },
    };
  };

  // Floor 1: the pages from preallocated buffers, <= IOV_MAX per writev, one fdatasync.
  const rawPath = path.join(dir, "ckpt.raw");
  const fd = fs.openSync(rawPath, "w+");
  const arena = new Uint8Array(CKPT_PAGES * PAGE_BYTES);
  const pages: Uint8Array[] = [];
  for (let i = 0; i < CKPT_PAGES; i++) {
    const p = arena.subarray(i * PAGE_BYTES, (i + 1) * PAGE_BYTES);
    p[0] = i & 0xff;
    pages.push(p);
  }
  // Before every raw run (untimed), the I/O the pagekv sides' commits did just before
  // their checkpoint: CKPT_TXNS appends of CKPT_TXN_PAGES frames, each + fdatasync, so
  // every side starts from the same device state.
  const logPath = path.join(dir, "ckpt-log.raw");
  const logFd = fs.openSync(logPath, "w+");
  const txnFrames = new Uint8Array(CKPT_TXN_PAGES * FRAME_BYTES);
  const rawCommits = (): void => {
    for (let t = 0; t < CKPT_TXNS; t++) {
      writeAll(logFd, txnFrames, WAL_HEADER_BYTES + t * txnFrames.length);
      fs.fdatasyncSync(logFd);
    }
  };
  const writeSide: Side = {
    before: rawCommits,
    run: () => {
      const n = writePages(fd, pages, 0);
      fs.fdatasyncSync(fd);
      return n;
    },
  };
  // Floor 1b: the least I/O a crash-safe checkpoint does: the pages and one fdatasync, then
  // the log's reset made durable (a 32-byte header write and a second fdatasync), since
  // the old log may only be given up once the database file holds all it had.
  const resetHeader = new Uint8Array(WAL_HEADER_BYTES);
  const protocolSide: Side = {
    before: rawCommits,
    run: () => {
      const n = writePages(fd, pages, 0);
      fs.fdatasyncSync(fd);
      writeAll(logFd, resetHeader, 0);
      fs.fdatasyncSync(logFd);
      return n;
    },
  };
  // Floor 2, for the small pool: the pages must first come back from the log. Read the
  // frames just logged sequentially, CKPT_STAGING_PAGES frames per read, and write each
  // staged run's pages home, then one fdatasync.
  const logFrames = new Uint8Array(CKPT_STAGING_PAGES * FRAME_BYTES);
  const staged: Uint8Array[] = [];
  for (let i = 0; i < CKPT_STAGING_PAGES; i++) {
    const at = i * FRAME_BYTES + WAL_FRAME_HEADER_BYTES;
    staged.push(logFrames.subarray(at, at + PAGE_BYTES));
  }
  const readWriteSide: Side = {
    before: rawCommits,
    run: () => {
      let sink = 0;
      for (let at = 0; at < CKPT_PAGES; at += CKPT_STAGING_PAGES) {
        const n = Math.min(CKPT_STAGING_PAGES, CKPT_PAGES - at);
        const want = n * FRAME_BYTES;
        const got = fs.readSync(logFd, logFrames, 0, want, WAL_HEADER_BYTES + at * FRAME_BYTES);
        if (got !== want) throw new Error(`short read: ${got} of ${want} bytes`);
        const run = n === CKPT_STAGING_PAGES ? staged : staged.slice(0, n);
        const w = fs.writevSync(fd, run, at * PAGE_BYTES);
        if (w !== n * PAGE_BYTES) throw new Error(`short writev: ${w} bytes`);
        sink ^= w;
      }
      fs.fdatasyncSync(fd);
      return sink;
    },
  };
  // Give the raw files their blocks first, so every measured run overwrites in place, as
  // checkpoint overwrites the main file's pages and the commits rewrite the reset log.
  rawCommits();
  writeSide.run();

  const beforeLarge = large.stats();
  const beforeSmall = small.stats();
  const t = rotated(
    RUNS,
    CKPT_PAGES,
    [pagekvSide(large), pagekvSide(small), writeSide, readWriteSide, protocolSide],
    WARMUP_RUNS,
  );
  const afterLarge = large.stats();
  const afterSmall = small.stats();
  large.close();
  small.close();
  fs.closeSync(fd);
  fs.closeSync(logFd);
  fs.rmSync(rawPath);
  fs.rmSync(logPath);

  const rate = (ns: readonly number[]): number => 1e9 / median(ns);
  const us = (ns: readonly number[]): number => median(ns) / 1000;
  const largeSpeed = medianSpeedup({ a: t[0], b: t[2] });
  const smallSpeed = medianSpeedup({ a: t[1], b: t[2] });
  const smallVsRead = medianSpeedup({ a: t[1], b: t[3] });
  const largeVsProtocol = medianSpeedup({ a: t[0], b: t[4] });
  console.log(
    `${fmtInt(CKPT_PAGES)} pages committed (sync "full", walAutoCheckpointPages 0) in ` +
      `${CKPT_TXNS} transactions of ${fmtInt(CKPT_TXN_PAGES)} before each pagekv run ` +
      "(untimed); the timed checkpoint() backfills them (the log is already synced), writes " +
      "page 1, syncs once and resets the log (header write + sync)",
  );
  printRunsOf(`pagekv pool ${fmtInt(CKPT_LARGE_FRAMES)}`, t[0], "us/page", 1000);
  printRunsOf(`pagekv pool ${CKPT_SMALL_FRAMES}   `, t[1], "us/page", 1000);
  printRunsOf("raw writev+sync   ", t[2], "us/page", 1000);
  printRunsOf("raw read+writev+s ", t[3], "us/page", 1000);
  printRunsOf("raw 2-sync protocol", t[4], "us/page", 1000);
  console.log(
    `pagekv checkpoint, pool ${fmtInt(CKPT_LARGE_FRAMES)} (resident): ` +
      `${fmtInt(rate(t[0]))} pages/s (${fmt(us(t[0]), 2)} us/page)`,
  );
  console.log(
    `pagekv checkpoint, pool ${CKPT_SMALL_FRAMES} (from log)   : ` +
      `${fmtInt(rate(t[1]))} pages/s (${fmt(us(t[1]), 2)} us/page)`,
  );
  console.log(
    `raw writev + fdatasync                : ${fmtInt(rate(t[2]))} pages/s ` +
      `(${fmt(us(t[2]), 2)} us/page)`,
  );
  console.log(
    `raw read log + writev + fdatasync     : ${fmtInt(rate(t[3]))} pages/s ` +
      `(${fmt(us(t[3]), 2)} us/page)`,
  );
  console.log(
    `raw writev + fdatasync + log reset + fdatasync: ${fmtInt(rate(t[4]))} pages/s ` +
      `(${fmt(us(t[4]), 2)} us/page); pagekv resident vs it: ${fmt(largeVsProtocol, 2)}x`,
  );
  console.log(
    `throughput pagekv/raw: resident ${fmt(largeSpeed, 2)}x, from log ${fmt(smallSpeed, 2)}x ` +
      `(vs read+writev floor ${fmt(smallVsRead, 2)}x); target >= ${CKPT_TARGET}x`,
  );
  console.log(
    `timed+setup (pool ${fmtInt(CKPT_LARGE_FRAMES)}): ` +
      `${statDelta(beforeLarge, afterLarge, "checkpoints")} checkpoints, ` +
      `${statDelta(beforeLarge, afterLarge, "pagesRead")} pages read, ` +
      `${statDelta(beforeLarge, afterLarge, "pagesWritten")} written (log + home)`,
  );
  console.log(
    `timed+setup (pool ${CKPT_SMALL_FRAMES}): ` +
      `${statDelta(beforeSmall, afterSmall, "checkpoints")} checkpoints, ` +
      `${statDelta(beforeSmall, afterSmall, "pagesRead")} pages read, ` +
      `${statDelta(beforeSmall, afterSmall, "pagesWritten")} written (log + home), ` +
      `${statDelta(beforeSmall, afterSmall, "writebacks")} spilled to the log`,
  );
  return [
    [
      `checkpoint of ${fmtInt(CKPT_PAGES)} committed pages, pool ${fmtInt(CKPT_LARGE_FRAMES)}`,
      `${fmtInt(rate(t[0]))} pages/s`,
      `${fmtInt(rate(t[2]))} pages/s (writev+fdatasync)`,
      `${fmt(largeSpeed, 2)}x throughput`,
      `>= ${CKPT_TARGET}x ${verdict(largeSpeed >= CKPT_TARGET)}`,
    ],
    [
      "  same, vs the least I/O of a crash-safe checkpoint",
      `${fmtInt(rate(t[0]))} pages/s`,
      `${fmtInt(rate(t[4]))} pages/s (writev+fdatasync, log reset+fdatasync)`,
      `${fmt(largeVsProtocol, 2)}x throughput`,
      "none stated",
    ],
    [
      `checkpoint of ${fmtInt(CKPT_PAGES)} committed pages, pool ${CKPT_SMALL_FRAMES}`,
      `${fmtInt(rate(t[1]))} pages/s`,
      `${fmtInt(rate(t[2]))} pages/s (writev+fdatasync)`,
      `${fmt(smallSpeed, 2)}x throughput`,
      `>= ${CKPT_TARGET}x ${verdict(smallSpeed >= CKPT_TARGET)}`,
    ],
    [
      "  same, vs reading the pages from a log first",
      `${fmtInt(rate(t[1]))} pages/s`,
      `${fmtInt(rate(t[3]))} pages/s (read+writev+fdatasync)`,
      `${fmt(smallVsRead, 2)}x throughput`,
      "none stated",
    ],
  ];
}

/** CKPT_PAGES pages, all home, with a pool of `cacheFrames`. */
function checkpointPager(vfs: NodeFS, dbPath: string, cacheFrames: number): Pager {
  return stampedPager(vfs, dbPath, CKPT_PAGES, {
    pageSize: PAGE_BYTES,
    cacheFrames,
    sync: "full",
    walAutoCheckpointPages: 0,
  });
}

// ---- helpers ----

function writeAll(fd: number, buf: Uint8Array, offset: number): void {
  let done = 0;
  while (done < buf.length) {
    done += fs.writeSync(fd, buf, done, buf.length - done, offset + done);
  }
}

/** Write `pages` contiguously from `offset`, up to IOV_MAX buffers per writev. */
function writePages(fd: number, pages: readonly Uint8Array[], offset: number): number {
  let at = offset;
  for (let i = 0; i < pages.length; i += WRITEV_BUFFERS_MAX) {
    const run = pages.slice(i, i + WRITEV_BUFFERS_MAX);
    const want = run.length * PAGE_BYTES;
    const n = fs.writevSync(fd, run, at);
    if (n !== want) throw new Error(`short writev: ${n} of ${want} bytes`);
    at += n;
  }
  return at - offset;
}

/** Copy `src` to `dst` and make the copy durable, so no write-back of it lingers. */
function copyDurably(src: string, dst: string): void {
  fs.copyFileSync(src, dst);
  const fd = fs.openSync(dst, "r+");
  fs.fsyncSync(fd);
  fs.closeSync(fd);
}

/** Load average, and on Linux the I/O pressure: the disk may be shared with other work. */
function statDelta(before: PagerStats, after: PagerStats, key: NumericStat): string {
  return fmtInt(after[key] - before[key]);
}

main();

/** The counters of PagerStats (readers is a list). */
type NumericStat = Exclude<keyof PagerStats, "readers">;
