// Timing helpers shared by the benchmarks: a monotonic per-op timer, medians, alternating
// paired runs (so clock and thermal drift hit both sides alike) and a Markdown table printer.
// Benchmarks report numbers; nothing here asserts a timing.

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
