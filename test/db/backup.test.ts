// db.backup() and db.backupAsync() (docs/design/backup.md): a copy of one snapshot taken
// while a writer commits between the chunks (from onProgress, from this thread's
// asynchronous writes, from another process beside a reader) holds exactly the snapshot's
// state, opens and checks clean, has no log, and leaves the source as it was; refusals and
// failures leave no file under the destination; a power loss at every mutating call of a
// backup with a writer committing never damages the source and leaves either no copy or a
// whole one.

import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { BACKUP_TEMP_SUFFIX, type Database, open } from "../../src/index.js";
import { Pager } from "../../src/pager/pager.js";
import { MemFS } from "../../src/vfs/memfs.js";
import type { VFS } from "../../src/vfs/vfs.js";
import { throwsCode } from "../pager/pages.js";

const dec = new TextDecoder();
const key = (i: number) => `k${String(i).padStart(5, "0")}`;
/** Values of many sizes: inline ones and overflow chains of several pages. */
const value = (i: number, round: number) =>
  `${round}:${i}:`.padEnd(i % 37 === 0 ? 1500 + (i % 5) * 700 : 20 + (i % 50), "v");

type Model = Map<string, string>;

function entries(db: Database): Model {
  const m: Model = new Map();
  for (const [k, v] of db.range()) m.set(dec.decode(k), dec.decode(v));
  return m;
}

function fill(db: Database, n: number, round: number, model: Model): void {
  db.batch(
    Array.from({ length: n }, (_, i) => ({
      type: "put" as const,
      key: key(i),
      value: value(i, round),
    })),
  );
  for (let i = 0; i < n; i++) model.set(key(i), value(i, round));
}

/** A source with free pages (deletes), overflow chains and a log holding commits. */
function source(fs: MemFS, path: string, keys = 400): { db: Database; model: Model } {
  const db = open(path, { vfs: fs, pageSize: 512, autoCheckpointPages: 0 });
  const model: Model = new Map();
  fill(db, keys, 0, model);
  db.checkpoint();
  for (let i = 0; i < keys; i += 3) {
    db.delete(key(i));
    model.delete(key(i));
  }
  for (let i = 1; i < keys; i += 7) {
    db.put(key(i), value(i, 1));
    model.set(key(i), value(i, 1));
  }
  return { db, model };
}

/** The copy at `path`: opened read-only, its entries and check(); no log beside it. */
function verifyCopy(vfs: VFS, path: string, expected: Model): void {
  assert.equal(vfs.exists(`${path}-wal`), false, "the copy has no log");
  assert.equal(vfs.exists(path + BACKUP_TEMP_SUFFIX), false, "no temporary file is left");
  const copy = open(path, { vfs, readOnly: true });
  try {
    assert.deepEqual(copy.check(), []);
    assert.deepEqual(entries(copy), expected);
  } finally {
    copy.close();
  }
}

function bytesOf(fs: MemFS, path: string): Uint8Array {
  const f = fs.open(path, { readOnly: true });
  try {
    const b = new Uint8Array(f.size());
    f.readAt(b, 0);
    return b;
  } finally {
    f.close();
  }
}

describe("backup", () => {
  test("a backup with a writer committing between every chunk holds exactly the snapshot's state", () => {
    const fs = new MemFS();
    const { db, model } = source(fs, "/src.pkv");
    const expected = new Map(model);
    let round = 2;
    let progressCalls = 0;
    let lastDone = -1;
    const result = db.backup("/copy.pkv", {
      chunkPages: 5,
      onProgress: (p) => {
        progressCalls++;
        assert.ok(p.pagesDone > lastDone || p.pagesDone === 0, "progress only grows");
        assert.equal(p.bytesDone, p.pagesDone * 512);
        lastDone = p.pagesDone;
        // A write of every kind: updates, deletes, new keys, overflow values, a checkpoint.
        const i = (round * 13) % 400;
        db.put(key(i), value(i + 37 * (round % 3), round));
        model.set(key(i), value(i + 37 * (round % 3), round));
        db.delete(key((i + 5) % 400));
        model.delete(key((i + 5) % 400));
        db.put(`new${round}`, "x".repeat(round % 2 === 0 ? 3000 : 10));
        model.set(`new${round}`, "x".repeat(round % 2 === 0 ? 3000 : 10));
        if (round % 4 === 0) db.checkpoint();
        round++;
      },
    });
    assert.ok(progressCalls > 10, `the copy took ${progressCalls} steps`);
    assert.equal(lastDone, result.pages);
    assert.equal(result.bytes, result.pages * 512);
    assert.ok(result.lsn > 0n);
    verifyCopy(fs, "/copy.pkv", expected);
    assert.notDeepEqual(expected, model, "the writer changed the source during the copy");
    assert.deepEqual(db.check(), []);
    assert.deepEqual(entries(db), model);
    db.close();
    // The copy is a database of its own: it opens writable, takes writes, and reopens.
    const copy = open("/copy.pkv", { vfs: fs });
    copy.put("after", "backup");
    copy.close();
    const again = open("/copy.pkv", { vfs: fs, readOnly: true });
    assert.equal(dec.decode(again.get("after")), "backup");
    assert.equal(again.get(key(1))?.length, expected.get(key(1))?.length);
    again.close();
    const src = open("/src.pkv", { vfs: fs, readOnly: true });
    assert.deepEqual(entries(src), model);
    src.close();
  });

  test("a backup leaves the source's files byte for byte as they were", () => {
    const fs = new MemFS();
    const { db, model } = source(fs, "/src.pkv");
    const main = bytesOf(fs, "/src.pkv");
    const log = bytesOf(fs, "/src.pkv-wal");
    db.backup("/copy.pkv", { chunkPages: 3 });
    assert.deepEqual(bytesOf(fs, "/src.pkv"), main);
    assert.deepEqual(bytesOf(fs, "/src.pkv-wal"), log);
    verifyCopy(fs, "/copy.pkv", model);
    db.close();
  });

  test("an empty database and a one-page database back up", () => {
    const fs = new MemFS();
    const db = open("/empty.pkv", { vfs: fs });
    const r = db.backup("/e1.pkv");
    assert.equal(r.pages, 1);
    verifyCopy(fs, "/e1.pkv", new Map());
    db.put("a", "b");
    db.backup("/e2.pkv", { chunkPages: 1 });
    verifyCopy(fs, "/e2.pkv", new Map([["a", "b"]]));
    db.close();
  });

  test("backupAsync lets this thread's asynchronous writes commit between chunks", async () => {
    const fs = new MemFS();
    const { db, model } = source(fs, "/src.pkv");
    const expected = new Map(model);
    let running = true;
    let duringBackup = 0;
    const writer = (async () => {
      for (let i = 0; running; i++) {
        await db.putAsync(`async${i}`, `v${i}`);
        model.set(`async${i}`, `v${i}`);
        if (running) duringBackup++;
      }
    })();
    const result = await db.backupAsync("/copy.pkv", { chunkPages: 2 });
    running = false;
    await writer;
    assert.ok(duringBackup > 0, "writes committed while the backup ran");
    assert.ok(result.pages > 10);
    verifyCopy(fs, "/copy.pkv", expected);
    assert.deepEqual(entries(db), model);
    db.close();
  });

  test("a backup on a read-only open beside a writer in another process copies one snapshot", () => {
    const fs = new MemFS();
    const { db: writer, model } = source(fs, "/src.pkv");
    const other = fs.process();
    const reader = open("/src.pkv", { vfs: other, readOnly: true });
    const expected = entries(reader);
    assert.deepEqual(expected, model);
    let round = 0;
    reader.backup("/copy.pkv", {
      chunkPages: 4,
      onProgress: () => {
        const i = (round * 11) % 400;
        writer.put(key(i), value(i, 100 + round));
        writer.delete(key((i + 1) % 400));
        writer.put(`w${round}`, "y".repeat(round % 3 === 0 ? 2000 : 5));
        writer.checkpoint();
        round++;
      },
    });
    assert.ok(round > 5);
    verifyCopy(fs, "/copy.pkv", expected);
    reader.close();
    writer.close();
  });

  test("a backup refuses an existing destination, its log, or a temporary file, and writes nothing", () => {
    const fs = new MemFS();
    const { db } = source(fs, "/src.pkv");
    const touch = (p: string) => fs.open(p, { create: true }).close();
    touch("/d1.pkv");
    throwsCode(() => db.backup("/d1.pkv"), "ERR_EXISTS");
    assert.equal(fs.open("/d1.pkv", { readOnly: true }).size(), 0);
    touch("/d2.pkv-wal");
    throwsCode(() => db.backup("/d2.pkv"), "ERR_EXISTS");
    assert.equal(fs.exists("/d2.pkv"), false);
    touch(`/d3.pkv${BACKUP_TEMP_SUFFIX}`);
    const e = throwsCode(() => db.backup("/d3.pkv"), "ERR_EXISTS");
    assert.match(e.message, /another backup/);
    assert.equal(fs.exists("/d3.pkv"), false);
    throwsCode(() => db.backup("/src.pkv"), "ERR_EXISTS");
    assert.equal(db.stats().snapshots, 0, "every refusal closed its snapshot");
    db.close();
  });

  test("bad arguments are ERR_ARG, a backup in a transaction function ERR_TXN, after close ERR_CLOSED", async () => {
    const fs = new MemFS();
    const db = open("/a.pkv", { vfs: fs });
    throwsCode(() => db.backup(""), "ERR_ARG");
    throwsCode(() => db.backup(7 as unknown as string), "ERR_ARG");
    throwsCode(() => db.backup("/b.pkv", { chunkPages: 0 }), "ERR_ARG");
    throwsCode(() => db.backup("/b.pkv", { chunkPages: 1.5 }), "ERR_ARG");
    throwsCode(() => db.backup("/b.pkv", { onProgress: 3 as unknown as () => void }), "ERR_ARG");
    throwsCode(() => db.backup("/b.pkv", { nope: 1 } as never), "ERR_ARG");
    db.transaction(() => throwsCode(() => db.backup("/b.pkv"), "ERR_TXN"));
    await assert.rejects(db.backupAsync(""), { code: "ERR_ARG" });
    assert.equal(fs.exists("/b.pkv"), false);
    db.close();
    throwsCode(() => db.backup("/b.pkv"), "ERR_CLOSED");
  });

  test("a file system without rename is ERR_ARG before anything is written", () => {
    const fs = new MemFS();
    const noRename: VFS = {
      open: (p, o) => fs.open(p, o),
      delete: (p) => fs.delete(p),
      exists: (p) => fs.exists(p),
      lock: (p, m) => fs.lock(p, m),
    };
    const db = open("/a.pkv", { vfs: noRename });
    db.put("a", "b");
    const e = throwsCode(() => db.backup("/b.pkv"), "ERR_ARG");
    assert.match(e.message, /rename/);
    assert.equal(fs.exists(`/b.pkv${BACKUP_TEMP_SUFFIX}`), false);
    db.close();
  });

  test("a failure during the copy deletes the temporary file and closes the snapshot", async () => {
    const fs = new MemFS();
    const { db, model } = source(fs, "/src.pkv");
    let calls = 0;
    assert.throws(
      () =>
        db.backup("/copy.pkv", {
          chunkPages: 3,
          onProgress: () => {
            if (++calls === 4) throw new Error("stop here");
          },
        }),
      /stop here/,
    );
    assert.equal(fs.exists("/copy.pkv"), false);
    assert.equal(fs.exists(`/copy.pkv${BACKUP_TEMP_SUFFIX}`), false);
    assert.equal(db.stats().snapshots, 0);
    // An I/O error in the copy: the same.
    fs.injectFault("sync", 1);
    throwsCode(() => db.backup("/copy.pkv"), "ERR_IO");
    assert.equal(fs.exists("/copy.pkv"), false);
    assert.equal(fs.exists(`/copy.pkv${BACKUP_TEMP_SUFFIX}`), false);
    // The database closed under backupAsync: ERR_CLOSED at the next chunk.
    const pending = db.backupAsync("/copy.pkv", { chunkPages: 1 });
    db.close();
    await assert.rejects(pending, { code: "ERR_CLOSED" });
    assert.equal(fs.exists("/copy.pkv"), false);
    assert.equal(fs.exists(`/copy.pkv${BACKUP_TEMP_SUFFIX}`), false);
    const src = open("/src.pkv", { vfs: fs, readOnly: true });
    assert.deepEqual(entries(src), model);
    src.close();
  });

  test("a damaged page in the source fails the backup with ERR_CORRUPT naming it, and leaves no copy", () => {
    const fs = new MemFS();
    const { db } = source(fs, "/src.pkv");
    db.checkpoint();
    db.close();
    // Flip a byte of a page in use: the tree's root.
    const pager = Pager.open(fs, "/src.pkv", { readOnly: true });
    const root = pager.getSlot(0);
    pager.close();
    assert.ok(root >= 2);
    const f = fs.open("/src.pkv");
    const b = new Uint8Array(1);
    f.readAt(b, (root - 1) * 512 + 100);
    b[0] ^= 0xff;
    f.writeAt(b, (root - 1) * 512 + 100);
    f.close();
    const src = open("/src.pkv", { vfs: fs, readOnly: true });
    const e = throwsCode(() => src.backup("/copy.pkv"), "ERR_CORRUPT");
    assert.match(e.message, new RegExp(`page ${root} `));
    assert.equal(fs.exists("/copy.pkv"), false);
    assert.equal(fs.exists(`/copy.pkv${BACKUP_TEMP_SUFFIX}`), false);
    src.close();
  });

  test("a power loss at every mutating call of a backup with a writer never damages the source and leaves no copy or a whole one", () => {
    const fs = new MemFS();
    const path = "/src.pkv";
    const { db: first, model } = source(fs, path, 80);
    first.close();
    let completed = false;
    let crashes = 0;
    let copies = 0;
    for (let n = 0; !completed; n++) {
      assert.ok(n < 2000, "the sweep ends");
      const db = open(path, { vfs: fs, autoCheckpointPages: 0 });
      const expected = entries(db);
      assert.deepEqual(expected, model);
      // The write in flight when the power went: it may or may not have become durable.
      let inDoubt: { k: string; before: string | undefined; after: string } | null = null;
      let round = 0;
      fs.armCrash(n);
      try {
        db.backup("/copy.pkv", {
          chunkPages: 6,
          onProgress: () => {
            const k = key((n * 7 + round * 3) % 80);
            const v = value(round, 1000 + n);
            inDoubt = { k, before: model.get(k), after: v };
            db.put(k, v);
            model.set(k, v);
            inDoubt = null;
            if (round % 3 === 2) db.checkpoint();
            round++;
          },
        });
        completed = true;
      } catch (e) {
        assert.equal((e as { code?: string }).code, "ERR_CRASHED", String(e));
        crashes++;
      }
      if (completed) {
        fs.armCrash(Number.MAX_SAFE_INTEGER); // the sweep is over: no crash at the close
        db.close();
      }
      fs.crash({ seed: n });
      try {
        db.close();
      } catch {
        // Closed above, or dead with the power.
      }
      // The source reopens with every write that returned, and the one in doubt either way.
      const src = open(path, { vfs: fs, readOnly: true });
      assert.deepEqual(src.check(), []);
      const now = entries(src);
      src.close();
      const doubt = inDoubt as { k: string; before: string | undefined; after: string } | null;
      if (doubt !== null) {
        const got = now.get(doubt.k);
        assert.ok(got === doubt.before || got === doubt.after, `key ${doubt.k} is ${got}`);
        if (got === undefined) model.delete(doubt.k);
        else model.set(doubt.k, got);
      }
      assert.deepEqual(now, model);
      if (fs.exists("/copy.pkv")) {
        verifyCopy(fs, "/copy.pkv", expected);
        copies++;
        fs.delete("/copy.pkv");
      } else {
        assert.equal(completed, false);
      }
      if (fs.exists(`/copy.pkv${BACKUP_TEMP_SUFFIX}`)) fs.delete(`/copy.pkv${BACKUP_TEMP_SUFFIX}`);
    }
    assert.ok(crashes > 20, `${crashes} crash points`);
    assert.ok(copies >= 1);
  });
});
