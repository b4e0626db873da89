// The buffer pool's S3-FIFO replacement (src/pager/buffer-pool.ts): a scan of pages used
// once does not evict pages used twice (the defining property), the miss's own pin is no
// use, ghost hits enter main, pinned frames go round and an all-pinned pool still fails with
// ERR_POOL_EXHAUSTED, spills take the frames nearest eviction, and snapshots, demote and
// dropAll keep the queues whole. Pager tests run with `debug: true` (checkInvariants after
// every call); the BufferPool tests call checkInvariants() themselves.

import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { usableSizeOf } from "../../src/format/page.js";
import { BufferPool } from "../../src/pager/buffer-pool.js";
import { CURRENT, ORPHAN, type PoolFrame } from "../../src/pager/frame.js";
import { Ghost } from "../../src/pager/ghost.js";
import type { Pager, PagerOptions } from "../../src/pager/pager.js";
import { allocatePage, assertPage, reopened, throwsCode, writePage } from "./pages.js";

const PATH = "/s3fifo.pkv";
const PAGE_SIZE = 512;
const USABLE = usableSizeOf(PAGE_SIZE);

/** A database of `pages` pages (2..pages+1, version 1), reopened with `opts`. */
function database(pages: number, opts: PagerOptions): Pager {
  return reopened(PATH, PAGE_SIZE, pages, opts).pager;
}

/** The pager's get on a bare pool: a hit pins; a miss takes a frame, binds and pins it. */
function pin(pool: BufferPool, pgno: number): PoolFrame {
  let f = pool.lookup(pgno);
  if (f === null) {
    f = pool.takeEmpty();
    if (f === null) {
      const victim = pool.chooseVictim();
      assert.ok(victim !== null, `no victim for page ${pgno}`);
      pool.unbind(victim);
      f = victim;
    }
    pool.bind(f, pgno);
  }
  pool.pin(f, false);
  return f;
}

/** pin() then unpin: one access. */
function touch(pool: BufferPool, pgno: number): PoolFrame {
  const f = pin(pool, pgno);
  pool.unpin(f, false);
  return f;
}

function queueOfPage(pool: BufferPool, pgno: number): "small" | "main" | null {
  const f = pool.lookup(pgno);
  return f === null ? null : pool.queueOf(f);
}

describe("the ghost list", () => {
  test("holds at most the last `capacity` pages added, oldest first, and take() removes one", () => {
    const g = new Ghost(100);
    for (let p = 1; p <= 5000; p++) g.add(p);
    const pages: number[] = [];
    g.forEach((p) => {
      pages.push(p);
    });
    assert.ok(pages.length <= 100 && pages.length >= 90, `${pages.length} ghosts`);
    assert.equal(g.size, pages.length);
    assert.ok(pages.every((p, k) => p > 4900 && (k === 0 || p > pages[k - 1])));
    for (let p = 1; p <= 4900; p++) assert.ok(!g.has(p));
    const last = pages[pages.length - 1];
    assert.equal(last, 5000);
    assert.equal(g.take(last), true);
    assert.equal(g.has(last), false);
    assert.equal(g.take(last), false);
    g.add(last); // a taken page may come back
    assert.ok(g.has(last));
    assert.throws(() => g.add(last), /already/);
  });

  test("an entry leaves early when two later adds share its bucket", () => {
    const g = new Ghost(50);
    const home = (p: number) => Math.imul(p, 0x9e3779b1) >>> (32 - 6); // 64 buckets of 2
    const same: number[] = [];
    for (let p = 1; same.length < 3; p++) if (home(p) === home(1)) same.push(p);
    g.add(same[0]);
    g.add(same[1]);
    assert.ok(g.has(same[0]) && g.has(same[1]));
    g.add(same[2]); // the bucket's older way goes
    assert.deepEqual(
      same.map((p) => g.has(p)),
      [false, true, true],
    );
    g.take(same[1]);
    g.add(same[0]); // a taken slot is reused before the live one
    assert.deepEqual(
      same.map((p) => g.has(p)),
      [true, false, true],
    );
  });

  test("capacity 0 holds nothing", () => {
    const g = new Ghost(0);
    g.add(7);
    assert.equal(g.has(7), false);
    assert.equal(g.size, 0);
  });
});

describe("S3-FIFO through the pager", () => {
  test("a scan of pages used once does not evict pages used twice; CLOCK's would", () => {
    // 20 frames: small 2, main 18. Pages 2..11 are read three times (two uses), 12 once.
    const pager = database(200, { cacheFrames: 20 });
    for (let round = 0; round < 3; round++) for (let p = 2; p <= 11; p++) assertPage(pager, p, 1);
    assertPage(pager, 12, 1);
    for (let p = 50; p <= 199; p++) assertPage(pager, p, 1); // a scan of 150 pages
    const before = pager.stats();
    // The 20 frames filled at page 58; from 59 on every miss evicted one page.
    assert.equal(before.evictions, 199 - 58);
    for (let p = 2; p <= 11; p++) assertPage(pager, p, 1);
    const after = pager.stats();
    assert.equal(after.misses, before.misses, "the hot pages all stayed");
    assert.equal(after.hits, before.hits + 10);
    assertPage(pager, 12, 1);
    assert.equal(pager.stats().misses, before.misses + 1, "the page used once left");
    pager.close();
  });

  test("an all-pinned pool fails with ERR_POOL_EXHAUSTED, then works once a pin is gone", () => {
    // 10 frames: small 1, main 9. Pages 2..6 reach main (two uses), then 10 pages fill the
    // pool and every frame is pinned, in small and in main.
    const pager = database(40, { cacheFrames: 10 });
    for (let round = 0; round < 3; round++) for (let p = 2; p <= 6; p++) assertPage(pager, p, 1);
    for (let p = 7; p <= 12; p++) assertPage(pager, p, 1);
    const pinned = [];
    for (let p = 2; p <= 11; p++) pinned.push(pager.get(p));
    const before = pager.stats();
    assert.equal(before.framesPinned, 10);
    const e = throwsCode(() => pager.get(30), "ERR_POOL_EXHAUSTED");
    assert.match(e.message, /all 10 frames are pinned/);
    throwsCode(() => pager.allocate(), "ERR_POOL_EXHAUSTED");
    const after = pager.stats();
    assert.equal(after.pageCount, before.pageCount);
    assert.equal(after.evictions, before.evictions);
    // One pin dropped on a page in main: it is the only victim.
    pager.unpin(pinned[2]); // page 4
    assertPage(pager, 30, 1);
    assert.equal(pager.stats().evictions, before.evictions + 1);
    for (const [k, f] of pinned.entries()) if (k !== 2) pager.unpin(f);
    for (let p = 2; p <= 11; p++) if (p !== 4) assertPage(pager, p, 1);
    assert.equal(pager.stats().misses, after.misses + 1, "only page 30 was a miss");
    pager.close();
  });

  test("a transaction larger than the pool spills and reads back, pages in both queues", () => {
    const pager = database(2, { cacheFrames: 10 });
    pager.begin();
    const pages: number[] = [];
    for (let i = 0; i < 40; i++) pages.push(allocatePage(pager, 5));
    for (let round = 0; round < 2; round++)
      for (const p of pages.slice(0, 5)) writePage(pager, p, 6);
    for (let i = 0; i < 20; i++) pages.push(allocatePage(pager, 5));
    // 60 pages made dirty, 10 frames: at least 50 went to the log to make room.
    assert.ok(pager.stats().writebacks >= 50, `writebacks ${pager.stats().writebacks}`);
    pager.commit();
    for (const [k, p] of pages.entries()) assertPage(pager, p, k < 5 ? 6 : 5);
    pager.close();
  });

  test("snapshots' older images go through small and leave without ghosts", () => {
    const pager = database(30, { cacheFrames: 10, walAutoCheckpointPages: 0 });
    const snap = pager.snapshot();
    pager.begin();
    for (let p = 2; p <= 8; p++) writePage(pager, p, 2);
    pager.commit();
    // The snapshot reads the old images of 2..8 and the pager the new ones, through 10
    // frames: both kinds are evicted alike, the invariants checked after every call.
    for (let round = 0; round < 3; round++) {
      for (let p = 2; p <= 8; p++) {
        const f = snap.get(p);
        snap.unpin(f);
        assertPage(pager, p, 2);
      }
      for (let p = 9; p <= 20; p++) assertPage(pager, p, 1);
    }
    snap.close();
    assert.equal(pager.checkpoint(), true);
    for (let p = 2; p <= 31; p++) assertPage(pager, p, p <= 8 ? 2 : 1);
    pager.close();
  });
});

describe("S3-FIFO in BufferPool", () => {
  test("the miss's own pin is no use: one hit leaves from small, two move to main", () => {
    // 10 frames: small 1, main 9.
    const pool = new BufferPool(10, PAGE_SIZE, USABLE);
    assert.equal(pool.smallShare, 1);
    assert.equal(pool.mainShare, 9);
    touch(pool, 1);
    touch(pool, 1); // one use
    touch(pool, 2);
    touch(pool, 2);
    touch(pool, 2); // two uses
    for (let p = 3; p <= 10; p++) touch(pool, p);
    for (let p = 1; p <= 10; p++) assert.equal(queueOfPage(pool, p), "small");
    pool.checkInvariants();
    touch(pool, 11); // small's oldest, 1, has one use: it is the victim
    assert.equal(pool.lookup(1), null);
    assert.ok(pool.ghost.has(1));
    touch(pool, 12); // 2 has two uses: main; 3 is the victim
    assert.equal(queueOfPage(pool, 2), "main");
    assert.equal(pool.lookup(3), null);
    assert.deepEqual(
      [1, 3].map((p) => pool.ghost.has(p)),
      [true, true],
    );
    pool.checkInvariants();
  });

  test("a ghost's miss enters main and leaves the ghost list; others enter small", () => {
    const pool = new BufferPool(10, PAGE_SIZE, USABLE);
    for (let p = 1; p <= 10; p++) touch(pool, p);
    touch(pool, 11); // evicts 1 from small
    assert.ok(pool.ghost.has(1));
    touch(pool, 1);
    assert.equal(queueOfPage(pool, 1), "main");
    assert.ok(!pool.ghost.has(1));
    assert.equal(queueOfPage(pool, 11), "small");
    touch(pool, 50);
    assert.equal(queueOfPage(pool, 50), "small");
    pool.checkInvariants();
  });

  test("the ghost list holds the last mainShare pages evicted from small, no more", () => {
    const pool = new BufferPool(10, PAGE_SIZE, USABLE);
    for (let p = 1; p <= 100; p++) touch(pool, p);
    // 90 pages were evicted from small, in order 1..90; the newest 9 are ghosts.
    assert.equal(pool.ghost.size, 9);
    for (let p = 1; p <= 100; p++) assert.equal(pool.ghost.has(p), p >= 82 && p <= 90, `${p}`);
    const order: number[] = [];
    pool.ghost.forEach((p) => {
      order.push(p);
    });
    assert.deepEqual(order, [82, 83, 84, 85, 86, 87, 88, 89, 90]);
    // A ghost brought back leaves a stale slot: the ring still expires in eviction order.
    touch(pool, 85);
    // 85 went to main, 91 was evicted from small into the slot 82 held: 82 expired though
    // 85's slot is free now (a ring reuses no slot out of turn).
    assert.equal(pool.ghost.size, 8);
    assert.ok(!pool.ghost.has(85) && pool.ghost.has(91) && !pool.ghost.has(82));
    pool.checkInvariants();
  });

  test("a move into a full main evicts main's oldest page with no use left, and only it", () => {
    // 10 frames: small 1, main 9. 1..9 are evicted from small (ghosts), then come back into
    // main, in order, each miss evicting small's oldest (10..18).
    const pool = new BufferPool(10, PAGE_SIZE, USABLE);
    for (let p = 1; p <= 19; p++) touch(pool, p);
    for (let p = 1; p <= 9; p++) touch(pool, p);
    for (let p = 1; p <= 9; p++) assert.equal(queueOfPage(pool, p), "main");
    touch(pool, 1); // main's oldest has a use
    touch(pool, 100); // evicts 19 from small: 100 is all small holds
    touch(pool, 100);
    touch(pool, 100); // two uses
    assert.equal(pool.lookup(19), null);
    // 101's miss: 100 moves to a full main, which first takes 1's use (1 goes round) and
    // evicts 2; small is left empty, the call ends with that one victim and 101 enters small.
    touch(pool, 101);
    assert.equal(pool.lookup(2), null);
    assert.ok(!pool.ghost.has(2), "main's victims leave no ghost");
    assert.equal(queueOfPage(pool, 1), "main");
    assert.equal(queueOfPage(pool, 100), "main");
    assert.equal(queueOfPage(pool, 101), "small");
    for (let p = 3; p <= 9; p++) assert.equal(queueOfPage(pool, p), "main");
    pool.checkInvariants();
  });

  test("a pinned frame at a queue's end goes round unchanged; all pinned gives null", () => {
    const pool = new BufferPool(4, PAGE_SIZE, USABLE); // small 1, main 3
    const a = touch(pool, 1);
    const b = touch(pool, 2);
    const c = touch(pool, 3);
    const d = touch(pool, 4);
    pool.pin(a, false); // a use, and pinned
    const victim = pool.chooseVictim();
    assert.equal(victim, b, "the pinned oldest is passed over");
    assert.equal(a.freq, 3, "its counter is kept: one use");
    pool.unbind(b);
    pool.bind(b, 5);
    pool.pin(b, false);
    for (const f of [c, d]) pool.pin(f, false);
    assert.equal(pool.chooseVictim(), null, "every frame pinned");
    pool.checkInvariants();
    pool.unpin(d, false);
    assert.equal(pool.chooseVictim(), d);
    for (const f of [a, b, c]) pool.unpin(f, false);
    pool.checkInvariants();
  });

  test("main all pinned: small gives a victim though below its share", () => {
    // 20 frames: small 2, main 18. 1..18 leave small as ghosts and come back into main,
    // pinned; 37 and 38 are what small holds.
    const pool = new BufferPool(20, PAGE_SIZE, USABLE);
    assert.equal(pool.smallShare, 2);
    for (let p = 1; p <= 38; p++) touch(pool, p);
    const main = [];
    for (let p = 1; p <= 18; p++) main.push(pin(pool, p));
    assert.deepEqual(
      [1, 18, 37, 38].map((p) => queueOfPage(pool, p)),
      ["main", "main", "small", "small"],
    );
    const dropped = pool.lookup(38);
    assert.ok(dropped !== null);
    pool.unbind(dropped);
    pool.release(dropped); // small is below its share now
    const f37 = pool.lookup(37);
    assert.equal(pool.chooseVictim(), f37);
    pool.checkInvariants();
    // 37 with two uses: it moves to main (no room made: main is all pinned) and, the only
    // unpinned frame of main, is the victim there.
    touch(pool, 37);
    touch(pool, 37);
    assert.equal(pool.chooseVictim(), f37);
    assert.equal(queueOfPage(pool, 37), "main");
    for (const f of main) pool.unpin(f, false);
    pool.checkInvariants();
  });

  test("a spill takes dirty unpinned frames from small's tail, then main's", () => {
    const pool = new BufferPool(10, PAGE_SIZE, USABLE);
    for (let p = 1; p <= 19; p++) touch(pool, p);
    for (let p = 1; p <= 5; p++) touch(pool, p); // into main: 1..5; 10..14 evicted
    for (const f of pool.frames) pool.markDirty(f);
    const pinned = pin(pool, 3);
    const victim = pool.chooseVictim();
    assert.ok(victim !== null);
    assert.equal(victim.pgno, 15);
    const out: PoolFrame[] = [];
    const pgnos = () => out.map((f) => f.pgno);
    pool.collectSpill(victim, out, 64, 256);
    // Small's oldest first (the victim), then main's; the pinned page 3 is left out.
    assert.deepEqual(pgnos(), [15, 16, 17, 18, 19, 1, 2, 4, 5]);
    pool.collectSpill(victim, out, 3, 256);
    assert.deepEqual(pgnos(), [15, 16, 17]);
    pool.collectSpill(victim, out, 64, 7);
    assert.deepEqual(pgnos(), [15, 16, 17, 18, 19, 1, 2], "7 frames walked, the victim's too");
    pool.markClean(pool.frames[0]);
    const clean = pool.frames[0].pgno;
    pool.collectSpill(victim, out, 64, 256);
    assert.ok(!pgnos().includes(clean) && out.length === 8, "a clean frame is not spilled");
    for (const f of pool.frames) pool.markClean(f);
    pool.unpin(pinned, false);
    pool.checkInvariants();
  });

  test("demote keeps a frame in its queue; dropAll empties both, orphans stay till unbound", () => {
    const pool = new BufferPool(10, PAGE_SIZE, USABLE);
    for (let p = 1; p <= 19; p++) touch(pool, p);
    for (let p = 1; p <= 3; p++) touch(pool, p); // main: 1, 2, 3
    const one = pool.lookup(1);
    assert.ok(one !== null);
    pool.demote(one, 7, true);
    assert.equal(one.version, 7);
    assert.equal(pool.queueOf(one), "main", "an older image stays where its frame was");
    pool.checkInvariants();
    const held = pin(pool, 2);
    const old = pool.lookupVersion(1, 7);
    assert.equal(old, one);
    pool.pin(one, false);
    pool.dropAll();
    pool.checkInvariants();
    assert.equal(held.version, ORPHAN);
    assert.equal(one.version, ORPHAN);
    assert.equal(pool.queueOf(held), "main", "a pinned orphan stays queued");
    let queued = 0;
    for (const f of pool.frames) if (pool.queueOf(f) !== null) queued++;
    assert.equal(queued, 2);
    pool.unpin(held, false);
    pool.unpin(one, false);
    for (const f of [held, one]) {
      pool.unbind(f);
      pool.release(f);
    }
    assert.equal(pool.queueOf(held), null);
    pool.checkInvariants();
    // Ghosts survive dropAll (page numbers only): 1..9 were evicted from small, and 1, 2
    // and 3 came back; none of them is resident now.
    assert.ok(pool.ghost.has(4));
    touch(pool, 4);
    assert.equal(queueOfPage(pool, 4), "main");
    pool.checkInvariants();
  });

  test("an older image evicted from small leaves no ghost; its page's is kept apart", () => {
    const pool = new BufferPool(4, PAGE_SIZE, USABLE); // small 1, main 3
    const f = pool.takeEmpty();
    assert.ok(f !== null);
    pool.bindVersion(f, 9, 3);
    assert.equal(pool.queueOf(f), "small");
    for (let p = 1; p <= 3; p++) touch(pool, p);
    touch(pool, 20); // the older image of 9 is small's oldest: the victim
    assert.equal(pool.lookupVersion(9, 3), null);
    assert.ok(!pool.ghost.has(9));
    assert.equal(f.version, CURRENT);
    pool.checkInvariants();
  });

  test("a victim whose spill fails stays bound, queued, and no ghost", () => {
    const pool = new BufferPool(4, PAGE_SIZE, USABLE);
    for (let p = 1; p <= 4; p++) touch(pool, p);
    const victim = pool.chooseVictim();
    assert.ok(victim !== null);
    assert.equal(victim.pgno, 1);
    // The pager's spill threw: the frame is not unbound. Another frame is dropped instead.
    pool.checkInvariants();
    assert.ok(!pool.ghost.has(1));
    const other = pool.lookup(3);
    assert.ok(other !== null);
    pool.unbind(other);
    pool.release(other);
    assert.ok(!pool.ghost.has(3), "a page dropped, not evicted, is no ghost");
    assert.ok(!pool.ghost.has(1));
    assert.equal(pool.queueOf(victim), "small");
    pool.checkInvariants();
  });
});
