// The workloads: the six YCSB core workloads plus the targeted ones (bulk load, hot point
// reads, range scans, batched updates, durable commits, reads with a small cache). Each
// is generated once, before it is timed, from a fixed seed, and every store runs the very
// same operations; a workload is split into rounds so that the stores can take turns.

import { recordKey, recordValue } from "./records.js";
import { Rng } from "./rng.js";
import type { Store } from "./stores/store.js";
import { ScrambledZipfian, SkewedLatest } from "./zipf.js";

const READ = 0;
const UPDATE = 1;
const INSERT = 2;
const SCAN = 3;
const READ_MODIFY_WRITE = 4;

/** YCSB's maxscanlength (workload E's scan lengths are uniform in 1..100). */
export const SCAN_LENGTH_MAX = 100;
export const BATCH_KEYS = 1_000;

/** How the stores are opened for a workload: see StoreMode. */
export type Phase = "relaxed" | "durable" | "cold";

/** Pregenerated operations; op i uses keys[i], values[i] (writes), lengths[i] (scans). */
export interface OpList {
  readonly kinds: Uint8Array;
  readonly keys: Buffer[];
  readonly values: (Buffer | undefined)[];
  readonly lengths: Uint8Array;
}

export interface Workload {
  readonly id: string;
  readonly title: string;
  /** What one operation is, the key distribution and the settings, for the report. */
  readonly what: string;
  readonly phase: Phase;
  /** Operations counted per round (for batches: keys written). */
  readonly opsPerRound: number;
  /** Runs round `round` on `store`; returns a value folded from what was read. */
  run(store: Store, round: number): Promise<number>;
  /** Untimed, on each store before the first round. */
  warmup?(store: Store): Promise<void>;
}

/** The record count as it grows with the inserts of workloads D and E. */
export class Dataset {
  /** Records 0..count-1 exist. */
  count: number;
  /** Version stamp of the next value written. */
  version = 1;

  constructor(readonly records: number) {
    this.count = records;
  }
}

/** The mix of one YCSB core workload. */
interface Mix {
  readonly read: number;
  readonly update: number;
  readonly insert: number;
  readonly scan: number;
  readonly readModifyWrite: number;
  readonly distribution: "zipfian" | "latest";
}

function mix(
  read: number,
  update: number,
  insert: number,
  scan: number,
  readModifyWrite: number,
  distribution: Mix["distribution"] = "zipfian",
): Mix {
  return { read, update, insert, scan, readModifyWrite, distribution };
}

/** YCSB's workloads/workloada..workloadf proportions. */
export const YCSB: Record<string, { title: string; mix: Mix }> = {
  a: { title: "YCSB A (50% read, 50% update, Zipfian)", mix: mix(0.5, 0.5, 0, 0, 0) },
  b: { title: "YCSB B (95% read, 5% update, Zipfian)", mix: mix(0.95, 0.05, 0, 0, 0) },
  c: { title: "YCSB C (100% read, Zipfian)", mix: mix(1, 0, 0, 0, 0) },
  d: { title: "YCSB D (95% read latest, 5% insert)", mix: mix(0.95, 0, 0.05, 0, 0, "latest") },
  e: {
    title: "YCSB E (95% scan of 1..100 records, 5% insert, Zipfian start)",
    mix: mix(0, 0, 0.05, 0.95, 0),
  },
  f: { title: "YCSB F (50% read, 50% read-modify-write, Zipfian)", mix: mix(0.5, 0, 0, 0, 0.5) },
};

/** YCSB's CoreWorkload operation stream for `ops` operations over `data`. */
function ycsbOps(data: Dataset, mix: Mix, ops: number, seed: number): OpList {
  const rng = new Rng(seed);
  const list: OpList = {
    kinds: new Uint8Array(ops),
    keys: new Array<Buffer>(ops),
    values: new Array<Buffer | undefined>(ops).fill(undefined),
    lengths: new Uint8Array(ops),
  };
  // As CoreWorkload: the Zipfian chooser covers the keys expected to be inserted too, and
  // a draw past the last inserted record is drawn again.
  const expectedNew = Math.floor(ops * mix.insert * 2);
  const zipf = new ScrambledZipfian(data.count + expectedNew);
  const latest = new SkewedLatest(data.count - 1);
  const existing = (): number => {
    if (mix.distribution === "latest") return latest.next(rng, data.count - 1);
    for (;;) {
      const n = zipf.next(rng);
      if (n < data.count) return n;
    }
  };
  const c1 = mix.read;
  const c2 = c1 + mix.update;
  const c3 = c2 + mix.insert;
  const c4 = c3 + mix.scan;
  for (let i = 0; i < ops; i++) {
    const u = rng.double();
    let kind: number;
    let n: number;
    if (u < c1) kind = READ;
    else if (u < c2) kind = UPDATE;
    else if (u < c3) kind = INSERT;
    else if (u < c4) kind = SCAN;
    else kind = READ_MODIFY_WRITE;
    if (kind === INSERT) n = data.count++;
    else n = existing();
    list.kinds[i] = kind;
    list.keys[i] = recordKey(n);
    if (kind === UPDATE || kind === INSERT || kind === READ_MODIFY_WRITE) {
      list.values[i] = recordValue(n, data.version++);
    }
    if (kind === SCAN) list.lengths[i] = 1 + rng.int(SCAN_LENGTH_MAX);
  }
  return list;
}

/** Uniformly random existing records, one kind of operation. */
function uniformOps(data: Dataset, kind: number, ops: number, seed: number): OpList {
  const rng = new Rng(seed);
  const list: OpList = {
    kinds: new Uint8Array(ops).fill(kind),
    keys: new Array<Buffer>(ops),
    values: new Array<Buffer | undefined>(ops).fill(undefined),
    lengths: new Uint8Array(ops).fill(SCAN_LENGTH_MAX),
  };
  for (let i = 0; i < ops; i++) {
    const n = rng.int(data.count);
    list.keys[i] = recordKey(n);
    if (kind === UPDATE) list.values[i] = recordValue(n, data.version++);
  }
  return list;
}

/** A read that misses is a bug of the benchmark, not a figure. */
function found(store: Store, v: Uint8Array | undefined, key: Buffer): number {
  if (v === undefined) throw new Error(`${store.name}: record ${key.toString()} not found`);
  return v[0];
}

/** Runs ops[from, to) on `store`, awaiting only what the store returns as a promise. */
async function runOps(store: Store, ops: OpList, from: number, to: number): Promise<number> {
  let s = 0;
  for (let i = from; i < to; i++) {
    const key = ops.keys[i];
    const kind = ops.kinds[i];
    if (kind === SCAN) {
      const r = store.scan(key, ops.lengths[i]);
      s += typeof r === "number" ? r : await r;
      continue;
    }
    // A read-modify-write is a read, then the write of the same key.
    if (kind === READ || kind === READ_MODIFY_WRITE) s += found(store, store.get(key), key);
    if (kind !== READ) {
      const r = store.put(key, ops.values[i] as Buffer);
      if (r !== undefined) await r;
    }
  }
  return s;
}

function opWorkload(
  id: string,
  title: string,
  what: string,
  phase: Phase,
  rounds: number,
  ops: OpList,
): Workload {
  const perRound = Math.floor(ops.kinds.length / rounds);
  return {
    id,
    title,
    what,
    phase,
    opsPerRound: perRound,
    run: (store, round) => runOps(store, ops, round * perRound, (round + 1) * perRound),
  };
}

/** One YCSB core workload (a..f): `ops` operations split into `rounds`. */
export function ycsbWorkload(id: string, data: Dataset, ops: number, rounds: number): Workload {
  const w = YCSB[id];
  const parts = [
    w.mix.distribution === "latest"
      ? "reads skewed to the latest inserts (YCSB SkewedLatest)"
      : "request keys Scrambled Zipfian (theta 0.99, YCSB's)",
  ];
  if (w.mix.update > 0 || w.mix.readModifyWrite > 0) {
    parts.push("an update is a put of a new 100 B value to the same key");
  }
  if (w.mix.insert > 0) parts.push("an insert is a put of a new record");
  if (w.mix.scan > 0) parts.push(`a scan reads 1..${SCAN_LENGTH_MAX} records (uniform)`);
  const what = parts.join("; ");
  const seed = 1000 + id.charCodeAt(0);
  return opWorkload(
    `ycsb-${id}`,
    w.title,
    what,
    "relaxed",
    rounds,
    ycsbOps(data, w.mix, ops, seed),
  );
}

export function hotReads(data: Dataset, ops: number, rounds: number): Workload {
  const w = opWorkload(
    "hot",
    "Hot point reads",
    "uniformly random existing keys; the whole dataset fits each store's cache, and an " +
      "untimed pass reads every record first",
    "relaxed",
    rounds,
    uniformOps(data, READ, ops, 11),
  );
  const count = data.count;
  return {
    ...w,
    warmup: async (store) => {
      for (let n = 0; n < count; n++) found(store, store.get(recordKey(n)), recordKey(n));
    },
  };
}

export function rangeScans(data: Dataset, scans: number, rounds: number): Workload {
  return opWorkload(
    "scan",
    `Range scans of ${SCAN_LENGTH_MAX} records`,
    `${SCAN_LENGTH_MAX} records in key order from a uniformly random existing key (one op = one scan)`,
    "relaxed",
    rounds,
    uniformOps(data, SCAN, scans, 12),
  );
}

export function durableCommits(data: Dataset, commits: number, rounds: number): Workload {
  return opWorkload(
    "durable",
    "Durable single-key commits",
    "a put of a new 100 B value to a uniformly random existing key, durable on return",
    "durable",
    rounds,
    uniformOps(data, UPDATE, commits, 13),
  );
}

export function coldReads(
  data: Dataset,
  ops: number,
  rounds: number,
  cacheBytes: number,
): Workload {
  const w = opWorkload(
    "cold",
    "Point reads, dataset 10x the cache",
    `uniformly random existing keys with each store's cache set to ${cacheBytes} B ` +
      "(a tenth of the raw key+value bytes) after an untimed round; the OS page cache " +
      "still holds the files (and serves lmdb's mmap)",
    "cold",
    rounds,
    uniformOps(data, READ, ops, 14),
  );
  return { ...w, warmup: async (store) => void (await w.run(store, 0)) };
}

/** Batches of BATCH_KEYS random updates, one transaction each; counted in keys. */
export function batchedUpdates(data: Dataset, keys: number, rounds: number): Workload {
  const batchesPerRound = Math.max(1, Math.floor(keys / BATCH_KEYS / rounds));
  const rng = new Rng(15);
  const batches: [Buffer, Buffer][][] = [];
  for (let b = 0; b < batchesPerRound * rounds; b++) {
    const batch: [Buffer, Buffer][] = [];
    for (let j = 0; j < BATCH_KEYS; j++) {
      const n = rng.int(data.count);
      batch.push([recordKey(n), recordValue(n, data.version++)]);
    }
    batches.push(batch);
  }
  return {
    id: "batch",
    title: `Batched random updates, ${BATCH_KEYS.toLocaleString("en-US")} per batch`,
    what: "uniformly random existing keys, one write transaction per batch (op = one key)",
    phase: "relaxed",
    opsPerRound: batchesPerRound * BATCH_KEYS,
    run: async (store, round) => {
      for (let b = round * batchesPerRound; b < (round + 1) * batchesPerRound; b++) {
        const r = store.batch(batches[b]);
        if (r !== undefined) await r;
      }
      return 0;
    },
  };
}
