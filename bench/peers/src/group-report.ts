// The group-commit results as Markdown: one table per K (each figure next to its reference
// from the same run, pagekv's synchronous put, with the ratio), then the targets
// with the figure, the reference, the ratio and MET / MISSED.

import { fmt } from "./env.js";
import type { CellResult } from "./group-cell.js";
import type { Row, RowId } from "./group-rows.js";
import { table } from "./report.js";

export interface Cell extends CellResult {
  readonly notes: string;
}

export interface GroupReport {
  readonly command: string;
  readonly date: string;
  readonly environment: readonly string[];
  readonly loadStart: readonly number[];
  readonly loadEnd: readonly number[];
  readonly seconds: number;
  readonly commitsMax: number;
  readonly writerCounts: readonly number[];
  readonly rows: readonly Row[];
  /** cells.get(row id)?.get(K) */
  readonly cells: ReadonlyMap<RowId, ReadonlyMap<number, Cell>>;
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

const ms = (x: number): string => (Number.isNaN(x) ? "n/a" : fmt(x, x < 10 ? 3 : 1));
const ratio = (a: number | undefined, b: number | undefined): number | undefined =>
  a === undefined || b === undefined || !(b > 0) ? undefined : a / b;
const ratioText = (x: number | undefined): string =>
  x === undefined || Number.isNaN(x) ? "n/a" : `${fmt(x, x < 0.1 ? 4 : 2)}x`;
const load = (l: readonly number[]): string => l.map((x) => x.toFixed(2)).join(", ");

function cellTable(input: GroupReport, k: number): string[] {
  const ref = input.cells.get("pagekv-sync")?.get(k);
  const rows = input.rows.map((row) => {
    const c = input.cells.get(row.id)?.get(k);
    if (c === undefined) {
      return [row.store, `\`${row.call}\``, "n/a", "", "", "", "", "", "", "", "", "not run"];
    }
    return [
      row.store,
      `\`${row.call}\``,
      fmt(c.commitsPerSecond),
      ratioText(ratio(c.commitsPerSecond, ref?.commitsPerSecond)),
      ms(c.latencyMedianMs),
      ms(c.latencyP99Ms),
      ms(c.loopP99Ms),
      ratioText(ratio(c.loopP99Ms, ref?.loopP99Ms)),
      ms(c.loopMaxMs),
      fmt(c.loopSamples),
      fmt(c.commits) + (c.bounded ? " (bound)" : ""),
      c.notes,
    ];
  });
  return table(
    [
      "store",
      "each writer runs",
      "writes/s",
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
  readonly goal: string;
  readonly verdict: string;
}

function verdict(r: number | undefined, met: (x: number) => boolean, judged = true): string {
  if (r === undefined || Number.isNaN(r)) return "NOT MEASURED";
  if (!judged) return met(r) ? "(would be met; not judged)" : "(would be missed; not judged)";
  return met(r) ? "MET" : "**MISSED**";
}

function targets(input: GroupReport): Target[] {
  const cell = (id: RowId, k: number): Cell | undefined => input.cells.get(id)?.get(k);
  const rate = (c: Cell | undefined): string =>
    c === undefined ? "n/a" : `${fmt(c.commitsPerSecond)}/s`;
  const delay = (c: Cell | undefined): string =>
    c === undefined || Number.isNaN(c.loopP99Ms) ? "n/a" : `${ms(c.loopP99Ms)} ms`;
  const k = TARGET_WRITERS;
  const a = cell("pagekv-async", k);
  const out: Target[] = [];
  const throughput = (id: RowId, name: string, min: number, judged: boolean): Target => {
    const ref = cell(id, k);
    const r = ratio(a?.commitsPerSecond, ref?.commitsPerSecond);
    return {
      what: `K = ${k}: pagekv \`putAsync\` writes/s vs ${name}`,
      figure: rate(a),
      reference: rate(ref),
      ratio: r,
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
    const ca = cell("pagekv-async", w);
    for (const [id, name, judged] of [
      ["pagekv-sync", "pagekv sync (`await null`)", true],
      ["pagekv-sync-turn", "pagekv sync yielding a turn (control, not judged)", false],
    ] as const) {
      const ref = cell(id, w);
      const r = ratio(ca?.loopP99Ms, ref?.loopP99Ms);
      out.push({
        what: `K = ${w}: event-loop p99 delay, pagekv async vs ${name}`,
        figure: delay(ca),
        reference: delay(ref),
        ratio: r,
        goal: `< ${LOOP_P99_RATIO_MAX}x`,
        verdict: verdict(r, (x) => x < LOOP_P99_RATIO_MAX, judged),
      });
    }
  }
  return out;
}

export function groupMarkdown(input: GroupReport): string {
  const out: string[] = [
    "## Group commit, measured",
    "",
    `\`${input.command}\`, run ${input.date}; load average (1, 5, 15 min) ` +
      `${load(input.loadStart)} at the start, ${load(input.loadEnd)} at the end; ` +
      `${fmt(input.totalSeconds, 0)} s in all.`,
    "",
    ...input.environment.map((l) => `- ${l}`),
    "",
    `K concurrent writers (K = ${input.writerCounts.join(", ")}), each an async loop that ` +
      "awaits its own single-key write: a distinct 16-byte key each time (a random key " +
      `order), a 100-byte incompressible value. Each cell runs ${fmt(input.seconds, 1)} s ` +
      `(PAGEKV_GROUP_SECONDS) or until ${fmt(input.commitsMax)} writes were issued, on a ` +
      "fresh database in its own directory, then waits for every write issued. writes/s = " +
      "writes resolved / the time from the first call to the last resolution; latency is " +
      "from a call to its resolution (for the lmdb-js flushed row, to `flushed`). The loop " +
      "delay is `perf_hooks.monitorEventLoopDelay({ resolution: 1 })`, enabled for the cell " +
      'only. pagekv opens with `sync: "full"` (the default), cacheBytes 64 MiB; lmdb-js ' +
      "with its defaults (overlappingSync on Linux) and binary encodings; classic-level with " +
      "cacheSize 64 MiB. The disk's floor in this run: serial 116-byte appends with one " +
      `fdatasync each, ${fmt(input.rawSyncsPerSecond)}/s.`,
    "",
  ];
  out.push("Rows (what each writer awaits, and when that returns):", "");
  for (const r of input.rows) {
    out.push(`- ${r.store}, \`${r.call}\`: ${r.resolves}`);
  }
  out.push("");
  for (const k of input.writerCounts) {
    out.push(`### K = ${k} writer${k === 1 ? "" : "s"}`, "", ...cellTable(input, k), "");
  }
  out.push("### Targets (issue 12), from this run", "");
  out.push(
    ...table(
      ["target", "figure", "reference", "ratio", "goal", "verdict"],
      targets(input).map((t) => [
        t.what,
        t.figure,
        t.reference,
        ratioText(t.ratio),
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
