// Page-access traces recorded from pagekv itself: the script wraps the pager's pin entry
// points (get, pinAt, allocate) to append each page number to a growing Uint32Array, so the
// engine runs unchanged; only the measured phase of a workload (after its load) is kept.
// The YCSB workloads, records and distributions are bench/peers' own, imported, not copied.

import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CACHE_BYTES_DEFAULT } from "../../src/db/db.js";
import { type Database, open } from "../../src/index.js";
import { Pager } from "../../src/pager/pager.js";
import { RECORD_BYTES, recordKey, recordValue } from "../peers/src/records.js";
import { Rng } from "../peers/src/rng.js";
import type { Store, StoreMode } from "../peers/src/stores/store.js";
import { coldReads, Dataset, type Workload, ycsbWorkload } from "../peers/src/workloads.js";
import { ScrambledZipfian } from "../peers/src/zipf.js";

export const PAGE_BYTES = 4096;
export const RECORDS = 200_000;
/** Every trace holds at least this many accesses. */
export const TRACE_ACCESSES_MIN = 300_000;
/** Records per load transaction. */
const LOAD_BATCH = 10_000;
/** Bound on rounds of a workload run to reach TRACE_ACCESSES_MIN. */
const ROUNDS = 40;
/** The scan mix: one scan of SCAN_MIX_LENGTH records after every SCAN_MIX_GETS gets. */
export const SCAN_MIX_GETS = 200;
export const SCAN_MIX_LENGTH = 5_000;
/** The small-cache workload's pool, as bench/peers sets it: a tenth of the raw records. */
export const SMALL_CACHE_BYTES = Math.floor((RECORDS * RECORD_BYTES) / 10);

export interface Trace {
  readonly id: string;
  readonly title: string;
  readonly pages: Uint32Array;
  /** Pin calls by entry point, and free() calls (not in `pages`), while recording. */
  readonly calls: { get: number; pinAt: number; allocate: number; free: number };
}

/** A growing Uint32Array of page numbers, the one recorder the wrapped pager feeds. */
class Recorder {
  buf = new Uint32Array(1 << 20);
  length = 0;
  on = false;
  calls = { get: 0, pinAt: 0, allocate: 0, free: 0 };

  push(pgno: number): void {
    if (!this.on) return;
    if (this.length === this.buf.length) {
      const bigger = new Uint32Array(this.buf.length * 2);
      bigger.set(this.buf);
      this.buf = bigger;
    }
    this.buf[this.length++] = pgno;
  }

  start(): void {
    this.length = 0;
    this.calls = { get: 0, pinAt: 0, allocate: 0, free: 0 };
    this.on = true;
  }

  stop(id: string, title: string): Trace {
    this.on = false;
    return { id, title, pages: this.buf.slice(0, this.length), calls: this.calls };
  }
}

const recorder = new Recorder();
let wrapped = false;

/** Wraps Pager.prototype's pin entry points once; the originals run unchanged. */
function wrapPager(): void {
  if (wrapped) return;
  wrapped = true;
  const proto = Pager.prototype;
  const get = proto.get;
  proto.get = function (this: Pager, pgno, intent) {
    if (recorder.on) recorder.calls.get++;
    recorder.push(pgno);
    return get.call(this, pgno, intent);
  };
  const pinAt = proto.pinAt;
  proto.pinAt = function (this: Pager, s, pgno) {
    if (recorder.on) recorder.calls.pinAt++;
    recorder.push(pgno);
    return pinAt.call(this, s, pgno);
  };
  const allocate = proto.allocate;
  proto.allocate = function (this: Pager) {
    const frame = allocate.call(this);
    if (recorder.on) recorder.calls.allocate++;
    recorder.push(frame.pgno);
    return frame;
  };
  const free = proto.free;
  proto.free = function (this: Pager, pgno) {
    if (recorder.on) recorder.calls.free++;
    return free.call(this, pgno);
  };
}

/** bench/peers' Store over this build's open(), as its PagekvStore opens it (relaxed). */
class TracedStore implements Store {
  readonly name = "pagekv";
  readonly version = "this work tree";
  readonly api = "get, put, transaction(fn), range({ gte, limit })";
  db: Database | undefined;

  setting(): string {
    return 'sync: "normal"';
  }

  cacheSetting(mode: StoreMode): string {
    return `cacheBytes ${mode.cacheBytes}, pageSize ${PAGE_BYTES}`;
  }

  open(dir: string, mode: StoreMode): void {
    this.db = open(join(dir, "db.pkv"), {
      pageSize: PAGE_BYTES,
      cacheBytes: mode.cacheBytes,
      sync: "normal",
    });
  }

  private handle(): Database {
    if (this.db === undefined) throw new Error("pagekv: not open");
    return this.db;
  }

  get(key: Buffer): Uint8Array | undefined {
    return this.handle().get(key);
  }

  put(key: Buffer, value: Buffer): void {
    this.handle().put(key, value);
  }

  batch(entries: readonly (readonly [Buffer, Buffer])[]): void {
    this.handle().transaction((tx) => {
      for (const [key, value] of entries) tx.put(key, value);
    });
  }

  scan(start: Buffer, limit: number): number {
    let s = 0;
    for (const [, v] of this.handle().range({ gte: start, limit })) s += v[0];
    return s;
  }

  close(): void {
    this.handle().close();
    this.db = undefined;
  }
}

/** The loaded database, closed, that every workload starts from a copy of. */
function load(dir: string): void {
  const store = new TracedStore();
  store.open(dir, { durable: false, cacheBytes: 64 * 2 ** 20 });
  for (let n = 0; n < RECORDS; n += LOAD_BATCH) {
    const batch: [Buffer, Buffer][] = [];
    for (let i = n; i < Math.min(RECORDS, n + LOAD_BATCH); i++) {
      batch.push([recordKey(i), recordValue(i, 0)]);
    }
    store.batch(batch);
  }
  store.close();
}

function copyDb(from: string, to: string): void {
  for (const name of readdirSync(from)) {
    if (name.startsWith("db.pkv")) copyFileSync(join(from, name), join(to, name));
  }
}

/** Runs rounds of `w` until the trace holds TRACE_ACCESSES_MIN accesses. */
async function recordWorkload(
  base: string,
  w: Workload,
  cacheBytes: number,
  id: string,
  title: string,
): Promise<Trace> {
  const dir = mkdtempSync(join(base, `${id}-`));
  copyDb(join(base, "loaded"), dir);
  const store = new TracedStore();
  store.open(dir, { durable: false, cacheBytes });
  if (w.warmup !== undefined) await w.warmup(store);
  recorder.start();
  let round = 0;
  while (recorder.length < TRACE_ACCESSES_MIN) {
    if (round === ROUNDS) throw new Error(`${id}: ${ROUNDS} rounds gave ${recorder.length}`);
    await w.run(store, round++);
  }
  const t = recorder.stop(id, title);
  store.close();
  rmSync(dir, { recursive: true, force: true });
  return t;
}

/** Zipfian point reads with one long scan from a uniformly random key every SCAN_MIX_GETS. */
function scanMix(ops: number): Workload {
  const rng = new Rng(77);
  const zipf = new ScrambledZipfian(RECORDS);
  const keys: Buffer[] = [];
  const starts: Buffer[] = [];
  for (let i = 0; i < ops; i++) {
    keys.push(recordKey(zipf.next(rng)));
    if (i % SCAN_MIX_GETS === SCAN_MIX_GETS - 1) starts.push(recordKey(rng.int(RECORDS)));
  }
  const perRound = Math.floor(ops / ROUNDS);
  return {
    id: "scan-mix",
    title: "scan mix",
    what: "",
    phase: "relaxed",
    opsPerRound: perRound,
    run: async (store, round) => {
      let s = 0;
      for (let i = round * perRound; i < (round + 1) * perRound; i++) {
        const v = store.get(keys[i]);
        if (v === undefined) throw new Error(`scan mix: ${keys[i].toString()} not found`);
        s += v[0];
        if (i % SCAN_MIX_GETS === SCAN_MIX_GETS - 1) {
          s += store.scan(starts[Math.floor(i / SCAN_MIX_GETS)], SCAN_MIX_LENGTH) as number;
        }
      }
      return s;
    },
  };
}

/** Records every trace of the report, in its row order; `log` hears of each one. */
export async function recordTraces(log: (line: string) => void): Promise<Trace[]> {
  wrapPager();
  const base = mkdtempSync(join(tmpdir(), "pagekv-policies-"));
  const traces: Trace[] = [];
  try {
    const loadDir = join(base, "loaded");
    mkdirSync(loadDir);
    load(loadDir);
    log(`loaded ${RECORDS} records into ${loadDir}`);
    for (const id of ["a", "b", "c", "d", "e", "f"]) {
      // Fresh record counts per workload: each starts from the same loaded copy.
      const data = new Dataset(RECORDS);
      const w = ycsbWorkload(id, data, 150_000, ROUNDS);
      const t = await recordWorkload(base, w, CACHE_BYTES_DEFAULT, `ycsb-${id}`, w.title);
      log(`${t.id}: ${t.pages.length} accesses (${JSON.stringify(t.calls)})`);
      traces.push(t);
    }
    {
      const data = new Dataset(RECORDS);
      const cacheBytes = SMALL_CACHE_BYTES;
      const w = coldReads(data, 200_000, ROUNDS, cacheBytes);
      const t = await recordWorkload(
        base,
        w,
        cacheBytes,
        "small-cache",
        "Point reads, uniform (the small-cache workload)",
      );
      log(`${t.id}: ${t.pages.length} accesses (${JSON.stringify(t.calls)})`);
      traces.push(t);
    }
    {
      const w = scanMix(200_000);
      const t = await recordWorkload(
        base,
        w,
        CACHE_BYTES_DEFAULT,
        "scan-mix",
        `Scan mix: Zipfian gets, a ${SCAN_MIX_LENGTH}-record scan every ${SCAN_MIX_GETS}`,
      );
      log(`${t.id}: ${t.pages.length} accesses (${JSON.stringify(t.calls)})`);
      traces.push(t);
    }
  } finally {
    rmSync(base, { recursive: true, force: true });
  }
  return traces;
}
