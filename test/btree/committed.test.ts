// The tree read through a pager snapshot (what the Database reads through inside a
// transaction function, and what its snapshots are) sees the state of the commit it was
// taken at while a transaction is open and changing the same pages, through a pool small
// enough that the transaction's pages spill to the log, and after that transaction commits.

import assert from "node:assert/strict";
import { test } from "node:test";
import { BTree } from "../../src/btree/btree.js";
import { Pager, type PagerSnapshot } from "../../src/pager/pager.js";
import { MemFS } from "../../src/vfs/memfs.js";
import { Prng } from "../../src/vfs/prng.js";
import { throwsCode } from "../pager/pages.js";

const enc = (s: string) => new TextEncoder().encode(s);
const dec = (b: Uint8Array) => new TextDecoder().decode(b);

/** The tree's entries, live or (with `view`) in a snapshot. */
function scan(t: BTree, view?: PagerSnapshot): string[] {
  const opts = view === undefined ? {} : { source: view };
  return [...t.entries(opts)].map(([k, v]) => `${dec(k)}=${v.length}:${dec(v.subarray(0, 8))}`);
}

function setup() {
  const fs = new MemFS();
  const pager = Pager.create(fs, "/c.pkv", { pageSize: 512, cacheFrames: 8, debug: true });
  const tree = new BTree(pager);
  const rng = new Prng(7);
  pager.begin();
  for (let i = 0; i < 400; i++) {
    const big = i % 9 === 0 ? "x".repeat(700) : "";
    tree.put(enc(`k${rng.int(1000)}`), enc(`v${i}${big}`));
  }
  pager.commit();
  const committed = pager.snapshot();
  return { pager, tree, committed, rng };
}

test("inside a transaction a snapshot sees the last commit, spilled pages included, and still does after it commits", () => {
  const { pager, tree, committed, rng } = setup();
  const before = scan(tree);
  assert.deepEqual(scan(tree, committed), before);
  pager.begin();
  for (let i = 0; i < 300; i++) {
    const key = enc(`k${rng.int(1000)}`);
    if (i % 3 === 0) tree.delete(key);
    else tree.put(key, enc(`new${i}${i % 5 === 0 ? "y".repeat(900) : ""}`));
  }
  assert.ok(pager.stats().writebacks > 0, "the transaction spilled pages to the log");
  const during = scan(tree);
  assert.notDeepEqual(during, before);
  assert.deepEqual(scan(tree, committed), before);
  assert.deepEqual(scan(new BTree(pager), committed), before);
  for (const line of before.slice(0, 50)) {
    const key = line.slice(0, line.indexOf("="));
    assert.ok(tree.get(enc(key), committed) !== undefined, key);
    assert.ok(tree.has(enc(key), committed), key);
  }
  pager.commit();
  assert.deepEqual(scan(tree, committed), before);
  assert.deepEqual(scan(tree, pager.snapshot()), during);
  assert.deepEqual(tree.check(), []);
});

test("after a rollback both views agree on the last commit", () => {
  const { pager, tree, committed } = setup();
  const before = scan(tree);
  pager.begin();
  for (let i = 0; i < 200; i++) tree.put(enc(`z${i}`), enc("zz".repeat(i % 300)));
  pager.rollback();
  tree.invalidate();
  assert.deepEqual(scan(tree), before);
  assert.deepEqual(scan(tree, committed), before);
});

test("changes made without begin stay out of a snapshot, also one taken before checkpoint commits them", () => {
  const { pager, tree, committed } = setup();
  const before = scan(tree, committed);
  tree.put(enc("implicit"), enc("1"));
  const during = pager.snapshot(); // the implicit transaction is open: the last commit
  assert.equal(tree.get(enc("implicit"), committed), undefined);
  assert.equal(tree.get(enc("implicit"), during), undefined);
  assert.deepEqual(scan(tree, committed), before);
  assert.equal(pager.checkpoint(), false, "the snapshots are behind the checkpoint's commit");
  assert.equal(tree.get(enc("implicit"), during), undefined);
  assert.equal(dec(tree.get(enc("implicit"), pager.snapshot()) ?? new Uint8Array()), "1");
});

// The tree writes only through its pager (put and delete take no source), so there is no
// snapshot to write through; the pager refuses a dirty unpin of a snapshot's older image.
test("a snapshot's older image of a page cannot be unpinned dirty", () => {
  const { pager, committed } = setup();
  pager.begin();
  const root = committed.getSlot(0);
  const w = pager.get(root, "write");
  pager.unpin(w, true); // the transaction changed the root: the snapshot's image is a copy
  const f = committed.get(root);
  assert.notEqual(f, w);
  throwsCode(() => pager.unpin(f, true), "ERR_ARG");
  committed.unpin(f);
  throwsCode(() => committed.unpin(f), "ERR_PIN");
  pager.commit();
});
