// The pager's contract: create/reopen, eviction, checkpoint durability, allocate/free with a
// persisted freelist, clean exhaustion, and every error the issue names. Tests run with
// `debug: true`, so the pool's invariants are checked after every call as well.

import assert from "node:assert/strict";
import * as nodeFs from "node:fs";
import * as path from "node:path";
import { describe, test } from "node:test";
import { writeU32 } from "../../src/format/codec.js";
import { crc32 } from "../../src/format/crc32.js";
import { trunkCapacity } from "../../src/format/freelist.js";
import { Pager } from "../../src/pager/pager.js";
import { MemFS } from "../../src/vfs/memfs.js";
import { NodeFS } from "../../src/vfs/node/nodefs.js";
import type { VFile, VFS } from "../../src/vfs/vfs.js";
import { withTempDir } from "../tmpdir.js";
import { allocatePage, assertPage, stamp, throwsCode, writePage } from "./pages.js";

const PATH = "/db.pkv";

function fresh(opts: { pageSize?: number; cacheFrames?: number; pageCountMax?: number } = {}) {
  const fs = new MemFS();
  const pager = Pager.create(fs, PATH, { debug: true, ...opts });
  return { fs, pager };
}

function reopen(fs: VFS, cacheFrames = 8): Pager {
  return Pager.open(fs, PATH, { debug: true, cacheFrames });
}

describe("create and reopen", () => {
  test("a created database reopens with its pages, page count and slots", () => {
    const { fs, pager } = fresh({ pageSize: 1024, cacheFrames: 16 });
    assert.equal(pager.pageCount, 1);
    assert.equal(pager.usableSize, 1024 - 8);
    const pages = [allocatePage(pager, 1), allocatePage(pager, 1), allocatePage(pager, 1)];
    assert.deepEqual(pages, [2, 3, 4]);
    pager.setSlot(0, 0xdeadbeef);
    pager.setSlot(7, 42);
    pager.close();
    const again = reopen(fs);
    assert.equal(again.pageSize, 1024);
    assert.equal(again.pageCount, 4);
    assert.equal(again.getSlot(0), 0xdeadbeef);
    assert.equal(again.getSlot(7), 42);
    for (const p of pages) assertPage(again, p, 1);
    again.close();
  });

  test("create over a non-empty file is ERR_EXISTS and leaves the file alone", () => {
    const { fs, pager } = fresh();
    allocatePage(pager, 3);
    pager.close();
    throwsCode(() => Pager.create(fs, PATH), "ERR_EXISTS");
    const again = reopen(fs);
    assertPage(again, 2, 3);
    again.close();
  });

  test("open of a missing file is ERR_NOT_FOUND", () => {
    throwsCode(() => Pager.open(new MemFS(), "/missing.pkv"), "ERR_NOT_FOUND");
  });

  test("page count comes from the header, not the file length", () => {
    // The seed took the page count from the file length and handed out pages in use.
    const { fs, pager } = fresh({ pageSize: 512 });
    allocatePage(pager, 1);
    pager.close();
    const f = fs.open(PATH);
    f.writeAt(new Uint8Array(512 * 5), 512 * 2); // trailing junk past the last page
    f.sync();
    f.close();
    const again = reopen(fs);
    assert.equal(again.pageCount, 2);
    assert.equal(allocatePage(again, 2), 3);
    assertPage(again, 2, 1);
    again.close();
  });
});

describe("eviction", () => {
  test("64 pages through an 8-frame pool read back exactly, twice over", () => {
    const { fs, pager } = fresh({ pageSize: 512, cacheFrames: 8 });
    for (let i = 0; i < 64; i++) allocatePage(pager, 1);
    for (let p = 2; p <= 65; p++) assertPage(pager, p, 1);
    for (let p = 2; p <= 65; p += 2) writePage(pager, p, 2);
    for (let p = 2; p <= 65; p++) assertPage(pager, p, p % 2 === 0 ? 2 : 1);
    const s = pager.stats();
    assert.ok(s.evictions >= 64 * 2, `evictions ${s.evictions}`);
    assert.ok(s.writebacks >= 64, `writebacks ${s.writebacks}`);
    assert.equal(s.framesPinned, 0);
    pager.close();
    const again = reopen(fs);
    for (let p = 2; p <= 65; p++) assertPage(again, p, p % 2 === 0 ? 2 : 1);
    again.close();
  });

  test("a cache hit returns the same frame and counts a hit", () => {
    const { pager } = fresh({ cacheFrames: 4 });
    const p = allocatePage(pager, 1);
    const a = pager.get(p);
    const b = pager.get(p);
    assert.equal(a, b);
    pager.unpin(a);
    pager.unpin(b);
    assert.equal(pager.stats().hits, 2);
    assert.equal(pager.stats().misses, 0);
  });
});

describe("checkpoint", () => {
  test("a checkpoint survives a crash; later unsynced writes do not", () => {
    const { fs, pager } = fresh({ pageSize: 512, cacheFrames: 4 });
    for (let i = 0; i < 20; i++) allocatePage(pager, 1);
    pager.setSlot(3, 33);
    pager.checkpoint(7n);
    assert.equal(pager.checkpointLSN, 7n);
    for (let p = 2; p <= 21; p++) writePage(pager, p, 2); // evictions write some back
    allocatePage(pager, 2);
    pager.setSlot(3, 34);
    fs.crash();
    const again = reopen(fs);
    assert.equal(again.checkpointLSN, 7n);
    assert.equal(again.pageCount, 21);
    assert.equal(again.getSlot(3), 33);
    for (let p = 2; p <= 21; p++) assertPage(again, p, 1);
    again.close();
  });

  test("checkpoint while a frame is pinned for writing is ERR_PIN; a read pin is fine", () => {
    const { pager } = fresh();
    const p = allocatePage(pager, 1);
    const w = pager.get(p, "write");
    throwsCode(() => pager.checkpoint(), "ERR_PIN");
    pager.unpin(w, true);
    const r = pager.get(p);
    pager.checkpoint();
    pager.unpin(r);
    assert.equal(pager.stats().framesDirty, 0);
  });

  test("an LSN lower than the last checkpoint's is ERR_ARG", () => {
    const { pager } = fresh();
    pager.checkpoint(10n);
    throwsCode(() => pager.checkpoint(9n), "ERR_ARG");
    throwsCode(() => pager.checkpoint(2n ** 64n), "ERR_ARG");
    pager.checkpoint(10n);
    pager.checkpoint();
    assert.equal(pager.checkpointLSN, 10n);
  });

  test("dirty pages are written in page order, adjacent pages coalesced", () => {
    const fs = new MemFS();
    const writes: { offset: number; pages: number }[] = [];
    const spy = spyVFS(fs, (path, offset, bytes) => {
      if (path === PATH) writes.push({ offset, pages: bytes / 512 });
    });
    const pager = Pager.create(spy, PATH, { pageSize: 512, cacheFrames: 64, debug: true });
    for (let i = 0; i < 40; i++) allocatePage(pager, 1);
    pager.checkpoint();
    writes.length = 0;
    for (const p of [30, 5, 6, 7, 31, 8, 20]) writePage(pager, p, 2);
    pager.checkpoint();
    // Runs 5-8, 20, 30-31, then the header (page 1).
    assert.deepEqual(writes, [
      { offset: 4 * 512, pages: 4 },
      { offset: 19 * 512, pages: 1 },
      { offset: 29 * 512, pages: 2 },
      { offset: 0, pages: 1 },
    ]);
    pager.close();
  });

  test("a checkpoint with nothing to write does no I/O", () => {
    const fs = new MemFS();
    const pager = Pager.create(fs, PATH, { debug: true });
    allocatePage(pager, 1);
    pager.checkpoint();
    const ops = fs.opCount;
    pager.checkpoint();
    assertPage(pager, 2, 1);
    pager.checkpoint();
    assert.equal(fs.opCount, ops);
  });
});

describe("allocate and free", () => {
  test("freed pages are reused and the freelist survives checkpoint and reopen", () => {
    const { fs, pager } = fresh({ pageSize: 512, cacheFrames: 8 });
    for (let i = 0; i < 10; i++) allocatePage(pager, 1);
    pager.free(4);
    pager.free(9);
    assert.equal(pager.stats().freePages, 2);
    pager.checkpoint();
    pager.close();
    const again = reopen(fs);
    assert.equal(again.stats().freePages, 2);
    throwsCode(() => again.get(4), "ERR_PAGE_RANGE");
    const reused = [allocatePage(again, 5), allocatePage(again, 5)].sort((a, b) => a - b);
    assert.deepEqual(reused, [4, 9]);
    assert.equal(again.pageCount, 11);
    assert.equal(allocatePage(again, 5), 12);
    again.close();
  });

  test("a freelist larger than one trunk page round-trips", () => {
    const { fs, pager } = fresh({ pageSize: 512, cacheFrames: 8 });
    const capacity = trunkCapacity(512 - 8);
    const n = capacity * 3 + 10;
    for (let i = 0; i < n + 5; i++) allocatePage(pager, 1);
    for (let p = 2; p < 2 + n; p++) pager.free(p);
    pager.close();
    const again = reopen(fs);
    assert.equal(again.stats().freePages, n);
    for (let p = n + 2; p < n + 7; p++) assertPage(again, p, 1);
    const got = new Set<number>();
    for (let i = 0; i < n; i++) got.add(allocatePage(again, 2));
    assert.equal(got.size, n);
    assert.ok([...got].every((p) => p >= 2 && p < 2 + n));
    assert.equal(again.stats().freePages, 0);
    assert.equal(again.pageCount, n + 6);
    again.close();
  });

  test("free of a pinned page or a free page is ERR_PIN, and nothing changes", () => {
    const { pager } = fresh();
    const p = allocatePage(pager, 1);
    const f = pager.get(p);
    throwsCode(() => pager.free(p), "ERR_PIN");
    pager.unpin(f);
    pager.free(p);
    throwsCode(() => pager.free(p), "ERR_PIN");
    assert.equal(pager.stats().freePages, 1);
  });

  test("free outside 2..pageCount is ERR_PAGE_RANGE", () => {
    const { pager } = fresh();
    allocatePage(pager, 1);
    for (const p of [0, 1, 3, -2, 2.5, Number.NaN])
      throwsCode(() => pager.free(p), "ERR_PAGE_RANGE");
  });

  test("allocate past pageCountMax is ERR_FULL, but the freelist still serves", () => {
    const { pager } = fresh({ pageCountMax: 3 });
    allocatePage(pager, 1);
    allocatePage(pager, 1);
    throwsCode(() => pager.allocate(), "ERR_FULL");
    pager.free(2);
    assert.equal(allocatePage(pager, 1), 2);
    assert.equal(pager.pageCount, 3);
  });
});

describe("pool exhaustion", () => {
  test("when every frame is pinned, get and allocate fail cleanly and leak nothing", () => {
    const { pager } = fresh({ pageSize: 512, cacheFrames: 3 });
    for (let i = 0; i < 5; i++) allocatePage(pager, 1);
    pager.free(6);
    const pinned = [pager.get(2), pager.get(3), pager.get(4, "write")];
    const before = pager.stats();
    throwsCode(() => pager.get(5), "ERR_POOL_EXHAUSTED");
    throwsCode(() => pager.allocate(), "ERR_POOL_EXHAUSTED");
    const after = pager.stats();
    assert.equal(after.pageCount, before.pageCount);
    assert.equal(after.freePages, before.freePages);
    assert.equal(after.framesPinned, 3);
    for (const f of pinned) pager.unpin(f);
    assertPage(pager, 5, 1);
    assert.equal(allocatePage(pager, 1), 6); // the free entry was not lost
    assert.equal(allocatePage(pager, 1), 7); // nor was page number 7 consumed
  });
});

describe("bad use", () => {
  test("get outside 2..pageCount is ERR_PAGE_RANGE, never a zeroed page", () => {
    const { pager } = fresh();
    allocatePage(pager, 1);
    for (const p of [0, 1, 3, 1000, -1, 2.5, Number.NaN, 2 ** 32]) {
      throwsCode(() => pager.get(p), "ERR_PAGE_RANGE");
    }
    assert.equal(pager.stats().framesPinned, 0);
  });

  test("a second unpin is ERR_PIN and leaves the frame evictable", () => {
    const { pager } = fresh({ pageSize: 512, cacheFrames: 1 });
    const a = allocatePage(pager, 1);
    const b = allocatePage(pager, 1);
    const f = pager.get(a);
    pager.unpin(f);
    throwsCode(() => pager.unpin(f), "ERR_PIN");
    assertPage(pager, b, 1); // the single frame could be reused
    throwsCode(
      () => pager.unpin({ pgno: 2, data: new Uint8Array(8), checked: 0, writers: 0 }),
      "ERR_ARG",
    );
  });

  test("invalid page sizes, pool sizes and intents are ERR_ARG", () => {
    const fs = new MemFS();
    for (const pageSize of [0, 256, 1000, 131072, 4096.5]) {
      throwsCode(() => Pager.create(fs, PATH, { pageSize }), "ERR_ARG");
    }
    for (const cacheFrames of [0, -1, 1.5, 2 ** 21]) {
      throwsCode(() => Pager.create(fs, PATH, { cacheFrames }), "ERR_ARG");
    }
    assert.equal(fs.exists(PATH), false);
    const pager = Pager.create(fs, PATH);
    allocatePage(pager, 1);
    throwsCode(() => pager.get(2, "append" as "read"), "ERR_ARG");
    throwsCode(() => pager.setSlot(8, 1), "ERR_ARG");
    throwsCode(() => pager.setSlot(0, -1), "ERR_ARG");
    throwsCode(() => pager.setSlot(0, 2 ** 32), "ERR_ARG");
  });

  test("every call after close is ERR_CLOSED", () => {
    const { pager } = fresh();
    const p = allocatePage(pager, 1);
    const f = pager.get(p);
    pager.unpin(f);
    pager.close();
    throwsCode(() => pager.get(p), "ERR_CLOSED");
    throwsCode(() => pager.unpin(f), "ERR_CLOSED");
    throwsCode(() => pager.allocate(), "ERR_CLOSED");
    throwsCode(() => pager.free(p), "ERR_CLOSED");
    throwsCode(() => pager.checkpoint(), "ERR_CLOSED");
    throwsCode(() => pager.getSlot(0), "ERR_CLOSED");
    throwsCode(() => pager.setSlot(0, 1), "ERR_CLOSED");
    throwsCode(() => pager.stats(), "ERR_CLOSED");
    throwsCode(() => pager.close(), "ERR_CLOSED");
  });

  test("close with a write pin outstanding is ERR_PIN and the pager stays usable", () => {
    const { fs, pager } = fresh();
    const p = allocatePage(pager, 1);
    const f = pager.get(p, "write");
    stamp(f.data, p, 9);
    throwsCode(() => pager.close(), "ERR_PIN");
    pager.unpin(f, true);
    pager.close();
    const again = reopen(fs);
    assertPage(again, p, 9);
  });
});

describe("corrupt files", () => {
  function database(): { fs: MemFS; raw: () => VFile } {
    const { fs, pager } = fresh({ pageSize: 512 });
    for (let i = 0; i < 6; i++) allocatePage(pager, 1);
    pager.free(3);
    pager.close();
    return { fs, raw: () => fs.open(PATH) };
  }

  function poke(fs: MemFS, offset: number, bytes: Uint8Array): void {
    const f = fs.open(PATH, { create: true });
    f.writeAt(bytes, offset);
    f.sync();
    f.close();
  }

  test("a file that is not a pagekv file is ERR_CORRUPT", () => {
    const fs = new MemFS();
    poke(fs, 0, new TextEncoder().encode("SQLite format 3\0".padEnd(600, "x")));
    const e = throwsCode(() => Pager.open(fs, PATH), "ERR_CORRUPT");
    assert.match(e.message, /not a pagekv file/);
    const empty = new MemFS();
    empty.open(PATH, { create: true }).close();
    throwsCode(() => Pager.open(empty, PATH), "ERR_CORRUPT");
  });

  test("a bit flip in the header is ERR_CORRUPT naming page 1", () => {
    const { fs } = database();
    poke(fs, 21, Uint8Array.of(0x40)); // inside the page count
    const e = throwsCode(() => Pager.open(fs, PATH), "ERR_CORRUPT");
    assert.equal(e.pgno, 1);
    assert.match(e.message, /header.*checksum/);
  });

  test("a torn header page (header intact, rest of page 1 damaged) is ERR_CORRUPT", () => {
    const { fs } = database();
    poke(fs, 300, Uint8Array.of(1, 2, 3));
    assert.equal(throwsCode(() => Pager.open(fs, PATH), "ERR_CORRUPT").pgno, 1);
  });

  test("a bit flip in a page is ERR_CORRUPT naming the page, on read", () => {
    const { fs } = database();
    poke(fs, 4 * 512 + 17, Uint8Array.of(0xff));
    const pager = reopen(fs);
    assertPage(pager, 4, 1);
    const e = throwsCode(() => pager.get(5), "ERR_CORRUPT");
    assert.equal(e.pgno, 5);
    assert.match(e.message, /page 5 checksum mismatch/);
    assert.equal(pager.stats().framesPinned, 0);
    assertPage(pager, 6, 1);
  });

  test("a page copied to the wrong offset is ERR_CORRUPT", () => {
    const { fs, raw } = database();
    const f = raw();
    const page = new Uint8Array(512);
    f.readAt(page, 5 * 512); // page 6
    f.close();
    poke(fs, 6 * 512, page); // over page 7
    const pager = reopen(fs);
    assert.match(throwsCode(() => pager.get(7), "ERR_CORRUPT").message, /wrong place/);
  });

  test("a truncated file is ERR_CORRUPT at open", () => {
    const { fs, raw } = database();
    const f = raw();
    f.truncate(512 * 4);
    f.sync();
    f.close();
    assert.match(throwsCode(() => Pager.open(fs, PATH), "ERR_CORRUPT").message, /truncated/);
  });

  test("an unsupported format version is ERR_CORRUPT, not misread", () => {
    const { fs } = database();
    const bytes = new Uint8Array(512);
    const f = fs.open(PATH);
    f.readAt(bytes, 0);
    f.close();
    writeU32(bytes, 8, 99);
    // Re-seal the header so only the version is wrong.
    writeU32(bytes, 124, crc32(bytes.subarray(0, 124), 0));
    poke(fs, 0, bytes);
    assert.match(throwsCode(() => Pager.open(fs, PATH), "ERR_CORRUPT").message, /version 99/);
  });
});

describe("I/O faults", () => {
  test("a failed read is ERR_IO with the cause, the frame is returned, and a retry works", () => {
    const { fs, pager } = fresh({ pageSize: 512, cacheFrames: 2 });
    for (let i = 0; i < 4; i++) allocatePage(pager, 1);
    pager.close();
    const again = reopen(fs, 2);
    fs.injectFault("read", 1, "EIO");
    const e = throwsCode(() => again.get(3), "ERR_IO");
    assert.equal((e.cause as { code?: string }).code, "EIO");
    assert.equal(e.pgno, 3);
    assert.equal(again.stats().framesPinned, 0);
    assertPage(again, 3, 1);
    assertPage(again, 4, 1);
    assertPage(again, 2, 1);
    again.close();
  });

  test("a failed log write at eviction is ERR_IO, does not fence, and the transaction goes on", () => {
    const { fs, pager } = fresh({ pageSize: 512, cacheFrames: 1 });
    const a = allocatePage(pager, 1);
    pager.checkpoint();
    pager.begin();
    writePage(pager, a, 2); // dirty in the single frame
    fs.injectFault("write", 1, "ENOSPC");
    const e = throwsCode(() => pager.allocate(), "ERR_IO"); // must spill page a to the log
    assert.equal((e.cause as { code?: string }).code, "ENOSPC");
    assert.equal(pager.pageCount, 2);
    assertPage(pager, a, 2); // the dirty frame is still there: nothing was lost
    // Space again: the same transaction continues, spills and commits.
    const b = allocatePage(pager, 3);
    assertPage(pager, a, 2);
    pager.commit();
    fs.crash();
    const again = reopen(fs, 1);
    assertPage(again, a, 2);
    assertPage(again, b, 3);
    again.close();
  });

  test("after a failed spill the transaction rolls back whole, and writes work again", () => {
    const { fs, pager } = fresh({ pageSize: 512, cacheFrames: 1 });
    const a = allocatePage(pager, 1);
    pager.checkpoint();
    pager.begin();
    writePage(pager, a, 2);
    fs.injectFault("write", 1, "EIO");
    throwsCode(() => pager.allocate(), "ERR_IO");
    pager.rollback();
    assertPage(pager, a, 1);
    pager.begin();
    writePage(pager, a, 4);
    pager.commit();
    fs.crash();
    const again = reopen(fs, 1);
    assertPage(again, a, 4);
    again.close();
  });

  test("a failed commit sync is ERR_IO, rolls the transaction back and fences", () => {
    const { pager, fs } = fresh({ pageSize: 512, cacheFrames: 8 });
    const a = allocatePage(pager, 1);
    pager.checkpoint(3n);
    pager.begin();
    writePage(pager, a, 2);
    allocatePage(pager, 2);
    fs.injectFault("sync", 1, "EIO");
    const e = throwsCode(() => pager.commit(), "ERR_IO");
    assert.equal((e.cause as { code?: string }).code, "EIO");
    assert.equal(pager.inTransaction, false);
    assert.equal(pager.pageCount, 2); // the allocation is gone
    assertPage(pager, a, 1); // reads see the last commit
    assert.equal(pager.stats().framesDirty, 0);
    throwsCode(() => pager.get(a, "write"), "ERR_FENCED");
    pager.close();
    const again = reopen(fs);
    assert.equal(again.checkpointLSN, 3n);
    assertPage(again, a, 1);
    again.close();
  });

  test("a failed checkpoint sync of the database file fences the pager", () => {
    const { pager, fs } = fresh({ pageSize: 512, cacheFrames: 8 });
    const a = allocatePage(pager, 1);
    pager.begin();
    writePage(pager, a, 2);
    pager.commit(); // durable in the log
    fs.injectFault("sync", 1, "EIO"); // the first sync of the checkpoint: the database file
    throwsCode(() => pager.checkpoint(), "ERR_IO");
    throwsCode(() => pager.checkpoint(), "ERR_FENCED");
    pager.close();
    const again = reopen(fs); // the log still holds the commit: open redoes the checkpoint
    assertPage(again, a, 2);
    again.close();
  });
});

describe("the NodeFS backend", () => {
  test("round-trips pages through eviction, checkpoint and reopen on a real file", () => {
    withTempDir((dir) => {
      const file = path.join(dir, "db.pkv");
      const vfs = new NodeFS();
      const pager = Pager.create(vfs, file, { pageSize: 4096, cacheFrames: 4, debug: true });
      for (let i = 0; i < 30; i++) allocatePage(pager, 1);
      pager.free(10);
      pager.setSlot(1, 11);
      pager.close();
      assert.equal(nodeFs.statSync(file).size, 31 * 4096);
      const again = Pager.open(vfs, file, { cacheFrames: 4, debug: true });
      assert.equal(again.getSlot(1), 11);
      assert.equal(again.stats().freePages, 1);
      for (let p = 2; p <= 31; p++) if (p !== 10) assertPage(again, p, 1);
      again.close();
      throwsCode(() => Pager.create(vfs, file), "ERR_EXISTS");
    });
  });

  test("one writer per file: a second open is ERR_LOCKED; closing leaves one file", () => {
    withTempDir((dir) => {
      const file = path.join(dir, "db.pkv");
      const vfs = new NodeFS();
      const pager = Pager.create(vfs, file, { pageSize: 4096, cacheFrames: 8 });
      pager.begin();
      allocatePage(pager, 1);
      pager.commit();
      assert.ok(nodeFs.existsSync(`${file}-wal`));
      throwsCode(() => Pager.open(vfs, file), "ERR_LOCKED");
      throwsCode(() => Pager.open(new NodeFS(), file), "ERR_LOCKED");
      pager.close();
      assert.deepEqual(nodeFs.readdirSync(dir), ["db.pkv"]);
      // A lock file left by a process that died is taken over.
      nodeFs.writeFileSync(`${file}-lock`, "2147483646");
      const again = Pager.open(vfs, file);
      assertPage(again, 2, 1);
      again.close();
    });
  });
});

/** Wraps a VFS so that every page write reports its offset and size. */
function spyVFS(inner: VFS, onWrite: (path: string, offset: number, bytes: number) => void): VFS {
  return {
    open(path, options) {
      const f = inner.open(path, options);
      return {
        path: f.path,
        readAt: (b, o) => f.readAt(b, o),
        writeAt(b, o) {
          onWrite(path, o, b.length);
          f.writeAt(b, o);
        },
        writevAt(bufs, o) {
          onWrite(
            path,
            o,
            bufs.reduce((n, b) => n + b.length, 0),
          );
          f.writevAt(bufs, o);
        },
        sync: (m) => f.sync(m),
        truncate: (s) => f.truncate(s),
        size: () => f.size(),
        close: () => f.close(),
      };
    },
    delete: (p) => inner.delete(p),
    exists: (p) => inner.exists(p),
    lock: (p) => inner.lock(p),
  };
}
