// db.compact() gives disk space back (docs/design/compact.md): after a large delete the file
// ends at its live data, every key reads back, check() and a reopen are clean; an open
// snapshot still reads its state and holds back only the cut of the file; misuse is typed.
// PAGEKV_COMPACT_KEYS sets the size of the ratio test (npm run test:compact: 1,000,000).

import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { describe, test } from "node:test";
import { BTREE_CACHE_FRAMES_MIN } from "../../src/btree/btree.js";
import { childAt, count, KIND_LEAF, kind, right, setRight } from "../../src/btree/node.js";
import { Database as Db } from "../../src/db/db.js";
import { type Database, KV_APPLICATION_ID, open } from "../../src/index.js";
import { Pager } from "../../src/pager/pager.js";
import { MemFS } from "../../src/vfs/memfs.js";
import { mixSeed, Prng } from "../../src/vfs/prng.js";
import { allocatePage, assertPage, stamped, throwsCode } from "../pager/pages.js";
import { withTempDir } from "../tmpdir.js";

const KEYS = Number(process.env.PAGEKV_COMPACT_KEYS ?? 100_000);
const KEY_BYTES = 16;
const VALUE_BYTES = 100;
/** The bound: the file after compact() over the raw bytes of what is left. */
const RATIO_MAX = 1.3;

function randomKeys(n: number, seed: number): Uint8Array[] {
  const prng = new Prng(seed);
  const keys: Uint8Array[] = [];
  for (let i = 0; i < n; i++) {
    const k = new Uint8Array(KEY_BYTES);
    for (let j = 0; j < KEY_BYTES; j += 4) {
      const r = prng.nextU32();
      k[j] = r;
      k[j + 1] = r >>> 8;
      k[j + 2] = r >>> 16;
      k[j + 3] = r >>> 24;
    }
    keys.push(k);
  }
  return keys;
}

function valueFor(i: number, bytes = VALUE_BYTES): Uint8Array {
  const v = new Uint8Array(bytes);
  for (let j = 0; j < bytes; j += 4) v[j] = (i * 31 + j) & 0xff;
  v[0] = i & 0xff;
  v[1] = (i >>> 8) & 0xff;
  v[2] = (i >>> 16) & 0xff;
  return v;
}

/** Every entry, as hex key -> hex value. */
function contents(it: Iterable<[Uint8Array, Uint8Array]>): Map<string, string> {
  const m = new Map<string, string>();
  for (const [k, v] of it) m.set(Buffer.from(k).toString("hex"), Buffer.from(v).toString("hex"));
  return m;
}

/** A database on MemFS whose pager checks every invariant after every call. */
function debugDb(fs0: MemFS, file: string, cacheFrames = 32): Database {
  const pager = fs0.exists(file)
    ? Pager.open(fs0, file, { debug: true, cacheFrames })
    : Pager.create(fs0, file, {
        debug: true,
        cacheFrames,
        pageSize: 512,
        applicationId: KV_APPLICATION_ID,
      });
  return new Db(pager, false);
}

/** Fill with `n` keys (every 7th value in an overflow chain), then delete all but 1 in 5. */
function fillAndThin(db: Database, n: number, seed: number): Uint8Array[] {
  const keys = randomKeys(n, seed);
  db.batch(
    keys.map((k, i) => ({ type: "put", key: k, value: valueFor(i, i % 7 === 0 ? 1500 : 40) })),
  );
  const left: Uint8Array[] = [];
  db.batch(
    keys.flatMap((k, i) => {
      if (i % 5 === 0) {
        left.push(k);
        return [];
      }
      return [{ type: "del" as const, key: k }];
    }),
  );
  return left;
}

describe("compact", () => {
  test(`${KEYS} random keys, 90% deleted: the file after compact() is at most ${RATIO_MAX}x the raw bytes left, every key reads back, check and reopen clean`, (t) => {
    withTempDir((dir) => {
      const file = path.join(dir, "big.pkv");
      const keys = randomKeys(KEYS, mixSeed(1302));
      const db = open(file, { sync: "off" });
      for (let b = 0; b < KEYS; b += 10_000) {
        db.batch(
          keys
            .slice(b, b + 10_000)
            .map((k, j) => ({ type: "put", key: k, value: valueFor(b + j) })),
        );
      }
      for (let b = 0; b < KEYS; b += 10_000) {
        const ops: { type: "del"; key: Uint8Array }[] = [];
        for (let i = b; i < Math.min(KEYS, b + 10_000); i++) {
          if (i % 10 !== 0) ops.push({ type: "del", key: keys[i] });
        }
        db.batch(ops);
      }
      db.checkpoint();
      const before = fs.statSync(file).size;
      // A reference for the time compact() takes, in the same run: a copy of the file.
      const copyStart = performance.now();
      fs.copyFileSync(file, `${file}.copy`);
      const copyMs = performance.now() - copyStart;
      fs.rmSync(`${file}.copy`);
      const s0 = db.stats();
      const start = performance.now();
      const r = db.compact();
      const compactMs = performance.now() - start;
      const s1 = db.stats();
      const after = fs.statSync(file).size;
      const left = Math.ceil(KEYS / 10);
      const raw = left * (KEY_BYTES + VALUE_BYTES);
      t.diagnostic(
        `${KEYS} keys, ${left} left: file ${before} -> ${after} bytes, raw ${raw}, ratio ` +
          `${(after / raw).toFixed(3)} (limit ${RATIO_MAX}); pages ${r.pagesBefore} -> ` +
          `${r.pagesAfter}, ${r.pagesMoved} moved, ${r.leavesMerged} leaves merged, ` +
          `${r.transactions} transactions`,
      );
      t.diagnostic(
        `compact() ${compactMs.toFixed(0)} ms, copying the ${before}-byte file ` +
          `${copyMs.toFixed(0)} ms (${(compactMs / copyMs).toFixed(2)}x); pages read ` +
          `${s1.pagesRead - s0.pagesRead}, written (log and home) ${s1.pagesWritten - s0.pagesWritten} ` +
          `(${((s1.pagesWritten - s0.pagesWritten) / Math.max(1, r.pagesMoved)).toFixed(2)} per page moved), ` +
          `commits ${s1.commits - s0.commits}, checkpoints ${s1.checkpoints - s0.checkpoints}`,
      );
      assert.ok(after <= RATIO_MAX * raw, `file ${after} bytes > ${RATIO_MAX} x ${raw}`);
      assert.equal(r.bytesBefore, before);
      assert.equal(r.bytesAfter, after);
      assert.equal(after, r.pagesAfter * db.stats().pageSize);
      assert.equal(r.fileCut, true);
      assert.equal(db.stats().freePages, 0);
      for (let i = 0; i < KEYS; i++) {
        const v = db.get(keys[i]);
        if (i % 10 === 0) assert.deepEqual(v, valueFor(i), `key ${i}`);
        else assert.equal(v, undefined, `deleted key ${i}`);
      }
      assert.deepEqual(db.check(), []);
      db.close();
      assert.equal(fs.statSync(file).size, after);
      const again = open(file);
      assert.deepEqual(again.check(), []);
      assert.equal(again.stats().pageCount, r.pagesAfter);
      let n = 0;
      for (const [k, v] of again.range()) {
        n++;
        assert.equal(v.length, VALUE_BYTES, Buffer.from(k).toString("hex"));
      }
      assert.equal(n, left);
      again.close();
    });
  });

  test("with every pager invariant checked: overflow chains, a live iterator and a second compact", () => {
    const mem = new MemFS();
    // The smallest pool the tree allows: compaction pins at most three pages at once.
    const db = debugDb(mem, "/d.pkv", BTREE_CACHE_FRAMES_MIN);
    const left = fillAndThin(db, 1500, 7);
    const want = contents(db.range());
    assert.equal(want.size, left.length);
    // A live iterator (it follows the tree) opened before and read on after.
    const live = db.range({ snapshot: false });
    const seen = contents([live.next().value as [Uint8Array, Uint8Array]]);
    const before = db.stats();
    const r = db.compact();
    assert.ok(r.pagesMoved > 0, "nothing moved");
    assert.ok(r.pagesAfter < before.pageCount / 2, `${r.pagesAfter} of ${before.pageCount}`);
    assert.equal(r.pagesBefore, before.pageCount);
    assert.equal(r.fileCut, true);
    assert.equal(mem.durableSize("/d.pkv"), r.pagesAfter * 512);
    for (const [k, v] of contents(live)) seen.set(k, v);
    assert.deepEqual(seen, want);
    assert.deepEqual(contents(db.range()), want);
    assert.deepEqual(db.check(), []);
    // Nothing left to do: the second one moves nothing and commits nothing.
    const commits = db.stats().commits;
    const r2 = db.compact();
    assert.equal(r2.pagesMoved, 0);
    assert.equal(r2.pagesAfter, r.pagesAfter);
    assert.equal(r2.transactions, 0);
    assert.equal(db.stats().commits, commits);
    db.close();
    const again = debugDb(mem, "/d.pkv");
    assert.deepEqual(contents(again.range()), want);
    assert.deepEqual(again.check(), []);
    // Writes after compaction reuse and grow the packed tree as usual.
    again.batch(left.map((k, i) => ({ type: "put", key: k, value: valueFor(i + 1, 30) })));
    assert.deepEqual(again.check(), []);
    again.close();
  });

  test("everything deleted: the file goes back to page 1 and the tree's empty root", () => {
    const mem = new MemFS();
    const db = debugDb(mem, "/e.pkv");
    const left = fillAndThin(db, 600, 3);
    db.batch(left.map((k) => ({ type: "del", key: k })));
    const r = db.compact();
    assert.ok(r.pagesAfter <= 2, `${r.pagesAfter} pages`);
    assert.equal(mem.durableSize("/e.pkv"), r.pagesAfter * 512);
    assert.deepEqual(db.check(), []);
    assert.deepEqual([...db.range()], []);
    db.put("again", "yes");
    assert.equal(new TextDecoder().decode(db.get("again")), "yes");
    db.close();
  });

  test("an open snapshot still reads its state; the file is cut only at the checkpoint after it closes", () => {
    const mem = new MemFS();
    const db = debugDb(mem, "/s.pkv");
    const keys = randomKeys(1200, 11);
    db.batch(
      keys.map((k, i) => ({ type: "put", key: k, value: valueFor(i, i % 9 === 0 ? 900 : 40) })),
    );
    db.checkpoint(); // its pages are home: the snapshot reads them from the main file
    db.put("pre", "compact"); // and one commit in the log: checkpoints copy home below it
    const full = contents(db.range());
    // Taken before the deletes: it needs every page the deletes and the moves free.
    const snap = db.snapshot();
    db.batch(keys.filter((_, i) => i % 6 !== 0).map((k) => ({ type: "del", key: k })));
    db.checkpoint();
    const want = contents(db.range());
    const bytes = mem.durableSize("/s.pkv");
    const r = db.compact();
    assert.ok(r.pagesMoved > 0);
    assert.equal(r.fileCut, false);
    assert.equal(r.bytesAfter, bytes, "the file is not cut while the snapshot is open");
    assert.ok(mem.durableSize("/s.pkv") >= bytes);
    assert.deepEqual(contents(snap.range()), full);
    for (let i = 0; i < keys.length; i += 37)
      assert.deepEqual(
        snap.get(keys[i]),
        full.has(Buffer.from(keys[i]).toString("hex"))
          ? valueFor(i, i % 9 === 0 ? 900 : 40)
          : undefined,
      );
    assert.deepEqual(contents(db.range()), want);
    // Writes go on beside it (they may grow the file into pages the snapshot still reads).
    db.put("later", "write");
    assert.equal(db.checkpoint(), false);
    assert.deepEqual(contents(snap.range()), full);
    snap.close();
    assert.equal(db.checkpoint(), true);
    const pageCount = db.stats().pageCount;
    assert.equal(mem.durableSize("/s.pkv"), pageCount * 512);
    assert.ok(pageCount <= r.pagesAfter + 2, `${pageCount} pages after ${r.pagesAfter}`);
    assert.deepEqual(db.check(), []);
    db.close();
    const again = debugDb(mem, "/s.pkv");
    want.set(Buffer.from("later").toString("hex"), Buffer.from("write").toString("hex"));
    assert.deepEqual(contents(again.range()), want);
    again.close();
  });

  test("a backup in progress copies the state it started from while compact() moves its pages", () => {
    const mem = new MemFS();
    const db = debugDb(mem, "/b.pkv");
    fillAndThin(db, 900, 8);
    db.checkpoint();
    const want = contents(db.range());
    let r: ReturnType<Database["compact"]> | null = null;
    db.backup("/copy.pkv", {
      chunkPages: 8,
      onProgress: (p) => {
        if (r === null && p.pagesDone > 0) r = db.compact();
      },
    });
    assert.ok(r !== null);
    const done = r as ReturnType<Database["compact"]>;
    assert.ok(done.pagesMoved > 0);
    assert.equal(done.fileCut, false, "the backup's snapshot holds the cut back");
    const copy = debugDb(mem, "/copy.pkv");
    assert.deepEqual(contents(copy.range()), want);
    assert.deepEqual(copy.check(), []);
    copy.close();
    assert.equal(db.checkpoint(), true);
    assert.equal(mem.durableSize("/b.pkv"), done.pagesAfter * 512);
    assert.deepEqual(contents(db.range()), want);
    db.close();
  });

  test("a reader in another process holds back the cut, not the compaction", () => {
    const mem = new MemFS();
    const db = open("/r.pkv", { vfs: mem, pageSize: 512 });
    fillAndThin(db, 800, 5);
    db.checkpoint();
    const want = contents(db.range());
    const reader = open("/r.pkv", { vfs: mem.process(), readOnly: true });
    const old = reader.snapshot();
    const r = db.compact();
    assert.equal(r.fileCut, false);
    assert.deepEqual(contents(old.range()), want);
    assert.deepEqual(
      contents(reader.range()),
      want,
      "the reader's refresh sees the compacted tree",
    );
    old.close();
    reader.close();
    assert.equal(db.checkpoint(), true);
    assert.equal(mem.durableSize("/r.pkv"), r.pagesAfter * 512);
    assert.deepEqual(db.check(), []);
    db.close();
  });

  test("asynchronous writes queued before compact() are applied first and resolve", async () => {
    const mem = new MemFS();
    const db = open("/q.pkv", { vfs: mem, pageSize: 512 });
    fillAndThin(db, 600, 4);
    const put = db.putAsync("queued", "first");
    const del = db.deleteAsync("queued-too");
    const r = db.compact();
    assert.ok(r.pagesAfter < r.pagesBefore);
    await put;
    assert.equal(await del, false);
    assert.equal(new TextDecoder().decode(db.get("queued")), "first");
    assert.deepEqual(db.check(), []);
    db.close();
  });

  test("ERR_TXN inside a transaction function, ERR_READ_ONLY on a reader, ERR_CLOSED after close", () => {
    const mem = new MemFS();
    const db = open("/m.pkv", { vfs: mem, pageSize: 512 });
    db.put("a", "1");
    db.transaction((tx) => {
      tx.put("b", "2");
      throwsCode(() => db.compact(), "ERR_TXN");
    });
    const reader = open("/m.pkv", { vfs: mem.process(), readOnly: true });
    throwsCode(() => reader.compact(), "ERR_READ_ONLY");
    reader.close();
    db.close();
    throwsCode(() => db.compact(), "ERR_CLOSED");
  });

  test("a damaged leaf link is ERR_CORRUPT naming the page; the database stays usable", () => {
    const mem = new MemFS();
    const db = open("/c.pkv", { vfs: mem, pageSize: 512 });
    const left = fillAndThin(db, 800, 9);
    db.close();
    // Through the pager (so the checksum is right): a leaf's right link names the root.
    const pager = Pager.open(mem, "/c.pkv", { cacheFrames: 16 });
    const root = pager.getSlot(0);
    let pgno = root;
    for (;;) {
      const f = pager.get(pgno);
      const leaf = kind(f.data) === KIND_LEAF;
      const next = leaf ? 0 : childAt(f.data, count(f.data) >>> 1);
      pager.unpin(f);
      if (leaf) break;
      pgno = next;
    }
    const f = pager.get(pgno, "write");
    assert.notEqual(right(f.data), 0);
    setRight(f.data, root);
    pager.unpin(f, true);
    pager.close();
    const damaged = open("/c.pkv", { vfs: mem });
    const e = throwsCode(() => damaged.compact(), "ERR_CORRUPT");
    // The link is checked when its leaf takes its neighbour's cells (perhaps after a merge).
    assert.match(e.message, new RegExp(`/c.pkv: page \\d+: right sibling ${root}, expected \\d+`));
    for (const k of left) assert.ok(damaged.has(k));
    damaged.put("still", "writable");
    damaged.close();
  });
});

describe("the pager's part: reuseLowestFirst, shrink, the cut", () => {
  const P = "/p.pkv";
  /** A pager with pages 2..11 stamped, then `free` freed, committed. */
  function pagerWith(mem: MemFS, free: number[]): Pager {
    const pager = Pager.create(mem, P, { pageSize: 512, cacheFrames: 8, debug: true });
    pager.begin();
    for (let i = 0; i < 10; i++) allocatePage(pager, 1);
    pager.commit();
    pager.begin();
    for (const p of free) pager.free(p);
    pager.commit();
    return pager;
  }

  test("reuseLowestFirst hands out the lowest free page first; a rollback restores the freelist's order", () => {
    const mem = new MemFS();
    const pager = pagerWith(mem, [9, 4, 11, 6]);
    const order = pager.freePageNumbers();
    pager.begin();
    pager.reuseLowestFirst();
    assert.equal(allocatePage(pager, 2), 4);
    assert.equal(allocatePage(pager, 2), 6);
    pager.free(5);
    pager.rollback();
    assert.deepEqual(pager.freePageNumbers(), order);
    // The order page 1 names (its first trunk) is the committed one: the file reopens.
    pager.checkpoint();
    pager.close();
    const again = Pager.open(mem, P, { debug: true });
    assert.deepEqual(
      [...again.freePageNumbers()].sort((a, b) => a - b),
      [4, 6, 9, 11],
    );
    again.close();
  });

  test("reuseLowestFirst and shrink after the transaction's first change are ERR_TXN", () => {
    const mem = new MemFS();
    const pager = pagerWith(mem, [11]);
    pager.begin();
    allocatePage(pager, 3);
    throwsCode(() => pager.reuseLowestFirst(), "ERR_TXN");
    throwsCode(() => pager.shrink(), "ERR_TXN");
    pager.rollback();
    pager.close();
  });

  test("shrink lowers the page count past the free tail, logs page 1, and the checkpoint cuts the file", () => {
    const mem = new MemFS();
    const pager = pagerWith(mem, [9, 5, 11, 10]);
    pager.checkpoint();
    assert.equal(mem.durableSize(P), 11 * 512);
    pager.begin();
    assert.equal(pager.shrink(), 3);
    assert.equal(pager.pageCount, 8);
    assert.deepEqual(pager.freePageNumbers(), [5]);
    pager.rollback();
    assert.equal(pager.pageCount, 11);
    assert.deepEqual(
      [...pager.freePageNumbers()].sort((a, b) => a - b),
      [5, 9, 10, 11],
    );
    pager.begin();
    assert.equal(pager.shrink(), 3);
    pager.commit();
    // Committed, not yet checkpointed: the file keeps its length, a reopen the new count.
    assert.equal(mem.durableSize(P), 11 * 512);
    // Nothing more to cut: no change, no transaction.
    pager.begin();
    assert.equal(pager.shrink(), 0);
    pager.commit();
    assert.equal(pager.checkpoint(), true);
    assert.equal(mem.durableSize(P), 8 * 512);
    for (const p of [2, 3, 4, 6, 7, 8]) assertPage(pager, p, 1);
    throwsCode(() => pager.get(9), "ERR_PAGE_RANGE");
    // The count grows again through the cut pages, which come back zeroed.
    pager.begin();
    pager.reuseLowestFirst();
    assert.equal(allocatePage(pager, 4), 5);
    const f = pager.allocate();
    assert.equal(f.pgno, 9);
    assert.ok(f.data.every((b) => b === 0));
    pager.unpin(f, true);
    pager.commit();
    pager.close();
    const again = Pager.open(mem, P, { debug: true });
    assert.equal(again.pageCount, 9);
    assertPage(again, 5, 4);
    again.close();
  });

  test("a file longer than its page count (a crash between the cut and the reset) opens, and the next checkpoint cuts it", () => {
    const mem = new MemFS();
    const pager = pagerWith(mem, [10, 11]);
    pager.begin();
    pager.shrink();
    pager.commit();
    pager.close();
    assert.equal(mem.durableSize(P), 9 * 512);
    const f = mem.open(P);
    f.writeAt(stamped(3 * 512, 99, 0), 9 * 512);
    f.sync();
    f.close();
    const again = Pager.open(mem, P, { debug: true });
    assert.equal(again.pageCount, 9);
    for (let p = 2; p <= 9; p++) assertPage(again, p, 1);
    again.begin();
    allocatePage(again, 5);
    again.commit();
    assert.equal(again.checkpoint(), true);
    assert.equal(mem.durableSize(P), 10 * 512);
    again.close();
  });

  test("a snapshot reads a page past the shrunk count, also after the writer allocates it again", () => {
    const mem = new MemFS();
    const pager = pagerWith(mem, []);
    pager.checkpoint();
    const snap = pager.snapshot();
    pager.begin();
    pager.free(11);
    pager.free(10);
    pager.commit();
    pager.begin();
    assert.equal(pager.shrink(), 2);
    pager.commit();
    const read = (p: number) => {
      const f = snap.get(p);
      const bytes = f.data.slice();
      snap.unpin(f);
      return bytes;
    };
    // Page 11 went to the log as the freelist's trunk; page 10 is read from home, newest.
    assert.deepEqual(read(11), stamped(pager.usableSize, 11, 1));
    assert.deepEqual(read(10), stamped(pager.usableSize, 10, 1));
    pager.begin();
    assert.equal(allocatePage(pager, 7), 10);
    assert.equal(allocatePage(pager, 7), 11);
    pager.commit();
    assert.deepEqual(read(11), stamped(pager.usableSize, 11, 1));
    assert.deepEqual(read(10), stamped(pager.usableSize, 10, 1));
    assertPage(pager, 11, 7);
    assert.equal(pager.checkpoint(), false);
    snap.close();
    assert.equal(pager.checkpoint(), true);
    assertPage(pager, 11, 7);
    pager.close();
  });

  test("a reader process whose view moves to a smaller page count keeps no current image past it", () => {
    const mem = new MemFS();
    const pager = pagerWith(mem, []);
    pager.checkpoint();
    const reader = Pager.open(mem.process(), P, { readOnly: true, debug: true, cacheFrames: 16 });
    for (let p = 2; p <= 11; p++) assertPage(reader, p, 1);
    pager.begin();
    pager.free(11);
    pager.free(10);
    pager.free(9);
    pager.commit();
    pager.begin();
    pager.shrink();
    pager.commit();
    assert.equal(reader.refresh(), true);
    assert.equal(reader.pageCount, 8);
    throwsCode(() => reader.get(10), "ERR_PAGE_RANGE");
    pager.begin();
    assert.equal(allocatePage(pager, 8), 9);
    pager.commit();
    reader.refresh();
    assertPage(reader, 9, 8);
    reader.close();
    pager.close();
  });
});
