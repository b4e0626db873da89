// What snapshots cost, on NodeFS in a temp dir: hot gets, range scans and durable commits
// of this build against the build before snapshots (bench/baseline.ts makes it) in one
// process, on files made with the same options; a get through db.snapshot() against a plain
// get; taking and closing a snapshot; a read-heavy mix with 8 long-lived snapshots open
// against the same mix with none. Figures are medians of rotated runs (every side once per
// round, the order rotating); nothing here asserts a timing.
//
// Usage: node build/bench/snapshots.js [--baseline DIR] [--keys N]
//   The baseline, once: npm run bench:baseline [-- --dir DIR]
//   DIR: --baseline, else $PAGEKV_BASELINE, else /tmp/pagekv-baseline. Without a baseline
//   there the benchmark says so and runs only the figures that need none.

import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { pathToFileURL } from "node:url";
import { parseArgs } from "node:util";
import { type Database, open, type Snapshot } from "../src/index.js";
import { BASELINE_COMMIT, BASELINE_COMMIT_FILE, baselineDir } from "./baseline.js";
import {
  fmt,
  fmtInt,
  fsTypeName,
  KEY_BYTES,
  keyOf,
  machineLoad,
  median,
  printRunsOf,
  printTable,
  rotated,
  type Side,
  shuffled,
  VALUE_BYTES,
  valueOfKey,
  verdict,
  XorShift32,
} from "./harness.js";

const KEYS_DEFAULT = 100_000;
const LOAD_TXN_KEYS = 10_000;
const PAGE_BYTES = 4096;
/** Several times the database (about 5,000 pages): every hot figure reads from the pool. */
const CACHE_BYTES = 64 * 2 ** 20;
/** Measured rounds per figure; one untimed warm-up round first. */
const RUNS = 15;
/** Commit rounds are short and fsync-bound: more of them ride out a noisy disk. */
const COMMIT_RUNS = 25;
const WARMUP_RUNS = 1;

const HOT_READS_PER_RUN = 200_000;
const SHORT_SCAN_ENTRIES = 100;
const SHORT_SCANS_PER_RUN = 2_000;
const COMMITS_PER_RUN = 200;
const PAIRS_PER_RUN = 500_000;

const MIX_OPS = 100_000;
/** Each block of MIX_BLOCK_OPS ops: MIX_TXN_PUTS puts in one transaction, the rest gets. */
const MIX_BLOCK_OPS = 100;
const MIX_TXN_PUTS = 10;
const MIX_SNAPSHOTS = 8;
/** Every MIX_SNAPSHOT_READ_EVERY-th get of the mix reads through one of the snapshots. */
const MIX_SNAPSHOT_READ_EVERY = 50;
/** Values the mix's puts write, chosen by key: allocated once, not per put. */
const MIX_VALUES = 64;

/** The targets: a time ratio, nanoseconds, a throughput ratio. */
const SNAPSHOT_GET_TARGET = 1.1;
const TAKE_CLOSE_TARGET_NS = 1000;
const MIX_TARGET = 0.9;

type Row = [
  benchmark: string,
  thisBuild: string,
  comparison: string,
  ratio: string,
  target: string,
];

/** The options both builds open their files with; the mix reopens with sync "normal". */
interface KvOpenOptions {
  pageSize: number;
  cacheBytes: number;
  sync: "full" | "normal";
}

interface KvRange {
  gte?: Uint8Array;
  limit?: number;
}

/** What the benchmark uses of a database: the API both builds share (before snapshots). */
interface KvDb {
  get(key: Uint8Array): Uint8Array | undefined;
  put(key: Uint8Array, value: Uint8Array): void;
  transaction<T>(fn: (tx: { put(key: Uint8Array, value: Uint8Array): void }) => T): T;
  range(options?: KvRange): IterableIterator<[Uint8Array, Uint8Array]>;
  checkpoint(): unknown;
  close(): void;
}

type Opener<D extends KvDb> = (file: string, options: KvOpenOptions) => D;

/**
 * The baseline on two files: `a` is what this build is compared with; `b`, the same build
 * on its own file loaded the same way, is the control (what two instances of one build
 * differ by in this run).
 */
interface Pair {
  readonly a: KvDb;
  readonly b: KvDb;
}

/** The records every side reads and writes: keys[i] = keyOf(i), never modified. */
interface Records {
  readonly n: number;
  readonly keys: readonly Uint8Array[];
}

/** Per-round ratios of two sides' ns/op, as time (a / b) or as throughput (b / a). */
function timeRatios(a: readonly number[], b: readonly number[]): number[] {
  return a.map((x, i) => x / b[i]);
}

function speedRatios(a: readonly number[], b: readonly number[]): number[] {
  return a.map((x, i) => b[i] / x);
}

function spread(xs: readonly number[]): string {
  return `${fmt(Math.min(...xs), 2)}..${fmt(Math.max(...xs), 2)}`;
}

/**
 * "Within noise", as this benchmark measures it. Two instances of one build should come out
 * at 1.00x; the control (the baseline on its second file, against the baseline on its
 * first) shows how far from that they land in this run, and how wide its rounds scatter.
 * The noise is the control's distance from 1.00 (its median ratio) plus two standard
 * errors of that median, estimated from the spread of its rounds (1.2533 x 1.4826 x MAD /
 * sqrt(rounds): the median's error for normal scatter, from the median absolute deviation,
 * so that a few rounds hit by another process do not widen it). This build is within noise
 * when its median ratio to the baseline is within 1.00x +- the noise; beyond it, the side
 * says whether it is better or worse; only worse misses.
 */
function noiseTarget(
  ratios: readonly number[],
  control: readonly number[],
  higherIsBetter: boolean,
): string {
  const r = median(ratios);
  const c = median(control);
  const mad = median(control.map((x) => Math.abs(x - c)));
  const stderr = (1.2533 * 1.4826 * mad) / Math.sqrt(control.length);
  const noise = Math.abs(c - 1) + 2 * stderr;
  const better = higherIsBetter ? r > 1 : r < 1;
  const state =
    Math.abs(r - 1) <= noise
      ? "within noise (met)"
      : better
        ? "better than noise (met)"
        : "worse than noise (MISSED)";
  return (
    `${state}: noise +-${fmt(noise, 3)} (control b/a ${fmt(c, 3)}x, 2 s.e. ` +
    `${fmt(2 * stderr, 3)}; per round ${spread(control)})`
  );
}

async function loadBaseline(dir: string): Promise<{ open: Opener<KvDb>; commit: string } | null> {
  const entry = path.join(dir, "dist", "index.js");
  const marker = path.join(dir, BASELINE_COMMIT_FILE);
  if (!fs.existsSync(entry) || !fs.existsSync(marker)) return null;
  const mod = (await import(pathToFileURL(entry).href)) as { open?: Opener<KvDb> };
  if (typeof mod.open !== "function") throw new Error(`${entry} exports no open()`);
  return { open: mod.open, commit: fs.readFileSync(marker, "utf8").trim() };
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: { baseline: { type: "string" }, keys: { type: "string" } },
  });
  const n = values.keys === undefined ? KEYS_DEFAULT : Number(values.keys);
  if (!Number.isInteger(n) || n < SHORT_SCAN_ENTRIES * 10) {
    throw new Error(`--keys must be an integer >= ${SHORT_SCAN_ENTRIES * 10}`);
  }
  const t0 = performance.now();
  const bdir = baselineDir(values.baseline);
  const baseline = await loadBaseline(bdir);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "pagekv-snapshots-bench-"));
  console.log("pagekv snapshots benchmark");
  console.log(`node ${process.version} on ${os.platform()} ${os.arch()}`);
  console.log(`cpu: ${os.cpus()[0]?.model ?? "unknown"} (${os.cpus().length} logical cores)`);
  console.log(`temp dir: ${dir} (${fsTypeName(dir)})`);
  console.log(`machine load at start: ${machineLoad()}`);
  if (baseline === null) {
    console.log(
      `baseline: none in ${bdir}; make it with \`npm run bench:baseline -- --dir ${bdir}\` ` +
        `(commit ${BASELINE_COMMIT}). Only the figures without a baseline run.`,
    );
  } else {
    console.log(
      `baseline: commit ${baseline.commit.slice(0, 10)} (${bdir}/dist/index.js), twice: ` +
        "file a is the comparison, file b the control",
    );
  }
  const options: KvOpenOptions = { pageSize: PAGE_BYTES, cacheBytes: CACHE_BYTES, sync: "full" };
  console.log(
    `${fmtInt(n)} keys of ${KEY_BYTES} B, values ${VALUE_BYTES} B, page ${PAGE_BYTES} B, ` +
      `pool ${CACHE_BYTES / 2 ** 20} MiB (the whole database is in it), sync "full" unless ` +
      `said; medians of ${RUNS} rotated rounds (${COMMIT_RUNS} for commits) after ` +
      `${WARMUP_RUNS} warm-up round`,
  );
  const keys: Uint8Array[] = [];
  for (let i = 0; i < n; i++) keys.push(keyOf(i));
  const rec: Records = { n, keys };
  const rows: Row[] = [];
  try {
    const nowPath = path.join(dir, "now.pkv");
    const now = load(open, nowPath, options, rec);
    const base: Pair | null =
      baseline === null
        ? null
        : {
            a: load(baseline.open, path.join(dir, "base-a.pkv"), options, rec),
            b: load(baseline.open, path.join(dir, "base-b.pkv"), options, rec),
          };
    const hot = benchHotGet(now, base, rec);
    rows.push(...hot.rows);
    rows.push(...benchFullScan(now, base, rec));
    rows.push(...benchShortScan(now, base, rec));
    rows.push(...benchCommit(now, base, rec));
    rows.push(...benchTakeClose(now, hot.getNs));
    base?.a.close();
    base?.b.close();
    now.close();
    rows.push(...benchMix(nowPath, { ...options, sync: "normal" }, rec));
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
  console.log(`\nmachine load at end: ${machineLoad()}`);
  console.log("\n## Summary\n");
  printTable(["benchmark", "this build", "comparison (same run)", "ratio", "target"], rows);
  console.log(`\ntotal time ${fmt((performance.now() - t0) / 1000, 1)} s; temp dir removed`);
}

/** A database of rec.n records loaded in a seeded random order, checkpointed, all read once. */
function load<D extends KvDb>(
  openDb: Opener<D>,
  file: string,
  options: KvOpenOptions,
  rec: Records,
): D {
  const db = openDb(file, options);
  const order = shuffled(rec.n, 1);
  for (let s = 0; s < rec.n; s += LOAD_TXN_KEYS) {
    db.transaction((tx) => {
      const end = Math.min(rec.n, s + LOAD_TXN_KEYS);
      for (let j = s; j < end; j++) tx.put(rec.keys[order[j]], valueOfKey(order[j], 0));
    });
  }
  db.checkpoint();
  let count = 0;
  for (const _ of db.range()) count++;
  if (count !== rec.n) throw new Error(`${file}: ${count} records after loading ${rec.n}`);
  return db;
}

// ---- 1. hot gets ----

function hotGets(db: KvDb, rec: Records, pick: Uint32Array): () => number {
  return () => {
    let s = 0;
    for (let i = 0; i < pick.length; i++) s += db.get(rec.keys[pick[i]])?.[0] ?? 0;
    return s;
  };
}

/** Rows, and this build's median ns per plain hot get (the scale of figure 5). */
function benchHotGet(
  now: Database,
  base: Pair | null,
  rec: Records,
): { rows: Row[]; getNs: number } {
  console.log("\n## 1. Hot point reads of random keys (the whole database in the pool)\n");
  const rng = new XorShift32(2);
  const pick = Uint32Array.from({ length: HOT_READS_PER_RUN }, () => rng.int(rec.n));
  // The snapshot side takes its snapshot just before its run (no commit follows it) and
  // closes it just after, so no other side runs with a snapshot open.
  let snap: Snapshot | null = null;
  const sides: Side[] = [
    { run: hotGets(now, rec, pick) },
    {
      before: () => {
        snap = now.snapshot();
      },
      run: () => {
        const sn = snap;
        if (sn === null) throw new Error("no snapshot");
        let s = 0;
        for (let i = 0; i < pick.length; i++) s += sn.get(rec.keys[pick[i]])?.[0] ?? 0;
        return s;
      },
      after: () => {
        snap?.close();
        snap = null;
      },
    },
  ];
  if (base !== null)
    sides.push({ run: hotGets(base.a, rec, pick) }, { run: hotGets(base.b, rec, pick) });
  const t = rotated(RUNS, HOT_READS_PER_RUN, sides, WARMUP_RUNS);
  const [tNow, tSnap] = t;
  printRunsOf("this build, db.get      ", tNow, "ns/get", 1);
  printRunsOf("this build, snapshot.get", tSnap, "ns/get", 1);
  const rows: Row[] = [];
  if (base !== null) {
    const [tBase, tCtl] = [t[2], t[3]];
    printRunsOf("baseline a, db.get      ", tBase, "ns/get", 1);
    printRunsOf("baseline b (control)    ", tCtl, "ns/get", 1);
    const r = timeRatios(tNow, tBase);
    const c = timeRatios(tCtl, tBase);
    console.log(
      `db.get: this build ${fmt(median(tNow), 0)} ns, baseline ${fmt(median(tBase), 0)} ns: ` +
        `${fmt(median(r), 3)}x time (per round ${spread(r)}); control b/a ${fmt(median(c), 3)}x ` +
        `(${spread(c)})`,
    );
    rows.push([
      "hot get, db.get (random keys, pool hot)",
      `${fmt(median(tNow), 0)} ns/get`,
      `${fmt(median(tBase), 0)} ns/get (baseline db.get)`,
      `${fmt(median(r), 3)}x time`,
      noiseTarget(r, c, false),
    ]);
  }
  const r = timeRatios(tSnap, tNow);
  console.log(
    `snapshot.get ${fmt(median(tSnap), 0)} ns, db.get ${fmt(median(tNow), 0)} ns: ` +
      `${fmt(median(r), 3)}x time (per round ${spread(r)}; target <= ${SNAPSHOT_GET_TARGET}x)`,
  );
  rows.push([
    "hot get through db.snapshot()",
    `${fmt(median(tSnap), 0)} ns/get`,
    `${fmt(median(tNow), 0)} ns/get (this build's db.get)`,
    `${fmt(median(r), 3)}x time`,
    `<= ${SNAPSHOT_GET_TARGET}x ${verdict(median(r) <= SNAPSHOT_GET_TARGET)}; per round ${spread(r)}`,
  ]);
  return { rows, getNs: median(tNow) };
}

// ---- 2-3. range scans ----

function scans(db: KvDb, calls: readonly KvRange[]): () => number {
  return () => {
    let s = 0;
    for (const o of calls) for (const [, v] of db.range(o)) s += v[0];
    return s;
  };
}

function liveScans(db: Database, calls: readonly KvRange[]): () => number {
  const live = calls.map((o) => ({ ...o, snapshot: false }));
  return () => {
    let s = 0;
    for (const o of live) for (const [, v] of db.range(o)) s += v[0];
    return s;
  };
}

/**
 * One run of `calls` on each side: this build's range() (a snapshot per call) and
 * range({ snapshot: false }), the baseline's range() on file a, and on file b (the control).
 * `show` formats ns per op of the run (per entry or per scan).
 */
function benchRange(
  label: string,
  now: Database,
  base: Pair | null,
  calls: readonly KvRange[],
  opsPerRun: number,
  show: (ns: number) => string,
  runsUnit: string,
  runsDiv: number,
): Row[] {
  const sides: Side[] = [{ run: scans(now, calls) }, { run: liveScans(now, calls) }];
  if (base !== null) sides.push({ run: scans(base.a, calls) }, { run: scans(base.b, calls) });
  const t = rotated(RUNS, opsPerRun, sides, WARMUP_RUNS);
  const [tNow, tLive] = t;
  printRunsOf("this build, range()                 ", tNow, runsUnit, runsDiv);
  printRunsOf("this build, range({snapshot: false})", tLive, runsUnit, runsDiv);
  const r0 = speedRatios(tNow, tLive);
  console.log(
    `range() ${show(median(tNow))}, range({snapshot: false}) ${show(median(tLive))}: ` +
      `${fmt(median(r0), 3)}x throughput (per round ${spread(r0)})`,
  );
  if (base === null) return [];
  const [tBase, tCtl] = [t[2], t[3]];
  printRunsOf("baseline a, range()                 ", tBase, runsUnit, runsDiv);
  printRunsOf("baseline b (control)                ", tCtl, runsUnit, runsDiv);
  const c = speedRatios(tCtl, tBase);
  const rows: Row[] = [];
  const one = (name: string, ts: number[]) => {
    const r = speedRatios(ts, tBase);
    console.log(
      `${name} ${show(median(ts))}, baseline range() ${show(median(tBase))}: ` +
        `${fmt(median(r), 3)}x throughput (per round ${spread(r)}); control b/a ` +
        `${fmt(median(c), 3)}x (${spread(c)})`,
    );
    rows.push([
      `${label}, ${name}`,
      show(median(ts)),
      `${show(median(tBase))} (baseline range())`,
      `${fmt(median(r), 3)}x throughput`,
      noiseTarget(r, c, true),
    ]);
  };
  one("range()", tNow);
  one("range({snapshot:false})", tLive);
  return rows;
}

function benchFullScan(now: Database, base: Pair | null, rec: Records): Row[] {
  console.log(`\n## 2. Range scan of the whole database (${fmtInt(rec.n)} entries per run)\n`);
  const perSec = (ns: number) => `${fmtInt(1e9 / ns)} entries/s`;
  return benchRange("full scan", now, base, [{}], rec.n, perSec, "ns/entry", 1);
}

function benchShortScan(now: Database, base: Pair | null, rec: Records): Row[] {
  console.log(
    `\n## 3. Short range scans: ${fmtInt(SHORT_SCANS_PER_RUN)} per run, each gte a random ` +
      `key, limit ${SHORT_SCAN_ENTRIES}\n`,
  );
  const rng = new XorShift32(3);
  const calls = Array.from({ length: SHORT_SCANS_PER_RUN }, () => ({
    gte: rec.keys[rng.int(rec.n)],
    limit: SHORT_SCAN_ENTRIES,
  }));
  const perScan = (ns: number) => `${fmt(ns / 1000, 2)} us/scan`;
  return benchRange(
    `${SHORT_SCAN_ENTRIES}-entry scan`,
    now,
    base,
    calls,
    SHORT_SCANS_PER_RUN,
    perScan,
    "us/scan",
    1000,
  );
}

// ---- 4. durable commits ----

function commits(db: KvDb, rec: Records, seed: number): () => number {
  const rng = new XorShift32(seed);
  let version = 1;
  return () => {
    for (let c = 0; c < COMMITS_PER_RUN; c++) {
      const i = rng.int(rec.n);
      db.put(rec.keys[i], valueOfKey(i, version++));
    }
    return version;
  };
}

function benchCommit(now: Database, base: Pair | null, rec: Records): Row[] {
  console.log(
    `\n## 4. Durable commits: db.put of one random key each, sync "full" ` +
      `(${fmtInt(COMMITS_PER_RUN)} per run)\n`,
  );
  if (base === null) {
    console.log("(no baseline: this figure compares this build with it and is skipped)");
    return [];
  }
  // The same keys and values on every side: one seed.
  const sides: Side[] = [
    { run: commits(now, rec, 4) },
    { run: commits(base.a, rec, 4) },
    { run: commits(base.b, rec, 4) },
  ];
  const [tNow, tBase, tCtl] = rotated(COMMIT_RUNS, COMMITS_PER_RUN, sides, WARMUP_RUNS);
  printRunsOf("this build          ", tNow, "us/commit", 1000);
  printRunsOf("baseline a          ", tBase, "us/commit", 1000);
  printRunsOf("baseline b (control)", tCtl, "us/commit", 1000);
  const r = timeRatios(tNow, tBase);
  const c = timeRatios(tCtl, tBase);
  const us = (ns: number) => `${fmt(ns / 1000, 1)} us/commit`;
  console.log(
    `this build ${us(median(tNow))}, baseline ${us(median(tBase))}: ${fmt(median(r), 3)}x ` +
      `time (per round ${spread(r)}); control b/a ${fmt(median(c), 3)}x (${spread(c)})`,
  );
  return [
    [
      'durable commit, 1 put, sync "full"',
      us(median(tNow)),
      `${us(median(tBase))} (baseline db.put)`,
      `${fmt(median(r), 3)}x time`,
      noiseTarget(r, c, false),
    ],
  ];
}

// ---- 5. taking and closing a snapshot ----

function benchTakeClose(now: Database, getNs: number): Row[] {
  console.log(`\n## 5. Taking and closing a snapshot (${fmtInt(PAIRS_PER_RUN)} per run)\n`);
  const empty = (): number => 0;
  const sides: Side[] = [
    {
      run: () => {
        let s = 0;
        for (let i = 0; i < PAIRS_PER_RUN; i++) {
          const sn = now.snapshot();
          sn.close();
          s++;
        }
        return s;
      },
    },
    {
      run: () => {
        let s = 0;
        for (let i = 0; i < PAIRS_PER_RUN; i++) s += now.read(empty);
        return s;
      },
    },
  ];
  const [tPair, tRead] = rotated(RUNS, PAIRS_PER_RUN, sides, WARMUP_RUNS);
  printRunsOf("db.snapshot() + close()", tPair, "ns/pair", 1);
  printRunsOf("db.read(() => 0)       ", tRead, "ns/call", 1);
  console.log(
    `snapshot + close ${fmt(median(tPair), 1)} ns, db.read(empty fn) ${fmt(median(tRead), 1)} ` +
      `ns (target: well under ${fmtInt(TAKE_CLOSE_TARGET_NS)} ns); for scale, a hot db.get ` +
      `${fmt(getNs, 0)} ns (figure 1)`,
  );
  const row = (name: string, ts: number[], unit: string): Row => [
    name,
    `${fmt(median(ts), 1)} ${unit}`,
    `${fmt(getNs, 0)} ns/get (this build's hot db.get)`,
    `${fmt(median(ts) / getNs, 3)}x a hot get`,
    `< ${fmtInt(TAKE_CLOSE_TARGET_NS)} ns ${verdict(median(ts) < TAKE_CLOSE_TARGET_NS)}; per ` +
      `round ${fmt(Math.min(...ts), 1)}..${fmt(Math.max(...ts), 1)} ns`,
  ];
  return [
    row("db.snapshot() + close()", tPair, "ns/pair"),
    row("db.read(fn) with an empty fn", tRead, "ns/call"),
  ];
}

// ---- 6. the read-heavy mix ----

/**
 * The mix's steps: a step is one get of key keyIndex[step * MIX_TXN_PUTS], or (isTxn) one
 * transaction putting the MIX_TXN_PUTS keys from there.
 */
interface Mix {
  readonly keyIndex: Uint32Array;
  readonly isTxn: Uint8Array;
}

function mixSteps(rec: Records): Mix {
  const rng = new XorShift32(6);
  const blocks = MIX_OPS / MIX_BLOCK_OPS;
  const gets = MIX_BLOCK_OPS - MIX_TXN_PUTS;
  // Per block: `gets` gets and one transaction at a random place among them.
  const steps = blocks * (gets + 1);
  const keyIndex = new Uint32Array(steps * MIX_TXN_PUTS);
  const isTxn = new Uint8Array(steps);
  let s = 0;
  for (let b = 0; b < blocks; b++) {
    const at = rng.int(gets + 1);
    for (let j = 0; j <= gets; j++, s++) {
      isTxn[s] = j === at ? 1 : 0;
      for (let k = 0; k < MIX_TXN_PUTS; k++) keyIndex[s * MIX_TXN_PUTS + k] = rng.int(rec.n);
    }
  }
  return { keyIndex, isTxn };
}

function benchMix(file: string, options: KvOpenOptions, rec: Records): Row[] {
  const gets = MIX_OPS - (MIX_OPS / MIX_BLOCK_OPS) * MIX_TXN_PUTS;
  console.log(
    `\n## 6. Read-heavy mix, ${fmtInt(MIX_OPS)} ops per run: ${fmtInt(gets)} gets of random ` +
      `keys, ${fmtInt(MIX_OPS - gets)} puts in transactions of ${MIX_TXN_PUTS} (sync ` +
      `"${options.sync}"), with ${MIX_SNAPSHOTS} snapshots open vs none\n`,
  );
  const db = open(file, options);
  const mix = mixSteps(rec);
  const values = Array.from({ length: MIX_VALUES }, (_, i) => valueOfKey(i, 1));
  const snaps: Snapshot[] = [];
  let held = "";
  const run = (withSnapshots: boolean) => (): number => {
    let s = 0;
    let g = 0;
    for (let i = 0; i < mix.isTxn.length; i++) {
      const k0 = i * MIX_TXN_PUTS;
      if (mix.isTxn[i] === 1) {
        db.transaction((tx) => {
          for (let k = 0; k < MIX_TXN_PUTS; k++) {
            const key = mix.keyIndex[k0 + k];
            tx.put(rec.keys[key], values[key % MIX_VALUES]);
          }
        });
        continue;
      }
      const key = rec.keys[mix.keyIndex[k0]];
      // The same gets on both sides; with snapshots, every MIX_SNAPSHOT_READ_EVERY-th one
      // reads through one of them (behind by every commit of the run so far).
      if (++g % MIX_SNAPSHOT_READ_EVERY === 0 && withSnapshots) {
        s += snaps[(g / MIX_SNAPSHOT_READ_EVERY) % MIX_SNAPSHOTS].get(key)?.[0] ?? 0;
      } else {
        s += db.get(key)?.[0] ?? 0;
      }
    }
    return s;
  };
  // Both sides start from a checkpointed file with an empty log: the checkpoint after each
  // run is untimed, and on the snapshot side follows the snapshots' close.
  let checkpointsFailed = 0;
  const sides: Side[] = [
    { run: run(false), after: () => db.checkpoint() },
    {
      before: () => {
        for (let i = 0; i < MIX_SNAPSHOTS; i++) snaps.push(db.snapshot());
      },
      run: run(true),
      after: () => {
        const st = db.stats();
        held =
          `${fmtInt(st.snapshots)} open, ${fmtInt(st.snapshotCommitsBehind)} commits behind, ` +
          `${fmtInt(st.snapshotFramesHeld)} log frames held (log ${fmtInt(st.walFrames)} frames)`;
        if (!db.checkpoint()) checkpointsFailed++;
        for (const sn of snaps) sn.close();
        snaps.length = 0;
        if (!db.checkpoint()) throw new Error(`${file}: checkpoint with no snapshot open failed`);
      },
    },
  ];
  const [tNone, tSnaps] = rotated(RUNS, MIX_OPS, sides, WARMUP_RUNS);
  db.close();
  const opsPerSec = (ns: number) => `${fmtInt(1e9 / ns)} ops/s`;
  printRunsOf("no snapshot open ", tNone, "us/op", 1000);
  printRunsOf(`${MIX_SNAPSHOTS} snapshots open`, tSnaps, "us/op", 1000);
  const r = speedRatios(tSnaps, tNone);
  console.log(`at the end of the last run with snapshots: ${held}`);
  console.log(
    `db.checkpoint() with the ${MIX_SNAPSHOTS} snapshots still open returned false after ` +
      `${checkpointsFailed} of ${RUNS + WARMUP_RUNS} runs (untimed); after their close it completed`,
  );
  console.log(
    `${MIX_SNAPSHOTS} snapshots ${opsPerSec(median(tSnaps))}, none ${opsPerSec(median(tNone))}: ` +
      `${fmt(median(r), 3)}x throughput (per round ${spread(r)}; target >= ${MIX_TARGET}x)`,
  );
  return [
    [
      `read-heavy mix (90% get, 10% put), ${MIX_SNAPSHOTS} snapshots open`,
      opsPerSec(median(tSnaps)),
      `${opsPerSec(median(tNone))} (the same mix, none open)`,
      `${fmt(median(r), 3)}x throughput`,
      `>= ${MIX_TARGET}x ${verdict(median(r) >= MIX_TARGET)}; per round ${spread(r)}`,
    ],
  ];
}

await main();
