// Group commit (issue 12): K concurrent writers each awaiting its own durable single-key
// write, pagekv's putAsync next to its synchronous put, lmdb-js's put (when its promise
// resolves, and when `flushed` does) and classic-level's put with sync: true; durable
// writes/s, per-write latency and the event loop's delay, all in one run. Prints Markdown
// and writes it to bench/peers/GROUP.md.
//
// Usage (from the repository root): npm run bench:group
//   PAGEKV_GROUP_SECONDS=3 (per cell), PAGEKV_GROUP_ROUNDS=5 (each cell once a round),
//   PAGEKV_GROUP_COMMITS_MAX=1000000 (per cell)

import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import { environment, fmt, fsTypeName, packageVersion } from "./env.js";
import { runCell } from "./group-cell.js";
import { type Cell, groupMarkdown } from "./group-report.js";
import { ROWS, type Row, type RowId } from "./group-rows.js";
import { rawAppendSide } from "./measure.js";

const WRITER_COUNTS = [1, 16, 256] as const;
const SECONDS_DEFAULT = 3;
const SECONDS_MAX = 600;
const ROUNDS_DEFAULT = 5;
const ROUNDS_MAX = 20;
const COMMITS_MAX_DEFAULT = 1_000_000;
/** The latency scratch is allocated once: 8 bytes a write. */
const COMMITS_MAX_MAX = 10_000_000;
/** Serial appends + fdatasync for the disk's floor. */
const RAW_SYNCS = 500;

const ROOT = fileURLToPath(new URL("../../../", import.meta.url));

function envNumber(name: string, fallback: number, ok: (x: number) => boolean): number {
  const s = process.env[name];
  if (s === undefined || s === "") return fallback;
  const x = Number(s);
  if (!ok(x)) throw new Error(`${name}=${s}: out of range`);
  return x;
}

/** One cell: a fresh database for `row` in its own directory, K writers, then closed and
 * removed. */
async function measure(
  row: Row,
  k: number,
  seconds: number,
  latencies: Float64Array,
  base: string,
): Promise<Cell> {
  const dir = fs.mkdtempSync(path.join(base, `pagekv-group-${row.id}-${k}-`));
  try {
    const opened = await row.open(dir);
    try {
      const c = await runCell(opened.write, k, seconds, latencies);
      return { ...c, groups: opened.groups() };
    } finally {
      await opened.close();
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/** Linux's pressure stall figures (the share of the last 10 s some task waited for the
 * CPU or for I/O): what else the machine was doing; "" where /proc/pressure is missing. */
function pressure(): string {
  const avg10 = (kind: string): string | undefined => {
    try {
      const line = fs.readFileSync(`/proc/pressure/${kind}`, "utf8").split("\n")[0];
      return /avg10=([\d.]+)/.exec(line)?.[1];
    } catch {
      return undefined;
    }
  };
  const cpu = avg10("cpu");
  const io = avg10("io");
  return cpu === undefined || io === undefined ? "" : `cpu ${cpu}%, io ${io}%`;
}

async function main(): Promise<void> {
  const t0 = performance.now();
  const seconds = envNumber(
    "PAGEKV_GROUP_SECONDS",
    SECONDS_DEFAULT,
    (x) => x > 0 && x <= SECONDS_MAX,
  );
  const commitsMax = envNumber(
    "PAGEKV_GROUP_COMMITS_MAX",
    COMMITS_MAX_DEFAULT,
    (x) => Number.isInteger(x) && x >= 1 && x <= COMMITS_MAX_MAX,
  );
  const rounds = envNumber(
    "PAGEKV_GROUP_ROUNDS",
    ROUNDS_DEFAULT,
    (x) => Number.isInteger(x) && x >= 1 && x <= ROUNDS_MAX,
  );
  // As the peer benchmark: fresh directories under os.tmpdir(). The point is the cost of
  // a real fdatasync, so a tmpfs there is refused (set TMPDIR to a disk-backed directory).
  const base = os.tmpdir();
  const fsType = fsTypeName(base);
  if (fsType === "tmpfs") {
    throw new Error(`${base} is a tmpfs: set TMPDIR to a directory on a disk`);
  }
  const env = environment(ROOT, base);
  env.push(
    `packages: pagekv ${packageVersion("../../package.json")} (this work tree); ` +
      `lmdb ${packageVersion("node_modules/lmdb/package.json")}; ` +
      `classic-level ${packageVersion("node_modules/classic-level/package.json")}`,
  );
  const loadStart = os.loadavg();
  const pressureStart = pressure();
  for (const l of env) console.log(l);
  console.log(`load average ${loadStart.map((x) => x.toFixed(2)).join(", ")}; ${pressureStart}`);

  const rawDir = fs.mkdtempSync(path.join(base, "pagekv-group-raw-"));
  let rawSyncsPerSecond: number;
  try {
    const raw = rawAppendSide(path.join(rawDir, "append.raw"), RAW_SYNCS);
    const r0 = performance.now();
    await raw.run(0);
    rawSyncsPerSecond = (RAW_SYNCS * 1000) / (performance.now() - r0);
    raw.close();
  } finally {
    fs.rmSync(rawDir, { recursive: true, force: true });
  }
  console.log(`raw append + fdatasync: ${fmt(rawSyncsPerSecond)}/s`);

  const latencies = new Float64Array(commitsMax);
  const cells = new Map<RowId, Map<number, Cell[]>>();
  for (let round = 0; round < rounds; round++) {
    for (const k of WRITER_COUNTS) {
      for (let j = 0; j < ROWS.length; j++) {
        const row = ROWS[(round + j) % ROWS.length];
        const cell = await measure(row, k, seconds, latencies, base);
        let byK = cells.get(row.id);
        if (byK === undefined) {
          byK = new Map();
          cells.set(row.id, byK);
        }
        const runs = byK.get(k) ?? [];
        runs.push(cell);
        byK.set(k, runs);
        console.log(
          `[round ${round + 1}/${rounds}, K=${k}] ${row.store} ${row.call}: ` +
            `${fmt(cell.commitsPerSecond)} writes/s, latency median ` +
            `${cell.latencyMedianMs.toFixed(3)} ms p99 ${cell.latencyP99Ms.toFixed(3)} ms, ` +
            `loop p99 ${cell.loopP99Ms.toFixed(2)} ms max ${cell.loopMaxMs.toFixed(2)} ms ` +
            `(${cell.loopSamples} samples), ${fmt(cell.commits)} writes` +
            (cell.groups === undefined ? "" : `, ${fmt(cell.groups)} groups`),
        );
      }
    }
  }

  const md = groupMarkdown({
    command: [
      ...["PAGEKV_GROUP_SECONDS", "PAGEKV_GROUP_ROUNDS", "PAGEKV_GROUP_COMMITS_MAX"]
        .filter((name) => process.env[name])
        .map((name) => `${name}=${process.env[name]}`),
      "npm run bench:group",
    ].join(" "),
    date: new Date().toISOString().replace(/\.\d+Z$/, "Z"),
    environment: env,
    loadStart,
    loadEnd: os.loadavg(),
    pressureStart,
    pressureEnd: pressure(),
    seconds,
    rounds,
    commitsMax,
    writerCounts: WRITER_COUNTS,
    rows: ROWS,
    cells,
    rawSyncsPerSecond,
    totalSeconds: (performance.now() - t0) / 1000,
  });
  const out = path.join(ROOT, "bench", "peers", "GROUP.md");
  fs.writeFileSync(out, `${md.trimEnd()}\n`);
  console.log(`\n${md}`);
  console.log(`wrote ${path.relative(ROOT, out)}`);
}

await main();
