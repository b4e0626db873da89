// A tree reads through the page source it is given, not its pager: a wrapper over a view
// counts every pin taken and returned through it. Every pin comes back, after whole and
// abandoned ranges, point reads and a range that meets a damaged leaf midway (ERR_CORRUPT);
// a range over a fixed source never finds its place again when the tree changes, a live
// one does, and the tree's own pager is the live view.

import assert from "node:assert/strict";
import { test } from "node:test";
import { BTree } from "../../src/btree/btree.js";
import { KIND_LEAF, kind, right } from "../../src/btree/node.js";
import { PagekvError } from "../../src/errors.js";
import type { PageSource } from "../../src/pager/page-source.js";
import { type Frame, Pager } from "../../src/pager/pager.js";
import { MemFS } from "../../src/vfs/memfs.js";
import { throwsCode } from "../pager/pages.js";

const enc = (s: string) => new TextEncoder().encode(s);
const dec = (b: Uint8Array) => new TextDecoder().decode(b);
const keyOf = (i: number) => enc(`k${String(i).padStart(4, "0")}`);
const KEYS = 300;

/** A view that counts what passes through it, and refuses an unpin it did not pin. */
class CountingSource implements PageSource {
  gets = 0;
  slots = 0;
  /** The page of the last get(). */
  lastPinned = 0;
  private readonly pins = new Map<Frame, number>();

  constructor(private readonly inner: PageSource) {}

  get pageCount(): number {
    return this.inner.pageCount;
  }

  getSlot(i: number): number {
    this.slots++;
    return this.inner.getSlot(i);
  }

  get(pgno: number): Frame {
    const f = this.inner.get(pgno);
    this.gets++;
    this.lastPinned = pgno;
    this.pins.set(f, (this.pins.get(f) ?? 0) + 1);
    return f;
  }

  unpin(frame: Frame): void {
    const n = this.pins.get(frame) ?? 0;
    assert.ok(n > 0, `unpin of page ${frame.pgno}, not pinned through this source`);
    if (n === 1) this.pins.delete(frame);
    else this.pins.set(frame, n - 1);
    this.inner.unpin(frame);
  }

  /** Pins taken through this source and not yet returned. */
  get outstanding(): number {
    let n = 0;
    for (const c of this.pins.values()) n += c;
    return n;
  }
}

function setup() {
  const pager = Pager.create(new MemFS(), "/s.pkv", { pageSize: 512, cacheFrames: 16 });
  const tree = new BTree(pager);
  pager.begin();
  for (let i = 0; i < KEYS; i++) {
    tree.put(keyOf(i), enc(i % 50 === 7 ? `big${"x".repeat(900)}` : `v${i}`));
  }
  pager.commit();
  return { pager, tree };
}

const keysOf = (entries: Iterable<[Uint8Array, Uint8Array]>) => [...entries].map(([k]) => dec(k));

test("a tree reads the source it is given, and every pin taken through it comes back", () => {
  const { pager, tree } = setup();
  const src = new CountingSource(pager);
  const all = keysOf(tree.entries());
  assert.equal(all.length, KEYS);
  assert.deepEqual(keysOf(tree.entries({ source: src })), all);
  assert.deepEqual(keysOf(tree.entries({ source: src, reverse: true })), [...all].reverse());
  const some = { gte: keyOf(40), lt: keyOf(200), limit: 90 };
  assert.deepEqual(keysOf(tree.entries({ ...some, source: src })), all.slice(40, 130));
  assert.deepEqual(
    keysOf(tree.entries({ ...some, source: src, reverse: true })),
    all.slice(110, 200).reverse(),
  );
  for (let i = 0; i < KEYS; i += 7) {
    const v = tree.get(keyOf(i), src);
    assert.ok(v !== undefined && dec(v).startsWith(i % 50 === 7 ? "big" : `v${i}`), `key ${i}`);
    assert.ok(tree.has(keyOf(i), src));
  }
  assert.equal(tree.get(enc("absent"), src), undefined);
  assert.equal(tree.has(enc("absent"), src), false);
  // An iterator abandoned midway holds no pin between two entries.
  const it = tree.entries({ source: src });
  it.next();
  it.next();
  assert.equal(src.outstanding, 0);
  it.return?.(undefined);
  assert.ok(src.gets > 0 && src.slots > 0, "the reads went through the source");
  assert.equal(src.outstanding, 0);
  assert.equal(pager.stats().framesPinned, 0);
});

test("the tree's own pager given as the source is the live view: a range follows the tree", () => {
  const { pager, tree } = setup();
  const live = tree.entries({ source: pager });
  assert.equal(dec(live.next().value?.[0] ?? new Uint8Array()), "k0000");
  tree.put(enc("k0000a"), enc("new"));
  assert.equal(dec(live.next().value?.[0] ?? new Uint8Array()), "k0000a");
  live.return?.(undefined);
  assert.equal(pager.stats().framesPinned, 0);
});

/** The leaves in chain order: from the leaf of the smallest key, along right pointers. */
function leavesOf(pager: Pager, tree: BTree, smallest: Uint8Array): number[] {
  const src = new CountingSource(pager);
  tree.has(smallest, src); // a descent: the last page it pins is the leaf
  const leaves: number[] = [];
  for (let pgno = src.lastPinned; pgno !== 0; ) {
    leaves.push(pgno);
    const f = pager.get(pgno);
    assert.equal(kind(f.data), KIND_LEAF);
    pgno = right(f.data);
    pager.unpin(f);
  }
  return leaves;
}

test("a range that meets a damaged leaf midway is ERR_CORRUPT and returns every pin", () => {
  const { pager, tree } = setup();
  const leaves = leavesOf(pager, tree, keyOf(0));
  assert.ok(leaves.length >= 6, `${leaves.length} leaves`);
  const victim = leaves[Math.floor(leaves.length / 2)];
  // Damage it in place (the pager's checksum stays valid): an impossible kind byte.
  const w = pager.get(victim, "write");
  w.data[0] = 0x5a;
  w.checked = 0; // as a freshly read image: the tree checks it again
  pager.unpin(w, true);
  const src = new CountingSource(pager);
  for (const reverse of [false, true]) {
    let seen = 0;
    throwsCode(() => {
      for (const _ of tree.entries({ source: src, reverse })) seen++;
    }, "ERR_CORRUPT");
    assert.ok(seen > 0, "entries before the damaged leaf were returned");
    assert.equal(src.outstanding, 0, `pins outstanding after a ${reverse ? "reverse " : ""}range`);
  }
  // Point reads: those that land on the damaged leaf fail, every one returns its pins.
  let corrupt = 0;
  for (let i = 0; i < KEYS; i++) {
    const e = catchOf(() => tree.get(keyOf(i), src));
    if (e !== undefined) {
      assert.ok(e instanceof PagekvError && e.code === "ERR_CORRUPT", String(e));
      corrupt++;
    }
    assert.equal(src.outstanding, 0, `pins outstanding after get ${i}`);
  }
  assert.ok(corrupt > 0, "some gets met the damaged leaf");
  assert.ok(src.gets > 0);
  assert.equal(pager.stats().framesPinned, 0);
});

function catchOf(fn: () => unknown): unknown {
  try {
    fn();
  } catch (e) {
    return e;
  }
  return undefined;
}

test("a range over a fixed source never re-seeks when the tree changes; a live one does", () => {
  const { pager, tree } = setup();
  const view = pager.snapshot();
  const before = keysOf(tree.entries());
  pager.begin();
  const fixed = new CountingSource(view);
  const a = tree.entries({ source: fixed });
  const live = tree.entries();
  const fromA = [dec(a.next().value?.[0] ?? new Uint8Array())];
  const fromLive = [dec(live.next().value?.[0] ?? new Uint8Array())];
  const gets = fixed.gets;
  // Change the tree (not the snapshot).
  tree.put(enc("k0000a"), enc("new"));
  tree.delete(keyOf(2));
  fromA.push(dec(a.next().value?.[0] ?? new Uint8Array()));
  assert.equal(fixed.gets, gets, "the fixed range went on in the leaf it had copied");
  for (const e of a) fromA.push(dec(e[0]));
  for (const e of live) fromLive.push(dec(e[0]));
  // The fixed range reads the last commit, whatever the transaction wrote; the live one
  // found its place again and sees the transaction's writes.
  assert.deepEqual(fromA, before);
  assert.ok(
    fromLive.includes("k0000a") && !fromLive.includes(dec(keyOf(2))),
    "the live range re-seeks",
  );
  assert.equal(fixed.outstanding, 0);
  pager.rollback();
});

test("ranges open at once each read their own place, whichever cursor they were given", () => {
  const { pager, tree } = setup();
  const all = keysOf(tree.entries());
  // Ranges that end (run out, return(), or fail) leave their cursor for the next ones.
  const stopped = tree.entries({ gte: keyOf(100) });
  stopped.next();
  stopped.return?.(undefined);
  let steps = 0;
  const stop = () => {
    if (steps++ === 3) throw new Error("stop");
  };
  assert.throws(() => [...tree.entries({ guard: stop })], /stop/);
  const abandoned = tree.entries({ reverse: true });
  abandoned.next();
  const a = tree.entries({ gte: keyOf(10) });
  const b = tree.entries({ reverse: true, lt: keyOf(250) });
  const c = tree.entries({ source: new CountingSource(pager), gt: keyOf(200) });
  const got: string[][] = [[], [], []];
  for (let i = 0; i < 40; i++) {
    got[0].push(dec(a.next().value?.[0] ?? new Uint8Array()));
    got[1].push(dec(b.next().value?.[0] ?? new Uint8Array()));
    got[2].push(dec(c.next().value?.[0] ?? new Uint8Array()));
  }
  assert.deepEqual(got[0], all.slice(10, 50));
  assert.deepEqual(got[1], all.slice(210, 250).reverse());
  assert.deepEqual(got[2], all.slice(201, 241));
  assert.equal(dec(abandoned.next().value?.[0] ?? new Uint8Array()), all[KEYS - 2]);
  assert.equal(pager.stats().framesPinned, 0);
});
