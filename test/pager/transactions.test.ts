// Transactions on the pager: begin/commit/rollback, the implicit transaction, sync modes,
// automatic checkpoints, locking, and a pager left over from a crash. Durability across
// crashes at every write is proven by test/crash/; these tests pin the contract down.

import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { Pager, walPathOf } from "../../src/pager/pager.js";
import { MemFS } from "../../src/vfs/memfs.js";
import { allocatePage, assertPage, throwsCode, writePage } from "./pages.js";

const PATH = "/tx.pkv";

function fresh(opts: Parameters<typeof Pager.create>[2] = {}) {
  const fs = new MemFS();
  const pager = Pager.create(fs, PATH, { pageSize: 512, cacheFrames: 4, debug: true, ...opts });
  return { fs, pager };
}

describe("begin, commit, rollback", () => {
  test("a commit survives a crash; its LSNs increase", () => {
    const { fs, pager } = fresh();
    pager.begin();
    const a = allocatePage(pager, 1);
    pager.setSlot(2, 22);
    const lsn1 = pager.commit();
    pager.begin();
    writePage(pager, a, 2);
    const lsn2 = pager.commit();
    assert.ok(lsn2 > lsn1, `${lsn2} > ${lsn1}`);
    fs.crash();
    const again = Pager.open(fs, PATH, { debug: true });
    assertPage(again, a, 2);
    assert.equal(again.getSlot(2), 22);
    assert.equal(again.pageCount, 2);
    again.close();
  });

  test("rollback restores pages, page count, slots and the freelist", () => {
    const { pager } = fresh();
    const pages = [allocatePage(pager, 1), allocatePage(pager, 1), allocatePage(pager, 1)];
    pager.free(pages[2]);
    pager.setSlot(0, 5);
    pager.checkpoint();
    pager.begin();
    for (const p of pages.slice(0, 2)) writePage(pager, p, 2); // more than the pool holds
    for (let i = 0; i < 6; i++) allocatePage(pager, 3); // reuses the free page, then grows
    pager.free(pages[0]);
    pager.setSlot(0, 6);
    assert.ok(pager.stats().writebacks > 0, "the transaction spilled pages to the log");
    pager.rollback();
    assert.equal(pager.pageCount, 4);
    assert.equal(pager.getSlot(0), 5);
    assert.equal(pager.stats().freePages, 1);
    assertPage(pager, pages[0], 1);
    assertPage(pager, pages[1], 1);
    throwsCode(() => pager.get(pages[2]), "ERR_PAGE_RANGE");
    assert.equal(allocatePage(pager, 4), pages[2]);
    pager.close();
  });

  test("begin continues work done without begin; rollback discards it too", () => {
    const { pager } = fresh();
    const a = allocatePage(pager, 1);
    pager.checkpoint();
    writePage(pager, a, 2); // implicit transaction
    pager.begin();
    writePage(pager, a, 3);
    pager.rollback();
    assertPage(pager, a, 1);
  });

  test("writes without begin become durable at checkpoint, not before", () => {
    const { fs, pager } = fresh();
    const a = allocatePage(pager, 1);
    pager.checkpoint();
    writePage(pager, a, 2);
    fs.crash();
    let again = Pager.open(fs, PATH, { debug: true });
    assertPage(again, a, 1);
    writePage(again, a, 3);
    again.checkpoint();
    fs.crash();
    again = Pager.open(fs, PATH, { debug: true });
    assertPage(again, a, 3);
    again.close();
  });

  test("transaction misuse is ERR_TXN", () => {
    const { pager } = fresh();
    throwsCode(() => pager.commit(), "ERR_TXN");
    throwsCode(() => pager.rollback(), "ERR_TXN");
    pager.begin();
    throwsCode(() => pager.begin(), "ERR_TXN");
    throwsCode(() => pager.checkpoint(), "ERR_TXN");
    pager.commit();
    assert.equal(pager.inTransaction, false);
  });

  test("commit, rollback and checkpoint refuse while a page is pinned for writing", () => {
    const { pager } = fresh();
    const a = allocatePage(pager, 1);
    pager.begin();
    const f = pager.get(a, "write");
    throwsCode(() => pager.commit(), "ERR_PIN");
    throwsCode(() => pager.rollback(), "ERR_PIN");
    pager.unpin(f, true);
    pager.commit();
  });

  test("an empty commit writes nothing and returns the last commit's LSN", () => {
    const { fs, pager } = fresh();
    pager.begin();
    allocatePage(pager, 1);
    const lsn = pager.commit();
    const ops = fs.opCount;
    pager.begin();
    assert.equal(pager.commit(), lsn);
    assert.equal(fs.opCount, ops);
  });

  test("close rolls back an open transaction and leaves one file", () => {
    const { fs, pager } = fresh();
    const a = allocatePage(pager, 1);
    pager.checkpoint();
    pager.begin();
    writePage(pager, a, 2);
    pager.close();
    assert.equal(fs.exists(walPathOf(PATH)), false);
    const again = Pager.open(fs, PATH);
    assertPage(again, a, 1);
    again.close();
  });
});

describe("sync modes and automatic checkpoints", () => {
  test('sync "full" makes every commit durable: a crash right after keeps it', () => {
    const { fs, pager } = fresh({ sync: "full" });
    const a = allocatePage(pager, 1);
    pager.checkpoint();
    for (let v = 2; v < 6; v++) {
      pager.begin();
      writePage(pager, a, v);
      pager.commit();
    }
    fs.crash();
    const again = Pager.open(fs, PATH);
    assertPage(again, a, 5);
  });

  test('sync "normal" may lose commits since the last checkpoint, but never tears one', () => {
    const { fs, pager } = fresh({ sync: "normal" });
    const a = allocatePage(pager, 1);
    const b = allocatePage(pager, 1);
    pager.checkpoint();
    pager.begin();
    writePage(pager, a, 2);
    writePage(pager, b, 2);
    pager.commit();
    fs.crash(); // nothing of the log was synced
    const again = Pager.open(fs, PATH);
    assertPage(again, a, 1);
    assertPage(again, b, 1);
    again.begin();
    writePage(again, a, 3);
    again.commit();
    again.checkpoint(); // syncs the log, then the database
    fs.crash();
    const third = Pager.open(fs, PATH);
    assertPage(third, a, 3);
  });

  test("the log is checkpointed automatically once it passes walAutoCheckpointPages", () => {
    const { pager } = fresh({ walAutoCheckpointPages: 10 });
    const a = allocatePage(pager, 1);
    pager.checkpoint();
    const before = pager.stats().checkpoints;
    for (let v = 2; v < 12; v++) {
      pager.begin();
      writePage(pager, a, v);
      pager.commit(); // 2 frames each
    }
    const s = pager.stats();
    assert.ok(s.checkpoints > before, `checkpoints ${s.checkpoints}`);
    assert.ok(s.walFrames < 10, `log holds ${s.walFrames} frames`);
    assertPage(pager, a, 11);
  });

  test("checkpoint records the last commit's LSN by default, or the one given", () => {
    const { fs, pager } = fresh();
    pager.begin();
    allocatePage(pager, 1);
    const lsn = pager.commit();
    pager.checkpoint();
    assert.equal(pager.checkpointLSN, lsn);
    pager.checkpoint(lsn + 100n);
    assert.equal(pager.checkpointLSN, lsn + 100n);
    pager.begin();
    allocatePage(pager, 1);
    const later = pager.commit();
    assert.ok(later > lsn + 100n, "later commits get higher LSNs");
    fs.crash();
    // Recovery checkpoints the log and records its last commit.
    assert.equal(Pager.open(fs, PATH).checkpointLSN, later);
  });
});

describe("options", () => {
  test("invalid sync, walAutoCheckpointPages and recover options are ERR_ARG", () => {
    const fs = new MemFS();
    throwsCode(() => Pager.create(fs, PATH, { sync: "always" as "full" }), "ERR_ARG");
    throwsCode(() => Pager.create(fs, PATH, { walAutoCheckpointPages: -1 }), "ERR_ARG");
    throwsCode(() => Pager.create(fs, PATH, { walAutoCheckpointPages: 1.5 }), "ERR_ARG");
    throwsCode(() => Pager.create(fs, PATH, { recover: "guess" as "strict" }), "ERR_ARG");
    assert.equal(fs.exists(PATH), false);
    Pager.create(fs, PATH).close();
    throwsCode(() => Pager.open(fs, PATH, { recover: "guess" as "strict" }), "ERR_ARG");
    Pager.open(fs, PATH).close(); // the failed open let go of the lock
  });
});

describe("locking and process death", () => {
  test("a second writer on the same database is ERR_LOCKED until the first closes", () => {
    const { fs, pager } = fresh();
    allocatePage(pager, 1);
    throwsCode(() => Pager.open(fs, PATH), "ERR_LOCKED");
    throwsCode(() => Pager.create(fs, PATH), "ERR_LOCKED");
    pager.close();
    Pager.open(fs, PATH).close();
  });

  test("a pager left over from a crash is dead: every call throws ERR_CLOSED", () => {
    const { fs, pager } = fresh();
    const a = allocatePage(pager, 1);
    pager.checkpoint();
    const f = pager.get(a);
    fs.crash();
    throwsCode(() => pager.get(a), "ERR_CLOSED"); // even a cache hit
    throwsCode(() => pager.unpin(f), "ERR_CLOSED");
    throwsCode(() => pager.begin(), "ERR_CLOSED");
    throwsCode(() => pager.stats(), "ERR_CLOSED");
    throwsCode(() => pager.close(), "ERR_CLOSED");
    const again = Pager.open(fs, PATH); // its lock died with it
    assertPage(again, a, 1);
    again.close();
  });
});

describe("faults", () => {
  test("ERR_FENCED comes before any other check", () => {
    const { fs, pager } = fresh();
    const a = allocatePage(pager, 1);
    pager.checkpoint();
    pager.begin();
    writePage(pager, a, 2);
    fs.injectFault("sync", 1);
    throwsCode(() => pager.commit(), "ERR_IO");
    throwsCode(() => pager.free(0), "ERR_FENCED"); // not ERR_PAGE_RANGE
    throwsCode(() => pager.checkpoint(-1n), "ERR_FENCED"); // not ERR_ARG
    throwsCode(() => pager.setSlot(99, 1), "ERR_FENCED"); // not ERR_ARG
    throwsCode(() => pager.commit(), "ERR_FENCED"); // not ERR_TXN
    assertPage(pager, a, 1); // reads still see the last commit
  });

  test("a failed write home during a checkpoint is ERR_IO without fencing; a retry succeeds", () => {
    const { fs, pager } = fresh({ cacheFrames: 2 });
    const pages = [allocatePage(pager, 1), allocatePage(pager, 1), allocatePage(pager, 1)];
    pager.begin();
    for (const p of pages) writePage(pager, p, 2);
    pager.commit();
    fs.injectFault("write", 1, "ENOSPC"); // the first write of the checkpoint: pages home
    const e = throwsCode(() => pager.checkpoint(), "ERR_IO");
    assert.equal((e.cause as { code?: string }).code, "ENOSPC");
    pager.checkpoint();
    fs.crash();
    const again = Pager.open(fs, PATH);
    for (const p of pages) assertPage(again, p, 2);
  });

  test("a failed log append at commit is ERR_IO, rolls back, does not fence; the next commit works", () => {
    const { fs, pager } = fresh();
    const a = allocatePage(pager, 1);
    pager.checkpoint();
    pager.begin();
    writePage(pager, a, 2);
    fs.injectFault("write", 1, "ENOSPC");
    throwsCode(() => pager.commit(), "ERR_IO");
    assert.equal(pager.inTransaction, false);
    assertPage(pager, a, 1); // rolled back
    pager.begin(); // not ERR_FENCED
    writePage(pager, a, 3);
    pager.commit();
    fs.crash();
    const again = Pager.open(fs, PATH);
    assertPage(again, a, 3);
    again.close();
  });

  test("a failed read during recovery fails the open, releases the lock, and a retry recovers", () => {
    const { fs, pager } = fresh();
    const a = allocatePage(pager, 1);
    pager.checkpoint();
    pager.begin();
    writePage(pager, a, 2);
    pager.commit();
    fs.crash();
    fs.injectFault("read", 2, "EIO"); // the database header reads fine; the log does not
    const e = throwsCode(() => Pager.open(fs, PATH), "ERR_IO");
    assert.equal((e.cause as { code?: string }).code, "EIO");
    const again = Pager.open(fs, PATH); // not ERR_LOCKED: the failed open let go
    assertPage(again, a, 2);
  });
});
