// The Database's asynchronous writes and group commit (docs/design/group-commit.md), on
// MemFS unless a real file is needed: call order across async and sync writes; which calls
// share a group and its one log sync; what reads see before and after a group's sync (the
// gate in the writer, the published end for a reader in another process); a synchronous
// write during a group's sync; an item that fails alone; a failed sync (fenced) and a failed
// log append (not fenced); the pending bounds; close, ERR_CLOSED, ERR_TXN and ERR_ARG; and
// a durable put on NodeFS.
//
// Groups are told apart by db.stats().groupCommits and syncs by MemFS's count of sync calls
// (callCount("sync")), never by time. MemFS completes an asynchronous sync in a later
// macrotask (setImmediate), so one turn (a setImmediate queued after the calls) finds their
// group applied and its sync still in flight.

import assert from "node:assert/strict";
import * as nodeFs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { describe, test } from "node:test";
import { ITEM_FAILURES_MAX, PENDING_BYTES_MAX, PENDING_CALLS_MAX } from "../../src/db/group.js";
import { type BatchOp, open, type SyncMode } from "../../src/index.js";
import { MemFS } from "../../src/vfs/memfs.js";
import { Prng } from "../../src/vfs/prng.js";
import { envSeed } from "../seed.js";

const PATH = "/group.pkv";
const enc = new TextEncoder();
const dec = new TextDecoder();
const text = (v: Uint8Array | undefined) => (v === undefined ? undefined : dec.decode(v));
const key = (i: number) => `k${String(i).padStart(5, "0")}`;

/** A promise with its outcome recorded as it settles (a handler is attached at once). */
interface Tracked<T> {
  readonly promise: Promise<T>;
  state: "pending" | "resolved" | "rejected";
  value: T | undefined;
  error: unknown;
}

function track<T>(promise: Promise<T>): Tracked<T> {
  const t: Tracked<T> = { promise, state: "pending", value: undefined, error: undefined };
  promise.then(
    (v) => {
      t.state = "resolved";
      t.value = v;
    },
    (e) => {
      t.state = "rejected";
      t.error = e;
    },
  );
  return t;
}

/** One macrotask: the flush scheduled by calls made before it has run. */
const turn = () => new Promise<void>((resolve) => setImmediate(resolve));

/** A MemFS sync completes within a turn or two: a promise pending after this many never settles. */
const SETTLE_TURNS_MAX = 10_000;

/**
 * Wait until every tracked promise settled, on MemFS (whose syncs complete in a later
 * turn): a promise still pending after SETTLE_TURNS_MAX turns fails the test, rather than
 * leaving the event loop empty under an await (which cancels the tests after it).
 */
async function settle(...lists: Tracked<unknown>[][]): Promise<void> {
  const all = lists.flat();
  for (let i = 0; i < SETTLE_TURNS_MAX && all.some((t) => t.state === "pending"); i++) {
    await turn();
  }
  const left = all.filter((t) => t.state === "pending").length;
  assert.equal(left, 0, `${left} of ${all.length} promises never settled`);
}

const codeOf = (e: unknown) => (e as { code?: unknown })?.code;

function assertResolved(ts: Tracked<unknown>[], what: string): void {
  for (const [i, t] of ts.entries()) {
    assert.equal(t.state, "resolved", `${what} #${i}: ${String(t.error)}`);
  }
}

function assertRejected(ts: Tracked<unknown>[], code: string, what: string): void {
  for (const [i, t] of ts.entries()) {
    assert.equal(t.state, "rejected", `${what} #${i} rejects`);
    assert.equal(codeOf(t.error), code, `${what} #${i}: ${String(t.error)}`);
  }
}

/** Every entry, decoded. */
function contents(db: {
  range(): IterableIterator<[Uint8Array, Uint8Array]>;
}): Map<string, string> {
  const m = new Map<string, string>();
  for (const [k, v] of db.range()) m.set(dec.decode(k), dec.decode(v));
  return m;
}

function memDb(sync: SyncMode = "full", extra: { autoCheckpointPages?: number } = {}) {
  const fs = new MemFS();
  const db = open(PATH, { vfs: fs, sync, autoCheckpointPages: 0, ...extra });
  return { fs, db };
}

describe("call order", () => {
  for (const [sync, autoCheckpointPages] of [
    ["full", 0],
    ["full", 16],
    ["normal", 16],
  ] as const) {
    test(`async and sync writes interleaved end as applied in call order (sync: ${sync}, autoCheckpointPages: ${autoCheckpointPages})`, async () => {
      const seed = envSeed("PAGEKV_GROUP_SEED", 12) ?? Date.now() >>> 0;
      const rng = new Prng(seed);
      const { fs, db } = memDb(sync, { autoCheckpointPages });
      const KEYS = 60;
      const STEPS = 2500;
      const model = new Map<string, string>();
      const calls: Tracked<unknown>[] = [];
      /** What each call's promise must resolve to (deleteAsync's existed, a function's result). */
      const expected: { t: Tracked<unknown>; value: unknown }[] = [];
      const mismatches: string[] = [];
      const pick = () => key(rng.int(KEYS));
      for (let step = 0; step < STEPS; step++) {
        const v = `v${step}`;
        const kind = rng.int(9);
        const syncWrote = kind >= 5;
        switch (kind) {
          case 0:
          case 1: {
            const k = pick();
            calls.push(track(db.putAsync(k, v)));
            model.set(k, v);
            break;
          }
          case 2: {
            const k = pick();
            const t = track(db.deleteAsync(k));
            calls.push(t);
            expected.push({ t, value: model.has(k) });
            model.delete(k);
            break;
          }
          case 3: {
            const ops: BatchOp[] = [];
            for (let i = rng.int(6); i >= 0; i--) {
              const k = pick();
              if (rng.int(3) === 0) {
                ops.push({ type: "del", key: k });
                model.delete(k);
              } else {
                const w = `${v}.${i}`;
                ops.push({ type: "put", key: k, value: w });
                model.set(k, w);
              }
            }
            calls.push(track(db.batchAsync(ops)));
            break;
          }
          case 4: {
            // Reads the state of every write called before it, writes on top of it.
            const k1 = pick();
            const k2 = pick();
            const seen1 = model.get(k1);
            const t = track(
              db.transactionAsync((tx) => {
                const got = text(tx.get(k1));
                if (got !== seen1)
                  mismatches.push(`step ${step}: async tx saw ${got}, not ${seen1}`);
                tx.put(k1, `${got ?? "none"}+${step}`);
                tx.delete(k2);
                return step;
              }),
            );
            model.set(k1, `${seen1 ?? "none"}+${step}`);
            model.delete(k2);
            calls.push(t);
            expected.push({ t, value: step });
            break;
          }
          case 5: {
            const k = pick();
            db.put(k, v);
            model.set(k, v);
            break;
          }
          case 6: {
            const k = pick();
            assert.equal(db.delete(k), model.has(k), `seed ${seed} step ${step}: sync delete`);
            model.delete(k);
            break;
          }
          case 7: {
            const k1 = pick();
            const k2 = pick();
            db.batch([
              { type: "put", key: k1, value: v },
              { type: "del", key: k2 },
            ]);
            model.set(k1, v);
            model.delete(k2);
            break;
          }
          case 8: {
            const k1 = pick();
            const seen1 = model.get(k1);
            db.transaction((tx) => {
              assert.equal(text(tx.get(k1)), seen1, `seed ${seed} step ${step}: sync tx reads`);
              tx.put(k1, `${seen1 ?? "none"}*${step}`);
            });
            model.set(k1, `${seen1 ?? "none"}*${step}`);
            break;
          }
        }
        const pause = rng.int(40);
        if (pause === 0) await turn();
        else if (pause === 1 && calls.length > 0) await settle([calls[rng.int(calls.length)]]);
        // A synchronous write's return leaves every write called before it applied and,
        // its sync having covered them, visible: reads then show the model.
        if (rng.int(4) === 0 && syncWrote) {
          const k = pick();
          assert.equal(text(db.get(k)), model.get(k), `seed ${seed} step ${step}: get ${k}`);
        }
      }
      await settle(calls);
      assertResolved(calls, `seed ${seed}: call`);
      for (const { t, value } of expected) assert.equal(t.value, value, `seed ${seed}: result`);
      assert.deepEqual(mismatches, [], `seed ${seed}`);
      assert.deepEqual(contents(db), model, `seed ${seed}: the state of call order`);
      db.close();
      const again = open(PATH, { vfs: fs });
      assert.deepEqual(contents(again), model, `seed ${seed}: after reopen`);
      again.close();
    });
  }

  test("a synchronous write's return leaves every earlier write applied and visible", async () => {
    const { db } = memDb("full");
    db.put("s", "0");
    const a = [track(db.putAsync("a", "1")), track(db.putAsync("s", "1"))];
    await turn(); // a's group is syncing
    const b = [track(db.putAsync("b", "2")), track(db.deleteAsync("a"))]; // collected
    db.put("c", "3");
    assert.deepEqual(
      contents(db),
      new Map([
        ["b", "2"],
        ["c", "3"],
        ["s", "1"],
      ]),
    );
    const s = db.snapshot();
    assert.deepEqual(
      contents(s),
      new Map([
        ["b", "2"],
        ["c", "3"],
        ["s", "1"],
      ]),
    );
    s.close();
    await settle(a, b);
    assertResolved([...a, ...b], "call");
    db.close();
  });
});

describe("grouping", () => {
  test("N calls in one turn are one group and one log sync; calls during its sync are the next", async () => {
    const N = 200;
    const M = 50;
    const { fs, db } = memDb("full");
    db.put("seed", "x");
    const g0 = db.stats().groupCommits;
    const s0 = fs.callCount("sync");
    const a = Array.from({ length: N }, (_, i) => track(db.putAsync(key(i), "a")));
    assert.equal(db.stats().groupCommits, g0, "nothing is applied within the turn of the calls");
    await turn();
    assert.equal(db.stats().groupCommits, g0 + 1, "the calls of one turn are one group");
    assert.ok(
      a.every((t) => t.state === "pending"),
      "no promise resolves before its group's sync",
    );
    const b = Array.from({ length: M }, (_, i) => track(db.putAsync(key(i), "b")));
    await settle(a);
    assertResolved(a, "first group");
    assert.equal(fs.callCount("sync") - s0, 1, "one log sync for the first group");
    await settle(b);
    assertResolved(b, "second group");
    assert.equal(db.stats().groupCommits, g0 + 2, "the calls made during the sync are one group");
    assert.equal(fs.callCount("sync") - s0, 2, "one log sync for the second group");
    for (let i = 0; i < N; i++) assert.equal(text(db.get(key(i))), i < M ? "b" : "a");
    db.close();
  });

  test("each awaited call is its own group and its own sync", async () => {
    const { fs, db } = memDb("full");
    const g0 = db.stats().groupCommits;
    const s0 = fs.callCount("sync");
    for (let i = 0; i < 5; i++) {
      const t = track(db.putAsync(key(i), "v"));
      await settle([t]);
      assertResolved([t], `put ${i}`);
    }
    assert.equal(db.stats().groupCommits - g0, 5);
    assert.equal(fs.callCount("sync") - s0, 5);
    db.close();
  });

  test('sync: "normal": the calls of one turn are one group, with no log sync', async () => {
    const { fs, db } = memDb("normal");
    const g0 = db.stats().groupCommits;
    const s0 = fs.callCount("sync");
    const a = Array.from({ length: 100 }, (_, i) => track(db.putAsync(key(i), "a")));
    await settle(a);
    assertResolved(a, "call");
    assert.equal(db.stats().groupCommits, g0 + 1);
    assert.equal(fs.callCount("sync"), s0, "no sync under normal");
    db.close();
  });

  test("batchAsync, deleteAsync and transactionAsync share a group with putAsync", async () => {
    const { fs, db } = memDb("full");
    db.put("gone", "x");
    const g0 = db.stats().groupCommits;
    const s0 = fs.callCount("sync");
    const calls = [
      track(db.putAsync("a", "1")),
      track(db.deleteAsync("gone")),
      track(
        db.batchAsync([
          { type: "put", key: "b", value: "2" },
          { type: "put", key: "c", value: "3" },
        ]),
      ),
      track(db.transactionAsync((tx) => text(tx.get("c")))),
    ];
    await settle(calls);
    assertResolved(calls, "call");
    assert.equal(calls[1].value, true, "deleteAsync says the key existed");
    assert.equal(calls[3].value, "3", "the function read the batch called before it");
    assert.equal(db.stats().groupCommits, g0 + 1);
    assert.equal(fs.callCount("sync") - s0, 1);
    db.close();
  });
});

describe("visibility", () => {
  test('sync: "full": no read sees a group before its sync, every read sees it after', async () => {
    const fs = new MemFS();
    const db = open(PATH, { vfs: fs, autoCheckpointPages: 0 });
    db.put("k", "old");
    db.put("gone", "here");
    const reader = open(PATH, { vfs: fs.process(), readOnly: true });
    const before = new Map([
      ["gone", "here"],
      ["k", "old"],
    ]);
    const after = new Map([
      ["k", "new"],
      ["n", "1"],
    ]);
    assert.deepEqual(contents(reader), before);
    const g0 = db.stats().groupCommits;
    const calls = [
      track(db.putAsync("k", "new")),
      track(db.putAsync("n", "1")),
      track(db.deleteAsync("gone")),
    ];
    const check = (want: Map<string, string>, when: string) => {
      assert.equal(text(db.get("k")), want.get("k"), `${when}: db.get`);
      assert.equal(db.has("gone"), want.has("gone"), `${when}: db.has`);
      assert.deepEqual(contents(db), want, `${when}: db.range`);
      const s = db.snapshot();
      try {
        assert.deepEqual(contents(s), want, `${when}: db.snapshot()`);
      } finally {
        s.close();
      }
      assert.equal(text(reader.get("k")), want.get("k"), `${when}: another process's get`);
      assert.deepEqual(contents(reader), want, `${when}: another process's range`);
    };
    check(before, "at the call");
    await turn();
    assert.equal(db.stats().groupCommits, g0 + 1, "the group is applied (appended)");
    assert.ok(
      calls.every((t) => t.state === "pending"),
      "and its sync is in flight",
    );
    check(before, "applied, not synced");
    // A snapshot taken now stays at the durable state after the sync.
    const held = db.snapshot();
    await settle(calls);
    assertResolved(calls, "call");
    check(after, "after the sync");
    assert.deepEqual(contents(held), before, "a snapshot taken before the sync");
    held.close();
    reader.close();
    db.close();
  });

  test('sync: "full": a transaction function reads the applied, unsynced state', async () => {
    const { db } = memDb("full");
    const a = track(db.putAsync("a", "1"));
    await turn(); // a is applied, syncing
    assert.equal(db.get("a"), undefined);
    const t = track(db.transactionAsync((tx) => text(tx.get("a"))));
    let inSync: string | undefined;
    db.transaction((tx) => {
      inSync = text(tx.get("a"));
    });
    assert.equal(inSync, "1", "a synchronous transaction function reads the newest state");
    await settle([a, t]);
    assert.equal(t.value, "1", "an async transaction function reads the newest state");
    db.close();
  });

  for (const sync of ["normal", "off"] as const) {
    test(`sync: "${sync}": every read sees a group once it is applied`, async () => {
      const fs = new MemFS();
      const db = open(PATH, { vfs: fs, sync, autoCheckpointPages: 0 });
      db.put("k", "old");
      const reader = open(PATH, { vfs: fs.process(), readOnly: true });
      assert.equal(text(reader.get("k")), "old");
      const g0 = db.stats().groupCommits;
      const calls = [track(db.putAsync("k", "new")), track(db.putAsync("n", "1"))];
      assert.equal(text(db.get("k")), "old", "not applied within the turn of the call");
      await turn();
      assert.equal(db.stats().groupCommits, g0 + 1, "applied");
      const want = new Map([
        ["k", "new"],
        ["n", "1"],
      ]);
      assert.deepEqual(contents(db), want, "db.range");
      assert.equal(text(db.get("k")), "new", "db.get");
      const s = db.snapshot();
      assert.deepEqual(contents(s), want, "db.snapshot()");
      s.close();
      assert.deepEqual(contents(reader), want, "another process");
      await settle(calls);
      assertResolved(calls, "call");
      reader.close();
      db.close();
    });
  }
});

describe("a synchronous write during a group's sync", () => {
  test("applies after every pending call, and its return resolves the pending promises", async () => {
    const { fs, db } = memDb("full");
    const a = [track(db.putAsync("x", "a")), track(db.putAsync("y", "a"))];
    await turn();
    assert.ok(
      a.every((t) => t.state === "pending"),
      "the first group is syncing",
    );
    const b = [track(db.putAsync("x", "b")), track(db.putAsync("z", "b"))]; // collected
    db.put("x", "sync");
    assert.equal(text(db.get("x")), "sync", "the sync put came after the pending calls");
    assert.equal(text(db.get("z")), "b", "the pending calls were applied first");
    assert.equal(text(db.get("y")), "a");
    // Settled in microtasks after the return, before any macrotask (the background sync).
    let macrotask = false;
    setImmediate(() => {
      macrotask = true;
    });
    for (let i = 0; i < 20 && [...a, ...b].some((t) => t.state === "pending"); i++) {
      await null;
    }
    assert.equal(macrotask, false);
    assertResolved([...a, ...b], "pending call");
    await turn();
    await turn();
    assert.equal(text(db.get("x")), "sync", "the background sync changed nothing");
    db.close();
    const again = open(PATH, { vfs: fs });
    assert.deepEqual(
      contents(again),
      new Map([
        ["x", "sync"],
        ["y", "a"],
        ["z", "b"],
      ]),
    );
    again.close();
  });

  test("with calls waiting and a group syncing, a synchronous put costs one log sync", async () => {
    // group-commit.md: it applies the waiting calls "as in APPLYING" (appended, not synced)
    // and its own sync makes everything appended before it durable.
    const { fs, db } = memDb("full");
    const a = [track(db.putAsync("x", "a"))];
    await turn(); // syncing
    const b = [track(db.putAsync("y", "b"))]; // collected
    const s0 = fs.callCount("sync");
    db.put("z", "sync");
    assert.equal(fs.callCount("sync") - s0, 1, "the synchronous put synced once");
    await settle(a, b);
    assertResolved([...a, ...b], "call");
    db.close();
  });

  test("calls that write nothing, drained by a synchronous call that writes nothing, settle", async () => {
    const { db } = memDb("full");
    const a = [track(db.putAsync("a", "1"))];
    await turn(); // a's group is syncing
    const b = [track(db.deleteAsync("missing")), track(db.transactionAsync((tx) => tx.has("a")))];
    assert.equal(db.delete("missing too"), false);
    const closing = [track(db.closeAsync())];
    await settle(a, b, closing);
    assertResolved([...a, ...b, ...closing], "call");
    assert.equal(b[0].value, false);
    assert.equal(b[1].value, true);
  });

  test("a synchronous put in the turn of async calls comes after them", async () => {
    const { db } = memDb("full");
    const a = track(db.putAsync("x", "async"));
    const t = track(db.transactionAsync((tx) => text(tx.get("x"))));
    db.put("x", "sync");
    const b = track(db.putAsync("x", "after"));
    assert.equal(text(db.get("x")), "sync");
    await settle([a, t, b]);
    assertResolved([a, t, b], "call");
    assert.equal(t.value, "async");
    assert.equal(text(db.get("x")), "after");
    db.close();
  });

  test("a checkpoint during a group's sync makes it durable, and every write survives", async () => {
    const { fs, db } = memDb("full");
    const a = Array.from({ length: 30 }, (_, i) => track(db.putAsync(key(i), "a")));
    await turn();
    assert.ok(a.every((t) => t.state === "pending"));
    db.checkpoint();
    const b = Array.from({ length: 30 }, (_, i) => track(db.putAsync(key(i + 30), "b")));
    await settle(a, b);
    assertResolved([...a, ...b], "call");
    fs.crash();
    const again = open(PATH, { vfs: fs });
    assert.equal(contents(again).size, 60);
    again.close();
  });
});

describe("failures", () => {
  test("an item that throws rejects alone; the rest of its group commits, each fn run once", async () => {
    const { fs, db } = memDb("full");
    const g0 = db.stats().groupCommits;
    const boom = new Error("boom");
    const runs = [0, 0, 0];
    let seen: { a?: string; t?: string } = {};
    const calls = [
      track(db.putAsync("a", "1")),
      track(
        db.transactionAsync((tx) => {
          runs[0]++;
          tx.put("a", "2");
          return "ok";
        }),
      ),
      track(
        db.transactionAsync((tx) => {
          tx.put("t", "x");
          tx.put("a", "bad");
          throw boom;
        }),
      ),
      track(
        db.transactionAsync((tx) => {
          runs[1]++;
          seen = { a: text(tx.get("a")), t: text(tx.get("t")) };
          tx.put("b", "3");
        }),
      ),
      // A promise returned: ERR_TXN, its writes dropped.
      track(
        db.transactionAsync((tx) => {
          tx.put("p", "x");
          return Promise.resolve(1);
        }),
      ),
      // An engine error inside the function: a key over the tree's maximum.
      track(
        db.transactionAsync((tx) => {
          tx.put("q", "x");
          tx.put("x".repeat(4096), "v");
        }),
      ),
      track(
        db.transactionAsync((tx) => {
          runs[2]++;
          tx.put("c", `${text(tx.get("b"))}+4`);
        }),
      ),
      track(db.putAsync("d", "5")),
    ];
    await settle(calls);
    assertResolved([calls[0], calls[1], calls[3], calls[6], calls[7]], "item");
    assert.equal(calls[1].value, "ok");
    assert.equal(calls[2].state, "rejected");
    assert.equal(calls[2].error, boom, "the function's own error");
    assertRejected([calls[4]], "ERR_TXN", "a function returning a promise");
    assertRejected([calls[5]], "ERR_KEY_TOO_LARGE", "a function whose write failed");
    assert.deepEqual(runs, [1, 1, 1], "no function runs twice");
    assert.deepEqual(seen, { a: "2", t: undefined }, "after a failed item: the prefix, without it");
    assert.equal(db.stats().groupCommits, g0 + 1, "the rest is one group");
    const want = new Map([
      ["a", "2"],
      ["b", "3"],
      ["c", "3+4"],
      ["d", "5"],
    ]);
    assert.deepEqual(contents(db), want);
    db.close();
    const again = open(PATH, { vfs: fs });
    assert.deepEqual(contents(again), want, "after reopen");
    again.close();
  });

  test("ITEM_FAILURES_MAX items of a group fail alone; one more fails what is left of it", async () => {
    for (const failing of [ITEM_FAILURES_MAX, ITEM_FAILURES_MAX + 1]) {
      const { db } = memDb("full");
      const g0 = db.stats().groupCommits;
      const errors = Array.from({ length: failing }, (_, i) => new Error(`item ${i}`));
      let runs = 0;
      const first = track(db.putAsync("a", "1"));
      const bad = errors.map((e) =>
        track(
          db.transactionAsync((tx) => {
            tx.put("bad", "x");
            throw e;
          }),
        ),
      );
      const fn = track(
        db.transactionAsync((tx) => {
          runs++;
          tx.put("b", "2");
        }),
      );
      const last = track(db.putAsync("c", "3"));
      await settle([first, fn, last], bad);
      // After the bound is passed, what is left is rejected without running.
      const ran = failing === ITEM_FAILURES_MAX ? 1 : 0;
      assert.equal(runs, ran, `${failing} failing: the function after them ran ${ran} times`);
      for (const [i, t] of bad.slice(0, ITEM_FAILURES_MAX).entries()) {
        assert.equal(
          t.error,
          errors[i],
          `${failing} failing: item ${i} rejects with its own error`,
        );
      }
      if (failing === ITEM_FAILURES_MAX) {
        assertResolved([first, fn, last], "the rest of the group");
        assert.equal(db.stats().groupCommits, g0 + 1);
        assert.deepEqual(
          contents(db),
          new Map([
            ["a", "1"],
            ["b", "2"],
            ["c", "3"],
          ]),
        );
      } else {
        const next = errors[ITEM_FAILURES_MAX];
        for (const t of [first, bad[ITEM_FAILURES_MAX], fn, last]) {
          assert.equal(t.state, "rejected");
          assert.equal(t.error, next, "what is left rejects with the failure past the bound");
        }
        assert.equal(db.stats().groupCommits, g0, "nothing of the group committed");
        assert.deepEqual(contents(db), new Map());
      }
      db.close();
    }
  });

  test("a key over the maximum in putAsync rejects alone", async () => {
    const { db } = memDb("full");
    const calls = [
      track(db.putAsync("a", "1")),
      track(db.putAsync("x".repeat(4096), "v")),
      track(db.putAsync("b", "2")),
    ];
    await settle(calls);
    assertResolved([calls[0], calls[2]], "neighbour");
    assertRejected([calls[1]], "ERR_KEY_TOO_LARGE", "the long key");
    assert.equal(contents(db).size, 2);
    db.close();
  });

  test("a failed group sync rejects the group (ERR_IO), fences the rest (ERR_FENCED); reads and reopen hold the durable state", async () => {
    const fs = new MemFS();
    const db = open(PATH, { vfs: fs, autoCheckpointPages: 0 });
    const durable = [track(db.putAsync("k", "durable")), track(db.putAsync("m", "durable"))];
    await settle(durable);
    assertResolved(durable, "before the fault");
    const want = new Map([
      ["k", "durable"],
      ["m", "durable"],
    ]);
    fs.injectFault("sync", 1);
    const group = [
      track(db.putAsync("k", "lost")),
      track(db.deleteAsync("m")),
      track(db.batchAsync([{ type: "put", key: "n", value: "lost" }])),
      track(db.transactionAsync((tx) => tx.put("o", "lost"))),
    ];
    await turn();
    assert.ok(
      group.every((t) => t.state === "pending"),
      "the group is syncing",
    );
    const during = [track(db.putAsync("p", "lost")), track(db.deleteAsync("k"))];
    await settle(group, during);
    assertRejected(group, "ERR_IO", "the group");
    assertRejected(during, "ERR_FENCED", "a call pending behind it");
    const later = [
      track(db.putAsync("q", "lost")),
      track(db.transactionAsync((tx) => tx.put("q", "lost"))),
    ];
    await settle(later);
    assertRejected(later, "ERR_FENCED", "a later call");
    assert.throws(() => db.put("q", "lost"), { code: "ERR_FENCED" });
    assert.deepEqual(contents(db), want, "reads show the last durable state");
    assert.equal(text(db.get("k")), "durable");
    const s = db.snapshot();
    assert.deepEqual(contents(s), want, "so does a snapshot");
    s.close();
    db.close();
    const again = open(PATH, { vfs: fs });
    assert.deepEqual(contents(again), want, "after close and reopen");
    again.close();
    fs.crash();
    const afterCrash = open(PATH, { vfs: fs });
    assert.deepEqual(contents(afterCrash), want, "after power loss too");
    afterCrash.close();
  });

  test("a failed sync with a reader in another process: the reader never sees the group", async () => {
    const fs = new MemFS();
    const db = open(PATH, { vfs: fs, autoCheckpointPages: 0 });
    db.put("k", "durable");
    const reader = open(PATH, { vfs: fs.process(), readOnly: true });
    fs.injectFault("sync", 1);
    const group = [track(db.putAsync("k", "lost")), track(db.putAsync("n", "lost"))];
    await settle(group);
    assertRejected(group, "ERR_IO", "the group");
    assert.deepEqual(contents(reader), new Map([["k", "durable"]]));
    db.close();
    assert.deepEqual(contents(reader), new Map([["k", "durable"]]), "after the writer closed");
    reader.close();
  });

  for (const code of ["EIO", "ENOSPC"] as const) {
    test(`a failed log append (${code}) rejects its group without fencing; the next group commits`, async () => {
      const fs = new MemFS();
      const db = open(PATH, { vfs: fs, autoCheckpointPages: 0 });
      const first = track(db.putAsync("k", "durable"));
      await settle([first]);
      assertResolved([first], "before the fault");
      const g0 = db.stats().groupCommits;
      fs.injectFault("write", 1, code);
      const group = [
        track(db.putAsync("k", "lost")),
        track(db.putAsync("n", "lost")),
        track(db.transactionAsync((tx) => tx.put("o", "lost"))),
      ];
      await settle(group);
      assertRejected(group, "ERR_IO", "the group");
      assert.equal(db.stats().groupCommits, g0, "no group committed");
      assert.deepEqual(contents(db), new Map([["k", "durable"]]), "rolled back");
      const next = [track(db.putAsync("n", "kept")), track(db.deleteAsync("k"))];
      await settle(next);
      assertResolved(next, "the next group");
      assert.equal(next[1].value, true);
      db.put("s", "sync");
      const want = new Map([
        ["n", "kept"],
        ["s", "sync"],
      ]);
      assert.deepEqual(contents(db), want);
      db.close();
      fs.crash();
      const again = open(PATH, { vfs: fs });
      assert.deepEqual(contents(again), want, "after close, power loss and reopen");
      again.close();
    });
  }
});

describe("backpressure", () => {
  test("past PENDING_CALLS_MAX calls wait, then apply in call order (a second group)", async () => {
    const { fs, db } = memDb("full");
    const EXTRA = 10;
    const KEYS = 1000;
    const g0 = db.stats().groupCommits;
    const n = PENDING_CALLS_MAX + EXTRA;
    const calls: Tracked<void>[] = [];
    for (let i = 0; i < n; i++) calls.push(track(db.putAsync(key(i % KEYS), String(i))));
    await turn();
    assert.equal(db.stats().groupCommits, g0 + 1, "the first group is applied");
    await settle(calls);
    assert.ok(
      calls.every((t) => t.state === "resolved"),
      "every call resolves",
    );
    assert.equal(db.stats().groupCommits, g0 + 2, "the calls past the bound were the next group");
    // The last writer of each key wins: among them, the calls past the bound.
    const want = new Map<string, string>();
    for (let i = 0; i < n; i++) want.set(key(i % KEYS), String(i));
    assert.deepEqual(contents(db), want);
    db.close();
    const again = open(PATH, { vfs: fs });
    assert.deepEqual(contents(again), want);
    again.close();
  });

  test("past PENDING_BYTES_MAX bytes calls wait, then apply in call order (a second group)", async () => {
    const { fs, db } = memDb("full");
    // Each call carries just over 1/64 of the bound: 63 fit, the rest wait.
    const COUNT = 70;
    const callBytes = PENDING_BYTES_MAX / 64 + 1;
    const k = (i: number) => `big${String(i % 66).padStart(3, "0")}`;
    const value = new Uint8Array(callBytes - k(0).length);
    const g0 = db.stats().groupCommits;
    const calls: Tracked<void>[] = [];
    for (let i = 0; i < COUNT; i++) {
      value[0] = i;
      calls.push(track(db.putAsync(k(i), value)));
    }
    await turn();
    assert.equal(db.stats().groupCommits, g0 + 1, "the first group is applied");
    await settle(calls);
    assert.ok(
      calls.every((t) => t.state === "resolved"),
      "every call resolves",
    );
    assert.equal(db.stats().groupCommits, g0 + 2, "the calls past the bound were the next group");
    for (let j = 0; j < 66; j++) {
      const got = db.get(k(j));
      const last = j + 66 < COUNT ? j + 66 : j;
      assert.equal(got?.length, value.length);
      assert.equal(got?.[0], last, `${k(j)}: the last call's value`);
    }
    db.close();
    assert.equal(fs.fileNames().includes(PATH), true);
  });
});

describe("close", () => {
  test("closeAsync waits for every pending call; calls after it are ERR_CLOSED", async () => {
    const { fs, db } = memDb("full");
    const calls = [
      track(db.putAsync("a", "1")),
      track(db.batchAsync([{ type: "put", key: "b", value: "2" }])),
      track(db.transactionAsync((tx) => tx.put("c", "3"))),
    ];
    await turn(); // a group is syncing
    const more = [track(db.putAsync("d", "4"))];
    const closing = track(db.closeAsync());
    const after = [
      track(db.putAsync("e", "5")),
      track(db.deleteAsync("a")),
      track(db.batchAsync([])),
      track(db.transactionAsync(() => 1)),
      track(db.closeAsync()),
    ];
    await settle([closing]);
    assert.equal(closing.state, "resolved", String(closing.error));
    assertResolved([...calls, ...more], "a call before closeAsync (settled before it resolved)");
    await settle(after);
    assertRejected(after.slice(0, 4), "ERR_CLOSED", "a call after closeAsync");
    const again = open(PATH, { vfs: fs });
    assert.deepEqual(
      contents(again),
      new Map([
        ["a", "1"],
        ["b", "2"],
        ["c", "3"],
        ["d", "4"],
      ]),
    );
    again.close();
  });

  test("close() with calls pending commits them: their promises resolve", async () => {
    for (const syncing of [false, true]) {
      const { fs, db } = memDb("full");
      const a = [track(db.putAsync("a", "1"))];
      if (syncing) await turn();
      const b = [
        track(db.putAsync("b", "2")),
        track(db.transactionAsync((tx) => tx.put("c", "3"))),
      ];
      db.close();
      await settle(a, b);
      assertResolved([...a, ...b], `syncing: ${syncing}`);
      const late = [track(db.putAsync("x", "1")), track(db.closeAsync())];
      await settle(late);
      assertRejected([late[0]], "ERR_CLOSED", "a call after close");
      fs.crash();
      const again = open(PATH, { vfs: fs });
      assert.deepEqual(
        contents(again),
        new Map([
          ["a", "1"],
          ["b", "2"],
          ["c", "3"],
        ]),
        `syncing: ${syncing}`,
      );
      again.close();
    }
  });

  test("an async call inside a synchronous transaction function is ERR_TXN", async () => {
    const { db } = memDb("full");
    const inner: Tracked<unknown>[] = [];
    db.transaction((tx) => {
      inner.push(track(db.putAsync("x", "1")));
      inner.push(track(db.deleteAsync("x")));
      inner.push(track(db.batchAsync([{ type: "put", key: "x", value: "1" }])));
      inner.push(track(db.transactionAsync(() => 1)));
      tx.put("a", "1");
    });
    await settle(inner);
    assertRejected(inner, "ERR_TXN", "an async call in a transaction function");
    assert.deepEqual(contents(db), new Map([["a", "1"]]));
    db.close();
  });

  test("on a read-only open, every async write rejects with ERR_READ_ONLY", async () => {
    const { fs, db } = memDb("full");
    db.put("k", "v");
    const reader = open(PATH, { vfs: fs.process(), readOnly: true });
    const calls = [
      track(reader.putAsync("k", "x")),
      track(reader.deleteAsync("k")),
      track(reader.batchAsync([{ type: "del", key: "k" }])),
      track(reader.transactionAsync((tx) => tx.delete("k"))),
    ];
    await settle(calls);
    assertRejected(calls, "ERR_READ_ONLY", "a write on a reader");
    assert.equal(text(reader.get("k")), "v");
    reader.close();
    db.close();
  });

  test("bad arguments reject with ERR_ARG, never throw, and do not fail their group", async () => {
    const { db } = memDb("full");
    const g0 = db.stats().groupCommits;
    const bad: Tracked<unknown>[] = [];
    const good = [track(db.putAsync("a", "1"))];
    const call = (f: () => Promise<unknown>) => {
      let p: Promise<unknown> | undefined;
      assert.doesNotThrow(() => {
        p = f();
      });
      assert.ok(p instanceof Promise);
      bad.push(track(p));
    };
    const anyDb = db as unknown as Record<string, (...args: unknown[]) => Promise<unknown>>;
    call(() => anyDb.putAsync(42, "v"));
    call(() => anyDb.putAsync("k", { not: "bytes" }));
    call(() => anyDb.putAsync(undefined, undefined));
    call(() => anyDb.deleteAsync(null));
    call(() => anyDb.batchAsync("not an array"));
    call(() => anyDb.batchAsync([{ type: "nope", key: "k" }]));
    call(() => anyDb.batchAsync([null]));
    call(() => anyDb.batchAsync([{ type: "put", key: "k", value: 7 }]));
    call(() => anyDb.transactionAsync("not a function"));
    good.push(track(db.putAsync("b", "2")));
    await settle(bad, good);
    assertRejected(bad, "ERR_ARG", "a bad call");
    assertResolved(good, "a good call beside them");
    assert.equal(db.stats().groupCommits, g0 + 1);
    assert.deepEqual(
      contents(db),
      new Map([
        ["a", "1"],
        ["b", "2"],
      ]),
    );
    db.close();
  });
});

describe("NodeFS", () => {
  test("putAsync resolves, and the data survives close and reopen of a real file", async () => {
    const dir = nodeFs.mkdtempSync(path.join(os.tmpdir(), "pagekv-group-"));
    try {
      const file = path.join(dir, "group.pkv");
      const db = open(file);
      const calls = Array.from({ length: 64 }, (_, i) =>
        track(db.putAsync(key(i), enc.encode(`v${i}`))),
      );
      await Promise.allSettled(calls.map((t) => t.promise)); // a real sync: no turn bound
      assertResolved(calls, "putAsync");
      await db.putAsync("last", "one");
      await db.closeAsync();
      const again = open(file, { create: false });
      assert.equal(again.get("last") !== undefined, true);
      assert.equal(text(again.get("last")), "one");
      for (let i = 0; i < 64; i++) assert.equal(text(again.get(key(i))), `v${i}`);
      again.close();
    } finally {
      nodeFs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
