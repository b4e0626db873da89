// A model test of snapshots (docs/design/snapshots.md): seeded random interleavings of puts,
// deletes, batches, transaction functions that commit or throw, forced and automatic
// checkpoints, snapshot opens and closes (up to 48 open at once), reads through open
// snapshots and db.range() iterators advanced a few entries at a time across writes, on a
// Database on MemFS at 4 KiB pages (pools of 128, 16, 64 and 8 frames by turns, so older
// versions are evicted and read again; autoCheckpointPages 16). Every read is checked
// against the model's copy of the state at its reader's instant.
//
// The model: keys are the indices 0..KEYS-1, spelled so that byte order is index order, so
// the state is an array of values by index (a sorted map), and a snapshot's copy is a slice.
//
// One operation is: one key written (alone, in a batch or in a transaction function), one
// get or has, one range() call read to its end (a full range through a snapshot included),
// one next() of a db.range() iterator kept open across writes (or the rest of one read to
// its end), one snapshot opened or closed, one checkpoint, one reopen or one power loss (a
// crash forgets snapshots: they are ERR_CLOSED, and reopen holds the last commit). Entries
// read are tallied apart.
//
// PAGEKV_SNAPSHOT_OPS sets the operation count (default 100,000; `npm run soak:snapshots`
// runs 2,000,000), PAGEKV_SNAPSHOT_SEED the seed (fixed by default; "random" draws one). Runs
// of RUN_OPS operations each start from an empty database, run r from the seed + r; a
// failure names the seed, run and step, and PAGEKV_SNAPSHOT_RUN=<r> replays run r alone.

import assert from "node:assert/strict";
import { test } from "node:test";
import {
  type BatchOp,
  BTREE_CACHE_FRAMES_MIN,
  type Database,
  isPagekvError,
  open,
  type RangeOptions,
  type Snapshot,
} from "../../src/index.js";
import { MemFS } from "../../src/vfs/memfs.js";
import { Prng } from "../../src/vfs/prng.js";
import { bytesEqual, valueBytes } from "../btree/model.js";
import { envSeed } from "../seed.js";

const OPS = Number(process.env.PAGEKV_SNAPSHOT_OPS ?? 100_000);
const SEED_DEFAULT = 20261201;
const SEED = envSeed("PAGEKV_SNAPSHOT_SEED", SEED_DEFAULT) ?? Math.floor(Math.random() * 2 ** 31);
const ONLY_RUN =
  process.env.PAGEKV_SNAPSHOT_RUN === undefined
    ? undefined
    : Number(process.env.PAGEKV_SNAPSHOT_RUN);

/** Operations per fresh database. */
const RUN_OPS = 25_000;
const KEYS = 3000;
const PAGE_SIZE = 4096;
/** The pool of run r: CACHE_FRAMES[r % 4] frames, down to the smallest a tree allows. */
const CACHE_FRAMES = [128, 16, 64, BTREE_CACHE_FRAMES_MIN] as const;
const AUTO_CHECKPOINT_PAGES = 16;
const SNAPSHOTS_OPEN_MAX = 48;
const ITERATORS_OPEN_MAX = 8;
/** Operations between full ranges through every open snapshot. */
const FULL_READ_EVERY = 6000;
/** Steps of the trace a failure prints. */
const TRACE_STEPS = 24;
const DB_PATH = "/snapshots.pkv";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** Key i: "k", five digits, then i % 29 filler bytes: keys of 6..34 bytes in index order. */
const KEY: Uint8Array[] = Array.from({ length: KEYS }, (_, i) =>
  encoder.encode(`k${String(i).padStart(5, "0")}${"~".repeat(i % 29)}`),
);
/** A key between KEY[i] and KEY[i + 1] (KEY[i] then a zero byte): a bound that is no key. */
const GAP: Uint8Array[] = KEY.map((k) => Uint8Array.of(...k, 0));

/** A state: the value of each key index, undefined when absent. Values are never mutated. */
type State = (Uint8Array | undefined)[];

/** A range in index terms, with the options that ask the database for it. */
interface IndexRange {
  opts: RangeOptions;
  lo: number;
  hi: number;
  reverse: boolean;
  limit: number | undefined;
  text: string;
}

/** The key indices `r` yields from `state`, in the order yielded, the limit applied. */
function rangeOf(state: State, r: IndexRange): number[] {
  const out: number[] = [];
  const limit = r.limit ?? Number.POSITIVE_INFINITY;
  if (r.reverse) {
    for (let i = Math.min(r.hi, KEYS - 1); i >= Math.max(r.lo, 0) && out.length < limit; i--) {
      if (state[i] !== undefined) out.push(i);
    }
  } else {
    for (let i = Math.max(r.lo, 0); i <= Math.min(r.hi, KEYS - 1) && out.length < limit; i++) {
      if (state[i] !== undefined) out.push(i);
    }
  }
  return out;
}

const FULL: IndexRange = {
  opts: {},
  lo: 0,
  hi: KEYS - 1,
  reverse: false,
  limit: undefined,
  text: "{}",
};
const FULL_REVERSE: IndexRange = {
  ...FULL,
  opts: { reverse: true },
  reverse: true,
  text: "{reverse}",
};

function describeValue(v: Uint8Array | undefined): string {
  if (v === undefined) return "(absent)";
  let head = "";
  for (const b of v.subarray(0, 6)) head += b.toString(16).padStart(2, "0");
  return `${v.length} B ${head}${v.length > 6 ? "..." : ""}`;
}

function describeKey(k: Uint8Array): string {
  return JSON.stringify(decoder.decode(k));
}

function sameValue(got: Uint8Array | undefined, want: Uint8Array | undefined): boolean {
  return got === undefined ? want === undefined : want !== undefined && bytesEqual(got, want);
}

/** Assert one yielded entry is key `i` of `state`. */
function assertEntry(
  got: [Uint8Array, Uint8Array] | undefined,
  i: number | undefined,
  state: State,
  what: string,
): void {
  if (got === undefined || i === undefined) {
    if (got === undefined && i === undefined) return;
    const gotText =
      got === undefined ? "(end)" : `${describeKey(got[0])} = ${describeValue(got[1])}`;
    const wantText =
      i === undefined ? "(end)" : `${describeKey(KEY[i])} = ${describeValue(state[i])}`;
    assert.fail(`${what}: got ${gotText}, want ${wantText}`);
  }
  if (bytesEqual(got[0], KEY[i]) && sameValue(got[1], state[i])) return;
  assert.fail(
    `${what}: got ${describeKey(got[0])} = ${describeValue(got[1])}, want ` +
      `${describeKey(KEY[i])} = ${describeValue(state[i])}`,
  );
}

function assertEntries(
  got: readonly [Uint8Array, Uint8Array][],
  want: readonly number[],
  state: State,
  what: string,
): void {
  const n = Math.max(got.length, want.length);
  for (let i = 0; i < n; i++) {
    const g = got[i];
    const w = want[i];
    if (g !== undefined && w !== undefined && bytesEqual(g[0], KEY[w]) && sameValue(g[1], state[w]))
      continue;
    assertEntry(g, w, state, `${what}: ${got.length} entries, want ${want.length}; at ${i}`);
  }
}

function expectClosed(fn: () => unknown, what: string): void {
  try {
    fn();
  } catch (e) {
    if (isPagekvError(e, "ERR_CLOSED")) return;
    throw new Error(`${what}: expected ERR_CLOSED, got ${String(e)}`);
  }
  assert.fail(`${what}: expected ERR_CLOSED, nothing was thrown`);
}

class Abort extends Error {}

/** An open snapshot and the model's copy of the state at its instant. */
interface Reader {
  id: number;
  snap: Snapshot;
  state: State;
  /** stats().commits when it was taken. */
  commits: number;
  /** The log's committed end when it was taken; 0 once a log reset rebased it. */
  bound: number;
}

/** A db.range() iterator kept open, what it must yield, and how far it got. */
interface LiveIterator {
  id: number;
  it: IterableIterator<[Uint8Array, Uint8Array]>;
  range: IndexRange;
  state: State;
  want: number[];
  pos: number;
  commits: number;
  bound: number;
}

interface Tally {
  runs: number;
  ops: number;
  keysWritten: number;
  commits: number;
  rollbacks: number;
  reads: number;
  ranges: number;
  entriesRead: number;
  fullReads: number;
  snapshotsOpened: number;
  snapshotsOpenMax: number;
  iteratorsFinished: number;
  iteratorsReturned: number;
  iteratorSteps: number;
  checkpointsTrue: number;
  checkpointsFalse: number;
  /** Forced checkpoints that reset the log with snapshots open (all at the last commit). */
  checkpointsResetUnderSnapshots: number;
  autoCheckpoints: number;
  /** Free-page count changes while at least one snapshot was open. */
  freedUnderSnapshots: number;
  reusedUnderSnapshots: number;
  reopens: number;
  crashes: number;
  walFramesMax: number;
  pageCountMax: number;
}

function newTally(): Tally {
  return {
    runs: 0,
    ops: 0,
    keysWritten: 0,
    commits: 0,
    rollbacks: 0,
    reads: 0,
    ranges: 0,
    entriesRead: 0,
    fullReads: 0,
    snapshotsOpened: 0,
    snapshotsOpenMax: 0,
    iteratorsFinished: 0,
    iteratorsReturned: 0,
    iteratorSteps: 0,
    checkpointsTrue: 0,
    checkpointsFalse: 0,
    checkpointsResetUnderSnapshots: 0,
    autoCheckpoints: 0,
    freedUnderSnapshots: 0,
    reusedUnderSnapshots: 0,
    reopens: 0,
    crashes: 0,
    walFramesMax: 0,
    pageCountMax: 0,
  };
}

function addTally(into: Tally, t: Tally): void {
  for (const k of Object.keys(t) as (keyof Tally)[]) {
    into[k] = k.endsWith("Max") ? Math.max(into[k], t[k]) : into[k] + t[k];
  }
}

type OpName =
  | "put"
  | "delete"
  | "batch"
  | "deleteRun"
  | "fillRun"
  | "txCommit"
  | "txRollback"
  | "checkpoint"
  | "checkpointAtHead"
  | "snapshotOpen"
  | "snapshotClose"
  | "closeAll"
  | "read"
  | "snapGet"
  | "snapHas"
  | "snapRange"
  | "dbGet"
  | "dbRange"
  | "iterOpen"
  | "iterStep"
  | "iterFinish"
  | "iterReturn"
  | "reopen"
  | "crash";

/** Weights by default; each phase overrides how often snapshots open and close. */
const WEIGHTS: [OpName, number][] = [
  ["put", 18],
  ["delete", 9],
  ["batch", 1.5],
  ["deleteRun", 0.25],
  ["fillRun", 0.25],
  ["txCommit", 2],
  ["txRollback", 1.2],
  ["checkpoint", 1],
  ["checkpointAtHead", 0.3],
  ["snapshotOpen", 4],
  ["snapshotClose", 3],
  ["closeAll", 0.1],
  ["read", 0.8],
  ["snapGet", 30],
  ["snapHas", 8],
  ["snapRange", 5],
  ["dbGet", 4],
  ["dbRange", 1.5],
  ["iterOpen", 1.2],
  ["iterStep", 3],
  ["iterFinish", 0.5],
  ["iterReturn", 0.3],
  ["reopen", 0.04],
  ["crash", 0.03],
];

/**
 * Phases of 500..2000 operations: snapshots pile up (to SNAPSHOTS_OPEN_MAX), come and go,
 * or drain (so the log gets reset and automatic checkpoints run).
 */
type Phase = "gather" | "steady" | "drain";
const PHASE_WEIGHTS: Record<Phase, Partial<Record<OpName, number>>> = {
  gather: { snapshotOpen: 6, snapshotClose: 1, closeAll: 0, checkpointAtHead: 0 },
  steady: { snapshotOpen: 3, snapshotClose: 3 },
  drain: { snapshotOpen: 0.4, snapshotClose: 6, iterOpen: 0.2, iterFinish: 1.5 },
};
const PHASE_TABLES: Record<Phase, [OpName, number][]> = {
  gather: phaseTable("gather"),
  steady: phaseTable("steady"),
  drain: phaseTable("drain"),
};

function phaseTable(phase: Phase): [OpName, number][] {
  return WEIGHTS.map(([name, w]) => [name, PHASE_WEIGHTS[phase][name] ?? w]);
}

/** One fresh database on MemFS driven by one seeded stream of operations, beside the model. */
class SnapshotRun {
  readonly tally = newTally();
  private readonly rng: Prng;
  private readonly fs = new MemFS();
  private db: Database;
  /** The committed state. */
  private state: State = new Array<Uint8Array | undefined>(KEYS).fill(undefined);
  /** True while a reader holds `state` itself: the next write copies it first. */
  private stateShared = false;
  private readers: Reader[] = [];
  private iterators: LiveIterator[] = [];
  private nextId = 0;
  private valueSeq = 0;
  private step = 0;
  private readonly trace: string[] = [];
  private freePages = 0;
  private phase: Phase = "steady";
  private phaseEnds = 0;
  /** stats().checkpoints as last seen, and stats().commits at the last log reset seen. */
  private checkpointsSeen = 0;
  private commitsAtReset = 0;
  /**
   * The log's committed end, as the model knows it: stats().walFrames after each commit
   * (a rollback's spilled frames lie past it, inert), 0 after a reset.
   */
  private committedEnd = 0;
  /** stats().commits and the readers open before the operation running. */
  private commitsBefore = 0;
  private readersBefore = 0;

  constructor(
    readonly seed: number,
    private readonly ops: number,
    private readonly cacheFrames: number,
  ) {
    this.rng = new Prng(seed);
    this.db = this.open();
    this.tally.runs = 1;
  }

  run(): Tally {
    const t = this.tally;
    let nextFull = FULL_READ_EVERY;
    while (t.ops < this.ops) {
      if (t.ops >= this.phaseEnds) {
        const r = this.int(20);
        this.phase = r < 8 ? "gather" : r < 15 ? "steady" : "drain";
        this.phaseEnds = t.ops + 500 + this.int(1500);
        this.note(`phase ${this.phase} until ${this.phaseEnds} operations`);
      }
      const op = this.pick();
      this.step++;
      this.at(op, () => {
        const s = this.db.stats();
        this.commitsBefore = s.commits;
        this.readersBefore = this.readers.length + this.iterators.length;
        this.apply(op);
        this.checkStats(op);
      });
      if (t.ops >= nextFull) {
        nextFull += FULL_READ_EVERY;
        this.at("fullReads", () => this.fullReads());
      }
    }
    this.at("end", () => this.finish());
    return t;
  }

  // ---- plumbing ----

  private open(): Database {
    return open(DB_PATH, {
      vfs: this.fs,
      pageSize: PAGE_SIZE,
      cacheBytes: this.cacheFrames * PAGE_SIZE,
      autoCheckpointPages: AUTO_CHECKPOINT_PAGES,
    });
  }

  private pick(): OpName {
    const table = PHASE_TABLES[this.phase];
    let total = 0;
    for (const [, w] of table) total += w;
    let x = this.rng.next() * total;
    for (const [name, w] of table) {
      x -= w;
      if (x < 0) return name;
    }
    return "put";
  }

  private note(text: string): void {
    this.trace.push(`${this.step}: ${text}`);
    if (this.trace.length > TRACE_STEPS) this.trace.shift();
  }

  /** Run `fn`; a failure is rethrown naming the seed, the step and the last steps. */
  private at(what: string, fn: () => void): void {
    try {
      fn();
    } catch (e) {
      const message = e instanceof Error ? e.message : String(e);
      const wrapped = new Error(
        `seed ${this.seed} (PAGEKV_SNAPSHOT_SEED=${SEED}), step ${this.step} (${what}), ` +
          `${this.readers.length} snapshots and ${this.iterators.length} iterators open: ` +
          `${message}\nlast steps:\n  ${this.trace.join("\n  ")}`,
      );
      if (e instanceof Error) wrapped.stack = `${wrapped.message}\n${e.stack}`;
      throw wrapped;
    }
  }

  private int(n: number): number {
    return this.rng.int(n);
  }

  /** A value of mixed size: small, medium, overflow (> 1 KiB) and multi-page overflow. */
  private value(): Uint8Array {
    const r = this.int(100);
    const length =
      r < 45
        ? this.int(41)
        : r < 75
          ? 40 + this.int(660)
          : r < 93
            ? 1100 + this.int(4900)
            : 6000 + this.int(18000);
    return valueBytes(length, this.valueSeq++);
  }

  /** A key index: present in `state` three times in four when any is. */
  private keyIn(state: State): number {
    const i = this.int(KEYS);
    if (this.int(4) === 0) return i;
    for (let d = 0; d < KEYS; d++) {
      const j = (i + d) % KEYS;
      if (state[j] !== undefined) return j;
    }
    return i;
  }

  /** A random range: any subset of gt, gte, lt, lte and prefix, keys or gaps; reverse; limit. */
  private randomRange(): IndexRange {
    const opts: RangeOptions = {};
    const parts: string[] = [];
    let lo = 0;
    let hi = KEYS - 1;
    const bound = (): { key: Uint8Array; i: number; gap: boolean; text: string } => {
      const i = this.int(KEYS);
      const gap = this.int(3) === 0;
      return { key: gap ? GAP[i] : KEY[i], i, gap, text: `${gap ? "gap" : "key"} ${i}` };
    };
    if (this.int(3) === 0) {
      const b = bound();
      opts.gte = b.key;
      lo = Math.max(lo, b.gap ? b.i + 1 : b.i);
      parts.push(`gte ${b.text}`);
    }
    if (this.int(3) === 0) {
      const b = bound();
      opts.gt = b.key;
      lo = Math.max(lo, b.i + 1);
      parts.push(`gt ${b.text}`);
    }
    if (this.int(3) === 0) {
      const b = bound();
      opts.lte = b.key;
      hi = Math.min(hi, b.i);
      parts.push(`lte ${b.text}`);
    }
    if (this.int(3) === 0) {
      const b = bound();
      opts.lt = b.key;
      hi = Math.min(hi, b.gap ? b.i : b.i - 1);
      parts.push(`lt ${b.text}`);
    }
    if (this.int(5) === 0) {
      // "k" and the first d digits of some index: the indices sharing them.
      const d = 1 + this.int(5);
      const i = this.int(KEYS);
      const digits = String(i).padStart(5, "0").slice(0, d);
      const span = 10 ** (5 - d);
      const first = Number(digits) * span;
      opts.prefix = `k${digits}`;
      lo = Math.max(lo, first);
      hi = Math.min(hi, first + span - 1);
      parts.push(`prefix k${digits}`);
    }
    const reverse = this.int(2) === 0;
    if (reverse) {
      opts.reverse = true;
      parts.push("reverse");
    }
    let limit: number | undefined;
    if (this.int(3) === 0) {
      limit = this.int(4) === 0 ? 0 : 1 + this.int(60);
      opts.limit = limit;
      parts.push(`limit ${limit}`);
    }
    return { opts, lo, hi, reverse, limit, text: `{${parts.join(", ")}}` };
  }

  private randomReader(): Reader | undefined {
    return this.readers.length === 0 ? undefined : this.readers[this.int(this.readers.length)];
  }

  // ---- operations ----

  private apply(op: OpName): void {
    const t = this.tally;
    switch (op) {
      case "put": {
        const i = this.int(KEYS);
        const v = this.value();
        this.note(`put ${i} (${v.length} B)`);
        t.ops++;
        t.keysWritten++;
        this.db.put(KEY[i], v);
        this.writable()[i] = v;
        t.commits++;
        break;
      }
      case "delete": {
        const i = this.keyIn(this.state);
        this.note(`delete ${i}`);
        t.ops++;
        t.keysWritten++;
        const had = this.state[i] !== undefined;
        assert.equal(this.db.delete(KEY[i]), had, `delete ${i}`);
        if (had) {
          this.writable()[i] = undefined;
          t.commits++;
        }
        break;
      }
      case "batch": {
        const n = 1 + this.int(40);
        const next = this.state.slice();
        const ops: BatchOp[] = [];
        for (let j = 0; j < n; j++) {
          if (this.int(5) < 3) {
            const i = this.int(KEYS);
            const v = this.value();
            next[i] = v;
            ops.push({ type: "put", key: KEY[i], value: v });
          } else {
            const i = this.keyIn(next);
            next[i] = undefined;
            ops.push({ type: "del", key: KEY[i] });
          }
        }
        this.note(`batch of ${n}`);
        this.writeBatch(ops, next);
        break;
      }
      case "deleteRun": {
        // Consecutive keys: their leaves empty and are freed, and so are their overflow pages.
        const first = this.int(KEYS);
        const n = 20 + this.int(300);
        const next = this.state.slice();
        const ops: BatchOp[] = [];
        for (let i = first; i < Math.min(KEYS, first + n); i++) {
          if (next[i] === undefined && this.int(8) !== 0) continue;
          next[i] = undefined;
          ops.push({ type: "del", key: KEY[i] });
        }
        this.note(`deleteRun ${first}..${first + n - 1} (${ops.length} deletes)`);
        this.writeBatch(ops, next);
        break;
      }
      case "fillRun": {
        const first = this.int(KEYS);
        const n = 20 + this.int(300);
        const next = this.state.slice();
        const ops: BatchOp[] = [];
        for (let i = first; i < Math.min(KEYS, first + n); i++) {
          const v = this.value();
          next[i] = v;
          ops.push({ type: "put", key: KEY[i], value: v });
        }
        this.note(`fillRun ${first}..${first + n - 1}`);
        this.writeBatch(ops, next);
        break;
      }
      case "txCommit":
      case "txRollback":
        this.transaction(op === "txRollback");
        break;
      case "checkpoint":
        this.note("checkpoint");
        this.checkpoint();
        break;
      case "checkpointAtHead": {
        // Close what is behind the last commit, open a few at it: the checkpoint then
        // resets the log under open snapshots (rule 2), which move to the new generation.
        const commits = this.db.stats().commits;
        this.note("checkpointAtHead");
        for (const r of [...this.readers]) if (r.commits !== commits) this.closeReader(r);
        for (const l of [...this.iterators]) if (l.commits !== commits) this.returnIterator(l);
        for (let n = 1 + this.int(3); n > 0; n--) this.openReader();
        const ok = this.checkpoint();
        assert.equal(ok, true, "a checkpoint with every snapshot at the last commit");
        t.checkpointsResetUnderSnapshots++;
        break;
      }
      case "snapshotOpen":
        this.note("snapshot");
        this.openReader();
        break;
      case "snapshotClose": {
        const r = this.randomReader();
        if (r === undefined) break;
        this.note(`close snapshot ${r.id}`);
        this.closeReader(r);
        break;
      }
      case "closeAll":
        this.note("closeAll");
        this.fullReads();
        for (const r of [...this.readers]) this.closeReader(r);
        for (const l of [...this.iterators]) this.finishIterator(l);
        break;
      case "read": {
        // db.read: a snapshot for the function's duration, closed after it returns.
        const i = this.keyIn(this.state);
        const want = this.state;
        this.note(`db.read get ${i}`);
        let inside: Snapshot | undefined;
        t.ops += 2;
        t.reads++;
        const got = this.db.read((s) => {
          inside = s;
          return s.get(KEY[i]);
        });
        assert.ok(sameValue(got, want[i]), `db.read get ${i}: got ${describeValue(got)}`);
        assert.equal(inside?.closed, true, "db.read's snapshot is closed after fn returns");
        break;
      }
      case "snapGet":
      case "snapHas": {
        const r = this.randomReader();
        if (r === undefined) break;
        const i = this.keyIn(r.state);
        this.note(`snapshot ${r.id} ${op === "snapGet" ? "get" : "has"} ${i}`);
        t.ops++;
        t.reads++;
        if (op === "snapGet") {
          const got = r.snap.get(KEY[i]);
          assert.ok(
            sameValue(got, r.state[i]),
            `snapshot ${r.id} get ${i}: got ${describeValue(got)}, want ${describeValue(r.state[i])}`,
          );
        } else {
          assert.equal(r.snap.has(KEY[i]), r.state[i] !== undefined, `snapshot ${r.id} has ${i}`);
        }
        break;
      }
      case "snapRange": {
        const r = this.randomReader();
        if (r === undefined) break;
        const range = this.randomRange();
        this.note(`snapshot ${r.id} range ${range.text}`);
        this.readRange(r.snap, r.state, range, `snapshot ${r.id} range ${range.text}`);
        break;
      }
      case "dbGet": {
        const i = this.keyIn(this.state);
        this.note(`db get ${i}`);
        t.ops++;
        t.reads++;
        const got = this.db.get(KEY[i]);
        assert.ok(sameValue(got, this.state[i]), `db get ${i}: got ${describeValue(got)}`);
        break;
      }
      case "dbRange": {
        // Read at once, a range that follows the live tree yields the same.
        const r = this.randomRange();
        const range = this.int(3) === 0 ? { ...r, opts: { ...r.opts, snapshot: false } } : r;
        this.note(`db range ${range.text}`);
        this.readRange(this.db, this.state, range, `db range ${range.text}`);
        break;
      }
      case "iterOpen": {
        if (this.iterators.length >= ITERATORS_OPEN_MAX) break;
        const range = this.randomRange();
        const id = this.nextId++;
        this.note(`iterator ${id} = db.range(${range.text})`);
        t.ops++;
        const it = this.db.range(range.opts);
        this.iterators.push({
          id,
          it,
          range,
          state: this.shared(),
          want: rangeOf(this.state, range),
          pos: 0,
          commits: this.db.stats().commits,
          bound: this.committedEnd,
        });
        break;
      }
      case "iterStep": {
        if (this.iterators.length === 0) break;
        const l = this.iterators[this.int(this.iterators.length)];
        const n = 1 + this.int(5);
        this.note(`iterator ${l.id} next x${n}`);
        for (let j = 0; j < n && this.iterators.includes(l); j++) this.stepIterator(l);
        break;
      }
      case "iterFinish": {
        if (this.iterators.length === 0) break;
        const l = this.iterators[this.int(this.iterators.length)];
        this.note(`iterator ${l.id} to its end`);
        this.finishIterator(l);
        break;
      }
      case "iterReturn": {
        if (this.iterators.length === 0) break;
        const l = this.iterators[this.int(this.iterators.length)];
        this.note(`iterator ${l.id} return()`);
        this.returnIterator(l);
        break;
      }
      case "reopen":
        this.note("reopen");
        this.reopen();
        break;
      case "crash":
        this.note("crash");
        this.crash();
        break;
    }
  }

  /** The committed state, to change in place: a copy first if a reader holds it. */
  private writable(): State {
    if (this.stateShared) {
      this.state = this.state.slice();
      this.stateShared = false;
    }
    return this.state;
  }

  /** The committed state, for a reader to keep: it is never changed in place after this. */
  private shared(): State {
    this.stateShared = true;
    return this.state;
  }

  private writeBatch(ops: BatchOp[], next: State): void {
    const t = this.tally;
    t.ops += ops.length;
    t.keysWritten += ops.length;
    this.db.batch(ops);
    this.state = next;
    this.stateShared = false;
    t.commits++;
  }

  /** A transaction function of writes and reads; it throws at its end when `fail`. */
  private transaction(fail: boolean): void {
    const t = this.tally;
    const committed = this.state;
    const next = committed.slice();
    const n = 1 + this.int(30);
    const reader = this.randomReader();
    this.note(`transaction of ${n} that ${fail ? "throws" : "commits"}`);
    try {
      this.db.transaction((tx) => {
        for (let j = 0; j < n; j++) {
          t.ops++;
          const k = this.int(10);
          if (k < 5) {
            const i = this.int(KEYS);
            const v = this.value();
            next[i] = v;
            t.keysWritten++;
            tx.put(KEY[i], v);
          } else if (k < 7) {
            const i = this.keyIn(next);
            t.keysWritten++;
            assert.equal(tx.delete(KEY[i]), next[i] !== undefined, `tx.delete ${i}`);
            next[i] = undefined;
          } else if (k < 8) {
            // The transaction sees its own writes.
            const i = this.keyIn(next);
            t.reads++;
            const got = tx.get(KEY[i]);
            assert.ok(sameValue(got, next[i]), `tx.get ${i}: got ${describeValue(got)}`);
          } else if (k < 9) {
            // The database sees the last commit.
            const i = this.keyIn(next);
            t.reads++;
            const got = this.db.get(KEY[i]);
            assert.ok(
              sameValue(got, committed[i]),
              `db.get ${i} inside a transaction: got ${describeValue(got)}, want the committed ` +
                describeValue(committed[i]),
            );
          } else if (reader !== undefined) {
            // A snapshot sees its own instant, never the open transaction.
            const i = this.keyIn(next);
            t.reads++;
            const got = reader.snap.get(KEY[i]);
            assert.ok(
              sameValue(got, reader.state[i]),
              `snapshot ${reader.id} get ${i} inside a transaction: got ${describeValue(got)}`,
            );
          } else {
            const range = this.randomRange();
            this.readRange(
              this.db,
              committed,
              range,
              `db range ${range.text} inside a transaction`,
            );
          }
        }
        if (fail) throw new Abort("roll back");
      });
      assert.equal(fail, false, "a throwing transaction function returned");
      this.state = next;
      this.stateShared = false;
      t.commits++;
    } catch (e) {
      if (!(e instanceof Abort)) throw e;
      t.rollbacks++;
    }
  }

  /**
   * db.checkpoint(): true exactly when no reader is behind the last commit; then the log is
   * reset (unless it held no commit since the last reset: only a rollback's spilled,
   * inert frames, which an empty checkpoint leaves). False changes nothing.
   */
  private checkpoint(): boolean {
    const t = this.tally;
    const before = this.db.stats();
    const atHead =
      this.readers.every((r) => r.commits === before.commits) &&
      this.iterators.every((l) => l.commits === before.commits);
    t.ops++;
    const ok = this.db.checkpoint();
    const after = this.db.stats();
    assert.equal(
      ok,
      atHead,
      `checkpoint() returned ${ok} with ${this.readers.length + this.iterators.length} readers ` +
        `open, ${atHead ? "all at" : "some behind"} the last commit`,
    );
    if (ok) {
      t.checkpointsTrue++;
      if (before.commits > this.commitsAtReset) {
        assert.equal(after.walFrames, 0, "the log after a checkpoint that returned true");
        assert.equal(after.checkpoints, before.checkpoints + 1, "checkpoints counted");
      }
    } else {
      t.checkpointsFalse++;
      assert.equal(
        after.walFrames,
        before.walFrames,
        "a checkpoint that returned false kept the log",
      );
      assert.equal(after.checkpoints, before.checkpoints, "a partial checkpoint counted as one");
    }
    assert.equal(after.commits, before.commits, "a checkpoint committed something");
    this.sawCheckpoints(after.checkpoints, after.commits);
    return ok;
  }

  /** A log reset (the checkpoint count moved) rebases every open reader to bound 0. */
  private sawCheckpoints(checkpoints: number, commits: number): void {
    if (checkpoints !== this.checkpointsSeen) {
      this.commitsAtReset = commits;
      this.committedEnd = 0;
      for (const r of this.readers) r.bound = 0;
      for (const l of this.iterators) l.bound = 0;
    }
    this.checkpointsSeen = checkpoints;
  }

  private openReader(): void {
    const t = this.tally;
    if (this.readers.length >= SNAPSHOTS_OPEN_MAX) return;
    t.ops++;
    const snap = this.db.snapshot();
    assert.equal(snap.closed, false, "a new snapshot is open");
    const r: Reader = {
      id: this.nextId++,
      snap,
      state: this.shared(),
      commits: this.db.stats().commits,
      bound: this.committedEnd,
    };
    this.readers.push(r);
    t.snapshotsOpened++;
    t.snapshotsOpenMax = Math.max(t.snapshotsOpenMax, this.readers.length);
  }

  private closeReader(r: Reader): void {
    const t = this.tally;
    t.ops++;
    // Now and then: a last read, the dispose alias, a second close, a use after close.
    if (this.int(4) === 0) {
      const i = this.keyIn(r.state);
      t.reads++;
      assert.ok(
        sameValue(r.snap.get(KEY[i]), r.state[i]),
        `snapshot ${r.id} get ${i} before close`,
      );
    }
    if (this.int(3) === 0) r.snap[Symbol.dispose]();
    else r.snap.close();
    assert.equal(r.snap.closed, true, `snapshot ${r.id} closed`);
    if (this.int(4) === 0) {
      r.snap.close();
      expectClosed(() => r.snap.get(KEY[0]), `snapshot ${r.id} get after close`);
    }
    this.readers.splice(this.readers.indexOf(r), 1);
  }

  private readRange(
    source: { range(opts: RangeOptions): IterableIterator<[Uint8Array, Uint8Array]> },
    state: State,
    range: IndexRange,
    what: string,
  ): void {
    const t = this.tally;
    t.ops++;
    t.ranges++;
    const got = [...source.range(range.opts)];
    t.entriesRead += got.length;
    assertEntries(got, rangeOf(state, range), state, what);
  }

  /** A full range through every open snapshot (forward or reverse) and through the db. */
  private fullReads(): void {
    const t = this.tally;
    t.fullReads++;
    this.note("full ranges through every snapshot");
    for (const r of this.readers) {
      const range = this.int(2) === 0 ? FULL : FULL_REVERSE;
      this.readRange(r.snap, r.state, range, `snapshot ${r.id} full range ${range.text}`);
    }
    this.readRange(this.db, this.state, FULL, "db full range");
  }

  /** One next() of a live iterator; at its last entry, the next() that reports the end. */
  private stepIterator(l: LiveIterator): void {
    const t = this.tally;
    t.ops++;
    t.iteratorSteps++;
    const r = l.it.next();
    const what = () => `iterator ${l.id} (${l.range.text}) entry ${l.pos} of ${l.want.length}`;
    const w = l.want[l.pos];
    if (r.done === true) {
      assertEntry(undefined, w, l.state, what());
    } else {
      t.entriesRead++;
      const [k, v] = r.value;
      if (w === undefined || !bytesEqual(k, KEY[w]) || !sameValue(v, l.state[w])) {
        assertEntry(r.value, w, l.state, what());
      }
      l.pos++;
      if (l.pos < l.want.length) return;
      t.ops++;
      assert.equal(l.it.next().done, true, `iterator ${l.id} after its last entry`);
    }
    t.iteratorsFinished++;
    this.iterators.splice(this.iterators.indexOf(l), 1);
  }

  /** Read a live iterator to its end: one operation, like a range() read to its end. */
  private finishIterator(l: LiveIterator): void {
    const t = this.tally;
    const ops = t.ops;
    while (this.iterators.includes(l)) this.stepIterator(l);
    t.ops = ops + 1;
  }

  private returnIterator(l: LiveIterator): void {
    this.tally.ops++;
    this.tally.iteratorsReturned++;
    l.it.return?.();
    assert.equal(l.it.next().done, true, `iterator ${l.id} after return()`);
    this.iterators.splice(this.iterators.indexOf(l), 1);
  }

  /** Close the database with readers open (they close: ERR_CLOSED), reopen and verify. */
  private reopen(): void {
    const t = this.tally;
    t.ops++;
    t.reopens++;
    this.db.close();
    for (const r of this.readers) {
      assert.equal(r.snap.closed, true, `snapshot ${r.id} after db.close()`);
      expectClosed(() => r.snap.get(KEY[0]), `snapshot ${r.id} get after db.close()`);
      expectClosed(() => [...r.snap.range()], `snapshot ${r.id} range after db.close()`);
    }
    for (const l of this.iterators) {
      expectClosed(() => l.it.next(), `iterator ${l.id} next after db.close()`);
    }
    this.readers = [];
    this.iterators = [];
    this.db = this.open();
    this.afterOpen("reopen");
  }

  private afterOpen(what: string): void {
    const s = this.db.stats();
    this.checkpointsSeen = s.checkpoints;
    this.commitsAtReset = s.commits;
    this.committedEnd = s.walFrames;
    this.freePages = s.freePages;
    assert.equal(s.snapshots, 0, `snapshots after ${what}`);
    assert.deepEqual(this.db.check(), [], `check() after ${what}`);
    this.readRange(this.db, this.state, FULL, `db full range after ${what}`);
  }

  /**
   * Power loss with readers open, perhaps after partial checkpoints: the snapshots die with
   * the process (ERR_CLOSED), and reopen holds the last commit (sync "full").
   */
  private crash(): void {
    const t = this.tally;
    t.ops++;
    t.crashes++;
    this.fs.crash(this.int(2) === 0 ? {} : { seed: this.int(2 ** 30) });
    for (const r of this.readers) {
      expectClosed(() => r.snap.get(KEY[0]), `snapshot ${r.id} get after a crash`);
    }
    for (const l of this.iterators) {
      // An iterator may yield what it had copied of its leaf before the crash (as a live
      // one always did): each entry right, then ERR_CLOSED, or the end if that was all.
      for (;;) {
        let r: IteratorResult<[Uint8Array, Uint8Array]>;
        try {
          r = l.it.next();
        } catch (e) {
          if (isPagekvError(e, "ERR_CLOSED")) break;
          throw e;
        }
        const what = `iterator ${l.id} after a crash, entry ${l.pos} of ${l.want.length}`;
        if (r.done === true) {
          assertEntry(undefined, l.want[l.pos], l.state, what);
          break;
        }
        assertEntry(r.value, l.want[l.pos], l.state, what);
        l.pos++;
      }
    }
    this.readers = [];
    this.iterators = [];
    this.db = this.open();
    this.afterOpen("crash");
  }

  private finish(): void {
    this.fullReads();
    for (const r of [...this.readers]) this.closeReader(r);
    for (const l of [...this.iterators]) this.finishIterator(l);
    this.checkStats("end");
    assert.equal(this.checkpoint(), true, "a checkpoint with no snapshot open");
    assert.deepEqual(this.db.check(), [], "check() at the end");
    this.readRange(this.db, this.state, FULL_REVERSE, "db reverse range at the end");
    this.reopen();
    this.db.close();
  }

  // ---- what must hold after every operation ----

  private checkStats(op: OpName | "end"): void {
    const t = this.tally;
    const s = this.db.stats();
    const readers = this.readers.length + this.iterators.length;
    if (s.checkpoints > this.checkpointsSeen)
      t.autoCheckpoints += s.checkpoints - this.checkpointsSeen;
    const committed = s.commits > this.commitsBefore;
    if (committed) this.committedEnd = s.walFrames;
    this.sawCheckpoints(s.checkpoints, s.commits);
    assert.equal(s.snapshots, readers, "stats().snapshots: the snapshots and iterators open");
    if (readers === 0) {
      assert.equal(s.snapshotCommitsBehind, 0, "snapshotCommitsBehind with no snapshot open");
      assert.equal(s.snapshotFramesHeld, 0, "snapshotFramesHeld with no snapshot open");
      assert.equal(s.framesPinned, 0, "frames left pinned");
    } else {
      let oldest = s.commits;
      let bound = this.committedEnd;
      for (const r of [...this.readers, ...this.iterators]) {
        oldest = Math.min(oldest, r.commits);
        bound = Math.min(bound, r.bound);
      }
      assert.equal(s.snapshotCommitsBehind, s.commits - oldest, "snapshotCommitsBehind");
      assert.equal(
        s.snapshotFramesHeld,
        this.committedEnd - bound,
        `snapshotFramesHeld: the committed end ${this.committedEnd} less the oldest bound ${bound}`,
      );
      // Every commit logs at least one frame.
      assert.ok(s.snapshotFramesHeld >= s.snapshotCommitsBehind, "snapshotFramesHeld");
      if (this.iterators.length === 0) assert.equal(s.framesPinned, 0, "frames left pinned");
    }
    // A commit with nobody reading: the automatic checkpoint had no snapshot to wait for
    // (a transaction function's own snapshot of the last commit included: it closes first).
    if (readers === 0 && this.readersBefore === 0 && committed) {
      assert.ok(
        s.walFrames < AUTO_CHECKPOINT_PAGES,
        `${s.walFrames} frames in the log after a commit (${op}) with no snapshot open`,
      );
    }
    if (this.readers.length > 0) {
      if (s.freePages > this.freePages) t.freedUnderSnapshots++;
      if (s.freePages < this.freePages) t.reusedUnderSnapshots++;
    }
    this.freePages = s.freePages;
    // Checked once: a later check (at the end) judges only what happened after this one.
    this.commitsBefore = s.commits;
    this.readersBefore = readers;
    t.walFramesMax = Math.max(t.walFramesMax, s.walFrames);
    t.pageCountMax = Math.max(t.pageCountMax, s.pageCount);
  }
}

function report(name: string, t: Tally): void {
  console.log(
    `${name}: ${t.runs} runs, ${t.ops} operations (${t.keysWritten} keys written in ` +
      `${t.commits} commits and ${t.rollbacks} rollbacks; ${t.reads} gets/has; ${t.ranges} ` +
      `ranges; ${t.iteratorSteps} iterator steps; ${t.entriesRead} entries read; ` +
      `${t.fullReads} full reads through every snapshot); ${t.snapshotsOpened} snapshots ` +
      `opened, at most ${t.snapshotsOpenMax} at once; ${t.iteratorsFinished} iterators ` +
      `finished, ${t.iteratorsReturned} returned early; checkpoints: ${t.checkpointsTrue} ` +
      `forced true (${t.checkpointsResetUnderSnapshots} under open snapshots), ` +
      `${t.checkpointsFalse} forced false, ${t.autoCheckpoints} automatic; free pages rose ` +
      `${t.freedUnderSnapshots} and fell ${t.reusedUnderSnapshots} times under open snapshots; ` +
      `${t.reopens} reopens, ${t.crashes} crashes; up to ${t.walFramesMax} log frames, ${t.pageCountMax} pages`,
  );
}

test(`${OPS.toLocaleString("en")} random operations (keys written, point reads, ranges, iterator steps, snapshot opens and closes, checkpoints): every snapshot and db.range() iterator reads exactly the state at its instant, across writes, rollbacks, checkpoints and page reuse`, () => {
  const started = performance.now();
  const total = newTally();
  const runs = Math.ceil(OPS / RUN_OPS);
  for (let r = 0; r < runs; r++) {
    if (ONLY_RUN !== undefined && r !== ONLY_RUN) continue;
    const ops = Math.min(RUN_OPS, OPS - r * RUN_OPS);
    const t = new SnapshotRun(SEED + r, ops, CACHE_FRAMES[r % CACHE_FRAMES.length]).run();
    addTally(total, t);
    if (ops < RUN_OPS) continue; // a short replay need not reach every corner
    assert.ok(t.snapshotsOpenMax >= 24, `run ${r}: at most ${t.snapshotsOpenMax} snapshots open`);
    assert.ok(
      t.freedUnderSnapshots > 0 && t.reusedUnderSnapshots > 0,
      `run ${r}: free pages rose ${t.freedUnderSnapshots} and fell ${t.reusedUnderSnapshots} ` +
        "times under open snapshots: no page reuse to speak of",
    );
    assert.ok(t.autoCheckpoints > 0, `run ${r}: no automatic checkpoint`);
    assert.ok(
      t.checkpointsFalse > 0 && t.checkpointsResetUnderSnapshots > 0,
      `run ${r}: checkpoints too tame`,
    );
    assert.ok(t.iteratorsFinished > 0 && t.iteratorsReturned > 0, `run ${r}: iterators too tame`);
  }
  const seconds = ((performance.now() - started) / 1000).toFixed(1);
  report(`snapshot model (${seconds} s, PAGEKV_SNAPSHOT_SEED=${SEED})`, total);
  assert.ok(total.runs > 0, `no run ${ONLY_RUN} in ${runs} runs of ${RUN_OPS} operations`);
  if (ONLY_RUN === undefined)
    assert.ok(total.ops >= OPS, `${total.ops} operations, fewer than ${OPS}`);
});
