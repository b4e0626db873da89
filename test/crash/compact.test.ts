// Crash campaigns of db.compact() over MemFS (docs/design/compact.md, "Crash points"): the
// power fails at every mutating file-system call a compact() run makes (its packing and
// moving transactions, the shrink, the checkpoint that cuts the file and resets the log),
// under two crash variants (every unsynced write lost; or each kept, lost or torn by a
// seed). After each crash the database opens, holds exactly the key/value state it had
// before compact() (compaction changes no data), check() is clean, and a compact() run
// after the recovery ends at the page count and file size of the uninterrupted run.
// Each failure names the sync mode, the point and the crash seed.

import assert from "node:assert/strict";
import { test } from "node:test";
import { Database as Db } from "../../src/db/db.js";
import { type Database, open } from "../../src/index.js";
import { Pager } from "../../src/pager/pager.js";
import { MemFS } from "../../src/vfs/memfs.js";
import { mixSeed, Prng } from "../../src/vfs/prng.js";

const PATH = "/compact.pkv";
const PAGE_SIZE = 512;
/** Small transactions, so that a run has many commits (and crash points between them). */
const MOVES_PER_TXN = 12;

type Sync = "full" | "normal";
type State = Map<string, string>;

function contents(db: Database): State {
  const m: State = new Map();
  for (const [k, v] of db.range())
    m.set(Buffer.from(k).toString("hex"), Buffer.from(v).toString("hex"));
  return m;
}

/**
 * The image compaction starts from: keys of random sizes, some values in overflow chains,
 * most of them deleted, checkpointed and closed (the log is gone: the main file is all).
 */
function startImage(seed: number): Uint8Array {
  const fs = new MemFS();
  const db = open(PATH, { vfs: fs, pageSize: PAGE_SIZE, cacheBytes: 0 });
  const prng = new Prng(seed);
  const keys: string[] = [];
  for (let i = 0; i < 700; i++) keys.push(`k${prng.nextU32().toString(36)}${i}`);
  db.batch(
    keys.map((k, i) => ({
      type: "put",
      key: k,
      value: new Uint8Array(i % 11 === 0 ? 700 + prng.int(900) : 10 + prng.int(40)).fill(i & 0xff),
    })),
  );
  db.batch(keys.filter((_, i) => i % 4 !== 0).map((k) => ({ type: "del", key: k })));
  db.close();
  return fs.readDurable(PATH);
}

/** A machine holding `image` as the database file, durable. */
function machineWith(image: Uint8Array): MemFS {
  const fs = new MemFS();
  const f = fs.open(PATH, { create: true });
  f.writeAt(image, 0);
  f.sync();
  f.close();
  return fs;
}

function openDb(fs: MemFS, sync: Sync, debug: boolean): Database {
  if (!debug) return open(PATH, { vfs: fs, sync, cacheBytes: 16 * PAGE_SIZE });
  return new Db(Pager.open(fs, PATH, { sync, cacheFrames: 16, debug: true }), false);
}

interface Reference {
  state: State;
  ops: number;
  pagesAfter: number;
  transactions: number;
}

/**
 * The run the power fails in: compact(), or with `snapshot` a compact() beside a snapshot
 * of the state before (which holds the cut back), the snapshot's close and a checkpoint
 * (which cuts the file).
 */
function run(db: Database, snapshot: boolean): { pagesAfter: number; transactions: number } {
  const snap = snapshot ? db.snapshot() : null;
  try {
    const r = db.compact({ movesPerTransaction: MOVES_PER_TXN });
    if (snap !== null) {
      assert.equal(r.fileCut, false);
      snap.close();
      assert.equal(db.checkpoint(), true);
    }
    return r;
  } finally {
    snap?.close();
  }
}

function reference(image: Uint8Array, sync: Sync, debug: boolean, snapshot: boolean): Reference {
  const fs = machineWith(image);
  const db = openDb(fs, sync, debug);
  const state = contents(db);
  const before = fs.opCount;
  const r = run(db, snapshot);
  const ops = fs.opCount - before;
  assert.deepEqual(contents(db), state);
  assert.deepEqual(db.check(), []);
  db.close();
  assert.equal(fs.durableSize(PATH), r.pagesAfter * PAGE_SIZE);
  return { state, ops, pagesAfter: r.pagesAfter, transactions: r.transactions };
}

/** Crash at mutating call `k` of a compact() run, recover, and check; null when it passed. */
function crashPoint(
  image: Uint8Array,
  ref: Reference,
  sync: Sync,
  k: number,
  crashSeed: number | undefined,
  debug: boolean,
  snapshot: boolean,
): string | null {
  const fs = machineWith(image);
  const db = openDb(fs, sync, debug);
  // As the reference run did (the pool's contents decide when a dirty page spills).
  if (!sameState(contents(db), ref.state)) return "the start image reads differently";
  fs.armCrash(k);
  let crashed = false;
  try {
    run(db, snapshot);
  } catch (e) {
    if (!(e instanceof Error && "code" in e && e.code === "ERR_CRASHED")) throw e;
    crashed = true;
  }
  if (!crashed) return `point ${k}: compact() made fewer than ${k + 1} mutating calls`;
  fs.crash(crashSeed === undefined ? {} : { seed: crashSeed });
  const again = openDb(fs, sync, debug);
  try {
    const problems = again.check();
    if (problems.length > 0) return `after recovery check(): ${problems.slice(0, 3).join("; ")}`;
    const state = contents(again);
    if (!sameState(state, ref.state))
      return `after recovery the state differs (${diff(state, ref.state)})`;
    // A compact() after the recovery finishes the job: the same end as without the crash.
    const r = again.compact({ movesPerTransaction: MOVES_PER_TXN });
    if (r.pagesAfter !== ref.pagesAfter)
      return `compact after recovery: ${r.pagesAfter} pages, reference ${ref.pagesAfter}`;
    if (!sameState(contents(again), ref.state)) return "compact after recovery changed the state";
  } finally {
    again.close();
  }
  if (fs.durableSize(PATH) !== ref.pagesAfter * PAGE_SIZE) {
    return `file ${fs.durableSize(PATH)} bytes after close, expected ${ref.pagesAfter * PAGE_SIZE}`;
  }
  const last = openDb(fs, sync, false);
  const ok = sameState(contents(last), ref.state) && last.check().length === 0;
  last.close();
  return ok ? null : "the reopen after the second compact differs";
}

interface Campaign {
  seed: number;
  sync: Sync;
  debug: boolean;
  /** Crash variants per point: 1 (unsynced writes lost), 2 (and one seeded). */
  variants: number;
  snapshot: boolean;
}

function sameState(a: State, b: State): boolean {
  if (a.size !== b.size) return false;
  for (const [k, v] of a) if (b.get(k) !== v) return false;
  return true;
}

function diff(a: State, b: State): string {
  const missing = [...b.keys()].filter((k) => !a.has(k)).length;
  const extra = [...a.keys()].filter((k) => !b.has(k)).length;
  const changed = [...a.keys()].filter((k) => b.has(k) && b.get(k) !== a.get(k)).length;
  return `${missing} missing, ${extra} extra, ${changed} changed`;
}

function campaign(c: Campaign, note: (m: string) => void): void {
  const { seed, sync, debug, variants, snapshot } = c;
  const image = startImage(seed);
  const ref = reference(image, sync, debug, snapshot);
  // Enough transactions that the points fall inside, between and after commits.
  assert.ok(ref.transactions >= 4, `only ${ref.transactions} transactions`);
  const failures: string[] = [];
  let checked = 0;
  for (let k = 0; k < ref.ops; k++) {
    for (let v = 0; v < variants; v++) {
      const crashSeed = v === 0 ? undefined : mixSeed(seed * 100_003 + k * 7 + v);
      const failure = crashPoint(image, ref, sync, k, crashSeed, debug, snapshot);
      checked++;
      if (failure !== null)
        failures.push(`sync ${sync}, point ${k}, crash seed ${crashSeed ?? "none"}: ${failure}`);
    }
  }
  note(
    `seed ${seed} (sync ${sync}${snapshot ? ", snapshot open" : ""}): ${ref.ops} mutating calls, ${ref.transactions} transactions, ` +
      `${checked} crash points checked, ${ref.state.size} keys, ${ref.pagesAfter} pages after`,
  );
  assert.deepEqual(failures.slice(0, 8), []);
}

test("sync full: a crash at any mutating call of compact() leaves the state before it, and a second compact() finishes", (t) => {
  for (const seed of [1, 4]) {
    campaign({ seed, sync: "full", debug: false, variants: 2, snapshot: false }, (m) =>
      t.diagnostic(m),
    );
  }
});

test("sync normal: a crash at any mutating call of compact() leaves the state before it, and a second compact() finishes", (t) => {
  campaign({ seed: 2, sync: "normal", debug: false, variants: 2, snapshot: false }, (m) =>
    t.diagnostic(m),
  );
});

test("a snapshot open across compact(), then closed, then the checkpoint that cuts the file: every crash point", (t) => {
  for (const sync of ["full", "normal"] as const) {
    campaign({ seed: 5, sync, debug: false, variants: 2, snapshot: true }, (m) => t.diagnostic(m));
  }
});

test("sync full with every pager invariant checked (debug), every crash point, with and without a snapshot", (t) => {
  for (const snapshot of [false, true]) {
    campaign({ seed: 3, sync: "full", debug: true, variants: 1, snapshot }, (m) => t.diagnostic(m));
  }
});
