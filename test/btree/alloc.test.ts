// "A hot path allocates nothing", measured: the heap's used bytes before and after many
// calls, in stretches during which no garbage collection ran (used bytes only fell if one
// did), the least of several. One object per call, even 16 bytes, would show as at least
// 16 bytes per call; the bound, 4, leaves room for what the engine itself may allocate
// meanwhile (compiled code, feedback), shared by all the calls of a stretch.

import assert from "node:assert/strict";
import { test } from "node:test";
import * as v8 from "node:v8";
import { open } from "../../src/index.js";
import { Pager } from "../../src/pager/pager.js";
import { MemFS } from "../../src/vfs/memfs.js";

const CALLS = 200_000;
const TRIES = 10;

/** Bytes allocated per call of `fn`: the least over stretches with no collection. */
function bytesPerCall(fn: (i: number) => void): number {
  for (let i = 0; i < 2 * CALLS; i++) fn(i); // warm-up: inline caches, compiled code
  let least = Number.POSITIVE_INFINITY;
  for (let t = 0; t < TRIES; t++) {
    const before = v8.getHeapStatistics().used_heap_size;
    for (let i = 0; i < CALLS; i++) fn(i);
    const after = v8.getHeapStatistics().used_heap_size;
    if (after >= before) least = Math.min(least, (after - before) / CALLS);
  }
  if (least === Number.POSITIVE_INFINITY) {
    assert.fail(`a garbage collection ran during each of ${TRIES} measurements`);
  }
  return least;
}

/** Under this many bytes per call is "nothing" (see the top of the file). */
const NOTHING = 4;

function keyOf(i: number): Uint8Array {
  const k = new Uint8Array(16);
  new DataView(k.buffer).setUint32(0, Math.imul(i + 1, 0x9e3779b1) >>> 0);
  new DataView(k.buffer).setUint32(4, i);
  return k;
}

test("a cache-hit get + unpin allocates nothing", () => {
  const fs = new MemFS();
  const pager = Pager.create(fs, "/a.pkv", { pageSize: 4096, cacheFrames: 64 });
  pager.begin();
  const pages: number[] = [];
  for (let i = 0; i < 32; i++) {
    const f = pager.allocate();
    pages.push(f.pgno);
    pager.unpin(f, true);
  }
  pager.commit();
  const perCall = bytesPerCall((i) => pager.unpin(pager.get(pages[i & 31])));
  assert.ok(perCall < NOTHING, `get + unpin allocated ${perCall} bytes per call`);
  pager.close();
});

test("a B-tree descent (db.has) allocates nothing", () => {
  const db = open("/a.pkv", { vfs: new MemFS(), sync: "off" });
  const keys = Array.from({ length: 20_000 }, (_, i) => keyOf(i));
  db.batch(keys.map((key) => ({ type: "put" as const, key, value: key })));
  const hits = bytesPerCall((i) => {
    if (!db.has(keys[i % keys.length])) assert.fail("a stored key is missing");
  });
  const missing = keyOf(1e9);
  const misses = bytesPerCall(() => {
    if (db.has(missing)) assert.fail("a key never stored is found");
  });
  assert.ok(hits < NOTHING, `has() of stored keys allocated ${hits} bytes per call`);
  assert.ok(misses < NOTHING, `has() of a missing key allocated ${misses} bytes per call`);
  db.close();
});

test("a descent through a source other than the pager (db.has inside a transaction) allocates nothing", () => {
  const db = open("/a.pkv", { vfs: new MemFS(), sync: "off" });
  const keys = Array.from({ length: 20_000 }, (_, i) => keyOf(i));
  db.batch(keys.map((key) => ({ type: "put" as const, key, value: key })));
  db.transaction(() => {
    // Reads through the Database inside a transaction go through its committed view.
    const perCall = bytesPerCall((i) => {
      if (!db.has(keys[i % keys.length])) assert.fail("a stored key is missing");
    });
    assert.ok(
      perCall < NOTHING,
      `has() through the committed view allocated ${perCall} bytes per call`,
    );
  });
  db.close();
});
