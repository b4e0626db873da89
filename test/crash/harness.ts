// The crash harness: proves the pager's durability promise against MemFS power loss. A
// commit that returned is never lost, a transaction is never half visible, and the file
// always opens, whatever mutating call the power fails on. It owns the scripted workload,
// the model of committed states and the checks. Exports only: importing it runs nothing
// (node --test executes every .js file under build/test/).
//
// How one crash point k is checked (all of it replays from the workload seed):
//   1. reference run: execute the workload without crashing; resolve the script's random
//      picks into concrete actions, record every committed state S0, S1, ... and T, the
//      mutating file-system calls the workload makes;
//   2. for each crash variant (a MemFS crash seed: none = drop all unsynced, or a seed that
//      keeps, loses or tears each unsynced write): replay to the k-th call, lose power,
//      open (must succeed), read every page and match the state against S_lo..S_hi (the
//      states the sync mode allows), close, reopen, match again;
//   3. replay to the same crash, then crash again inside the recovery's own calls, open
//      and require the very state the uninterrupted recovery found; close, reopen, match.
//
// With `snapshots`, the workload also opens pager snapshots at seeded steps (inside
// transactions too), keeps up to WORKLOAD_SNAPSHOTS_OPEN_MAX of them open across commits,
// rollbacks, spills and checkpoints, and reads pages, slots and the page count through
// them: each read must be the committed state S_i the snapshot was taken at (the model
// keeps every S_i already, so a snapshot costs the model one index). Checkpoints must
// return false exactly while a snapshot is behind the last commit. A wrong snapshot read
// before the crash fails the point like any other; the crash forgets the snapshots, and
// recovery and its checks are the same as without them.
//
// With `readers` (K), K reader processes (MemFS processes, each a read-only Pager beside
// the writer: docs/design/readers.md) interleave with the writer's steps, inside its
// transactions too: they refresh and read, read their held view without refreshing, take,
// read and close snapshots, reopen, have their mark slot torn (MemFS.tearMark: race G),
// and are killed and restarted in a new process. Every
// read must be exactly one committed state: after a refresh the last commit that returned
// (the harness is sequential, so no commit is in flight while a reader reads), without
// one the state of its last refresh (the view is held until the event loop runs, and it
// never runs inside a campaign), through a snapshot the state it was taken at. The
// writer's checkpoints must return false exactly while a snapshot or a reader's mark is
// behind the last commit (rules 1 and 2). Each crash point k is then also checked as:
//   - a kill of the writer process alone at call k (kill replay): the readers' snapshots
//     still read exactly; each reader refreshes and sees one of the states the kill allows
//     (the last commit that returned, or the one in flight: the page cache survives, so
//     the sync mode does not matter), never older than its previous view; a new writer
//     opens in a new process beside them (rule 5) and recovers exactly the state they see;
//     it commits TAIL_COMMITS transactions, each seen exactly by every reader at its next
//     refresh, checkpoints under their snapshots (which must stay exact, and hold it back),
//     checkpoints fully once they let go, closes (the log stays for the readers, rule 3),
//     and after the readers close the next writer finds the last tail commit;
//   - a kill of reader k mod K at call k: the workload runs on (the reader restarts in a
//     new process at its next call); every other read is still exact, no checkpoint the
//     uninterrupted run completed is held back (the dead reader's marks are ignored), and
//     the final close, with every reader closed, deletes the log (rule 3).

import { usableSizeOf } from "../../src/format/page.js";
import { type Frame, Pager, type PagerOptions, walPathOf } from "../../src/pager/pager.js";
import type { PagerSnapshot } from "../../src/pager/snapshots.js";
import { MemFS } from "../../src/vfs/memfs.js";
import { mixSeed, Prng } from "../../src/vfs/prng.js";
import { stamp, stamped } from "../pager/pages.js";

export const DB_PATH = "/crash.pkv";
/** Application slots in the header (slot indices 0..7). */
export const SLOTS = 8;
/** Ops in one scripted transaction: 1..TXN_OPS_MAX. */
export const TXN_OPS_MAX = 6;
/** Differences listed in one failure message before "...". */
const DIFFS_SHOWN_MAX = 6;
/** Snapshots a workload keeps open at once (far below SNAPSHOTS_MAX): the 9th closes one. */
export const WORKLOAD_SNAPSHOTS_OPEN_MAX = 8;
/** Pages one scripted snapshot read checks: 1..SNAPSHOT_READ_PAGES_MAX. */
export const SNAPSHOT_READ_PAGES_MAX = 3;
/** Reader processes a workload may have (`readers`). */
export const WORKLOAD_READERS_MAX = 8;
/** Snapshots one reader keeps open at once: the 4th closes one. */
export const READER_SNAPSHOTS_OPEN_MAX = 3;
/** The pool of a reader's pager: small, so its reads miss and go to the log or home. */
const READER_CACHE_FRAMES = 4;
/** Transactions the new writer commits after a writer kill, each seen by every reader. */
export const TAIL_COMMITS = 3;
/** Versions the tail writes (far above any workload's): TAIL_VERSION_BASE + n. */
const TAIL_VERSION_BASE = 1 << 24;

export type CrashSync = "full" | "normal";

export interface WorkloadOptions {
  /** Everything else (pool size, auto-checkpoint limit, the script) derives from it. */
  seed: number;
  /** Scripted steps: transactions, checkpoints, clean reopens. */
  steps: number;
  sync: CrashSync;
  /** Page size (default 512: one sector, so a torn write tears between pages). */
  pageSize?: number;
  /** Run the pager with `debug: true` (every invariant checked after every call). */
  debug?: boolean;
  /**
   * Open, read and close pager snapshots at seeded steps (drawn from a PRNG of their own,
   * so the rest of the script is the one the seed makes without them).
   */
  snapshots?: boolean;
  /**
   * Reader processes beside the writer, 0..WORKLOAD_READERS_MAX (default 0); their calls
   * are drawn from a PRNG of their own, so the writer's script is the one the seed makes.
   */
  readers?: number;
}

/** A scripted call of reader process `reader` (0..readers-1). */
export type ReaderOp =
  // refresh: refresh() first (a read starting now), else read the held view.
  | { kind: "rd-read"; reader: number; pick: number; pages: number; refresh: boolean }
  // pick: which open snapshot to close first when READER_SNAPSHOTS_OPEN_MAX are open.
  | { kind: "rd-snap-open"; reader: number; pick: number }
  | { kind: "rd-snap-read"; reader: number; pick: number; pages: number }
  | { kind: "rd-snap-close"; reader: number; pick: number }
  // Close the reader's pager and open it again in the same process.
  | { kind: "rd-reopen"; reader: number }
  // SIGKILL the reader's process; a new process opens the reader again.
  | { kind: "rd-kill"; reader: number }
  // Its mark slot reads "unknown" (caught mid-rewrite: race G) until it is written again.
  | { kind: "rd-tear"; reader: number };

/** A scripted snapshot call; the reference run resolves picks against the open ones. */
export type SnapshotOp =
  // pick: which open snapshot to close first when WORKLOAD_SNAPSHOTS_OPEN_MAX are open.
  | { kind: "snap-open"; pick: number }
  | { kind: "snap-close"; pick: number }
  | { kind: "snap-close-all" }
  | { kind: "snap-read"; pick: number; pages: number };

export type ScriptOp =
  | { kind: "write" | "allocate" | "free" | "read"; pick: number; version: number }
  | { kind: "slot"; slot: number; value: number }
  | SnapshotOp
  | ReaderOp;

export type ScriptStep =
  | { kind: "txn"; ops: ScriptOp[]; commit: boolean }
  | { kind: "implicit"; ops: ScriptOp[] }
  | { kind: "checkpoint"; lsnBump: number }
  | { kind: "reopen" }
  | { kind: "snapshots"; ops: SnapshotOp[] }
  | { kind: "readers"; ops: ReaderOp[] };

/** A workload: generated from its seed before anything runs. */
export interface Workload {
  seed: number;
  steps: number;
  sync: CrashSync;
  pageSize: number;
  cacheFrames: number;
  walAutoCheckpointPages: number;
  debug: boolean;
  snapshots: boolean;
  readers: number;
  script: ScriptStep[];
}

/** One concrete call on the pager; the reference run resolves the script into these. */
export type Action =
  | { t: "begin"; step: number }
  | { t: "write"; step: number; pgno: number; version: number }
  | { t: "read"; step: number; pgno: number; version: number }
  | { t: "allocate"; step: number; pgno: number; version: number }
  | { t: "free"; step: number; pgno: number }
  | { t: "slot"; step: number; slot: number; value: number }
  | { t: "commit"; step: number; state: number }
  | { t: "rollback"; step: number }
  // state: the implicit transaction's state these commit, -1 when there is none.
  // lsnBump: checkpoint(checkpointLSN + lsnBump), or checkpoint() when 0.
  // done: what checkpoint() must return (false while an open snapshot is behind). With
  // readers, null while the model cannot tell (see checkpointWant); the reference run then
  // records what it returned, for the replays to repeat.
  | { t: "checkpoint"; step: number; state: number; lsnBump: number; done: boolean | null }
  | { t: "close"; step: number; state: number }
  | { t: "open"; step: number }
  // Snapshot `id` (numbered from 1 per workload) taken at committed state S`state`.
  | { t: "snap-open"; step: number; id: number; state: number }
  | { t: "snap-close"; step: number; id: number }
  // Page `pgno` through snapshot `id` must hold `version` (live in the snapshot's state).
  | { t: "snap-read"; step: number; id: number; pgno: number; version: number }
  // Snapshot `id` must show S`state`'s page count and slots (and refuse pages outside).
  | {
      t: "snap-meta";
      step: number;
      id: number;
      state: number;
      pageCount: number;
      slots: readonly number[];
    }
  // Reader `reader` (after refresh(), or in its held view) must show S`state`: its page
  // count, slots and each [pgno, version] of `pages`, and refuse every page of `free`.
  | {
      t: "rd-read";
      step: number;
      reader: number;
      refresh: boolean;
      state: number;
      pageCount: number;
      slots: readonly number[];
      pages: readonly (readonly [number, number])[];
      free: readonly number[];
    }
  // Reader snapshot `id` taken at S`state` (checked at once); read it: the same checks.
  | {
      t: "rd-snap-open" | "rd-snap-read";
      step: number;
      reader: number;
      id: number;
      state: number;
      pageCount: number;
      slots: readonly number[];
      pages: readonly (readonly [number, number])[];
    }
  | { t: "rd-snap-close"; step: number; reader: number; id: number }
  | { t: "rd-reopen" | "rd-kill" | "rd-tear"; step: number; reader: number }
  // Every reader closes (before the workload's last close, which must then delete the log).
  | { t: "rd-close-all"; step: number };

/** A committed state of the database. Live and free pages partition 2..pageCount. */
export interface DbState {
  /** Live page -> version of its contents. */
  live: Map<number, number>;
  free: Set<number>;
  pageCount: number;
  slots: number[];
}

export interface ReferenceStats {
  /** Mutating file-system calls from just after create to the end (the last close). */
  totalOps: number;
  commits: number;
  rollbacks: number;
  /** Dirty pages spilled to the log mid-transaction (stats().writebacks). */
  writebacks: number;
  autoCheckpoints: number;
  explicitCheckpoints: number;
  /** Implicit transactions committed by checkpoint() or close(). */
  implicitCommits: number;
  reopens: number;
  pageCountMax: number;
  /** With snapshots: snapshots opened, and pages read through them. */
  snapshotsOpened: number;
  snapshotReads: number;
  /** Explicit checkpoints that returned false (a snapshot behind) / true with one open. */
  checkpointsRefused: number;
  checkpointsWithSnapshots: number;
  /** Commits whose automatic checkpoint could not reset the log (a snapshot behind). */
  autoCheckpointsHeld: number;
  /** With readers: pages read by readers (views and snapshots), reads after a refresh. */
  readerPageReads: number;
  readerRefreshes: number;
  readerSnapshotsOpened: number;
  /** Scripted reader reopens and kills (each restarted in a new process). */
  readerReopens: number;
  readerKills: number;
  /** Scripted tears of a reader's mark slot (race G). */
  readerTears: number;
  /** Explicit checkpoints that returned false with no writer snapshot behind: a reader. */
  checkpointsHeldByReaders: number;
  /** Explicit checkpoints that returned true with readers open beside the writer. */
  checkpointsDoneWithReaders: number;
}

export interface Reference {
  actions: Action[];
  /** S0 (the new database), then one state per commit that returned. */
  states: DbState[];
  stats: ReferenceStats;
  /** pgno -> (first u32 of the image -> version): names what a page read back holds. */
  images: Map<number, Map<number, number>>;
  /** version -> the action that wrote it, for messages. */
  writers: Map<number, { step: number; committed: boolean }>;
}

/** Where in the workload the power failed. */
export type CrashSite =
  | "txn-op" // a get/allocate of an open transaction (a spill to the log)
  | "commit"
  | "auto-checkpoint" // after the commit was durable: commit() returned
  | "checkpoint"
  | "close"
  | "open" // the workload's own reopen (recovery of a clean close)
  | "snapshot" // a snapshot read (its miss spilled the open transaction's pages)
  | "reader" // a reader process's call (they make no mutating call: never, so far)
  | "none"; // the crash point is past the last call

/** What happens at crash point k: power loss, or the death of one process. */
export type CrashKind = "power" | "kill-writer" | "kill-reader";

export interface Failure {
  seed: number;
  steps: number;
  sync: CrashSync;
  pageSize: number;
  snapshots: boolean;
  readers: number;
  kind: CrashKind;
  point: number;
  crashSeed: number | undefined;
  /** Set when the failure is in the crash-during-recovery phase. */
  recovery?: { afterOps: number; crashSeed: number | undefined };
  message: string;
}

export interface PointResult {
  site: CrashSite;
  failures: Failure[];
  /** Recovery crashes that really interrupted an open. */
  recoveryCrashes: number;
}

/** A PagekvError ERR_CRASHED, possibly wrapped (anywhere on the `cause` chain). */
export function isCrashError(e: unknown): boolean {
  let x: unknown = e;
  for (let depth = 0; depth < 8 && typeof x === "object" && x !== null; depth++) {
    if ((x as { code?: unknown }).code === "ERR_CRASHED") return true;
    x = (x as { cause?: unknown }).cause;
  }
  return false;
}

function errorText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

function errorCode(e: unknown): string | undefined {
  if (typeof e !== "object" || e === null) return undefined;
  const code = (e as { code?: unknown }).code;
  return typeof code === "string" ? code : undefined;
}

// ---- the workload ----

export function makeWorkload(o: WorkloadOptions): Workload {
  const rng = new Prng(o.seed);
  // A tiny pool, so a transaction of a few writes spills dirty pages to the log; a small
  // auto-checkpoint limit, so commits regularly run a checkpoint the crash can interrupt.
  const cacheFrames = rng.int(3) === 0 ? 4 : 3;
  const walAutoCheckpointPages = 8 + rng.int(17);
  const script: ScriptStep[] = [];
  let version = 0;
  const makeOps = (n: number): ScriptOp[] => {
    const ops: ScriptOp[] = [];
    for (let i = 0; i < n; i++) {
      const r = rng.int(100);
      if (r < 35) ops.push({ kind: "write", pick: rng.nextU32(), version: ++version });
      else if (r < 57) ops.push({ kind: "allocate", pick: 0, version: ++version });
      else if (r < 70) ops.push({ kind: "free", pick: rng.nextU32(), version: ++version });
      // A read brings a page in, so a dirty page may have to leave the pool mid-transaction.
      else if (r < 85) ops.push({ kind: "read", pick: rng.nextU32(), version: ++version });
      else ops.push({ kind: "slot", slot: rng.int(SLOTS), value: rng.nextU32() });
    }
    return ops;
  };
  while (script.length < o.steps) {
    const roll = rng.int(100);
    if (roll < 5) {
      // Half of them name a checkpoint LSN past the current one.
      script.push({ kind: "checkpoint", lsnBump: rng.int(2) === 0 ? 0 : 1 + rng.int(5) });
    } else if (roll < 8) {
      script.push({ kind: "reopen" });
    } else if (roll < 18) {
      // Work outside begin(): joined by the next begin(), or (half the time here) committed
      // at once by checkpoint() or close().
      script.push({ kind: "implicit", ops: makeOps(1 + rng.int(3)) });
      const then = script.length < o.steps ? rng.int(4) : 2;
      if (then === 0) script.push({ kind: "checkpoint", lsnBump: rng.int(2) });
      else if (then === 1) script.push({ kind: "reopen" });
    } else {
      // Big transactions often: they dirty more pages than the pool holds.
      const n = rng.int(100) < 40 ? TXN_OPS_MAX - 1 + rng.int(2) : 1 + rng.int(TXN_OPS_MAX);
      script.push({ kind: "txn", ops: makeOps(n), commit: rng.int(100) < 85 });
    }
  }
  const snapshots = o.snapshots === true;
  const readers = o.readers ?? 0;
  if (!Number.isSafeInteger(readers) || readers < 0 || readers > WORKLOAD_READERS_MAX) {
    throw new HarnessError(`readers must be an integer in 0..${WORKLOAD_READERS_MAX}`);
  }
  let woven = snapshots ? withSnapshotOps(script, new Prng(mixSeed(o.seed) ^ 0x54a9)) : script;
  if (readers > 0) woven = withReaderOps(woven, new Prng(mixSeed(o.seed) ^ 0x7ead), readers);
  return {
    seed: o.seed,
    steps: o.steps,
    sync: o.sync,
    pageSize: o.pageSize ?? 512,
    cacheFrames,
    walAutoCheckpointPages,
    debug: o.debug === true,
    snapshots,
    readers,
    script: woven,
  };
}

/**
 * The script with reader calls woven in: a step of them before about two steps in five,
 * and one after about one op in six inside transactions (a reader reading while the
 * writer's transaction is open, and after it spilled frames into the log, must not see
 * them: race E).
 */
function withReaderOps(script: ScriptStep[], rng: Prng, readers: number): ScriptStep[] {
  const readerOp = (): ReaderOp => {
    const reader = rng.int(readers);
    const r = rng.int(100);
    const pages = 1 + rng.int(SNAPSHOT_READ_PAGES_MAX);
    if (r < 45) return { kind: "rd-read", reader, pick: rng.nextU32(), pages, refresh: true };
    if (r < 55) return { kind: "rd-read", reader, pick: rng.nextU32(), pages, refresh: false };
    if (r < 69) return { kind: "rd-snap-open", reader, pick: rng.nextU32() };
    if (r < 84) return { kind: "rd-snap-read", reader, pick: rng.nextU32(), pages };
    if (r < 93) return { kind: "rd-snap-close", reader, pick: rng.nextU32() };
    if (r < 96) return { kind: "rd-reopen", reader };
    if (r < 98) return { kind: "rd-tear", reader };
    return { kind: "rd-kill", reader };
  };
  const out: ScriptStep[] = [];
  for (const step of script) {
    if (rng.int(100) < 40) {
      const ops: ReaderOp[] = [];
      for (let n = 1 + rng.int(3); n > 0; n--) ops.push(readerOp());
      out.push({ kind: "readers", ops });
    }
    if (step.kind === "checkpoint" && rng.int(2) === 0) {
      // Every reader lets go (closes its snapshots, refreshes to the last commit), so the
      // checkpoint may complete beside them (and the power may fail inside it).
      const ops: ReaderOp[] = [];
      for (let reader = 0; reader < readers; reader++) {
        for (let i = 0; i < READER_SNAPSHOTS_OPEN_MAX; i++) {
          ops.push({ kind: "rd-snap-close", reader, pick: 0 });
        }
        ops.push({ kind: "rd-read", reader, pick: rng.nextU32(), pages: 1, refresh: true });
      }
      out.push({ kind: "readers", ops });
    }
    if (step.kind === "txn" || step.kind === "implicit") {
      const ops: ScriptOp[] = [];
      for (const op of step.ops) {
        ops.push(op);
        if (rng.int(100) < 16) ops.push(readerOp());
      }
      out.push({ ...step, ops });
    } else {
      out.push(step);
    }
  }
  return out;
}

function isReaderOp(op: ScriptOp): op is ReaderOp {
  return op.kind.startsWith("rd-");
}

/**
 * The script with snapshot calls woven in: a step of them before about a third of the
 * steps, and one after about one op in seven inside transactions (so snapshots are taken
 * and read while a transaction is open and after it spilled). Before a third of the
 * checkpoints every snapshot closes and one opens at the newest commit: it must not hold
 * the checkpoint back (unless the checkpoint commits implicit work first).
 */
function withSnapshotOps(script: ScriptStep[], rng: Prng): ScriptStep[] {
  const snapOp = (): SnapshotOp => {
    const r = rng.int(100);
    if (r < 30) return { kind: "snap-open", pick: rng.nextU32() };
    if (r < 72) {
      return {
        kind: "snap-read",
        pick: rng.nextU32(),
        pages: 1 + rng.int(SNAPSHOT_READ_PAGES_MAX),
      };
    }
    if (r < 94) return { kind: "snap-close", pick: rng.nextU32() };
    return { kind: "snap-close-all" };
  };
  const out: ScriptStep[] = [];
  for (const step of script) {
    if (rng.int(100) < 35) {
      const ops: SnapshotOp[] = [];
      for (let n = 1 + rng.int(3); n > 0; n--) ops.push(snapOp());
      out.push({ kind: "snapshots", ops });
    }
    if (step.kind === "checkpoint" && rng.int(3) === 0) {
      const ops: SnapshotOp[] = [{ kind: "snap-close-all" }, { kind: "snap-open", pick: 0 }];
      out.push({ kind: "snapshots", ops });
    }
    if (step.kind === "txn" || step.kind === "implicit") {
      const ops: ScriptOp[] = [];
      for (const op of step.ops) {
        ops.push(op);
        if (rng.int(100) < 15) ops.push(snapOp());
      }
      out.push({ ...step, ops });
    } else {
      out.push(step);
    }
  }
  return out;
}

function pagerOptions(w: Workload): PagerOptions {
  return {
    pageSize: w.pageSize,
    cacheFrames: w.cacheFrames,
    debug: w.debug,
    sync: w.sync,
    walAutoCheckpointPages: w.walAutoCheckpointPages,
  };
}

function openDb(fs: MemFS, w: Workload): Pager {
  const { pageSize: _, ...options } = pagerOptions(w);
  return Pager.open(fs, DB_PATH, options);
}

/** A reader's pager in process `proc`: read-only, beside the writer. */
function openReader(proc: MemFS, w: Workload): Pager {
  return Pager.open(proc, DB_PATH, {
    readOnly: true,
    cacheFrames: READER_CACHE_FRAMES,
    debug: w.debug,
  });
}

function emptyState(): DbState {
  return { live: new Map(), free: new Set(), pageCount: 1, slots: new Array(SLOTS).fill(0) };
}

function copyState(s: DbState): DbState {
  return {
    live: new Map(s.live),
    free: new Set(s.free),
    pageCount: s.pageCount,
    slots: [...s.slots],
  };
}

function sortedKeys<T>(m: Map<number, T> | Set<number>): number[] {
  return [...m.keys()].sort((a, b) => a - b);
}

function describe(a: Action): string {
  const commits = (state: number) => (state < 0 ? "" : `, committing S${state}`);
  switch (a.t) {
    case "write":
      return `step ${a.step}: write page ${a.pgno} v${a.version}`;
    case "read":
      return `step ${a.step}: read page ${a.pgno} (v${a.version})`;
    case "allocate":
      return `step ${a.step}: allocate page ${a.pgno} v${a.version}`;
    case "free":
      return `step ${a.step}: free page ${a.pgno}`;
    case "slot":
      return `step ${a.step}: setSlot(${a.slot}, ${a.value})`;
    case "commit":
      return `step ${a.step}: commit (S${a.state})`;
    case "checkpoint":
      return `step ${a.step}: checkpoint(${a.lsnBump === 0 ? "" : `LSN + ${a.lsnBump}`})${commits(a.state)}`;
    case "close":
      return `step ${a.step}: close${commits(a.state)}`;
    case "snap-open":
      return `step ${a.step}: snapshot #${a.id} (at S${a.state})`;
    case "snap-close":
      return `step ${a.step}: close snapshot #${a.id}`;
    case "snap-read":
      return `step ${a.step}: read page ${a.pgno} (v${a.version}) through snapshot #${a.id}`;
    case "snap-meta":
      return `step ${a.step}: page count and slots of snapshot #${a.id} (S${a.state})`;
    case "rd-read":
      return (
        `step ${a.step}: reader ${a.reader} reads ${a.refresh ? "after a refresh" : "its held view"}` +
        ` (S${a.state})`
      );
    case "rd-snap-open":
      return `step ${a.step}: reader ${a.reader} takes snapshot #${a.id} (at S${a.state})`;
    case "rd-snap-read":
      return `step ${a.step}: reader ${a.reader} reads snapshot #${a.id} (S${a.state})`;
    case "rd-snap-close":
      return `step ${a.step}: reader ${a.reader} closes snapshot #${a.id}`;
    case "rd-reopen":
      return `step ${a.step}: reader ${a.reader} closes and opens again`;
    case "rd-kill":
      return `step ${a.step}: reader ${a.reader} is killed and restarts in a new process`;
    case "rd-tear":
      return `step ${a.step}: reader ${a.reader}'s mark slot is torn (race G)`;
    case "rd-close-all":
      return `step ${a.step}: every reader closes`;
    default:
      return `step ${a.step}: ${a.t}`;
  }
}

/** Thrown for anything that is not the armed crash: a pager error, a model mismatch. */
export class HarnessError extends Error {}

/** A snapshot the driver holds open. */
interface HeldSnapshot {
  snap: PagerSnapshot;
  /** The committed state it was taken at, and the step that took it (for messages). */
  state: number;
  step: number;
  /** pager.stats().commits when it was taken. */
  commits: number;
}

/** A reader process and its pager, as the driver holds them. */
interface ReaderSlot {
  proc: MemFS;
  /** null once rd-close-all closed it. */
  pager: Pager | null;
  /** Its open snapshots by id. */
  snaps: Map<number, HeldSnapshot>;
  /** The committed state of its view: set at each refresh, snapshot and open. */
  view: number;
  /**
   * Restarted after an armed kill (reader-kill replays only): its view is not the one the
   * script's held-view reads expect, until its next refresh, reopen or scripted kill.
   */
  viewVoid: boolean;
}

/** What a reader's pager and its snapshots have in common: the reads the harness makes. */
interface ReadSource {
  readonly pageCount: number;
  getSlot(i: number): number;
  get(pgno: number): Frame;
  unpin(frame: Frame): void;
}

/** What a read of a committed state must show. */
interface Expected {
  pageCount: number;
  slots: readonly number[];
  pages: readonly (readonly [number, number])[];
  /** Pages get() must refuse (ERR_PAGE_RANGE); absent for a snapshot, which does not. */
  free?: readonly number[];
}

/** Every live page of `s`, with its page count and slots; its free pages unless `snapshot`. */
function expectAll(s: DbState, snapshot: boolean): Expected {
  const pages = sortedKeys(s.live).map((p) => [p, s.live.get(p) ?? -1] as const);
  const free = snapshot ? undefined : sortedKeys(s.free);
  return { pageCount: s.pageCount, slots: s.slots, pages, free };
}

/**
 * Every way `src` differs from `want` (its page count, slots, the listed pages, and page 1
 * and pageCount + 1 refused); empty when it shows exactly that. Free pages are not
 * checked: a snapshot does not refuse them (snapshots.md, "Left open").
 */
function sourceProblems(
  src: ReadSource,
  usableSize: number,
  want: Expected,
  images: Map<number, Map<number, number>>,
): string[] {
  const out: string[] = [];
  let pageCount: number;
  try {
    pageCount = src.pageCount;
    if (pageCount !== want.pageCount) out.push(`pageCount ${pageCount}, want ${want.pageCount}`);
    for (let i = 0; i < SLOTS; i++) {
      const v = src.getSlot(i);
      if (v !== want.slots[i]) out.push(`slot ${i} = ${v}, want ${want.slots[i]}`);
    }
  } catch (e) {
    return [`page count or slots threw ${errorText(e)}`];
  }
  for (const [pgno, version] of want.pages) {
    let f: Frame;
    try {
      f = src.get(pgno);
    } catch (e) {
      out.push(`get(${pgno}) threw ${errorText(e)}, want v${version}`);
      continue;
    }
    const same = f.pgno === pgno && sameBytes(f.data, stamped(usableSize, pgno, version));
    const word = firstWord(f.data);
    const got = f.pgno;
    src.unpin(f);
    if (!same) {
      const v = images.get(pgno)?.get(word);
      const holds = v === undefined ? "bytes no action wrote to it" : `v${v}`;
      out.push(`page ${pgno} read as a frame of page ${got} holding ${holds}, want v${version}`);
    }
  }
  for (const p of [1, pageCount + 1, ...(want.free ?? [])]) {
    const code = thrownCode(() => src.unpin(src.get(p)));
    if (code !== "ERR_PAGE_RANGE") {
      const what = p === 1 || p === pageCount + 1 ? "" : ` (free in the state)`;
      out.push(`get(${p})${what} threw ${code}, not ERR_PAGE_RANGE`);
    }
  }
  return out;
}

/** What `code` a call threw, or "nothing". */
function thrownCode(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    return errorCode(e) ?? errorText(e);
  }
  return "nothing";
}

/**
 * Executes actions on a pager over `fs`, tracking what the model needs: the last commit
 * that returned, a commit in flight, the last state and checkpoint LSN a checkpoint made
 * durable.
 */
class Driver {
  pager: Pager;
  lastReturned = 0;
  inFlight = false;
  lastCheckpointed = 0;
  /** pager.checkpointLSN after the last checkpoint that returned. */
  checkpointLsn = 0n;
  writebacks = 0;
  autoCheckpoints = 0;
  autoCheckpointsHeld = 0;
  /** The open snapshots by id; forgotten with the driver when the power fails. */
  private readonly snaps = new Map<number, HeldSnapshot>();
  /** The reader processes (w.readers of them), opened after the create. */
  readonly readers: ReaderSlot[] = [];
  /**
   * A reader-kill replay: a reader killed by its armed kill restarts in a new process at
   * its next call, the script's reads of what it held then are skipped, and a checkpoint
   * may complete where the uninterrupted run's was held back (never the reverse).
   */
  lenient = false;
  /** Restarts after an armed kill. */
  readerRestarts = 0;
  /** What the last explicit checkpoint returned. */
  lastCheckpointDone = false;
  /** A lenient replay tore a mark slot: checkpoint results no longer compare. */
  private tornInReplay = false;
  /** The armed reader kill: at the machine's opCount `at` (moved to a new process at rd-kill). */
  private readerKill: { reader: number; at: number } | null = null;

  constructor(
    /** The writer's process (the machine's first). */
    readonly fs: MemFS,
    readonly w: Workload,
    /** The reference's page images, to name what a wrong snapshot read holds. */
    private readonly images: Map<number, Map<number, number>>,
  ) {
    this.pager = Pager.create(fs, DB_PATH, pagerOptions(w));
    for (let r = 0; r < w.readers; r++) {
      const proc = fs.process();
      const pager = openReader(proc, w);
      this.readers.push({ proc, pager, snaps: new Map(), view: 0, viewVoid: false });
    }
  }

  /** Kill reader `reader` after `afterOps` more mutating calls (a reader-kill replay). */
  armReaderKill(reader: number, afterOps: number): void {
    this.lenient = true;
    this.readers[reader].proc.armKill(afterOps);
    this.readerKill = { reader, at: this.fs.opCount + afterOps };
  }

  /** Reader `r`, restarted in a new process first if its armed kill killed it. */
  private reader(r: number): ReaderSlot & { pager: Pager } {
    const rd = this.readers[r];
    if (rd === undefined) throw new HarnessError(`no reader ${r} (harness bug)`);
    if (rd.proc.killed) {
      if (!this.lenient) throw new HarnessError(`reader ${r} died outside a reader-kill replay`);
      this.restart(rd);
      rd.viewVoid = true;
      this.readerRestarts++;
    }
    const pager = rd.pager;
    if (pager === null) throw new HarnessError(`reader ${r} is closed (harness bug)`);
    return Object.assign(rd, { pager });
  }

  /** A new process for `rd`, its pager opened there: the view is the last commit. */
  private restart(rd: ReaderSlot): void {
    rd.proc = this.fs.process();
    rd.snaps.clear();
    const armed = this.readerKill;
    if (armed !== null && this.readers[armed.reader] === rd) {
      // The kill aims at the reader, whichever process it runs in now.
      const left = armed.at - this.fs.opCount;
      if (left >= 0) rd.proc.armKill(left);
      else this.readerKill = null;
    }
    rd.pager = openReader(rd.proc, this.w);
    rd.view = this.lastReturned;
  }

  /** The held snapshot `id` of reader `rd`, or null when a restart forgot it (lenient). */
  private readerSnap(rd: ReaderSlot, r: number, id: number): HeldSnapshot | null {
    const h = rd.snaps.get(id);
    if (h !== undefined) return h;
    if (this.lenient) return null;
    throw new HarnessError(`reader ${r} has no snapshot #${id} (harness bug)`);
  }

  private checkRead(what: string, src: ReadSource, usableSize: number, a: Expected): void {
    const problems = sourceProblems(src, usableSize, a, this.images);
    if (problems.length > 0) throw new HarnessError(`${what}: ${problems.join("; ")}`);
  }

  /** Run one action; returns the page allocate() gave (0 for other actions). */
  exec(a: Action): number {
    const pager = this.pager;
    switch (a.t) {
      case "begin":
        pager.begin();
        return 0;
      case "write": {
        const f = pager.get(a.pgno, "write");
        stamp(f.data, a.pgno, a.version);
        pager.unpin(f, true);
        return 0;
      }
      case "read": {
        // Reads its own transaction's writes: anything else is a bug before any crash.
        const f = pager.get(a.pgno);
        const same = sameBytes(f.data, stamped(pager.usableSize, a.pgno, a.version));
        pager.unpin(f);
        if (!same) throw new HarnessError(`page ${a.pgno} does not read back as v${a.version}`);
        return 0;
      }
      case "allocate": {
        const f = pager.allocate();
        stamp(f.data, f.pgno, a.version);
        pager.unpin(f, true);
        return f.pgno;
      }
      case "free":
        pager.free(a.pgno);
        return 0;
      case "slot":
        pager.setSlot(a.slot, a.value);
        return 0;
      case "commit": {
        const before = pager.stats().checkpoints;
        this.inFlight = true;
        pager.commit();
        this.returned(a.state);
        // The commit appended frames, so an empty log means its checkpoint reset it; one
        // that ran and could not (a snapshot behind) left the log at or past its limit.
        const after = pager.stats();
        if (after.checkpoints !== before && after.walFrames === 0) {
          this.autoCheckpoints++;
          this.checkpointed(pager);
        } else if (this.w.walAutoCheckpointPages > 0) {
          if (after.walFrames >= this.w.walAutoCheckpointPages) this.autoCheckpointsHeld++;
        }
        return 0;
      }
      case "rollback":
        pager.rollback();
        return 0;
      case "checkpoint": {
        this.inFlight = a.state >= 0;
        const lsnBefore = pager.checkpointLSN;
        const done =
          a.lsnBump === 0
            ? pager.checkpoint()
            : pager.checkpoint(pager.checkpointLSN + BigInt(a.lsnBump));
        this.returned(a.state);
        this.lastCheckpointDone = done;
        // Lenient: a restarted reader holds no more than its old self, unless its slot was
        // torn since (a tear lasts until the slot is rewritten, which differs then).
        const mustMatch = this.lenient
          ? a.done === true && !done && !this.tornInReplay
          : done !== a.done;
        if (a.done !== null && mustMatch) {
          const open = [...this.snaps].map(([id, h]) => `#${id} at S${h.state}`).join(", ");
          throw new HarnessError(
            `checkpoint() returned ${String(done)}, want ${a.done} ` +
              `(open snapshots: ${open === "" ? "none" : open})`,
          );
        }
        if (done) {
          this.checkpointed(pager);
        } else if (pager.checkpointLSN !== lsnBefore) {
          throw new HarnessError(
            `checkpoint() returned false but moved checkpointLSN from ${lsnBefore} to ` +
              `${pager.checkpointLSN}`,
          );
        }
        return 0;
      }
      case "close":
        this.writebacks += pager.stats().writebacks;
        this.inFlight = a.state >= 0;
        pager.close();
        this.returned(a.state);
        // A close that returned made every commit durable, readers or not: beside a reader
        // that holds the log, the log it leaves is synced (readers.md, rule 3; this harness
        // found it missing with sync "normal", seed 402).
        this.lastCheckpointed = this.lastReturned;
        // close() closed every snapshot first.
        for (const [id, h] of this.snaps) {
          const code = thrownCode(() => h.snap.get(2));
          if (!h.snap.closed || code !== "ERR_CLOSED") {
            throw new HarnessError(
              `after close, snapshot #${id} has closed = ${h.snap.closed} and get(2) threw ` +
                `${code}, want true and ERR_CLOSED`,
            );
          }
        }
        this.snaps.clear();
        if (this.readers.length > 0 && this.readers.every((r) => r.pager === null)) {
          // docs/design/readers.md, rule 3: no live reader, so the log goes.
          if (this.fs.exists(walPathOf(DB_PATH))) {
            throw new HarnessError("close with every reader closed left the log behind (rule 3)");
          }
        }
        return 0;
      case "open":
        this.pager = openDb(this.fs, this.w);
        this.checkpointed(this.pager);
        return 0;
      case "snap-open": {
        const snap = pager.snapshot();
        this.snaps.set(a.id, {
          snap,
          state: a.state,
          step: a.step,
          commits: pager.stats().commits,
        });
        this.checkSnapshotStats();
        return 0;
      }
      case "snap-close": {
        const h = this.held(a.id);
        h.snap.close();
        const code = thrownCode(() => h.snap.get(2));
        if (!h.snap.closed || code !== "ERR_CLOSED") {
          throw new HarnessError(
            `closed snapshot #${a.id} has closed = ${h.snap.closed} and get(2) threw ${code}, ` +
              "want true and ERR_CLOSED",
          );
        }
        h.snap.close(); // idempotent
        this.snaps.delete(a.id);
        this.checkSnapshotStats();
        return 0;
      }
      case "snap-read": {
        const h = this.held(a.id);
        const f = h.snap.get(a.pgno);
        const want = stamped(pager.usableSize, a.pgno, a.version);
        const same = f.pgno === a.pgno && sameBytes(f.data, want);
        const word = firstWord(f.data);
        h.snap.unpin(f);
        if (!same) {
          const v = this.images.get(a.pgno)?.get(word);
          const holds = v === undefined ? "bytes no action wrote to it" : `v${v}`;
          throw new HarnessError(
            `snapshot #${a.id} (taken at step ${h.step}, S${h.state}) read page ${a.pgno} ` +
              `as frame of page ${f.pgno} holding ${holds} (first word ${word}), want v${a.version}`,
          );
        }
        return 0;
      }
      case "snap-meta": {
        const h = this.held(a.id);
        const snap = h.snap;
        const problems: string[] = [];
        if (snap.closed) problems.push("closed is true");
        if (snap.pageCount !== a.pageCount) {
          problems.push(`pageCount ${snap.pageCount}, want ${a.pageCount}`);
        }
        for (let i = 0; i < SLOTS; i++) {
          const v = snap.getSlot(i);
          if (v !== a.slots[i]) problems.push(`slot ${i} = ${v}, want ${a.slots[i]}`);
        }
        for (const p of [1, a.pageCount + 1]) {
          const code = thrownCode(() => snap.unpin(snap.get(p)));
          if (code !== "ERR_PAGE_RANGE")
            problems.push(`get(${p}) threw ${code}, not ERR_PAGE_RANGE`);
        }
        if (problems.length > 0) {
          throw new HarnessError(
            `snapshot #${a.id} (taken at step ${h.step}, S${h.state}): ${problems.join("; ")}`,
          );
        }
        this.checkSnapshotStats();
        return 0;
      }
      case "rd-read": {
        const rd = this.reader(a.reader);
        if (!a.refresh && rd.viewVoid) return 0;
        if (a.refresh) {
          rd.pager.refresh();
          rd.view = a.state;
          rd.viewVoid = false;
        }
        const how = a.refresh ? "after a refresh" : "in its held view";
        this.checkRead(
          `reader ${a.reader} (pid ${rd.proc.pid}) ${how} is not S${a.state}`,
          rd.pager,
          rd.pager.usableSize,
          a,
        );
        return 0;
      }
      case "rd-snap-open": {
        const rd = this.reader(a.reader);
        const snap = rd.pager.snapshot(); // refreshes first: the view moves too
        rd.view = a.state;
        rd.viewVoid = false;
        rd.snaps.set(a.id, { snap, state: a.state, step: a.step, commits: 0 });
        this.checkRead(
          `reader ${a.reader}'s new snapshot #${a.id} is not S${a.state}`,
          snap,
          rd.pager.usableSize,
          a,
        );
        return 0;
      }
      case "rd-snap-read": {
        const rd = this.reader(a.reader);
        const h = this.readerSnap(rd, a.reader, a.id);
        if (h === null) return 0;
        this.checkRead(
          `reader ${a.reader}'s snapshot #${a.id} (taken at step ${h.step}) is not S${a.state}`,
          h.snap,
          rd.pager.usableSize,
          a,
        );
        return 0;
      }
      case "rd-snap-close": {
        const rd = this.reader(a.reader);
        const h = this.readerSnap(rd, a.reader, a.id);
        if (h === null) return 0;
        h.snap.close();
        const code = thrownCode(() => h.snap.get(2));
        if (!h.snap.closed || code !== "ERR_CLOSED") {
          throw new HarnessError(
            `reader ${a.reader}'s closed snapshot #${a.id} has closed = ${h.snap.closed} and ` +
              `get(2) threw ${code}, want true and ERR_CLOSED`,
          );
        }
        rd.snaps.delete(a.id);
        return 0;
      }
      case "rd-reopen": {
        const rd = this.reader(a.reader);
        rd.pager.close();
        rd.snaps.clear();
        rd.pager = openReader(rd.proc, this.w);
        rd.view = this.lastReturned;
        rd.viewVoid = false;
        return 0;
      }
      case "rd-kill": {
        const rd = this.reader(a.reader);
        rd.proc.kill();
        this.restart(rd);
        rd.viewVoid = false;
        return 0;
      }
      case "rd-tear":
        // The writer must count the slot as holding everything (readers.md, race G).
        this.reader(a.reader).proc.tearMark(DB_PATH);
        if (this.lenient) this.tornInReplay = true;
        return 0;
      case "rd-close-all":
        for (const rd of this.readers) {
          // A reader its armed kill killed holds nothing any more: nothing to close.
          if (!rd.proc.killed) rd.pager?.close();
          rd.pager = null;
          rd.snaps.clear();
        }
        return 0;
    }
  }

  private held(id: number): HeldSnapshot {
    const h = this.snaps.get(id);
    if (h === undefined) throw new HarnessError(`snapshot #${id} is not open (harness bug)`);
    return h;
  }

  /** stats() counts the open snapshots and the commits since the oldest was taken. */
  private checkSnapshotStats(): void {
    const st = this.pager.stats();
    let oldest = st.commits;
    for (const h of this.snaps.values()) oldest = Math.min(oldest, h.commits);
    const behind = st.commits - oldest;
    if (st.snapshots !== this.snaps.size || st.snapshotCommitsBehind !== behind) {
      throw new HarnessError(
        `stats() says ${st.snapshots} snapshots open, ${st.snapshotCommitsBehind} commits ` +
          `behind; want ${this.snaps.size} and ${behind}`,
      );
    }
  }

  /** A call that commits state `state` (-1: none) returned. */
  private returned(state: number): void {
    this.inFlight = false;
    if (state >= 0) this.lastReturned = state;
  }

  private checkpointed(pager: Pager): void {
    this.lastCheckpointed = this.lastReturned;
    this.checkpointLsn = pager.checkpointLSN;
  }

  /** True once the armed crash has fired (a checkpoint inside commit may swallow it). */
  crashed(): boolean {
    try {
      this.fs.exists(DB_PATH);
      return false;
    } catch (e) {
      if (isCrashError(e)) return true;
      throw e;
    }
  }
}

function pickFrom(keys: number[], pick: number): number {
  return keys[pick % keys.length];
}

/** What a snapshot of state `s` must show besides pages (the slots array is shared). */
function meta(s: DbState): { pageCount: number; slots: readonly number[] } {
  return { pageCount: s.pageCount, slots: s.slots };
}

/**
 * Run the workload without crashing: resolve the script into actions, record every
 * committed state, count what it exercised, and check the final state reads back.
 * Throws HarnessError naming the step on any pager error or model mismatch.
 */
export function referenceRun(w: Workload): Reference {
  const fs = new MemFS();
  const images = new Map<number, Map<number, number>>();
  const d = new Driver(fs, w, images);
  const base = fs.opCount;
  const actions: Action[] = [];
  const states: DbState[] = [emptyState()];
  const writers = new Map<number, { step: number; committed: boolean }>();
  const counts = {
    rollbacks: 0,
    explicitCheckpoints: 0,
    implicitCommits: 0,
    reopens: 0,
    snapshotsOpened: 0,
    snapshotReads: 0,
    checkpointsRefused: 0,
    checkpointsWithSnapshots: 0,
    readerPageReads: 0,
    readerRefreshes: 0,
    readerSnapshotsOpened: 0,
    readerReopens: 0,
    readerKills: 0,
    readerTears: 0,
    checkpointsHeldByReaders: 0,
    checkpointsDoneWithReaders: 0,
  };
  let pageCountMax = 1;
  /** The last committed state. */
  let cur = states[0];
  /**
   * The open transaction (implicit, or explicit while its step runs), or null. `changed`:
   * it made a change, so the pager has one open too and its commit is a real commit (an
   * explicit transaction of reads only commits nothing, though the model adds a state).
   */
  let txn: { state: DbState; versions: number[]; changed: boolean } | null = null;
  /** Commits the pager really made: what a snapshot is behind by. */
  let commitSeq = 0;
  /** The open snapshots, oldest first: id, the state they show, commitSeq then. */
  const snaps: { id: number; state: number; seq: number }[] = [];
  let snapIdNext = 1;
  /**
   * Each reader: the state of its view and commitSeq then (its mark while the view is
   * held, which in a campaign is always: the event loop never runs), its open snapshots.
   */
  const rds = Array.from({ length: w.readers }, () => ({
    view: 0,
    viewSeq: 0,
    /**
     * It has looked at the log since the last reset that may have happened (a checkpoint
     * that returned true, a close, an automatic checkpoint that emptied the log): its mark
     * names the current generation. A stale one counts as bound 0, holding everything.
     */
    fresh: true,
    /** Its slot was torn and may not have been written since (a new open writes it). */
    torn: false,
    snaps: [] as { id: number; state: number; seq: number }[],
  }));
  /** A reset may have happened: every reader's mark may name an older generation. */
  const mayHaveReset = () => {
    for (const rd of rds) rd.fresh = false;
  };

  const run = (a: Action): number => {
    actions.push(a);
    try {
      return d.exec(a);
    } catch (e) {
      const err = new HarnessError(
        `seed ${w.seed}: reference run (no crash): ${describe(a)} threw ${errorText(e)}`,
      );
      err.stack = `${err.message}\n${e instanceof Error ? e.stack : ""}`;
      throw err;
    }
  };
  const noteImage = (pgno: number, version: number, step: number) => {
    const img = stamped(usableSizeOf(w.pageSize), pgno, version);
    const byWord = images.get(pgno) ?? new Map<number, number>();
    images.set(pgno, byWord);
    byWord.set(firstWord(img), version);
    writers.set(version, { step, committed: false });
  };
  /** The open transaction, started (as the pager does) by its first change. */
  const open = () => {
    txn ??= { state: copyState(cur), versions: [], changed: false };
    return txn;
  };
  /** The open transaction, which has now changed something. */
  const change = () => {
    const t = open();
    t.changed = true;
    return t;
  };
  /** Index the open transaction's state will get if the next call commits it, else -1. */
  const nextState = () => (txn === null ? -1 : states.length);
  const committed = () => {
    if (txn === null) return;
    if (txn.changed) commitSeq++;
    states.push(txn.state);
    cur = txn.state;
    for (const v of txn.versions) {
      const wr = writers.get(v);
      if (wr !== undefined) wr.committed = true;
    }
    txn = null;
  };
  const closeSnapshot = (i: number, step: number) => {
    const [s] = snaps.splice(i, 1);
    run({ t: "snap-close", step, id: s.id });
  };
  const snapshotOp = (op: SnapshotOp, step: number) => {
    if (op.kind === "snap-open") {
      if (snaps.length >= WORKLOAD_SNAPSHOTS_OPEN_MAX) closeSnapshot(op.pick % snaps.length, step);
      const s = { id: snapIdNext++, state: states.length - 1, seq: commitSeq };
      snaps.push(s);
      counts.snapshotsOpened++;
      run({ t: "snap-open", step, id: s.id, state: s.state });
      const at = states[s.state];
      run({ t: "snap-meta", step, id: s.id, state: s.state, ...meta(at) });
    } else if (op.kind === "snap-close") {
      if (snaps.length > 0) closeSnapshot(op.pick % snaps.length, step);
    } else if (op.kind === "snap-close-all") {
      while (snaps.length > 0) closeSnapshot(snaps.length - 1, step);
    } else if (snaps.length > 0) {
      const s = snaps[op.pick % snaps.length];
      const at = states[s.state];
      const live = sortedKeys(at.live);
      for (let i = 0; i < op.pages && live.length > 0; i++) {
        const pgno = pickFrom(live, op.pick + i * 7);
        run({ t: "snap-read", step, id: s.id, pgno, version: at.live.get(pgno) ?? -1 });
        counts.snapshotReads++;
      }
      run({ t: "snap-meta", step, id: s.id, state: s.state, ...meta(at) });
    }
  };
  /** Up to `n` [pgno, version] of live pages of `at`, picked by `pick`. */
  const pickPages = (at: DbState, pick: number, n: number): [number, number][] => {
    const live = sortedKeys(at.live);
    const out: [number, number][] = [];
    for (let i = 0; i < n && live.length > 0; i++) {
      const pgno = pickFrom(live, pick + i * 7);
      out.push([pgno, at.live.get(pgno) ?? -1]);
    }
    return out;
  };
  const closeReaderSnap = (reader: number, i: number, step: number) => {
    const [s] = rds[reader].snaps.splice(i, 1);
    run({ t: "rd-snap-close", step, reader, id: s.id });
  };
  const readerOp = (op: ReaderOp, step: number) => {
    const reader = op.reader;
    const rd = rds[reader];
    // A reader sees the last commit that returned, never the open transaction (race E).
    const last = states.length - 1;
    const moveView = () => {
      rd.view = last;
      rd.viewSeq = commitSeq;
      rd.fresh = true;
    };
    if (op.kind === "rd-read") {
      if (op.refresh) {
        moveView();
        counts.readerRefreshes++;
      }
      const at = states[rd.view];
      const pages = pickPages(at, op.pick, op.pages);
      counts.readerPageReads += pages.length;
      const free = sortedKeys(at.free);
      const { refresh } = op;
      run({ t: "rd-read", step, reader, refresh, state: rd.view, ...meta(at), pages, free });
    } else if (op.kind === "rd-snap-open") {
      if (rd.snaps.length >= READER_SNAPSHOTS_OPEN_MAX) {
        closeReaderSnap(reader, op.pick % rd.snaps.length, step);
      }
      moveView(); // snapshot() refreshes first
      const s = { id: snapIdNext++, state: last, seq: commitSeq };
      rd.snaps.push(s);
      counts.readerSnapshotsOpened++;
      const at = states[last];
      const pages = pickPages(at, op.pick, 1);
      counts.readerPageReads += pages.length;
      run({ t: "rd-snap-open", step, reader, id: s.id, state: last, ...meta(at), pages });
    } else if (op.kind === "rd-snap-read") {
      if (rd.snaps.length === 0) return;
      const s = rd.snaps[op.pick % rd.snaps.length];
      const at = states[s.state];
      const pages = pickPages(at, op.pick, op.pages);
      counts.readerPageReads += pages.length;
      run({ t: "rd-snap-read", step, reader, id: s.id, state: s.state, ...meta(at), pages });
    } else if (op.kind === "rd-snap-close") {
      if (rd.snaps.length > 0) closeReaderSnap(reader, op.pick % rd.snaps.length, step);
    } else if (op.kind === "rd-tear") {
      rd.torn = true;
      counts.readerTears++;
      run({ t: "rd-tear", step, reader });
    } else {
      rd.torn = false;
      // A reopen closes its snapshots; a kill forgets them. Either way the new open's view
      // is the last commit.
      rd.snaps.length = 0;
      moveView();
      if (op.kind === "rd-reopen") counts.readerReopens++;
      else counts.readerKills++;
      run({ t: op.kind, step, reader });
    }
  };
  const writerSnapsAt = (seq: number) => snaps.every((s) => s.seq === seq);
  /** The commitSeq the next checkpoint sees: the implicit transaction it commits counts. */
  const seqNow = () => commitSeq + (txn?.changed === true ? 1 : 0);
  /**
   * What checkpoint() must return: false while a snapshot (the writer's or a reader's) or
   * a reader's held view is behind its own commit (docs/design/readers.md, rules 1, 2);
   * true when nothing is, without readers, and with readers when every one of them has
   * seen the current generation and the checkpoint names no new LSN (which an empty log
   * would take as an LSN-only commit of page 1, held back by any reader). Otherwise null:
   * the model does not follow generations through closes and automatic checkpoints.
   */
  const checkpointWant = (lsnBump: number): boolean | null => {
    const seq = seqNow();
    const readersAt = rds.every((rd) => rd.viewSeq === seq && rd.snaps.every((s) => s.seq === seq));
    if (!writerSnapsAt(seq) || !readersAt) return false;
    if (rds.length === 0) return true;
    // A torn slot holds everything until rewritten, which the model does not follow.
    return lsnBump === 0 && rds.every((rd) => rd.fresh && !rd.torn) ? true : null;
  };
  const applyOps = (ops: ScriptOp[], step: number) => {
    for (const op of ops) {
      if (isReaderOp(op)) {
        readerOp(op, step);
        continue;
      }
      if (op.kind === "slot") {
        run({ t: "slot", step, slot: op.slot, value: op.value });
        change().state.slots[op.slot] = op.value;
        continue;
      }
      if (
        op.kind === "snap-open" ||
        op.kind === "snap-close" ||
        op.kind === "snap-close-all" ||
        op.kind === "snap-read"
      ) {
        snapshotOp(op, step);
        continue;
      }
      // What the writer sees: its open transaction, else the last commit.
      const visible = txn === null ? cur : txn.state;
      const live = sortedKeys(visible.live);
      if (op.kind === "read" && live.length > 0) {
        // A read starts no transaction.
        const pgno = pickFrom(live, op.pick);
        run({ t: "read", step, pgno, version: visible.live.get(pgno) ?? -1 });
        continue;
      }
      const t = change();
      const work = t.state;
      // A write, free or read with no live page allocates instead.
      if (op.kind === "allocate" || live.length === 0) {
        const a: Action = { t: "allocate", step, pgno: 0, version: op.version };
        const pgno = run(a);
        a.pgno = pgno;
        if (work.free.has(pgno)) work.free.delete(pgno);
        else if (pgno === work.pageCount + 1) work.pageCount = pgno;
        else {
          throw new HarnessError(
            `seed ${w.seed}: reference run: ${describe(a)}: page ${pgno} is neither free ` +
              `nor the next page (${work.pageCount + 1})`,
          );
        }
        pageCountMax = Math.max(pageCountMax, work.pageCount);
        work.live.set(pgno, op.version);
        noteImage(pgno, op.version, step);
        t.versions.push(op.version);
      } else if (op.kind === "write") {
        const pgno = pickFrom(live, op.pick);
        run({ t: "write", step, pgno, version: op.version });
        work.live.set(pgno, op.version);
        noteImage(pgno, op.version, step);
        t.versions.push(op.version);
      } else if (op.kind === "free") {
        const pgno = pickFrom(live, op.pick);
        run({ t: "free", step, pgno });
        work.live.delete(pgno);
        work.free.add(pgno);
      }
    }
  };

  for (let step = 0; step < w.script.length; step++) {
    const s = w.script[step];
    if (s.kind === "checkpoint") {
      const writerHeld = !writerSnapsAt(seqNow());
      const a: Action = {
        t: "checkpoint",
        step,
        state: nextState(),
        lsnBump: s.lsnBump,
        done: checkpointWant(s.lsnBump),
      };
      run(a);
      const done = d.lastCheckpointDone;
      a.done = done; // the replays must repeat it
      if (!done && !writerHeld) counts.checkpointsHeldByReaders++;
      if (done && w.readers > 0) counts.checkpointsDoneWithReaders++;
      if (done) mayHaveReset();
      if (txn !== null) counts.implicitCommits++;
      committed();
      counts.explicitCheckpoints++;
      if (!done && writerHeld) counts.checkpointsRefused++;
      else if (done && snaps.length > 0) counts.checkpointsWithSnapshots++;
    } else if (s.kind === "reopen") {
      run({ t: "close", step, state: nextState() });
      if (txn !== null) counts.implicitCommits++;
      committed();
      snaps.length = 0; // close() closed them
      run({ t: "open", step });
      counts.reopens++;
      mayHaveReset();
    } else if (s.kind === "snapshots") {
      for (const op of s.ops) snapshotOp(op, step);
    } else if (s.kind === "readers") {
      for (const op of s.ops) readerOp(op, step);
    } else if (s.kind === "implicit") {
      applyOps(s.ops, step);
    } else {
      run({ t: "begin", step });
      open(); // begin() joins the implicit transaction, if there is one
      applyOps(s.ops, step);
      if (s.commit) {
        const autoBefore = d.autoCheckpoints;
        run({ t: "commit", step, state: nextState() });
        if (d.autoCheckpoints !== autoBefore) mayHaveReset();
        committed();
      } else {
        run({ t: "rollback", step });
        txn = null; // implicit work before begin() goes too
        counts.rollbacks++;
      }
    }
  }
  if (w.readers > 0) run({ t: "rd-close-all", step: w.script.length });
  run({ t: "close", step: w.script.length, state: nextState() });
  committed();
  const totalOps = fs.opCount - base;

  // The model itself must be right before any crash result means anything.
  const ref: Reference = {
    actions,
    states,
    images,
    writers,
    stats: {
      totalOps,
      commits: states.length - 1,
      writebacks: d.writebacks,
      autoCheckpoints: d.autoCheckpoints,
      autoCheckpointsHeld: d.autoCheckpointsHeld,
      ...counts,
      pageCountMax,
    },
  };
  const pager = openDb(fs, w);
  const snap = readSnapshot(pager, ref);
  const last = states.length - 1;
  const diffs = diffState(snap, states[last], ref);
  if (diffs.length > 0) {
    throw new HarnessError(
      `seed ${w.seed}: reference run (no crash): the final state is not S${last}: ` +
        diffs.join("; "),
    );
  }
  pager.close();
  return ref;
}

// ---- reading a state back ----

/** What a pager holds, page by page. */
export interface Snapshot {
  pageCount: number;
  slots: number[];
  /** Page -> version of its bytes; -1: bytes no action ever wrote to that page. */
  live: Map<number, number>;
  /** Pages get() refuses with ERR_PAGE_RANGE. */
  free: Set<number>;
  /** stats().freePages. */
  freeCount: number;
  /** Reads that failed other than with ERR_PAGE_RANGE. */
  errors: string[];
}

function firstWord(b: Uint8Array): number {
  return ((b[0] << 24) | (b[1] << 16) | (b[2] << 8) | b[3]) >>> 0;
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

export function readSnapshot(pager: Pager, ref: Reference): Snapshot {
  const pageCount = pager.pageCount;
  const snap: Snapshot = {
    pageCount,
    slots: [],
    live: new Map(),
    free: new Set(),
    freeCount: pager.stats().freePages,
    errors: [],
  };
  for (let i = 0; i < SLOTS; i++) snap.slots.push(pager.getSlot(i));
  for (let p = 2; p <= pageCount; p++) {
    let f: ReturnType<Pager["get"]>;
    try {
      f = pager.get(p);
    } catch (e) {
      if (errorCode(e) === "ERR_PAGE_RANGE") snap.free.add(p);
      else snap.errors.push(`get(${p}) threw ${errorText(e)}`);
      continue;
    }
    // The first word names the candidate version; the whole page must then match it.
    const v = ref.images.get(p)?.get(firstWord(f.data));
    snap.live.set(
      p,
      v !== undefined && sameBytes(f.data, stamped(pager.usableSize, p, v)) ? v : -1,
    );
    pager.unpin(f);
  }
  try {
    pager.get(pageCount + 1);
    snap.errors.push(`get(${pageCount + 1}) past pageCount ${pageCount} did not throw`);
  } catch (e) {
    if (errorCode(e) !== "ERR_PAGE_RANGE") {
      snap.errors.push(`get(${pageCount + 1}) threw ${errorText(e)}, not ERR_PAGE_RANGE`);
    }
  }
  return snap;
}

function versionText(v: number, ref: Reference): string {
  if (v < 0) return "bytes never written to it";
  const wr = ref.writers.get(v);
  const how = wr === undefined ? "" : wr.committed ? "" : ", a rolled-back write";
  return `v${v}${wr === undefined ? "" : ` (step ${wr.step}${how})`}`;
}

/** Every way `snap` differs from state `s`; empty when it is exactly `s`. */
export function diffState(snap: Snapshot, s: DbState, ref: Reference): string[] {
  const out: string[] = [...snap.errors];
  if (snap.pageCount !== s.pageCount) {
    out.push(`pageCount ${snap.pageCount}, want ${s.pageCount}`);
  }
  for (let i = 0; i < SLOTS; i++) {
    if (snap.slots[i] !== s.slots[i]) out.push(`slot ${i} = ${snap.slots[i]}, want ${s.slots[i]}`);
  }
  if (snap.freeCount !== s.free.size) {
    out.push(`stats().freePages ${snap.freeCount}, want ${s.free.size}`);
  }
  if (snap.freeCount !== snap.free.size) {
    out.push(`stats().freePages ${snap.freeCount} but ${snap.free.size} pages refuse get`);
  }
  const top = Math.max(snap.pageCount, s.pageCount);
  for (let p = 2; p <= top; p++) {
    const got = snap.live.get(p);
    const want = s.live.get(p);
    const gotFree = snap.free.has(p);
    const wantFree = s.free.has(p);
    if (want !== undefined) {
      if (got === undefined)
        out.push(`page ${p} ${gotFree ? "is free" : "is missing"}, want v${want}`);
      else if (got !== want) out.push(`page ${p} holds ${versionText(got, ref)}, want v${want}`);
    } else if (wantFree) {
      if (!gotFree) {
        out.push(
          got === undefined
            ? `page ${p} is missing, want free`
            : `page ${p} is live (${versionText(got, ref)}), want free`,
        );
      }
    } else if (got !== undefined || gotFree) {
      out.push(`page ${p} exists, want it past pageCount`);
    }
  }
  return out;
}

// ---- crash points ----

/** The crash seeds of variant 0..variants-1 at point k: none, then seeded tears. */
export function crashSeedsFor(k: number, variants: number): (number | undefined)[] {
  const seeds: (number | undefined)[] = [undefined];
  for (let v = 1; v < variants; v++) seeds.push(k * 16 + v);
  return seeds;
}

/** `n` crash points of 0..totalOps (every one when n > totalOps), ascending. */
export function samplePoints(totalOps: number, n: number, seed: number): number[] {
  const all = Array.from({ length: totalOps + 1 }, (_, i) => i);
  if (n >= all.length) return all;
  const rng = new Prng(mixSeed(seed) ^ 0x5a17);
  for (let i = 0; i < n; i++) {
    const j = i + rng.int(all.length - i);
    [all[i], all[j]] = [all[j], all[i]];
  }
  return all.slice(0, n).sort((a, b) => a - b);
}

interface Replayed {
  fs: MemFS;
  driver: Driver;
  site: CrashSite;
  /** Description of the action the power failed in (the victim died in). */
  at: string;
}

/**
 * Fresh MemFS, create, arm the crash (`power`: power loss; `kill-writer`: the writer's
 * process alone dies) at call `k`, run the actions until it fires. `kill-reader`: arm the
 * kill of reader k mod K at call k and run every action (the reader restarts at its next
 * call); `site` and `at` say where it died.
 */
function replayTo(w: Workload, ref: Reference, k: number, kind: CrashKind): Replayed {
  const fs = new MemFS();
  const d = new Driver(fs, w, ref.images);
  const victim = kind === "kill-reader" ? k % w.readers : -1;
  if (kind === "power") fs.armCrash(k);
  else if (kind === "kill-writer") fs.armKill(k);
  else d.armReaderKill(victim, k);
  const stopped = (): boolean =>
    kind === "power" ? d.crashed() : kind === "kill-writer" ? fs.killed : false;
  const victimDied = (): boolean => victim >= 0 && d.readers[victim].proc.killed;
  let site: CrashSite = "none";
  let at = "after the last action";
  for (const a of ref.actions) {
    let pgno: number;
    const aliveBefore = victim >= 0 && !victimDied();
    try {
      pgno = d.exec(a);
    } catch (e) {
      const fired = (kind === "power" && isCrashError(e)) || stopped();
      if (!fired) {
        throw new HarnessError(`${describe(a)} threw ${errorText(e)} before the crash`);
      }
      site = siteOf(a);
      at = describe(a);
      break;
    }
    if (a.t === "allocate" && pgno !== a.pgno) {
      throw new HarnessError(
        `${describe(a)}: allocate gave page ${pgno}, the reference run got ${a.pgno} ` +
          "(the workload does not replay deterministically)",
      );
    }
    if (aliveBefore && victimDied()) {
      site = siteOf(a);
      at = describe(a);
    }
    if (stopped()) {
      // An automatic checkpoint swallows the error: the commit's, or the retry of one a
      // reader held back at a transaction's first write (docs/design/readers.md, rule 6).
      site = a.t === "commit" ? "auto-checkpoint" : siteOf(a);
      at = `${describe(a)}, ${a.t === "commit" ? "its automatic checkpoint" : "which returned normally"}`;
      break;
    }
  }
  if (site === "none" && k < ref.stats.totalOps) {
    throw new HarnessError(
      `the ${kind} armed at call ${k} of ${ref.stats.totalOps} never fired ` +
        "(the workload does not replay deterministically)",
    );
  }
  return { fs, driver: d, site, at };
}

/** Fresh MemFS, create, arm the crash at `k`, run the actions until the power fails. */
function replayToCrash(w: Workload, ref: Reference, k: number): Replayed {
  return replayTo(w, ref, k, "power");
}

function siteOf(a: Action): CrashSite {
  switch (a.t) {
    case "commit":
    case "checkpoint":
    case "close":
    case "open":
      return a.t;
    case "snap-open":
    case "snap-close":
    case "snap-read":
    case "snap-meta":
      return "snapshot";
    case "rd-read":
    case "rd-snap-open":
    case "rd-snap-read":
    case "rd-snap-close":
    case "rd-reopen":
    case "rd-kill":
    case "rd-tear":
    case "rd-close-all":
      return "reader";
    default:
      return "txn-op";
  }
}

/**
 * What a crash may leave: one of the committed states S_lo..S_hi, and a checkpoint LSN no
 * lower than `lsn`, the one a checkpoint that returned recorded.
 */
interface Allowed {
  lo: number;
  hi: number;
  lsn: bigint;
}

function allowedAfter(w: Workload, d: Driver): Allowed {
  const hi = d.lastReturned + (d.inFlight ? 1 : 0);
  return { lo: w.sync === "full" ? d.lastReturned : d.lastCheckpointed, hi, lsn: d.checkpointLsn };
}

/**
 * Open after a crash and match the state against what is allowed (and, when given,
 * against `same`, a snapshot the state must equal). Returns the snapshot, the open's
 * mutating calls and the open pager, or the reason it failed.
 */
function openAndCheck(
  fs: MemFS,
  w: Workload,
  ref: Reference,
  allowed: Allowed,
  what: string,
  same: Snapshot | null,
): { snap: Snapshot; openOps: number; pager: Pager } | string {
  const before = fs.opCount;
  let pager: Pager;
  try {
    pager = openDb(fs, w);
  } catch (e) {
    return `${what}: open failed: ${errorText(e)}`;
  }
  const openOps = fs.opCount - before;
  let snap: Snapshot;
  try {
    snap = readSnapshot(pager, ref);
  } catch (e) {
    return `${what}: reading the state back threw ${errorText(e)}`;
  }
  const problem = matchState(snap, ref, allowed.lo, allowed.hi);
  if (problem !== null) return `${what}: ${problem}`;
  if (pager.checkpointLSN < allowed.lsn) {
    return (
      `${what}: checkpointLSN ${pager.checkpointLSN} is below ${allowed.lsn}, recorded by ` +
      "a checkpoint that returned"
    );
  }
  if (same !== null) {
    const diffs = diffSnapshots(snap, same);
    if (diffs.length > 0) {
      return `${what}: not the state the uninterrupted recovery found: ${diffs.join("; ")}`;
    }
  }
  return { snap, openOps, pager };
}

/** null when `snap` is exactly one of S_lo..S_hi; otherwise what is wrong. */
export function matchState(snap: Snapshot, ref: Reference, lo: number, hi: number): string | null {
  const states = ref.states;
  const matches: number[] = [];
  for (let i = 0; i < states.length; i++) {
    if (diffState(snap, states[i], ref).length === 0) matches.push(i);
  }
  const range = lo === hi ? `S${lo}` : `one of S${lo}..S${hi}`;
  if (matches.some((i) => i >= lo && i <= hi)) return null;
  if (matches.length > 0) {
    const i = matches[matches.length - 1];
    const why = i < lo ? "a commit that returned was lost" : "a commit that never ran is visible";
    return `the state is S${i}, want ${range} (${why})`;
  }
  const shown = (i: number) => {
    const d = diffState(snap, states[i], ref);
    const more = d.length > DIFFS_SHOWN_MAX ? `; ... ${d.length - DIFFS_SHOWN_MAX} more` : "";
    return `vs S${i}: ${d.slice(0, DIFFS_SHOWN_MAX).join("; ")}${more}`;
  };
  const against = lo === hi ? shown(lo) : `${shown(lo)} | ${shown(hi)}`;
  return `the state is no committed state (half a transaction?), want ${range}: ${against}`;
}

function diffSnapshots(a: Snapshot, b: Snapshot): string[] {
  const out: string[] = [];
  if (a.pageCount !== b.pageCount) out.push(`pageCount ${a.pageCount} vs ${b.pageCount}`);
  for (let i = 0; i < SLOTS; i++) {
    if (a.slots[i] !== b.slots[i]) out.push(`slot ${i} ${a.slots[i]} vs ${b.slots[i]}`);
  }
  for (let p = 2; p <= Math.max(a.pageCount, b.pageCount); p++) {
    const x = a.free.has(p) ? "free" : `v${a.live.get(p)}`;
    const y = b.free.has(p) ? "free" : `v${b.live.get(p)}`;
    if (x !== y) out.push(`page ${p} ${x} vs ${y}`);
  }
  return out;
}

/** Close a pager that passed the checks, reopen it cleanly and require the same state. */
function closeReopenCheck(
  fs: MemFS,
  w: Workload,
  ref: Reference,
  pager: Pager,
  snap: Snapshot,
  allowed: Allowed,
  what: string,
): string | null {
  try {
    pager.close();
  } catch (e) {
    return `${what}: close after recovery threw ${errorText(e)}`;
  }
  const again = openAndCheck(fs, w, ref, allowed, `${what}, clean reopen`, snap);
  if (typeof again === "string") return again;
  try {
    again.pager.close();
  } catch (e) {
    return `${what}: second close threw ${errorText(e)}`;
  }
  return null;
}

/** The recovery crash of (point, crash seed): after how many of the open's calls, what seed. */
function recoveryCrashFor(
  w: Workload,
  k: number,
  crashSeed: number | undefined,
  openOps: number,
): { afterOps: number; crashSeed: number | undefined } {
  const rng = new Prng(mixSeed(w.seed ^ mixSeed(k)) ^ mixSeed((crashSeed ?? -1) + 1));
  const afterOps = rng.int(Math.max(1, openOps));
  const seeded = rng.int(3) !== 0;
  return { afterOps, crashSeed: seeded ? rng.int(1_000_000) : undefined };
}

/**
 * Check crash point `k` under one crash seed: crash, open, match, close, reopen, match;
 * then crash again inside the recovery and require the same state.
 */
export function checkCrashPoint(
  w: Workload,
  ref: Reference,
  k: number,
  crashSeed: number | undefined,
): PointResult {
  const failures: Failure[] = [];
  const fail = (message: string, recovery?: Failure["recovery"]) => {
    failures.push({
      seed: w.seed,
      steps: w.steps,
      sync: w.sync,
      pageSize: w.pageSize,
      snapshots: w.snapshots,
      readers: w.readers,
      kind: "power",
      point: k,
      crashSeed,
      recovery,
      message,
    });
  };

  let first: Replayed;
  try {
    first = replayToCrash(w, ref, k);
  } catch (e) {
    fail(`replay: ${errorText(e)}`);
    return { site: "none", failures, recoveryCrashes: 0 };
  }
  const allowed = allowedAfter(w, first.driver);
  const site = first.site;
  first.fs.crash({ seed: crashSeed });
  const crashed = `power failed in ${first.at} (site ${site})`;
  const opened = openAndCheck(first.fs, w, ref, allowed, `${crashed}, recovery`, null);
  if (typeof opened === "string") {
    fail(opened);
    return { site, failures, recoveryCrashes: 0 };
  }
  const snap = opened.snap;
  const problem = closeReopenCheck(first.fs, w, ref, opened.pager, snap, allowed, crashed);
  if (problem !== null) fail(problem);

  // The same crash again, then a second power failure inside the recovery itself.
  const rc = recoveryCrashFor(w, k, crashSeed, opened.openOps);
  let recoveryCrashes = 0;
  let second: Replayed;
  try {
    second = replayToCrash(w, ref, k);
  } catch (e) {
    fail(`second replay: ${errorText(e)}`, rc);
    return { site, failures, recoveryCrashes };
  }
  second.fs.crash({ seed: crashSeed });
  second.fs.armCrash(rc.afterOps);
  const during = `${crashed}, then again after ${rc.afterOps} of the recovery's ${opened.openOps} calls`;
  try {
    openDb(second.fs, w); // dies with the power below either way
  } catch (e) {
    if (!isCrashError(e)) {
      fail(`${during}: the interrupted open threw ${errorText(e)}, not ERR_CRASHED`, rc);
      return { site, failures, recoveryCrashes };
    }
    recoveryCrashes++;
  }
  second.fs.crash({ seed: rc.crashSeed });
  const reopened = openAndCheck(second.fs, w, ref, allowed, `${during}: recovery`, snap);
  if (typeof reopened === "string") {
    fail(reopened, rc);
    return { site, failures, recoveryCrashes };
  }
  const again = closeReopenCheck(second.fs, w, ref, reopened.pager, snap, allowed, during);
  if (again !== null) fail(again, rc);
  return { site, failures, recoveryCrashes };
}

// ---- kills: the death of one process (with readers) ----

/** Register the image of page `pgno` at `version` (the tail's writes), for readSnapshot. */
function noteTailImage(ref: Reference, usableSize: number, pgno: number, version: number): void {
  const byWord = ref.images.get(pgno) ?? new Map<number, number>();
  ref.images.set(pgno, byWord);
  byWord.set(firstWord(stamped(usableSize, pgno, version)), version);
}

/** The highest of S_lo..S_hi that `snap` is exactly, or -1. */
function matchIndex(snap: Snapshot, ref: Reference, lo: number, hi: number): number {
  for (let i = hi; i >= lo; i--) if (diffState(snap, ref.states[i], ref).length === 0) return i;
  return -1;
}

/** The highest of S_lo..S_hi a reader's view is exactly, or what is wrong. */
function matchView(src: ReadSource, usableSize: number, ref: Reference, lo: number, hi: number) {
  let first: string[] = [];
  for (let i = hi; i >= lo; i--) {
    const problems = sourceProblems(src, usableSize, expectAll(ref.states[i], false), ref.images);
    if (problems.length === 0) return i;
    if (i === hi) first = problems;
  }
  const range = lo === hi ? `S${lo}` : `one of S${lo}..S${hi}`;
  const shown = first.slice(0, DIFFS_SHOWN_MAX).join("; ");
  throw new HarnessError(`the view is not ${range}: vs S${hi}: ${shown}`);
}

/** Every open snapshot of every reader reads exactly the state it was taken at. */
function checkReaderSnapshots(d: Driver, ref: Reference, when: string): void {
  d.readers.forEach((rd, r) => {
    if (rd.pager === null) return;
    for (const [id, h] of rd.snaps) {
      const want = expectAll(ref.states[h.state], true);
      const problems = sourceProblems(h.snap, rd.pager.usableSize, want, ref.images);
      if (problems.length > 0) {
        throw new HarnessError(
          `${when}, reader ${r}'s snapshot #${id} (taken at step ${h.step}) is not S${h.state}: ` +
            problems.slice(0, DIFFS_SHOWN_MAX).join("; "),
        );
      }
    }
  });
}

/** Every open reader refreshes and must then show exactly `want`. */
function checkReadersSee(d: Driver, ref: Reference, want: DbState, when: string): void {
  d.readers.forEach((rd, r) => {
    if (rd.pager === null) return;
    rd.pager.refresh();
    const problems = sourceProblems(
      rd.pager,
      rd.pager.usableSize,
      expectAll(want, false),
      ref.images,
    );
    if (problems.length > 0) {
      throw new HarnessError(
        `${when}, reader ${r} (pid ${rd.proc.pid}) after a refresh: ` +
          problems.slice(0, DIFFS_SHOWN_MAX).join("; "),
      );
    }
  });
}

/**
 * After the writer's death at a kill point: the readers' snapshots and views, the next
 * writer's recovery beside them (docs/design/readers.md, "What a crash leaves" and rule
 * 5), its commits as the readers see them, its checkpoints under their marks (rules 1, 2),
 * its close beside them (rule 3). Returns the first problem, or null.
 */
function afterWriterKill(w: Workload, ref: Reference, r: Replayed): string | null {
  const d = r.driver;
  const lo = d.lastReturned;
  const hi = d.lastReturned + (d.inFlight ? 1 : 0);
  const open = d.readers.filter((rd) => rd.pager !== null);
  let stage = "the readers' snapshots after the kill";
  try {
    checkReaderSnapshots(d, ref, "after the kill");
    // A reader follows the dead writer's log: every commit it finished, none it did not.
    stage = "the readers' refresh after the kill";
    let seen = -1;
    d.readers.forEach((rd, i) => {
      if (rd.pager === null) return;
      rd.pager.refresh();
      let got: number;
      try {
        got = matchView(rd.pager, rd.pager.usableSize, ref, lo, hi);
      } catch (e) {
        throw new HarnessError(`reader ${i}: ${errorText(e)}`);
      }
      if (seen >= 0 && diffState(snapshotOf(ref.states[got]), ref.states[seen], ref).length > 0) {
        throw new HarnessError(`reader ${i} sees S${got}, another reader S${seen}`);
      }
      seen = got;
    });
    stage = "the next writer's open beside the readers (rule 5)";
    const proc = r.fs.process();
    const next = openDb(proc, w);
    const recovered = readSnapshot(next, ref);
    const problem = matchState(recovered, ref, lo, hi);
    if (problem !== null) throw new HarnessError(problem);
    const at = matchIndex(recovered, ref, lo, hi);
    // The readers saw what the dead writer published (docs/design/group-commit.md, R6):
    // the commit in flight may be durable and recovered, but was never published.
    if (seen >= 0 && at < seen && diffState(recovered, ref.states[seen], ref).length > 0) {
      throw new HarnessError(`it recovered S${at}, but the readers see S${seen}`);
    }
    stage = "the readers after the recovery";
    checkReaderSnapshots(d, ref, "after the recovery");
    let state = copyState(ref.states[at]);
    checkReadersSee(d, ref, state, "after the recovery");
    // The tail: the new writer's commits, each seen exactly by every reader.
    const usable = next.usableSize;
    for (let j = 0; j < TAIL_COMMITS; j++) {
      stage = `tail commit ${j + 1} of ${TAIL_COMMITS}`;
      const s = copyState(state);
      const version = TAIL_VERSION_BASE + 2 * j;
      next.begin();
      const live = sortedKeys(s.live);
      if (live.length > 0) {
        const pgno = live[(j * 5 + r.driver.w.seed) % live.length];
        const f = next.get(pgno, "write");
        stamp(f.data, pgno, version);
        next.unpin(f, true);
        s.live.set(pgno, version);
        noteTailImage(ref, usable, pgno, version);
      }
      const f = next.allocate();
      const pgno = f.pgno;
      stamp(f.data, pgno, version + 1);
      next.unpin(f, true);
      if (s.free.has(pgno)) s.free.delete(pgno);
      else if (pgno === s.pageCount + 1) s.pageCount = pgno;
      else throw new HarnessError(`allocate gave page ${pgno}: neither free nor the next page`);
      s.live.set(pgno, version + 1);
      noteTailImage(ref, usable, pgno, version + 1);
      next.setSlot(j % SLOTS, version);
      s.slots[j % SLOTS] = version;
      next.commit();
      state = s;
      checkReadersSee(d, ref, state, `after tail commit ${j + 1}`);
      checkReaderSnapshots(d, ref, `after tail commit ${j + 1}`);
    }
    // Under the readers' snapshots (all older than the tail) a checkpoint copies home
    // only what they cannot see and does not reset: false (rules 1 and 2).
    stage = "a checkpoint under the readers' snapshots";
    const held = open.some((rd) => rd.snaps.size > 0);
    const done = next.checkpoint();
    if (done === held) {
      throw new HarnessError(
        `checkpoint() returned ${done} with ${held ? "reader snapshots behind" : "every reader at the last commit"}`,
      );
    }
    checkReaderSnapshots(d, ref, "after that checkpoint");
    checkReadersSee(d, ref, state, "after that checkpoint");
    stage = "a checkpoint once the readers let go";
    for (const rd of open) {
      for (const h of rd.snaps.values()) h.snap.close();
      rd.snaps.clear();
    }
    checkReadersSee(d, ref, state, "after their snapshots closed");
    if (!next.checkpoint()) {
      throw new HarnessError("checkpoint() returned false with every reader at the last commit");
    }
    const lags = next.stats().readers;
    const pids = open.map((rd) => rd.proc.pid).sort((a, b) => a - b);
    const listed = lags.map((l) => l.pid).sort((a, b) => a - b);
    if (listed.join() !== pids.join() || lags.some((l) => l.framesBehind !== 0)) {
      throw new HarnessError(
        `stats().readers is ${JSON.stringify(lags)}, want pids ${pids.join(", ")} 0 frames behind`,
      );
    }
    stage = "the next writer's close beside the readers (rule 3)";
    next.close();
    const walPath = walPathOf(DB_PATH);
    if (open.length > 0 && !proc.exists(walPath)) {
      throw new HarnessError("the close deleted the log under live readers");
    }
    checkReadersSee(d, ref, state, "after the writer closed");
    for (const rd of open) {
      rd.pager?.close();
      rd.pager = null;
    }
    stage = "a writer after the readers closed";
    const last = openDb(r.fs.process(), w);
    const final = readSnapshot(last, ref);
    const diffs = diffState(final, state, ref);
    if (diffs.length > 0) {
      throw new HarnessError(
        `not the last tail commit: ${diffs.slice(0, DIFFS_SHOWN_MAX).join("; ")}`,
      );
    }
    last.close();
    if (proc.exists(walPath)) throw new HarnessError("its close, with no reader, kept the log");
  } catch (e) {
    return `writer killed in ${r.at} (site ${r.site}): ${stage}: ${errorText(e)}`;
  }
  return null;
}

/** A Snapshot that is exactly `s` (to compare two states with diffState). */
function snapshotOf(s: DbState): Snapshot {
  return {
    pageCount: s.pageCount,
    slots: [...s.slots],
    live: new Map(s.live),
    free: new Set(s.free),
    freeCount: s.free.size,
    errors: [],
  };
}

/** A failure of kill point `k` (no crash seed: a kill loses nothing). */
function killFailure(w: Workload, kind: CrashKind, k: number, message: string): Failure {
  return {
    seed: w.seed,
    steps: w.steps,
    sync: w.sync,
    pageSize: w.pageSize,
    snapshots: w.snapshots,
    readers: w.readers,
    kind,
    point: k,
    crashSeed: undefined,
    message,
  };
}

/** Kill the writer's process alone at call `k`, then check the readers and the next writer. */
export function checkWriterKill(w: Workload, ref: Reference, k: number): PointResult {
  let r: Replayed;
  try {
    r = replayTo(w, ref, k, "kill-writer");
  } catch (e) {
    const f = killFailure(w, "kill-writer", k, `replay: ${errorText(e)}`);
    return { site: "none", failures: [f], recoveryCrashes: 0 };
  }
  if (r.site === "none") return { site: "none", failures: [], recoveryCrashes: 0 };
  const problem = afterWriterKill(w, ref, r);
  const failures = problem === null ? [] : [killFailure(w, "kill-writer", k, problem)];
  return { site: r.site, failures, recoveryCrashes: 0 };
}

/**
 * Kill reader k mod K at call `k` and run the workload on: every read still exact, no
 * checkpoint held back that the uninterrupted run completed, the log gone after the last
 * close (the Driver checks those); then the last commit opens.
 */
export function checkReaderKill(w: Workload, ref: Reference, k: number): PointResult {
  let r: Replayed;
  try {
    r = replayTo(w, ref, k, "kill-reader");
  } catch (e) {
    const f = killFailure(w, "kill-reader", k, `replay: ${errorText(e)}`);
    return { site: "none", failures: [f], recoveryCrashes: 0 };
  }
  if (r.site === "none") return { site: "none", failures: [], recoveryCrashes: 0 };
  const what = `reader ${k % w.readers} killed in ${r.at} (site ${r.site})`;
  let message: string | null = null;
  try {
    const pager = openDb(r.fs, w);
    const last = ref.states.length - 1;
    const diffs = diffState(readSnapshot(pager, ref), ref.states[last], ref);
    if (diffs.length > 0) message = `${what}: the final state is not S${last}: ${diffs.join("; ")}`;
    pager.close();
  } catch (e) {
    message = `${what}: the final open: ${errorText(e)}`;
  }
  const failures = message === null ? [] : [killFailure(w, "kill-reader", k, message)];
  return { site: r.site, failures, recoveryCrashes: 0 };
}

/** Everything a failure needs to be replayed, on one line. */
export function formatFailure(f: Failure): string {
  const cs = f.crashSeed === undefined ? "none" : String(f.crashSeed);
  const rec =
    f.recovery === undefined
      ? ""
      : `, recovery crash after ${f.recovery.afterOps} ops with crash seed ` +
        `${f.recovery.crashSeed === undefined ? "none" : f.recovery.crashSeed}`;
  const pageSize = f.pageSize === 512 ? "" : ` --page-size ${f.pageSize}`;
  const snapshots = f.snapshots ? " --snapshots" : "";
  const readers = f.readers > 0 ? ` --readers ${f.readers}` : "";
  const power = f.kind === "power";
  const how = power ? `crash seed ${cs}${rec}` : f.kind;
  return (
    `workload seed ${f.seed} (${f.steps} steps, sync ${f.sync}, pageSize ${f.pageSize}` +
    `${f.snapshots ? ", snapshots" : ""}${f.readers > 0 ? `, ${f.readers} readers` : ""}), ` +
    `crash point k=${f.point}, ${how}: ${f.message}\n  replay: npm run crash -- --seed ` +
    `${f.seed} --steps ${f.steps} --sync ${f.sync}${pageSize}${snapshots}${readers} ` +
    `--point ${f.point} ${power ? `--crash-seed ${cs}` : `--kinds ${f.kind}`}`
  );
}

// ---- campaigns ----

export interface CampaignOptions extends WorkloadOptions {
  /** Crash points to check: every one of 0..T when absent or >= T + 1, else a sample. */
  points?: number;
  /** Exactly these crash points (overrides `points`). */
  pointList?: number[];
  /** Crash variants per point (crash seed none, then seeded tears); default 3. */
  variants?: number;
  /** Only this crash seed (undefined: no seed) instead of the variants. */
  onlyCrashSeed?: { seed: number | undefined };
  /** Called after each crash point with the points done so far. */
  onProgress?: (done: number, total: number, failures: number) => void;
  /** Stop after this many failures (default: never). */
  failuresMax?: number;
  /**
   * What to do at each point (default all): power loss under the variants; with readers,
   * the writer's kill and a reader's kill too.
   */
  kinds?: readonly CrashKind[];
}

export interface CampaignResult {
  workload: Workload;
  reference: Reference;
  /** (crash point, crash seed) pairs checked, each with its recovery crash. */
  checked: number;
  /** Recovery crashes that really interrupted an open. */
  recoveryCrashes: number;
  failures: Failure[];
  /** Checked crash points by where the power failed. */
  sites: Record<CrashSite, number>;
  /** With readers: kill points checked (the writer's, a reader's), by where it died. */
  writerKills: number;
  readerKills: number;
  writerKillSites: Record<CrashSite, number>;
  readerKillSites: Record<CrashSite, number>;
}

export function runCampaign(o: CampaignOptions): CampaignResult {
  const w = makeWorkload(o);
  const ref = referenceRun(w);
  const total = ref.stats.totalOps;
  const points = o.pointList ?? samplePoints(total, o.points ?? Number.POSITIVE_INFINITY, o.seed);
  const sites = newSiteCounts();
  const failures: Failure[] = [];
  let checked = 0;
  let recoveryCrashes = 0;
  let done = 0;
  const kinds = o.kinds ?? ["power", "kill-writer", "kill-reader"];
  const writerKillSites = newSiteCounts();
  const readerKillSites = newSiteCounts();
  let writerKills = 0;
  let readerKills = 0;
  for (const k of points) {
    const seeds =
      o.onlyCrashSeed !== undefined ? [o.onlyCrashSeed.seed] : crashSeedsFor(k, o.variants ?? 3);
    for (const cs of kinds.includes("power") ? seeds : []) {
      const r = checkCrashPoint(w, ref, k, cs);
      checked++;
      sites[r.site]++;
      recoveryCrashes += r.recoveryCrashes;
      failures.push(...r.failures);
    }
    if (w.readers > 0 && k < total) {
      if (kinds.includes("kill-writer")) {
        const r = checkWriterKill(w, ref, k);
        writerKills++;
        writerKillSites[r.site]++;
        failures.push(...r.failures);
      }
      if (kinds.includes("kill-reader")) {
        const r = checkReaderKill(w, ref, k);
        readerKills++;
        readerKillSites[r.site]++;
        failures.push(...r.failures);
      }
    }
    done++;
    o.onProgress?.(done, points.length, failures.length);
    if (o.failuresMax !== undefined && failures.length >= o.failuresMax) break;
  }
  return {
    workload: w,
    reference: ref,
    checked,
    recoveryCrashes,
    failures,
    sites,
    writerKills,
    readerKills,
    writerKillSites,
    readerKillSites,
  };
}

/** A zero count for every crash site. */
export function newSiteCounts(): Record<CrashSite, number> {
  return {
    "txn-op": 0,
    commit: 0,
    "auto-checkpoint": 0,
    checkpoint: 0,
    close: 0,
    open: 0,
    snapshot: 0,
    reader: 0,
    none: 0,
  };
}
