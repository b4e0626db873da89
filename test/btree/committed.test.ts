// The tree read through a committed view of its pager (the Database's CommittedView) sees
// the state of the last commit while a transaction is open and changing the same pages,
// through a pool small enough that the transaction's pages spill to the log: what a reader
// outside the transaction must see.

import assert from "node:assert/strict";
import { test } from "node:test";
import { BTree } from "../../src/btree/btree.js";
import { CommittedView } from "../../src/db/committed-view.js";
import { Pager } from "../../src/pager/pager.js";
import { MemFS } from "../../src/vfs/memfs.js";
import { Prng } from "../../src/vfs/prng.js";
import { throwsCode } from "../pager/pages.js";

const enc = (s: string) => new TextEncoder().encode(s);
const dec = (b: Uint8Array) => new TextDecoder().decode(b);

/** The tree's entries, live or (with `view`) in the committed view. */
function scan(t: BTree, view?: CommittedView): string[] {
  const opts = view === undefined ? {} : { source: view, version: view.version };
  return [...t.entries(opts)].map(([k, v]) => `${dec(k)}=${v.length}:${dec(v.subarray(0, 8))}`);
}

function setup() {
  const fs = new MemFS();
  const pager = Pager.create(fs, "/c.pkv", { pageSize: 512, cacheFrames: 8, debug: true });
  const tree = new BTree(pager);
  const committed = new CommittedView(pager);
  const rng = new Prng(7);
  pager.begin();
  for (let i = 0; i < 400; i++) {
    const big = i % 9 === 0 ? "x".repeat(700) : "";
    tree.put(enc(`k${rng.int(1000)}`), enc(`v${i}${big}`));
  }
  pager.commit();
  return { pager, tree, committed, rng };
}

test("inside a transaction the committed view sees the last commit, spilled pages included", () => {
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
  assert.deepEqual(scan(tree, committed), during);
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

test("changes made without begin stay out of the committed view until checkpoint", () => {
  const { pager, tree, committed } = setup();
  const before = scan(tree, committed);
  tree.put(enc("implicit"), enc("1"));
  assert.equal(tree.get(enc("implicit"), committed), undefined);
  assert.deepEqual(scan(tree, committed), before);
  pager.checkpoint();
  assert.equal(dec(tree.get(enc("implicit"), committed) ?? new Uint8Array()), "1");
});

// The tree writes only through its pager (put and delete take no source), so there is no
// committed view to write through; the pager refuses a dirty unpin of a committed page.
test("a committed page cannot be unpinned dirty", () => {
  const { pager } = setup();
  pager.begin();
  const root = pager.getCommittedSlot(0);
  const w = pager.get(root, "write");
  pager.unpin(w, true); // the transaction changed the root: its committed image is a copy
  const f = pager.getCommitted(root);
  assert.notEqual(f, w);
  throwsCode(() => pager.unpin(f, true), "ERR_ARG");
  pager.unpin(f);
  throwsCode(() => pager.unpin(f), "ERR_PIN");
  pager.commit();
});
