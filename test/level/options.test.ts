// PagekvLevel's engine options are strict: each is checked for type and range in the
// constructor (LEVEL_INVALID_VALUE, the engine's ERR_ARG in pagekvCode and as cause), a
// name that differs from one only in case is refused naming it, and nothing is opened or
// created by a refused constructor; abstract-level's own options and unknown other ones
// are left to abstract-level, which accepts arbitrary options.

import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { PagekvError } from "../../src/errors.js";
import { PagekvLevel, PagekvLevelError } from "../../src/level/index.js";
import { MemFS } from "../../src/vfs/memfs.js";

const FILE = "/db.pkv";

/** `new PagekvLevel(FILE, options)` throws LEVEL_INVALID_VALUE / ERR_ARG matching `message`. */
function refused(options: Record<string, unknown>, message: RegExp): PagekvLevelError {
  const fsys = new MemFS();
  let error: unknown;
  try {
    new PagekvLevel(FILE, { vfs: fsys, ...options } as never);
  } catch (e) {
    error = e;
  }
  assert.ok(error instanceof PagekvLevelError, `expected a PagekvLevelError, got ${String(error)}`);
  assert.equal(error.code, "LEVEL_INVALID_VALUE");
  assert.equal(error.pagekvCode, "ERR_ARG");
  assert.ok(error.cause instanceof PagekvError);
  assert.equal(error.cause.code, "ERR_ARG");
  assert.equal(error.cause.path, FILE);
  assert.match(error.message, new RegExp(`${FILE}: PagekvLevel: `));
  assert.match(error.message, message);
  assert.equal(fsys.exists(FILE), false, "a refused constructor created the file");
  return error;
}

describe("engine options are checked for type and range in the constructor", () => {
  test("pageSize: an integer, then a power of two in 512..65536", () => {
    const e = refused(
      { pageSize: "4096" },
      /option "pageSize" must be an integer in 512\.\.65536, got "4096"/,
    );
    assert.doesNotMatch(e.message, /power of two/);
    refused({ pageSize: 4096.5 }, /"pageSize" must be an integer/);
    refused({ pageSize: 256 }, /"pageSize" must be an integer in 512\.\.65536, got 256/);
    refused({ pageSize: 131072 }, /"pageSize" must be an integer in 512\.\.65536/);
    refused({ pageSize: Number.NaN }, /"pageSize" must be an integer/);
    refused({ pageSize: 1000 }, /"pageSize" must be a power of two in 512\.\.65536, got 1000/);
  });

  test('readOnly: true or false; readOnly: "yes" never opens read-write', async () => {
    refused({ readOnly: "yes" }, /option "readOnly" must be true or false, got "yes"/);
    refused({ readOnly: 1 }, /"readOnly" must be true or false, got 1/);
    refused({ readOnly: "false" }, /"readOnly" must be true or false/);
    // The file exists: a read-write open would succeed, so a refusal is the option's.
    const fsys = new MemFS();
    const rw = new PagekvLevel(FILE, { vfs: fsys });
    await rw.put("k", "v");
    await rw.close();
    assert.throws(
      () => new PagekvLevel(FILE, { vfs: fsys, readOnly: "yes" } as never),
      (e) => e instanceof PagekvLevelError && e.code === "LEVEL_INVALID_VALUE",
    );
  });

  test("cacheBytes: a non-negative integer", () => {
    refused({ cacheBytes: -1 }, /option "cacheBytes" must be an integer in 0\.\./);
    refused({ cacheBytes: "8mb" }, /"cacheBytes" must be an integer .* got "8mb"/);
    refused({ cacheBytes: 1.5 }, /"cacheBytes" must be an integer/);
    refused({ cacheBytes: Number.POSITIVE_INFINITY }, /"cacheBytes" must be an integer/);
    refused({ cacheBytes: 8n }, /"cacheBytes" must be an integer .* got 8n/);
  });

  test("sync: one of full, normal, off", () => {
    refused({ sync: "FULL" }, /option "sync" must be one of "full", "normal", "off", got "FULL"/);
    refused({ sync: true }, /"sync" must be one of .* got true/);
  });

  test("vfs: an object with open, delete, exists and lock", () => {
    refused({ vfs: {} }, /option "vfs" must be a VFS .* got an object/);
    refused({ vfs: "memfs" }, /option "vfs" must be a VFS .* got "memfs"/);
    refused({ vfs: null }, /option "vfs" must be a VFS .* got null/);
  });

  test("location: a non-empty string", () => {
    for (const location of ["", 42, undefined]) {
      assert.throws(
        () => new PagekvLevel(location as never, { vfs: new MemFS() }),
        (e) =>
          e instanceof PagekvLevelError &&
          e.code === "LEVEL_INVALID_VALUE" &&
          e.pagekvCode === "ERR_ARG" &&
          /location must be a non-empty string/.test(e.message),
      );
    }
  });
});

describe("a near-miss of an engine option's name is an error naming it", () => {
  const cases: [string, string][] = [
    ["pagesize", "pageSize"],
    ["PAGESIZE", "pageSize"],
    ["readonly", "readOnly"],
    ["ReadOnly", "readOnly"],
    ["cachebytes", "cacheBytes"],
    ["Sync", "sync"],
    ["VFS", "vfs"],
  ];
  for (const [given, meant] of cases) {
    test(`${given} -> ${meant}`, () => {
      refused(
        { [given]: given === "readonly" ? true : 4096 },
        new RegExp(`unknown option "${given}" \\(did you mean "${meant}"\\?\\)`),
      );
    });
  }

  test("readonly: true does not open read-write behind the caller's back", async () => {
    const fsys = new MemFS();
    const rw = new PagekvLevel(FILE, { vfs: fsys });
    await rw.put("k", "v");
    await rw.close();
    assert.throws(
      () => new PagekvLevel(FILE, { vfs: fsys, readonly: true } as never),
      (e) => e instanceof PagekvLevelError && /did you mean "readOnly"/.test(e.message),
    );
  });
});

describe("abstract-level's options and unknown other options are left alone", () => {
  test("keyEncoding, valueEncoding, createIfMissing, errorIfExists, passive and others open", async () => {
    const fsys = new MemFS();
    const db = new PagekvLevel<string, { n: number }>(FILE, {
      vfs: fsys,
      keyEncoding: "utf8",
      valueEncoding: "json",
      createIfMissing: true,
      errorIfExists: false,
      passive: false,
      compression: true, // another store's option: abstract-level accepts arbitrary ones
      prefix: "x",
      pageSize: undefined, // an engine option left undefined is its default
      cacheBytes: 0,
      sync: "off",
      readOnly: false,
    } as never);
    await db.put("k", { n: 1 });
    assert.deepEqual(await db.get("k"), { n: 1 });
    await db.close();
  });

  test("valid engine options reach the engine", async () => {
    const fsys = new MemFS();
    const db = new PagekvLevel(FILE, {
      vfs: fsys,
      pageSize: 1024,
      cacheBytes: 65536,
      sync: "normal",
    });
    await db.put("k", "v");
    await db.close();
    const ro = new PagekvLevel(FILE, { vfs: fsys, readOnly: true });
    await assert.rejects(
      ro.put("k", "w"),
      (e) => (e as { code?: unknown }).code === "LEVEL_READONLY",
    );
    await ro.close();
  });
});

describe("autoCheckpointPages and recover reach the engine", () => {
  test("wrong types are refused, near-miss names too", () => {
    refused({ autoCheckpointPages: "8" }, /option "autoCheckpointPages" must be an integer/);
    refused({ autoCheckpointPages: -1 }, /option "autoCheckpointPages" must be an integer/);
    refused({ recover: "yes" }, /option "recover" must be one of "strict", "truncate"/);
    refused({ Recover: "truncate" }, /did you mean "recover"\?/);
  });

  test("autoCheckpointPages: 0 leaves every commit in the log until close", async () => {
    const fsys = new MemFS();
    const db = new PagekvLevel(FILE, { vfs: fsys, autoCheckpointPages: 0, pageSize: 512 });
    for (let i = 0; i < 200; i++) await db.put(`k${i}`, "v".repeat(50));
    // With the default threshold (8192 pages) this would hold too; 2 forces checkpoints.
    const log = fsys.open(`${FILE}-wal`, { readOnly: true });
    const withoutCheckpoint = log.size();
    log.close();
    await db.close();
    const eager = new PagekvLevel("/eager.pkv", {
      vfs: fsys,
      autoCheckpointPages: 2,
      pageSize: 512,
    });
    for (let i = 0; i < 200; i++) await eager.put(`k${i}`, "v".repeat(50));
    const elog = fsys.open("/eager.pkv-wal", { readOnly: true });
    const withCheckpoints = elog.size();
    elog.close();
    await eager.close();
    assert.ok(
      withCheckpoints < withoutCheckpoint,
      `log of ${withCheckpoints} bytes with checkpoints every 2 pages, ${withoutCheckpoint} without`,
    );
  });
});
