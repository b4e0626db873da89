// npm run bench:browser: the same workload (scripts/browser/workload.js) on pagekv over
// OPFS in Debian's headless Chromium and on Node over NodeFS, in one run, as a table.
// No target: the figures go to the README.

import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { NodeFS, open, type VFS } from "../src/index.js";
import { chromiumMissing, launchChromium } from "./chromium.js";
import { serveStatic } from "./serve.js";

interface Figures {
  batchedPutsPerSec: number;
  durableCommitsPerSec: number;
  hotGetsPerSec: number;
  scansPerSec: number;
}

interface Workload {
  WORKLOAD: {
    records: number;
    batch: number;
    durableCommits: number;
    gets: number;
    scans: number;
    scanKeys: number;
    cacheBytes: number;
  };
  runWorkload(db: unknown, now: () => number): Figures;
}

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..");
const workload = (await import(
  pathToFileURL(path.join(repoRoot, "scripts", "browser", "workload.js")).href
)) as Workload;
const W = workload.WORKLOAD;

/** Rounds of each side, alternated (browser, Node, Node with the TS CRC-32); medians shown. */
const ROUNDS = 5;

/** A Chromium page that runs the workload in a new OPFS worker at each call. */
async function browserRunner(): Promise<{
  version: string;
  run(): Promise<Figures>;
  close(): Promise<void>;
}> {
  const missing = chromiumMissing();
  if (missing !== null) throw new Error(`bench:browser needs Chromium: ${missing}`);
  const server = await serveStatic(repoRoot);
  const chromium = await launchChromium();
  const version = chromium.context.browser()?.version() ?? "?";
  const page = await chromium.context.newPage();
  await page.goto(`${server.origin}/scripts/browser/index.html`);
  await page.waitForFunction(() => "runBench" in globalThis);
  return {
    version,
    run: async () => {
      const r = (await page.evaluate(() =>
        (globalThis as unknown as { runBench(): Promise<unknown> }).runBench(),
      )) as { ok: boolean; result: Figures; error?: string };
      if (!r.ok) throw new Error(`the browser run failed: ${r.error}`);
      return r.result;
    },
    close: async () => {
      await chromium.close();
      await server.close();
    },
  };
}

/** NodeFS without its native (zlib) CRC-32: the engine then uses the pure-TS one, as in a browser. */
function tsCrcOnly(fs: NodeFS): VFS {
  return {
    open: (p, o) => fs.open(p, o),
    delete: (p) => fs.delete(p),
    exists: (p) => fs.exists(p),
    lock: (p, m) => fs.lock(p, m),
    canonical: (p) => fs.canonical(p),
  };
}

function onNode(vfs: VFS): Figures {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "pagekv-bench-browser-"));
  try {
    const db = open(path.join(dir, "bench.pkv"), { cacheBytes: W.cacheBytes, sync: "full", vfs });
    const figures = workload.runWorkload(db, () => performance.now());
    db.close();
    return figures;
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

const fmt = (n: number) => Math.round(n).toLocaleString("en-US");

function median(runs: Figures[]): Figures {
  const pick = (k: keyof Figures) => {
    const v = runs.map((r) => r[k]).sort((a, b) => a - b);
    return v[Math.floor(v.length / 2)] ?? Number.NaN;
  };
  return {
    batchedPutsPerSec: pick("batchedPutsPerSec"),
    durableCommitsPerSec: pick("durableCommitsPerSec"),
    hotGetsPerSec: pick("hotGetsPerSec"),
    scansPerSec: pick("scansPerSec"),
  };
}

const runner = await browserRunner();
const runs = { browser: [] as Figures[], node: [] as Figures[], nodeTsCrc: [] as Figures[] };
try {
  for (let round = 0; round < ROUNDS; round++) {
    runs.browser.push(await runner.run());
    runs.node.push(onNode(new NodeFS()));
    runs.nodeTsCrc.push(onNode(tsCrcOnly(new NodeFS())));
  }
} finally {
  await runner.close();
}
const browser = { version: runner.version, figures: median(runs.browser) };
const node = median(runs.node);
const nodeTsCrc = median(runs.nodeTsCrc);
const rows: [string, keyof Figures, string][] = [
  [
    `batched puts (${fmt(W.batch)}/batch, random order, ${fmt(W.records)} keys)`,
    "batchedPutsPerSec",
    "puts/s",
  ],
  ["durable single-key commits (sync full)", "durableCommitsPerSec", "commits/s"],
  [`hot gets (random keys, database in the pool)`, "hotGetsPerSec", "gets/s"],
  [`scans of ${W.scanKeys} keys`, "scansPerSec", "scans/s"],
];
const header = [
  "benchmark",
  `Chromium ${browser.version}, OPFS (worker)`,
  `Node ${process.versions.node}, NodeFS`,
  "browser / Node",
  "Node, NodeFS, TS CRC-32",
  "browser / that",
];
const table = [
  header,
  ...rows.map(([label, k, unit]) => [
    label,
    `${fmt(browser.figures[k])} ${unit}`,
    `${fmt(node[k])} ${unit}`,
    `${(browser.figures[k] / node[k]).toFixed(2)}x`,
    `${fmt(nodeTsCrc[k])} ${unit}`,
    `${(browser.figures[k] / nodeTsCrc[k]).toFixed(2)}x`,
  ]),
];
const widths = header.map((_, c) => Math.max(...table.map((r) => (r[c] ?? "").length)));
const line = (r: string[]) => `| ${r.map((cell, c) => cell.padEnd(widths[c] ?? 0)).join(" | ")} |`;
console.log(
  `pagekv bench:browser, ${new Date().toISOString().slice(0, 10)}: 16-byte keys, 100-byte values, 4 KiB pages, ${fmt(W.cacheBytes / 2 ** 20)} MiB pool; medians of ${ROUNDS} alternated rounds`,
);
console.log(line(table[0] ?? []));
console.log(`| ${widths.map((w) => "-".repeat(w)).join(" | ")} |`);
for (const r of table.slice(1)) console.log(line(r));
