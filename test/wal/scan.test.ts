// The recovery scan on its own (src/wal/scan.ts): a scan continued over frames appended
// since a first scan links exactly what one scan of the whole log links, also when the first
// scan ended inside a transaction whose commit mark came later; and the Wal's bounded lookups
// answer as the index does.

import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { crc32 } from "../../src/format/crc32.js";
import { decodeWalHeader, WAL_HEADER_BYTES } from "../../src/format/wal-format.js";
import { Pager, walPathOf } from "../../src/pager/pager.js";
import { MemFS } from "../../src/vfs/memfs.js";
import type { VFile } from "../../src/vfs/vfs.js";
import { emptyScanState, type ScanSource, scanLog } from "../../src/wal/scan.js";
import { Wal } from "../../src/wal/wal.js";
import { WalIndex } from "../../src/wal/wal-index.js";
import { allocatePage, writePage } from "../pager/pages.js";

const PATH = "/s.pkv";
const WAL = walPathOf(PATH);
const PAGE = 512;

function source(fs: MemFS): ScanSource & { file: VFile } {
  const file = fs.open(WAL, { readOnly: true });
  const head = new Uint8Array(WAL_HEADER_BYTES);
  file.readAt(head, 0);
  const salt = decodeWalHeader(head, crc32);
  assert.ok(salt !== null, "the log header verifies");
  return { file, path: WAL, salt, crc: crc32 };
}

/** Every page 1..pages at every bound: the two indexes answer alike. */
function sameIndex(a: WalIndex, b: WalIndex, pages: number, frames: number): void {
  assert.equal(a.pageCount, b.pageCount);
  for (let pgno = 1; pgno <= pages; pgno++) {
    assert.equal(a.newestOf(pgno), b.newestOf(pgno), `newest of page ${pgno}`);
    for (let bound = 0; bound <= frames; bound++) {
      assert.equal(a.lookup(pgno, bound), b.lookup(pgno, bound), `page ${pgno} below ${bound}`);
    }
  }
}

describe("recovery scan", () => {
  test("a scan continued over appended frames links what one whole scan links", () => {
    const fs = new MemFS();
    // A pool of 4 frames: a transaction of 12 new pages spills most of them to the log
    // before its commit mark.
    const pager = Pager.create(fs, PATH, { pageSize: PAGE, cacheFrames: 4, sync: "normal" });
    pager.begin();
    const pages: number[] = [];
    for (let i = 0; i < 3; i++) pages.push(allocatePage(pager, 1));
    pager.commit();
    for (let v = 2; v <= 3; v++) {
      pager.begin();
      for (const p of pages) writePage(pager, p, v);
      pager.commit();
    }
    // A spilled transaction rolled back: its frames stay in the log, never committed.
    pager.begin();
    for (let i = 0; i < 12; i++) allocatePage(pager, 9);
    pager.rollback();
    // A spilled transaction still open when the first scan reads the log.
    pager.begin();
    for (let i = 0; i < 12; i++) pages.push(allocatePage(pager, 4));

    const log = source(fs);
    const index = new WalIndex();
    const state = emptyScanState();
    scanLog(log, index, "strict", state);
    assert.equal(state.found.commits, 3);
    const committedFirst = state.committedEnd;
    assert.ok(state.frames > committedFirst, "the open transaction's spilled frames were read");
    index.checkInvariants();

    pager.commit();
    pager.begin();
    writePage(pager, pages[0], 5);
    pager.commit();

    scanLog(log, index, "strict", state);
    index.checkInvariants();
    const whole = new WalIndex();
    const once = emptyScanState();
    scanLog(log, whole, "strict", once);
    assert.deepEqual(state, once);
    assert.equal(state.found.commits, 5);
    assert.ok(state.committedEnd > committedFirst);
    const maxPage = Math.max(...pages);
    sameIndex(index, whole, maxPage + 12, state.frames + 1);
    // The spilled frames of the transaction open at the first scan are committed now.
    for (const p of pages.slice(3)) assert.ok(index.lookup(p, state.committedEnd) >= 0);
    log.file.close();
    pager.close();
  });

  test("lookupAt answers below a bound, and lookupNewest tells the page's newest frame", () => {
    const fs = new MemFS();
    const pager = Pager.create(fs, PATH, { pageSize: PAGE, cacheFrames: 16, sync: "normal" });
    pager.begin();
    const a = allocatePage(pager, 1);
    pager.commit();
    const bounds: number[] = [];
    for (let v = 2; v <= 5; v++) {
      pager.begin();
      writePage(pager, a, v);
      pager.commit();
      bounds.push(pager.stats().walFrames);
    }
    // The crashed state: a copy of the log as it stands, recovered as open would.
    const image = new MemFS();
    const src = fs.open(WAL, { readOnly: true });
    const bytes = new Uint8Array(src.size());
    src.readAt(bytes, 0);
    src.close();
    const dst = image.open(WAL, { create: true });
    dst.writeAt(bytes, 0);
    dst.sync();
    dst.close();
    const recovered = Wal.recover(image, WAL, null, crc32, "strict");
    assert.ok(recovered !== null);
    const wal = recovered.wal;
    assert.equal(wal.committedEnd, bounds[bounds.length - 1]);
    const newest = wal.lookup(a);
    assert.equal(wal.lookupCommitted(a), newest);
    assert.equal(wal.lookupNewest, newest);
    let previous = -1;
    for (const bound of bounds) {
      const frame = wal.lookupAt(a, bound);
      assert.ok(frame > previous && frame < bound, `below ${bound}: frame ${frame}`);
      assert.equal(wal.lookupNewest, newest);
      previous = frame;
    }
    assert.equal(wal.lookupAt(a, 0), -1);
    assert.throws(() => wal.lookupAt(a, wal.committedEnd + 1), /internal assertion/);
    wal.close();
    pager.close();
  });
});
