// The group-commit results as Markdown: one table per K (each figure next to its reference
// from the same run, pagekv's synchronous put, with the ratio), then the targets
// with the figure, the reference, the ratio and MET / MISSED. Every cell runs once per
// round; a figure is the median over rounds, and a ratio the median of the per-round
// ratios (the two sides of a ratio ran in the same round, minutes apart at most, so
// drift in the machine's background load hits both).

import { fmt, median } from "./env.js";
import type { CellResult } from "./group-cell.js";
import type { Row, RowId } from "./group-rows.js";
import { table } from "./report.js";

export interface Cell extends CellResult {
  /** Groups committed (pagekv's putAsync row), else undefined. */
  readonly groups: number | undefined;
}

export interface GroupReport {
  readonly command: string;
  readonly date: string;
  readonly environment: readonly string[];
  readonly loadStart: readonly number[];
  readonly loadEnd: readonly number[];
  /** /proc/pressure's "some avg10" for cpu and io at the start and the end ("" if none). */
  readonly pressureStart: string;
  readonly pressureEnd: string;
  readonly seconds: number;
  readonly rounds: number;
  readonly commitsMax: number;
  readonly writerCounts: readonly number[];
  readonly rows: readonly Row[];
  /** cells.get(row id)?.get(K)?.[round] */
  readonly cells: ReadonlyMap<RowId, ReadonlyMap<number, readonly Cell[]>>;
  /** Serial 116-byte appends, one fdatasync each, per second: the disk's floor. */
  readonly rawSyncsPerSecond: number;
  readonly totalSeconds: number;
}

/** The targets (issue 12, "Performance"). */
export const ASYNC_OVER_SYNC_MIN = 10;
export const ASYNC_OVER_LMDB_MIN = 1;
export const LOOP_P99_RATIO_MAX = 0.25;
/** The K the throughput targets are judged at. */
export const TARGET_WRITERS = 256;

type Figure = (c: Cell) => number;
const rate: Figure = (c) => c.commitsPerSecond;
const loopP99: Figure = (c) => c.loopP99Ms;

const ms = (x: number): string => (Number.isNaN(x) ? "n/a" : fmt(x, x < 10 ? 3 : 1));
const ratioText = (x: number | undefined): string =>
  x === undefined || Number.isNaN(x) ? "n/a" : `${fmt(x, x < 0.1 ? 4 : 2)}x`;
const load = (l: readonly number[]): string => l.map((x) => x.toFixed(2)).join(", ");

class Results {
  constructor(private readonly input: GroupReport) {}

  runs(id: RowId, k: number): readonly Cell[] {
    return this.input.cells.get(id)?.get(k) ?? [];
  }

  /** The median over rounds of `f`, or undefined when the cell did not run (or is NaN). */
  median(id: RowId, k: number, f: Figure): number | undefined {
    const xs = this.runs(id, k)
      .map(f)
      .filter((x) => !Number.isNaN(x));
    return xs.length === 0 ? undefined : median(xs);
  }

  /** f(a) / f(b) in each round both ran in. */
  ratios(a: RowId, b: RowId, k: number, f: Figure): number[] {
    const ra = this.runs(a, k);
    const rb = this.runs(b, k);
    const out: number[] = [];
    for (let r = 0; r < Math.min(ra.length, rb.length); r++) {
      const x = f(ra[r]) / f(rb[r]);
      if (Number.isFinite(x)) out.push(x);
    }
    return out;
  }

  ratio(a: RowId, b: RowId, k: number, f: Figure): number | undefined {
    const xs = this.ratios(a, b, k, f);
    return xs.length === 0 ? undefined : median(xs);
  }
}

function cellTable(input: GroupReport, res: Results, k: number): string[] {
  const rows = input.rows.map((row) => {
    const runs = res.runs(row.id, k);
    if (runs.length === 0) {
      return [row.store, `\`${row.call}\``, "n/a", "", "", "", "", "", "", "", "", "", "not run"];
    }
    const rates = runs.map(rate);
    const writes = runs.reduce((s, c) => s + c.commits, 0);
    const groups = runs.reduce((s, c) => s + (c.groups ?? 0), 0);
    const bounded = runs.some((c) => c.bounded);
    const m = (f: Figure): string => ms(res.median(row.id, k, f) ?? Number.NaN);
    return [
      row.store,
      `\`${row.call}\``,
      fmt(res.median(row.id, k, rate) ?? Number.NaN),
      `${fmt(Math.min(...rates))}-${fmt(Math.max(...rates))}`,
      ratioText(res.ratio(row.id, "pagekv-sync", k, rate)),
      m((c) => c.latencyMedianMs),
      m((c) => c.latencyP99Ms),
      m(loopP99),
      ratioText(res.ratio(row.id, "pagekv-sync", k, loopP99)),
      ms(Math.max(...runs.map((c) => c.loopMaxMs))),
      fmt(median(runs.map((c) => c.loopSamples))),
      fmt(writes) + (bounded ? " (bound)" : ""),
      runs[0].groups === undefined
        ? ""
        : `${fmt(groups)} groups, ${fmt(writes / Math.max(1, groups), 1)} writes/group`,
    ];
  });
  return table(
    [
      "store",
      "each writer runs",
      "writes/s",
      "range over rounds",
      "x pagekv sync",
      "latency median ms",
      "latency p99 ms",
      "loop p99 ms",
      "loop p99 / pagekv sync",
      "loop max ms",
      "loop samples",
      "writes",
      "notes",
    ],
    rows,
  );
}

interface Target {
  readonly what: string;
  readonly figure: string;
  readonly reference: string;
  readonly ratio: number | undefined;
  readonly perRound: readonly number[];
  readonly goal: string;
  readonly verdict: string;
}

function verdict(r: number | undefined, met: (x: number) => boolean, judged: boolean): string {
  if (r === undefined || Number.isNaN(r)) return "NOT MEASURED";
  if (!judged) return met(r) ? "(would be met; not judged)" : "(would be missed; not judged)";
  return met(r) ? "MET" : "**MISSED**";
}

function targets(input: GroupReport, res: Results): Target[] {
  const figure = (id: RowId, k: number, f: Figure, unit: string): string => {
    const x = res.median(id, k, f);
    return x === undefined ? "n/a" : unit === "/s" ? `${fmt(x)}/s` : `${ms(x)} ms`;
  };
  const k = TARGET_WRITERS;
  const out: Target[] = [];
  const throughput = (id: RowId, name: string, min: number, judged: boolean): Target => {
    const r = res.ratio("pagekv-async", id, k, rate);
    return {
      what: `K = ${k}: pagekv \`putAsync\` writes/s vs ${name}`,
      figure: figure("pagekv-async", k, rate, "/s"),
      reference: figure(id, k, rate, "/s"),
      ratio: r,
      perRound: res.ratios("pagekv-async", id, k, rate),
      goal: `>= ${min}x`,
      verdict: verdict(r, (x) => x >= min, judged),
    };
  };
  out.push(throughput("pagekv-sync", "pagekv sync `put`", ASYNC_OVER_SYNC_MIN, true));
  out.push(
    throughput(
      "lmdb-flushed",
      "lmdb-js `put` + `flushed` (durable: **the lmdb target is judged on this row**)",
      ASYNC_OVER_LMDB_MIN,
      true,
    ),
  );
  out.push(
    throughput(
      "lmdb-promise",
      "lmdb-js `put` promise (committed, not yet durable: shown, not judged)",
      ASYNC_OVER_LMDB_MIN,
      false,
    ),
  );
  for (const w of input.writerCounts) {
    for (const [id, name, judged] of [
      ["pagekv-sync", "pagekv sync (`await null`)", true],
      ["pagekv-sync-turn", "pagekv sync yielding a turn (control, not judged)", false],
    ] as const) {
      const r = res.ratio("pagekv-async", id, w, loopP99);
      out.push({
        what: `K = ${w}: event-loop p99 delay, pagekv async vs ${name}`,
        figure: figure("pagekv-async", w, loopP99, "ms"),
        reference: figure(id, w, loopP99, "ms"),
        ratio: r,
        perRound: res.ratios("pagekv-async", id, w, loopP99),
        goal: `< ${LOOP_P99_RATIO_MAX}x`,
        verdict: verdict(r, (x) => x < LOOP_P99_RATIO_MAX, judged),
      });
    }
  }
  return out;
}

export function groupMarkdown(input: GroupReport): string {
  const res = new Results(input);
  const out: string[] = [
    "## Group commit, measured",
    "",
    `\`${input.command}\`, run ${input.date}; load average (1, 5, 15 min) ` +
      `${load(input.loadStart)} at the start, ${load(input.loadEnd)} at the end` +
      (input.pressureStart === ""
        ? ""
        : ` (pressure, share of the last 10 s some task waited: ${input.pressureStart} at ` +
          `the start, ${input.pressureEnd} at the end)`) +
      `; ${fmt(input.totalSeconds, 0)} s in all.`,
    "",
    ...input.environment.map((l) => `- ${l}`),
    "",
    `K concurrent writers (K = ${input.writerCounts.join(", ")}), each an async loop that ` +
      "awaits its own single-key write: a distinct 16-byte key each time (a random key " +
      `order), a 100-byte incompressible value. Each cell runs ${fmt(input.seconds, 1)} s ` +
      `(PAGEKV_GROUP_SECONDS) or until ${fmt(input.commitsMax)} writes were issued, on a ` +
      "fresh database in its own directory, then waits for every write issued; every cell " +
      `runs once in each of ${input.rounds} rounds (PAGEKV_GROUP_ROUNDS; the rows' order ` +
      "rotates from round to round). writes/s = writes resolved / the time from the first " +
      "call to the last resolution; latency is from a call to its resolution (for the " +
      "lmdb-js flushed row, to `flushed`). The loop delay is " +
      "`perf_hooks.monitorEventLoopDelay({ resolution: 1 })`, enabled for the cell only; a " +
      "sample is the time between two firings of its 1 ms timer, so an idle loop reads " +
      "about 1 ms. A figure is the median over rounds; loop max is the largest of any " +
      "round; a ratio is the median of the per-round ratios. pagekv opens with " +
      '`sync: "full"` (the default), cacheBytes 64 MiB; lmdb-js with its defaults ' +
      "(overlappingSync on Linux) and binary encodings; classic-level with cacheSize " +
      "64 MiB. The disk's floor at the start of this run: serial 116-byte appends with one " +
      `fdatasync each, ${fmt(input.rawSyncsPerSecond)}/s.`,
    "",
  ];
  out.push("Rows (what each writer awaits, and when that returns):", "");
  for (const r of input.rows) out.push(`- ${r.store}, \`${r.call}\`: ${r.resolves}`);
  out.push("");
  for (const k of input.writerCounts) {
    out.push(`### K = ${k} writer${k === 1 ? "" : "s"}`, "", ...cellTable(input, res, k), "");
  }
  out.push("### Targets (issue 12), from this run", "");
  out.push(
    ...table(
      ["target", "figure", "reference", "ratio", "per round", "goal", "verdict"],
      targets(input, res).map((t) => [
        t.what,
        t.figure,
        t.reference,
        ratioText(t.ratio),
        t.perRound.map((x) => fmt(x, x < 0.1 ? 4 : 2)).join(", "),
        t.goal,
        t.verdict,
      ]),
    ),
    "",
  );
  out.push(
    "The `await null` sync row yields only a microtask between writes, so no turn of the " +
      "event loop runs until the cell ends: its loop delay is the whole cell, one sample. The " +
      "control row yields a turn (`setImmediate`) after each put, as a server that writes " +
      "once per request would; its delay is what a synchronous put costs other work.",
    "",
  );
  return out.join("\n");
}
