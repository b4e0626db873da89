// The group-commit crash harness: proves the Database's asynchronous writes
// (docs/design/group-commit.md) against MemFS power loss. A write whose promise resolved
// is never lost (sync "full"), a group is never half visible, and the file always opens,
// whatever mutating call the power fails on. It owns the asynchronous workload (K writer
// tasks on one event loop), the model of call order and the checks. Exports only:
// importing it runs nothing (node --test executes every .js file under build/test/).
//
// The workload (all of it replays from the seed): openDatabase on a MemFS with a tiny pool
// (groups spill) and a small automatic checkpoint limit; K writer tasks, each with its own
// PRNG, loop over putAsync, deleteAsync, batchAsync (2..5 ops) and transactionAsync (reads
// keys, writes keys; about one in five throws on purpose or returns a promise, which must
// reject that call alone), awaited or left in flight (then awaited together), with now and
// then a synchronous put, a checkpoint(), a call with a bad key (rejected alone), a yield
// to the next macrotask, or a closeAsync and reopen (the other tasks' next call, a putAsync
// on the closing database, must reject ERR_CLOSED). Every value written names its call.
// MemFS completes syncAsync in a later setImmediate and nothing else runs on the loop, so
// a seed gives one interleaving: the same calls in the same order, the same groups.
//
// The model: every call has an index in call order. Its unit is what commits atomically:
// for an asynchronous call, its group, which is the database's `groupCommits` when it was
// called, plus one (a call joins the group collected next: design, "States of the queue");
// a synchronous put, a checkpoint, a close or an open is a unit of its own (it applies
// the calls pending before it first). A group boundary p is a position in call order
// between two units; the state at p is every call before p, in call order, skipping the
// ones that rejected in the reference run. The reference run also checks call order
// itself: a transaction function reads exactly the state at its call (plus its own
// writes), runs once, and sees `groupCommits` = its group - 1; a delete returns whether
// the key existed at its call; resolved promises settle in call order; a promise settles
// no earlier than its group was appended (`groupCommits` read right after it settles).
//
// How one crash point k is checked:
//   1. reference run without a crash: record the calls, their outcomes and units, and T,
//      the mutating file-system calls; close, reopen, require the state at the end;
//   2. for each crash variant (MemFS crash seed: none drops every unsynced write, a seed
//      keeps, loses or tears each): replay with the power failing at call k, let every
//      task stop and every promise settle, lose power, open (must succeed), require the
//      state at a group boundary p with lo <= p <= hi, close, reopen, require the same:
//        lo (sync "full") = the end of the last unit with a call that resolved (or a
//           synchronous call that returned); (sync "normal") = the end of the last
//           checkpoint() or closeAsync that returned: a resolved write may be lost;
//        hi = the end of the last call issued before the power failed, and no later than
//           the end of the group in flight (groupCommits after the crash, plus one);
//   3. replay to the same crash, crash again inside the recovery's own calls, open and
//      require the very state the uninterrupted recovery found; close, reopen, the same.

import type { BatchOp, Bytes, Database, DbStats, Transaction } from "../../src/db/db.js";
import { openDatabase } from "../../src/db/db.js";
import { MemFS } from "../../src/vfs/memfs.js";
import { mixSeed, Prng } from "../../src/vfs/prng.js";
import { crashSeedsFor, isCrashError, samplePoints } from "./harness.js";

export const GROUP_DB_PATH = "/group.pkv";
/** Writer tasks a workload may have. */
export const GROUP_WRITERS_MIN = 4;
export const GROUP_WRITERS_MAX = 64;
/** Calls one writer task makes at most (each of its loop's steps is one call or a yield). */
export const GROUP_CALLS_PER_WRITER_MAX = 10_000;
/** Keys the workload writes: few, so writes overwrite and delete each other's keys. */
export const GROUP_KEYS = 64;
/** Un-awaited calls one task keeps in flight before it awaits them all. */
export const UNAWAITED_MAX = 4;
/** closeAsync + reopen cycles a workload makes at most (drawn rarely besides). */
export const REOPENS_MAX = 3;
/** Macrotask turns without a call or a settled promise before the run counts as hung. */
const IDLE_TURNS_MAX = 2_000;
/** Page size: one sector, so a torn write tears between pages. */
const PAGE_SIZE = 512;
/** Differences listed in one failure message before "...". */
const DIFFS_SHOWN_MAX = 6;

export type GroupSync = "full" | "normal";

/** The asynchronous calls of docs/design/group-commit.md, "What a user sees". */
export interface AsyncDatabase {
  putAsync(key: Bytes, value: Bytes): Promise<void>;
  deleteAsync(key: Bytes): Promise<boolean>;
  batchAsync(ops: readonly BatchOp[]): Promise<void>;
  transactionAsync<T>(fn: (tx: Transaction) => T): Promise<T>;
  closeAsync(): Promise<void>;
}
type GroupDatabase = Database & AsyncDatabase;

export interface GroupWorkloadOptions {
  seed: number;
  /** Writer tasks, GROUP_WRITERS_MIN..GROUP_WRITERS_MAX. */
  writers: number;
  /** Loop steps per writer task (default 12). */
  callsPerWriter?: number;
  sync: GroupSync;
}

export interface GroupWorkload {
  seed: number;
  writers: number;
  callsPerWriter: number;
  sync: GroupSync;
  pageSize: number;
  cacheBytes: number;
  autoCheckpointPages: number;
}

export function makeGroupWorkload(o: GroupWorkloadOptions): GroupWorkload {
  if (
    !Number.isSafeInteger(o.writers) ||
    o.writers < GROUP_WRITERS_MIN ||
    o.writers > GROUP_WRITERS_MAX
  ) {
    throw new GroupHarnessError(
      `writers must be an integer in ${GROUP_WRITERS_MIN}..${GROUP_WRITERS_MAX}, got ${o.writers}`,
    );
  }
  const callsPerWriter = o.callsPerWriter ?? 12;
  if (
    !Number.isSafeInteger(callsPerWriter) ||
    callsPerWriter < 1 ||
    callsPerWriter > GROUP_CALLS_PER_WRITER_MAX
  ) {
    throw new GroupHarnessError(
      `callsPerWriter must be an integer in 1..${GROUP_CALLS_PER_WRITER_MAX}, got ${callsPerWriter}`,
    );
  }
  if (o.sync !== "full" && o.sync !== "normal") {
    throw new GroupHarnessError(`sync must be full or normal, got ${String(o.sync)}`);
  }
  const rng = new Prng(mixSeed(o.seed) ^ 0x6c0e);
  return {
    seed: o.seed,
    writers: o.writers,
    callsPerWriter,
    sync: o.sync,
    pageSize: PAGE_SIZE,
    // 0: the smallest pool the B-tree accepts (BTREE_CACHE_FRAMES_MIN pages): a group of
    // a few writes dirties more, so it spills frames into the log before its commit.
    cacheBytes: 0,
    autoCheckpointPages: 8 + rng.int(25),
  };
}

export class GroupHarnessError extends Error {}

// ---- calls ----

export type CallKind =
  | "put"
  | "del"
  | "batch"
  | "txn"
  | "bad-key"
  | "closed-put"
  | "sync-put"
  | "checkpoint"
  | "close"
  | "open";

/** How a call must end in a run without a crash. */
export type Expect = "resolve" | "thrown" | "ERR_TXN" | "ERR_ARG" | "ERR_CLOSED";

/** One write of a call: value null is a delete. */
export interface Write {
  key: string;
  value: string | null;
}

export interface Call {
  index: number;
  task: number;
  kind: CallKind;
  expect: Expect;
  /** Database generation (0 the first open, +1 at each reopen). */
  gen: number;
  /** Synchronous calls (barriers) made before this one. */
  epoch: number;
  /** groupCommits when called; -1 for a synchronous call or when unknown. */
  groupAtCall: number;
  /** What it writes when applied (a transaction's: filled in when its function returned). */
  writes: Write[];
  outcome: "pending" | "resolved" | "rejected";
  /** The rejection's code (or message when it has none). */
  code: string;
  /** groupCommits right after it settled; -1 when unreadable (closed). */
  groupAtSettle: number;
  /** Settlement order among all calls, from 1; 0 while pending. */
  settleSeq: number;
  /** Whether the power had failed when it settled. */
  settledAfterCrash: boolean;
  /** A transaction function's runs and the groupCommits it saw (-1: none yet). */
  fnRuns: number;
  /** Whether its transaction function ran after the power had failed. */
  fnAfterCrash: boolean;
  fnGroup: number;
  /** What the call resolved with (checkpoint's boolean, delete's boolean, txn's result). */
  result: unknown;
}

/** The asynchronous calls that join a group (closeAsync does not: it is a barrier). */
function isGroupKind(kind: CallKind): boolean {
  return (
    kind === "put" || kind === "del" || kind === "batch" || kind === "txn" || kind === "bad-key"
  );
}

function unitKey(c: Call): string {
  // Synchronous calls, closes and the ERR_CLOSED probes (between a close and an open, both
  // barriers) are units of their own.
  return isGroupKind(c.kind) ? `g${c.gen}/${c.epoch}/${c.groupAtCall}` : `b${c.index}`;
}

/**
 * The group boundaries of a run's calls: isBoundary[p] for p in 0..calls.length, and
 * unitEnd[i], the boundary after call i's unit.
 */
export interface Units {
  isBoundary: boolean[];
  unitEnd: number[];
  /** Units with at least two calls, and the largest unit's size. */
  shared: number;
  largest: number;
}

export function unitsOf(calls: readonly Call[]): Units {
  const n = calls.length;
  const isBoundary = new Array<boolean>(n + 1).fill(false);
  isBoundary[0] = true;
  isBoundary[n] = true;
  for (let p = 1; p < n; p++) isBoundary[p] = unitKey(calls[p - 1]) !== unitKey(calls[p]);
  const unitEnd = new Array<number>(n).fill(n);
  let next = n;
  let shared = 0;
  let largest = 0;
  for (let i = n - 1; i >= 0; i--) {
    if (isBoundary[i + 1]) next = i + 1;
    unitEnd[i] = next;
  }
  for (let start = 0; start < n; ) {
    const end = unitEnd[start];
    if (end - start >= 2) shared++;
    largest = Math.max(largest, end - start);
    start = end;
  }
  return { isBoundary, unitEnd, shared, largest };
}

/** The key/value state, decoded. */
export type KvState = Map<string, string>;

function applyCall(s: KvState, c: Call): void {
  for (const wr of c.writes) {
    if (wr.value === null) s.delete(wr.key);
    else s.set(wr.key, wr.value);
  }
}

/** Whether call `c` of the reference takes effect (it did not reject there). */
function applies(c: Call): boolean {
  return c.outcome === "resolved";
}

// ---- one run ----

const decoder = new TextDecoder();

function keyName(i: number): string {
  return `k${String(i).padStart(2, "0")}`;
}

/** A value naming call `index`, write `j`, padded to about `pad` bytes. */
function valueFor(index: number, j: number, pad: number): string {
  const head = `c${index}.${j}`;
  return head + ".".repeat(Math.max(0, pad - head.length));
}

/** The call index a stored value names, for messages. */
function callOfValue(v: string | undefined): string {
  if (v === undefined) return "absent";
  const m = /^c(\d+)\.(\d+)/.exec(v);
  return m === null ? `"${v.slice(0, 16)}"` : `call ${m[1]}'s write ${m[2]}`;
}

function errorText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

function errorCode(e: unknown): string {
  if (typeof e === "object" && e !== null) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === "string") return code;
  }
  return errorText(e);
}

/** The error a transaction function throws on purpose. */
class IntendedError extends Error {
  readonly code = "INTENDED";
}

function groupCommitsOf(db: Database): number {
  try {
    const n = (db.stats() as DbStats & { groupCommits?: unknown }).groupCommits;
    return typeof n === "number" ? n : -1;
  } catch {
    return -1;
  }
}

function nextTurn(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

export interface RunStats {
  /** Mutating file-system calls of the whole run (T in the reference run). */
  totalOps: number;
  calls: number;
  byKind: Record<CallKind, number>;
  /** Calls that rejected (each one the workload meant to fail, in the reference run). */
  rejected: number;
  /** Groups with a resolved call. */
  groups: number;
  /** Resolved asynchronous calls whose groupCommits after settling was its group exactly. */
  settleExact: number;
  settleLater: number;
  /** Spills and checkpoints (automatic and explicit), as each database's stats said before its close. */
  spills: number;
  checkpoints: number;
  reopens: number;
}

function emptyKinds(): Record<CallKind, number> {
  return {
    put: 0,
    del: 0,
    batch: 0,
    txn: 0,
    "bad-key": 0,
    "closed-put": 0,
    "sync-put": 0,
    checkpoint: 0,
    close: 0,
    open: 0,
  };
}

/**
 * One execution of the workload on `fs`: the reference run (`ref` null) or a replay whose
 * calls must be the reference's, in the same order, until the power fails.
 */
class GroupRun {
  readonly calls: Call[] = [];
  /** Check failures seen before the power failed (a replay's after it are ignored). */
  readonly problems: string[] = [];
  db: GroupDatabase | null = null;
  gen = 0;
  epoch = 0;
  reopens = 0;
  /** Set while a task closes and reopens the database; resolves when it is open again. */
  reopening: Promise<void> | null = null;
  /** Calls issued plus promises settled: the idle watchdog's measure of progress. */
  progress = 0;
  private settled = 0;
  private crashSeen = false;
  /** Per key, the writes in call order: [call index, value or null]. */
  private readonly history = new Map<string, [number, string | null][]>();
  private lastResolvedIndex = -1;
  private spills = 0;
  private checkpoints = 0;

  constructor(
    readonly fs: MemFS,
    readonly w: GroupWorkload,
    readonly ref: GroupReference | null,
  ) {}

  /** Whether the power has failed (MemFS refuses every call until crash()). */
  crashed(): boolean {
    if (this.crashSeen) return true;
    try {
      this.fs.exists(GROUP_DB_PATH);
      return false;
    } catch (e) {
      if (!isCrashError(e)) throw e;
      this.crashSeen = true;
      return true;
    }
  }

  problem(message: string): void {
    if (!this.crashed()) this.problems.push(message);
  }

  open(): GroupDatabase {
    return openDatabase(GROUP_DB_PATH, {
      vfs: this.fs,
      sync: this.w.sync,
      pageSize: this.w.pageSize,
      cacheBytes: this.w.cacheBytes,
      autoCheckpointPages: this.w.autoCheckpointPages,
    }) as GroupDatabase;
  }

  /** Account for a database about to be closed (its counters end with it). */
  private retire(db: Database): void {
    try {
      const s = db.stats();
      this.spills += s.writebacks;
      this.checkpoints += s.checkpoints;
    } catch {
      // closed or fenced: its counters are lost, only the figures are smaller
    }
  }

  /** Record a new call in call order (checks it is the reference's call at that index). */
  newCall(task: number, kind: CallKind, expect: Expect, async: boolean): Call {
    const index = this.calls.length;
    const db = this.db;
    const call: Call = {
      index,
      task,
      kind,
      expect,
      gen: this.gen,
      epoch: this.epoch,
      groupAtCall: async && db !== null ? groupCommitsOf(db) : -1,
      writes: [],
      outcome: "pending",
      code: "",
      groupAtSettle: -1,
      settleSeq: 0,
      settledAfterCrash: false,
      fnRuns: 0,
      fnAfterCrash: false,
      fnGroup: -1,
      result: undefined,
    };
    if (this.ref !== null) {
      const want = this.ref.calls[index];
      if (want === undefined || want.task !== task || want.kind !== kind) {
        throw new GroupHarnessError(
          `call ${index} is task ${task}'s ${kind}, the reference run's was ` +
            `${want === undefined ? "none" : `task ${want.task}'s ${want.kind}`} ` +
            "(the workload does not replay deterministically)",
        );
      }
    }
    this.calls.push(call);
    this.progress++;
    return call;
  }

  /** The value of `key` after every call before `index` (null: absent). */
  valueBefore(key: string, index: number): string | null {
    const h = this.history.get(key);
    if (h === undefined) return null;
    for (let i = h.length - 1; i >= 0; i--) if (h[i][0] < index) return h[i][1];
    return null;
  }

  /** Enter a call's writes into the history, in call-order position. */
  record(call: Call): void {
    for (const wr of call.writes) {
      let h = this.history.get(wr.key);
      if (h === undefined) {
        h = [];
        this.history.set(wr.key, h);
      }
      let at = h.length;
      while (at > 0 && h[at - 1][0] > call.index) at--;
      h.splice(at, 0, [call.index, wr.value]);
    }
  }

  /** The settlement of an asynchronous call's promise, checked against what it expects. */
  track<T>(
    call: Call,
    start: () => Promise<T>,
    db: Database,
    check?: (v: T) => void,
  ): Promise<void> {
    let p: Promise<T>;
    try {
      p = start();
    } catch (e) {
      // The asynchronous calls report every failure through their promise.
      this.settle(call, "rejected", errorCode(e), db, undefined);
      this.problem(
        `call ${call.index} (${call.kind}) threw ${errorCode(e)} (${errorText(e)}) at the call, ` +
          "want a rejected promise",
      );
      return Promise.resolve();
    }
    return p.then(
      (v) => {
        this.settle(call, "resolved", "", db, v);
        if (call.expect !== "resolve") {
          this.problem(
            `call ${call.index} (${call.kind}) resolved, want it rejected (${call.expect})`,
          );
        }
        check?.(v);
      },
      (e: unknown) => {
        this.settle(call, "rejected", errorCode(e), db, undefined);
        const code = errorCode(e);
        const want = call.expect === "thrown" ? "INTENDED" : call.expect;
        if (code !== want) {
          this.problem(
            `call ${call.index} (${call.kind}) rejected with ${code} (${errorText(e)}), want ` +
              (call.expect === "resolve" ? "it resolved" : want),
          );
        }
      },
    );
  }

  settle(call: Call, outcome: "resolved" | "rejected", code: string, db: Database, v: unknown) {
    call.outcome = outcome;
    call.code = code;
    call.settleSeq = ++this.settled;
    call.groupAtSettle = groupCommitsOf(db);
    call.settledAfterCrash = this.crashed();
    call.result = v;
    this.progress++;
    if (outcome !== "resolved" || call.groupAtCall < 0) return;
    // Resolved promises settle in call order (R7), and never before their group was
    // appended (groupCommits counts appended groups).
    if (call.index < this.lastResolvedIndex) {
      this.problem(
        `call ${call.index} (${call.kind}) resolved after call ${this.lastResolvedIndex} ` +
          `(${this.calls[this.lastResolvedIndex].kind}): promises must resolve in call order`,
      );
    }
    this.lastResolvedIndex = Math.max(this.lastResolvedIndex, call.index);
    // (Unless a synchronous call came between: it may apply pending calls without a group.)
    if (
      call.epoch === this.epoch &&
      call.groupAtSettle >= 0 &&
      call.groupAtSettle < call.groupAtCall + 1
    ) {
      this.problem(
        `call ${call.index} (${call.kind}) resolved with groupCommits ${call.groupAtSettle}, ` +
          `but its group is ${call.groupAtCall + 1}: it resolved before its group was appended`,
      );
    }
  }

  /** A synchronous call: its outcome is known when it returns or throws. */
  syncCall(call: Call, fn: () => unknown): boolean {
    const db = this.db;
    try {
      const v = fn();
      call.outcome = "resolved";
      call.result = v;
      call.settleSeq = ++this.settled;
      if (db !== null) call.groupAtSettle = groupCommitsOf(db);
      this.progress++;
      return true;
    } catch (e) {
      call.outcome = "rejected";
      call.code = errorCode(e);
      call.settleSeq = ++this.settled;
      call.settledAfterCrash = this.crashed();
      this.progress++;
      if (!isCrashError(e)) {
        this.problem(`call ${call.index} (${call.kind}) threw ${call.code} (${errorText(e)})`);
      }
      return false;
    }
  }

  // ---- the writer tasks ----

  async task(t: number): Promise<void> {
    const rng = new Prng(mixSeed(this.w.seed ^ mixSeed(t + 1)) ^ 0x7a5c);
    const inFlight: Promise<void>[] = [];
    const key = () => keyName(rng.int(GROUP_KEYS));
    const pad = () => 8 + rng.int(rng.int(4) === 0 ? 300 : 80);
    for (let n = 0; n < this.w.callsPerWriter; n++) {
      if (this.crashed()) break;
      if (this.reopening !== null) {
        // A write issued after closeAsync was called: ERR_CLOSED, and nothing else.
        const db = this.db;
        if (db !== null && rng.int(2) === 0) {
          const call = this.newCall(t, "closed-put", "ERR_CLOSED", true);
          inFlight.push(this.track(call, () => db.putAsync(key(), valueFor(call.index, 0, 8)), db));
        }
        await this.reopening;
        continue;
      }
      const db = this.db;
      if (db === null) break;
      // Synchronous calls, closes and reopens are about as frequent per turn whatever K:
      // most groups end with their background sync, not drained by a synchronous call.
      const barrier = rng.int(this.w.writers * 25);
      const roll = rng.int(1000);
      let p: Promise<void> | null = null;
      if (barrier < 4) {
        const call = this.newCall(t, "sync-put", "resolve", false);
        call.writes = [{ key: key(), value: valueFor(call.index, 0, pad()) }];
        this.record(call);
        this.epoch++;
        const wr = call.writes[0];
        this.syncCall(call, () => db.put(wr.key, wr.value ?? ""));
      } else if (barrier < 6) {
        const call = this.newCall(t, "checkpoint", "resolve", false);
        this.epoch++;
        this.syncCall(call, () => db.checkpoint());
      } else if (barrier < 7 && this.reopens < REOPENS_MAX) {
        this.reopens++;
        await Promise.all(inFlight.splice(0));
        while (this.reopening !== null) await this.reopening;
        if (this.crashed() || this.db === null) break;
        await this.reopen(t, this.db);
        continue;
      } else if (roll < 300) {
        const call = this.newCall(t, "put", "resolve", true);
        call.writes = [{ key: key(), value: valueFor(call.index, 0, pad()) }];
        this.record(call);
        const wr = call.writes[0];
        p = this.track(call, () => db.putAsync(wr.key, wr.value ?? ""), db);
      } else if (roll < 430) {
        const call = this.newCall(t, "del", "resolve", true);
        const k = key();
        call.writes = [{ key: k, value: null }];
        this.record(call);
        p = this.track(
          call,
          () => db.deleteAsync(k),
          db,
          (existed) => {
            const want = this.valueBefore(k, call.index) !== null;
            if (existed !== want) {
              this.problem(
                `call ${call.index}: deleteAsync(${k}) resolved ${existed}, want ${want} (the key ` +
                  `${want ? "existed" : "did not exist"} at its place in call order)`,
              );
            }
          },
        );
      } else if (roll < 620) {
        const call = this.newCall(t, "batch", "resolve", true);
        const n = 2 + rng.int(4);
        const ops: BatchOp[] = [];
        for (let j = 0; j < n; j++) {
          const k = key();
          if (rng.int(4) === 0) {
            ops.push({ type: "del", key: k });
            call.writes.push({ key: k, value: null });
          } else {
            const v = valueFor(call.index, j, pad());
            ops.push({ type: "put", key: k, value: v });
            call.writes.push({ key: k, value: v });
          }
        }
        this.record(call);
        p = this.track(call, () => db.batchAsync(ops), db);
      } else if (roll < 900) {
        p = this.txn(t, db, rng, key, pad);
      } else if (roll < 920) {
        // A bad key is a rejected promise (ERR_ARG), never a thrown error nor a group's failure.
        const call = this.newCall(t, "bad-key", "ERR_ARG", true);
        p = this.track(call, () => db.putAsync(42 as unknown as string, "x"), db);
      } else {
        await nextTurn();
        continue;
      }
      if (p === null) continue;
      if (rng.int(100) < 60) await p;
      else {
        inFlight.push(p);
        if (inFlight.length >= UNAWAITED_MAX || rng.int(3) === 0) {
          await Promise.all(inFlight.splice(0));
        }
      }
    }
    await Promise.all(inFlight);
  }

  /** A transactionAsync: reads keys, writes keys; about one in five fails on purpose. */
  private txn(
    t: number,
    db: GroupDatabase,
    rng: Prng,
    key: () => string,
    pad: () => number,
  ): Promise<void> {
    const roll = rng.int(100);
    const fail = roll < 13 ? "throw" : roll < 20 ? "promise" : null;
    const call = this.newCall(
      t,
      "txn",
      fail === "throw" ? "thrown" : fail === "promise" ? "ERR_TXN" : "resolve",
      true,
    );
    type Step = { read: string } | { put: string; pad: number } | { del: string };
    const steps: Step[] = [];
    const n = 2 + rng.int(4);
    for (let j = 0; j < n; j++) {
      const r = rng.int(10);
      if (r < 4) steps.push({ read: key() });
      else if (r < 8) steps.push({ put: key(), pad: pad() });
      else steps.push({ del: key() });
    }
    const fn = (tx: Transaction): string | Promise<string> => {
      call.fnRuns++;
      if (call.fnRuns > 1) {
        this.problem(`call ${call.index}: its transaction function ran ${call.fnRuns} times`);
        return "again";
      }
      call.fnGroup = groupCommitsOf(db);
      call.fnAfterCrash = this.crashed();
      const mine = new Map<string, string | null>();
      const want = (k: string) =>
        mine.has(k) ? (mine.get(k) ?? null) : this.valueBefore(k, call.index);
      const writes: Write[] = [];
      let seen = "";
      for (const [j, s] of steps.entries()) {
        if ("read" in s) {
          const got = tx.get(s.read);
          const g = got === undefined ? null : decoder.decode(got);
          const w = want(s.read);
          if (g !== w) {
            this.problem(
              `call ${call.index}: its transaction read ${s.read} = ${callOfValue(g ?? undefined)}, ` +
                `want ${callOfValue(w ?? undefined)} (the state at its place in call order)`,
            );
          }
          seen += `${g === null ? "-" : g.slice(0, g.indexOf("."))};`;
        } else if ("put" in s) {
          const v = valueFor(call.index, j, s.pad);
          tx.put(s.put, v);
          mine.set(s.put, v);
          writes.push({ key: s.put, value: v });
        } else {
          const existed = tx.delete(s.del);
          const w = want(s.del) !== null;
          if (existed !== w) {
            this.problem(`call ${call.index}: tx.delete(${s.del}) returned ${existed}, want ${w}`);
          }
          mine.set(s.del, null);
          writes.push({ key: s.del, value: null });
        }
      }
      if (fail === "throw") throw new IntendedError(`call ${call.index} fails on purpose`);
      if (fail === "promise") return Promise.resolve(seen);
      call.writes = writes;
      this.record(call);
      return seen;
    };
    return this.track(call, () => db.transactionAsync(fn), db);
  }

  /** closeAsync, then open again (both synchronous-call units). */
  private async reopen(t: number, db: GroupDatabase): Promise<void> {
    let done = (): void => {};
    this.reopening = new Promise<void>((resolve) => {
      done = resolve;
    });
    const close = this.newCall(t, "close", "resolve", true);
    this.epoch++;
    this.retire(db);
    await this.track(close, () => db.closeAsync(), db);
    if (close.outcome === "resolved" && !this.crashed()) {
      const open = this.newCall(t, "open", "resolve", false);
      this.epoch++;
      this.syncCall(open, () => {
        this.db = this.open();
        this.gen++;
      });
    }
    this.reopening = null;
    done();
  }

  /**
   * Open, run every task, close at the end (a last closeAsync unit), with a watchdog: a
   * run whose promises stop settling fails instead of letting the event loop drain.
   */
  async run(): Promise<void> {
    try {
      this.db = this.open();
    } catch (e) {
      // The power failed in the first open: nothing to run.
      if (this.crashed() && isCrashError(e)) return;
      throw e;
    }
    let finished = false;
    let failure: unknown = null;
    const all = Promise.all(Array.from({ length: this.w.writers }, (_, t) => this.task(t))).then(
      () => {
        finished = true;
      },
      (e: unknown) => {
        finished = true;
        failure = e;
      },
    );
    await this.watch(() => finished, "the writer tasks");
    await all;
    if (failure !== null) throw failure;
    const last = this.db;
    if (last !== null && !this.crashed()) {
      const close = this.newCall(-1, "close", "resolve", true);
      this.epoch++;
      this.retire(last);
      let closed = false;
      const p = this.track(close, () => last.closeAsync(), last).then(() => {
        closed = true;
      });
      await this.watch(() => closed, "the final closeAsync");
      await p;
    }
  }

  /** Wait turn by turn until `done`, failing after IDLE_TURNS_MAX turns without progress. */
  async watch(done: () => boolean, what: string): Promise<void> {
    let idle = 0;
    let seen = this.progress;
    while (!done()) {
      await nextTurn();
      if (this.progress !== seen) {
        seen = this.progress;
        idle = 0;
      } else if (++idle > IDLE_TURNS_MAX) {
        const pending = this.calls.filter((c) => c.outcome === "pending").map((c) => c.index);
        throw new GroupHarnessError(
          `${what} made no progress for ${IDLE_TURNS_MAX} turns` +
            `${this.crashed() ? " after the power failed" : ""}: ${pending.length} promise(s) ` +
            `never settled (calls ${pending.slice(0, 8).join(", ")}${pending.length > 8 ? ", ..." : ""})`,
        );
      }
    }
  }

  stats(): RunStats {
    const byKind = emptyKinds();
    let rejected = 0;
    let settleExact = 0;
    let settleLater = 0;
    const groups = new Set<string>();
    for (const c of this.calls) {
      if (c.outcome === "resolved" && isGroupKind(c.kind)) groups.add(unitKey(c));
      byKind[c.kind]++;
      if (c.outcome === "rejected") rejected++;
      if (c.outcome === "resolved" && c.groupAtCall >= 0 && c.groupAtSettle >= 0) {
        if (c.groupAtSettle === c.groupAtCall + 1) settleExact++;
        else settleLater++;
      }
    }
    return {
      totalOps: this.fs.opCount,
      calls: this.calls.length,
      byKind,
      rejected,
      groups: groups.size,
      settleExact,
      settleLater,
      spills: this.spills,
      checkpoints: this.checkpoints,
      reopens: this.reopens,
    };
  }
}

// ---- the reference run ----

export interface GroupReference {
  calls: Call[];
  units: Units;
  stats: RunStats;
  /** The state every call makes (what the reference run found after its last close). */
  final: KvState;
  /**
   * Per call: whether it changes the state (a put, or a delete of a key present at its
   * place in call order). Only such a call's resolution says its group is durable: one
   * that changes nothing commits no page, so it can resolve alone after the power failed
   * (the queue rejects the others of its group one by one when each replay hits the dead
   * file system, and an empty commit needs no I/O).
   */
  changes: boolean[];
}

/** Read the whole key/value state of an open database. */
function readState(db: Database): KvState {
  const s: KvState = new Map();
  for (const [k, v] of db.range()) s.set(decoder.decode(k), decoder.decode(v));
  return s;
}

function diffKv(got: KvState, want: KvState): string[] {
  const out: string[] = [];
  for (const [k, v] of want) {
    const g = got.get(k);
    if (g !== v) out.push(`${k} is ${callOfValue(g)}, want ${callOfValue(v)}`);
  }
  for (const [k, v] of got) if (!want.has(k)) out.push(`${k} is ${callOfValue(v)}, want absent`);
  return out.sort();
}

function sameKv(a: KvState, b: KvState): boolean {
  if (a.size !== b.size) return false;
  for (const [k, v] of a) if (b.get(k) !== v) return false;
  return true;
}

function diffText(d: string[]): string {
  const more = d.length > DIFFS_SHOWN_MAX ? `; ... ${d.length - DIFFS_SHOWN_MAX} more` : "";
  return d.slice(0, DIFFS_SHOWN_MAX).join("; ") + more;
}

/**
 * Run the workload without a crash and check call order along the way (GroupHarnessError
 * on any problem: a campaign needs a sound reference). Then reopen and require the state
 * of every call.
 */
export async function groupReferenceRun(w: GroupWorkload): Promise<GroupReference> {
  const fs = new MemFS();
  const run = new GroupRun(fs, w, null);
  run.open().close();
  const createOps = fs.opCount;
  await run.run();
  const problems = [...run.problems];
  for (const c of run.calls) {
    if (c.outcome === "pending") problems.push(`call ${c.index} (${c.kind}) never settled`);
    if (c.kind === "txn" && c.fnRuns !== 1 && c.outcome !== "pending") {
      problems.push(`call ${c.index}: its transaction function ran ${c.fnRuns} times, want once`);
    }
    // A transaction function runs while its group is applied: groupCommits is the group - 1.
    if (c.kind === "txn" && c.fnRuns === 1 && c.fnGroup !== c.groupAtCall) {
      problems.push(
        `call ${c.index}: its transaction function saw groupCommits ${c.fnGroup}, want ` +
          `${c.groupAtCall} (called then, it joins group ${c.groupAtCall + 1})`,
      );
    }
  }
  const totalOps = fs.opCount - createOps;
  const final: KvState = new Map();
  for (const c of run.calls) if (applies(c)) applyCall(final, c);
  try {
    const db = run.open();
    const got = readState(db);
    const treeProblems = db.check();
    db.close();
    const d = diffKv(got, final);
    if (d.length > 0)
      problems.push(`after the last close, the state is not every call's: ${diffText(d)}`);
    if (treeProblems.length > 0)
      problems.push(`after the last close, check(): ${treeProblems.join("; ")}`);
  } catch (e) {
    problems.push(`reopening after the last close threw ${errorText(e)}`);
  }
  if (problems.length > 0) {
    throw new GroupHarnessError(
      `the reference run (no crash) failed: ${problems.slice(0, 8).join(" | ")}` +
        `${problems.length > 8 ? ` | ... ${problems.length - 8} more` : ""}`,
    );
  }
  const stats = run.stats();
  stats.totalOps = totalOps;
  const changes: boolean[] = [];
  const running: KvState = new Map();
  for (const c of run.calls) {
    let changed = false;
    if (applies(c)) {
      for (const wr of c.writes) {
        if (wr.value !== null || running.has(wr.key)) changed = true;
        if (wr.value === null) running.delete(wr.key);
        else running.set(wr.key, wr.value);
      }
    }
    changes.push(changed);
  }
  return { calls: run.calls, units: unitsOf(run.calls), stats, final, changes };
}

// ---- crash points ----

export interface GroupFailure {
  seed: number;
  writers: number;
  callsPerWriter: number;
  sync: GroupSync;
  point: number;
  crashSeed: number | undefined;
  recovery?: { afterOps: number; crashSeed: number | undefined };
  message: string;
}

export interface GroupPointResult {
  failures: GroupFailure[];
  /** Recovery crashes that really interrupted an open. */
  recoveryCrashes: number;
  /** Where the power failed: "group" (a group's append or sync), "sync-call", ... */
  site: GroupCrashSite;
  /** The allowed boundaries' span lo..hi, in calls (hi - lo), and whether lo < hi. */
  span: number;
}

export type GroupCrashSite = "async" | "sync-put" | "checkpoint" | "close" | "open" | "none";

interface Replayed {
  run: GroupRun;
  site: GroupCrashSite;
  lo: number;
  hi: number;
  /** Why lo and hi are what they are, for messages. */
  why: string;
}

/** Replay with the power failing at mutating call k; every task stops, every promise settles. */
async function replayToCrash(w: GroupWorkload, ref: GroupReference, k: number): Promise<Replayed> {
  const fs = new MemFS();
  const run = new GroupRun(fs, w, ref);
  // Created before the crash is armed, as harness.ts does: a crash inside the creation
  // of a new database is not what this harness is about.
  run.open().close();
  fs.armCrash(k);
  await run.run();
  if (!run.crashed() && k < ref.stats.totalOps) {
    throw new GroupHarnessError(
      `the power armed to fail at call ${k} of ${ref.stats.totalOps} never failed ` +
        "(the workload does not replay deterministically)",
    );
  }
  if (run.problems.length > 0) {
    throw new GroupHarnessError(`before the power failed: ${run.problems.slice(0, 4).join(" | ")}`);
  }
  const units = ref.units;
  const calls = run.calls;
  // Where the power failed: in the first call that settled with ERR_CRASHED, if it is a
  // synchronous call or a close; otherwise in a group's append, sync or checkpoint.
  let site: GroupCrashSite = k >= ref.stats.totalOps ? "none" : "async";
  let firstSeq = Number.POSITIVE_INFINITY;
  for (const c of calls) {
    if (c.outcome === "rejected" && c.code === "ERR_CRASHED" && c.settleSeq < firstSeq) {
      firstSeq = c.settleSeq;
      site =
        c.kind === "sync-put" || c.kind === "checkpoint" || c.kind === "open" || c.kind === "close"
          ? c.kind
          : "async";
    }
  }
  let lo = 0;
  let loWhy = "nothing durable yet";
  for (const c of calls) {
    if (c.outcome !== "resolved") continue;
    const durable =
      w.sync === "full"
        ? ref.changes[c.index] || c.kind === "checkpoint" || c.kind === "close"
        : (c.kind === "checkpoint" && c.result === true) || c.kind === "close";
    if (!durable) continue;
    const end = units.unitEnd[c.index];
    if (end > lo) {
      lo = end;
      loWhy = `call ${c.index} (${c.kind}) ${c.groupAtCall < 0 ? "returned" : "resolved"}`;
    }
  }
  // Every call issued before the power failed may be visible, back to a boundary of the
  // reference's units: a unit the replay issued only part of was never applied (it
  // would have been applied whole, as in the reference, had it been applied at all).
  let hi = calls.length;
  let hiWhy = `${calls.length} calls were issued before the power failed`;
  while (hi > 0 && !units.isBoundary[hi]) hi--;
  // A group is applied in call order and committed after its last item: one with a
  // transaction function that never ran, or ran only after the power failed, was never
  // committed before it (the queue goes on applying groups whose I/O then fails), so the
  // group in flight is at most the one before.
  while (hi > 0) {
    let start = hi - 1;
    while (start > 0 && !units.isBoundary[start]) start--;
    const unapplied = calls
      .slice(start, hi)
      .find((c) => c.kind === "txn" && (c.fnRuns === 0 || c.fnAfterCrash));
    if (unapplied === undefined) break;
    hiWhy =
      `call ${unapplied.index}'s transaction function had not run when the power failed, ` +
      `so its group (calls ${start}..${hi - 1}) was never committed`;
    hi = start;
  }
  if (lo > hi) {
    throw new GroupHarnessError(
      `the model allows no state: lo ${lo} (${loWhy}) > hi ${hi} (${hiWhy})`,
    );
  }
  return { run, site, lo, hi, why: `lo ${lo}: ${loWhy}; hi ${hi}: ${hiWhy}` };
}

/** The boundary p in lo..hi whose state `got` is, or null with what is wrong. */
export function matchPrefix(
  got: KvState,
  ref: GroupReference,
  lo: number,
  hi: number,
): { p: number } | { problem: string } {
  const s: KvState = new Map();
  const calls = ref.calls;
  for (let p = 0; p <= hi; p++) {
    if (p >= lo && ref.units.isBoundary[p] && sameKv(got, s)) return { p };
    if (p < calls.length && applies(calls[p])) applyCall(s, calls[p]);
  }
  // No allowed boundary: say which prefix it is, if any.
  const t: KvState = new Map();
  const prefixes: number[] = [];
  for (let p = 0; p <= calls.length; p++) {
    if (sameKv(got, t)) prefixes.push(p);
    if (p < calls.length && applies(calls[p])) applyCall(t, calls[p]);
  }
  const range = `a group boundary in ${lo}..${hi}`;
  if (prefixes.length === 0) {
    const atLo: KvState = new Map();
    for (let p = 0; p < lo; p++) if (applies(calls[p])) applyCall(atLo, calls[p]);
    return {
      problem:
        `the state is no prefix of call order (a group half visible?), want ${range}: ` +
        `vs the state at ${lo}: ${diffText(diffKv(got, atLo))}`,
    };
  }
  const boundary = prefixes.filter((p) => ref.units.isBoundary[p]);
  if (boundary.length === 0) {
    const p = prefixes[prefixes.length - 1];
    let start = p;
    while (start > 0 && !ref.units.isBoundary[start]) start--;
    const end = ref.units.unitEnd[Math.min(p, calls.length - 1)];
    return {
      problem:
        `the state is that of calls 0..${p - 1} in call order, inside the unit of calls ` +
        `${start}..${end - 1} (half a group visible), want ${range}`,
    };
  }
  const p = boundary[boundary.length - 1];
  const why = p < lo ? "a resolved write was lost" : "a write that was never issued is visible";
  return { problem: `the state is the one at boundary ${p}, want ${range} (${why})` };
}

/** Open after a crash, read and match; the state, the open's mutating calls and the db. */
function openAndMatch(
  run: GroupRun,
  ref: GroupReference,
  r: Replayed,
  what: string,
  same: KvState | null,
): { state: KvState; openOps: number; db: Database } | string {
  const before = run.fs.opCount;
  let db: Database;
  try {
    db = run.open();
  } catch (e) {
    return `${what}: open failed: ${errorText(e)}`;
  }
  const openOps = run.fs.opCount - before;
  let state: KvState;
  let treeProblems: string[];
  try {
    state = readState(db);
    treeProblems = db.check();
  } catch (e) {
    return `${what}: reading the state back threw ${errorText(e)}`;
  }
  if (treeProblems.length > 0) return `${what}: check(): ${treeProblems.slice(0, 4).join("; ")}`;
  const m = matchPrefix(state, ref, r.lo, r.hi);
  if ("problem" in m) return `${what}: ${m.problem} [${r.why}]`;
  if (same !== null && !sameKv(state, same)) {
    return `${what}: not the state the uninterrupted recovery found: ${diffText(diffKv(state, same))}`;
  }
  return { state, openOps, db };
}

function closeReopenMatch(
  run: GroupRun,
  ref: GroupReference,
  r: Replayed,
  db: Database,
  state: KvState,
  what: string,
): string | null {
  try {
    db.close();
  } catch (e) {
    return `${what}: close after recovery threw ${errorText(e)}`;
  }
  const again = openAndMatch(run, ref, r, `${what}, clean reopen`, state);
  if (typeof again === "string") return again;
  try {
    again.db.close();
  } catch (e) {
    return `${what}: second close threw ${errorText(e)}`;
  }
  return null;
}

function recoveryCrashFor(
  w: GroupWorkload,
  k: number,
  crashSeed: number | undefined,
  openOps: number,
): { afterOps: number; crashSeed: number | undefined } {
  const rng = new Prng(mixSeed(w.seed ^ mixSeed(k)) ^ mixSeed((crashSeed ?? -1) + 1) ^ 0x9c);
  const afterOps = rng.int(Math.max(1, openOps));
  const seeded = rng.int(3) !== 0;
  return { afterOps, crashSeed: seeded ? rng.int(1_000_000) : undefined };
}

/**
 * Check crash point `k` under one crash seed: replay, crash, open, match, close, reopen,
 * match; then (with `recoveryCrash`) the same crash again with a second power failure
 * inside the recovery, which must find the same state.
 */
export async function checkGroupCrashPoint(
  w: GroupWorkload,
  ref: GroupReference,
  k: number,
  crashSeed: number | undefined,
  recoveryCrash = true,
): Promise<GroupPointResult> {
  const failures: GroupFailure[] = [];
  const fail = (message: string, recovery?: GroupFailure["recovery"]) => {
    failures.push({
      seed: w.seed,
      writers: w.writers,
      callsPerWriter: w.callsPerWriter,
      sync: w.sync,
      point: k,
      crashSeed,
      recovery,
      message,
    });
  };
  let first: Replayed;
  try {
    first = await replayToCrash(w, ref, k);
  } catch (e) {
    fail(`replay: ${errorText(e)}`);
    return { failures, recoveryCrashes: 0, site: "none", span: 0 };
  }
  const site = first.site;
  const span = first.hi - first.lo;
  first.run.fs.crash({ seed: crashSeed });
  const crashed = `power failed at call ${k} (site ${site}, ${first.run.calls.length} calls issued)`;
  const opened = openAndMatch(first.run, ref, first, `${crashed}, recovery`, null);
  if (typeof opened === "string") {
    fail(opened);
    return { failures, recoveryCrashes: 0, site, span };
  }
  const problem = closeReopenMatch(first.run, ref, first, opened.db, opened.state, crashed);
  if (problem !== null) fail(problem);
  if (!recoveryCrash) return { failures, recoveryCrashes: 0, site, span };

  const rc = recoveryCrashFor(w, k, crashSeed, opened.openOps);
  let recoveryCrashes = 0;
  let second: Replayed;
  try {
    second = await replayToCrash(w, ref, k);
  } catch (e) {
    fail(`second replay: ${errorText(e)}`, rc);
    return { failures, recoveryCrashes, site, span };
  }
  const fs = second.run.fs;
  fs.crash({ seed: crashSeed });
  fs.armCrash(rc.afterOps);
  const during = `${crashed}, then again after ${rc.afterOps} of the recovery's ${opened.openOps} calls`;
  try {
    second.run.open(); // dies with the power below either way
  } catch (e) {
    if (!isCrashError(e)) {
      fail(`${during}: the interrupted open threw ${errorText(e)}, not ERR_CRASHED`, rc);
      return { failures, recoveryCrashes, site, span };
    }
    recoveryCrashes++;
  }
  fs.crash({ seed: rc.crashSeed });
  const reopened = openAndMatch(second.run, ref, second, `${during}: recovery`, opened.state);
  if (typeof reopened === "string") {
    fail(reopened, rc);
    return { failures, recoveryCrashes, site, span };
  }
  const again = closeReopenMatch(second.run, ref, second, reopened.db, reopened.state, during);
  if (again !== null) fail(again, rc);
  return { failures, recoveryCrashes, site, span };
}

export function formatGroupFailure(f: GroupFailure): string {
  const cs = f.crashSeed === undefined ? "none" : String(f.crashSeed);
  const rec =
    f.recovery === undefined
      ? ""
      : `, recovery crash after ${f.recovery.afterOps} ops with crash seed ` +
        `${f.recovery.crashSeed === undefined ? "none" : f.recovery.crashSeed}`;
  return (
    `workload seed ${f.seed} (${f.writers} writers, ${f.callsPerWriter} calls each, sync ` +
    `${f.sync}), crash point k=${f.point}, crash seed ${cs}${rec}: ${f.message}\n` +
    `  replay: npm run crash:group -- --seed ${f.seed} --writers ${f.writers} --calls ` +
    `${f.callsPerWriter} --sync ${f.sync} --point ${f.point} --crash-seed ${cs}`
  );
}

// ---- campaigns ----

export interface GroupCampaignOptions extends GroupWorkloadOptions {
  /** Crash points: every one of 0..T when absent or >= T + 1, else a seeded sample. */
  points?: number;
  /** Exactly these crash points (overrides `points`). */
  pointList?: number[];
  /** Crash variants per point (crash seed none, then seeded tears); default 3. */
  variants?: number;
  /** Only this crash seed (undefined: no seed) instead of the variants. */
  onlyCrashSeed?: { seed: number | undefined };
  /** Crash again inside each recovery (default true). */
  recoveryCrash?: boolean;
  onProgress?: (done: number, total: number, failures: number) => void;
  /** Stop after this many failures (default: never). */
  failuresMax?: number;
}

export interface GroupCampaignResult {
  workload: GroupWorkload;
  reference: GroupReference;
  /** (crash point, crash seed) pairs checked. */
  checked: number;
  recoveryCrashes: number;
  /** Checks where more than one group boundary was allowed (lo < hi). */
  openSpans: number;
  failures: GroupFailure[];
  sites: Record<GroupCrashSite, number>;
}

export async function runGroupCampaign(o: GroupCampaignOptions): Promise<GroupCampaignResult> {
  const w = makeGroupWorkload(o);
  const ref = await groupReferenceRun(w);
  const total = ref.stats.totalOps;
  const points = o.pointList ?? samplePoints(total, o.points ?? Number.POSITIVE_INFINITY, o.seed);
  const sites: Record<GroupCrashSite, number> = {
    async: 0,
    "sync-put": 0,
    checkpoint: 0,
    close: 0,
    open: 0,
    none: 0,
  };
  const failures: GroupFailure[] = [];
  let checked = 0;
  let recoveryCrashes = 0;
  let openSpans = 0;
  let done = 0;
  for (const k of points) {
    const seeds =
      o.onlyCrashSeed !== undefined ? [o.onlyCrashSeed.seed] : crashSeedsFor(k, o.variants ?? 3);
    for (const cs of seeds) {
      const r = await checkGroupCrashPoint(w, ref, k, cs, o.recoveryCrash ?? true);
      checked++;
      sites[r.site]++;
      if (r.span > 0) openSpans++;
      recoveryCrashes += r.recoveryCrashes;
      failures.push(...r.failures);
    }
    done++;
    o.onProgress?.(done, points.length, failures.length);
    if (o.failuresMax !== undefined && failures.length >= o.failuresMax) break;
  }
  return { workload: w, reference: ref, checked, recoveryCrashes, openSpans, failures, sites };
}
