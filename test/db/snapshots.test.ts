// The snapshot API (docs/design/snapshots.md, "The API, exactly"), behaviour by behaviour:
// a snapshot reads the state of the last commit at its instant whatever is written, rolled
// back, spilled, freed and reused or checkpointed later, through the smallest pool too;
// db.read() and db.range() close the snapshots they take (at the end, at a break, at a
// throw, at garbage collection); use after close is ERR_CLOSED; SNAPSHOTS_MAX bounds how
// many are open; automatic checkpoints wait for snapshots and only for them; a fenced
// database still reads; a crash forgets snapshots; stats() reports what snapshots hold
// back; and a snapshot held across 300,000 rewrites of 100,000 keys on real files still
// reads its state, after which the log resets and the file stops growing.
//
// Two tests here failed against the engine as first merged (1698849), each on an engine bug
// since fixed: "an automatic checkpoint runs after a transaction function commits" and "an
// iterator that would yield nothing (limit: 0) is ERR_CLOSED after a close too".

import assert from "node:assert/strict";
import * as nodeFs from "node:fs";
import * as path from "node:path";
import { describe, test } from "node:test";
import * as v8 from "node:v8";
import * as vm from "node:vm";
import {
  type Database,
  type DbOpenOptions,
  open,
  type RangeOptions,
  type Snapshot,
} from "../../src/index.js";
import { SNAPSHOTS_MAX } from "../../src/pager/pager.js";
import { MemFS } from "../../src/vfs/memfs.js";
import { Prng } from "../../src/vfs/prng.js";
import { throwsCode } from "../pager/pages.js";
import { envSeed } from "../seed.js";
import { withTempDir } from "../tmpdir.js";

const decoder = new TextDecoder();
const dec = (b: Uint8Array | undefined) => (b === undefined ? undefined : decoder.decode(b));
const pad = (i: number) => `k${String(i).padStart(5, "0")}`;

type Entries = IterableIterator<[Uint8Array, Uint8Array]>;

/** "key=value" lines of what an iterator yields. */
function lines(it: Iterable<[Uint8Array, Uint8Array]>): string[] {
  return [...it].map(([k, v]) => `${dec(k)}=${dec(v)}`);
}

/** A database on MemFS; 512-byte pages and the smallest pool unless told otherwise. */
function memDb(options: Omit<DbOpenOptions, "vfs"> = {}): { fs: MemFS; db: Database } {
  const fs = new MemFS();
  return { fs, db: open("/s.pkv", { vfs: fs, pageSize: 512, cacheBytes: 0, ...options }) };
}

/** The value fill() gives key i: every seventh overflows a 512-byte page. */
const fillValue = (tag: string, i: number) => `${tag}${i}`.padEnd(i % 7 === 0 ? 700 : 12, ".");

/** Keys 0..n-1 with values of mixed sizes. */
function fill(db: Database, n: number, tag: string): void {
  db.batch(
    Array.from({ length: n }, (_, i) => ({
      type: "put" as const,
      key: pad(i),
      value: fillValue(tag, i),
    })),
  );
}

/** What a reader holds, in order, in both directions; gets of a few keys agree. */
function assertReads(s: Snapshot | Database, want: readonly string[], what: string): void {
  assert.deepEqual(lines(s.range()), want, `${what}: range`);
  assert.deepEqual(
    lines(s.range({ reverse: true })),
    [...want].reverse(),
    `${what}: reverse range`,
  );
  for (const line of [want[0], want[want.length >> 1], want[want.length - 1]]) {
    if (line === undefined) continue;
    const eq = line.indexOf("=");
    const key = line.slice(0, eq);
    assert.equal(dec(s.get(key)), line.slice(eq + 1), `${what}: get ${key}`);
    assert.equal(s.has(key), true, `${what}: has ${key}`);
  }
  assert.equal(s.get("absent"), undefined, `${what}: get of an absent key`);
  assert.equal(s.has("absent"), false, `${what}: has of an absent key`);
}

describe("a snapshot reads the state at its instant", () => {
  test("across later puts, deletes, batches, transactions, rollbacks and checkpoints", () => {
    const { db } = memDb();
    fill(db, 300, "v0-");
    const want = lines(db.range());
    const s = db.snapshot();
    assert.equal(s.closed, false);
    const check = (what: string) => assertReads(s, want, `snapshot after ${what}`);
    db.put(pad(1), "changed");
    db.put(pad(1000), "new");
    check("puts");
    assert.equal(db.delete(pad(2)), true);
    assert.equal(db.delete(pad(0)), true);
    check("deletes");
    db.batch([
      { type: "put", key: pad(3), value: "x".repeat(2000) },
      { type: "del", key: pad(4) },
      { type: "put", key: "a-new-first-key", value: "1" },
    ]);
    check("a batch");
    db.transaction((tx) => {
      tx.put(pad(5), "in a transaction");
      tx.delete(pad(6));
      check("writes inside an open transaction");
    });
    check("a transaction");
    assert.throws(
      () =>
        db.transaction((tx) => {
          for (let i = 0; i < 300; i++) tx.put(pad(i), "rolled back".padEnd(300, "!"));
          throw new Error("roll back");
        }),
      /roll back/,
    );
    check("a rollback");
    assert.equal(db.checkpoint(), false, "a checkpoint while the snapshot is behind");
    check("a checkpoint");
    // Every page freed, then reused by new keys: the snapshot keeps reading the old ones.
    db.batch([...db.range()].map(([k]) => ({ type: "del" as const, key: k })));
    assert.deepEqual(lines(db.range()), []);
    check("deleting every key");
    fill(db, 400, "v1-");
    check("refilling the freed pages");
    assert.equal(db.checkpoint(), false);
    check("a second checkpoint");
    assert.deepEqual(db.check(), []);
    // A snapshot taken now sees the new state; the old one still the old.
    const now = lines(db.range());
    const later = db.snapshot();
    assertReads(later, now, "a later snapshot");
    check("a later snapshot was taken");
    s.close();
    // `later` is at the last commit: the checkpoint completes, and it still reads its state
    // from home in the new log generation, across further writes.
    assert.equal(db.checkpoint(), true);
    assert.equal(db.stats().walFrames, 0);
    assertReads(later, now, "a snapshot across the log reset");
    fill(db, 50, "v2-");
    db.delete(pad(7));
    assertReads(later, now, "a snapshot across writes after the log reset");
    assert.equal(db.checkpoint(), false);
    later.close();
    db.close();
  });

  test("long overflow chains (300 KB values) freed and reused under it", () => {
    const { db } = memDb({ pageSize: 4096 });
    const value = (i: number, r: number) => {
      const v = new Uint8Array(300_000 + i * 1000);
      for (let j = 0; j < v.length; j += 997) v[j] = (i * 31 + r * 7 + j) & 0xff;
      return v;
    };
    for (let i = 0; i < 20; i++) db.put(pad(i), value(i, 0));
    const s = db.snapshot();
    for (let r = 1; r <= 2; r++) {
      db.batch(
        Array.from({ length: 20 }, (_, i) => ({ type: "put", key: pad(i), value: value(i, r) })),
      );
    }
    db.batch(Array.from({ length: 10 }, (_, i) => ({ type: "del", key: pad(i * 2) })));
    db.put(pad(99), value(99, 3)); // in pages the deletes freed
    assert.equal(db.checkpoint(), false);
    for (let i = 0; i < 20; i++) {
      assert.deepEqual(s.get(pad(i)), value(i, 0), `snapshot get ${pad(i)}`);
      assert.deepEqual(db.get(pad(i)), i % 2 === 0 ? undefined : value(i, 2), `db get ${pad(i)}`);
    }
    let n = 0;
    for (const [k, v] of s.range({ reverse: true })) {
      assert.deepEqual(v, value(19 - n, 0), `snapshot range at ${dec(k)}`);
      n++;
    }
    assert.equal(n, 20);
    s.close();
    assert.equal(db.checkpoint(), true);
    assert.deepEqual(db.check(), []);
    db.close();
  });

  test("a snapshot never sees a rolled-back transaction, nor does one taken after it", () => {
    const { db } = memDb();
    fill(db, 200, "v-");
    const want = lines(db.range());
    const s = db.snapshot();
    for (let round = 0; round < 3; round++) {
      assert.throws(() =>
        db.transaction((tx) => {
          // Enough pages to spill from the smallest pool into the log.
          for (let i = 0; i < 200; i++) tx.put(pad(i), `rolled back ${round}`.padEnd(400, "-"));
          tx.put("zz", "never");
          throw new Error("roll back");
        }),
      );
      const after = db.snapshot();
      assertReads(after, want, `a snapshot after rollback ${round}`);
      after.close();
      assertReads(s, want, `a snapshot across rollback ${round}`);
    }
    db.put("zz", "committed");
    assertReads(s, want, "a snapshot across a commit after rollbacks");
    s.close();
    assert.equal(dec(db.get("zz")), "committed");
    assert.deepEqual(db.check(), []);
    db.close();
  });
});

describe("many versions through a small pool", () => {
  test("30 snapshots, each of another version of the same pages, read round-robin", () => {
    const { db } = memDb(); // the smallest pool: old versions are evicted and read again
    const versions: string[][] = [];
    const snaps: Snapshot[] = [];
    for (let v = 0; v < 30; v++) {
      db.batch(
        Array.from({ length: 150 }, (_, i) => ({
          type: "put" as const,
          key: pad(i),
          value: `v${v}-${i}`.padEnd((i + v) % 11 === 0 ? 600 : 10, "."),
        })),
      );
      if (v % 4 === 3) db.delete(pad(v)); // and now and then a key goes
      versions.push(lines(db.range()));
      snaps.push(db.snapshot());
    }
    assert.equal(db.checkpoint(), false);
    const rng = new Prng(11);
    for (let n = 0; n < 3000; n++) {
      const v = rng.int(30);
      const line = versions[v][rng.int(versions[v].length)];
      const eq = line.indexOf("=");
      assert.equal(dec(snaps[v].get(line.slice(0, eq))), line.slice(eq + 1), `version ${v}`);
    }
    // Iterators of every version at once, advanced in turn.
    const its = snaps.map((s) => s.range());
    const got: string[][] = versions.map(() => []);
    for (let live = its.length; live > 0; ) {
      live = 0;
      for (const [v, it] of its.entries()) {
        const r = it.next();
        if (r.done === true) continue;
        live++;
        got[v].push(`${dec(r.value[0])}=${dec(r.value[1])}`);
      }
    }
    assert.deepEqual(got, versions);
    for (const s of snaps) s.close();
    assert.equal(db.stats().framesPinned, 0);
    assert.equal(db.checkpoint(), true);
    assert.deepEqual(db.check(), []);
    db.close();
  });

  test("40 db.range() iterators open at once over 40 commits, advanced in turn across writes", () => {
    const { db } = memDb();
    fill(db, 120, "v-");
    const its: Entries[] = [];
    const want: string[][] = [];
    for (let c = 0; c < 40; c++) {
      db.put(pad(c * 3), `c${c}`);
      db.delete(pad(c * 3 + 1));
      want.push(lines(db.range({ reverse: c % 2 === 1 })));
      its.push(db.range({ reverse: c % 2 === 1 }));
    }
    assert.equal(db.stats().snapshots, 40);
    const got: string[][] = want.map(() => []);
    let step = 0;
    for (let live = its.length; live > 0; step++) {
      live = 0;
      for (const [c, it] of its.entries()) {
        const r = it.next();
        if (r.done === true) continue;
        live++;
        got[c].push(`${dec(r.value[0])}=${dec(r.value[1])}`);
      }
      if (step % 10 === 0) db.put(pad(step % 120), `during ${step}`); // and the pages move on
    }
    assert.deepEqual(got, want);
    assert.equal(db.stats().snapshots, 0, "every iterator ended, so every snapshot closed");
    assert.equal(db.stats().framesPinned, 0);
    db.close();
  });
});

describe("db.read(fn)", () => {
  test("runs fn on a snapshot and closes it after fn returns, returning what fn returned", () => {
    const { db } = memDb();
    db.put("a", "1");
    let seen: Snapshot | undefined;
    const got = db.read((s) => {
      seen = s;
      assert.equal(db.stats().snapshots, 1);
      db.put("a", "2"); // a write while it reads: not seen
      return dec(s.get("a"));
    });
    assert.equal(got, "1");
    assert.equal(dec(db.get("a")), "2");
    assert.equal(seen?.closed, true);
    throwsCode(() => seen?.get("a"), "ERR_CLOSED");
    assert.equal(db.stats().snapshots, 0);
    db.close();
  });

  test("closes its snapshot when fn throws, and rethrows", () => {
    const { db } = memDb();
    db.put("a", "1");
    let seen: Snapshot | undefined;
    assert.throws(
      () =>
        db.read((s) => {
          seen = s;
          throw new Error("boom");
        }),
      /boom/,
    );
    assert.equal(seen?.closed, true);
    assert.equal(db.stats().snapshots, 0);
    assert.equal(db.checkpoint(), true);
    db.close();
  });

  test("a fn that returns a promise is ERR_ARG, and its snapshot is closed anyway", () => {
    const { db } = memDb();
    db.put("a", "1");
    let seen: Snapshot | undefined;
    throwsCode(
      () =>
        db.read(async (s) => {
          seen = s;
          return dec(s.get("a"));
        }),
      "ERR_ARG",
    );
    assert.equal(seen?.closed, true);
    throwsCode(() => db.read((s) => Promise.resolve(s.get("a"))), "ERR_ARG");
    assert.equal(db.stats().snapshots, 0);
    db.close();
  });
});

describe("use after close is ERR_CLOSED", () => {
  test("after the snapshot's close: get, has, range and an iterator's next; close is idempotent", () => {
    const { db } = memDb();
    fill(db, 50, "v-");
    const s = db.snapshot();
    const it = s.range();
    assert.equal(dec(it.next().value?.[0]), pad(0));
    s.close();
    assert.equal(s.closed, true);
    throwsCode(() => s.get(pad(1)), "ERR_CLOSED");
    throwsCode(() => s.has(pad(1)), "ERR_CLOSED");
    throwsCode(() => [...s.range()], "ERR_CLOSED");
    throwsCode(() => it.next(), "ERR_CLOSED");
    s.close();
    assert.equal(s.closed, true);
    assert.equal(db.stats().snapshots, 0);
    db.close();
  });

  test("an iterator that would yield nothing (limit: 0) is ERR_CLOSED after a close too", () => {
    const { db } = memDb();
    db.put("a", "1");
    const s = db.snapshot();
    const fromSnapshot = s.range({ limit: 0 });
    s.close();
    throwsCode(() => fromSnapshot.next(), "ERR_CLOSED");
    const s2 = db.snapshot();
    const fromSnapshot2 = s2.range({ limit: 0 });
    const fromDb = db.range({ limit: 0 });
    db.close();
    throwsCode(() => fromSnapshot2.next(), "ERR_CLOSED");
    throwsCode(() => fromDb.next(), "ERR_CLOSED");
  });

  test("[Symbol.dispose] closes the snapshot", () => {
    const { db } = memDb();
    db.put("a", "1");
    const s = db.snapshot();
    assert.equal(db.stats().snapshots, 1);
    s[Symbol.dispose]();
    assert.equal(s.closed, true);
    assert.equal(db.stats().snapshots, 0);
    throwsCode(() => s.get("a"), "ERR_CLOSED");
    s[Symbol.dispose](); // and it is as idempotent as close()
    s.close();
    db.close();
  });

  test("db.close() closes every open snapshot and db.range() iterator", () => {
    const { db } = memDb();
    fill(db, 50, "v-");
    const snaps = Array.from({ length: 5 }, () => db.snapshot());
    const its: Entries[] = [db.range(), db.range({ reverse: true })];
    its[0].next();
    const started = snaps[2].range();
    started.next();
    assert.equal(db.stats().snapshots, 7);
    db.close();
    for (const [i, s] of snaps.entries()) {
      assert.equal(s.closed, true, `snapshot ${i} after db.close()`);
      throwsCode(() => s.get(pad(1)), "ERR_CLOSED");
      throwsCode(() => s.has(pad(1)), "ERR_CLOSED");
      throwsCode(() => [...s.range()], "ERR_CLOSED");
      s.close(); // still idempotent
    }
    throwsCode(() => started.next(), "ERR_CLOSED");
    for (const it of its) throwsCode(() => it.next(), "ERR_CLOSED");
    throwsCode(() => db.snapshot(), "ERR_CLOSED");
    throwsCode(() => db.read(() => 1), "ERR_CLOSED");
    throwsCode(() => [...db.range()], "ERR_CLOSED");
  });
});

describe("db.range() closes the snapshot it takes", () => {
  test("it is taken when range() is called, and closed when the iterator ends", () => {
    const { db } = memDb();
    fill(db, 100, "v-");
    const want = lines(db.range());
    const it = db.range();
    assert.equal(db.stats().snapshots, 1, "taken at the call, before the first next()");
    db.put(pad(0), "written before the first next()");
    db.delete(pad(50));
    assert.deepEqual(lines(it), want);
    assert.equal(db.stats().snapshots, 0, "closed at the end");
    assert.equal(it.next().done, true);
    const limited = db.range({ limit: 3 });
    assert.equal(lines(limited).length, 3);
    assert.equal(db.stats().snapshots, 0, "closed when the limit ends it");
    assert.deepEqual(lines(db.range({ gt: "zzz" })), []);
    assert.equal(db.stats().snapshots, 0, "closed when empty");
    db.close();
  });

  test("when a for..of breaks, when the loop body throws, and at return()", () => {
    const { db } = memDb();
    fill(db, 100, "v-");
    for (const _ of db.range()) break;
    assert.equal(db.stats().snapshots, 0, "after a break");
    assert.throws(() => {
      for (const [k] of db.range({ reverse: true })) {
        if (dec(k) === pad(90)) throw new Error("body");
      }
    }, /body/);
    assert.equal(db.stats().snapshots, 0, "after the loop body threw");
    const it = db.range();
    it.next();
    it.return?.();
    assert.equal(db.stats().snapshots, 0, "after return()");
    assert.equal(it.next().done, true);
    assert.equal(db.checkpoint(), true, "nothing holds the log");
    db.close();
  });

  test("bad options are ERR_ARG and take no snapshot", () => {
    const { db } = memDb();
    db.put("a", "1");
    throwsCode(() => [...db.range({ limit: -1 })], "ERR_ARG");
    throwsCode(() => [...db.range({ snapshot: "yes" as unknown as boolean })], "ERR_ARG");
    assert.equal(db.stats().snapshots, 0);
    const s = db.snapshot();
    // Not an option of a snapshot's range (its type has no such field either).
    throwsCode(() => [...s.range({ snapshot: true } as RangeOptions)], "ERR_ARG");
    throwsCode(() => [...s.range({ snapshot: false } as RangeOptions)], "ERR_ARG");
    assert.deepEqual(lines(s.range()), ["a=1"]);
    s.close();
    db.close();
  });

  test("when an abandoned iterator is garbage collected", async () => {
    const gc = collector();
    const { db } = memDb();
    fill(db, 100, "v-");
    // Abandoned in functions that return: nothing refers to the iterators afterwards.
    (() => {
      const it = db.range();
      it.next();
      it.next();
    })();
    (() => {
      db.range({ reverse: true });
    })();
    (() => {
      const it = db.range({ gte: pad(10) });
      it.next();
      db.put(pad(11), "after");
    })();
    assert.equal(db.stats().snapshots, 3);
    const held = db.snapshot(); // a snapshot kept alive stays open
    let rounds = 0;
    while (db.stats().snapshots > 1 && rounds < 50) {
      rounds++;
      gc();
      // The registry's callbacks run as tasks of their own after the collection.
      for (let i = 0; i < 3; i++) await new Promise((resolve) => setImmediate(resolve));
    }
    assert.equal(db.stats().snapshots, 1, `after ${rounds} rounds of gc`);
    assert.equal(held.closed, false);
    held.close();
    assert.equal(db.checkpoint(), true, "nothing holds the log");
    db.close();
  });
});

describe("snapshot: false follows the live tree", () => {
  test("it sees writes made after the iterator was created; the default does not", () => {
    const { db } = memDb();
    for (const k of ["a", "b", "c", "d", "e"]) db.put(k, k.toUpperCase());
    const live = db.range({ snapshot: false });
    const frozen = db.range();
    const explicit = db.range({ snapshot: true });
    assert.equal(db.stats().snapshots, 2, "snapshot: false takes none");
    assert.equal(dec(live.next().value?.[0]), "a");
    assert.equal(dec(frozen.next().value?.[0]), "a");
    db.put("b", "B2");
    db.delete("c");
    db.put("cc", "new");
    assert.deepEqual(lines(live), ["b=B2", "cc=new", "d=D", "e=E"]);
    assert.deepEqual(lines(frozen), ["b=B", "c=C", "d=D", "e=E"]);
    assert.deepEqual(lines(explicit), ["a=A", "b=B", "c=C", "d=D", "e=E"]);
    assert.equal(db.stats().snapshots, 0);
    db.close();
  });
});

describe("inside a transaction function", () => {
  test("db.get, has and range see the last commit; tx sees its own writes", () => {
    const { db } = memDb();
    db.put("a", "1");
    db.put("b", "2");
    const before = db.snapshot();
    let it: Entries | undefined;
    db.transaction((tx) => {
      tx.put("a", "tx");
      tx.delete("b");
      tx.put("c", "3");
      assert.equal(dec(tx.get("a")), "tx");
      assert.equal(tx.has("b"), false);
      assert.deepEqual(lines(tx.range()), ["a=tx", "c=3"]);
      assert.equal(dec(db.get("a")), "1");
      assert.equal(db.has("b"), true);
      assert.equal(db.has("c"), false);
      assert.deepEqual(lines(db.range()), ["a=1", "b=2"]);
      assert.deepEqual(lines(db.range({ reverse: true })), ["b=2", "a=1"]);
      it = db.range();
      assert.equal(dec(it.next().value?.[1]), "1");
      assert.deepEqual(lines(before.range()), ["a=1", "b=2"]);
      tx.put("d", "4");
    });
    // The iterator made inside reads the snapshot it took there, after the commit too.
    assert.deepEqual(lines(it ?? []), ["b=2"]);
    assert.deepEqual(lines(db.range()), ["a=tx", "c=3", "d=4"]);
    assert.deepEqual(lines(before.range()), ["a=1", "b=2"]);
    before.close();
    assert.equal(db.stats().snapshots, 0);
    db.close();
  });
});

describe("automatic checkpoints", () => {
  test("an automatic checkpoint runs after a transaction function commits", () => {
    // A transaction's reads through db use a snapshot of the last commit; it must not hold
    // the log at the transaction's own commit, or a database written only in transaction
    // functions never checkpoints on its own.
    const { db } = memDb({ autoCheckpointPages: 16 });
    for (let i = 0; i < 100; i++) db.transaction((tx) => tx.put(pad(i), "v"));
    const s = db.stats();
    assert.ok(s.checkpoints > 0, `${s.checkpoints} automatic checkpoints in 100 commits`);
    assert.ok(s.walFrames < 16, `${s.walFrames} frames in the log, autoCheckpointPages 16`);
    db.close();
  });

  test("an automatic checkpoint waits for a snapshot and completes once it closes", () => {
    const { db } = memDb({ autoCheckpointPages: 16 });
    fill(db, 50, "v-");
    const want = lines(db.range());
    const s = db.snapshot();
    for (let i = 0; i < 100; i++) db.put(pad(i), `w${i}`);
    const held = db.stats();
    assert.ok(held.walFrames >= 100, `${held.walFrames} frames: the log was reset under it`);
    assertReads(s, want, "a snapshot across automatic checkpoints");
    s.close();
    db.put(pad(0), "after");
    const after = db.stats();
    assert.ok(after.walFrames < 16, `${after.walFrames} frames after the snapshot closed`);
    assert.ok(after.checkpoints > held.checkpoints);
    db.close();
  });
});

describe("snapshots and transactions", () => {
  test("a transaction that spills to the log: snapshots, one taken inside and db reads see the last commit", () => {
    const { db } = memDb();
    fill(db, 200, "v-");
    const want = lines(db.range());
    const before = db.snapshot();
    let inside: Snapshot | undefined;
    db.transaction((tx) => {
      // Far more dirty pages than the smallest pool holds: they spill past the committed end.
      for (let i = 0; i < 200; i++) tx.put(pad(i), `tx${i}`.padEnd(400, "+"));
      for (let i = 200; i < 400; i++) tx.put(pad(i), "tx");
      inside = db.snapshot();
      assertReads(before, want, "an older snapshot inside a spilling transaction");
      assertReads(inside, want, "a snapshot taken inside the transaction");
      assertReads(db, want, "the database inside the transaction");
      assert.equal(
        db.read((s) => lines(s.range()).length),
        200,
      );
      assert.equal(dec(tx.get(pad(399))), "tx");
    });
    assert.ok(inside !== undefined);
    assertReads(inside, want, "the inside snapshot after the commit");
    assertReads(before, want, "the older snapshot after the commit");
    assert.equal(lines(db.range()).length, 400);
    inside.close();
    before.close();
    db.close();
  });
});

describe("SNAPSHOTS_MAX", () => {
  test("opening SNAPSHOTS_MAX + 1 is ERR_LIMIT; after a close, one more opens", () => {
    const { db } = memDb();
    fill(db, 20, "v-");
    const snaps: Snapshot[] = [];
    for (let i = 0; i < SNAPSHOTS_MAX; i++) {
      snaps.push(db.snapshot());
      if (i % 100 === 0) db.put(pad(i % 20), `at ${i}`); // snapshots of several commits
    }
    assert.equal(db.stats().snapshots, SNAPSHOTS_MAX);
    throwsCode(() => db.snapshot(), "ERR_LIMIT");
    throwsCode(() => db.read(() => 1), "ERR_LIMIT");
    throwsCode(() => [...db.range()], "ERR_LIMIT");
    assert.equal(db.stats().snapshots, SNAPSHOTS_MAX, "failed opens hold nothing");
    // A range that follows the live tree needs no snapshot, nor do one-call writes.
    assert.equal(lines(db.range({ snapshot: false })).length, 20);
    db.put("at-the-limit", "1");
    db.batch([{ type: "del", key: "at-the-limit" }]);
    // Each still reads its own instant: pad(0) was rewritten after every 100th open.
    assert.equal(dec(snaps[0].get(pad(0))), fillValue("v-", 0));
    assert.equal(dec(snaps[1].get(pad(0))), "at 0");
    assert.equal(dec(snaps[SNAPSHOTS_MAX - 1].get(pad(0))), "at 1000");
    snaps[500].close();
    const extra = db.snapshot();
    assert.equal(db.stats().snapshots, SNAPSHOTS_MAX);
    assert.equal(lines(extra.range()).length, 20);
    throwsCode(() => db.snapshot(), "ERR_LIMIT");
    for (const s of snaps) s.close();
    extra.close();
    assert.equal(db.stats().snapshots, 0);
    db.close();
  });
});

describe("a fenced database still reads", () => {
  test("through a snapshot taken before the failed sync and through one taken after", () => {
    const fs = new MemFS();
    const db = open("/fenced.pkv", { vfs: fs, pageSize: 4096 });
    fill(db, 200, "v0-");
    const stateA = lines(db.range());
    const before = db.snapshot();
    db.batch(Array.from({ length: 100 }, (_, i) => ({ type: "put", key: pad(i), value: "v1" })));
    const stateB = lines(db.range());
    const between = db.snapshot();
    fs.injectFault("sync", 1, "EIO");
    throwsCode(() => db.put(pad(5), "lost"), "ERR_IO");
    throwsCode(() => db.put(pad(6), "refused"), "ERR_FENCED");
    const after = db.snapshot();
    assertReads(before, stateA, "a snapshot taken before the fence");
    assertReads(between, stateB, "a snapshot taken before the fence, at the last commit");
    assertReads(after, stateB, "a snapshot taken after the fence");
    assertReads(db, stateB, "the fenced database");
    assert.deepEqual(
      db.read((s) => lines(s.range())),
      stateB,
    );
    for (const s of [before, between, after]) s.close();
    assert.equal(db.stats().snapshots, 0);
    db.close(); // without checkpoint: fenced
    fs.crash();
    const again = open("/fenced.pkv", { vfs: fs });
    assert.deepEqual(lines(again.range()), stateB);
    again.close();
  });
});

describe("a crash forgets snapshots", () => {
  test("a snapshot of the crashed database is ERR_CLOSED; reopen holds the last commit, after a partial checkpoint too", () => {
    for (const seed of [undefined, 1, 2, 3, 4, 5, 6, 7]) {
      const fs = new MemFS();
      const options = { vfs: fs, pageSize: 512, cacheBytes: 0, autoCheckpointPages: 0 };
      const db = open("/c.pkv", options);
      fill(db, 200, "a-"); // in the log only
      const s = db.snapshot();
      fill(db, 150, "b-"); // behind the snapshot
      db.delete(pad(3));
      const want = lines(db.range());
      // Copies home what lies below the snapshot's bound (the a- commit), nothing after.
      assert.equal(db.checkpoint(), false);
      assert.ok(db.stats().walFrames > 0);
      fs.crash(seed === undefined ? {} : { seed });
      throwsCode(() => s.get(pad(1)), "ERR_CLOSED");
      throwsCode(() => [...s.range()], "ERR_CLOSED");
      const again = open("/c.pkv", options);
      assert.deepEqual(lines(again.range()), want, `crash seed ${seed}`);
      assert.deepEqual(again.check(), [], `crash seed ${seed}`);
      assert.equal(again.stats().snapshots, 0);
      again.close();
    }
  });
});

describe("stats()", () => {
  test("snapshots, snapshotCommitsBehind and snapshotFramesHeld as documented", () => {
    // No automatic checkpoint: the log only resets at db.checkpoint().
    const { db } = memDb({ autoCheckpointPages: 0 });
    fill(db, 100, "v-");
    const held = () => {
      const s = db.stats();
      return [s.snapshots, s.snapshotCommitsBehind, s.snapshotFramesHeld];
    };
    assert.deepEqual(held(), [0, 0, 0], "none open");
    const a = db.snapshot();
    const boundA = db.stats().walFrames;
    assert.deepEqual(held(), [1, 0, 0], "one, at the last commit");
    for (let i = 0; i < 3; i++) db.put(pad(i), `w${i}`);
    const afterThree = db.stats();
    assert.ok(afterThree.walFrames > boundA);
    assert.deepEqual(held(), [1, 3, afterThree.walFrames - boundA], "three commits later");
    const b = db.snapshot();
    const boundB = db.stats().walFrames;
    const it = db.range();
    assert.deepEqual(held(), [3, 3, afterThree.walFrames - boundA], "the oldest counts");
    a.close();
    assert.deepEqual(held(), [2, 0, 0], "the others are at the last commit");
    db.delete(pad(50));
    assert.deepEqual(held(), [2, 1, db.stats().walFrames - boundB], "one commit later");
    const walBefore = db.stats().walFrames;
    assert.equal(db.checkpoint(), false);
    assert.equal(db.stats().walFrames, walBefore, "a checkpoint that returned false kept the log");
    assert.equal(lines(it).length, 100);
    assert.deepEqual(held(), [1, 1, db.stats().walFrames - boundB], "the iterator ended");
    b.close();
    assert.deepEqual(held(), [0, 0, 0], "all closed");
    // A snapshot at the last commit lets the checkpoint reset the log, and moves with it.
    const c = db.snapshot();
    assert.equal(db.checkpoint(), true);
    assert.equal(db.stats().walFrames, 0);
    assert.deepEqual(held(), [1, 0, 0], "after the reset");
    db.put(pad(60), "after the reset");
    db.put(pad(61), "after the reset");
    assert.deepEqual(held(), [1, 2, db.stats().walFrames], "its bound is 0 in the new log");
    assert.equal(dec(c.get(pad(60))), fillValue("v-", 60));
    c.close();
    assert.deepEqual(held(), [0, 0, 0]);
    db.close();
  });
});

// ---- a long-lived snapshot at scale ----

const BIG_KEYS = 100_000;
const BIG_TX_KEYS = 1000;
const BIG_SEED = envSeed("PAGEKV_SNAPSHOT_BIG_SEED", 7) ?? 7;
const bigKey = (i: number) => `key${String(i).padStart(6, "0")}`;

/**
 * Key i's value in round r: names both; every 97th key overflows a 4 KiB page. Sizes cycle
 * with r % 3, so rounds 3, 6, ... need the pages round 0 did.
 */
function bigValue(i: number, r: number): string {
  const c = r % 3;
  const length = i % 97 === 0 ? 1200 + ((i * 31 + c * 700) % 2400) : 8 + ((i * 7 + c * 13) % 60);
  return `${r}.${i}.`.padEnd(length, String.fromCharCode(97 + ((i + r) % 26)));
}

/** Rewrite every key with round r's value, in transactions of BIG_TX_KEYS keys. */
function rewriteRound(db: Database, r: number, afterEach: () => void): void {
  for (let first = 0; first < BIG_KEYS; first += BIG_TX_KEYS) {
    db.transaction((tx) => {
      for (let i = first; i < first + BIG_TX_KEYS; i++) tx.put(bigKey(i), bigValue(i, r));
    });
    afterEach();
  }
}

/** Every key of a reader, in order, holds round r's value. */
function assertRound(s: Snapshot | Database, r: number, what: string): void {
  let i = 0;
  let bytes = 0;
  for (const [k, v] of s.range()) {
    const key = dec(k);
    if (key !== bigKey(i) || dec(v) !== bigValue(i, r)) {
      assert.fail(
        `${what}: entry ${i} is ${key} = ${dec(v)?.slice(0, 20)}, want ${bigKey(i)} of round ${r}`,
      );
    }
    bytes += k.length + v.length;
    i++;
  }
  assert.equal(i, BIG_KEYS, `${what}: entries`);
  let want = 0;
  for (let j = 0; j < BIG_KEYS; j++) want += bigKey(j).length + bigValue(j, r).length;
  assert.equal(bytes, want, `${what}: bytes`);
}

test("a snapshot held while 100,000 keys are rewritten three times reads its state; once closed, the log resets and the file stops growing", () => {
  withTempDir((dir) => {
    const started = performance.now();
    const file = path.join(dir, "big.pkv");
    const db = open(file);
    for (let first = 0; first < BIG_KEYS; first += 10_000) {
      db.batch(
        Array.from({ length: 10_000 }, (_, j) => ({
          type: "put" as const,
          key: bigKey(first + j),
          value: bigValue(first + j, 0),
        })),
      );
    }
    assert.equal(db.checkpoint(), true);
    const s = db.snapshot();
    let held = 0;
    for (let r = 1; r <= 3; r++) {
      rewriteRound(db, r, () => {
        assert.equal(db.checkpoint(), false, "a checkpoint while the snapshot is held");
        held++;
      });
      // A seeded sample of point reads through the snapshot after each round.
      const rng = new Prng(BIG_SEED + r);
      for (let n = 0; n < 2000; n++) {
        const i = rng.int(BIG_KEYS);
        assert.equal(dec(s.get(bigKey(i))), bigValue(i, 0), `round ${r}: get ${bigKey(i)}`);
      }
    }
    const whileHeld = db.stats();
    assert.equal(whileHeld.snapshots, 1);
    assert.equal(whileHeld.snapshotCommitsBehind, held);
    assert.ok(
      whileHeld.snapshotFramesHeld > 0 && whileHeld.snapshotFramesHeld <= whileHeld.walFrames,
    );
    assertRound(s, 0, "the snapshot after three rounds");
    assertRound(db, 3, "the database after three rounds");
    s.close();
    assert.equal(db.checkpoint(), true, "the first checkpoint after the snapshot closed");
    assert.equal(db.stats().walFrames, 0);
    const size = nodeFs.statSync(file).size;
    const pages = db.stats().pageCount;
    for (let r = 4; r <= 6; r++) {
      rewriteRound(db, r, () => {
        assert.equal(db.checkpoint(), true, `round ${r}: a checkpoint with no snapshot`);
        assert.equal(db.stats().walFrames, 0);
      });
    }
    const end = db.stats();
    assert.equal(
      nodeFs.statSync(file).size,
      size,
      `the file grew from ${pages} to ${end.pageCount} pages (${end.freePages} free) after the snapshot closed`,
    );
    assertRound(db, 6, "the database after six rounds");
    assert.deepEqual(db.check(), []);
    db.close();
    const seconds = ((performance.now() - started) / 1000).toFixed(1);
    console.log(
      `big snapshot: ${BIG_KEYS} keys rewritten 6 times in transactions of ${BIG_TX_KEYS}, ` +
        `held across ${held} commits (${whileHeld.walFrames} log frames, ` +
        `${whileHeld.pageCount} pages while held; ${pages} after; ${end.pageCount} at the end, ` +
        `${end.freePages} free) in ${seconds} s`,
    );
  });
});

/** A full garbage collection on demand: Bun's own, else V8's exposed for the call. */
function collector(): () => void {
  const bun = (globalThis as { Bun?: { gc(force: boolean): void } }).Bun;
  if (bun !== undefined) return () => bun.gc(true);
  v8.setFlagsFromString("--expose-gc");
  return vm.runInNewContext("gc") as () => void;
}
