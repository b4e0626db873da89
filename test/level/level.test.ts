// PagekvLevel's own contract, beyond what abstract-level's suite checks: the manifest says
// exactly what is supported, data survives close and reopen on disk, `sync` reaches the
// engine, engine errors surface with abstract-level codes, ranges, seek and large clears
// behave, and the "pagekv/level" subpath resolves while the core entry stays free of it.

import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { describe, test } from "node:test";
import { fileURLToPath } from "node:url";
import { PagekvError } from "../../src/errors.js";
import { CLEAR_BATCH_KEYS, PagekvLevel, PagekvLevelError } from "../../src/level/index.js";
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
  test("claims what the adapter provides and no snapshots", async () => {
    const db = memLevel();
    const s = db.supports;
    assert.equal(s.implicitSnapshots, false);
    assert.equal(s.explicitSnapshots, false);
    assert.equal(s.snapshots, false);
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

  test("an iterator is not a snapshot: it sees writes made after it was created", async () => {
    const db = memLevel();
    await db.batch([
      { type: "put", key: "a", value: "1" },
      { type: "put", key: "c", value: "3" },
    ]);
    const it = db.iterator();
    assert.deepEqual(await it.next(), ["a", "1"]);
    await db.put("b", "2");
    await db.del("c");
    assert.deepEqual(await it.all(), [["b", "2"]]);
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
