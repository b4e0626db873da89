// Timing helpers shared by the benchmarks: a monotonic per-op timer, medians, alternating
// paired runs and rotated runs of several sides (so clock and thermal drift hit every side
// alike), number formatting, the temp dir's file system type, a Markdown table printer and
// the key/value benchmarks' records (keyOf, valueOfKey, shuffled).
// Benchmarks report numbers; nothing here asserts a timing.

import { readFileSync, statfsSync } from "node:fs";
import { loadavg } from "node:os";
import { Pager, type PagerOptions } from "../src/pager/pager.js";
import type { VFS } from "../src/vfs/vfs.js";

/** Every measured function's result is folded in here, so the JIT cannot drop a loop. */
let sinkValue = 0;

/** The folded results of every measured function; print or ignore, never compare. */
export function sink(): number {
  return sinkValue;
}

/** Median of a non-empty list (the mean of the middle two for an even count). */
export function median(xs: readonly number[]): number {
  if (xs.length === 0) throw new Error("median of an empty list");
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 === 1 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
}

/** Run `fn` once and return nanoseconds per operation, `opsPerRun` operations per call. */
export function measure(fn: () => number, opsPerRun: number): number {
  const t0 = process.hrtime.bigint();
  const r = fn();
  const t1 = process.hrtime.bigint();
  sinkValue = (sinkValue ^ (r | 0)) >>> 0;
  return Number(t1 - t0) / opsPerRun;
}

export interface Paired {
  /** Nanoseconds per op of each run of `a` (pagekv), in run order. */
  readonly a: number[];
  /** Nanoseconds per op of each run of `b` (the raw limit), in run order. */
  readonly b: number[];
}

/**
 * `runs` pairs of measurements of `a` and `b`, the order inside a pair alternating
 * (a b, b a, a b, ...) so that neither side always runs on a warmer or colder machine.
 * `between` runs untimed after every measurement (e.g. to re-dirty pages).
 */
export function paired(
  runs: number,
  opsPerRun: number,
  a: () => number,
  b: () => number,
  between: () => void = () => {},
): Paired {
  const ta: number[] = [];
  const tb: number[] = [];
  for (let i = 0; i < runs; i++) {
    if (i % 2 === 0) {
      ta.push(measure(a, opsPerRun));
      between();
      tb.push(measure(b, opsPerRun));
      between();
    } else {
      tb.push(measure(b, opsPerRun));
      between();
      ta.push(measure(a, opsPerRun));
      between();
    }
  }
  return { a: ta, b: tb };
}

/** Median over pairs of a[i] / b[i]: the per-pair time ratio, robust to drift. */
export function medianRatio(p: Paired): number {
  return median(p.a.map((x, i) => x / p.b[i]));
}

/** Median over pairs of b[i] / a[i]: throughput of a relative to b (> 1: a is faster). */
export function medianSpeedup(p: Paired): number {
  return median(p.b.map((x, i) => x / p.a[i]));
}

/** A number with `digits` decimals and thousands separators. */
export function fmt(x: number, digits = 1): string {
  return x.toLocaleString("en-US", {
    minimumFractionDigits: digits,
    maximumFractionDigits: digits,
  });
}

/** Print a Markdown table with padded columns. */
export function printTable(headers: readonly string[], rows: readonly (readonly string[])[]): void {
  const widths = headers.map((h, c) => Math.max(h.length, ...rows.map((r) => r[c].length)));
  const line = (cells: readonly string[]): string =>
    `| ${cells.map((x, c) => x.padEnd(widths[c])).join(" | ")} |`;
  console.log(line(headers));
  console.log(`|${widths.map((w) => "-".repeat(w + 2)).join("|")}|`);
  for (const r of rows) console.log(line(r));
}

/** xorshift32: a tiny seeded generator so every run reads the same page sequence. */
export class XorShift32 {
  private state: number;

  constructor(seed: number) {
    this.state = seed >>> 0 || 0x9e3779b9;
  }

  /** An integer in 0..n-1 (n <= 2^32; the tiny modulo bias is irrelevant here). */
  int(n: number): number {
    let x = this.state;
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    this.state = x >>> 0;
    return this.state % n;
  }
}

/** The key/value benchmarks' records: 16-byte keys (keyOf), 100-byte values (valueOfKey). */
export const KEY_BYTES = 16;
export const VALUE_BYTES = 100;

/** Key i: 16 bytes spread by a multiplicative hash, unique for i < 2^32. */
export function keyOf(i: number, out = new Uint8Array(KEY_BYTES)): Uint8Array {
  let x = Math.imul(i + 1, 0x9e3779b1) >>> 0;
  const dv = new DataView(out.buffer, out.byteOffset, out.byteLength);
  dv.setUint32(0, x);
  dv.setUint32(4, i);
  x = Math.imul(x ^ (x >>> 15), 0x85ebca6b) >>> 0;
  dv.setUint32(8, x);
  dv.setUint32(12, Math.imul(x ^ (x >>> 13), 0xc2b2ae35) >>> 0);
  return out;
}

/** The value of key i at `version`: VALUE_BYTES bytes, i in the first four, then a fill. */
export function valueOfKey(i: number, version: number): Uint8Array {
  const v = new Uint8Array(VALUE_BYTES);
  v.fill((i + version) & 0xff);
  new DataView(v.buffer).setUint32(0, i);
  return v;
}

/** 0..n-1 in a seeded random order (Fisher-Yates over XorShift32). */
export function shuffled(n: number, seed: number): Uint32Array {
  const order = new Uint32Array(n);
  for (let i = 0; i < n; i++) order[i] = i;
  const rng = new XorShift32(seed);
  for (let i = n - 1; i > 0; i--) {
    const j = rng.int(i + 1);
    const t = order[i];
    order[i] = order[j];
    order[j] = t;
  }
  return order;
}

/** One side of a rotated comparison: the timed work plus untimed set-up and tear-down. */
export interface Side {
  /** The timed work; its result is folded into the sink. */
  readonly run: () => number;
  /** Untimed, just before every timed call (e.g. re-dirty pages, copy a file). */
  readonly before?: () => void;
  /** Untimed, just after every timed call (e.g. close and delete). */
  readonly after?: () => void;
}

/**
 * `runs` rounds that each time every side once. The order rotates from round to round and
 * turns around after every `sides.length` rounds (a b c, b c a, c a b, then a c b, b a c,
 * c b a, ...), so no side always runs first, and each side follows both of its neighbours
 * in turn; with two sides this is `paired`'s alternation. `warmupRuns` untimed rounds come
 * first. Returns nanoseconds per operation as result[side][round].
 */
export function rotated(
  runs: number,
  opsPerRun: number,
  sides: readonly Side[],
  warmupRuns = 0,
): number[][] {
  const once = (s: Side): number => {
    s.before?.();
    const ns = measure(s.run, opsPerRun);
    s.after?.();
    return ns;
  };
  for (let w = 0; w < warmupRuns; w++) for (const s of sides) once(s);
  const k = sides.length;
  const out: number[][] = sides.map(() => []);
  for (let r = 0; r < runs; r++) {
    const step = Math.floor(r / k) % 2 === 0 ? 1 : k - 1;
    for (let j = 0; j < k; j++) {
      const i = (r + j * step) % k;
      out[i].push(once(sides[i]));
    }
  }
  return out;
}

/** Print one side's runs in run order, each value divided by `divisor`. */
export function printRunsOf(
  label: string,
  xs: readonly number[],
  unit: string,
  divisor: number,
): void {
  console.log(`runs ${label} (${unit}): ${xs.map((x) => fmt(x / divisor, 2)).join(" ")}`);
}

/** A whole number with thousands separators. */
export function fmtInt(x: number): string {
  return fmt(Math.round(x), 0);
}

/** "(met)" or "(MISSED)", for a target column. */
export function verdict(met: boolean): string {
  return met ? "(met)" : "(MISSED)";
}

/** statfs magic numbers of the file systems a temp dir is likely to sit on. */
const FS_TYPES = new Map<number, string>([
  [0xef53, "ext4"],
  [0x01021994, "tmpfs"],
  [0x794c7630, "overlayfs"],
  [0x58465342, "xfs"],
  [0x9123683e, "btrfs"],
]);

/** The file system type of `dir`, by name when known. */
export function fsTypeName(dir: string): string {
  const type = statfsSync(dir).type;
  return FS_TYPES.get(type) ?? `statfs type 0x${type.toString(16)}`;
}

/** The load average and, on Linux with PSI, the I/O pressure: what else ran beside us. */
export function machineLoad(): string {
  const load = loadavg()
    .map((x) => fmt(x, 2))
    .join(" ");
  let io = "";
  try {
    const line = readFileSync("/proc/pressure/io", "utf8").split("\n")[0];
    io = `; I/O pressure: ${line}`;
  } catch {
    // Not Linux, or no PSI: the load average alone.
  }
  return `load average ${load} (1, 5, 15 min)${io}`;
}

/**
 * A new database of `pages` pages (page p stamped with p & 0xff in its first byte), all
 * checkpointed home: the starting point of most pager and log benchmarks.
 */
export function stampedPager(vfs: VFS, path: string, pages: number, options: PagerOptions): Pager {
  const pager = Pager.create(vfs, path, options);
  for (let i = 0; i < pages; i++) {
    const f = pager.allocate();
    f.data[0] = f.pgno & 0xff;
    pager.unpin(f, true);
  }
  pager.checkpoint();
  return pager;
}
