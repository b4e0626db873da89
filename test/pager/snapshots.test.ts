// Pager snapshots (docs/design/snapshots.md): a snapshot reads the last commit as of its
// instant, whatever commits, rollbacks, spills, frees, reuses and checkpoints come after;
// a checkpoint never copies home what an open snapshot would see, and resets the log only
// once no snapshot is behind. What the main file holds is read through the MemFS file
// itself, so "copied nothing home" is checked where it would go wrong.

import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { usableSizeOf } from "../../src/format/page.js";
import { Pager, type PagerOptions, SNAPSHOTS_MAX } from "../../src/pager/pager.js";
import type { PagerSnapshot } from "../../src/pager/snapshots.js";
import { MemFS } from "../../src/vfs/memfs.js";
import { allocatePage, assertPage, stamped, throwsCode, writePage } from "./pages.js";

const PATH = "/snap.pkv";
const PAGE_SIZE = 512;
const USABLE = usableSizeOf(PAGE_SIZE);

function fresh(opts: PagerOptions = {}) {
  const fs = new MemFS();
  const pager = Pager.create(fs, PATH, {
    pageSize: PAGE_SIZE,
    cacheFrames: 8,
    walAutoCheckpointPages: 0,
    debug: true,
    ...opts,
  });
  return { fs, pager };
}

/** Page `pgno` through `snap` holds version `version`. */
function assertSnapPage(snap: PagerSnapshot, pgno: number, version: number, what = ""): void {
  const f = snap.get(pgno);
  try {
    assert.equal(f.pgno, pgno);
    assert.deepEqual(f.data, stamped(USABLE, pgno, version), `${what} page ${pgno} v${version}`);
  } finally {
    snap.unpin(f);
  }
}

/** Every page in `versions` (pgno -> version) through `snap`. */
function assertSnapPages(snap: PagerSnapshot, versions: Map<number, number>, what = ""): void {
  for (const [pgno, v] of versions) assertSnapPage(snap, pgno, v, what);
}

/** The usable bytes of page `pgno` in the main file now (what a read from home gets). */
function homePage(fs: MemFS, pgno: number): Uint8Array {
  const file = fs.open(PATH, { readOnly: true });
  try {
    const page = new Uint8Array(PAGE_SIZE);
    assert.equal(file.readAt(page, (pgno - 1) * PAGE_SIZE), PAGE_SIZE, `page ${pgno} is home`);
    return page.subarray(0, USABLE);
  } finally {
    file.close();
  }
}

/** Which of `versions` page `pgno` holds at home, or -1 for none of them. */
function homeVersion(fs: MemFS, pgno: number, versions: number[]): number {
  const bytes = homePage(fs, pgno);
  for (const v of versions) {
    const want = stamped(USABLE, pgno, v);
    if (bytes.every((b, i) => b === want[i])) return v;
  }
  return -1;
}

/** Allocate `n` pages at version `version` in one transaction; returns their numbers. */
function allocateCommitted(pager: Pager, n: number, version: number): number[] {
  pager.begin();
  const pages: number[] = [];
  for (let i = 0; i < n; i++) pages.push(allocatePage(pager, version));
  pager.commit();
  return pages;
}

/** One transaction writing `version` to each of `pages`; returns its LSN. */
function commitWrites(pager: Pager, pages: number[], version: number): bigint {
  pager.begin();
  for (const p of pages) writePage(pager, p, version);
  return pager.commit();
}

describe("a snapshot is the last commit at its instant", () => {
  test("its pages, slots, page count and LSN stay across commits and rollbacks", () => {
    const { pager } = fresh();
    const empty = pager.snapshot();
    assert.equal(empty.pageCount, 1);
    assert.equal(empty.lsn, 0n);
    throwsCode(() => empty.get(2), "ERR_PAGE_RANGE");
    pager.begin();
    const [a, b, c] = [allocatePage(pager, 1), allocatePage(pager, 1), allocatePage(pager, 1)];
    pager.setSlot(0, 10);
    const lsn1 = pager.commit();
    const s1 = pager.snapshot();
    pager.begin();
    writePage(pager, a, 2);
    pager.setSlot(0, 20);
    const lsn2 = pager.commit();
    pager.begin();
    writePage(pager, b, 3);
    allocatePage(pager, 3);
    pager.setSlot(1, 99);
    pager.rollback();
    const s2 = pager.snapshot();
    pager.begin();
    writePage(pager, b, 4);
    writePage(pager, c, 4);
    allocatePage(pager, 4);
    pager.setSlot(0, 30);
    pager.commit();

    assert.equal(s1.lsn, lsn1);
    assert.equal(s1.pageCount, 4);
    assert.equal(s1.getSlot(0), 10);
    assertSnapPages(
      s1,
      new Map([
        [a, 1],
        [b, 1],
        [c, 1],
      ]),
      "s1",
    );
    assert.equal(s2.lsn, lsn2);
    assert.equal(s2.pageCount, 4, "the rolled-back allocation is not in s2");
    assert.equal(s2.getSlot(0), 20);
    assert.equal(s2.getSlot(1), 0, "the rolled-back slot is not in s2");
    assertSnapPages(
      s2,
      new Map([
        [a, 2],
        [b, 1],
        [c, 1],
      ]),
      "s2",
    );
    throwsCode(() => s2.get(5), "ERR_PAGE_RANGE");
    assert.equal(empty.pageCount, 1);
    assert.equal(empty.getSlot(0), 0);
    // The live pager sees the newest commit.
    assertPage(pager, a, 2);
    assertPage(pager, b, 4);
    assert.equal(pager.pageCount, 5);
    assert.equal(pager.stats().snapshots, 3);
    assert.equal(pager.stats().snapshotCommitsBehind, 3);
    pager.close();
  });

  test("a transaction larger than the pool spills, and the snapshot still reads the commit", () => {
    const { pager } = fresh({ cacheFrames: 3 });
    const pages = allocateCommitted(pager, 10, 1);
    const snap = pager.snapshot();
    const before = new Map(pages.map((p) => [p, 1]));
    pager.begin();
    for (const p of pages) writePage(pager, p, 2);
    assert.ok(pager.stats().writebacks > 0, "the transaction spilled to the log");
    assertSnapPages(snap, before, "mid-transaction");
    for (const p of pages) writePage(pager, p, 3); // the spilled pages again
    assertSnapPages(snap, before, "after a second spill");
    pager.commit();
    assertSnapPages(snap, before, "after the commit");
    const after = pager.snapshot();
    assertSnapPages(after, new Map(pages.map((p) => [p, 3])), "a snapshot of the commit");
    pager.begin();
    for (const p of pages) writePage(pager, p, 4);
    pager.rollback();
    assertSnapPages(snap, before, "after a spilled rollback");
    assertSnapPages(after, new Map(pages.map((p) => [p, 3])), "after a spilled rollback");
    for (const p of pages) assertPage(pager, p, 3);
    pager.close();
  });

  test("pages freed after it, and reused by later commits, read as at its instant", () => {
    const { pager } = fresh({ cacheFrames: 4 });
    const pages = allocateCommitted(pager, 6, 1); // 2..7
    const snap = pager.snapshot();
    const freed = [pages[1], pages[2], pages[4]];
    pager.begin();
    for (const p of freed) pager.free(p);
    pager.commit();
    const afterFree = pager.snapshot();
    assertSnapPages(snap, new Map(pages.map((p) => [p, 1])), "after the frees");
    pager.begin();
    const reused = [allocatePage(pager, 5), allocatePage(pager, 5)];
    pager.commit();
    assert.ok(reused[0] !== reused[1] && reused.every((p) => freed.includes(p)), `${reused}`);
    assert.equal(pager.pageCount, 7, "nothing grew: both allocations reused");
    // One freed page (of the three) is still free and was never rewritten as live data.
    assertSnapPages(snap, new Map(pages.map((p) => [p, 1])), "after the reuse");
    assertSnapPage(afterFree, pages[0], 1, "a page the frees left alone");
    // Through the live pager the reused pages are new, the last freed one refused.
    for (const p of reused) assertPage(pager, p, 5);
    const stillFree = freed.find((p) => !reused.includes(p));
    assert.ok(stillFree !== undefined);
    throwsCode(() => pager.get(stillFree), "ERR_PAGE_RANGE");
    // A later commit that rewrites the reused pages, and a forced checkpoint: still v1.
    commitWrites(pager, reused, 6);
    assert.equal(pager.checkpoint(), false);
    assertSnapPages(snap, new Map(pages.map((p) => [p, 1])), "after a checkpoint");
    snap.close();
    afterFree.close();
    assert.equal(pager.checkpoint(), true);
    pager.close();
  });

  test("automatic checkpoints (a small limit) and forced ones leave it as it was", () => {
    const { pager } = fresh({ cacheFrames: 4, walAutoCheckpointPages: 4 });
    const pages = allocateCommitted(pager, 6, 1);
    assert.equal(pager.stats().walFrames, 0, "the allocation's commit was checkpointed");
    const old = pager.snapshot();
    const oldPages = new Map(pages.map((p) => [p, 1]));
    let mid: PagerSnapshot | null = null;
    for (let v = 2; v <= 12; v++) {
      commitWrites(pager, [pages[v % 6], pages[(v + 1) % 6], pages[(v + 3) % 6]], v);
      if (v === 6) mid = pager.snapshot();
      assertSnapPages(old, oldPages, `after commit v${v}`);
    }
    assert.ok(mid !== null);
    const midPages = new Map<number, number>();
    for (let v = 2; v <= 6; v++) {
      for (const p of [pages[v % 6], pages[(v + 1) % 6], pages[(v + 3) % 6]]) midPages.set(p, v);
    }
    for (const p of pages) if (!midPages.has(p)) midPages.set(p, 1);
    const st = pager.stats();
    assert.ok(st.walFrames >= 4, `the log grew past its limit (${st.walFrames} frames)`);
    assert.equal(st.snapshots, 2);
    assert.equal(st.snapshotCommitsBehind, 11);
    assert.ok(st.snapshotFramesHeld > 0);
    assert.equal(pager.checkpoint(), false, "forced, with a snapshot behind");
    assertSnapPages(old, oldPages, "after a forced checkpoint");
    assertSnapPages(mid, midPages, "after a forced checkpoint");
    old.close();
    assert.equal(pager.checkpoint(), false, "the newer snapshot is still behind");
    assertSnapPages(mid, midPages, "after the oldest closed");
    assert.equal(pager.stats().snapshotCommitsBehind, 6);
    mid.close();
    // The next commit's automatic checkpoint now completes.
    commitWrites(pager, [pages[0]], 13);
    assert.equal(pager.stats().walFrames, 0, "the automatic checkpoint reset the log");
    assert.equal(pager.stats().snapshotCommitsBehind, 0);
    assert.equal(pager.stats().snapshotFramesHeld, 0);
    pager.close();
  });

  test("taken inside an open transaction, it sees the last commit, not the transaction", () => {
    const { pager } = fresh({ cacheFrames: 3 });
    const pages = allocateCommitted(pager, 4, 1);
    pager.begin();
    writePage(pager, pages[0], 2);
    const grown = allocatePage(pager, 2);
    assert.equal(grown, 6);
    pager.free(pages[1]); // freed in the transaction, live at the snapshot's instant
    pager.setSlot(3, 33);
    for (const p of [pages[2], pages[3]]) writePage(pager, p, 2); // spills
    const snap = pager.snapshot();
    assert.equal(snap.pageCount, 5);
    assert.equal(snap.getSlot(3), 0);
    throwsCode(() => snap.get(grown), "ERR_PAGE_RANGE");
    assertSnapPages(snap, new Map(pages.map((p) => [p, 1])), "inside the transaction");
    pager.commit();
    assertSnapPages(snap, new Map(pages.map((p) => [p, 1])), "after it committed");
    assert.equal(snap.getSlot(3), 0);
    // Work outside begin() (the implicit transaction) is not the last commit either.
    writePage(pager, pages[0], 3);
    const implicit = pager.snapshot();
    assertSnapPage(implicit, pages[0], 2, "implicit work");
    assert.equal(implicit.getSlot(3), 33);
    assert.equal(implicit.pageCount, 6);
    // checkpoint() commits the implicit work first: both snapshots are then behind.
    assert.equal(pager.checkpoint(), false);
    assertSnapPage(implicit, pages[0], 2, "after the checkpoint");
    assertSnapPage(snap, pages[0], 1, "after the checkpoint");
    assertPage(pager, pages[0], 3);
    pager.close();
  });
});

describe("the checkpoint is bounded by the oldest snapshot", () => {
  test("it returns false and copies nothing home the snapshot would see; true after its close", () => {
    const { fs, pager } = fresh();
    const [a, b, c] = allocateCommitted(pager, 3, 1);
    assert.equal(pager.checkpoint(), true);
    assert.equal(homeVersion(fs, b, [1]), 1);
    commitWrites(pager, [a], 2); // below the snapshot's bound
    const snap = pager.snapshot();
    const lsnBefore = pager.checkpointLSN;
    commitWrites(pager, [a, b], 3);
    commitWrites(pager, [c], 4);
    assert.equal(pager.checkpoint(), false);
    assert.equal(pager.checkpointLSN, lsnBefore, "a refused checkpoint records no LSN");
    assert.ok(pager.stats().walFrames > 0, "the log was not reset");
    // The snapshot reads b and c from home: they must still be v1 there. Page a's frame
    // below the bound may have gone home; its later one may not.
    assert.equal(homeVersion(fs, b, [1, 3]), 1, "page b at home");
    assert.equal(homeVersion(fs, c, [1, 4]), 1, "page c at home");
    assert.notEqual(homeVersion(fs, a, [1, 2, 3]), 3, "page a at home");
    assert.notEqual(homeVersion(fs, a, [1, 2, 3]), -1, "page a at home");
    assertSnapPages(
      snap,
      new Map([
        [a, 2],
        [b, 1],
        [c, 1],
      ]),
    );
    assert.equal(pager.checkpoint(), false, "again, still behind");
    assert.equal(homeVersion(fs, b, [1, 3]), 1, "page b at home, second time");
    snap.close();
    assert.equal(pager.checkpoint(), true);
    assert.equal(pager.stats().walFrames, 0);
    assert.ok(pager.checkpointLSN > lsnBefore);
    assert.equal(homeVersion(fs, a, [3]), 3);
    assert.equal(homeVersion(fs, b, [3]), 3);
    assert.equal(homeVersion(fs, c, [4]), 4);
    pager.close();
  });

  test("a snapshot at the newest commit does not block the reset and reads right after it", () => {
    const { fs, pager } = fresh({ cacheFrames: 3 });
    const [a, b] = allocateCommitted(pager, 2, 1);
    commitWrites(pager, [a], 2);
    const snap = pager.snapshot();
    assert.equal(pager.checkpoint(), true);
    assert.equal(pager.stats().walFrames, 0);
    assert.equal(pager.stats().snapshotCommitsBehind, 0);
    assertSnapPage(snap, a, 2, "after the reset");
    assertSnapPage(snap, b, 1, "after the reset");
    // Past the reset the snapshot reads home; a later commit must not reach home while
    // it is open.
    commitWrites(pager, [a, b], 3);
    assert.equal(pager.checkpoint(), false);
    assert.equal(homeVersion(fs, a, [2, 3]), 2, "page a at home");
    assert.equal(homeVersion(fs, b, [1, 3]), 1, "page b at home");
    assertSnapPage(snap, a, 2, "after a later commit");
    assertSnapPage(snap, b, 1, "after a later commit");
    snap.close();
    assert.equal(pager.checkpoint(), true);
    assert.equal(pager.stats().walFrames, 0);
    pager.close();
  });
});

describe("errors and bounds", () => {
  test("ERR_CLOSED after its close and after the pager's; close is idempotent", () => {
    const { pager } = fresh();
    allocateCommitted(pager, 2, 1);
    const snap = pager.snapshot();
    const kept = pager.snapshot();
    assert.equal(snap.closed, false);
    snap.close();
    assert.equal(snap.closed, true);
    throwsCode(() => snap.get(2), "ERR_CLOSED");
    snap.close();
    assert.equal(pager.stats().snapshots, 1);
    assertSnapPage(kept, 2, 1);
    pager.close();
    assert.equal(kept.closed, true, "close() closes every snapshot");
    throwsCode(() => kept.get(2), "ERR_CLOSED");
    kept.close();
    throwsCode(() => pager.snapshot(), "ERR_CLOSED");
  });

  test("ERR_PAGE_RANGE outside 2..pageCount as of the instant", () => {
    const { pager } = fresh();
    allocateCommitted(pager, 3, 1);
    const snap = pager.snapshot();
    allocateCommitted(pager, 2, 2);
    for (const p of [0, 1, 5, 6, -1]) throwsCode(() => snap.get(p), "ERR_PAGE_RANGE");
    assertSnapPage(snap, 4, 1);
    assert.equal(pager.stats().framesPinned, 0, "a refused get pins nothing");
    pager.close();
  });

  test("ERR_LIMIT past SNAPSHOTS_MAX open; a close makes room", () => {
    const { pager } = fresh();
    allocateCommitted(pager, 1, 1);
    const snaps: PagerSnapshot[] = [];
    for (let i = 0; i < SNAPSHOTS_MAX; i++) snaps.push(pager.snapshot());
    assert.equal(pager.stats().snapshots, SNAPSHOTS_MAX);
    throwsCode(() => pager.snapshot(), "ERR_LIMIT");
    snaps[17].close();
    const again = pager.snapshot();
    assertSnapPage(again, 2, 1);
    throwsCode(() => pager.snapshot(), "ERR_LIMIT");
    pager.close();
  });
});

describe("the pool holds older versions", () => {
  test("an old page read twice through a snapshot is a hit the second time", () => {
    const { pager } = fresh();
    const [a, b] = allocateCommitted(pager, 2, 1);
    const snap = pager.snapshot();
    commitWrites(pager, [a], 2);
    assertPage(pager, a, 2); // the current version is resident
    let st = pager.stats();
    assertSnapPage(snap, a, 1);
    const first = pager.stats();
    assert.equal(first.misses, st.misses + 1, "the old version is read in");
    assertSnapPage(snap, a, 1);
    const second = pager.stats();
    assert.equal(second.misses, first.misses, "the second read is no miss");
    assert.equal(second.hits, first.hits + 1, "the second read is a hit");
    // The current version stayed where it was.
    assertPage(pager, a, 2);
    const live = pager.stats();
    assert.equal(live.misses, second.misses);
    assert.equal(live.hits, second.hits + 1);
    // A page the snapshot shares with the current state is the current frame: a hit.
    assertPage(pager, b, 1);
    st = pager.stats();
    assertSnapPage(snap, b, 1);
    assert.equal(pager.stats().misses, st.misses);
    assert.equal(pager.stats().hits, st.hits + 1);
    pager.close();
  });

  test("old images do not outlive the log generation they were read from", () => {
    // The same pattern in two generations puts the same page at the same frame numbers:
    // an old image kept from the first generation would answer for the second's.
    const { pager } = fresh();
    const [a] = allocateCommitted(pager, 1, 1);
    for (let round = 0; round < 2; round++) {
      const v = 10 * (round + 1);
      assert.equal(pager.checkpoint(), true);
      assert.equal(pager.stats().walFrames, 0);
      commitWrites(pager, [a], v);
      const snap = pager.snapshot();
      commitWrites(pager, [a], v + 1);
      assertSnapPage(snap, a, v, `round ${round}`);
      assertSnapPage(snap, a, v, `round ${round}, again`);
      snap.close();
    }
    pager.close();
  });

  test("an old image pinned across its snapshot's close and the log reset stays, then frees", () => {
    const { pager } = fresh({ cacheFrames: 3 });
    const [a, b, c] = allocateCommitted(pager, 3, 1);
    const snap = pager.snapshot();
    commitWrites(pager, [a], 2);
    const old = snap.get(a);
    assert.deepEqual(old.data, stamped(USABLE, a, 1));
    snap.close();
    assert.equal(pager.checkpoint(), true, "no snapshot is open");
    assert.equal(pager.stats().walFrames, 0);
    assertPage(pager, a, 2); // the current image, not the pinned old one
    commitWrites(pager, [a, b], 3);
    assert.deepEqual(old.data, stamped(USABLE, a, 1), "a pinned frame is never reused");
    snap.unpin(old);
    assert.equal(pager.stats().framesPinned, 0);
    // All three frames are usable again: nothing leaked.
    const pinned = [pager.get(a), pager.get(b), pager.get(c)];
    assert.deepEqual(pinned[0].data, stamped(USABLE, a, 3));
    for (const f of pinned) pager.unpin(f);
    const now = pager.snapshot();
    assertSnapPages(
      now,
      new Map([
        [a, 3],
        [b, 3],
        [c, 1],
      ]),
    );
    pager.close();
  });
});

describe("failures", () => {
  test("a fenced pager still reads through its snapshots, old and new", () => {
    const { fs, pager } = fresh({ cacheFrames: 3 });
    const pages = allocateCommitted(pager, 5, 1);
    const old = pager.snapshot();
    commitWrites(pager, pages.slice(0, 2), 2);
    pager.begin();
    for (const p of pages) writePage(pager, p, 3);
    fs.injectFault("sync", 1, "EIO");
    throwsCode(() => pager.commit(), "ERR_IO");
    throwsCode(() => pager.get(pages[0], "write"), "ERR_FENCED");
    const last = new Map(pages.map((p, i) => [p, i < 2 ? 2 : 1]));
    assertSnapPages(old, new Map(pages.map((p) => [p, 1])), "the old snapshot, fenced");
    const fenced = pager.snapshot();
    assertSnapPages(fenced, last, "a snapshot taken fenced");
    for (const [p, v] of last) assertPage(pager, p, v);
    pager.close();
    const again = Pager.open(fs, PATH, { debug: true });
    for (const [p, v] of last) assertPage(again, p, v);
    again.close();
  });

  test("a crash with snapshots open: reopen recovers exactly the last durable commit", () => {
    const { fs, pager } = fresh({ cacheFrames: 3, walAutoCheckpointPages: 4 });
    const pages = allocateCommitted(pager, 6, 1);
    const versions = new Map(pages.map((p) => [p, 1]));
    const snaps: PagerSnapshot[] = [];
    for (let v = 2; v <= 10; v++) {
      const wrote = [pages[v % 6], pages[(v * 5) % 6]];
      commitWrites(pager, wrote, v);
      for (const p of wrote) versions.set(p, v);
      if (v % 3 === 0) snaps.push(pager.snapshot());
    }
    pager.setSlot(2, 1234);
    pager.begin();
    pager.setSlot(2, 77);
    pager.commit();
    assert.equal(pager.checkpoint(), false, "the snapshots hold the log");
    // Work in flight when the power fails: spilled, never committed.
    pager.begin();
    for (const p of pages) writePage(pager, p, 99);
    allocatePage(pager, 99);
    assert.ok(pager.stats().writebacks > 0);
    assert.equal(pager.stats().snapshots, 3);
    fs.crash();
    const again = Pager.open(fs, PATH, { debug: true });
    assert.equal(again.pageCount, 7);
    assert.equal(again.getSlot(2), 77);
    for (const [p, v] of versions) assertPage(again, p, v);
    assert.equal(again.stats().snapshots, 0);
    again.close();
  });
});
