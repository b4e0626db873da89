// What a buffer pool costs in resident memory: RSS at open() and per resident page, for
// several cacheBytes, against the raw limit measured in the same run (a bare ArrayBuffer
// of cacheBytes, touched page by page as reads fill frames). Every measurement runs in a
// fresh child process (RSS only grows within one); pagekv and raw children alternate, and
// each figure is the median over ROUNDS rounds.
//
// Usage: npm run bench:pool-rss    (node --expose-gc build/bench/pool-rss.js [--rounds N])

import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { open } from "../src/index.js";
import { fmt, fsTypeName, machineLoad, median, printTable } from "./harness.js";

const PAGE_BYTES = 4096;
const MIB = 2 ** 20;
const CACHES_BYTES = [8 * MIB, 64 * MIB, 256 * MIB, 1024 * MIB] as const;
/** Pages each case brings in: enough to lift RSS well above its noise, within the smallest pool. */
const PAGES_READ = 1800;
/** Keys of the database: 400-byte values, about 9 to a leaf, so about 13,000 pages (52 MiB). */
const KEYS = 110_000;
const VALUE_BYTES = 400;
const KEYS_PER_TXN = 10_000;
/** Keys read between two looks at the pool's stats. */
const READ_STEP_KEYS = 64;
const ROUNDS_DEFAULT = 3;
/**
 * The children's young generation, capped: the gets' garbage otherwise grows it by up to
 * 16 MiB during the reads (measured: 13 KiB of RSS per page read at 1,800 pages, 4 KiB past
 * them), a cost of the benchmark's loop, not of the pool.
 */
const SEMI_SPACE_MIB = 1;

/** What one child prints: RSS in bytes at each stage, and the pages resident at the end. */
interface Sample {
  rssBefore: number;
  rssOpen: number;
  rssRead: number;
  pages: number;
}

function rssNow(): number {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (gc === undefined) throw new Error("run with node --expose-gc");
  gc();
  gc();
  return process.memoryUsage().rss;
}

function keyOf(i: number): string {
  return `key:${i.toString().padStart(10, "0")}`;
}

/** The database every pagekv child opens: KEYS keys in key order, checkpointed home. */
function build(file: string): void {
  const db = open(file, { sync: "off", cacheBytes: 64 * MIB });
  const value = new Uint8Array(VALUE_BYTES).fill(0x61);
  for (let start = 0; start < KEYS; start += KEYS_PER_TXN) {
    db.batch(
      Array.from({ length: Math.min(KEYS_PER_TXN, KEYS - start) }, (_, j) => ({
        type: "put" as const,
        key: keyOf(start + j),
        value,
      })),
    );
  }
  db.checkpoint();
  db.close();
}

/** A pagekv child: open with `cacheBytes`, then read keys until PAGES_READ pages are resident. */
function childPagekv(file: string, cacheBytes: number): Sample {
  const rssBefore = rssNow();
  const db = open(file, { cacheBytes, sync: "off" });
  const rssOpen = rssNow();
  // Every miss binds a frame and every eviction frees one: misses - evictions are resident.
  const resident = (): number => {
    const s = db.stats();
    return s.misses - s.evictions;
  };
  let i = 0;
  while (resident() < PAGES_READ && i < KEYS) {
    for (let end = Math.min(i + READ_STEP_KEYS, KEYS); i < end; i++) db.get(keyOf(i));
  }
  const pages = resident();
  const rssRead = rssNow();
  db.close();
  return { rssBefore, rssOpen, rssRead, pages };
}

/** The raw limit: an ArrayBuffer of `cacheBytes`, PAGES_READ pages of it written whole. */
function childRaw(cacheBytes: number): Sample {
  const rssBefore = rssNow();
  const arena = new Uint8Array(new ArrayBuffer(cacheBytes));
  const rssOpen = rssNow();
  for (let p = 0; p < PAGES_READ; p++) arena.fill(p & 0xff, p * PAGE_BYTES, (p + 1) * PAGE_BYTES);
  const rssRead = rssNow();
  if (arena[0] !== 0) throw new Error("the arena lost its first page");
  return { rssBefore, rssOpen, rssRead, pages: PAGES_READ };
}

function runChild(script: string, args: string[]): Sample {
  const flags = ["--expose-gc", `--max-semi-space-size=${SEMI_SPACE_MIB}`];
  const out = execFileSync(process.execPath, [...flags, script, "--child", ...args], {
    encoding: "utf8",
  });
  return JSON.parse(out.trim().split("\n").at(-1) ?? "") as Sample;
}

function mib(bytes: number): string {
  return `${fmt(bytes / MIB)} MiB`;
}

function main(): void {
  const { values, positionals } = parseArgs({
    options: { child: { type: "boolean" }, rounds: { type: "string" } },
    allowPositionals: true,
  });
  if (values.child === true) {
    const [kind, cache, file] = positionals;
    const sample = kind === "raw" ? childRaw(Number(cache)) : childPagekv(file, Number(cache));
    console.log(JSON.stringify(sample));
    return;
  }
  const rounds = Number(values.rounds ?? ROUNDS_DEFAULT);
  const script = fileURLToPath(import.meta.url);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "pagekv-pool-rss-"));
  const file = path.join(dir, "rss.pkv");
  console.log("pagekv pool RSS benchmark");
  console.log(`node ${process.version} on ${os.platform()} ${os.arch()}`);
  console.log(`temp dir: ${dir} (${fsTypeName(dir)})`);
  console.log(machineLoad());
  try {
    build(file);
    const pages = fs.statSync(file).size / PAGE_BYTES;
    console.log(
      `database: ${KEYS} keys of ${VALUE_BYTES}-byte values, ${pages} pages of ${PAGE_BYTES} ` +
        `bytes; each case reads keys in order until ${PAGES_READ} pages are resident`,
    );
    console.log(
      `each figure: median of ${rounds} rounds; one fresh child process per measurement, ` +
        "pagekv and raw alternating",
    );
    const kv = new Map<number, Sample[]>(CACHES_BYTES.map((c) => [c, []]));
    const raw = new Map<number, Sample[]>(CACHES_BYTES.map((c) => [c, []]));
    for (let r = 0; r < rounds; r++) {
      for (const cache of CACHES_BYTES) {
        const pair = () => kv.get(cache)?.push(runChild(script, ["pagekv", `${cache}`, file]));
        const bare = () => raw.get(cache)?.push(runChild(script, ["raw", `${cache}`]));
        if (r % 2 === 0) {
          pair();
          bare();
        } else {
          bare();
          pair();
        }
      }
    }
    const rows = CACHES_BYTES.map((cache) => {
      const k = kv.get(cache) ?? [];
      const b = raw.get(cache) ?? [];
      const openCost = median(k.map((s) => s.rssOpen - s.rssBefore));
      const rawOpen = median(b.map((s) => s.rssOpen - s.rssBefore));
      const perPage = median(k.map((s) => (s.rssRead - s.rssOpen) / s.pages));
      const rawPerPage = median(b.map((s) => (s.rssRead - s.rssOpen) / s.pages));
      return [
        `cacheBytes ${cache / MIB} MiB (${cache / PAGE_BYTES} frames)`,
        mib(median(k.map((s) => s.rssOpen))),
        `${mib(openCost)} (raw ${mib(rawOpen)})`,
        `${fmt(perPage / 1024, 2)} KiB (${median(k.map((s) => s.pages))} pages)`,
        `${fmt(rawPerPage / 1024, 2)} KiB`,
        `${fmt(perPage / rawPerPage, 2)}x`,
      ];
    });
    printTable(
      [
        "case",
        "RSS at open",
        "pool cost at open",
        "per resident page",
        "raw per page",
        "ratio (per page)",
      ],
      rows,
    );
    console.log(machineLoad());
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

main();
