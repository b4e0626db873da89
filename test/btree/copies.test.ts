// Copies handed to callers come from shared slabs; each must still own its bytes.

import assert from "node:assert/strict";
import { test } from "node:test";
import { copyEntry, copyOut, SLAB_BYTES, SLAB_COPY_BYTES_MAX } from "../../src/btree/copies.js";

test("copies from a slab never overlap, and changing one changes nothing else", () => {
  const src = Uint8Array.from({ length: 300 }, (_, i) => i & 0xff);
  const copies = Array.from({ length: 100 }, (_, i) => copyOut(src, i, i + 100));
  for (const [i, c] of copies.entries()) assert.deepEqual(c, src.subarray(i, i + 100));
  copies[0].fill(0xee);
  src.fill(0);
  for (const [i, c] of copies.entries()) {
    if (i > 0) assert.equal(c[0], i & 0xff, `copy ${i} was changed by another`);
  }
  // Across slab boundaries: many copies span more than one slab.
  assert.ok(copies.some((c) => c.buffer !== copies[0].buffer));
});

test("a long copy gets a buffer of its own; an empty copy is empty", () => {
  const big = new Uint8Array(SLAB_COPY_BYTES_MAX + 1).fill(7);
  const c = copyOut(big, 0, big.length);
  assert.equal(c.byteLength, big.length);
  assert.equal(c.buffer.byteLength, big.length);
  assert.ok(SLAB_BYTES > SLAB_COPY_BYTES_MAX);
  assert.equal(copyOut(big, 5, 5).length, 0);
});

test("copyEntry copies a key and the value after it, each its own bytes", () => {
  const src = Uint8Array.from({ length: 40 }, (_, i) => i);
  const [k, v] = copyEntry(src, 4, 6, 10);
  assert.deepEqual(k, src.subarray(4, 10));
  assert.deepEqual(v, src.subarray(10, 20));
  k.fill(0xaa);
  assert.deepEqual(v, src.subarray(10, 20), "the value is not changed through the key");
  src.fill(0);
  assert.equal(v[0], 10);
  const big = new Uint8Array(SLAB_COPY_BYTES_MAX + 2).fill(3);
  const [bk, bv] = copyEntry(big, 0, 2, SLAB_COPY_BYTES_MAX);
  assert.equal(bk.length + bv.length, big.length);
  assert.notEqual(bk.buffer, bv.buffer);
});
