// The pager's hot paths against what the platform allows in the same run: cache hits vs a
// bare Map, misses vs pread + crc32, checkpoint vs writev + fdatasync, eviction vs raw MemFS
// I/O. Every figure is the median of alternating pagekv/raw runs, printed next to its limit.
// With the write-ahead log, checkpoint() of dirty pages first commits them to the log:
// section 3 says so and shows the floor of writing the same bytes twice as well.

import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import * as zlib from "node:zlib";
import { WAL_FRAME_HEADER_BYTES, WAL_HEADER_BYTES } from "../src/format/wal-format.js";
import { MemFS, NodeFS, Pager, type PagerStats, type VFile, type VFS } from "../src/index.js";
import {
  fmt,
  fmtInt,
  fsTypeName,
  measure,
  median,
  medianRatio,
  medianSpeedup,
  type Paired,
  paired,
  printRunsOf,
  printTable,
  rotated,
  type Side,
  stampedPager,
  verdict,
  XorShift32,
} from "./harness.js";

const PAGE_BYTES = 4096;
/** Measured pairs per benchmark (pagekv and raw alternate inside each pair). */
const RUNS = 7;
/** Untimed runs of each side before measuring, so both are JIT-compiled and warm. */
const WARMUP_RUNS = 2;

const HIT_PAGES = 1000;
const HIT_FRAMES = 1024;
const HITS_PER_RUN = 2_000_000;
const SEED_HIT_NS = 43;

const MISS_PAGES = 40_000;
const MISS_BUILD_FRAMES = 4096;
const MISS_POOLS = [500, 16_000] as const;
const MISSES_PER_RUN = 20_000;

const CKPT_PAGES = 10_000;
const CKPT_FRAMES = 10_240;
/** Linux's IOV_MAX: the most buffers one writev may carry. */
const WRITEV_BUFFERS_MAX = 1024;
const SEED_CKPT_US_PER_PAGE = 8.3;

const EVICT_PAGES = 2000;
const EVICT_FRAMES = 8;
const EVICT_STEPS = 20_000;

type Crc32Native = (data: Uint8Array, value?: number) => number;
const nativeCrc32: Crc32Native = zlib.crc32;

type Row = [benchmark: string, pagekv: string, raw: string, ratio: string, target: string];

function main(): void {
  const t0 = process.hrtime.bigint();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "pagekv-bench-"));
  console.log("pagekv pager benchmark");
  console.log(`node ${process.version} on ${os.platform()} ${os.arch()}`);
  console.log(`cpu: ${os.cpus()[0]?.model ?? "unknown"} (${os.cpus().length} logical cores)`);
  console.log(`temp dir: ${dir} (${fsTypeName(dir)})`);
  console.log(
    `each figure: median of ${RUNS} runs; pagekv and raw runs alternate; ratios are ` +
      "medians of the per-pair ratios",
  );
  const rows: Row[] = [];
  try {
    rows.push(benchHits());
    rows.push(...benchMisses(dir));
    rows.push(...benchCheckpoint(dir));
    rows.push(benchEviction("MemFS (engine's TS crc32)", new MemFS()));
    rows.push(benchEviction("MemFS + zlib.crc32", new MemFS({ crc32: nativeCrc32 })));
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
  console.log("\n## Summary\n");
  printTable(["benchmark", "pagekv", "raw limit", "ratio", "target"], rows);
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  console.log(`\ntotal time ${fmt(seconds, 1)} s; temp files removed`);
}

// ---- 1. cache hits ----

function benchHits(): Row {
  console.log(`\n## 1. Cache hit: get+unpin of a resident page vs Map.get (MemFS)\n`);
  const pager = stampedPager(new MemFS(), "/hits.pkv", HIT_PAGES, {
    pageSize: PAGE_BYTES,
    cacheFrames: HIT_FRAMES,
  });
  const first = 2;
  const rng = new XorShift32(0x5eed_0001);
  const seq = new Uint32Array(HITS_PER_RUN);
  for (let i = 0; i < seq.length; i++) seq[i] = first + rng.int(HIT_PAGES);

  // The raw peer: the same page numbers to page-sized views of one arena, as the pool has.
  const arena = new ArrayBuffer(HIT_PAGES * PAGE_BYTES);
  const map = new Map<number, Uint8Array>();
  for (let i = 0; i < HIT_PAGES; i++) {
    const d = new Uint8Array(arena, i * PAGE_BYTES, PAGE_BYTES);
    d[0] = (first + i) & 0xff;
    map.set(first + i, d);
  }

  const pagekvRun = (): number => {
    let sink = 0;
    for (let i = 0; i < seq.length; i++) {
      const f = pager.get(seq[i]);
      sink ^= f.data[0];
      pager.unpin(f);
    }
    return sink;
  };
  const rawRun = (): number => {
    let sink = 0;
    for (let i = 0; i < seq.length; i++) {
      const d = map.get(seq[i]);
      if (d === undefined) throw new Error(`page ${seq[i]} missing from the map`);
      sink ^= d[0];
    }
    return sink;
  };

  warm(pagekvRun, rawRun, HITS_PER_RUN);
  const before = pager.stats();
  const p = paired(RUNS, HITS_PER_RUN, pagekvRun, rawRun);
  const after = pager.stats();
  pager.close();

  const pagekvNs = median(p.a);
  const rawNs = median(p.b);
  const ratio = medianRatio(p);
  console.log(`${HIT_PAGES} resident pages, ${HIT_FRAMES} frames, ${fmtInt(HITS_PER_RUN)} ops/run`);
  printRuns(p, "ns/op", 1);
  console.log(`pagekv get+unpin : ${fmt(pagekvNs, 1)} ns/op`);
  console.log(`raw Map.get      : ${fmt(rawNs, 1)} ns/op`);
  console.log(`ratio pagekv/raw : ${fmt(ratio, 2)}x the cost (target <= 2x)`);
  console.log(
    `vs the Go seed   : ${fmt(pagekvNs, 1)} ns vs ${SEED_HIT_NS} ns per hit ` +
      `(${fmt(pagekvNs / SEED_HIT_NS, 2)}x the seed's cost)`,
  );
  console.log(
    `timed runs: ${delta(before, after, "hits")} hits, ${delta(before, after, "misses")} misses`,
  );
  return [
    "cache hit get+unpin (MemFS, 1000 resident pages)",
    `${fmt(pagekvNs, 1)} ns/op`,
    `${fmt(rawNs, 1)} ns/op (Map.get)`,
    `${fmt(ratio, 2)}x cost`,
    `<= 2x cost ${verdict(ratio <= 2)}; seed ${SEED_HIT_NS} ns`,
  ];
}

// ---- 2. misses on NodeFS ----

function benchMisses(dir: string): Row[] {
  console.log(`\n## 2. Miss: get+unpin of a page not in the pool vs pread + crc32 (NodeFS)\n`);
  const vfs = new NodeFS();
  const dbPath = path.join(dir, "miss.pkv");
  const build = Pager.create(vfs, dbPath, { pageSize: PAGE_BYTES, cacheFrames: MISS_BUILD_FRAMES });
  for (let i = 0; i < MISS_PAGES; i++) {
    const f = build.allocate();
    const p = f.pgno;
    f.data[0] = p & 0xff;
    f.data[1] = (p >>> 8) & 0xff;
    f.data[2] = (p >>> 16) & 0xff;
    f.data[100] = 0xa5;
    build.unpin(f, true);
  }
  build.checkpoint();
  build.close();
  const fileBytes = fs.statSync(dbPath).size;

  // A random permutation read cyclically: each page recurs only after all MISS_PAGES
  // others, far beyond either pool, so every access misses.
  const rng = new XorShift32(0x5eed_0002);
  const perm = new Uint32Array(MISS_PAGES);
  for (let i = 0; i < MISS_PAGES; i++) perm[i] = 2 + i;
  for (let i = MISS_PAGES - 1; i > 0; i--) {
    const j = rng.int(i + 1);
    const t = perm[i];
    perm[i] = perm[j];
    perm[j] = t;
  }
  console.log(
    `file: ${fmtInt(MISS_PAGES + 1)} pages of ${PAGE_BYTES} B ` +
      `(${fmt(fileBytes / 2 ** 20, 1)} MiB, in the OS cache); ` +
      `${fmtInt(MISSES_PER_RUN)} misses/run`,
  );

  const rows: Row[] = [];
  const usPerMiss: number[] = [];
  for (const frames of MISS_POOLS) {
    const pager = Pager.open(vfs, dbPath, { cacheFrames: frames });
    let pos = 0;
    const pagekvRun = (): number => {
      let sink = 0;
      for (let i = 0; i < MISSES_PER_RUN; i++) {
        const f = pager.get(perm[pos]);
        pos = pos + 1 === MISS_PAGES ? 0 : pos + 1;
        sink ^= f.data[0];
        pager.unpin(f);
      }
      return sink;
    };

    // The floor: the same pages at the same offsets into rotating slots of a buffer as
    // large as the pool, each checked with zlib's crc32, as a miss must do at least.
    const fd = fs.openSync(dbPath, "r");
    const buf = new Uint8Array(frames * PAGE_BYTES);
    const slots: Uint8Array[] = [];
    for (let s = 0; s < frames; s++) slots.push(buf.subarray(s * PAGE_BYTES, (s + 1) * PAGE_BYTES));
    let rawPos = 0;
    let slot = 0;
    const rawRun = (): number => {
      let sink = 0;
      for (let i = 0; i < MISSES_PER_RUN; i++) {
        const view = slots[slot];
        slot = slot + 1 === frames ? 0 : slot + 1;
        const n = fs.readSync(fd, view, 0, PAGE_BYTES, (perm[rawPos] - 1) * PAGE_BYTES);
        rawPos = rawPos + 1 === MISS_PAGES ? 0 : rawPos + 1;
        if (n !== PAGE_BYTES) throw new Error(`short read: ${n} bytes`);
        sink ^= nativeCrc32(view);
      }
      return sink;
    };

    warm(pagekvRun, rawRun, MISSES_PER_RUN);
    const before = pager.stats();
    const p = paired(RUNS, MISSES_PER_RUN, pagekvRun, rawRun);
    const after = pager.stats();
    pager.close();
    fs.closeSync(fd);

    const pagekvUs = median(p.a) / 1000;
    const rawUs = median(p.b) / 1000;
    const speed = medianSpeedup(p);
    usPerMiss.push(pagekvUs);
    console.log(
      `\n### pool of ${fmtInt(frames)} frames (${fmt((frames * PAGE_BYTES) / 2 ** 20, 1)} MiB)`,
    );
    printRuns(p, "us/miss", 1000);
    console.log(`pagekv get+unpin (miss) : ${fmt(pagekvUs, 2)} us/miss`);
    console.log(`raw readSync + crc32    : ${fmt(rawUs, 2)} us/page`);
    console.log(
      `throughput pagekv/raw   : ${fmt(speed, 2)}x (median of per-pair raw/pagekv time; ` +
        "target >= 0.9x)",
    );
    console.log(
      `timed runs: ${delta(before, after, "misses")} misses, ` +
        `${delta(before, after, "hits")} hits, ${delta(before, after, "evictions")} evictions`,
    );
    rows.push([
      `miss get+unpin (NodeFS, ${fmtInt(frames)}-frame pool)`,
      `${fmt(pagekvUs, 2)} us/miss`,
      `${fmt(rawUs, 2)} us/page (pread+crc32)`,
      `${fmt(speed, 2)}x throughput`,
      `>= 0.9x ${verdict(speed >= 0.9)}`,
    ]);
  }
  const [small, large] = usPerMiss;
  console.log(
    `\nmiss cost with ${fmtInt(MISS_POOLS[1])} frames vs ${fmtInt(MISS_POOLS[0])} frames: ` +
      `${fmt(large, 2)} / ${fmt(small, 2)} us = ${fmt(large / small, 2)}x`,
  );
  fs.rmSync(dbPath);
  return rows;
}

// ---- 3. checkpoint on NodeFS ----

function benchCheckpoint(dir: string): Row[] {
  console.log(
    `\n## 3. Checkpoint of ${fmtInt(CKPT_PAGES)} dirty pages (= commit to the log + backfill) ` +
      "vs writev + fdatasync, once and twice (NodeFS)\n",
  );
  const vfs = new NodeFS();
  const dbPath = path.join(dir, "ckpt.pkv");
  const pager = Pager.create(vfs, dbPath, { pageSize: PAGE_BYTES, cacheFrames: CKPT_FRAMES });
  const pages: number[] = [];
  for (let i = 0; i < CKPT_PAGES; i++) {
    const f = pager.allocate();
    f.data[0] = f.pgno & 0xff;
    f.data[1] = 1;
    pages.push(f.pgno);
    pager.unpin(f, true);
  }
  // Re-dirty every page (untimed) so each timed checkpoint really writes CKPT_PAGES pages.
  // The dirty pages form an implicit transaction: checkpoint() first commits it (appends
  // CKPT_PAGES + 1 frames to the log, fdatasync of the log), then backfills the pages
  // home, syncs, writes page 1, syncs, and resets the log (header write + sync).
  let generation = 1;
  const redirty = (): void => {
    generation = (generation + 1) & 0xff;
    for (const pgno of pages) {
      const f = pager.get(pgno, "write");
      f.data[1] = generation;
      f.data[2000] = generation;
      pager.unpin(f, true);
    }
  };
  const pagekvSide: Side = {
    before: redirty,
    run: () => {
      pager.checkpoint();
      return 0;
    },
  };

  // Floor 1: the pages from preallocated buffers, <= IOV_MAX buffers per writev, into a
  // separate file, then one fdatasync: what an unlogged checkpoint would cost at least.
  const rawPath = path.join(dir, "ckpt.raw");
  const fd = fs.openSync(rawPath, "w+");
  const chunks: Uint8Array[][] = [];
  for (let i = 0; i < CKPT_PAGES; i += WRITEV_BUFFERS_MAX) {
    const chunk: Uint8Array[] = [];
    for (let j = i; j < Math.min(CKPT_PAGES, i + WRITEV_BUFFERS_MAX); j++) {
      const b = new Uint8Array(PAGE_BYTES);
      b[0] = j & 0xff;
      b[1] = 1;
      chunk.push(b);
    }
    chunks.push(chunk);
  }
  const writeHome = (): number => {
    let offset = 0;
    for (const chunk of chunks) {
      const want = chunk.length * PAGE_BYTES;
      const n = fs.writevSync(fd, chunk, offset);
      if (n !== want) throw new Error(`short writev: ${n} of ${want} bytes`);
      offset += n;
    }
    fs.fdatasyncSync(fd);
    return offset;
  };
  // Floor 2, the minimal I/O of a logged checkpoint: the same bytes twice. First as log
  // frames (40-byte header + page, CKPT_PAGES + 1 frames with page 1, 512 frames per
  // writev as the log appends them) + fdatasync of the log, then home as floor 1.
  const rawLogPath = path.join(dir, "ckpt-log.raw");
  const logFd = fs.openSync(rawLogPath, "w+");
  const frameHeaders = new Uint8Array(WAL_FRAME_HEADER_BYTES * (CKPT_PAGES + 1));
  const logChunks: Uint8Array[][] = [];
  const allPages = chunks.flat();
  allPages.push(new Uint8Array(PAGE_BYTES)); // page 1, the commit frame
  for (let i = 0; i < allPages.length; i += WRITEV_BUFFERS_MAX / 2) {
    const chunk: Uint8Array[] = [];
    for (let j = i; j < Math.min(allPages.length, i + WRITEV_BUFFERS_MAX / 2); j++) {
      const h = WAL_FRAME_HEADER_BYTES;
      chunk.push(frameHeaders.subarray(j * h, (j + 1) * h), allPages[j]);
    }
    logChunks.push(chunk);
  }
  const frameBytes = WAL_FRAME_HEADER_BYTES + PAGE_BYTES;
  const writeLog = (): number => {
    let offset = WAL_HEADER_BYTES;
    for (const chunk of logChunks) {
      const want = (chunk.length / 2) * frameBytes;
      const n = fs.writevSync(logFd, chunk, offset);
      if (n !== want) throw new Error(`short writev: ${n} of ${want} bytes`);
      offset += n;
    }
    fs.fdatasyncSync(logFd);
    return offset;
  };
  const onceSide: Side = { run: writeHome };
  const twiceSide: Side = { run: () => writeLog() ^ writeHome() };

  // The first checkpoint and the first raw runs also allocate the files' blocks; the
  // measured ones overwrite in place on all sides (a reset log is rewritten from frame 0).
  pager.checkpoint();
  writeHome();
  writeLog();
  const before = pager.stats();
  const t = rotated(RUNS, CKPT_PAGES, [pagekvSide, onceSide, twiceSide], WARMUP_RUNS);
  const after = pager.stats();
  pager.close();
  fs.closeSync(fd);
  fs.closeSync(logFd);
  fs.rmSync(dbPath);
  fs.rmSync(rawPath);
  fs.rmSync(rawLogPath);

  const pagekvUs = median(t[0]) / 1000;
  const onceUs = median(t[1]) / 1000;
  const twiceUs = median(t[2]) / 1000;
  const speedOnce = medianSpeedup({ a: t[0], b: t[1] });
  const speedTwice = medianSpeedup({ a: t[0], b: t[2] });
  console.log(
    `${fmtInt(CKPT_PAGES)} pages of ${PAGE_BYTES} B per run, pool ${fmtInt(CKPT_FRAMES)} ` +
      'frames, sync "full"; each pagekv run logs the pages, then writes them home',
  );
  printRunsOf("pagekv       ", t[0], "us/page", 1000);
  printRunsOf("raw once     ", t[1], "us/page", 1000);
  printRunsOf("raw twice    ", t[2], "us/page", 1000);
  console.log(`pagekv checkpoint() (log commit + backfill): ${fmt(pagekvUs, 2)} us/page`);
  console.log(`raw writevSync + fdatasync, once           : ${fmt(onceUs, 2)} us/page`);
  console.log(`raw writevSync + fdatasync, twice (log+home): ${fmt(twiceUs, 2)} us/page`);
  console.log(
    `throughput pagekv/raw: vs once ${fmt(speedOnce, 2)}x (target >= 0.8x), vs twice ` +
      `${fmt(speedTwice, 2)}x`,
  );
  console.log(
    `vs the Go seed: ${fmt(pagekvUs, 2)} vs ${SEED_CKPT_US_PER_PAGE} us/page ` +
      `(${fmt(SEED_CKPT_US_PER_PAGE / pagekvUs, 2)}x the seed's throughput; the seed's ` +
      "checkpoint wrote the pages home only, with no log)",
  );
  console.log(
    `timed runs: ${delta(before, after, "pagesWritten")} pages written = ` +
      `${RUNS} x (${fmtInt(CKPT_PAGES + 1)} log frames + ${fmtInt(CKPT_PAGES)} pages home + ` +
      `page 1), ${delta(before, after, "commits")} commits, ` +
      `${delta(before, after, "checkpoints")} checkpoints`,
  );
  return [
    [
      `checkpoint of ${fmtInt(CKPT_PAGES)} dirty pages = log commit + backfill (NodeFS)`,
      `${fmt(pagekvUs, 2)} us/page`,
      `${fmt(onceUs, 2)} us/page (writev+fdatasync once)`,
      `${fmt(speedOnce, 2)}x throughput`,
      `>= 0.8x ${verdict(speedOnce >= 0.8)}; seed ${SEED_CKPT_US_PER_PAGE} us/page`,
    ],
    [
      "  same, vs the minimal I/O of a logged checkpoint",
      `${fmt(pagekvUs, 2)} us/page`,
      `${fmt(twiceUs, 2)} us/page (writev+fdatasync twice)`,
      `${fmt(speedTwice, 2)}x throughput`,
      "none stated",
    ],
  ];
}

// ---- 4. eviction round trip on MemFS ----

function benchEviction(label: string, vfs: VFS): Row {
  console.log(`\n## 4. Eviction round trip through ${EVICT_FRAMES} frames, ${label}\n`);
  const pager = stampedPager(vfs, "/evict.pkv", EVICT_PAGES, {
    pageSize: PAGE_BYTES,
    cacheFrames: EVICT_FRAMES,
  });
  const first = 2;
  const last = first + EVICT_PAGES - 1;
  let next = first;
  const pagekvRun = (): number => {
    let sink = 0;
    for (let i = 0; i < EVICT_STEPS; i++) {
      const f = pager.get(next, "write");
      next = next === last ? first : next + 1;
      f.data[0] = (f.data[0] + 1) & 0xff;
      sink ^= f.data[0];
      pager.unpin(f, true);
    }
    return sink;
  };

  // The limit: per step, one 4 KiB writeAt (the victim going home) and one 4 KiB readAt
  // (the page coming in) on the same MemFS, through 8 rotating slots.
  const raw: VFile = vfs.open("/evict.raw", { create: true });
  raw.writeAt(new Uint8Array((last + 1) * PAGE_BYTES), 0);
  raw.sync("data");
  const slots: Uint8Array[] = [];
  for (let s = 0; s < EVICT_FRAMES; s++) slots.push(new Uint8Array(PAGE_BYTES));
  let rawNext = first;
  const rawRun = (): number => {
    let sink = 0;
    for (let i = 0; i < EVICT_STEPS; i++) {
      const view = slots[i & (EVICT_FRAMES - 1)];
      const victim =
        rawNext - EVICT_FRAMES < first
          ? rawNext - EVICT_FRAMES + EVICT_PAGES
          : rawNext - EVICT_FRAMES;
      raw.writeAt(view, (victim - 1) * PAGE_BYTES);
      raw.readAt(view, (rawNext - 1) * PAGE_BYTES);
      rawNext = rawNext === last ? first : rawNext + 1;
      view[0] = (view[0] + 1) & 0xff;
      sink ^= view[0];
    }
    return sink;
  };
  // MemFS keeps a private copy of every unsynced write: sync both files between runs
  // (untimed) so memory stays bounded.
  const settle = (): void => {
    pager.checkpoint();
    raw.sync("data");
  };

  warm(pagekvRun, rawRun, EVICT_STEPS, settle);
  const before = pager.stats();
  const p = paired(RUNS, EVICT_STEPS, pagekvRun, rawRun, settle);
  const after = pager.stats();
  pager.close();
  raw.close();

  const pagekvRate = 1e9 / median(p.a);
  const rawRate = 1e9 / median(p.b);
  const speed = medianSpeedup(p);
  console.log(
    `${fmtInt(EVICT_PAGES)} pages, ${EVICT_FRAMES} frames, ${fmtInt(EVICT_STEPS)} steps/run`,
  );
  printRuns(p, "us/step", 1000);
  console.log(
    `pagekv get(write)+unpin(dirty): ${fmtInt(pagekvRate)} pages/s ` +
      `(${fmt(median(p.a) / 1000, 2)} us/page)`,
  );
  console.log(
    `raw writeAt + readAt 4 KiB    : ${fmtInt(rawRate)} pages/s ` +
      `(${fmt(median(p.b) / 1000, 2)} us/page)`,
  );
  console.log(`throughput pagekv/raw         : ${fmt(speed, 2)}x (no target)`);
  console.log(
    `timed runs: ${delta(before, after, "misses")} misses, ${delta(before, after, "hits")} hits, ` +
      `${delta(before, after, "writebacks")} write-backs`,
  );
  return [
    `eviction round trip, ${EVICT_FRAMES} frames, ${label}`,
    `${fmtInt(pagekvRate)} pages/s`,
    `${fmtInt(rawRate)} pages/s (writeAt+readAt)`,
    `${fmt(speed, 2)}x throughput`,
    "none",
  ];
}

// ---- helpers ----

function warm(a: () => number, b: () => number, ops: number, between: () => void = () => {}): void {
  for (let i = 0; i < WARMUP_RUNS; i++) {
    measure(a, ops);
    between();
    measure(b, ops);
    between();
  }
}

function printRuns(p: Paired, unit: string, divisor: number): void {
  const show = (xs: number[]): string => xs.map((x) => fmt(x / divisor, 2)).join(" ");
  console.log(`runs pagekv (${unit}): ${show(p.a)}`);
  console.log(`runs raw    (${unit}): ${show(p.b)}`);
}

function delta(before: PagerStats, after: PagerStats, key: NumericStat): string {
  return fmtInt(after[key] - before[key]);
}

main();

/** The counters of PagerStats (readers is a list). */
type NumericStat = Exclude<keyof PagerStats, "readers">;
