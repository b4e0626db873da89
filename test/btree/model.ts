// Helpers for the B+tree model tests: a sorted in-memory model of the tree, the operation
// language fast-check generates, and the runner that applies one operation sequence to a
// BTree over a tiny pool and to the model side by side. Exports only: importing it runs
// nothing (node --test executes every .js file under build/test/).
//
// What the runner holds the tree to:
//   - every get, delete result and (possibly abandoned) scan agrees with the model;
//   - a scan left open across puts and deletes continues after its last key, in order,
//     never repeating a key and never skipping one that existed throughout;
//   - no frame stays pinned between operations;
//   - rollback restores the last committed state (begin() adopts work done since the last
//     commit, so that is the state before begin() whenever none was pending);
//   - after a crash the tree holds the last committed state, or, when the power failed
//     inside commit/checkpoint/close, either that state or the one being committed;
//   - after every reopen, crash, rollback and at the end: check() is [] and full forward
//     and reverse scans, and a get of every key, equal the model; an empty tree holds at
//     most one page that is not free.

import assert from "node:assert/strict";
import fc from "fast-check";
import { BTree, type EntriesOptions } from "../../src/btree/btree.js";
import { isPagekvError, PagekvError } from "../../src/errors.js";
import { Pager } from "../../src/pager/pager.js";
import { MemFS } from "../../src/vfs/memfs.js";
import { Prng } from "../../src/vfs/prng.js";

export const DB_PATH = "/btree-model.pkv";
/** Key bytes the generated keys draw from: low, ASCII, sign-bit and top bytes. */
export const KEY_ALPHABET = [0x00, 0x01, 0x61, 0x62, 0x7f, 0x80, 0xfe, 0xff] as const;
/** The largest key any generated sequence puts (keyBytesMax is at least 32 at 512 B). */
export const KEY_BYTES_GENERATED_MAX = 32;
/** Entries listed around the first difference in a failure message. */
const DIFF_CONTEXT = 3;

// ---- bytes ----

const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, "0"));

/** Lower-case hex: its string order is exactly the unsigned byte order of the bytes. */
export function toHex(bytes: Uint8Array): string {
  let s = "";
  for (let i = 0; i < bytes.length; i++) s += HEX[bytes[i]];
  return s;
}

export function fromHex(hex: string): Uint8Array {
  const bytes = new Uint8Array(hex.length >>> 1);
  for (let i = 0; i < bytes.length; i++)
    bytes[i] = Number.parseInt(hex.slice(2 * i, 2 * i + 2), 16);
  return bytes;
}

export function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** Deterministic bytes named by (length, seed): sequences stay short to print and shrink. */
export function valueBytes(length: number, seed: number): Uint8Array {
  const v = new Uint8Array(length);
  let x = (Math.imul(seed + 1, 0x9e3779b1) ^ Math.imul(length + 1, 0x85ebca6b)) | 1;
  for (let i = 0; i < length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    v[i] = x & 0xff;
  }
  return v;
}

/** A short description of a value for failure messages. */
function describe(v: Uint8Array | undefined): string {
  if (v === undefined) return "(absent)";
  const head = toHex(v.subarray(0, 8));
  return `${v.length} B ${head}${v.length > 8 ? "..." : ""}`;
}

// ---- the model ----

export interface HexBounds {
  gt?: string;
  gte?: string;
  lt?: string;
  lte?: string;
  reverse?: boolean;
}

/** Whether `hex` satisfies every bound in `b`. */
export function within(hex: string, b: HexBounds): boolean {
  if (b.gt !== undefined && !(hex > b.gt)) return false;
  if (b.gte !== undefined && !(hex >= b.gte)) return false;
  if (b.lt !== undefined && !(hex < b.lt)) return false;
  if (b.lte !== undefined && !(hex <= b.lte)) return false;
  return true;
}

/** The reference: a map from hex key to value, sorted on demand. Values are never mutated. */
export class SortedModel {
  private readonly values: Map<string, Uint8Array>;
  private sorted: string[] | null = null;

  constructor(values: Map<string, Uint8Array> = new Map()) {
    this.values = values;
  }

  get size(): number {
    return this.values.size;
  }

  /** A copy of the same class (so a subclass's clone is a subclass). */
  clone(): this {
    const make = this.constructor as new (values: Map<string, Uint8Array>) => this;
    return new make(new Map(this.values));
  }

  get(hex: string): Uint8Array | undefined {
    return this.values.get(hex);
  }

  put(hex: string, value: Uint8Array): void {
    if (!this.values.has(hex)) this.sorted = null;
    this.values.set(hex, value);
  }

  delete(hex: string): boolean {
    const had = this.values.delete(hex);
    if (had) this.sorted = null;
    return had;
  }

  /** Keys in ascending unsigned byte order. */
  keys(): readonly string[] {
    if (this.sorted === null) this.sorted = [...this.values.keys()].sort();
    return this.sorted;
  }

  /** The keys a scan with these bounds yields, in the order it yields them. */
  range(b: HexBounds): string[] {
    const out = this.keys().filter((k) => within(k, b));
    if (b.reverse === true) out.reverse();
    return out;
  }
}

/** Assert that `actual` (what a scan yielded) is exactly `keys` of `model`, in order. */
export function assertEntries(
  actual: readonly (readonly [Uint8Array, Uint8Array])[],
  keys: readonly string[],
  model: SortedModel,
  what: string,
): void {
  const n = Math.max(actual.length, keys.length);
  for (let i = 0; i < n; i++) {
    const got = actual[i];
    const key = keys[i];
    const ok =
      got !== undefined &&
      key !== undefined &&
      toHex(got[0]) === key &&
      bytesEqual(got[1], model.get(key) ?? new Uint8Array(0));
    if (ok) continue;
    const lines: string[] = [];
    for (let j = Math.max(0, i - DIFF_CONTEXT); j <= Math.min(n - 1, i + DIFF_CONTEXT); j++) {
      const a = actual[j];
      const k = keys[j];
      const gotText = a === undefined ? "(end)" : `${toHex(a[0])} = ${describe(a[1])}`;
      const wantText = k === undefined ? "(end)" : `${k} = ${describe(model.get(k))}`;
      lines.push(`${j === i ? ">" : " "} [${j}] got ${gotText}; want ${wantText}`);
    }
    assert.fail(
      `${what}: ${actual.length} entries, the model has ${keys.length}; first difference at ` +
        `${i}:\n${lines.join("\n")}`,
    );
  }
}

// ---- the operation language ----

/** A key spelled out, or the nth key of the model (mod its size; the empty key if none). */
export type KeyRef = { hex: string } | { nth: number };

export type WriteOp =
  | { op: "put"; key: KeyRef; length: number; seed: number }
  | { op: "delete"; key: KeyRef };

interface ScanBounds {
  gt?: KeyRef;
  gte?: KeyRef;
  lt?: KeyRef;
  lte?: KeyRef;
  reverse: boolean;
}

export type Op =
  | WriteOp
  | { op: "get"; key: KeyRef }
  /** Stop after `take` entries (abandoning the iterator); no `take`: read to the end. */
  | ({ op: "entries"; take?: number } & ScanBounds)
  /**
   * One iterator kept open across writes: each round reads `take` entries, then applies
   * `writes`; then it is read to the end. It must continue after the last key it returned,
   * in order, never repeat a key, and never skip one that existed throughout.
   */
  | ({ op: "scanWhileWriting"; rounds: { take: number; writes: WriteOp[] }[] } & ScanBounds)
  /** Put `count` keys of 1..32 random bytes, values mostly small, some overflowing. */
  | { op: "putMany"; count: number; seed: number }
  /** Delete `count` existing keys picked at random (all of them if there are fewer). */
  | { op: "deleteMany"; count: number; seed: number }
  | { op: "begin" }
  | { op: "commit" }
  | { op: "rollback" }
  | { op: "checkpoint" }
  /** Power loss now; `tear`: a MemFS crash seed that keeps, loses or tears unsynced writes. */
  | { op: "crash"; tear?: number }
  /** Power loss at the mutating file-system call `afterWrites` calls from now. */
  | { op: "armCrash"; afterWrites: number; tear?: number }
  /** close() and Pager.open(). */
  | { op: "reopen" }
  | { op: "check" };

export type OpName = Op["op"];
export type OpWeights = Partial<Record<OpName, number>>;

const keyByte = fc.constantFrom(...KEY_ALPHABET);

/** Keys that collide often: short alphabet keys, and long runs of one byte plus a suffix. */
export const keyHexArb: fc.Arbitrary<string> = fc.oneof(
  {
    weight: 5,
    arbitrary: fc.array(keyByte, { maxLength: 3 }).map((b) => toHex(Uint8Array.from(b))),
  },
  {
    weight: 3,
    arbitrary: fc
      .tuple(keyByte, fc.integer({ min: 0, max: 29 }), fc.array(keyByte, { maxLength: 3 }))
      .map(([fill, run, suffix]) =>
        toHex(Uint8Array.from([...new Array<number>(run).fill(fill), ...suffix])),
      ),
  },
  {
    weight: 1,
    arbitrary: fc.uint8Array({ maxLength: KEY_BYTES_GENERATED_MAX }).map((b) => toHex(b)),
  },
);

export const keyRefArb: fc.Arbitrary<KeyRef> = fc.oneof(
  { weight: 3, arbitrary: keyHexArb.map((hex): KeyRef => ({ hex })) },
  { weight: 2, arbitrary: fc.nat().map((nth): KeyRef => ({ nth })) },
);

/** Value lengths: mostly inline, some near a leaf's capacity, some overflow chains. */
const valueLengthArb = fc.oneof(
  { weight: 6, arbitrary: fc.integer({ min: 0, max: 24 }) },
  { weight: 3, arbitrary: fc.integer({ min: 0, max: 600 }) },
  { weight: 1, arbitrary: fc.integer({ min: 600, max: 2500 }) },
);

const seedArb = fc.nat({ max: 0xffff });

/**
 * Scans with every bound combination: none, gt or gte below; none, lt or lte above; either
 * direction; read to the end or abandoned after `take` entries. With `stacked`, any subset
 * of the four bounds (gt with gte, lt with lte), which must intersect.
 */
export function entriesArb(stacked: boolean): fc.Arbitrary<Op> {
  const bound = fc.option(keyRefArb, { nil: undefined });
  const side = (open: string, closed: string) =>
    stacked
      ? fc.record({ [open]: keyRefArb, [closed]: keyRefArb }, { requiredKeys: [] })
      : fc.oneof(
          fc.constant({}),
          bound.map((k) => (k === undefined ? {} : { [open]: k })),
          bound.map((k) => (k === undefined ? {} : { [closed]: k })),
        );
  return fc
    .tuple(
      side("gt", "gte"),
      side("lt", "lte"),
      fc.boolean(),
      fc.option(fc.integer({ min: 0, max: 12 }), { nil: undefined }),
    )
    .map(([lower, upper, reverse, take]): Op => {
      const op: Op = { op: "entries", ...lower, ...upper, reverse };
      if (take !== undefined) op.take = take;
      return op;
    });
}

const putArb: fc.Arbitrary<WriteOp> = fc.record({
  op: fc.constant("put"),
  key: keyRefArb,
  length: valueLengthArb,
  seed: seedArb,
});
const deleteArb: fc.Arbitrary<WriteOp> = fc.record({ op: fc.constant("delete"), key: keyRefArb });

const scanWhileWritingArb: fc.Arbitrary<Op> = fc
  .tuple(
    entriesArb(false),
    fc.array(
      fc.record({
        take: fc.integer({ min: 0, max: 6 }),
        writes: fc.array(fc.oneof(putArb, deleteArb), { maxLength: 4 }),
      }),
      { minLength: 1, maxLength: 8 },
    ),
  )
  .map(([scan, rounds]): Op => {
    const { gt, gte, lt, lte, reverse } = scan as ScanBounds;
    const op: Op = { op: "scanWhileWriting", reverse, rounds };
    if (gt !== undefined) op.gt = gt;
    if (gte !== undefined) op.gte = gte;
    if (lt !== undefined) op.lt = lt;
    if (lte !== undefined) op.lte = lte;
    return op;
  });
const tearArb = fc.option(seedArb, { nil: undefined });

const OP_ARBS: Record<OpName, fc.Arbitrary<Op>> = {
  put: putArb,
  delete: deleteArb,
  get: fc.record({ op: fc.constant("get"), key: keyRefArb }),
  entries: entriesArb(false),
  scanWhileWriting: scanWhileWritingArb,
  putMany: fc.record({
    op: fc.constant("putMany"),
    count: fc.integer({ min: 1, max: 300 }),
    seed: seedArb,
  }),
  deleteMany: fc.record({
    op: fc.constant("deleteMany"),
    count: fc.integer({ min: 1, max: 150 }),
    seed: seedArb,
  }),
  begin: fc.constant({ op: "begin" }),
  commit: fc.constant({ op: "commit" }),
  rollback: fc.constant({ op: "rollback" }),
  checkpoint: fc.constant({ op: "checkpoint" }),
  crash: fc.record({ op: fc.constant("crash"), tear: tearArb }, { requiredKeys: ["op"] }),
  armCrash: fc.record(
    { op: fc.constant("armCrash"), afterWrites: fc.integer({ min: 0, max: 60 }), tear: tearArb },
    { requiredKeys: ["op", "afterWrites"] },
  ),
  reopen: fc.constant({ op: "reopen" }),
  check: fc.constant({ op: "check" }),
};

/** Operations drawn with these relative weights (absent or 0: never). */
export function opArb(weights: OpWeights): fc.Arbitrary<Op> {
  return weightedOneOf(OP_ARBS, weights);
}

/** One of `arbs`, drawn with the relative `weights` given by name (absent or 0: never). */
export function weightedOneOf<N extends string, T>(
  arbs: Record<N, fc.Arbitrary<T>>,
  weights: Partial<Record<N, number>>,
): fc.Arbitrary<T> {
  const picks: fc.WeightedArbitrary<T>[] = [];
  for (const [name, weight] of Object.entries(weights) as [N, number][]) {
    if (weight > 0) picks.push({ weight, arbitrary: arbs[name] });
  }
  return fc.oneof(...picks);
}

// ---- the runner ----

/** What a set of runs did, summed; printed by the tests. */
export interface Tally {
  runs: number;
  ops: number;
  puts: number;
  deletes: number;
  gets: number;
  scans: number;
  commits: number;
  rollbacks: number;
  checkpoints: number;
  crashes: number;
  /** Crashes that fired inside an operation (armCrash). */
  crashesArmed: number;
  reopens: number;
  checks: number;
  /** Largest key count and page count a run reached. */
  keysMax: number;
  pagesMax: number;
}

export function newTally(): Tally {
  return {
    runs: 0,
    ops: 0,
    puts: 0,
    deletes: 0,
    gets: 0,
    scans: 0,
    commits: 0,
    rollbacks: 0,
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

export interface RunOptions {
  pageSize: number;
  cacheFrames: number;
  debug: boolean;
}

/** Errors an armed crash causes: the device refuses calls, or the pager fenced itself. */
function isCrashError(e: unknown): boolean {
  return (
    isPagekvError(e, "ERR_CRASHED") || isPagekvError(e, "ERR_FENCED") || isPagekvError(e, "ERR_IO")
  );
}

/** One BTree on a fresh MemFS driven through one sequence, next to its model. */
export class TreeRun {
  readonly tally = newTally();
  private readonly fs = new MemFS();
  private readonly opts: RunOptions;
  private pager: Pager;
  private tree: BTree;
  private model = new SortedModel();
  /** The state the last commit (explicit, checkpoint or close) made durable. */
  private committed = new SortedModel();
  private inTxn = false;
  /** Set by armCrash until the crash has been handled. */
  private armed = false;
  private tear: number | undefined = undefined;
  private step = -1;

  constructor(opts: RunOptions) {
    this.opts = opts;
    this.pager = Pager.create(this.fs, DB_PATH, opts);
    this.tree = new BTree(this.pager);
    this.tally.runs = 1;
  }

  /** Apply every op, then verify, close, reopen and verify again. */
  run(ops: readonly Op[]): Tally {
    for (const op of ops) this.apply(op);
    this.finish();
    return this.tally;
  }

  apply(op: Op): void {
    this.step++;
    const pending = this.armed ? this.committing(op) : null;
    try {
      this.applyUnarmed(op);
    } catch (e) {
      if (!this.armed || !isCrashError(e)) throw this.withStep(e, op);
      // A commit the power fails inside may have become durable or not: both are allowed.
      const outcomes = pending === null ? [this.committed] : [this.committed, pending];
      this.tally.crashesArmed++;
      this.powerLoss(outcomes, `armed crash inside ${op.op}`);
      return;
    }
    if (!this.armed) {
      const pinned = this.pager.stats().framesPinned;
      if (pinned !== 0) throw this.withStep(new Error(`${pinned} frame(s) left pinned`), op);
    }
  }

  /** The state `op` would make durable, or null when it commits nothing. */
  private committing(op: Op): SortedModel | null {
    if (op.op === "commit" && this.inTxn) return this.model.clone();
    // checkpoint() and close() commit the implicit transaction; close rolls back begin().
    if ((op.op === "checkpoint" || op.op === "reopen") && !this.inTxn) return this.model.clone();
    return null;
  }

  private withStep(e: unknown, op: Op): Error {
    const what = e instanceof Error ? e.message : String(e);
    const wrapped = new Error(`step ${this.step} (${JSON.stringify(op)}): ${what}`);
    if (e instanceof Error) wrapped.stack = `${wrapped.message}\n${e.stack}`;
    return wrapped;
  }

  private resolve(ref: KeyRef): string {
    if ("hex" in ref) return ref.hex;
    const keys = this.model.keys();
    return keys.length === 0 ? "" : (keys[ref.nth % keys.length] ?? "");
  }

  private applyUnarmed(op: Op): void {
    const t = this.tally;
    t.ops++;
    switch (op.op) {
      case "put":
        this.put(this.resolve(op.key), valueBytes(op.length, op.seed));
        break;
      case "delete":
        this.delete(this.resolve(op.key));
        break;
      case "get": {
        const hex = this.resolve(op.key);
        const got = this.tree.get(fromHex(hex));
        const want = this.model.get(hex);
        t.gets++;
        if (got === undefined ? want !== undefined : want === undefined || !bytesEqual(got, want)) {
          assert.fail(`get ${hex}: got ${describe(got)}, want ${describe(want)}`);
        }
        break;
      }
      case "entries":
        this.scan(op);
        break;
      case "scanWhileWriting":
        this.scanWhileWriting(op);
        break;
      case "putMany": {
        const rng = new Prng(op.seed);
        t.ops--; // each put counts
        for (let i = 0; i < op.count; i++) {
          t.ops++;
          const key = new Uint8Array(1 + rng.int(KEY_BYTES_GENERATED_MAX));
          for (let j = 0; j < key.length; j++) key[j] = rng.int(256);
          const length = rng.int(10) === 0 ? 300 + rng.int(700) : rng.int(40);
          this.put(toHex(key), valueBytes(length, rng.int(0x10000)));
        }
        break;
      }
      case "deleteMany": {
        const rng = new Prng(op.seed);
        t.ops--; // each delete counts
        for (let i = 0; i < op.count && this.model.size > 0; i++) {
          t.ops++;
          const keys = this.model.keys();
          this.delete(keys[rng.int(keys.length)] ?? "");
        }
        break;
      }
      case "begin":
        if (!this.inTxn) {
          this.pager.begin();
          this.inTxn = true;
        }
        break;
      case "commit":
        if (this.inTxn) {
          this.pager.commit();
          this.inTxn = false;
          this.committed = this.model.clone();
          t.commits++;
        }
        break;
      case "rollback":
        if (this.inTxn) {
          this.pager.rollback();
          this.inTxn = false;
          this.model = this.committed.clone();
          t.rollbacks++;
          this.verify("after rollback");
        }
        break;
      case "checkpoint":
        if (!this.inTxn) {
          this.pager.checkpoint();
          this.committed = this.model.clone();
          t.checkpoints++;
        }
        break;
      case "crash":
        this.tear = op.tear;
        this.powerLoss([this.committed], "crash");
        break;
      case "armCrash":
        if (!this.armed) {
          this.fs.armCrash(op.afterWrites);
          this.armed = true;
          this.tear = op.tear;
        }
        break;
      case "reopen":
        this.reopen();
        break;
      case "check":
        this.check("check op");
        break;
    }
    const pages = this.pager.pageCount;
    if (pages > t.pagesMax) t.pagesMax = pages;
    if (this.model.size > t.keysMax) t.keysMax = this.model.size;
  }

  private put(hex: string, value: Uint8Array): void {
    this.tree.put(fromHex(hex), value);
    this.model.put(hex, value);
    this.tally.puts++;
  }

  private delete(hex: string): void {
    const existed = this.tree.delete(fromHex(hex));
    const want = this.model.delete(hex);
    this.tally.deletes++;
    if (existed !== want) assert.fail(`delete ${hex} returned ${existed}, want ${want}`);
  }

  /** The model's bounds and the tree's options for a scan; only given bounds are set. */
  private boundsOf(op: ScanBounds): { bounds: HexBounds; opts: EntriesOptions } {
    const bounds: HexBounds = {};
    const opts: EntriesOptions = {};
    // Only the given bounds become properties: a caller never passes `gt: undefined`.
    for (const name of ["gt", "gte", "lt", "lte"] as const) {
      const ref = op[name];
      if (ref === undefined) continue;
      const hex = this.resolve(ref);
      bounds[name] = hex;
      opts[name] = fromHex(hex);
    }
    if (op.reverse) {
      opts.reverse = true;
      bounds.reverse = true;
    }
    return { bounds, opts };
  }

  private scan(op: Extract<Op, { op: "entries" }>): void {
    const { bounds, opts } = this.boundsOf(op);
    const got: [Uint8Array, Uint8Array][] = [];
    const take = op.take ?? Number.POSITIVE_INFINITY;
    if (take > 0) {
      for (const entry of this.tree.entries(opts)) {
        got.push(entry);
        if (got.length >= take) break;
      }
    }
    let want = this.model.range(bounds);
    if (want.length > take) want = want.slice(0, take);
    this.tally.scans++;
    assertEntries(got, want, this.model, `entries(${JSON.stringify(bounds)}) take ${op.take}`);
  }

  private scanWhileWriting(op: Extract<Op, { op: "scanWhileWriting" }>): void {
    const { bounds, opts } = this.boundsOf(op);
    const what = `entries(${JSON.stringify(bounds)}) open across writes`;
    // Keys in range from start to end: the scan must return every one of them.
    const throughout = new Set(this.model.range(bounds));
    const returned: string[] = [];
    const it = this.tree.entries(opts);
    this.tally.scans++;
    const next = (): boolean => {
      const r = it.next();
      if (r.done === true) return false;
      const [k, v] = r.value;
      const hex = toHex(k);
      const prev = returned[returned.length - 1];
      if (!within(hex, bounds)) assert.fail(`${what}: returned ${hex}, out of bounds`);
      if (prev !== undefined && (bounds.reverse === true ? !(hex < prev) : !(hex > prev))) {
        assert.fail(`${what}: returned ${hex} after ${prev} (${returned.length} returned)`);
      }
      const want = this.model.get(hex);
      if (want === undefined || !bytesEqual(v, want)) {
        assert.fail(`${what}: ${hex} = ${describe(v)}, want ${describe(want)}`);
      }
      returned.push(hex);
      return true;
    };
    let open = true;
    for (const round of op.rounds) {
      for (let i = 0; open && i < round.take; i++) open = next();
      for (const w of round.writes) {
        const hex = this.resolve(w.key);
        if (w.op === "put") this.put(hex, valueBytes(w.length, w.seed));
        else {
          this.delete(hex);
          throughout.delete(hex);
        }
        this.tally.ops++;
      }
    }
    while (open) open = next();
    const seen = new Set(returned);
    for (const k of throughout) {
      if (!seen.has(k)) assert.fail(`${what}: skipped ${k}, which existed throughout`);
    }
  }

  /** The power fails now; reopen and require one of `outcomes` (the first is preferred). */
  private powerLoss(outcomes: readonly SortedModel[], what: string): void {
    this.fs.crash(this.tear === undefined ? {} : { seed: this.tear });
    this.armed = false;
    this.inTxn = false;
    this.tally.crashes++;
    this.open();
    const found = [...this.tree.entries()];
    const match = outcomes.find((m) => {
      const keys = m.keys();
      if (found.length !== keys.length) return false;
      for (let i = 0; i < keys.length; i++) {
        const e = found[i];
        const k = keys[i];
        if (e === undefined || k === undefined || toHex(e[0]) !== k) return false;
        if (!bytesEqual(e[1], m.get(k) ?? new Uint8Array(0))) return false;
      }
      return true;
    });
    const first = outcomes[0];
    if (match === undefined && first !== undefined) {
      assertEntries(found, first.keys(), first, `after ${what}: the last committed state`);
    }
    this.model = (match ?? new SortedModel()).clone();
    this.committed = this.model.clone();
    this.verify(`after ${what}`);
  }

  private reopen(): void {
    this.pager.close();
    // close() rolls back an open begin() and checkpoints the implicit transaction.
    if (this.inTxn) this.model = this.committed.clone();
    this.inTxn = false;
    this.committed = this.model.clone();
    this.tally.reopens++;
    this.open();
    this.verify("after reopen");
  }

  private open(): void {
    const { cacheFrames, debug } = this.opts;
    this.pager = Pager.open(this.fs, DB_PATH, { cacheFrames, debug });
    this.tree = new BTree(this.pager);
  }

  private check(what: string): void {
    const problems = this.tree.check();
    this.tally.checks++;
    // check() reports a page it cannot read as a problem; under an armed crash that is the
    // power loss (its reads evict dirty pages to the log), not damage.
    const lost = problems.find((p) => /ERR_(CRASHED|FENCED|IO)\b/.test(p));
    if (this.armed && lost !== undefined) throw new PagekvError("ERR_CRASHED", lost);
    if (problems.length > 0) assert.fail(`check() ${what}:\n  ${problems.join("\n  ")}`);
  }

  /** check() is clean, full scans both ways and a get of every key equal the model. */
  private verify(what: string): void {
    this.check(what);
    const keys = this.model.keys();
    assertEntries([...this.tree.entries()], keys, this.model, `full scan ${what}`);
    const back = [...this.tree.entries({ reverse: true })];
    assertEntries(back, [...keys].reverse(), this.model, `reverse scan ${what}`);
    for (const k of keys) {
      const got = this.tree.get(fromHex(k));
      const want = this.model.get(k);
      if (got === undefined || want === undefined || !bytesEqual(got, want)) {
        assert.fail(`get ${k} ${what}: got ${describe(got)}, want ${describe(want)}`);
      }
    }
    const s = this.pager.stats();
    if (s.framesPinned !== 0) assert.fail(`${s.framesPinned} frame(s) left pinned ${what}`);
    // check() accounts for every page, so an empty tree must have given back all but one.
    const used = s.pageCount - 1 - s.freePages;
    if (keys.length === 0 && used > 1) {
      assert.fail(`the tree is empty ${what} but holds ${used} pages (${s.freePages} free)`);
    }
  }

  /** End of sequence: settle an armed crash, verify, close, reopen, verify, close. */
  private finish(): void {
    try {
      // An armed crash that has not fired (or fired where nothing reported it) fires now.
      if (this.armed) this.powerLoss([this.committed], "the armed crash at the end");
      this.verify("at the end");
      this.reopen();
      this.pager.close();
    } catch (e) {
      const what = e instanceof Error ? e.message : String(e);
      const wrapped = new Error(`after the last step (${this.step}): ${what}`);
      if (e instanceof Error) wrapped.stack = `${wrapped.message}\n${e.stack}`;
      throw wrapped;
    }
  }
}
