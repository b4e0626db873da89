// The results as Markdown: environment and settings, the targets with MET/MISSED, one
// table per workload (ops/s per store and pagekv's ratio to each, > 1: pagekv is faster),
// a summary of the ratios and the file sizes after the bulk load.

import { fmt, median } from "./env.js";

export interface SideResult {
  readonly name: string;
  /** Throughput of each round, in round order. */
  readonly runs: readonly number[];
}

export interface WorkloadResult {
  readonly id: string;
  readonly title: string;
  /** A short name for the chart. */
  readonly label: string;
  readonly what: string;
  /** "ops/s", "keys/s", ... */
  readonly unit: string;
  /** pagekv first, then the peers, then any raw floor. */
  readonly sides: readonly SideResult[];
}

export interface SizeResult {
  readonly name: string;
  /** Apparent size of all files (st_size). */
  readonly bytes: number;
  /** Disk blocks allocated to them (st_blocks x 512; less for sparse files). */
  readonly allocatedBytes: number;
}

export interface StoreInfo {
  readonly name: string;
  readonly version: string;
  readonly api: string;
  readonly relaxed: string;
  readonly durable: string;
  readonly cache: string;
  readonly coldCache: string;
}

export interface ReportInput {
  readonly title: string;
  readonly smoke: boolean;
  readonly command: string;
  readonly environment: readonly string[];
  readonly setup: readonly string[];
  readonly stores: readonly StoreInfo[];
  readonly results: readonly WorkloadResult[];
  readonly sizes: readonly SizeResult[];
  readonly rawBytes: number;
  readonly totalSeconds: number;
}

/** pagekv's throughput over `peer`'s: the median over rounds of the per-round ratios. */
export function ratioTo(r: WorkloadResult, peer: string): number | undefined {
  const a = r.sides[0];
  const b = r.sides.find((s) => s.name === peer);
  if (b === undefined || b === a) return undefined;
  return median(a.runs.map((x, i) => x / b.runs[i]));
}

export function table(headers: readonly string[], rows: readonly (readonly string[])[]): string[] {
  const widths = headers.map((h, c) => Math.max(h.length, ...rows.map((r) => r[c].length)));
  const line = (cells: readonly string[]): string =>
    `| ${cells.map((x, c) => x.padEnd(widths[c])).join(" | ")} |`;
  const rule = `| ${widths.map((w) => "-".repeat(w)).join(" | ")} |`;
  return [line(headers), rule, ...rows.map(line)];
}

/** A ratio below this prints as less than 1.00x: pagekv loses. */
export const LOSS_BELOW = 0.995;

/** A ratio, marked where pagekv loses (never against the raw floor, which bounds it). */
const ratioText = (x: number | undefined, markLoss = true): string =>
  x === undefined
    ? "n/a"
    : `${fmt(x, 2)}x${markLoss && x < LOSS_BELOW ? " **(pagekv loses)**" : ""}`;

interface Target {
  readonly what: string;
  readonly figure: number | undefined;
  readonly goal: number;
  /** true: the figure must be at most the goal. */
  readonly atMost?: boolean;
}

function targets(input: ReportInput): Target[] {
  const byId = new Map(input.results.map((r) => [r.id, r]));
  const ratio = (id: string, peer: string): number | undefined => {
    const r = byId.get(id);
    return r === undefined ? undefined : ratioTo(r, peer);
  };
  /** pagekv over the fastest peer in that workload (the smallest ratio). */
  const best = (id: string): number | undefined => {
    const r = byId.get(id);
    if (r === undefined) return undefined;
    const xs = r.sides
      .slice(1)
      .filter((s) => !s.name.startsWith("raw"))
      .map((s) => ratioTo(r, s.name) ?? Number.POSITIVE_INFINITY);
    return Math.min(...xs);
  };
  const rawNamed = (prefix: string) =>
    byId.get("durable")?.sides.find((s) => s.name.startsWith(prefix))?.name;
  const append = rawNamed("raw append");
  const overwrite = rawNamed("raw overwrite");
  const pagekvSize = input.sizes.find((s) => s.name === "pagekv");
  // Issue 15's targets; the rows already won keep at least their earlier goals.
  return [
    { what: "hot point reads vs the best peer", figure: best("hot"), goal: 1.5 },
    { what: "range scans (100 records) vs lmdb", figure: ratio("scan", "lmdb"), goal: 4 },
    {
      what: "random-order bulk load vs classic-level",
      figure: ratio("load", "classic-level"),
      goal: 1,
    },
    { what: "random-order bulk load vs the best peer", figure: best("load"), goal: 1 },
    { what: "point reads, dataset 10x the cache, vs lmdb", figure: ratio("cold", "lmdb"), goal: 1 },
    { what: "durable single-key commits vs the best peer", figure: best("durable"), goal: 1 },
    {
      what: "durable single-key commits vs raw frame overwrite + fdatasync",
      figure: overwrite === undefined ? undefined : ratio("durable", overwrite),
      goal: 0.95,
    },
    {
      what: "durable single-key commits vs raw append + fdatasync",
      figure: append === undefined ? undefined : ratio("durable", append),
      goal: 0.8,
    },
    {
      what: "batched random updates vs classic-level",
      figure: ratio("batch", "classic-level"),
      goal: 1,
    },
    {
      what: "pagekv file after the random bulk load / raw key+value bytes",
      figure: pagekvSize === undefined ? undefined : pagekvSize.bytes / input.rawBytes,
      goal: 1.15,
      atMost: true,
    },
  ];
}

export function markdown(input: ReportInput): string {
  const out: string[] = [`# ${input.title}`, ""];
  if (input.smoke) {
    out.push(
      "> **Smoke run** (fewer records or operations than the defaults): these figures show",
      "> that the benchmark runs; they are not results.",
      "",
    );
  }
  out.push(`Command: \`${input.command}\`; total time ${fmt(input.totalSeconds, 0)} s.`, "");
  out.push("## Environment", "", ...input.environment.map((l) => `- ${l}`), "");
  out.push("## Setup", "", ...input.setup.map((l) => `- ${l}`), "");
  out.push(
    ...table(
      ["store", "package", "calls used", "YCSB / load / batch setting", "durable-commit setting"],
      input.stores.map((s) => [s.name, s.version, s.api, s.relaxed, s.durable]),
    ),
    "",
    ...table(
      ["store", "cache (all but the small-cache reads)", "cache (small-cache reads)"],
      input.stores.map((s) => [s.name, s.cache, s.coldCache]),
    ),
    "",
  );
  out.push("## Targets (pagekv vs the peers, same run)", "");
  out.push(
    ...table(
      ["target", "figure", "goal", "verdict"],
      targets(input).map((t) => [
        t.what,
        t.figure === undefined ? "not run" : `${fmt(t.figure, 2)}x`,
        `${t.atMost ? "<=" : ">="} ${fmt(t.goal, 2)}x`,
        t.figure === undefined
          ? "not run"
          : (t.atMost ? t.figure <= t.goal : t.figure >= t.goal)
            ? "MET"
            : "**MISSED**",
      ]),
    ),
    "",
  );
  out.push("## Results", "");
  out.push(
    "Throughput is the median over rounds; a ratio is pagekv's throughput over the store's,",
    "the median of the per-round ratios (> 1: pagekv is faster).",
    "",
  );
  for (const r of input.results) {
    out.push(`### ${r.title}`, "", r.what, "");
    out.push(
      ...table(
        ["store", `${r.unit} (median)`, `${r.unit} per round`, "pagekv / store"],
        r.sides.map((s, i) => [
          s.name,
          fmt(median(s.runs), 0),
          s.runs.map((x) => fmt(x, 0)).join(" "),
          i === 0 ? "-" : ratioText(ratioTo(r, s.name), !s.name.startsWith("raw")),
        ]),
      ),
      "",
    );
  }
  out.push("## File size after the random bulk load", "");
  out.push(
    ...table(
      ["store", "bytes (all files, after close)", "/ raw key+value", "allocated (du)", "/ raw"],
      input.sizes.map((s) => [
        s.name,
        fmt(s.bytes, 0),
        `${fmt(s.bytes / input.rawBytes, 2)}x`,
        fmt(s.allocatedBytes, 0),
        `${fmt(s.allocatedBytes / input.rawBytes, 2)}x`,
      ]),
    ),
    "",
  );
  const peers = input.stores.slice(1).map((s) => s.name);
  out.push("## Summary: pagekv / store", "", "![pagekv's ratio to each peer](ratios.svg)", "");
  out.push(
    ...table(
      ["workload", ...peers],
      input.results.map((r) => [r.title, ...peers.map((p) => ratioText(ratioTo(r, p)))]),
    ),
    "",
  );
  return out.join("\n");
}
