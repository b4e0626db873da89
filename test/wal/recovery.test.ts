// Recovery from the write-ahead log: what open keeps and what it refuses. Each test builds
// a log through the pager, freezes the bytes as they stand (a "disk image", as if the
// power failed with exactly those bytes on disk), damages them in one precise way and
// opens the image.

import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { walFrameBytes, walFrameOffset } from "../../src/format/wal-format.js";
import { Pager, walPathOf } from "../../src/pager/pager.js";
import { MemFS } from "../../src/vfs/memfs.js";
import { allocatePage, assertPage, throwsCode, writePage } from "../pager/pages.js";

const PATH = "/r.pkv";
const WAL = walPathOf(PATH);
const PAGE = 512;

/** A new MemFS holding the current bytes of `paths` in `fs`, all durable. */
function diskImage(fs: MemFS, paths: string[] = [PATH, WAL]): MemFS {
  const image = new MemFS();
  for (const p of paths) {
    if (!fs.exists(p)) continue;
    const src = fs.open(p, { readOnly: true });
    const bytes = new Uint8Array(src.size());
    src.readAt(bytes, 0);
    src.close();
    const dst = image.open(p, { create: true });
    dst.writeAt(bytes, 0);
    dst.sync();
    dst.close();
  }
  return image;
}

function flip(fs: MemFS, path: string, offset: number): void {
  const f = fs.open(path);
  const b = new Uint8Array(1);
  f.readAt(b, offset);
  b[0] ^= 0x5a;
  f.writeAt(b, offset);
  f.sync();
  f.close();
}

/** Offset of a byte inside the page image of log frame `index`. */
function inFrame(index: number): number {
  return walFrameOffset(index, PAGE) + 40 + 100;
}

/**
 * A database with page a at v1 checkpointed, then three one-page commits (v2, v3, v4).
 * The first of a log generation logs page 1 too: frames 0-1 (page a, page 1), 2, 3, each
 * commit mark on its last frame.
 */
function threeCommits(sync: "full" | "normal") {
  const fs = new MemFS();
  const pager = Pager.create(fs, PATH, { pageSize: PAGE, cacheFrames: 4, sync });
  const a = allocatePage(pager, 1);
  pager.checkpoint();
  for (let v = 2; v <= 4; v++) {
    pager.begin();
    writePage(pager, a, v);
    pager.commit();
  }
  assert.equal(pager.stats().walFrames, 4);
  return { fs, pager, a };
}

describe("recovery", () => {
  test("every intact commit in the log is recovered", () => {
    const { fs, a } = threeCommits("normal");
    const image = diskImage(fs);
    const pager = Pager.open(image, PATH, { debug: true });
    assertPage(pager, a, 4);
    assert.equal(pager.droppedTransactions, 0);
    pager.close();
  });

  test("a torn tail that was never synced is ignored: open at the commit before it", () => {
    const { fs, a } = threeCommits("normal");
    const image = diskImage(fs);
    flip(image, WAL, inFrame(3)); // the third commit's page, never synced
    const pager = Pager.open(image, PATH, { debug: true });
    assertPage(pager, a, 3);
    assert.equal(pager.droppedTransactions, 0);
  });

  test("damage to a synced frame is ERR_CORRUPT naming the frame", () => {
    const { fs } = threeCommits("full");
    const image = diskImage(fs);
    flip(image, WAL, inFrame(2)); // the second commit's page; the third was written after
    const e = throwsCode(() => Pager.open(image, PATH), "ERR_CORRUPT");
    assert.match(e.message, /log frame 2 is damaged but had been synced/);
    assert.match(e.message, /-wal/);
  });

  test('recover: "truncate" opens at the last good commit and counts what it dropped', () => {
    const { fs, a } = threeCommits("full");
    const image = diskImage(fs);
    flip(image, WAL, inFrame(2));
    const pager = Pager.open(image, PATH, { recover: "truncate", debug: true });
    assertPage(pager, a, 2);
    // The third commit's mark survives; the second's was the damaged frame itself.
    assert.equal(pager.droppedTransactions, 1);
    pager.close();
    const again = Pager.open(image, PATH); // the damaged log is gone for good
    assertPage(again, a, 2);
    assert.equal(again.droppedTransactions, 0);
  });

  test("a frame header damaged (not the page) is caught the same way", () => {
    const { fs } = threeCommits("full");
    const image = diskImage(fs);
    flip(image, WAL, walFrameOffset(2, PAGE) + 6); // commit mark of the second commit
    throwsCode(() => Pager.open(image, PATH), "ERR_CORRUPT");
  });

  test("a log that belongs to another database is ignored", () => {
    const { fs, a } = threeCommits("full");
    const other = new MemFS();
    const o = Pager.create(other, PATH, { pageSize: PAGE });
    o.begin();
    allocatePage(o, 9);
    o.commit();
    const image = diskImage(fs, [PATH]);
    const foreign = diskImage(other, [WAL]);
    const src = foreign.open(WAL);
    const bytes = new Uint8Array(src.size());
    src.readAt(bytes, 0);
    const dst = image.open(WAL, { create: true });
    dst.writeAt(bytes, 0);
    dst.sync();
    const pager = Pager.open(image, PATH, { debug: true });
    assertPage(pager, a, 1); // the checkpointed state, none of the other database's pages
    assert.equal(pager.pageCount, 2);
  });

  test("a checkpoint torn while writing page 1 home still opens, from the log", () => {
    const { fs, a } = threeCommits("full");
    const image = diskImage(fs);
    flip(image, PATH, 20); // the main file's header, as a torn write would leave it
    flip(image, PATH, 300); // and the rest of page 1
    const pager = Pager.open(image, PATH, { debug: true });
    assertPage(pager, a, 4);
    pager.close();
    const again = Pager.open(image, PATH); // the redone checkpoint wrote page 1 whole
    assertPage(again, a, 4);
  });

  test("a torn main header with no log to repair it is ERR_CORRUPT", () => {
    const { fs } = threeCommits("full");
    const image = diskImage(fs, [PATH]);
    flip(image, PATH, 20);
    assert.equal(throwsCode(() => Pager.open(image, PATH), "ERR_CORRUPT").pgno, 1);
  });

  test("frames of a rolled-back transaction are never applied", () => {
    const fs = new MemFS();
    const pager = Pager.create(fs, PATH, { pageSize: PAGE, cacheFrames: 2 });
    const pages = [allocatePage(pager, 1), allocatePage(pager, 1), allocatePage(pager, 1)];
    pager.checkpoint();
    pager.begin();
    for (const p of pages) writePage(pager, p, 2); // three pages through two frames: spills
    assert.ok(pager.stats().writebacks > 0);
    pager.rollback();
    pager.begin();
    writePage(pager, pages[0], 3);
    pager.commit();
    const frames = pager.stats().walFrames;
    assert.ok(frames > 2, `the log holds the rolled-back frames too (${frames})`);
    const image = diskImage(fs);
    const again = Pager.open(image, PATH, { debug: true });
    assertPage(again, pages[0], 3);
    assertPage(again, pages[1], 1);
    assertPage(again, pages[2], 1);
  });

  test("a damaged log header does not discard the log: every commit is recovered from the frames", () => {
    for (let at = 0; at < 32; at++) {
      const { fs, a } = threeCommits("full");
      const image = diskImage(fs);
      flip(image, WAL, at); // any byte of the 32-byte header
      const pager = Pager.open(image, PATH, { debug: true });
      assertPage(pager, a, 4);
      pager.begin();
      writePage(pager, a, 5);
      pager.commit();
      pager.close();
      const again = Pager.open(image, PATH);
      assertPage(again, a, 5);
      again.close();
    }
  });

  test("a damaged log header is repaired read-only too, and writes nothing", () => {
    const { fs, a } = threeCommits("full");
    const image = diskImage(fs);
    flip(image, WAL, 13);
    const before = image.readDurable(WAL);
    const reader = Pager.open(image, PATH, { readOnly: true });
    assertPage(reader, a, 4);
    reader.close();
    assert.deepEqual(image.readDurable(WAL), before);
  });

  test('a damaged header and first frame with synced frames behind them: ERR_CORRUPT naming the header; "truncate" opens without the log', () => {
    const { fs, a } = threeCommits("full");
    const image = diskImage(fs);
    flip(image, WAL, 13);
    flip(image, WAL, inFrame(0));
    const e = throwsCode(() => Pager.open(image, PATH), "ERR_CORRUPT");
    assert.match(e.message, /log header is damaged and so is its first frame/);
    assert.match(e.message, /recover: "truncate"/);
    const pager = Pager.open(image, PATH, { recover: "truncate", debug: true });
    assert.ok(pager.droppedTransactions >= 1);
    assertPage(pager, a, 1); // the checkpointed state
    pager.close();
  });

  test("a damaged header over a log with no frames opens as an empty log", () => {
    const fs = new MemFS();
    const pager = Pager.create(fs, PATH, { pageSize: PAGE, cacheFrames: 4 });
    const a = allocatePage(pager, 1);
    pager.checkpoint();
    const image = diskImage(fs);
    flip(image, WAL, 13);
    const again = Pager.open(image, PATH, { debug: true });
    assertPage(again, a, 1);
    again.close();
  });

  test("frames left behind a rewound append (a failed write that landed) are never applied", () => {
    // A commit's append fails after its frames reached the file (EIO after the fact): it
    // is rolled back and the log rewound, and the next, shorter commit overwrites only the
    // first of them. The leftovers, whole and valid, commit mark included, carry a lower
    // LSN than the frames before them: the log ends there.
    const fs = new MemFS();
    const pager = Pager.create(fs, PATH, { pageSize: PAGE, cacheFrames: 8 });
    const q = [allocatePage(pager, 1), allocatePage(pager, 1), allocatePage(pager, 1)];
    pager.checkpoint();
    pager.begin();
    for (const p of q) writePage(pager, p, 2);
    fs.injectFault("write", 1, "EIO", true);
    throwsCode(() => pager.commit(), "ERR_IO");
    assertPage(pager, q[1], 1); // rolled back
    pager.begin();
    writePage(pager, q[0], 3);
    pager.commit(); // frames 0 (page q0) and 1 (page 1): frames 2 and 3 are leftovers
    const image = diskImage(fs);
    const again = Pager.open(image, PATH, { debug: true });
    assertPage(again, q[0], 3);
    assertPage(again, q[1], 1);
    assertPage(again, q[2], 1);
    again.close();
  });

  test("the frame size is a header plus a whole page", () => {
    assert.equal(walFrameBytes(PAGE), 40 + PAGE);
  });
});
