// Key heads (src/btree/heads.ts): the heads search finds exactly what the plain search
// finds, on leaves and interior nodes of any keys, and never serves heads older than the
// bytes (the pool clears Frame.shape at every bind and write pin).

import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import { KeyHeads } from "../../src/btree/heads.js";
import {
  compareKey,
  count,
  INTERIOR_CELL_HEADER_BYTES,
  initNode,
  insertCell,
  KIND_INTERIOR,
  KIND_LEAF,
  LEAF_CELL_HEADER_BYTES,
  type SearchResult,
  search,
} from "../../src/btree/node.js";
import { writeU16, writeU32 } from "../../src/format/codec.js";
import { usableSizeOf } from "../../src/format/page.js";
import { open } from "../../src/index.js";
import { BufferPool } from "../../src/pager/buffer-pool.js";
import type { Frame } from "../../src/pager/frame.js";
import { Pager } from "../../src/pager/pager.js";
import { MemFS } from "../../src/vfs/memfs.js";

const PAGE = 4096;

/** A node of `kind` holding `keys` (sorted, distinct) in a bare page, as a frame. */
function node(k: number, keys: Uint8Array[]): Frame {
  const d = new Uint8Array(PAGE);
  initNode(d, k);
  const scratch = new Uint8Array(PAGE);
  const head = k === KIND_LEAF ? LEAF_CELL_HEADER_BYTES : INTERIOR_CELL_HEADER_BYTES;
  for (const key of keys) {
    const at = insertCell(d, count(d), head + key.length, scratch);
    if (k === KIND_LEAF) {
      writeU16(d, at, key.length);
      writeU16(d, at + 2, 0);
    } else {
      writeU32(d, at, 2);
      writeU16(d, at + 4, key.length);
    }
    d.set(key, at + head);
  }
  return { pgno: 2, data: d, checked: 0, shape: 0, index: 0 };
}

function sortedDistinct(keys: Uint8Array[]): Uint8Array[] {
  const byHex = new Map(keys.map((k) => [Buffer.from(k).toString("hex"), k]));
  return [...byHex.values()].sort((a, b) => compareKey(a, a.length, b, 0, b.length));
}

function agree(heads: KeyHeads, f: Frame, probe: Uint8Array): void {
  const want: SearchResult = { index: -1, exact: false };
  const got: SearchResult = { index: -1, exact: false };
  assert.equal(search(f.data, probe, probe.length, want), true);
  assert.equal(heads.search(f, probe, probe.length, got), true);
  assert.deepEqual(got, want, `probe ${Buffer.from(probe).toString("hex")}`);
}

// Few distinct bytes, so keys share prefixes, are prefixes of each other and tie on heads.
const byte = fc.constantFrom(0, 1, 2, 0x61, 0xff);
const key = fc
  .uint8Array({ minLength: 0, maxLength: 7 })
  .map((a) => a.map((b) => [0, 1, 2, 0x61, 0xff][b % 5]));
const prefixed = fc
  .tuple(fc.array(byte, { maxLength: 5 }), fc.array(key, { minLength: 0, maxLength: 120 }))
  .map(([p, ks]) => sortedDistinct(ks.map((k) => Uint8Array.from([...p, ...k]))));

test("the heads search agrees with the plain search on leaves and interior nodes of any keys", () => {
  fc.assert(
    fc.property(prefixed, fc.array(key, { maxLength: 20 }), fc.boolean(), (keys, extra, leaf) => {
      const f = node(leaf ? KIND_LEAF : KIND_INTERIOR, keys);
      const heads = new KeyHeads(1, PAGE);
      // Every key of the node, each with a byte more and a byte less, and others.
      for (const k of keys) {
        agree(heads, f, k);
        agree(heads, f, Uint8Array.from([...k, 0]));
        agree(heads, f, k.subarray(0, Math.max(0, k.length - 1)));
      }
      for (const k of extra) agree(heads, f, k);
    }),
    { numRuns: 400, seed: 15 },
  );
});

test("heads stamped on a frame are rebuilt once the stamp is cleared, as the pool does on a change", () => {
  const enc = new TextEncoder();
  const keys = ["user0001", "user0003", "user0005"].map((s) => enc.encode(s));
  const f = node(KIND_LEAF, keys);
  const heads = new KeyHeads(1, PAGE);
  agree(heads, f, enc.encode("user0004"));
  assert.equal(f.shape, heads.id, "built and stamped");
  // Another key in the middle (as a write pin would allow): the pool clears the stamp.
  const at = insertCell(f.data, 2, LEAF_CELL_HEADER_BYTES + 8, new Uint8Array(PAGE));
  writeU16(f.data, at, 8);
  writeU16(f.data, at + 2, 0);
  f.data.set(enc.encode("user0004"), at + LEAF_CELL_HEADER_BYTES);
  f.shape = 0;
  const r: SearchResult = { index: -1, exact: false };
  heads.search(f, enc.encode("user0004"), 8, r);
  assert.deepEqual(r, { index: 2, exact: true });
  agree(heads, f, enc.encode("user0005"));
  // Another table's stamp is not this one's.
  const other = new KeyHeads(1, PAGE);
  agree(other, f, enc.encode("user0002"));
  assert.equal(f.shape, other.id);
  agree(heads, f, enc.encode("user0003"));
  assert.equal(f.shape, heads.id);
});

test("the pool clears Frame.shape when a page is bound and at every write pin, never on a read pin", () => {
  const pager = Pager.create(new MemFS(), "/shape.pkv", { pageSize: 512, cacheFrames: 4 });
  pager.begin();
  const a = pager.allocate();
  const pgno = a.pgno;
  a.shape = 7;
  pager.unpin(a, true);
  pager.commit();
  const r = pager.get(pgno);
  assert.equal(r.shape, 7, "a read pin keeps the stamp");
  pager.unpin(r);
  pager.begin();
  const w = pager.get(pgno, "write");
  assert.equal(w.shape, 0, "a write pin clears it");
  w.shape = 9;
  pager.unpin(w, true);
  pager.commit();
  pager.close();
  // A frame bound to another page starts with no stamp.
  const pool = new BufferPool(2, 512, usableSizeOf(512));
  const f = pool.takeEmpty();
  assert.ok(f !== null);
  f.shape = 3;
  pool.bind(f, 2);
  assert.equal(f.shape, 0, "bind clears it");
  f.shape = 4;
  pool.unbind(f);
  pool.release(f);
  const again = pool.takeEmpty();
  assert.ok(again !== null);
  pool.bindVersion(again, 2, 0);
  assert.equal(again.shape, 0, "binding an older image clears it");
});

test("gets see every write to a leaf they searched before, keys sharing long prefixes", () => {
  const db = open("/prefix.pkv", { vfs: new MemFS(), pageSize: 1024 });
  const model = new Map<string, string>();
  let x = 15;
  const rnd = (n: number) => {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    return x % n;
  };
  for (let step = 0; step < 6000; step++) {
    // Keys: a long shared prefix, then digits; some keys are prefixes of others.
    const k = `tenant/0042/orders/${String(rnd(800)).padStart(rnd(2) === 0 ? 4 : 3, "0")}`;
    const op = rnd(10);
    if (op < 5) {
      db.put(k, `v${step}`);
      model.set(k, `v${step}`);
    } else if (op < 7) {
      db.delete(k);
      model.delete(k);
    } else {
      const got = db.get(k);
      assert.equal(got === undefined ? undefined : new TextDecoder().decode(got), model.get(k), k);
    }
  }
  for (const [k, v] of model) assert.equal(new TextDecoder().decode(db.get(k)), v, k);
  assert.deepEqual(db.check(), []);
  db.close();
});
