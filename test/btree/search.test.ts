// search() skips the bytes every key of a node shares (commonPrefix), and the cursor keeps
// that prefix on the frame between searches: the answers are a linear scan's for any keys
// and any probe, and a prefix on record never outlives a change to the node (writes that
// shrink it, a rollback, pages reused for other nodes).

import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import { BTree } from "../../src/btree/btree.js";
import {
  childAt,
  commonPrefix,
  compareKey,
  count,
  initNode,
  insertCell,
  KIND_INTERIOR,
  KIND_LEAF,
  kind,
  nodeProblem,
  type SearchResult,
  search,
} from "../../src/btree/node.js";
import { writeU16, writeU32 } from "../../src/format/codec.js";
import { Pager } from "../../src/pager/pager.js";
import { MemFS } from "../../src/vfs/memfs.js";

const PAGE = 4096;

/** A node of `kind` holding `keys` (sorted, distinct) in a page of PAGE usable bytes. */
function node(k: number, keys: Uint8Array[]): Uint8Array {
  const d = new Uint8Array(PAGE);
  const scratch = new Uint8Array(PAGE);
  initNode(d, k);
  keys.forEach((key, i) => {
    // leaf: [u16 key length][u16 value length][key][value]; interior: [u32 child][u16][key]
    const head = k === KIND_LEAF ? 4 : 6;
    const off = insertCell(d, i, head + key.length + (k === KIND_LEAF ? 1 : 0), scratch);
    if (k === KIND_LEAF) {
      writeU16(d, off, key.length);
      writeU16(d, off + 2, 1);
      d[off + head + key.length] = 0x5a;
    } else {
      writeU32(d, off, 2 + i);
      writeU16(d, off + 4, key.length);
    }
    d.set(key, off + head);
  });
  return d;
}

function compare(a: Uint8Array, b: Uint8Array): number {
  return compareKey(a, a.length, b, 0, b.length);
}

/** search()'s answer by a linear scan of the sorted keys. */
function expected(
  k: number,
  keys: Uint8Array[],
  probe: Uint8Array,
): { index: number; exact: boolean } {
  for (let i = 0; i < keys.length; i++) {
    const c = compare(probe, keys[i]);
    if (k === KIND_LEAF ? c <= 0 : c < 0) return { index: i, exact: k === KIND_LEAF && c === 0 };
  }
  return { index: keys.length, exact: false };
}

/** Leading bytes `a` and `b` share. */
function common(a: Uint8Array, b: Uint8Array): number {
  let i = 0;
  while (i < a.length && i < b.length && a[i] === b[i]) i++;
  return i;
}

// Keys over a two-letter alphabet behind a shared stem, so nodes share long prefixes and
// probes land on every side of them: equal, a proper prefix, longer, before, after.
const stem = fc
  .uint8Array({ minLength: 0, maxLength: 24 })
  .map((b) => b.map((x) => 0x61 + (x & 1)));
const tail = fc.uint8Array({ minLength: 0, maxLength: 6 }).map((b) => b.map((x) => 0x61 + (x % 3)));

test("search with the node's common prefix answers as a linear scan, leaf and interior", () => {
  fc.assert(
    fc.property(
      stem,
      fc.array(tail, { minLength: 0, maxLength: 40 }),
      fc.array(fc.tuple(fc.nat(30), tail), { minLength: 1, maxLength: 20 }),
      fc.boolean(),
      (s, tails, probes, leaf) => {
        const k = leaf ? KIND_LEAF : KIND_INTERIOR;
        const all = tails.map((t) => Uint8Array.from([...s, ...t]));
        all.sort(compare);
        const keys = all.filter((x, i) => i === 0 || compare(x, all[i - 1]) !== 0);
        const d = node(k, keys);
        assert.equal(nodeProblem(d, k, PAGE / 16), null);
        assert.equal(count(d), keys.length);
        const p = commonPrefix(d);
        if (keys.length >= 2) assert.ok(p >= s.length, "the stem is shared");
        for (const [cut, t] of probes) {
          const probe = Uint8Array.from([...s.subarray(0, cut), ...t]);
          const want = expected(k, keys, probe);
          for (const prefix of [p, 0]) {
            const got: SearchResult = { index: -1, exact: true, shared: -1 };
            search(d, probe, probe.length, prefix, got);
            const what = `prefix ${prefix}, probe ${Buffer.from(probe)}`;
            assert.deepEqual({ index: got.index, exact: got.exact }, want, what);
            // `shared`: what the node's keys and the probe all share, within the prefix.
            const bound = keys.length === 0 ? 0 : Math.min(prefix, common(probe, keys[0]));
            assert.equal(got.shared, prefix === 0 ? 0 : bound, what);
          }
        }
      },
    ),
    { numRuns: 400 },
  );
});

test("commonPrefix is the bytes the first and last keys share (0 below two cells)", () => {
  const b = (x: string) => Buffer.from(x);
  assert.equal(commonPrefix(node(KIND_LEAF, [])), 0);
  assert.equal(commonPrefix(node(KIND_LEAF, [b("user123")])), 0);
  assert.equal(commonPrefix(node(KIND_LEAF, [b("user12"), b("user125"), b("user13")])), 5);
  assert.equal(commonPrefix(node(KIND_INTERIOR, [b("ab"), b("abc")])), 2);
  assert.equal(commonPrefix(node(KIND_LEAF, [b("a"), b("b")])), 0);
});

const key = (s: string) => new TextEncoder().encode(s);
const STEM = "s".repeat(30);

/** Every key of `present` is found, every key of `absent` is not. */
function lookups(tree: BTree, present: string[], absent: string[]): void {
  for (const k of present) assert.deepEqual(tree.get(key(k)), key(`v-${k}`), `get ${k}`);
  for (const k of absent) assert.equal(tree.get(key(k)), undefined, `get ${k}`);
}

test("a prefix kept on the frame is dropped when a write changes the node's keys", () => {
  const fs = new MemFS();
  let pager = Pager.create(fs, "/p.pkv", { pageSize: PAGE, cacheFrames: 16 });
  let tree = new BTree(pager);
  const put = (k: string) => tree.put(key(k), key(`v-${k}`));
  const long = ["1", "2", "3", "4"].map((x) => STEM + x);
  pager.begin();
  for (const k of long) put(k);
  pager.commit();
  pager.close();
  // Read in again: the lookups record the one leaf's prefix, 30 bytes.
  pager = Pager.open(fs, "/p.pkv", { cacheFrames: 16 });
  tree = new BTree(pager);
  lookups(tree, long, [`${STEM}0`, "a", "t"]);
  const leaf = pager.getSlot(0);
  const f = pager.get(leaf);
  assert.equal(f.checked, 2 + STEM.length, "the prefix on record");
  pager.unpin(f);
  // Keys outside the stem shrink the leaf's prefix to 0: the prefix on record would send
  // "a" (and every stem key) to the wrong place.
  pager.begin();
  put("a");
  put("t");
  pager.commit();
  lookups(tree, [...long, "a", "t"], [`${STEM}0`, "b"]);
  // Deleting them grows the prefix back: lookups must still find every key.
  pager.begin();
  tree.delete(key("a"));
  tree.delete(key("t"));
  pager.commit();
  lookups(tree, long, ["a", "t"]);
  // A rolled-back write: the frame's image is discarded with its prefix.
  pager.begin();
  put("b");
  lookups(tree, [...long, "b"], []);
  pager.rollback();
  lookups(tree, long, ["b"]);
  pager.close();
});

/** Every node in the pool with a prefix on record: every key it holds shares that many bytes. */
function prefixesHold(pager: Pager, round: number): void {
  const seen = new Set<number>();
  const walk = (pgno: number) => {
    if (seen.has(pgno)) return;
    seen.add(pgno);
    const f = pager.get(pgno);
    const d = f.data;
    const recorded = f.checked - 2;
    if (recorded >= 0) {
      assert.ok(recorded <= commonPrefix(d), `round ${round}: page ${pgno} records ${recorded}`);
    }
    const children =
      kind(d) === KIND_INTERIOR ? [...Array(count(d) + 1).keys()].map((i) => childAt(d, i)) : [];
    pager.unpin(f);
    for (const c of children) walk(c);
  };
  if (pager.getSlot(0) !== 0) walk(pager.getSlot(0));
}

test("prefixes stay right through splits, merges and page reuse under random writes", () => {
  const pager = Pager.create(new MemFS(), "/r.pkv", { pageSize: 1024, cacheFrames: 64 });
  const tree = new BTree(pager);
  const model = new Map<string, string>();
  let seed = 7;
  const next = () => {
    seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
    return seed >>> 8;
  };
  const stems = ["", "user", `user${"0".repeat(20)}`, `x${"y".repeat(40)}`];
  for (let round = 0; round < 60; round++) {
    pager.begin();
    for (let i = 0; i < 40; i++) {
      const k = stems[next() % stems.length] + (next() % 300).toString(36);
      if (next() % 4 === 0) {
        tree.delete(key(k));
        model.delete(k);
      } else {
        tree.put(key(k), key(`v-${k}`));
        model.set(k, `v-${k}`);
      }
      // Lookups in the middle of the transaction record prefixes of nodes being changed.
      const probe = stems[next() % stems.length] + (next() % 300).toString(36);
      const v = tree.get(key(probe));
      assert.deepEqual(v, model.has(probe) ? key(model.get(probe) as string) : undefined);
    }
    if (round % 5 === 4) {
      pager.rollback();
      // The model follows: rebuild it from the committed tree (a scan, not a search).
      model.clear();
      for (const [k, v] of tree.entries())
        model.set(Buffer.from(k).toString(), Buffer.from(v).toString());
    } else {
      pager.commit();
    }
    for (const [k, v] of model) assert.deepEqual(tree.get(key(k)), key(v), `round ${round}: ${k}`);
    prefixesHold(pager, round);
  }
  assert.deepEqual(tree.check(), []);
  pager.close();
});

test("a search while the node is pinned for writing records no prefix", () => {
  const fs = new MemFS();
  let pager = Pager.create(fs, "/w.pkv", { pageSize: PAGE, cacheFrames: 16 });
  let tree = new BTree(pager);
  const long = ["1", "2", "3"].map((x) => STEM + x);
  pager.begin();
  for (const k of long) tree.put(key(k), key(`v-${k}`));
  pager.commit();
  pager.close();
  pager = Pager.open(fs, "/w.pkv", { cacheFrames: 16 });
  tree = new BTree(pager);
  pager.begin();
  const w = pager.get(pager.getSlot(0), "write");
  lookups(tree, long, ["a"]);
  // The bytes may change under this pin: a prefix recorded now could outlive them.
  assert.equal(w.checked, 1, "checked whole, no prefix on record");
  pager.unpin(w, false);
  lookups(tree, long, ["a"]);
  assert.equal(w.checked, 2 + STEM.length, "recorded once no write pin is out");
  pager.rollback();
  pager.close();
});
