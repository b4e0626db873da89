// What snapshots cost, on NodeFS in a temp dir: hot gets, range scans and durable commits
// of this build against the build before snapshots (bench/baseline.ts makes it) in one
// process, on files made with the same options; a get through db.snapshot() against a plain
// get; taking and closing a snapshot; a read-heavy mix with 8 long-lived snapshots open
// against the same mix with none. Figures are medians of rotated runs (every side once per
// round, the order rotating); nothing here asserts a timing.
//
// Usage: node build/bench/snapshots.js [--baseline DIR] [--keys N]
//   The baseline, once: npm run build:test && node build/bench/baseline.js [--dir DIR]
//   DIR: --baseline, else $PAGEKV_BASELINE, else /tmp/pagekv-baseline. Without a baseline
//   there the benchmark says so and runs only the figures that need none.

import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { pathToFileURL } from "node:url";
import { parseArgs } from "node:util";
import * as current from "../src/index.js";
import { BASELINE_COMMIT, BASELINE_COMMIT_FILE, baselineDir } from "./baseline.js";
import {
  fmt,
  fmtInt,
  fsTypeName,
  KEY_BYTES,
  keyOf,
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
const RUNS = 11;
/** Commit rounds are short and fsync-bound: more of them ride out a noisy disk. */
const COMMIT_RUNS = 21;
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

/** Targets of the issue: time ratio, nanoseconds, throughput ratio. */
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

/** A build's package entry, as far as the benchmark uses it. */
interface KvEngine {
  open(path: string, options: KvOpenOptions): KvDb;
}

/** One build under test: its entry, its database and a name for the printout. */
interface Build {
  readonly name: string;
  readonly db: KvDb;
}

/**
 * The baseline twice: `a` is what this build is compared with; `b`, the same build on its
 * own file loaded the same way, is the control (what two instances of one build differ by).
 */
interface Pair {
  readonly a: Build;
  readonly b: Build;
}

/** The records every side reads and writes: keys[i] = keyOf(i), never modified. */
interface Records {
  readonly n: number;
  readonly keys: readonly Uint8Array[];
}

/** Per-round ratios of two sides' ns/op, as time (a / b) or throughput (b / a). */
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
 * "Within noise", as this benchmark measures it: the median ratio of this build to the
 * baseline lies inside the range (min..max over the rounds) of the per-round ratios of the
 * baseline on a second file to the first: what two instances of one build differ by here.
 */
function withinNoise(ratios: readonly number[], control: readonly number[]): boolean {
  const r = median(ratios);
  return r >= Math.min(...control) && r <= Math.max(...control);
}

function noiseTarget(ratios: readonly number[], control: readonly number[]): string {
  return (
    `within noise ${verdict(withinNoise(ratios, control))}: baseline b/a ` +
    `${spread(control)} per round`
  );
}

async function loadBaseline(dir: string): Promise<{ engine: KvEngine; commit: string } | null> {
  const entry = path.join(dir, "dist", "index.js");
  const marker = path.join(dir, BASELINE_COMMIT_FILE);
  if (!fs.existsSync(entry) || !fs.existsSync(marker)) return null;
  const mod = (await import(pathToFileURL(entry).href)) as Partial<KvEngine>;
  if (typeof mod.open !== "function") throw new Error(`${entry} exports no open()`);
  const open = mod.open;
  return { engine: { open }, commit: fs.readFileSync(marker, "utf8").trim() };
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
  if (baseline === null) {
    console.log(
      `baseline: none in ${bdir}; make it with \`node build/bench/baseline.js --dir ${bdir}\` ` +
        `(commit ${BASELINE_COMMIT}). Only the figures without a baseline run.`,
    );
  } else {
    console.log(`baseline: commit ${baseline.commit.slice(0, 7)}, ${bdir}/dist/index.js`);
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
    const now: Build = { name: "this build", db: load(current, nowPath, options, rec) };
    const base: Pair | null =
      baseline === null
        ? null
        : {
            a: {
              name: "baseline",
              db: load(baseline.engine, path.join(dir, "base.pkv"), options, rec),
            },
            b: {
              name: "baseline b",
              db: load(baseline.engine, path.join(dir, "base-b.pkv"), options, rec),
            },
          };
    const hot = benchHotGet(now, base, rec);
    rows.push(...hot.rows);
    rows.push(...benchFullScan(now, base, rec));
    rows.push(...benchShortScan(now, base, rec));
    rows.push(...benchCommit(now, base, rec));
    rows.push(...benchTakeClose(now, hot.getNs));
    base?.a.db.close();
    base?.b.db.close();
    now.db.close();
    rows.push(...benchMix(nowPath, { ...options, sync: "normal" }, rec));
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
  console.log("\n## Summary\n");
  printTable(["benchmark", "this build", "comparison (same run)", "ratio", "target"], rows);
  console.log(`\ntotal time ${fmt((performance.now() - t0) / 1000, 1)} s; temp dir removed`);
}

/** A database of rec.n records loaded in a seeded random order, checkpointed, all read once. */
function load(engine: KvEngine, file: string, options: KvOpenOptions, rec: Records): KvDb {
  const db = engine.open(file, options);
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

// ---- snapshots of this build, until the engine's API is merged ----

interface SnapshotApi {
  get(key: Uint8Array): Uint8Array | undefined;
  close(): void;
}

interface SnapshotDb extends KvDb {
  snapshot(): SnapshotApi;
  read<T>(fn: (s: SnapshotApi) => T): T;
  range(options?: KvRange & { snapshot?: boolean }): IterableIterator<[Uint8Array, Uint8Array]>;
}

function snapshotsOf(db: KvDb): SnapshotDb | null {
  return typeof (db as Partial<SnapshotDb>).snapshot === "function" ? (db as SnapshotDb) : null;
}

function noSnapshots(what: string): void {
  console.log(`(this build has no db.snapshot(): ${what} skipped)`);
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
function benchHotGet(now: Build, base: Pair | null, rec: Records): { rows: Row[]; getNs: number } {
  console.log("\n## 1. Hot point reads of random keys (the whole database in the pool)\n");
  const rng = new XorShift32(2);
  const pick = Uint32Array.from({ length: HOT_READS_PER_RUN }, () => rng.int(rec.n));
  const sdb = snapshotsOf(now.db);
  let snap: SnapshotApi | null = null;
  const sides: Side[] = [{ run: hotGets(now.db, rec, pick) }];
  if (base !== null)
    sides.push({ run: hotGets(base.a.db, rec, pick) }, { run: hotGets(base.b.db, rec, pick) });
  if (sdb !== null) {
    // A snapshot taken just before the run (no commit after it), closed just after.
    sides.push({
      before: () => {
        snap = sdb.snapshot();
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
    });
  }
  const t = rotated(RUNS, HOT_READS_PER_RUN, sides, WARMUP_RUNS);
  const tNow = t[0];
  printRunsOf("this build, db.get     ", tNow, "ns/get", 1);
  const rows: Row[] = [];
  if (base !== null) {
    const [tBase, tBase2] = [t[1], t[2]];
    printRunsOf("baseline, db.get       ", tBase, "ns/get", 1);
    printRunsOf("baseline b (control)    ", tBase2, "ns/get", 1);
    const r = timeRatios(tNow, tBase);
    const c = timeRatios(tBase2, tBase);
    console.log(
      `this build ${fmt(median(tNow), 0)} ns/get, baseline ${fmt(median(tBase), 0)} ns/get: ` +
        `${fmt(median(r), 3)}x time (per round ${spread(r)}); control baseline b/a ` +
        `${fmt(median(c), 3)}x (${spread(c)})`,
    );
    rows.push([
      "hot get, db.get (random keys, pool hot)",
      `${fmt(median(tNow), 0)} ns/get`,
      `${fmt(median(tBase), 0)} ns/get (baseline db.get)`,
      `${fmt(median(r), 3)}x time`,
      noiseTarget(r, c),
    ]);
  }
  if (sdb === null) {
    noSnapshots("the get through a snapshot");
    return { rows, getNs: median(tNow) };
  }
  const tSnap = t[t.length - 1];
  printRunsOf("this build, snapshot.get", tSnap, "ns/get", 1);
  const r = timeRatios(tSnap, tNow);
  console.log(
    `snapshot.get ${fmt(median(tSnap), 0)} ns/get, db.get ${fmt(median(tNow), 0)} ns/get: ` +
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

function scans(db: KvDb, starts: readonly (KvRange & { snapshot?: boolean })[]): () => number {
  return () => {
    let s = 0;
    for (const o of starts) for (const [, v] of db.range(o)) s += v[0];
    return s;
  };
}

/**
 * The three range() sides against the baseline's range(): this build's default range()
 * (a snapshot per call), range({ snapshot: false }), and the baseline on two files (b: the
 * control).
 * `opts` are the calls of one run; `entries` the entries one run reads.
 */
function rangeSides(
  now: Build,
  base: Pair | null,
  opts: readonly KvRange[],
): { sides: Side[]; withSnapshotFlag: boolean } {
  const sdb = snapshotsOf(now.db);
  const sides: Side[] = [{ run: scans(now.db, opts) }];
  if (base !== null) sides.push({ run: scans(base.a.db, opts) }, { run: scans(base.b.db, opts) });
  if (sdb !== null)
    sides.push({
      run: scans(
        sdb,
        opts.map((o) => ({ ...o, snapshot: false })),
      ),
    });
  return { sides, withSnapshotFlag: sdb !== null };
}

function rangeReport(
  label: string,
  t: number[][],
  hasBase: boolean,
  withSnapshotFlag: boolean,
  show: (ns: number) => string,
  runsUnit: string,
  runsDiv: number,
): Row[] {
  const tNow = t[0];
  const tFlag = withSnapshotFlag ? t[t.length - 1] : null;
  printRunsOf(`this build, range()                 `, tNow, runsUnit, runsDiv);
  if (tFlag !== null) printRunsOf(`this build, range({snapshot: false})`, tFlag, runsUnit, runsDiv);
  else noSnapshots("range({ snapshot: false })");
  if (!hasBase) return [];
  const [tBase, tBase2] = [t[1], t[2]];
  printRunsOf(`baseline, range()                   `, tBase, runsUnit, runsDiv);
  printRunsOf(`baseline b (control)                `, tBase2, runsUnit, runsDiv);
  const c = speedRatios(tBase2, tBase);
  const rows: Row[] = [];
  const one = (name: string, ts: number[]) => {
    const r = speedRatios(ts, tBase);
    console.log(
      `${name} ${show(median(ts))}, baseline range() ${show(median(tBase))}: ` +
        `${fmt(median(r), 3)}x throughput (per round ${spread(r)}); control ` +
        `${fmt(median(c), 3)}x (${spread(c)})`,
    );
    rows.push([
      `${label}, ${name}`,
      show(median(ts)),
      `${show(median(tBase))} (baseline range())`,
      `${fmt(median(r), 3)}x throughput`,
      noiseTarget(r, c),
    ]);
  };
  one("range()", tNow);
  if (tFlag !== null) one("range({snapshot:false})", tFlag);
  return rows;
}

function benchFullScan(now: Build, base: Pair | null, rec: Records): Row[] {
  console.log(`\n## 2. Range scan of the whole database (${fmtInt(rec.n)} entries per run)\n`);
  const { sides, withSnapshotFlag } = rangeSides(now, base, [{}]);
  const t = rotated(RUNS, rec.n, sides, WARMUP_RUNS);
  const perSec = (ns: number) => `${fmtInt(1e9 / ns)} entries/s`;
  return rangeReport("full scan", t, base !== null, withSnapshotFlag, perSec, "ns/entry", 1);
}

function benchShortScan(now: Build, base: Pair | null, rec: Records): Row[] {
  console.log(
    `\n## 3. Short range scans: ${fmtInt(SHORT_SCANS_PER_RUN)} per run, each gte a random ` +
      `key, limit ${SHORT_SCAN_ENTRIES}\n`,
  );
  const rng = new XorShift32(3);
  const opts = Array.from({ length: SHORT_SCANS_PER_RUN }, () => ({
    gte: rec.keys[rng.int(rec.n)],
    limit: SHORT_SCAN_ENTRIES,
  }));
  const { sides, withSnapshotFlag } = rangeSides(now, base, opts);
  const t = rotated(RUNS, SHORT_SCANS_PER_RUN, sides, WARMUP_RUNS);
  const perScan = (ns: number) => `${fmt(ns / 1000, 2)} us/scan`;
  return rangeReport(
    `${SHORT_SCAN_ENTRIES}-entry scan`,
    t,
    base !== null,
    withSnapshotFlag,
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

function benchCommit(now: Build, base: Pair | null, rec: Records): Row[] {
  console.log(
    `\n## 4. Durable commits: db.put of one random key each, sync "full" ` +
      `(${fmtInt(COMMITS_PER_RUN)} per run)\n`,
  );
  if (base === null) {
    console.log("(no baseline: this figure compares this build with it and is skipped)");
    return [];
  }
  const sides: Side[] = [
    { run: commits(now.db, rec, 4) },
    { run: commits(base.a.db, rec, 4) },
    { run: commits(base.b.db, rec, 4) },
  ];
  const [tNow, tBase, tBase2] = rotated(COMMIT_RUNS, COMMITS_PER_RUN, sides, WARMUP_RUNS);
  printRunsOf("this build              ", tNow, "us/commit", 1000);
  printRunsOf("baseline                ", tBase, "us/commit", 1000);
  printRunsOf("baseline b (control)    ", tBase2, "us/commit", 1000);
  const r = timeRatios(tNow, tBase);
  const c = timeRatios(tBase2, tBase);
  const us = (ns: number) => `${fmt(ns / 1000, 1)} us/commit`;
  console.log(
    `this build ${us(median(tNow))}, baseline ${us(median(tBase))}: ${fmt(median(r), 3)}x ` +
      `time (per round ${spread(r)}); control baseline b/a ${fmt(median(c), 3)}x ` +
      `(${spread(c)})`,
  );
  return [
    [
      'durable commit, 1 put, sync "full"',
      us(median(tNow)),
      `${us(median(tBase))} (baseline db.put)`,
      `${fmt(median(r), 3)}x time`,
      noiseTarget(r, c),
    ],
  ];
}

// ---- 5. taking and closing a snapshot ----

function benchTakeClose(now: Build, getNs: number): Row[] {
  console.log(`\n## 5. Taking and closing a snapshot (${fmtInt(PAIRS_PER_RUN)} pairs per run)\n`);
  const sdb = snapshotsOf(now.db);
  if (sdb === null) {
    noSnapshots("this figure");
    return [];
  }
  const empty = (): number => 0;
  const sides: Side[] = [
    {
      run: () => {
        let s = 0;
        for (let i = 0; i < PAIRS_PER_RUN; i++) {
          const sn = sdb.snapshot();
          sn.close();
          s++;
        }
        return s;
      },
    },
    {
      run: () => {
        let s = 0;
        for (let i = 0; i < PAIRS_PER_RUN; i++) s += sdb.read(empty);
        return s;
      },
    },
  ];
  const [tPair, tRead] = rotated(RUNS, PAIRS_PER_RUN, sides, WARMUP_RUNS);
  printRunsOf("db.snapshot() + close()", tPair, "ns/pair", 1);
  printRunsOf("db.read(() => 0)       ", tRead, "ns/call", 1);
  console.log(
    `snapshot + close ${fmt(median(tPair), 1)} ns, db.read(empty fn) ${fmt(median(tRead), 1)} ns ` +
      `(target: well under ${fmtInt(TAKE_CLOSE_TARGET_NS)} ns)`,
  );
  // The comparison, for scale: this run's hot db.get (figure 1).
  const scale = (ns: number) => `${fmt(ns / getNs, 2)}x a hot get`;
  const getText = `${fmt(getNs, 0)} ns/get (this build's hot db.get)`;
  return [
    [
      "db.snapshot() + close()",
      `${fmt(median(tPair), 1)} ns/pair`,
      getText,
      scale(median(tPair)),
      `< ${fmtInt(TAKE_CLOSE_TARGET_NS)} ns ${verdict(median(tPair) < TAKE_CLOSE_TARGET_NS)}; ` +
        `per round ${spread(tPair.map((x) => x / 1000))} us`,
    ],
    [
      "db.read(fn) with an empty fn",
      `${fmt(median(tRead), 1)} ns/call`,
      getText,
      scale(median(tRead)),
      `< ${fmtInt(TAKE_CLOSE_TARGET_NS)} ns ${verdict(median(tRead) < TAKE_CLOSE_TARGET_NS)}`,
    ],
  ];
}

// ---- 6. the read-heavy mix ----

/** One mix op: a key index, and whether it starts a transaction of MIX_TXN_PUTS puts. */
interface Mix {
  readonly keyIndex: Uint32Array;
  readonly isTxn: Uint8Array;
}

function mixOps(rec: Records): Mix {
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
  const db = current.open(file, options);
  const sdb = snapshotsOf(db);
  if (sdb === null) {
    noSnapshots("this figure");
    db.close();
    return [];
  }
  const mix = mixOps(rec);
  const values = Array.from({ length: 64 }, (_, i) => valueOfKey(i, 1));
  const open: SnapshotApi[] = [];
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
            tx.put(rec.keys[key], values[key & 63]);
          }
        });
        continue;
      }
      const key = rec.keys[mix.keyIndex[k0]];
      // The same gets on both sides; with snapshots, every MIX_SNAPSHOT_READ_EVERY-th one
      // reads through one of them (each behind by the commits of the run so far).
      if (++g % MIX_SNAPSHOT_READ_EVERY === 0 && withSnapshots) {
        s += open[(g / MIX_SNAPSHOT_READ_EVERY) % MIX_SNAPSHOTS].get(key)?.[0] ?? 0;
      } else {
        s += db.get(key)?.[0] ?? 0;
      }
    }
    return s;
  };
  const sides: Side[] = [
    { run: run(false), after: () => db.checkpoint() },
    {
      before: () => {
        for (let i = 0; i < MIX_SNAPSHOTS; i++) open.push(sdb.snapshot());
      },
      run: run(true),
      after: () => {
        held = heldBack(db);
        for (const sn of open) sn.close();
        open.length = 0;
        db.checkpoint();
      },
    },
  ];
  const [tNone, tSnaps] = rotated(RUNS, MIX_OPS, sides, WARMUP_RUNS);
  db.close();
  const opsPerSec = (ns: number) => `${fmtInt(1e9 / ns)} ops/s`;
  printRunsOf("no snapshot open      ", tNone, "us/op", 1000);
  printRunsOf(`${MIX_SNAPSHOTS} snapshots open      `, tSnaps, "us/op", 1000);
  const r = speedRatios(tSnaps, tNone);
  console.log(
    `the ${MIX_SNAPSHOTS} snapshots held back at the end of the last run: ${held}; the ` +
      "checkpoint after each run (untimed, snapshots closed) completes",
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

/** What the open snapshots hold back, from the stats fields the snapshot work adds. */
function heldBack(db: KvDb): string {
  const st = (db as { stats?: () => Record<string, unknown> }).stats?.() ?? {};
  const show = (k: string) => (typeof st[k] === "number" ? fmtInt(st[k] as number) : "?");
  return (
    `${show("snapshotCommitsBehind")} commits behind, ${show("snapshotFramesHeld")} log ` +
    `frames held, log ${show("walFrames")} frames`
  );
}

await main();
