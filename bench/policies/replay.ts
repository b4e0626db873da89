// npm run bench:policies: records pagekv's page-access traces (trace.ts), replays each
// through every policy of policies.ts at pool sizes that are fractions of the trace's
// distinct pages, prints the miss ratios and the verdict on the scan mix, and writes the
// table to docs/bench/POLICIES.md and a hand-written SVG chart to docs/bench/policies.svg.
// Miss ratios are counts, not timings: the run is deterministic from its seeds.

import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { CACHE_BYTES_DEFAULT } from "../../src/db/db.js";
import { countMisses, POLICIES } from "./policies.js";
import {
  PAGE_BYTES,
  RECORDS,
  recordTraces,
  SCAN_MIX_GETS,
  SCAN_MIX_LENGTH,
  SMALL_CACHE_BYTES,
  TRACE_ACCESSES_MIN,
  type Trace,
} from "./trace.js";

/** Pool sizes as fractions of a trace's distinct pages. */
export const SIZE_FRACTIONS = [0.01, 0.02, 0.05, 0.1, 0.2, 0.5] as const;
/** A policy "loses" a cell when its miss ratio exceeds the reference's by more than this. */
export const LOSS_PP = 0.5;
/** The policy the pool ran before S3-FIFO (the seed's), the reference of the verdict. */
const INCUMBENT = "CLOCK";
const OPTIMUM = "Belady";

interface Cell {
  readonly fraction: number;
  readonly frames: number;
  /** Miss ratio in percent, per policy name. */
  readonly missPct: Map<string, number>;
}

interface TraceResult {
  readonly trace: Trace;
  readonly distinct: number;
  readonly cells: Cell[];
}

function distinctPages(pages: Uint32Array): { distinct: number; limit: number } {
  let max = 0;
  for (let i = 0; i < pages.length; i++) if (pages[i] > max) max = pages[i];
  const seen = new Uint8Array(max + 1);
  let distinct = 0;
  for (let i = 0; i < pages.length; i++) {
    if (seen[pages[i]] === 0) {
      seen[pages[i]] = 1;
      distinct++;
    }
  }
  return { distinct, limit: max + 1 };
}

function replay(trace: Trace): TraceResult {
  const { distinct, limit } = distinctPages(trace.pages);
  const cells: Cell[] = [];
  for (const fraction of SIZE_FRACTIONS) {
    const frames = Math.max(2, Math.round(fraction * distinct));
    const missPct = new Map<string, number>();
    for (const p of POLICIES) {
      const misses = countMisses(p.make(frames, limit, trace.pages), trace.pages);
      missPct.set(p.name, (100 * misses) / trace.pages.length);
    }
    const best = missPct.get(OPTIMUM) ?? 0;
    for (const [name, pct] of missPct) {
      if (pct < best) throw new Error(`${trace.id}: ${name} beat Belady at ${frames} frames`);
    }
    cells.push({ fraction, frames, missPct });
  }
  return { trace, distinct, cells };
}

const pct = (x: number, digits = 2): string => x.toFixed(digits);
const pctOf = (f: number): string => `${+(f * 100).toFixed(1)}%`;
const online = POLICIES.map((p) => p.name).filter((n) => n !== OPTIMUM);

function get(c: Cell, name: string): number {
  const v = c.missPct.get(name);
  if (v === undefined) throw new Error(`no figure for ${name}`);
  return v;
}

/**
 * A Markdown table with padded columns, as Biome formats one: the first column left-aligned,
 * the others right-aligned.
 */
function mdTable(headers: readonly string[], rows: readonly (readonly string[])[]): string[] {
  const widths = headers.map((h, c) => Math.max(3, h.length, ...rows.map((r) => r[c].length)));
  const line = (cells: readonly string[]): string =>
    `| ${cells.map((x, c) => (c === 0 ? x.padEnd(widths[c]) : x.padStart(widths[c]))).join(" | ")} |`;
  const rule = widths.map((w, c) => (c === 0 ? "-".repeat(w) : `${"-".repeat(w - 1)}:`));
  return [line(headers), `| ${rule.join(" | ")} |`, ...rows.map(line)];
}

/** The Markdown table of one trace: a row per pool size, a column per policy. */
function table(r: TraceResult): string[] {
  const names = POLICIES.map((p) => p.name);
  const rows = r.cells.map((c) => {
    const bestOnline = Math.min(...online.map((n) => get(c, n)));
    const cols = names.map((n) => {
      const s = pct(get(c, n));
      return n !== OPTIMUM && get(c, n) === bestOnline ? `**${s}**` : s;
    });
    return [pctOf(c.fraction), String(c.frames), ...cols];
  });
  return mdTable([`pool (of ${r.distinct} pages)`, "frames", ...names], rows);
}

interface Verdict {
  readonly lines: string[];
  readonly winner: string;
  readonly winsWithoutLoss: boolean;
}

/** Which online policy wins the scan mix, and its worst cell elsewhere against CLOCK. */
function verdict(results: readonly TraceResult[]): Verdict {
  const mix = results.find((r) => r.trace.id === "scan-mix");
  if (mix === undefined) throw new Error("no scan-mix trace");
  const mean = (name: string, r: TraceResult): number =>
    r.cells.reduce((s, c) => s + get(c, name), 0) / r.cells.length;
  const ranked = [...online].sort((a, b) => mean(a, mix) - mean(b, mix));
  const winner = ranked[0];
  const lines: string[] = [];
  lines.push(
    `Scan mix, mean miss ratio over the ${SIZE_FRACTIONS.length} sizes: ` +
      ranked.map((n) => `${n} ${pct(mean(n, mix))}%`).join(", ") +
      `; ${OPTIMUM} ${pct(mean(OPTIMUM, mix))}%.`,
  );
  const cellsWon = mix.cells.filter(
    (c) => get(c, winner) === Math.min(...online.map((n) => get(c, n))),
  ).length;
  lines.push(
    `${winner} wins the scan mix (lowest mean; lowest at ${cellsWon} of ${mix.cells.length} sizes; ` +
      `vs ${INCUMBENT}: ${mix.cells.map((c) => `${pctOf(c.fraction)} ${signed(get(c, winner) - get(c, INCUMBENT))}`).join(", ")} pp).`,
  );
  let worst = { d: Number.NEGATIVE_INFINITY, where: "" };
  let worstBest = { d: Number.NEGATIVE_INFINITY, where: "" };
  const losses: string[] = [];
  for (const r of results) {
    for (const c of r.cells) {
      const d = get(c, winner) - get(c, INCUMBENT);
      const where = `${r.trace.id} at ${pctOf(c.fraction)}`;
      if (r !== mix && d > worst.d) worst = { d, where };
      const bestOther = Math.min(...online.filter((n) => n !== winner).map((n) => get(c, n)));
      const db = get(c, winner) - bestOther;
      if (db > worstBest.d) worstBest = { d: db, where };
      if (r !== mix && d > LOSS_PP) losses.push(`${where} (${signed(d)} pp)`);
    }
  }
  const winsWithoutLoss = winner !== INCUMBENT && losses.length === 0;
  if (winner === INCUMBENT) {
    lines.push(`${INCUMBENT}, the incumbent, wins: no change is called for.`);
  } else if (losses.length === 0) {
    lines.push(
      `Elsewhere ${winner} never loses to ${INCUMBENT} by more than ${LOSS_PP} pp ` +
        `(its worst cell: ${worst.where}, ${signed(worst.d)} pp).`,
    );
  } else {
    lines.push(
      `${winner} loses to ${INCUMBENT} by more than ${LOSS_PP} pp at: ${losses.join(", ")}.`,
    );
  }
  lines.push(
    `Against the best other online policy of each cell, ${winner}'s worst cell is ` +
      `${worstBest.where} (${signed(worstBest.d)} pp).`,
  );
  return { lines, winner, winsWithoutLoss };
}

const signed = (d: number): string => (d >= 0 ? `+${pct(d)}` : pct(d));

// ---------------------------------------------------------------------------------- chart

const COLORS: Record<string, string> = {
  CLOCK: "#4c78a8",
  LRU: "#f58518",
  SIEVE: "#54a24b",
  "S3-FIFO": "#e45756",
  "S3-FIFO(t=1)": "#b279a2",
  Belady: "#000000",
};
const PANEL_W = 330;
const PANEL_H = 210;
const MARGIN_L = 48;
const MARGIN_T = 28;
const PLOT_W = 260;
const PLOT_H = 140;
const COLS = 2;
const TOP = 64;

const esc = (s: string): string =>
  s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");

/** Miss ratio against pool size, one panel per trace, a line per policy (log x axis). */
function chart(results: readonly TraceResult[]): string {
  const rows = Math.ceil(results.length / COLS);
  const width = COLS * PANEL_W + 20;
  const height = TOP + rows * PANEL_H + 20;
  const title = "pagekv page traces: miss ratio by replacement policy and pool size";
  const s: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" ` +
      `viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="11" role="img">`,
    `<title>${esc(title)}</title>`,
    `<rect width="${width}" height="${height}" fill="white"/>`,
    `<text x="10" y="18" font-size="14" font-weight="bold">${esc(title)}</text>`,
  ];
  POLICIES.forEach((p, i) => {
    const x = 10 + i * 105;
    const dash = p.name === OPTIMUM ? ' stroke-dasharray="4 3"' : "";
    s.push(
      `<line x1="${x}" y1="38" x2="${x + 18}" y2="38" stroke="${COLORS[p.name]}" stroke-width="2"${dash}/>`,
    );
    s.push(`<text x="${x + 22}" y="42">${esc(p.name)}</text>`);
  });
  const lx0 = Math.log(SIZE_FRACTIONS[0]);
  const lx1 = Math.log(SIZE_FRACTIONS[SIZE_FRACTIONS.length - 1]);
  results.forEach((r, k) => {
    const ox = 10 + (k % COLS) * PANEL_W + MARGIN_L;
    const oy = TOP + Math.floor(k / COLS) * PANEL_H + MARGIN_T;
    let yMax = 0;
    for (const c of r.cells) for (const v of c.missPct.values()) yMax = Math.max(yMax, v);
    yMax = niceCeil(yMax);
    const xOf = (f: number): number => ox + ((Math.log(f) - lx0) / (lx1 - lx0)) * PLOT_W;
    const yOf = (v: number): number => oy + PLOT_H - (v / yMax) * PLOT_H;
    s.push(`<text x="${ox}" y="${oy - 10}" font-weight="bold">${esc(r.trace.id)}</text>`);
    for (let t = 0; t <= 4; t++) {
      const v = (yMax * t) / 4;
      const y = yOf(v);
      s.push(
        `<line x1="${ox}" y1="${y}" x2="${ox + PLOT_W}" y2="${y}" stroke="${t === 0 ? "#000" : "#ddd"}"/>`,
      );
      s.push(
        `<text x="${ox - 4}" y="${y + 4}" text-anchor="end" fill="#555">${+v.toFixed(1)}%</text>`,
      );
    }
    for (const f of SIZE_FRACTIONS) {
      const x = xOf(f);
      s.push(`<line x1="${x}" y1="${oy}" x2="${x}" y2="${oy + PLOT_H}" stroke="#eee"/>`);
      s.push(
        `<text x="${x}" y="${oy + PLOT_H + 14}" text-anchor="middle" fill="#555">${pctOf(f)}</text>`,
      );
    }
    for (const p of POLICIES) {
      const pts = r.cells.map(
        (c) => `${xOf(c.fraction).toFixed(1)},${yOf(get(c, p.name)).toFixed(1)}`,
      );
      const dash = p.name === OPTIMUM ? ' stroke-dasharray="4 3"' : "";
      s.push(
        `<polyline points="${pts.join(" ")}" fill="none" stroke="${COLORS[p.name]}" stroke-width="1.6"${dash}/>`,
      );
    }
  });
  s.push(
    `<text x="10" y="${height - 6}" fill="#555">x: pool size as a share of the trace's distinct ` +
      "pages (log scale); y: misses per access</text>",
  );
  s.push("</svg>", "");
  return s.join("\n");
}

function niceCeil(v: number): number {
  if (v <= 0) return 1;
  const step = 10 ** Math.floor(Math.log10(v));
  for (const m of [1, 2, 2.5, 4, 5, 6, 8, 10]) if (m * step >= v) return m * step;
  return 10 * step;
}

// ---------------------------------------------------------------------------------- main

async function main(): Promise<void> {
  const started = new Date();
  const traces = await recordTraces((line) => console.log(line));
  const results: TraceResult[] = [];
  for (const t of traces) {
    const r = replay(t);
    results.push(r);
    console.log(`\n${t.id}: ${t.pages.length} accesses, ${r.distinct} distinct pages`);
    for (const line of table(r)) console.log(line);
  }
  const v = verdict(results);
  console.log("");
  for (const line of v.lines) console.log(line);

  const md: string[] = [
    "# Replacement policies on pagekv's own page traces",
    "",
    "Produced by `npm run bench:policies` (bench/policies/: trace.ts records, policies.ts",
    "simulates, replay.ts writes this file and `policies.svg`); the figures are miss counts",
    "from fixed seeds, not timings, so a rerun prints the same table.",
    "",
    `Run ${started.toISOString().slice(0, 10)}, Node ${process.version}.`,
    "",
    "## What was recorded",
    "",
    `${RECORDS.toLocaleString("en-US")} records (bench/peers' keys and 100-byte values, loaded ` +
      `in random key order, 10,000 per transaction) in a fresh copy of one database per ` +
      `workload, \`pageSize\` ${PAGE_BYTES}, \`sync: "normal"\`. The script wraps ` +
      "`Pager.prototype.get`, `pinAt` (snapshot and range reads) and `allocate` to append each " +
      "page number to a Uint32Array; src/ is unchanged. Only the measured phase is kept " +
      `(after the load and any warm-up), at least ${TRACE_ACCESSES_MIN.toLocaleString("en-US")} ` +
      "accesses per trace, run in whole rounds of the workload.",
    "",
    "- ycsb-a .. ycsb-f: bench/peers' YCSB generator and distributions, imported (Scrambled " +
      "Zipfian theta 0.99; D reads the latest inserts; E scans 1..100 records).",
    "- small-cache: bench/peers' small-cache point reads (uniformly random existing keys, " +
      "after its untimed round).",
    `- scan-mix: Scrambled Zipfian gets with one scan of ${SCAN_MIX_LENGTH.toLocaleString("en-US")} ` +
      `records from a uniformly random key after every ${SCAN_MIX_GETS} gets.`,
    "",
    ...mdTable(
      ["trace", "accesses", "distinct pages", "get", "pinAt", "allocate", "free (not replayed)"],
      results.map((r) =>
        [
          r.trace.id,
          r.trace.pages.length,
          r.distinct,
          r.trace.calls.get,
          r.trace.calls.pinAt,
          r.trace.calls.allocate,
          r.trace.calls.free,
        ].map(String),
      ),
    ),
    "",
    "## The policies",
    "",
    "- CLOCK: the buffer pool's policy before S3-FIFO: the bit set at bind and at every pin, " +
      "empty frames first, the hand clears bits and takes the first clear one.",
    "- LRU; SIEVE (NSDI '24: FIFO order, a visited bit, a hand from the oldest end, survivors " +
      "stay in place).",
    "- S3-FIFO (SOSP '23), exactly as src/pager/buffer-pool.ts's `chooseVictim` runs it: small " +
      "FIFO 10% of the frames, main FIFO 90%, a ghost list (src/pager/ghost.ts) of at most the " +
      "last main-size page numbers " +
      "evicted from small, counters capped at 3 (the miss's own access is no hit); a page leaves " +
      'the small FIFO for main at counter >= 2 ("freq > 1", libCacheSim\'s default). One victim ' +
      "per miss: a move into a full main evicts from main and ends there (Algorithm 1 then " +
      "also evicts from small). S3-FIFO(t=1) moves a page at counter >= 1 (the earlier default), " +
      "shown for comparison.",
    "- Belady: MIN, the offline optimum (farthest next use), a floor for every other column.",
    "",
    "Simplifications: the simulated pool has no pinned frames (the engine never lets a pinned " +
      "frame be a victim: a few frames along the current descent), and a freed page is not " +
      "dropped from the simulated pool (frees are rare here: see the table above). Misses " +
      "include the first touch of every page (the distinct pages), the same for every policy.",
    "",
    "## Miss ratios (% of accesses)",
    "",
    `Pool sizes are ${SIZE_FRACTIONS.map(pctOf).join(", ")} of each trace's distinct pages; ` +
      "the lowest online policy of each row is in bold.",
    "",
  ];
  for (const r of results) {
    md.push(`### ${r.trace.id}: ${r.trace.title}`, "");
    md.push(`${r.trace.pages.length} accesses over ${r.distinct} distinct pages.`, "");
    md.push(...table(r), "");
  }
  const pages = results[0].distinct;
  const share = (bytes: number): string =>
    `${Math.floor(bytes / PAGE_BYTES)} frames, ${pct((100 * Math.floor(bytes / PAGE_BYTES)) / pages, 0)}%`;
  md.push(
    "![miss ratios](policies.svg)",
    "",
    `Where the engine sits on these curves (${pages} distinct pages in ${results[0].trace.id}): ` +
      `the default pool (${CACHE_BYTES_DEFAULT} B) is ${share(CACHE_BYTES_DEFAULT)}; the ` +
      `small-cache workload's (${SMALL_CACHE_BYTES} B) is ${share(SMALL_CACHE_BYTES)}.`,
    "",
    "## Verdict",
    "",
    ...v.lines.map((line) => `- ${line}`),
    "",
  );
  md.push(
    v.winsWithoutLoss
      ? `${v.winner} wins the scan mix without losing elsewhere by more than ${LOSS_PP} pp.`
      : `No policy both wins the scan mix and stays within ${LOSS_PP} pp of ${INCUMBENT} everywhere else.`,
    "",
  );
  const docs = join(process.cwd(), "docs", "bench");
  writeFileSync(join(docs, "POLICIES.md"), md.join("\n"));
  writeFileSync(join(docs, "policies.svg"), chart(results));
  console.log(`\nwrote ${join(docs, "POLICIES.md")} and ${join(docs, "policies.svg")}`);
}

await main();
