// PagekvLevel's own contract, beyond what abstract-level's suite checks: the manifest says
// exactly what is supported, data survives close and reopen on disk, `sync` reaches the
// engine, engine errors surface with abstract-level codes, ranges, seek and large clears
// behave, iterators and explicit snapshots read engine snapshots (and release them), and
// the "pagekv/level" subpath resolves while the core entry stays free of it.

import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { describe, test } from "node:test";
import { fileURLToPath } from "node:url";
import { PagekvError } from "../../src/errors.js";
import { CLEAR_BATCH_KEYS, PagekvLevel, PagekvLevelError } from "../../src/level/index.js";
import { PagekvSnapshot } from "../../src/level/snapshot.js";
import { SNAPSHOTS_MAX } from "../../src/pager/pager.js";
import { MemFS } from "../../src/vfs/memfs.js";

/** `promise` rejects with an error whose `code` (and whose cause's `code`) are as given. */
async function rejectsCode(
  promise: Promise<unknown>,
  code: string,
  causeCode?: string,
): Promise<unknown> {
  try {
    await promise;
  } catch (e) {
    assert.equal((e as { code?: unknown }).code, code, String(e));
    if (causeCode !== undefined) {
      const cause = (e as { cause?: { code?: unknown } }).cause;
      assert.equal(cause?.code, causeCode, String(cause));
    }
    return e;
  }
  assert.fail(`expected a rejection with ${code}`);
}

function memLevel(fsys = new MemFS()): PagekvLevel {
  return new PagekvLevel("/db.pkv", { vfs: fsys });
}

describe("manifest", () => {
  test("claims what the adapter provides, implicit and explicit snapshots included", async () => {
    const db = memLevel();
    const s = db.supports;
    assert.equal(s.implicitSnapshots, true);
    assert.equal(s.explicitSnapshots, true);
    assert.equal(s.snapshots, true);
    assert.equal(s.permanence, true);
    assert.equal(s.seek, true);
    assert.equal(s.has, true);
    assert.equal(s.createIfMissing, true);
    assert.equal(s.errorIfExists, true);
    assert.equal((s as unknown as { getSync?: unknown }).getSync, true);
    assert.equal(s.encodings.view, true);
    assert.deepEqual(s.signals, {});
    await db.close();
  });
});

describe("persistence", () => {
  test("data survives close and reopen on disk, through a new instance", async () => {
    await withTempDirAsync(async (dir) => {
      const file = path.join(dir, "app.pkv");
      const a = new PagekvLevel<string, unknown>(file, { valueEncoding: "json" });
      await a.put("user:1", { name: "ada" });
      await a.batch([
        { type: "put", key: "user:2", value: { name: "grace" } },
        { type: "del", key: "user:1" },
      ]);
      await a.close();
      const b = new PagekvLevel<string, unknown>(file, {
        valueEncoding: "json",
        createIfMissing: false,
      });
      assert.deepEqual(await b.get("user:2"), { name: "grace" });
      assert.equal(await b.get("user:1"), undefined);
      assert.deepEqual(await b.keys().all(), ["user:2"]);
      await b.close();
    });
  });

  test('sync: "full" keeps a resolved write through power loss; "off" loses it', async () => {
    for (const [sync, kept] of [
      ["full", true],
      ["off", false],
    ] as const) {
      const fsys = new MemFS();
      const a = new PagekvLevel("/db.pkv", { vfs: fsys, sync });
      await a.open();
      await a.put("k", "v");
      fsys.crash(); // power loss: only synced bytes remain; `a` dies with the process
      const b = memLevel(fsys);
      assert.equal(await b.get("k"), kept ? "v" : undefined, `sync: ${sync}`);
      await b.close();
    }
  });
});

describe("errors", () => {
  test("createIfMissing: false on a missing file: not open, caused by ERR_NOT_FOUND", async () => {
    const db = new PagekvLevel("/none.pkv", { vfs: new MemFS(), createIfMissing: false });
    const e = await rejectsCode(db.open(), "LEVEL_DATABASE_NOT_OPEN", "ERR_NOT_FOUND");
    assert.ok((e as { cause: unknown }).cause instanceof PagekvError);
  });

  test("errorIfExists on an existing file: not open, caused by ERR_EXISTS", async () => {
    const fsys = new MemFS();
    const a = memLevel(fsys);
    await a.open();
    await a.close();
    await rejectsCode(a.open({ errorIfExists: true }), "LEVEL_DATABASE_NOT_OPEN", "ERR_EXISTS");
  });

  test("a second writer of one file: not open, caused by LEVEL_LOCKED", async () => {
    const fsys = new MemFS();
    const a = memLevel(fsys);
    await a.open();
    const b = memLevel(fsys);
    const e = await rejectsCode(b.open(), "LEVEL_DATABASE_NOT_OPEN", "LEVEL_LOCKED");
    const cause = (e as { cause: unknown }).cause;
    assert.ok(cause instanceof PagekvLevelError);
    assert.equal(cause.pagekvCode, "ERR_LOCKED");
    await a.close();
  });

  test("a key over the engine's limit is LEVEL_INVALID_KEY, with the engine error as cause", async () => {
    const db = new PagekvLevel("/db.pkv", { vfs: new MemFS(), pageSize: 4096 });
    const e = await rejectsCode(db.put("x".repeat(4096), "v"), "LEVEL_INVALID_KEY");
    assert.ok(e instanceof PagekvLevelError);
    assert.equal(e.pagekvCode, "ERR_KEY_TOO_LARGE");
    assert.ok(e.cause instanceof PagekvError);
    await db.close();
  });

  test("a write to a readOnly database is LEVEL_READONLY; reads work", async () => {
    const fsys = new MemFS();
    const a = memLevel(fsys);
    await a.put("k", "v");
    await a.close();
    const ro = new PagekvLevel("/db.pkv", { vfs: fsys, readOnly: true });
    assert.equal(await ro.get("k"), "v");
    await rejectsCode(ro.put("k", "w"), "LEVEL_READONLY");
    await rejectsCode(ro.clear(), "LEVEL_READONLY");
    await ro.close();
  });
});

describe("ranges", () => {
  const keys = (n: number) => Array.from({ length: n }, (_, i) => String(i).padStart(5, "0"));

  test("gte overrides gt and lte overrides lt, as abstract-level specifies", async () => {
    const db = memLevel();
    await db.batch(keys(10).map((k) => ({ type: "put" as const, key: k, value: k })));
    assert.deepEqual(
      await db.keys({ gt: "00005", gte: "00002", lt: "00004", lte: "00007" }).all(),
      ["00002", "00003", "00004", "00005", "00006", "00007"],
    );
    await db.close();
  });

  test("seek never leaves the iterator's range, forward and reverse", async () => {
    const db = memLevel();
    await db.batch(keys(10).map((k) => ({ type: "put" as const, key: k, value: k })));
    const fwd = db.keys({ gte: "00003", lt: "00008" });
    fwd.seek("00000");
    assert.equal(await fwd.next(), "00003");
    fwd.seek("00006");
    assert.deepEqual(await fwd.all(), ["00006", "00007"]);
    const rev = db.keys({ gt: "00002", lte: "00006", reverse: true });
    rev.seek("00009");
    assert.equal(await rev.next(), "00006");
    rev.seek("00004");
    assert.deepEqual(await rev.all(), ["00004", "00003"]);
    await db.close();
  });

  test("an iterator is a snapshot: it sees no write made after it was created", async () => {
    const db = memLevel();
    await db.batch([
      { type: "put", key: "a", value: "1" },
      { type: "put", key: "c", value: "3" },
    ]);
    const it = db.iterator();
    assert.deepEqual(await it.next(), ["a", "1"]);
    await db.put("b", "2");
    await db.del("c");
    assert.deepEqual(await it.all(), [["c", "3"]]);
    assert.deepEqual(await db.iterator().all(), [
      ["a", "1"],
      ["b", "2"],
    ]);
    await db.close();
  });

  test("an iterator's snapshot is taken when it is created, not at its first read or a seek", async () => {
    const db = memLevel();
    await db.put("b", "old");
    const entries = db.iterator();
    const keys = db.keys({ reverse: true });
    const values = db.values();
    await db.batch([
      { type: "put", key: "a", value: "new" },
      { type: "put", key: "b", value: "new" },
      { type: "put", key: "c", value: "new" },
    ]);
    assert.deepEqual(await entries.all(), [["b", "old"]]);
    keys.seek("c");
    assert.deepEqual(await keys.all(), ["b"]);
    assert.deepEqual(await values.all(), ["old"]);
    // Reads that name no snapshot see the latest commit.
    assert.equal(await db.get("b"), "new");
    assert.deepEqual(await db.getMany(["a", "b"]), ["new", "new"]);
    assert.equal(await db.has("a"), true);
    assert.deepEqual(await db.hasMany(["a", "z"]), [true, false]);
    assert.equal(db.getSync("c"), "new");
    await db.close();
  });

  test("an iterator's close releases its snapshot (the engine's bound of open snapshots)", async () => {
    const db = memLevel();
    await db.put("k", "v");
    const open = Array.from({ length: SNAPSHOTS_MAX }, () => db.keys());
    // One past the bound: the engine's ERR_LIMIT, which abstract-level has no code for.
    assert.throws(
      () => db.keys(),
      (e) => e instanceof PagekvError && e.code === "ERR_LIMIT",
    );
    assert.throws(
      () => db.snapshot(),
      (e) => e instanceof PagekvError && e.code === "ERR_LIMIT",
    );
    await open[0]?.close();
    const again = db.keys();
    assert.deepEqual(await again.all(), ["k"]);
    await Promise.all(open.map((it) => it.close()));
    // Every snapshot is released: as many again can be open.
    const more = Array.from({ length: SNAPSHOTS_MAX }, () => db.snapshot());
    await Promise.all(more.map((s) => s.close()));
    await db.close();
  });

  test("clear of more than CLEAR_BATCH_KEYS keys honours range, reverse and limit", async () => {
    const db = memLevel();
    const all = keys(3 * CLEAR_BATCH_KEYS);
    await db.batch(all.map((k) => ({ type: "put" as const, key: k, value: "" })));
    // Delete the last 2.5 batches' worth below the top 10 keys, from the top down.
    const limit = Math.floor(2.5 * CLEAR_BATCH_KEYS);
    const top = all.length - 10;
    await db.clear({ lt: all[top], reverse: true, limit });
    const left = await db.keys().all();
    assert.deepEqual(left, [...all.slice(0, top - limit), ...all.slice(top)]);
    await db.clear();
    assert.deepEqual(await db.keys().all(), []);
    await db.close();
  });
});

describe("explicit snapshots", () => {
  test("get, getMany, has, hasMany, getSync and iterators read a snapshot across writes and checkpoints", async () => {
    // A checkpoint is attempted after every commit, and the pool is the smallest. `first`
    // holds every checkpoint back; once it closes, the next ones copy home the frames below
    // `snapshot`'s bound (the writes made between the two) but keep the log, so what
    // `snapshot` reads comes from home, the log and evicted-and-reread pages alike.
    const db = new PagekvLevel("/db.pkv", {
      vfs: new MemFS(),
      pageSize: 512,
      cacheBytes: 0,
      autoCheckpointPages: 1,
    });
    const key = (i: number) => `k${String(i).padStart(4, "0")}`;
    const N = 400;
    const all = Array.from({ length: N }, (_, i) => key(i));
    await db.batch(all.map((k) => ({ type: "put", key: k, value: "old" })));
    const first = db.snapshot();
    for (let i = 0; i < N; i += 2) await db.put(key(i), "mid"); // one commit each
    const snapshot = db.snapshot();
    await first.close();
    for (let i = 0; i < N; i += 2) await db.put(key(i), `new ${i}`);
    await db.batch(
      Array.from({ length: N / 4 }, (_, i) => ({ type: "del" as const, key: key(4 * i + 1) })),
    );
    await db.put("zz", "new");

    const then = all.map((_, i) => (i % 2 === 0 ? "mid" : "old"));
    assert.equal(await db.get(key(0), { snapshot }), "mid");
    assert.equal(await db.get(key(1), { snapshot }), "old");
    assert.equal(await db.get("zz", { snapshot }), undefined);
    assert.equal(db.getSync(key(2), { snapshot }), "mid");
    assert.deepEqual(await db.getMany(all, { snapshot }), then);
    assert.equal(await db.has(key(1), { snapshot }), true);
    assert.equal(await db.has("zz", { snapshot }), false);
    assert.deepEqual(await db.hasMany([key(1), "zz"], { snapshot }), [true, false]);
    assert.deepEqual(await db.keys({ snapshot }).all(), all);
    assert.deepEqual(await db.values({ snapshot }).all(), then);
    assert.deepEqual(await db.iterator({ snapshot, gte: key(10), lt: key(13) }).all(), [
      [key(10), "mid"],
      [key(11), "old"],
      [key(12), "mid"],
    ]);
    assert.deepEqual(await db.values({ snapshot, reverse: true, limit: 2 }).all(), ["old", "mid"]);
    // The latest commit, for reads that name no snapshot.
    assert.equal(await db.get(key(0)), "new 0");
    assert.equal(await db.get(key(1)), undefined);
    assert.equal(await db.get("zz"), "new");
    assert.equal((await db.keys().all()).length, N - N / 4 + 1);
    await snapshot.close();
    await db.put("zz", "last"); // its checkpoint is no longer held back
    assert.equal((await db.keys().all()).length, N - N / 4 + 1);
    assert.equal(await db.get(key(2)), "new 2");
    await db.close();
  });

  test("a snapshot is the state when it was taken, each of several its own", async () => {
    const db = memLevel();
    await db.open(); // abstract-level's snapshot() does not defer an open
    const s0 = db.snapshot();
    await db.put("k", "1");
    const s1 = db.snapshot();
    await db.put("k", "2");
    const s2 = db.snapshot();
    await db.del("k");
    assert.deepEqual(await Promise.all([s0, s1, s2].map((snapshot) => db.get("k", { snapshot }))), [
      undefined,
      "1",
      "2",
    ]);
    await s1.close();
    assert.equal(await db.get("k", { snapshot: s2 }), "2", "closing one leaves the others");
    assert.deepEqual(await db.keys({ snapshot: s0 }).all(), []);
    await Promise.all([s0.close(), s2.close()]);
    await db.close();
  });

  test("a snapshot through a sublevel reads the sublevel's keys as they were", async () => {
    const db = memLevel();
    const sub = db.sublevel("s");
    await sub.put("a", "old");
    const snapshot = sub.snapshot();
    await sub.put("a", "new");
    await sub.put("b", "new");
    assert.equal(await sub.get("a", { snapshot }), "old");
    assert.deepEqual(await sub.keys({ snapshot }).all(), ["a"]);
    // The same snapshot through the root sees the prefixed key.
    assert.deepEqual(await db.keys({ snapshot }).all(), ["!s!a"]);
    await snapshot.close();
    await db.close();
  });

  test("a snapshot used after its close rejects with LEVEL_SNAPSHOT_NOT_OPEN", async () => {
    const db = memLevel();
    await db.put("k", "v");
    const snapshot = db.snapshot();
    const it = db.iterator({ snapshot });
    await snapshot.close();
    await snapshot.close(); // idempotent
    await rejectsCode(db.get("k", { snapshot }), "LEVEL_SNAPSHOT_NOT_OPEN");
    await rejectsCode(db.getMany(["k"], { snapshot }), "LEVEL_SNAPSHOT_NOT_OPEN");
    await rejectsCode(db.has("k", { snapshot }), "LEVEL_SNAPSHOT_NOT_OPEN");
    await rejectsCode(db.hasMany(["k"], { snapshot }), "LEVEL_SNAPSHOT_NOT_OPEN");
    assert.throws(() => db.getSync("k", { snapshot }), { code: "LEVEL_SNAPSHOT_NOT_OPEN" });
    await rejectsCode(it.next(), "LEVEL_SNAPSHOT_NOT_OPEN");
    await it.close();
    const later = db.keys({ snapshot }); // made now, fails at its first read
    await rejectsCode(later.next(), "LEVEL_SNAPSHOT_NOT_OPEN");
    await later.close();
    await rejectsCode(db.clear({ snapshot }), "LEVEL_SNAPSHOT_NOT_OPEN");
    assert.equal(await db.get("k"), "v", "the clear deleted nothing");
    assert.equal((snapshot as PagekvSnapshot).engine.closed, true, "the engine snapshot is closed");
    await db.close();
  });

  test("an engine snapshot closed under an open one is LEVEL_SNAPSHOT_NOT_OPEN, caused by ERR_CLOSED", async () => {
    const db = memLevel();
    await db.put("k", "v");
    const snapshot = db.snapshot();
    assert.ok(snapshot instanceof PagekvSnapshot);
    const it = db.values({ snapshot });
    snapshot.engine.close();
    await rejectsCode(db.get("k", { snapshot }), "LEVEL_SNAPSHOT_NOT_OPEN", "ERR_CLOSED");
    await rejectsCode(db.hasMany(["k"], { snapshot }), "LEVEL_SNAPSHOT_NOT_OPEN", "ERR_CLOSED");
    await rejectsCode(it.all(), "LEVEL_SNAPSHOT_NOT_OPEN", "ERR_CLOSED");
    await rejectsCode(db.clear({ snapshot }), "LEVEL_SNAPSHOT_NOT_OPEN", "ERR_CLOSED");
    await snapshot.close();
    await db.close();
  });

  test("closing the database closes its open snapshots; using one after is an error", async () => {
    const db = memLevel();
    await db.put("k", "v");
    const snapshot = db.snapshot();
    const sublevel = db.sublevel("s");
    await sublevel.open();
    const sub = sublevel.snapshot();
    const it = db.iterator({ snapshot });
    await db.close();
    assert.throws(() => snapshot.ref(), { code: "LEVEL_SNAPSHOT_NOT_OPEN" });
    assert.throws(() => sub.ref(), { code: "LEVEL_SNAPSHOT_NOT_OPEN" });
    for (const s of [snapshot, sub]) {
      assert.ok(s instanceof PagekvSnapshot);
      assert.equal(s.engine.closed, true, "the engine snapshot is closed");
    }
    await rejectsCode(db.get("k", { snapshot }), "LEVEL_DATABASE_NOT_OPEN");
    assert.throws(() => db.snapshot(), { code: "LEVEL_DATABASE_NOT_OPEN" });
    await rejectsCode(it.next(), "LEVEL_ITERATOR_NOT_OPEN");
    // Reopened, the database reads; the old snapshot stays closed.
    await db.open();
    assert.equal(await db.get("k"), "v");
    await rejectsCode(db.get("k", { snapshot }), "LEVEL_SNAPSHOT_NOT_OPEN");
    await rejectsCode(db.iterator({ snapshot }).all(), "LEVEL_SNAPSHOT_NOT_OPEN");
    await db.close();
  });

  test("a snapshot of another database is refused with LEVEL_INVALID_VALUE", async () => {
    const a = memLevel();
    const b = memLevel();
    await a.put("k", "from a");
    await b.put("k", "from b");
    const snapshot = a.snapshot();
    await rejectsCode(b.get("k", { snapshot }), "LEVEL_INVALID_VALUE", "ERR_ARG");
    assert.throws(() => b.keys({ snapshot }), { code: "LEVEL_INVALID_VALUE" });
    await rejectsCode(b.clear({ snapshot }), "LEVEL_INVALID_VALUE", "ERR_ARG");
    assert.equal(await b.get("k"), "from b");
    await snapshot.close();
    await Promise.all([a.close(), b.close()]);
  });

  test("clear with a snapshot deletes only the snapshot's keys, in batches", async () => {
    const db = memLevel();
    const key = (i: number) => String(i).padStart(5, "0");
    const n = 2 * CLEAR_BATCH_KEYS + 5;
    await db.batch(
      Array.from({ length: n }, (_, i) => ({ type: "put", key: key(2 * i), value: "" })),
    );
    const snapshot = db.snapshot();
    await db.batch(
      Array.from({ length: n }, (_, i) => ({ type: "put", key: key(2 * i + 1), value: "" })),
    );
    await db.clear({ snapshot });
    const left = await db.keys().all();
    assert.deepEqual(
      left,
      Array.from({ length: n }, (_, i) => key(2 * i + 1)),
    );
    assert.equal((await db.keys({ snapshot }).all()).length, n, "the snapshot still has them");
    await snapshot.close();
    await db.close();
  });
});

describe("the pagekv/level subpath export", () => {
  test("resolves by package self-reference to the built adapter", async () => {
    // A variable specifier keeps tsc from resolving it at build time (dist may not exist
    // yet when build:test runs alone); at run time Node resolves it through "exports".
    const specifier = "pagekv/level";
    const mod = (await import(specifier)) as typeof import("../../src/level/index.js");
    assert.equal(typeof mod.PagekvLevel, "function");
    const db = new mod.PagekvLevel("/db.pkv", { vfs: new MemFS() });
    await db.put("k", "v");
    assert.equal(await db.get("k"), "v");
    await db.close();
  });

  test("the core entry's build never refers to the adapter or abstract-level", () => {
    const dist = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../../dist");
    const offenders: string[] = [];
    const walk = (dir: string) => {
      for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
        const p = path.join(dir, entry.name);
        if (entry.isDirectory()) {
          if (p !== path.join(dist, "level")) walk(p);
        } else if (entry.name.endsWith(".js")) {
          const text = fs.readFileSync(p, "utf8");
          if (/abstract-level|\/level\//.test(text)) offenders.push(p);
        }
      }
    };
    walk(dist);
    assert.ok(fs.existsSync(path.join(dist, "index.js")), "dist is built (npm run build)");
    assert.deepEqual(offenders, []);
  });
});

/** A private temporary directory for an async body, removed after it settles. */
async function withTempDirAsync(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "pagekv-level-test-"));
  try {
    await fn(dir);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
