// Copies handed to callers come from shared slabs; each must still own its bytes.

import assert from "node:assert/strict";
import { test } from "node:test";
import { copyOut, SLAB_BYTES, SLAB_COPY_BYTES_MAX } from "../../src/btree/copies.js";

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
