// Readers beside the writer at the pager level (docs/design/readers.md): a read-only pager
// follows the log of a writer that keeps working, each read seeing the last commit, its
// snapshots steady; the writer's checkpoints stop at the readers' marks and reset the log
// only when every reader is at its end; a closing writer leaves the log to the readers, and
// the next one continues it. Two "processes" share one MemFS here (test/vfs/mark-board.ts).

import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { readU32 } from "../../src/format/codec.js";
import { usableSizeOf } from "../../src/format/page.js";
import { Pager } from "../../src/pager/pager.js";
import type { PagerSnapshot } from "../../src/pager/snapshots.js";
import { MemFS } from "../../src/vfs/memfs.js";
import type { VFS } from "../../src/vfs/vfs.js";
import { Board, view } from "../vfs/mark-board.js";
import { allocatePage, stamped, writePage } from "./pages.js";

const PATH = "/readers.pkv";
const PAGE_SIZE = 512;
const USABLE = usableSizeOf(PAGE_SIZE);

function setup() {
  const fs = new MemFS();
  const board = new Board();
  const vfs = view(fs, board);
  const writer = Pager.create(vfs, PATH, {
    pageSize: PAGE_SIZE,
    cacheFrames: 16,
    walAutoCheckpointPages: 0,
    debug: true,
  });
  return { fs, board, vfs, writer };
}

function openReader(vfs: VFS): Pager {
  return Pager.open(vfs, PATH, { readOnly: true, cacheFrames: 16, debug: true });
}

/** Page `pgno` of `src` (a pager or a snapshot) holds version `version`. */
function assertAt(src: Pager | PagerSnapshot, pgno: number, version: number, what = ""): void {
  const f = src.get(pgno);
  try {
    assert.deepEqual(f.data, stamped(USABLE, pgno, version), `${what} page ${pgno} v${version}`);
  } finally {
    src.unpin(f);
  }
}

/** Let the reader's event loop run: its view is released. */
const turn = () => new Promise((r) => setTimeout(r, 2));

describe("a reader beside the writer (pager)", () => {
  test("each refresh sees the last commit; a snapshot stays at its own", () => {
    const { vfs, writer } = setup();
    writer.begin();
    const a = allocatePage(writer, 1);
    const b = allocatePage(writer, 1);
    writer.commit();
    const reader = openReader(vfs);
    assertAt(reader, a, 1);
    const old = reader.snapshot();
    writer.begin();
    writePage(writer, a, 2);
    writer.commit();
    assert.equal(reader.refresh(), true, "a new commit moves the view");
    assert.equal(reader.refresh(), false, "nothing new: the view stays");
    assertAt(reader, a, 2, "the view");
    assertAt(old, a, 1, "the older snapshot");
    assertAt(old, b, 1, "the older snapshot");
    writer.begin();
    const c = allocatePage(writer, 3);
    writePage(writer, b, 3);
    writer.commit();
    const now = reader.snapshot();
    assert.equal(now.pageCount, writer.pageCount);
    assertAt(now, c, 3);
    assertAt(now, b, 3);
    assertAt(old, b, 1, "still the older snapshot");
    now.close();
    old.close();
    reader.close();
    writer.close();
  });

  test("pages freed and reused by the writer: the view follows, an older snapshot keeps them", () => {
    const { vfs, writer } = setup();
    writer.begin();
    const a = allocatePage(writer, 1);
    const b = allocatePage(writer, 1);
    const c = allocatePage(writer, 1);
    writer.commit();
    const reader = openReader(vfs);
    for (const p of [a, b, c]) assertAt(reader, p, 1);
    const old = reader.snapshot();
    writer.begin();
    writer.free(b); // one of the two becomes the freelist's trunk (a new frame), the other
    writer.free(c); // only an entry in it: no frame of its own
    writer.commit();
    assert.equal(reader.refresh(), true);
    assert.deepEqual(
      [...reader.freePageNumbers()].sort(),
      [b, c].sort(),
      "the reader's freelist is the new commit's",
    );
    reader.checkInvariants(); // no current image of a free page
    assertAt(old, b, 1, "the snapshot before the free");
    assertAt(old, c, 1, "the snapshot before the free");
    writer.begin();
    const again = allocatePage(writer, 7);
    writer.commit();
    assert.ok(again === b || again === c, "a free page is reused");
    reader.refresh();
    assertAt(reader, again, 7, "the reused page in the view");
    assertAt(old, again, 1, "still the snapshot's image");
    old.close();
    reader.close();
    writer.close();
  });

  test("race A: a reader holds everything before it reads the log, then its view", () => {
    const { vfs, board, writer } = setup();
    writer.begin();
    allocatePage(writer, 1);
    writer.commit();
    const reader = openReader(vfs);
    assert.deepEqual(board.history[0], { generation: 0, bound: 0 }, "hold everything first");
    const last = board.history[board.history.length - 1];
    assert.ok(last !== null && last.bound > 0, "then the view's end");
    reader.close();
    writer.close();
  });

  test("a checkpoint copies home only below a reader's mark, and resets once it moved on", async () => {
    const { fs, vfs, writer } = setup();
    writer.begin();
    const a = allocatePage(writer, 1);
    writer.commit();
    writer.checkpoint();
    const reader = openReader(vfs);
    const snap = reader.snapshot();
    writer.begin();
    writePage(writer, a, 2);
    writer.commit();
    const homeBefore = readHome(fs, a);
    assert.equal(writer.checkpoint(), false, "held back by the reader's snapshot");
    assert.deepEqual(readHome(fs, a), homeBefore, "the reader's image stayed home");
    assert.ok(
      writer.stats().readers.some((r) => r.framesBehind > 0),
      "stats name the reader",
    );
    assertAt(snap, a, 1, "the snapshot after the held checkpoint");
    snap.close();
    await turn(); // the view is released: the reader reads nothing now
    assert.equal(writer.checkpoint(), true, "nobody holds the log: it resets");
    assert.equal(writer.stats().walFrames, 0);
    assertAt(reader, a, 2, "the reader after the reset");
    reader.close();
    writer.close();
  });

  test("a reset under a held view: frames reused by the new generation are read from home", () => {
    const { vfs, writer } = setup();
    writer.begin();
    const pages = [allocatePage(writer, 1), allocatePage(writer, 1), allocatePage(writer, 1)];
    writer.commit();
    const reader = openReader(vfs);
    const snap = reader.snapshot(); // at the end: does not hold the reset back
    assert.equal(writer.checkpoint(), true);
    writer.begin();
    for (const p of pages) writePage(writer, p, 2); // reuses the frame positions
    writer.commit();
    for (const p of pages) assertAt(snap, p, 1, "the snapshot across the reset");
    snap.close();
    assert.equal(reader.refresh(), true);
    for (const p of pages) assertAt(reader, p, 2, "the view after the reset");
    reader.close();
    writer.close();
  });

  test("a closing writer leaves the log to its readers; the next one continues it", () => {
    const { fs, vfs, writer } = setup();
    writer.begin();
    const a = allocatePage(writer, 1);
    writer.commit();
    const reader = openReader(vfs);
    const snap = reader.snapshot();
    writer.begin();
    writePage(writer, a, 2);
    writer.commit();
    writer.close();
    assert.ok(fs.exists(`${PATH}-wal`), "the log stays while a reader holds it");
    assertAt(snap, a, 1);
    const next = Pager.open(vfs, PATH, { walAutoCheckpointPages: 0, debug: true });
    assert.ok(next.stats().walFrames > 0, "the generation goes on under the reader's mark");
    next.begin();
    writePage(next, a, 3);
    next.commit();
    assertAt(snap, a, 1, "the snapshot across the writers");
    assert.equal(reader.refresh(), true);
    assertAt(reader, a, 3, "the next writer's commit");
    snap.close();
    reader.close();
    next.close();
    assert.equal(fs.exists(`${PATH}-wal`), false, "no reader left: the log goes");
  });

  test("a reader with no log finds the one a writer starts later", () => {
    const { fs, vfs, writer } = setup();
    writer.begin();
    const a = allocatePage(writer, 1);
    writer.commit();
    writer.close();
    assert.equal(fs.exists(`${PATH}-wal`), false);
    const reader = openReader(vfs);
    assertAt(reader, a, 1);
    const next = Pager.open(vfs, PATH, { walAutoCheckpointPages: 0, debug: true });
    next.begin();
    writePage(next, a, 2);
    next.commit();
    assert.equal(reader.refresh(), true);
    assertAt(reader, a, 2);
    reader.close();
    next.close();
  });

  test("a log retired and replaced under a reader that had it open", () => {
    const { vfs, board, writer } = setup();
    writer.begin();
    const a = allocatePage(writer, 1);
    writer.commit();
    const reader = openReader(vfs);
    assertAt(reader, a, 1);
    // Hide the reader from the writer, as if it arrived after the writer looked (race D).
    const saved = new Map(board.slots);
    board.slots.clear();
    writer.close();
    for (const [k, v] of saved) board.slots.set(k, v);
    const next = Pager.open(vfs, PATH, { walAutoCheckpointPages: 0, debug: true });
    next.begin();
    writePage(next, a, 2);
    next.commit();
    assert.equal(reader.refresh(), true);
    assertAt(reader, a, 2, "the reader follows the new log");
    reader.close();
    next.close();
  });

  test("race F at open: a checkpoint that resets the log between a reader's two reads of page 1", () => {
    const { vfs, board, writer } = setup();
    writer.begin();
    const pages = [allocatePage(writer, 1), allocatePage(writer, 1), allocatePage(writer, 1)];
    writer.commit();
    // Page 1 goes home only with a full checkpoint: home still counts 1 page.
    assert.equal(homePageCount(vfs), 1, "home's page count");
    let fired = false;
    // The reader has read home's page 1 when it looks for the log. Just then, a checkpoint
    // that listed the marks before the reader's appeared (race F) copies everything home
    // and resets the log: the reader finds no commit in the log.
    const late: VFS = new Proxy(vfs, {
      get(target, prop) {
        if (prop === "exists") {
          return (p: string) => {
            if (!fired && p.endsWith("-wal")) {
              fired = true;
              const saved = new Map(board.slots);
              board.slots.clear();
              assert.equal(writer.checkpoint(), true, "the checkpoint resets the log");
              for (const [k, v] of saved) board.slots.set(k, v);
            }
            return target.exists(p);
          };
        }
        const v = Reflect.get(target, prop);
        return typeof v === "function" ? v.bind(target) : v;
      },
    });
    const reader = openReader(late);
    assert.ok(fired);
    assert.equal(reader.pageCount, writer.pageCount, "the page count of the state home holds");
    for (const p of pages) assertAt(reader, p, 1, "a page the checkpoint copied home");
    reader.close();
    writer.close();
  });

  test("race D at open: a log deleted between a reader's look and its open is no log", () => {
    const { vfs, writer } = setup();
    writer.begin();
    const a = allocatePage(writer, 1);
    writer.commit();
    writer.begin();
    writePage(writer, a, 2);
    writer.commit();
    // No reader: the close copies everything home and deletes the log (rule 3).
    writer.close();
    assert.equal(vfs.exists(`${PATH}-wal`), false);
    // The reader looked just before the unlink: the log was there, its open finds none.
    const late: VFS = new Proxy(vfs, {
      get(target, prop) {
        if (prop === "exists") return (p: string) => p.endsWith("-wal") || target.exists(p);
        const v = Reflect.get(target, prop);
        return typeof v === "function" ? v.bind(target) : v;
      },
    });
    const reader = openReader(late);
    assertAt(reader, a, 2, "the main file the close made whole");
    const next = Pager.open(vfs, PATH, { walAutoCheckpointPages: 0, debug: true });
    next.begin();
    writePage(next, a, 3);
    next.commit();
    assert.equal(reader.refresh(), true);
    assertAt(reader, a, 3, "the reader finds the next writer's log");
    reader.close();
    next.close();
  });
});

function readHome(fs: MemFS, pgno: number): Uint8Array {
  const f = fs.open(PATH, { readOnly: true });
  const b = new Uint8Array(PAGE_SIZE);
  f.readAt(b, (pgno - 1) * PAGE_SIZE);
  f.close();
  return b;
}

/** The page count in the main file's page 1, as the VFS holds it now (header offset 20). */
function homePageCount(vfs: VFS): number {
  const f = vfs.open(PATH, { readOnly: true });
  const b = new Uint8Array(24);
  f.readAt(b, 0);
  f.close();
  return readU32(b, 20);
}
