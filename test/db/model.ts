// Helpers for the public-API model tests: a sorted in-memory model of the key/value store,
// the operation language fast-check generates, and the runner that applies one sequence to
// a Database on MemFS (512-byte pages, the minimum pool) and to the model side by side.
// Exports only: importing it runs nothing (node --test executes every .js under build/test/).
//
// What the runner holds the Database to:
//   - every get, has, delete result and range output (all bounds, prefix, reverse, limit)
//     equals the model's, for string and Uint8Array keys alike;
//   - a batch applies in array order; a transaction function commits when it returns and
//     leaves nothing behind when it throws; inside it, tx reads see its own writes, reads
//     through the db see the last commit, a write through the db is ERR_TXN, and a tx
//     iterator used after the end is ERR_TXN;
//   - an iterator kept open across writes continues after its last key, in order, never
//     repeats one and never skips a key that existed throughout;
//   - no frame stays pinned between operations;
//   - after a MemFS power loss (between operations, or armed to fire inside one) and a
//     reopen, the store holds the last committed state (sync "full": every returned write
//     is durable; a write the power failed inside may be either), and check() is [].

import assert from "node:assert/strict";
import fc from "fast-check";
import {
  type BatchOp,
  type Database,
  isPagekvError,
  open,
  type RangeOptions,
} from "../../src/index.js";
import { MemFS } from "../../src/vfs/memfs.js";
import { Prng } from "../../src/vfs/prng.js";
import {
  bytesEqual,
  fromHex,
  SortedModel,
  toHex,
  valueBytes,
  weightedOneOf,
} from "../btree/model.js";

export const DB_PATH = "/m.pkv";
export const PAGE_SIZE = 512;

const encoder = new TextEncoder();

// ---- the model ----

/** Bounds on hex keys; lower-case hex orders exactly as unsigned bytes do. */
export interface HexRange {
  gt?: string;
  gte?: string;
  lt?: string;
  lte?: string;
  prefix?: string;
  reverse?: boolean;
  limit?: number;
}

export function inRange(hex: string, r: HexRange): boolean {
  if (r.gt !== undefined && !(hex > r.gt)) return false;
  if (r.gte !== undefined && !(hex >= r.gte)) return false;
  if (r.lt !== undefined && !(hex < r.lt)) return false;
  if (r.lte !== undefined && !(hex <= r.lte)) return false;
  if (r.prefix !== undefined && !hex.startsWith(r.prefix)) return false;
  return true;
}

/** The reference store (the B-tree tests' sorted model), with the API's range options. */
export class Model extends SortedModel {
  /** The keys a range yields, in order, `limit` applied after `reverse`. */
  override range(r: HexRange): string[] {
    const out = this.keys().filter((k) => inRange(k, r));
    if (r.reverse === true) out.reverse();
    return r.limit === undefined ? out : out.slice(0, r.limit);
  }
}

function describe(v: Uint8Array | undefined): string {
  if (v === undefined) return "(absent)";
  return `${v.length} B ${toHex(v.subarray(0, 8))}${v.length > 8 ? "..." : ""}`;
}

function sameValue(got: Uint8Array | undefined, want: Uint8Array | undefined): boolean {
  return got === undefined ? want === undefined : want !== undefined && bytesEqual(got, want);
}

/** Assert a range's output is exactly `keys` with the model's values. */
function assertEntries(
  got: readonly [Uint8Array, Uint8Array][],
  keys: readonly string[],
  model: Model,
  what: string,
): void {
  const n = Math.max(got.length, keys.length);
  for (let i = 0; i < n; i++) {
    const g = got[i];
    const k = keys[i];
    if (g !== undefined && k !== undefined && toHex(g[0]) === k && sameValue(g[1], model.get(k)))
      continue;
    const gotText = g === undefined ? "(end)" : `${toHex(g[0])} = ${describe(g[1])}`;
    const wantText = k === undefined ? "(end)" : `${k} = ${describe(model.get(k))}`;
    assert.fail(
      `${what}: ${got.length} entries, want ${keys.length}; at ${i} got ${gotText}, want ${wantText}`,
    );
  }
}

// ---- the operation language ----

/** A key as a string, as bytes, or the nth key of the model (bytes; the empty key if none). */
export type KeyArg = { s: string } | { b: number[] } | { nth: number };
/** A value: `length` deterministic bytes named by `seed`, or a UTF-8 string. */
export type ValueArg = { length: number; seed: number; str: boolean };

export interface RangeArg {
  gt?: KeyArg;
  gte?: KeyArg;
  lt?: KeyArg;
  lte?: KeyArg;
  prefix?: KeyArg;
  reverse?: boolean;
  limit?: number;
}

export type WriteOp =
  | { op: "put"; key: KeyArg; value: ValueArg }
  | { op: "delete"; key: KeyArg }
  | {
      op: "batch";
      ops: ({ del: false; key: KeyArg; value: ValueArg } | { del: true; key: KeyArg })[];
    }
  /** A transaction function of puts and deletes that commits, or throws at its end. */
  | { op: "txWrite"; ops: WriteOp[]; fail: boolean }
  /** One batch of `count` puts of random 1..24-byte keys (so trees grow deep). */
  | { op: "fill"; count: number; seed: number };

export type TxOp =
  | { op: "put"; key: KeyArg; value: ValueArg }
  | { op: "delete"; key: KeyArg }
  | { op: "get"; key: KeyArg }
  | { op: "has"; key: KeyArg }
  | { op: "range"; range: RangeArg }
  /** Reads through the db: the committed state. */
  | { op: "dbGet"; key: KeyArg }
  | { op: "dbRange"; range: RangeArg }
  /** A write through the db inside the function: ERR_TXN, nothing changes. */
  | { op: "dbPut"; key: KeyArg };

export type Op =
  | WriteOp
  | { op: "get"; key: KeyArg }
  | { op: "has"; key: KeyArg }
  | { op: "range"; range: RangeArg }
  /** A transaction function: `throwAt` defined -> throws after that many of its ops. */
  | { op: "tx"; ops: TxOp[]; throwAt?: number }
  /** One db iterator kept open: each round reads `take` entries, then applies `writes`. */
  | {
      op: "scanWhileWriting";
      range: RangeArg;
      /** false: db.range({ snapshot: false }), which follows the live tree. */
      snapshot: boolean;
      rounds: { take: number; writes: WriteOp[] }[];
    }
  | { op: "checkpoint" }
  /** Power loss now; `tear`: a MemFS crash seed that keeps, loses or tears unsynced writes. */
  | { op: "crash"; tear?: number }
  /** Power loss at the mutating file-system call `afterWrites` calls from now. */
  | { op: "armCrash"; afterWrites: number; tear?: number }
  | { op: "reopen" }
  | { op: "check" };

export type OpName = Op["op"];
export type OpWeights = Partial<Record<OpName, number>>;

/** Byte keys draw from low, ASCII ('a', 'b'), UTF-8 lead/continuation and top bytes. */
const BYTE_ALPHABET = [0x00, 0x01, 0x61, 0x62, 0x7f, 0x80, 0xc3, 0xa9, 0xfe, 0xff] as const;
/** String keys: 'é' is c3 a9 and 'ÿ' c3 bf, so strings and bytes collide and interleave. */
const CHAR_ALPHABET = ["a", "b", "é", "ÿ", "\u0000", "\u007f"] as const;

const keyArb: fc.Arbitrary<KeyArg> = fc.oneof(
  {
    weight: 3,
    arbitrary: fc
      .array(fc.constantFrom(...CHAR_ALPHABET), { maxLength: 4 })
      .map((c): KeyArg => ({ s: c.join("") })),
  },
  {
    weight: 3,
    arbitrary: fc
      .array(fc.constantFrom(...BYTE_ALPHABET), { maxLength: 4 })
      .map((b): KeyArg => ({ b })),
  },
  {
    weight: 1,
    // Long keys up to keyBytesMax (32 at 512-byte pages): fewer keys per leaf.
    arbitrary: fc
      .tuple(fc.constantFrom(...BYTE_ALPHABET), fc.integer({ min: 4, max: 30 }))
      .chain(([fill, run]) =>
        fc
          .array(fc.constantFrom(...BYTE_ALPHABET), { maxLength: 2 })
          .map((suffix): KeyArg => ({ b: [...new Array<number>(run).fill(fill), ...suffix] })),
      ),
  },
  { weight: 3, arbitrary: fc.nat().map((nth): KeyArg => ({ nth })) },
);

/** Prefixes: short, so they match something; including ones ending in 0xff. */
const prefixArb: fc.Arbitrary<KeyArg> = fc.oneof(
  fc.array(fc.constantFrom(...BYTE_ALPHABET), { maxLength: 2 }).map((b): KeyArg => ({ b })),
  fc
    .array(fc.constantFrom(...CHAR_ALPHABET), { maxLength: 2 })
    .map((c): KeyArg => ({ s: c.join("") })),
);

const valueArb: fc.Arbitrary<ValueArg> = fc.record({
  length: fc.oneof(
    { weight: 6, arbitrary: fc.integer({ min: 0, max: 24 }) },
    { weight: 3, arbitrary: fc.integer({ min: 0, max: 300 }) },
    { weight: 1, arbitrary: fc.integer({ min: 300, max: 1600 }) },
  ),
  seed: fc.nat({ max: 0xffff }),
  str: fc.boolean(),
});

/** Every bound combination: any subset of gt, gte, lt, lte and prefix; reverse; limit. */
export const rangeArb: fc.Arbitrary<RangeArg> = fc.record(
  {
    gt: keyArb,
    gte: keyArb,
    lt: keyArb,
    lte: keyArb,
    prefix: prefixArb,
    reverse: fc.boolean(),
    limit: fc.integer({ min: 0, max: 10 }),
  },
  { requiredKeys: [] },
);

const putArb = fc.record({ op: fc.constant("put" as const), key: keyArb, value: valueArb });
const deleteArb = fc.record({ op: fc.constant("delete" as const), key: keyArb });
const batchArb = fc.record({
  op: fc.constant("batch" as const),
  ops: fc.array(
    fc.oneof(
      {
        weight: 3,
        arbitrary: fc.record({ del: fc.constant(false as const), key: keyArb, value: valueArb }),
      },
      { weight: 2, arbitrary: fc.record({ del: fc.constant(true as const), key: keyArb }) },
    ),
    { maxLength: 40 },
  ),
});
const txWriteArb: fc.Arbitrary<WriteOp> = fc.record({
  op: fc.constant("txWrite" as const),
  ops: fc.array(fc.oneof(putArb, deleteArb), { maxLength: 12 }),
  fail: fc.boolean(),
});
const fillArb: fc.Arbitrary<WriteOp> = fc.record({
  op: fc.constant("fill" as const),
  count: fc.integer({ min: 1, max: 300 }),
  seed: fc.nat({ max: 0xffff }),
});
const writeArb: fc.Arbitrary<WriteOp> = fc.oneof(
  { weight: 4, arbitrary: putArb },
  { weight: 3, arbitrary: deleteArb },
  { weight: 1, arbitrary: batchArb },
  { weight: 1, arbitrary: txWriteArb },
);

const txOpArb: fc.Arbitrary<TxOp> = fc.oneof(
  { weight: 6, arbitrary: putArb },
  { weight: 4, arbitrary: deleteArb },
  { weight: 3, arbitrary: fc.record({ op: fc.constant("get" as const), key: keyArb }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant("has" as const), key: keyArb }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant("range" as const), range: rangeArb }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant("dbGet" as const), key: keyArb }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant("dbRange" as const), range: rangeArb }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant("dbPut" as const), key: keyArb }) },
);

const tearArb = fc.option(fc.nat({ max: 0xffff }), { nil: undefined });

const OP_ARBS: Record<OpName, fc.Arbitrary<Op>> = {
  put: putArb,
  delete: deleteArb,
  batch: batchArb,
  txWrite: txWriteArb,
  fill: fillArb,
  get: fc.record({ op: fc.constant("get" as const), key: keyArb }),
  has: fc.record({ op: fc.constant("has" as const), key: keyArb }),
  range: fc.record({ op: fc.constant("range" as const), range: rangeArb }),
  tx: fc.record(
    {
      op: fc.constant("tx" as const),
      ops: fc.array(txOpArb, { maxLength: 25 }),
      throwAt: fc.integer({ min: 0, max: 25 }),
    },
    { requiredKeys: ["op", "ops"] },
  ),
  scanWhileWriting: fc.record({
    op: fc.constant("scanWhileWriting" as const),
    range: rangeArb,
    snapshot: fc.boolean(),
    rounds: fc.array(
      fc.record({
        take: fc.integer({ min: 0, max: 6 }),
        writes: fc.array(writeArb, { maxLength: 4 }),
      }),
      { minLength: 1, maxLength: 8 },
    ),
  }),
  checkpoint: fc.constant({ op: "checkpoint" as const }),
  crash: fc.record({ op: fc.constant("crash" as const), tear: tearArb }, { requiredKeys: ["op"] }),
  armCrash: fc.record(
    {
      op: fc.constant("armCrash" as const),
      afterWrites: fc.integer({ min: 0, max: 40 }),
      tear: tearArb,
    },
    { requiredKeys: ["op", "afterWrites"] },
  ),
  reopen: fc.constant({ op: "reopen" as const }),
  check: fc.constant({ op: "check" as const }),
};

export function opArb(weights: OpWeights): fc.Arbitrary<Op> {
  return weightedOneOf(OP_ARBS, weights);
}

// ---- the runner ----

export interface Tally {
  runs: number;
  /** Generated operations, counting each write inside a batch, tx or scan round as one. */
  ops: number;
  /** Calls made on a Database or Transaction (get, put, range, next() excluded). */
  calls: number;
  puts: number;
  deletes: number;
  reads: number;
  ranges: number;
  batches: number;
  commits: number;
  rollbacks: number;
  scansWhileWriting: number;
  checkpoints: number;
  crashes: number;
  crashesArmed: number;
  reopens: number;
  checks: number;
  keysMax: number;
  pagesMax: number;
}

export function newTally(): Tally {
  return {
    runs: 0,
    ops: 0,
    calls: 0,
    puts: 0,
    deletes: 0,
    reads: 0,
    ranges: 0,
    batches: 0,
    commits: 0,
    rollbacks: 0,
    scansWhileWriting: 0,
    checkpoints: 0,
    crashes: 0,
    crashesArmed: 0,
    reopens: 0,
    checks: 0,
    keysMax: 0,
    pagesMax: 0,
  };
}

export function addTally(into: Tally, t: Tally): void {
  for (const k of Object.keys(into) as (keyof Tally)[]) {
    into[k] = k === "keysMax" || k === "pagesMax" ? Math.max(into[k], t[k]) : into[k] + t[k];
  }
}

/** The error a transaction function throws on purpose. */
class Abort extends Error {}

function isCrashError(e: unknown): boolean {
  return (
    isPagekvError(e, "ERR_CRASHED") || isPagekvError(e, "ERR_FENCED") || isPagekvError(e, "ERR_IO")
  );
}

function expectCode(fn: () => unknown, code: string, what: string): void {
  try {
    fn();
  } catch (e) {
    if (isCrashError(e)) throw e;
    assert.ok(isPagekvError(e), `${what}: expected ${code}, got ${String(e)}`);
    assert.equal(e.code, code, `${what}: ${e.message}`);
    return;
  }
  assert.fail(`${what}: expected ${code}, nothing was thrown`);
}

function makeValue(v: ValueArg): { arg: Uint8Array | string; bytes: Uint8Array } {
  if (!v.str) {
    const b = valueBytes(v.length, v.seed);
    return { arg: b, bytes: b };
  }
  const s = `${v.seed}:${"é".repeat(v.length >> 1)}`;
  return { arg: s, bytes: encoder.encode(s) };
}

/** One Database on a fresh MemFS driven through one sequence, next to its model. */
export class DbRun {
  readonly tally = newTally();
  private readonly fs = new MemFS();
  private db: Database;
  /** The committed state (every db write commits before it returns). */
  private model = new Model();
  private armed = false;
  private tear: number | undefined = undefined;
  /** The state a write in flight would commit, for an armed crash inside it. */
  private pending: Model | null = null;
  private step = -1;

  constructor() {
    this.db = this.open();
    this.tally.runs = 1;
  }

  run(ops: readonly Op[]): Tally {
    for (const op of ops) this.apply(op);
    try {
      if (this.armed) this.powerLoss([this.model], "end");
      this.verify("end");
      this.db.close();
      this.db = this.open();
      this.verify("end, reopened");
      this.db.close();
    } catch (e) {
      throw this.wrap(e, "after the last step");
    }
    return this.tally;
  }

  private open(): Database {
    return open(DB_PATH, { vfs: this.fs, pageSize: PAGE_SIZE, cacheBytes: 0 });
  }

  private wrap(e: unknown, where: string): Error {
    const what = e instanceof Error ? e.message : String(e);
    const wrapped = new Error(`${where}: ${what}`);
    if (e instanceof Error) wrapped.stack = `${wrapped.message}\n${e.stack}`;
    return wrapped;
  }

  apply(op: Op): void {
    this.step++;
    try {
      try {
        this.applyOp(op);
      } catch (e) {
        if (!this.armed || !isCrashError(e)) throw e;
        const outcomes = this.pending === null ? [this.model] : [this.model, this.pending];
        this.pending = null;
        this.tally.crashesArmed++;
        this.powerLoss(outcomes, `armed crash inside ${op.op}`);
        return;
      }
      const s = this.db.stats();
      assert.equal(s.framesPinned, 0, "frames left pinned");
      this.tally.keysMax = Math.max(this.tally.keysMax, this.model.size);
      this.tally.pagesMax = Math.max(this.tally.pagesMax, s.pageCount);
    } catch (e) {
      throw this.wrap(e, `step ${this.step} (${JSON.stringify(op)})`);
    }
  }

  // ---- keys, values, ranges ----

  private key(k: KeyArg): { arg: Uint8Array | string; hex: string } {
    if ("s" in k) return { arg: k.s, hex: toHex(encoder.encode(k.s)) };
    if ("b" in k) {
      const b = Uint8Array.from(k.b);
      return { arg: b, hex: toHex(b) };
    }
    const keys = this.model.keys();
    const hex = keys.length === 0 ? "" : (keys[k.nth % keys.length] ?? "");
    return { arg: fromHex(hex), hex };
  }

  private range(r: RangeArg, model: Model): { opts: RangeOptions; hex: HexRange } {
    const opts: RangeOptions = {};
    const hex: HexRange = {};
    for (const b of ["gt", "gte", "lt", "lte", "prefix"] as const) {
      const k = r[b];
      if (k === undefined) continue;
      // nth keys resolve against the model the range reads.
      const saved = this.model;
      this.model = model;
      const { arg, hex: h } = this.key(k);
      this.model = saved;
      opts[b] = arg;
      hex[b] = h;
    }
    if (r.reverse !== undefined) {
      opts.reverse = r.reverse;
      hex.reverse = r.reverse;
    }
    if (r.limit !== undefined) {
      opts.limit = r.limit;
      hex.limit = r.limit;
    }
    return { opts, hex };
  }

  // ---- operations ----

  private applyOp(op: Op): void {
    const t = this.tally;
    switch (op.op) {
      case "put":
      case "delete":
      case "batch":
      case "txWrite":
      case "fill":
        this.write(op);
        break;
      case "get": {
        t.ops++;
        t.calls++;
        t.reads++;
        const { arg, hex } = this.key(op.key);
        const got = this.db.get(arg);
        const want = this.model.get(hex);
        assert.ok(sameValue(got, want), `get ${hex}: got ${describe(got)}, want ${describe(want)}`);
        break;
      }
      case "has": {
        t.ops++;
        t.calls++;
        t.reads++;
        const { arg, hex } = this.key(op.key);
        assert.equal(this.db.has(arg), this.model.get(hex) !== undefined, `has ${hex}`);
        break;
      }
      case "range": {
        t.ops++;
        t.calls++;
        t.ranges++;
        const { opts, hex } = this.range(op.range, this.model);
        const got = [...this.db.range(opts)];
        assertEntries(got, this.model.range(hex), this.model, `range ${JSON.stringify(hex)}`);
        break;
      }
      case "tx":
        this.transaction(op.ops, op.throwAt);
        break;
      case "scanWhileWriting":
        this.scanWhileWriting(op.range, op.snapshot, op.rounds);
        break;
      case "checkpoint":
        t.ops++;
        t.calls++;
        t.checkpoints++;
        this.pending = this.model;
        this.db.checkpoint();
        this.pending = null;
        break;
      case "crash":
        t.ops++;
        this.armed = false;
        this.tear = op.tear;
        this.powerLoss([this.model], "crash");
        break;
      case "armCrash":
        t.ops++;
        if (this.armed) break;
        this.armed = true;
        this.tear = op.tear;
        this.fs.armCrash(op.afterWrites);
        break;
      case "reopen":
        t.ops++;
        t.reopens++;
        this.pending = this.model;
        this.db.close();
        this.pending = null;
        this.db = this.open();
        t.checks++;
        assert.deepEqual(this.db.check(), [], "check() after reopen");
        break;
      case "check":
        t.ops++;
        t.checks++;
        assert.deepEqual(this.db.check(), [], "check()");
        break;
    }
  }

  /** Apply one committed write to `model` (which it mutates) through `db` or `tx`. */
  private write(op: WriteOp): void {
    const t = this.tally;
    const next = this.model.clone();
    this.pending = next;
    switch (op.op) {
      case "put": {
        t.ops++;
        t.calls++;
        t.puts++;
        const { arg, hex } = this.key(op.key);
        const v = makeValue(op.value);
        next.put(hex, v.bytes);
        this.db.put(arg, v.arg);
        break;
      }
      case "delete": {
        t.ops++;
        t.calls++;
        t.deletes++;
        const { arg, hex } = this.key(op.key);
        const want = next.delete(hex);
        assert.equal(this.db.delete(arg), want, `delete ${hex}`);
        break;
      }
      case "batch": {
        t.calls++;
        t.batches++;
        const ops = op.ops.map((b) => {
          t.ops++;
          const { arg, hex } = this.key(b.key);
          if (b.del) {
            t.deletes++;
            next.delete(hex);
            return { type: "del" as const, key: arg };
          }
          t.puts++;
          const v = makeValue(b.value);
          next.put(hex, v.bytes);
          return { type: "put" as const, key: arg, value: v.arg };
        });
        this.db.batch(ops);
        break;
      }
      case "fill": {
        t.calls++;
        t.batches++;
        const rng = new Prng(op.seed);
        const ops: BatchOp[] = [];
        for (let i = 0; i < op.count; i++) {
          t.ops++;
          t.puts++;
          const key = new Uint8Array(1 + rng.int(24));
          for (let j = 0; j < key.length; j++) key[j] = rng.int(256);
          const value = valueBytes(rng.int(8) === 0 ? 200 + rng.int(900) : rng.int(40), i);
          next.put(toHex(key), value);
          ops.push({ type: "put", key, value });
        }
        this.db.batch(ops);
        break;
      }
      case "txWrite": {
        const txOps: TxOp[] = op.ops.map((w) =>
          w.op === "put" || w.op === "delete" ? w : { op: "get", key: { nth: 0 } },
        );
        this.pending = null;
        this.transaction(txOps, op.fail ? txOps.length : undefined);
        return;
      }
    }
    this.model = next;
    this.pending = null;
  }

  /** A transaction function running `ops`; throws after `throwAt` of them when defined. */
  private transaction(ops: readonly TxOp[], throwAt: number | undefined): void {
    const t = this.tally;
    t.calls++;
    const committed = this.model;
    const txModel = committed.clone();
    // A throwing function commits nothing: an armed crash inside it leaves `committed`.
    this.pending = throwAt === undefined ? txModel : null;
    const stale: { it: Iterator<[Uint8Array, Uint8Array]> | null } = { it: null };
    let aborted = false;
    try {
      this.db.transaction((tx) => {
        const it = tx.range();
        if (!it.next().done) stale.it = it;
        for (let i = 0; i < ops.length; i++) {
          if (throwAt !== undefined && i === throwAt) throw new Abort("rollback");
          const o = ops[i];
          t.ops++;
          t.calls++;
          switch (o.op) {
            case "put": {
              t.puts++;
              const { arg, hex } = this.keyIn(o.key, txModel);
              const v = makeValue(o.value);
              txModel.put(hex, v.bytes);
              tx.put(arg, v.arg);
              break;
            }
            case "delete": {
              t.deletes++;
              const { arg, hex } = this.keyIn(o.key, txModel);
              assert.equal(tx.delete(arg), txModel.delete(hex), `tx.delete ${hex}`);
              break;
            }
            case "get": {
              t.reads++;
              const { arg, hex } = this.keyIn(o.key, txModel);
              const got = tx.get(arg);
              assert.ok(sameValue(got, txModel.get(hex)), `tx.get ${hex}: got ${describe(got)}`);
              break;
            }
            case "has": {
              t.reads++;
              const { arg, hex } = this.keyIn(o.key, txModel);
              assert.equal(tx.has(arg), txModel.get(hex) !== undefined, `tx.has ${hex}`);
              break;
            }
            case "range": {
              t.ranges++;
              const { opts, hex } = this.range(o.range, txModel);
              assertEntries([...tx.range(opts)], txModel.range(hex), txModel, "tx.range");
              break;
            }
            case "dbGet": {
              t.reads++;
              const { arg, hex } = this.keyIn(o.key, txModel);
              const got = this.db.get(arg);
              assert.ok(
                sameValue(got, committed.get(hex)),
                `db.get ${hex} inside a transaction: got ${describe(got)}, want the committed ` +
                  describe(committed.get(hex)),
              );
              break;
            }
            case "dbRange": {
              t.ranges++;
              const { opts, hex } = this.range(o.range, committed);
              const got = [...this.db.range(opts)];
              assertEntries(got, committed.range(hex), committed, "db.range inside a transaction");
              break;
            }
            case "dbPut": {
              const { arg } = this.keyIn(o.key, txModel);
              expectCode(() => this.db.put(arg, "x"), "ERR_TXN", "db.put inside a transaction");
              break;
            }
          }
        }
        if (throwAt !== undefined) throw new Abort("rollback");
      });
    } catch (e) {
      if (!(e instanceof Abort)) throw e;
      aborted = true;
    }
    this.pending = null;
    if (aborted) {
      t.rollbacks++;
    } else {
      t.commits++;
      this.model = txModel;
    }
    const it = stale.it;
    if (it !== null) expectCode(() => it.next(), "ERR_TXN", "a tx iterator after its transaction");
  }

  private keyIn(k: KeyArg, model: Model): { arg: Uint8Array | string; hex: string } {
    const saved = this.model;
    this.model = model;
    try {
      return this.key(k);
    } finally {
      this.model = saved;
    }
  }

  /**
   * A range iterator stepped between writes. Over a snapshot (the default) it yields exactly
   * the entries at its creation; following the live tree it yields every key that existed
   * throughout, in order, each with its value at the time it is yielded.
   */
  private scanWhileWriting(
    r: RangeArg,
    snapshot: boolean,
    rounds: readonly { take: number; writes: WriteOp[] }[],
  ) {
    const t = this.tally;
    t.ops++;
    t.calls++;
    t.scansWhileWriting++;
    const { opts, hex } = this.range(r, this.model);
    const reverse = hex.reverse === true;
    const unlimited: HexRange = { ...hex };
    delete unlimited.limit;
    /** Keys in range that have existed since the iterator opened (committed deletes drop). */
    const throughout = new Set(this.model.range(unlimited));
    const atStart = this.model;
    const it = this.db.range(snapshot ? opts : { ...opts, snapshot: false });
    const seen: string[] = [];
    let last: string | undefined;
    let done = false;
    const next = (): boolean => {
      const n = it.next();
      if (n.done) {
        done = true;
        return false;
      }
      const k = toHex(n.value[0]);
      assert.ok(inRange(k, hex), `scan yielded ${k}, outside ${JSON.stringify(hex)}`);
      if (last !== undefined) {
        assert.ok(reverse ? k < last : k > last, `scan yielded ${k} after ${last}`);
      }
      const want = (snapshot ? atStart : this.model).get(k);
      assert.ok(
        sameValue(n.value[1], want),
        `scan yielded ${k} = ${describe(n.value[1])}, the ${snapshot ? "snapshot" : "store"} holds ${describe(want)}`,
      );
      last = k;
      seen.push(k);
      return true;
    };
    for (const round of rounds) {
      for (let i = 0; i < round.take && !done; i++) next();
      for (const w of round.writes) {
        const before = this.model;
        this.write(w);
        for (const k of throughout)
          if (before.get(k) !== undefined && this.model.get(k) === undefined) throughout.delete(k);
      }
    }
    while (!done) next();
    if (snapshot) {
      assert.deepEqual(seen, atStart.range(hex), "a snapshot range yields its instant's entries");
      return;
    }
    if (hex.limit !== undefined) assert.ok(seen.length <= hex.limit, `limit ${hex.limit}`);
    const full = hex.limit === undefined || seen.length < hex.limit;
    const got = new Set(seen);
    for (const k of throughout) {
      // With the limit reached, only keys up to the last one yielded were due.
      const due = full || (last !== undefined && (reverse ? k >= last : k <= last));
      if (due) assert.ok(got.has(k), `scan skipped ${k}, which existed throughout`);
    }
  }

  /** Crash now (after an armed crash fired, or on demand), reopen, and match one outcome. */
  private powerLoss(outcomes: readonly Model[], what: string): void {
    const t = this.tally;
    t.crashes++;
    this.armed = false;
    this.fs.crash(this.tear === undefined ? {} : { seed: this.tear });
    this.db = this.open();
    t.reopens++;
    t.checks++;
    assert.deepEqual(this.db.check(), [], `check() after ${what}`);
    const got = [...this.db.range()];
    const match = outcomes.find(
      (m) =>
        got.length === m.size &&
        got.every(([k, v], i) => toHex(k) === m.keys()[i] && sameValue(v, m.get(toHex(k)))),
    );
    if (match === undefined) {
      const first = outcomes[0] ?? new Model();
      assertEntries(got, first.keys(), first, `state after ${what} (want the last commit)`);
      assert.fail(`state after ${what} matches no allowed outcome`);
    }
    this.model = match;
  }

  private verify(what: string): void {
    const t = this.tally;
    t.checks++;
    assert.deepEqual(this.db.check(), [], `check() at ${what}`);
    const keys = this.model.keys();
    assertEntries([...this.db.range()], keys, this.model, `full range at ${what}`);
    assertEntries(
      [...this.db.range({ reverse: true })],
      [...keys].reverse(),
      this.model,
      `reverse range at ${what}`,
    );
    for (const k of keys) {
      assert.ok(sameValue(this.db.get(fromHex(k)), this.model.get(k)), `get ${k} at ${what}`);
    }
  }
}
