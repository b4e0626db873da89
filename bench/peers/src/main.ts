// pagekv side by side with lmdb, better-sqlite3 and classic-level: same records, same
// operations, same machine, one run. Prints the results as Markdown and writes them to
// docs/bench/RESULTS.md, with the chart docs/bench/ratios.svg.
//
// Usage (from the repository root): npm run bench:peers -- [--records N] [--ops N]
//   [--commits N] [--only hot,scan,a,b,c,d,e,f,batch,durable,cold]

import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { WAL_FRAME_HEADER_BYTES } from "../../../dist/format/wal-format.js";
import { ratioChart } from "./chart.js";
import { dirBytes, environment, fmt, median } from "./env.js";
import {
  bulkLoad,
  rawAppendSide,
  rawOverwriteSide,
  rawPageReadSide,
  rotatedRounds,
  type Side,
  sink,
} from "./measure.js";
import { KEY_BYTES, RECORD_BYTES, VALUE_BYTES } from "./records.js";
import { markdown, type SizeResult, type StoreInfo, type WorkloadResult } from "./report.js";
import { LevelStore } from "./stores/level.js";
import { LmdbStore } from "./stores/lmdb.js";
import { PAGE_BYTES, PagekvStore } from "./stores/pagekv.js";
import { SqliteStore } from "./stores/sqlite.js";
import type { Store, StoreMode } from "./stores/store.js";
import {
  batchedUpdates,
  coldReads,
  Dataset,
  durableCommits,
  hotReads,
  type Phase,
  rangeScans,
  type Workload,
  ycsbWorkload,
} from "./workloads.js";

/** Defaults sized to finish well inside 15 minutes on a 2-core machine (see README.md). */
const RECORDS_DEFAULT = 1_000_000;
const OPS_DEFAULT = 100_000;
const COMMITS_DEFAULT = 1_000;
const ROUNDS = 5;
const LOAD_TXN_RECORDS = 10_000;
/** The cache of every phase but the small-cache reads: twice the raw bytes, at least this. */
const CACHE_BYTES_MIN = 16 * 2 ** 20;
const WORKLOAD_IDS = ["hot", "scan", "a", "b", "c", "f", "d", "e", "batch", "durable", "cold"];
/** Short names for the chart. */
const LABELS: Record<string, string> = {
  load: "bulk load, random, 10k/txn",
  hot: "hot point reads",
  scan: "range scans of 100",
  a: "YCSB A (50/50 read/update)",
  b: "YCSB B (95/5 read/update)",
  c: "YCSB C (read only)",
  d: "YCSB D (read latest)",
  e: "YCSB E (short scans)",
  f: "YCSB F (read-modify-write)",
  batch: "batched updates, 1,000/txn",
  durable: "durable single-key commits",
  cold: "point reads, data 10x cache",
};

const ROOT = fileURLToPath(new URL("../../../", import.meta.url));

function count(value: string | undefined, fallback: number, name: string): number {
  const n = value === undefined ? fallback : Number(value);
  if (!Number.isInteger(n) || n < 1) throw new Error(`--${name} must be a positive integer`);
  return n;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      records: { type: "string" },
      ops: { type: "string" },
      commits: { type: "string" },
      only: { type: "string" },
    },
  });
  const records = count(values.records, RECORDS_DEFAULT, "records");
  const ops = count(values.ops, OPS_DEFAULT, "ops");
  const commits = count(values.commits, COMMITS_DEFAULT, "commits");
  if (records < 1000 || ops < ROUNDS * 100) throw new Error("need --records >= 1000, --ops >= 500");
  const only = values.only?.split(",").map((s) => s.trim().toLowerCase()) ?? WORKLOAD_IDS;
  for (const id of only) {
    if (id !== "load" && !WORKLOAD_IDS.includes(id)) throw new Error(`unknown workload ${id}`);
  }
  const t0 = performance.now();
  const rawBytes = records * RECORD_BYTES;
  const cacheBytes = Math.max(CACHE_BYTES_MIN, 2 * rawBytes);
  const coldCacheBytes = Math.floor(rawBytes / 10);
  const modes: Record<Phase, StoreMode> = {
    relaxed: { durable: false, cacheBytes },
    durable: { durable: true, cacheBytes },
    cold: { durable: false, cacheBytes: coldCacheBytes },
  };

  const stores: Store[] = [new PagekvStore(), new LmdbStore(), new SqliteStore(), new LevelStore()];
  const dirs = stores.map((s) => fs.mkdtempSync(path.join(os.tmpdir(), `pagekv-peers-${s.name}-`)));
  const rawDir = fs.mkdtempSync(path.join(os.tmpdir(), "pagekv-peers-raw-"));
  const env = environment(ROOT, os.tmpdir());
  env.push(`packages: ${stores.map((s) => s.version).join("; ")}`);
  for (const l of env) console.log(l);
  console.log(
    `${fmt(records)} records, ${fmt(ops)} ops per workload, ${fmt(commits)} durable commits, ` +
      `${ROUNDS} rounds; cache ${fmt(cacheBytes / 2 ** 20, 1)} MiB, small cache ` +
      `${fmt(coldCacheBytes / 2 ** 20, 2)} MiB`,
  );

  const results: WorkloadResult[] = [];
  const sizes: SizeResult[] = [];
  let phase: Phase | undefined;
  const enter = async (next: Phase): Promise<void> => {
    if (phase === next) return;
    for (const [i, s] of stores.entries()) {
      if (phase !== undefined) await s.close();
      await s.open(dirs[i], modes[next]);
    }
    phase = next;
  };
  try {
    // The bulk load, one store after the other (it cannot be repeated), each transaction
    // durable, then the size of each store's files after the clean close that ends it.
    const loadRuns: number[] = [];
    for (const [i, s] of stores.entries()) {
      await s.open(dirs[i], modes.durable);
      const t = performance.now();
      loadRuns.push(await bulkLoad(s, records, LOAD_TXN_RECORDS));
      sizes.push({ name: s.name, ...dirBytes(dirs[i]) });
      console.log(
        `[load] ${s.name}: ${fmt(loadRuns[i])} records/s (${fmt((performance.now() - t) / 1000, 1)} s), ` +
          `files ${fmt(sizes[i].bytes)} B`,
      );
    }
    results.push({
      id: "load",
      label: LABELS.load,
      title: `Bulk load, random key order, ${fmt(LOAD_TXN_RECORDS)} records per transaction`,
      what:
        `${fmt(records)} records inserted by hashed key (a random key order), one write ` +
        "transaction per batch, each durable (the durable-commit settings), timed up to and " +
        "including the close that ends the load; one run per store",
      unit: "records/s",
      sides: stores.map((s, i) => ({ name: s.name, runs: [loadRuns[i]] })),
    });

    const data = new Dataset(records);
    const build = (id: string): Workload => {
      switch (id) {
        case "hot":
          return hotReads(data, ops, ROUNDS);
        case "scan":
          return rangeScans(data, Math.max(ROUNDS, Math.floor(ops / 10)), ROUNDS);
        case "batch":
          return batchedUpdates(data, ops, ROUNDS);
        case "durable":
          return durableCommits(data, Math.max(ROUNDS, commits), ROUNDS);
        case "cold":
          return coldReads(data, ops, ROUNDS, coldCacheBytes);
        default:
          return ycsbWorkload(id, data, ops, ROUNDS);
      }
    };
    for (const id of WORKLOAD_IDS) {
      if (!only.includes(id)) continue;
      const t = performance.now();
      const w = build(id);
      await enter(w.phase);
      for (const s of stores) await w.warmup?.(s);
      const sides: Side[] = stores.map((s) => ({ name: s.name, run: (r) => w.run(s, r) }));
      const raws =
        id === "durable"
          ? [
              rawAppendSide(path.join(rawDir, "append.raw"), w.opsPerRound),
              rawOverwriteSide(
                path.join(rawDir, "overwrite.raw"),
                PAGE_BYTES + WAL_FRAME_HEADER_BYTES,
                w.opsPerRound,
              ),
            ]
          : id === "cold"
            ? [rawPageReadSide(path.join(dirs[0], PagekvStore.FILE), PAGE_BYTES, w.opsPerRound)]
            : [];
      sides.push(...raws);
      const runs = await rotatedRounds(sides, ROUNDS, w.opsPerRound);
      for (const raw of raws) raw.close();
      const unit = id === "batch" ? "keys/s" : id === "scan" ? "scans/s" : "ops/s";
      results.push({
        id,
        title: w.title,
        label: LABELS[id],
        what: w.what,
        unit,
        sides: sides.map((s, i) => ({ name: s.name, runs: runs[i] })),
      });
      console.log(
        `[${id}] ${sides.map((s, i) => `${s.name} ${fmt(median(runs[i]))}`).join(", ")} ${unit} ` +
          `(${fmt((performance.now() - t) / 1000, 1)} s)`,
      );
    }
  } finally {
    // A failure may have left some stores closed: closing is best effort here.
    if (phase !== undefined) {
      for (const s of stores)
        await Promise.resolve()
          .then(() => s.close())
          .catch(() => {});
    }
    for (const d of [...dirs, rawDir]) fs.rmSync(d, { recursive: true, force: true });
  }

  const storeInfo: StoreInfo[] = stores.map((s) => ({
    name: s.name,
    version: s.version,
    api: s.api,
    relaxed: s.setting(modes.relaxed),
    durable: s.setting(modes.durable),
    cache: s.cacheSetting(modes.relaxed),
    coldCache: s.cacheSetting(modes.cold),
  }));
  const totalSeconds = (performance.now() - t0) / 1000;
  const args = process.argv.slice(2).join(" ");
  const md = markdown({
    title: "pagekv vs lmdb, better-sqlite3 and classic-level",
    smoke: records < RECORDS_DEFAULT || ops < OPS_DEFAULT || commits < COMMITS_DEFAULT,
    command: `npm run bench:peers${args === "" ? "" : ` -- ${args}`}`,
    environment: env,
    setup: [
      `${fmt(records)} records: keys "user" + 12 decimal digits of a hash of the record ` +
        `number (${KEY_BYTES} B), values ${VALUE_BYTES} B of pseudo-random bytes ` +
        `(incompressible); raw key+value bytes ${fmt(rawBytes)}`,
      `${fmt(ops)} operations per YCSB workload and for the hot and small-cache reads and ` +
        `the batched updates (keys), ${fmt(Math.floor(ops / 10))} range scans, ` +
        `${fmt(commits)} durable commits; each split into ${ROUNDS} rounds in which the ` +
        "stores take turns (rotated order); all stores run the same pregenerated operations",
      "YCSB: Scrambled Zipfian request keys (theta 0.99, YCSB's constants and FNV hash), " +
        "workload D with YCSB's SkewedLatest; one operation = one single-key transaction, as " +
        "in YCSB (a read-modify-write is a read and a put; an update writes the whole value)",
      "YCSB, hot reads, scans, batched updates and the small-cache reads run each store in " +
        "its relaxed setting (below): no fsync per commit, so a commit survives a process " +
        "crash but may be lost at a power failure (lmdb's noSync may also corrupt the file " +
        "then); the bulk load and the durable commits use each store's fsync-per-commit setting",
      `Workload order: load, ${WORKLOAD_IDS.filter((i) => only.includes(i)).join(", ")}; ` +
        "D and E insert new records, so later workloads see them too",
      "Each store in its own fresh temp dir under os.tmpdir(), removed at the end; a full GC " +
        "(--expose-gc) before every timed round",
    ],
    stores: storeInfo,
    results,
    sizes,
    rawBytes,
    totalSeconds,
  });
  const outDir = path.join(ROOT, "docs", "bench");
  fs.mkdirSync(outDir, { recursive: true });
  fs.writeFileSync(path.join(outDir, "RESULTS.md"), md);
  fs.writeFileSync(
    path.join(outDir, "ratios.svg"),
    ratioChart(
      "pagekv throughput / peer throughput (same run)",
      results,
      stores.slice(1).map((s) => s.name),
    ),
  );
  console.log(`\n${md}`);
  console.log(`wrote docs/bench/RESULTS.md and docs/bench/ratios.svg (sink ${sink()})`);
}

await main();
