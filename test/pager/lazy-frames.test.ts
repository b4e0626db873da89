// The pool makes its frames as pages come in, not at open (issue 15): a large pool holds
// objects only for the frames that have held a page, eviction starts only once every frame
// exists, and an all-pinned pool still fails with ERR_POOL_EXHAUSTED. Pager tests run with
// `debug: true`, so the pool's invariants are checked after every call with a pool that is
// only partly made; the BufferPool tests call checkInvariants() themselves.

import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { usableSizeOf } from "../../src/format/page.js";
import { BufferPool } from "../../src/pager/buffer-pool.js";
import { CURRENT } from "../../src/pager/frame.js";
import { Pager, type PagerOptions } from "../../src/pager/pager.js";
import type { MemFS } from "../../src/vfs/memfs.js";
import { allocatePage, assertPage, reopened, stamped, throwsCode, writePage } from "./pages.js";

const PATH = "/lazy.pkv";
const PAGE_SIZE = 512;
const USABLE = usableSizeOf(PAGE_SIZE);

/** A database of `pages` pages (2..pages+1, version 1), reopened with `opts`. */
function database(pages: number, opts: PagerOptions): { fs: MemFS; pager: Pager } {
  return reopened(PATH, PAGE_SIZE, pages, opts);
}

describe("frames are made as pages come in", () => {
  test("a pool of 1000 frames has made none at open and 10 after reading 10 pages", () => {
    const { pager } = database(40, { cacheFrames: 1000 });
    assert.equal(pager.stats().cacheFrames, 1000);
    assert.equal(pager.stats().framesCreated, 0);
    for (let p = 2; p < 12; p++) assertPage(pager, p, 1);
    assert.equal(pager.stats().framesCreated, 10);
    for (let p = 2; p < 12; p++) assertPage(pager, p, 1); // hits make nothing
    const s = pager.stats();
    assert.equal(s.framesCreated, 10);
    assert.equal(s.misses, 10);
    assert.equal(s.evictions, 0);
    pager.close();
  });

  test("an allocated page takes a new frame too, and a commit's dirty pages are all found", () => {
    const { fs, pager } = database(4, { cacheFrames: 64 });
    pager.begin();
    const made = [allocatePage(pager, 2), allocatePage(pager, 2), allocatePage(pager, 2)];
    writePage(pager, 2, 3);
    assert.equal(pager.stats().framesCreated, 4);
    assert.equal(pager.stats().framesDirty, 4);
    pager.commit();
    assert.equal(pager.stats().framesDirty, 0);
    pager.close();
    const again = Pager.open(fs, PATH, { debug: true, cacheFrames: 64 });
    for (const p of made) assertPage(again, p, 2);
    assertPage(again, 2, 3);
    assert.equal(again.stats().framesCreated, 4);
    again.close();
  });

  test("no frame is evicted while the pool may still make one", () => {
    const { pager } = database(40, { cacheFrames: 8 });
    const pinned = [pager.get(2), pager.get(3), pager.get(4)];
    for (let p = 5; p < 10; p++) assertPage(pager, p, 1);
    const s = pager.stats();
    assert.equal(s.framesCreated, 8);
    assert.equal(s.evictions, 0);
    for (const f of pinned) pager.unpin(f);
    pager.close();
  });

  test("once every frame exists, the pool evicts and the frame count stays", () => {
    const { pager } = database(40, { cacheFrames: 4 });
    for (let p = 2; p < 42; p++) assertPage(pager, p, 1);
    const s = pager.stats();
    assert.equal(s.framesCreated, 4);
    assert.equal(s.misses, 40);
    assert.equal(s.evictions, 36);
    pager.close();
  });

  test("a transaction larger than the pool spills dirty victims once every frame exists", () => {
    const { fs, pager } = database(2, { cacheFrames: 4 });
    pager.begin();
    const pages: number[] = [];
    for (let i = 0; i < 20; i++) pages.push(allocatePage(pager, 5));
    const s = pager.stats();
    assert.equal(s.framesCreated, 4);
    assert.ok(s.writebacks >= 16, `writebacks ${s.writebacks}`);
    pager.commit();
    pager.close();
    const again = Pager.open(fs, PATH, { debug: true, cacheFrames: 4 });
    for (const p of pages) assertPage(again, p, 5);
    again.close();
  });

  test("an all-pinned pool fails cleanly with ERR_POOL_EXHAUSTED, as before", () => {
    const { pager } = database(10, { cacheFrames: 3 });
    const pinned = [pager.get(2), pager.get(3, "write"), pager.get(4)];
    assert.equal(pager.stats().framesCreated, 3);
    const before = pager.stats();
    const e = throwsCode(() => pager.get(5), "ERR_POOL_EXHAUSTED");
    assert.match(e.message, /all 3 frames are pinned/);
    throwsCode(() => pager.allocate(), "ERR_POOL_EXHAUSTED");
    const after = pager.stats();
    assert.equal(after.framesCreated, 3);
    assert.equal(after.pageCount, before.pageCount);
    assert.equal(after.framesPinned, 3);
    for (const f of pinned) pager.unpin(f);
    assertPage(pager, 5, 1);
    pager.close();
  });
});

describe("snapshots with a partly made pool", () => {
  test("a snapshot's older image takes a new frame, and a checkpoint after it drops it", () => {
    const { pager } = database(6, { cacheFrames: 100, walAutoCheckpointPages: 0 });
    pager.begin();
    writePage(pager, 2, 2);
    pager.commit();
    const snap = pager.snapshot();
    pager.begin();
    writePage(pager, 2, 3);
    writePage(pager, 3, 3);
    pager.commit();
    const f = snap.get(2);
    assert.deepEqual(f.data, stamped(USABLE, 2, 2));
    snap.unpin(f);
    const g = snap.get(3);
    assert.deepEqual(g.data, stamped(USABLE, 3, 1));
    snap.unpin(g);
    assertPage(pager, 2, 3);
    const made = pager.stats().framesCreated;
    assert.ok(made >= 4 && made < 100, `framesCreated ${made}`);
    snap.close();
    assert.equal(pager.checkpoint(), true);
    // The older images' frames went back to the empty stack: reading them again makes none.
    assertPage(pager, 2, 3);
    assertPage(pager, 3, 3);
    assertPage(pager, 4, 1);
    assert.ok(pager.stats().framesCreated <= made + 1);
    pager.close();
  });
});

describe("BufferPool with frames made on demand", () => {
  function bound(pool: BufferPool, pgno: number) {
    const f = pool.takeEmpty();
    assert.ok(f !== null);
    pool.bind(f, pgno);
    return f;
  }

  test("frames are dense, view the arena at their offset, and the empty stack comes first", () => {
    const pool = new BufferPool(100, PAGE_SIZE, USABLE);
    assert.equal(pool.frames.length, 0);
    pool.checkInvariants();
    const a = bound(pool, 7);
    const b = bound(pool, 8);
    assert.deepEqual(
      pool.frames.map((f) => [f.index, f.page.byteOffset, f.data.length]),
      [
        [0, 0, USABLE],
        [1, PAGE_SIZE, USABLE],
      ],
    );
    assert.equal(a.page.buffer, b.page.buffer);
    pool.unbind(a);
    pool.release(a);
    pool.checkInvariants();
    assert.equal(pool.takeEmpty(), a, "the freed frame is reused before a new one is made");
    assert.equal(pool.framesCreated, 2);
    pool.release(a);
    pool.checkInvariants();
    assert.equal(pool.chooseVictim(), b, "the victim among the frames made: b, small's oldest");
  });

  test("dropAll and dropVersions with a partly made pool keep pinned images as orphans", () => {
    const pool = new BufferPool(50, PAGE_SIZE, USABLE);
    const cur = [bound(pool, 2), bound(pool, 3), bound(pool, 4)];
    const old = pool.takeEmpty();
    assert.ok(old !== null);
    pool.bindVersion(old, 2, 5);
    pool.pin(cur[1], false);
    pool.pin(old, false);
    pool.checkInvariants();
    assert.equal(pool.lookupVersion(2, 5), old);
    pool.dropAll();
    pool.checkInvariants();
    assert.equal(pool.lookup(2), null);
    assert.equal(pool.lookup(3), null, "a pinned current image leaves the table");
    assert.equal(pool.lookupVersion(2, 5), null);
    assert.notEqual(cur[1].version, CURRENT);
    assert.equal(pool.framesCreated, 4);
    pool.unpin(cur[1], false);
    pool.unpin(old, false);
    pool.unbind(cur[1]);
    pool.release(cur[1]);
    pool.unbind(old);
    pool.release(old);
    pool.checkInvariants();
    for (let p = 10; p < 14; p++) bound(pool, p);
    assert.equal(pool.framesCreated, 4, "four empty frames were reused, none made");
    bound(pool, 14);
    assert.equal(pool.framesCreated, 5);
    pool.checkInvariants();
  });

  test("takeEmpty returns null only when every frame exists and holds a page", () => {
    const pool = new BufferPool(3, PAGE_SIZE, USABLE);
    const all = [bound(pool, 2), bound(pool, 3), bound(pool, 4)];
    assert.equal(pool.takeEmpty(), null);
    for (const f of all) pool.pin(f, false);
    assert.equal(pool.chooseVictim(), null, "every frame pinned: no victim");
    pool.unpin(all[2], false);
    assert.equal(pool.chooseVictim(), all[2]);
    pool.checkInvariants();
  });
});
