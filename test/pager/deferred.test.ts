// Deferred commits at the pager level (docs/design/group-commit.md, "The pager's part"):
// commitDeferred appends without syncing, and until a sync covers it no snapshot of this
// pager and no reader in another process sees it (the gate, the log header's published
// end); syncAsync makes it durable and visible; a failed one fences the pager and the
// commit is gone after reopen; any synchronous sync of the log covers it too.

import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { isPagekvError } from "../../src/errors.js";
import { crc32 } from "../../src/format/crc32.js";
import { usableSizeOf } from "../../src/format/page.js";
import { decodeWalHeader, WAL_HEADER_BYTES } from "../../src/format/wal-format.js";
import { Pager, type PagerOptions, walPathOf } from "../../src/pager/pager.js";
import type { PagerSnapshot } from "../../src/pager/snapshots.js";
import { MemFS } from "../../src/vfs/memfs.js";
import { allocatePage, stamped, writePage } from "./pages.js";

const PATH = "/deferred.pkv";
const PAGE_SIZE = 512;
const USABLE = usableSizeOf(PAGE_SIZE);

function setup(options: Partial<PagerOptions> = {}) {
  const fs = new MemFS();
  const writer = Pager.create(fs, PATH, {
    pageSize: PAGE_SIZE,
    cacheFrames: 16,
    walAutoCheckpointPages: 0,
    debug: true,
    ...options,
  });
  // The first page, durable: version 1.
  writer.begin();
  const pgno = allocatePage(writer, 1);
  writer.commit();
  return { fs, writer, pgno };
}

/** Version 2 of `pgno`, committed with commitDeferred. */
function deferVersion(writer: Pager, pgno: number, version: number): bigint {
  writer.begin();
  writePage(writer, pgno, version);
  return writer.commitDeferred();
}

function versionOf(src: Pager | PagerSnapshot, pgno: number): number {
  const f = src.get(pgno);
  try {
    for (let v = 0; v < 16; v++) {
      if (f.data.every((b, i) => b === stamped(USABLE, pgno, v)[i])) return v;
    }
    return -1;
  } finally {
    src.unpin(f);
  }
}

function snapshotVersion(p: Pager, pgno: number): number {
  const s = p.snapshot();
  try {
    return versionOf(s, pgno);
  } finally {
    s.close();
  }
}

/** The log header's published end as the file says now (null: not publishing). */
function publishedEnd(fs: MemFS): number | null {
  const f = fs.open(walPathOf(PATH), { readOnly: true });
  try {
    const head = new Uint8Array(WAL_HEADER_BYTES);
    f.readAt(head, 0);
    const h = decodeWalHeader(head, crc32);
    assert.ok(h !== null, "the log header verifies");
    return h.published ?? null;
  } finally {
    f.close();
  }
}

function codeOf(e: unknown): string {
  return isPagekvError(e) ? e.code : String(e);
}

describe("deferred commits (pager)", () => {
  test("invisible to snapshots and other processes until syncAsync resolves; then both see it", async () => {
    const { fs, writer, pgno } = setup();
    const reader = Pager.open(fs.process(), PATH, { readOnly: true, cacheFrames: 16, debug: true });
    assert.equal(versionOf(reader, pgno), 1);
    const published = publishedEnd(fs);
    const syncsBefore = fs.callCount("sync");
    const lsn = deferVersion(writer, pgno, 2);
    assert.equal(fs.callCount("sync"), syncsBefore, "no sync at the deferred commit");
    assert.notEqual(writer.visible, null, "the gate is up");
    assert.ok(writer.durableLsn < lsn);
    assert.equal(snapshotVersion(writer, pgno), 1, "a snapshot sees the last durable commit");
    assert.equal(versionOf(writer.visible as PagerSnapshot, pgno), 1);
    assert.equal(writer.stats().snapshots, 0, "the gate is not a user's snapshot");
    reader.refresh();
    assert.equal(versionOf(reader, pgno), 1, "another process does not see it");
    assert.equal(publishedEnd(fs), published, "nothing new published");
    // A reader opening now, beside the live writer, stops at the published end too.
    const late = Pager.open(fs.process(), PATH, { readOnly: true, cacheFrames: 16 });
    assert.equal(versionOf(late, pgno), 1, "a new reader does not see it");
    await writer.syncAsync();
    assert.equal(fs.callCount("sync"), syncsBefore + 1, "one sync");
    assert.equal(writer.visible, null, "the gate is down");
    assert.equal(writer.durableLsn, lsn);
    assert.equal(snapshotVersion(writer, pgno), 2);
    assert.ok((publishedEnd(fs) ?? 0) > (published ?? 0), "the end moved");
    reader.refresh();
    late.refresh();
    assert.equal(versionOf(reader, pgno), 2, "another process sees it once durable");
    assert.equal(versionOf(late, pgno), 2);
    late.close();
    reader.close();
    writer.close();
  });

  test("every synchronous commit publishes its end before it returns (readers.md race E')", () => {
    const { fs, writer, pgno } = setup();
    for (let v = 2; v < 6; v++) {
      writer.begin();
      writePage(writer, pgno, v);
      writer.commit();
      assert.equal(publishedEnd(fs), writer.stats().walFrames, `after commit v${v}`);
    }
    writer.close();
  });

  test("sync normal: no gate and no published end; a deferred commit is visible at once", async () => {
    const { fs, writer, pgno } = setup({ sync: "normal" });
    assert.equal(publishedEnd(fs), null, "not publishing");
    const reader = Pager.open(fs.process(), PATH, { readOnly: true, cacheFrames: 16 });
    deferVersion(writer, pgno, 2);
    assert.equal(writer.visible, null);
    assert.equal(snapshotVersion(writer, pgno), 2);
    reader.refresh();
    assert.equal(versionOf(reader, pgno), 2, "the reader follows the frames");
    await writer.syncAsync();
    reader.close();
    writer.close();
  });

  test("a synchronous commit during the background sync covers the deferred one", async () => {
    const { writer, pgno } = setup();
    deferVersion(writer, pgno, 2);
    const pending = writer.syncAsync();
    writer.begin();
    writePage(writer, pgno, 4);
    writer.commit();
    assert.equal(writer.visible, null, "the synchronous sync dropped the gate");
    assert.equal(snapshotVersion(writer, pgno), 4);
    await pending;
    assert.equal(snapshotVersion(writer, pgno), 4);
    writer.close();
  });

  test("a deferred commit during the background sync: the gate moves up to what that sync made durable", async () => {
    const { fs, writer, pgno } = setup();
    const reader = Pager.open(fs.process(), PATH, { readOnly: true, cacheFrames: 16 });
    deferVersion(writer, pgno, 2);
    const first = writer.syncAsync();
    await assert.rejects(writer.syncAsync(), (e) => codeOf(e) === "ERR_TXN", "one at a time");
    deferVersion(writer, pgno, 3);
    assert.equal(snapshotVersion(writer, pgno), 1, "neither is durable yet");
    await first;
    assert.notEqual(writer.visible, null, "v3 still waits");
    assert.equal(snapshotVersion(writer, pgno), 2, "v2 is durable: the gate moved up");
    reader.refresh();
    assert.equal(versionOf(reader, pgno), 2, "and published");
    assert.equal(writer.stats().snapshots, 0);
    await writer.syncAsync();
    assert.equal(writer.visible, null);
    assert.equal(snapshotVersion(writer, pgno), 3);
    reader.refresh();
    assert.equal(versionOf(reader, pgno), 3);
    reader.close();
    writer.close();
  });

  test("a checkpoint syncs deferred commits first and completes", () => {
    const { fs, writer, pgno } = setup();
    deferVersion(writer, pgno, 2);
    assert.equal(writer.checkpoint(), true, "the gate does not hold the checkpoint back");
    assert.equal(writer.visible, null);
    writer.close();
    fs.crash();
    const again = Pager.open(fs, PATH, { cacheFrames: 16 });
    assert.equal(versionOf(again, pgno), 2, "the deferred commit went home, durable");
    again.close();
  });

  test("a failed background sync fences, reads stay at the durable state, reopen has none of it", async () => {
    const { fs, writer, pgno } = setup();
    deferVersion(writer, pgno, 2);
    fs.injectFault("sync", 1);
    await assert.rejects(writer.syncAsync(), (e) => codeOf(e) === "ERR_IO");
    assert.notEqual(writer.visible, null, "the gate stays");
    assert.equal(snapshotVersion(writer, pgno), 1);
    assert.throws(
      () => writer.begin(),
      (e) => codeOf(e) === "ERR_FENCED",
    );
    await assert.rejects(writer.syncAsync(), (e) => codeOf(e) === "ERR_FENCED");
    writer.close();
    const again = Pager.open(fs, PATH, { cacheFrames: 16 });
    assert.equal(versionOf(again, pgno), 1, "the deferred commit is gone (its frames were cut)");
    again.close();
  });

  test("power loss before the background sync completes: all of the deferred commit or none", async () => {
    for (const keep of [0, 1, 2, 3]) {
      const { fs, writer, pgno } = setup();
      deferVersion(writer, pgno, 2);
      const pending = writer.syncAsync();
      fs.crash({ seed: keep });
      await assert.rejects(pending);
      const again = Pager.open(fs, PATH, { cacheFrames: 16 });
      assert.ok([1, 2].includes(versionOf(again, pgno)), `crash seed ${keep}`);
      again.close();
    }
  });

  test("after a crash, a reader opening with no writer sees every durable commit", () => {
    const { fs, writer, pgno } = setup();
    writer.begin();
    writePage(writer, pgno, 2);
    writer.commit();
    // The published end's write after that sync is not synced: the crash may drop it.
    fs.crash();
    const reader = Pager.open(fs.process(), PATH, { readOnly: true, cacheFrames: 16 });
    assert.equal(versionOf(reader, pgno), 2);
    reader.close();
  });

  test("syncAsync with nothing deferred resolves at once; on a closed pager it rejects, never throws", async () => {
    const { writer } = setup();
    await writer.syncAsync();
    writer.close();
    await assert.rejects(writer.syncAsync(), (e) => codeOf(e) === "ERR_CLOSED");
  });
});
