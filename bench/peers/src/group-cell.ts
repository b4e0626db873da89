// One cell of the group-commit benchmark: K writers, each an async loop that awaits its
// own single-key write (a distinct key each time), for a fixed wall time or until a bound
// of writes is issued; the event loop's delay is sampled while they run. Nothing here
// asserts a timing.

import { monitorEventLoopDelay } from "node:perf_hooks";
import { setTimeout as sleep } from "node:timers/promises";
import { recordKey, recordValue } from "./records.js";

/**
 * One write of a row: what the writer awaits. `null` is awaited too (`await null`: a
 * microtask, no turn of the event loop), which is how a synchronous store's row yields.
 */
export type WriteFn = (key: Buffer, value: Buffer) => PromiseLike<unknown> | null;

/** The event loop's sampling period, ms (monitorEventLoopDelay's resolution). */
export const LOOP_RESOLUTION_MS = 1;
/** Idle time before and after the writers, so the histogram's timer fires on both sides. */
const LOOP_SETTLE_MS = 5 * LOOP_RESOLUTION_MS;

export interface CellResult {
  readonly writers: number;
  /** Writes resolved (each one's promise, or its `await null`, done). */
  readonly commits: number;
  /** From the first call to the last resolution. */
  readonly seconds: number;
  readonly commitsPerSecond: number;
  /** From the call to the resolution, per write. */
  readonly latencyMedianMs: number;
  readonly latencyP99Ms: number;
  /** The event-loop delay histogram while the writers ran (monitorEventLoopDelay). */
  readonly loopP99Ms: number;
  readonly loopMaxMs: number;
  /** How many delays the histogram recorded. */
  readonly loopSamples: number;
  /** The cell stopped at the bound of writes, not at the end of its time. */
  readonly bounded: boolean;
}

/** The value at fraction `q` (nearest rank) of sorted `xs`. */
function quantile(xs: Float64Array, q: number): number {
  if (xs.length === 0) return Number.NaN;
  const rank = Math.min(xs.length - 1, Math.max(0, Math.ceil(q * xs.length) - 1));
  return xs[rank];
}

/** The median of sorted `xs`. */
function middle(xs: Float64Array): number {
  const n = xs.length;
  if (n === 0) return Number.NaN;
  return n % 2 === 1 ? xs[n >> 1] : (xs[(n >> 1) - 1] + xs[n >> 1]) / 2;
}

const NS_PER_MS = 1e6;

function loopFigures(h: ReturnType<typeof monitorEventLoopDelay>): {
  p99: number;
  max: number;
  samples: number;
} {
  // count is in the histogram since Node 17.4; an empty histogram reports NaN or 0.
  const samples = h.count;
  if (samples === 0) return { p99: Number.NaN, max: Number.NaN, samples };
  return { p99: h.percentile(99) / NS_PER_MS, max: h.max / NS_PER_MS, samples };
}

/**
 * Runs `writers` concurrent writers calling `write` until `seconds` have passed or
 * `latencies.length` writes were issued, and waits for every write issued. `latencies` is
 * the caller's scratch (allocated once for every cell); its length is the bound of writes.
 */
export async function runCell(
  write: WriteFn,
  writers: number,
  seconds: number,
  latencies: Float64Array,
): Promise<CellResult> {
  if (!Number.isInteger(writers) || writers < 1) throw new Error("writers must be >= 1");
  if (!(seconds > 0)) throw new Error("seconds must be > 0");
  const commitsMax = latencies.length;
  let issued = 0;
  let resolved = 0;
  const loop = monitorEventLoopDelay({ resolution: LOOP_RESOLUTION_MS });
  // The histogram records the time between two firings of its timer, so the first firing
  // only starts it: enable it a few periods before the writers start, and read it only
  // after it fired again once they are done (a loop blocked for the whole cell is then one
  // sample of the cell's length).
  loop.enable();
  await sleep(LOOP_SETTLE_MS);
  const t0 = performance.now();
  const deadline = t0 + seconds * 1000;
  // The clock, not a timer, ends the loop: a row that yields only microtasks never lets
  // a timer run until it is done.
  const writer = async (): Promise<void> => {
    while (issued < commitsMax && performance.now() < deadline) {
      const n = issued++;
      const key = recordKey(n);
      const value = recordValue(n, 0);
      const start = performance.now();
      await write(key, value);
      latencies[resolved++] = performance.now() - start;
    }
  };
  const running: Promise<void>[] = [];
  for (let w = 0; w < writers; w++) running.push(writer());
  await Promise.all(running);
  const t1 = performance.now();
  await sleep(LOOP_SETTLE_MS);
  loop.disable();
  const seconds1 = (t1 - t0) / 1000;
  const lat = latencies.subarray(0, resolved).sort();
  const figures = loopFigures(loop);
  return {
    writers,
    commits: resolved,
    seconds: seconds1,
    commitsPerSecond: resolved / seconds1,
    latencyMedianMs: middle(lat),
    latencyP99Ms: quantile(lat, 0.99),
    loopP99Ms: figures.p99,
    loopMaxMs: figures.max,
    loopSamples: figures.samples,
    bounded: issued >= commitsMax,
  };
}
