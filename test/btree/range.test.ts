// The tree's range iterator (tree-range.ts): a leaf chain out of order is damage, not a
// loop or wrong data; the iterator protocol holds at its edges (done stays done, return()
// at any point, limit 0); and an iterator gives its cursor back however it ends, holding
// no pin between entries.

import assert from "node:assert/strict";
import { test } from "node:test";
import { BTree } from "../../src/btree/btree.js";
import { childAt, KIND_LEAF, kind, right, setRight } from "../../src/btree/node.js";
import { isPagekvError } from "../../src/errors.js";
import { Pager } from "../../src/pager/pager.js";
import { MemFS } from "../../src/vfs/memfs.js";

const key = (i: number) => new TextEncoder().encode(`k${String(i).padStart(5, "0")}`);

function filled(n: number): { pager: Pager; tree: BTree } {
  const pager = Pager.create(new MemFS(), "/r.pkv", { pageSize: 512, cacheFrames: 64 });
  const tree = new BTree(pager);
  pager.begin();
  for (let i = 0; i < n; i++) tree.put(key(i), new Uint8Array(20).fill(i & 0xff));
  pager.commit();
  return { pager, tree };
}

/** The leaves in chain order, from the leftmost. */
function leaves(pager: Pager): number[] {
  let pgno = pager.getSlot(0);
  for (;;) {
    const f = pager.get(pgno);
    const leaf = kind(f.data) === KIND_LEAF;
    const first = leaf ? 0 : childAt(f.data, 0);
    pager.unpin(f);
    if (leaf) break;
    pgno = first;
  }
  const out: number[] = [];
  while (pgno !== 0) {
    out.push(pgno);
    const f = pager.get(pgno);
    const next = right(f.data);
    pager.unpin(f);
    pgno = next;
  }
  return out;
}

test("a leaf chain that loops back is ERR_CORRUPT naming the leaf, and the range ends", () => {
  const { pager, tree } = filled(200);
  const chain = leaves(pager);
  assert.ok(chain.length >= 4, `${chain.length} leaves`);
  // The third leaf points back at the first: a scan would go round for ever.
  pager.begin();
  const f = pager.get(chain[2], "write");
  setRight(f.data, chain[0]);
  pager.unpin(f, true);
  pager.commit();
  for (const reverse of [false, true]) {
    const it = tree.entries({ reverse });
    let n = 0;
    let caught: unknown;
    try {
      for (const _ of it) n++;
    } catch (e) {
      caught = e;
    }
    if (reverse) {
      // Reverse ranges descend from the separators, not the chain: every key, in order.
      assert.equal(caught, undefined);
      assert.equal(n, 200);
      continue;
    }
    assert.ok(isPagekvError(caught) && caught.code === "ERR_CORRUPT", String(caught));
    assert.match((caught as Error).message, /key order breaks in a range/);
    // It names the leaf whose keys came out of order: the first, reached again.
    assert.match((caught as Error).message, new RegExp(`page ${chain[0]}: `));
    assert.ok(n < 200, `${n} entries before the break`);
    assert.equal(it.next().done, true, "a failed range stays done");
  }
  // No pin was left behind: a checkpoint (which needs none for writing) and more ranges run.
  pager.checkpoint();
  assert.equal([...tree.entries({ lt: key(10) })].length, 10);
  pager.close();
});

test("done stays done; return() before, during and after; limit 0 still checks the view", () => {
  const { pager, tree } = filled(50);
  const it = tree.entries({ limit: 3 });
  assert.equal(it.next().done, false);
  assert.equal(it.next().done, false);
  assert.equal(it.next().done, false);
  assert.equal(it.next().done, true);
  assert.equal(it.next().done, true);

  const early = tree.entries();
  assert.deepEqual(early.return?.(), { done: true, value: undefined });
  assert.equal(early.next().done, true, "returned before its first step");

  const mid = tree.entries();
  assert.deepEqual(mid.next().value?.[0], key(0));
  mid.return?.();
  assert.equal(mid.next().done, true, "returned midway");
  mid.return?.(); // twice is harmless

  let calls = 0;
  const guard = () => {
    calls++;
    if (calls > 1) throw new Error("closed");
  };
  assert.equal(tree.entries({ limit: 0, guard }).next().done, true);
  assert.equal(calls, 1, "a range that yields nothing still asks its guard");
  const closed = tree.entries({ guard });
  assert.throws(() => closed.next(), /closed/);
  assert.equal(closed.next().done, true, "a range whose guard threw is over");

  // A write between two entries: the range continues after the last key it returned.
  pager.begin();
  const live = tree.entries();
  assert.deepEqual(live.next().value?.[0], key(0));
  tree.delete(key(1));
  tree.put(key(1000), new Uint8Array(1));
  const rest = [...live].map(([k]) => new TextDecoder().decode(k));
  assert.equal(rest.length, 49);
  assert.equal(rest[0], "k00002");
  assert.equal(rest[rest.length - 1], "k01000");
  pager.commit();
  pager.close();
});
