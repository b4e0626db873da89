// A full disk is an error, not an outage: a failed write of log frames (ENOSPC, EIO on
// write) fails the call that made it, rolls its transaction back and leaves the database
// usable, reads always and writes again once there is space, with no reopen; a failed
// sync fences (see the pager's state comment). Proven with MemFS faults at every write
// and sync of a workload, and on a real tmpfs of a few MiB (root only).

import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import * as nodeFs from "node:fs";
import * as path from "node:path";
import { describe, test } from "node:test";
import { isDeepStrictEqual } from "node:util";
import { type Database, isPagekvError, open } from "../../src/index.js";
import { type FaultCode, type FaultOp, MemFS } from "../../src/vfs/memfs.js";
import { Prng } from "../../src/vfs/prng.js";
import { envSeed } from "../seed.js";
import { withTempDir } from "../tmpdir.js";

const PATH = "/full.pkv";
const dec = (b: Uint8Array | undefined) =>
  b === undefined ? undefined : new TextDecoder().decode(b);

/** One write of the workload: a put, a delete or a batch of both. */
type Op = { puts: [string, string][]; dels: string[] };

/** A fixed workload: puts small and large (overflow), deletes and batches over 60 keys. */
function workload(seed: number, count: number): Op[] {
  const rng = new Prng(seed);
  const ops: Op[] = [];
  for (let i = 0; i < count; i++) {
    const op: Op = { puts: [], dels: [] };
    const n = rng.int(3) === 0 ? 1 + rng.int(12) : 1;
    for (let j = 0; j < n; j++) {
      const key = `k${rng.int(60)}`;
      if (rng.int(5) === 0) op.dels.push(key);
      else op.puts.push([key, `${i}.${j}:`.padEnd(rng.int(4) === 0 ? 700 : 20 + rng.int(80), "v")]);
    }
    ops.push(op);
  }
  return ops;
}

function apply(db: Database, op: Op): void {
  db.batch([
    ...op.puts.map(([key, value]) => ({ type: "put" as const, key, value })),
    ...op.dels.map((key) => ({ type: "del" as const, key })),
  ]);
}

function applyToModel(model: Map<string, string>, op: Op): void {
  for (const [k, v] of op.puts) model.set(k, v);
  for (const k of op.dels) model.delete(k);
}

function assertModel(db: Database, model: Map<string, string>, what: string): void {
  const got = new Map<string, string>();
  for (const [k, v] of db.range()) got.set(dec(k) ?? "", dec(v) ?? "");
  assert.deepEqual(got, model, `${what}: contents differ from the acknowledged writes`);
  assert.deepEqual(db.check(), [], `${what}: check`);
}

/** Small pages, a pool of 8 frames and frequent checkpoints: spills and backfills galore. */
function openSmall(fs: MemFS): Database {
  return open(PATH, { vfs: fs, pageSize: 512, cacheBytes: 0, autoCheckpointPages: 24 });
}

/** Mutating calls of `op` the clean workload makes, counted by the device. */
function countCalls(ops: Op[], op: FaultOp): number {
  const fs = new MemFS();
  const db = openSmall(fs);
  const before = fs.callCount(op);
  for (const o of ops) apply(db, o);
  const n = fs.callCount(op) - before;
  db.close();
  return n;
}

/**
 * Run the workload with a fault at the `nth` call of `op`; returns what the test saw. Every
 * write that returned is in the model; the one that failed is not.
 */
function runWithFault(ops: Op[], op: FaultOp, nth: number, code: FaultCode, landed = false) {
  const fs = new MemFS();
  const db = openSmall(fs);
  const model = new Map<string, string>();
  fs.injectFault(op, nth, code, landed);
  let failed = -1;
  let fenced = false;
  for (let i = 0; i < ops.length; i++) {
    try {
      apply(db, ops[i]);
      applyToModel(model, ops[i]);
    } catch (e) {
      if (!isPagekvError(e)) throw e;
      if (e.code === "ERR_FENCED") {
        fenced = true;
        break;
      }
      assert.equal(e.code, "ERR_IO", `op ${i}: ${e.message}`);
      assert.equal(failed, -1, `op ${i}: a second failure after op ${failed}'s`);
      failed = i;
      // Reads right after the failure see exactly the acknowledged writes.
      assertModel(db, model, `after the fault at op ${i}`);
    }
  }
  return { fs, db, model, failed, fenced };
}

/** PAGEKV_FAULT_SEED=<n> or =random replays or varies the workload; 7 by default. */
function faultSeed(): number {
  const seed = envSeed("PAGEKV_FAULT_SEED", 7) ?? (Math.random() * 2 ** 31) >>> 0;
  if (process.env.PAGEKV_FAULT_SEED !== undefined) {
    console.log(`disk-full workload: PAGEKV_FAULT_SEED=${seed}`);
  }
  return seed;
}

describe("a failed write (disk full, EIO) is an error, not an outage", () => {
  const ops = workload(faultSeed(), 90);
  const writes = countCalls(ops, "write");

  test(`a fault at each of the workload's ${writes} writes: ERR_IO once, never a fence, nothing acknowledged lost`, () => {
    let failures = 0;
    for (let nth = 1; nth <= writes; nth++) {
      const code: FaultCode = nth % 2 === 0 ? "ENOSPC" : "EIO";
      const { fs, db, model, failed, fenced } = runWithFault(ops, "write", nth, code);
      const where = `write ${nth} (${code})`;
      assert.equal(fenced, false, `${where}: a failed write fenced the database`);
      if (failed >= 0) failures++;
      assertModel(db, model, `${where}: at the end`);
      db.close();
      const again = openSmall(fs);
      assertModel(again, model, `${where}: after close and reopen`);
      again.close();
    }
    // About half the writes are a commit's or a spill's; the rest (zero-fill ahead of the
    // log, a checkpoint's) pass unnoticed or fail a checkpoint that a commit swallows.
    assert.ok(failures > writes / 4, `only ${failures} of ${writes} faults failed a write`);
  });

  test("a write that reached the disk and still failed (EIO after the fact): the same, and never half a write after a crash", () => {
    for (let nth = 1; nth <= writes; nth++) {
      const { fs, db, model, failed, fenced } = runWithFault(ops, "write", nth, "EIO", true);
      const where = `landed write ${nth}`;
      assert.equal(fenced, false, `${where}: fenced`);
      assertModel(db, model, `${where}: at the end`);
      db.close();
      const again = openSmall(fs);
      assertModel(again, model, `${where}: after close and reopen`);
      again.close();
      if (failed < 0) continue;
      // Without the close: power loss right after the workload. The failed write may come
      // back whole after a crash, if no later append overwrote it, but never in part.
      const run = runWithFault(ops, "write", nth, "EIO", true);
      run.fs.crash({ seed: nth });
      const crashed = openSmall(run.fs);
      const got = new Map<string, string>();
      for (const [k, v] of crashed.range()) got.set(dec(k) ?? "", dec(v) ?? "");
      const withFailed = new Map(run.model);
      if (run.failed >= 0) applyToModel(withFailed, ops[run.failed]);
      assert.ok(
        isDeepStrictEqual(got, run.model) || isDeepStrictEqual(got, withFailed),
        `${where}, then a crash: neither the acknowledged writes nor those and the failed one`,
      );
      assert.deepEqual(crashed.check(), [], `${where}, then a crash: check`);
      crashed.close();
    }
  });

  test("a fault at each write, then power loss: the acknowledged writes survive", () => {
    for (let nth = 1; nth <= writes; nth += 3) {
      const { fs, db, model } = runWithFault(ops, "write", nth, "ENOSPC");
      void db;
      fs.crash({ seed: nth });
      const again = openSmall(fs);
      assertModel(again, model, `write ${nth}, then a crash`);
      again.close();
    }
  });

  test("a failed sync fences: ERR_IO, then ERR_FENCED; reopen holds every acknowledged write", () => {
    const syncs = countCalls(ops, "sync");
    for (let nth = 1; nth <= syncs; nth++) {
      const { fs, db, model, failed, fenced } = runWithFault(ops, "sync", nth, "EIO");
      const where = `sync ${nth}`;
      if (failed >= 0 && failed < ops.length - 1) {
        assert.equal(fenced, true, `${where}: the writes after a failed sync were not fenced`);
      }
      db.close(); // a fenced database closes without checkpoint
      fs.crash({ seed: nth });
      const again = openSmall(fs);
      assertModel(again, model, `${where}: after reopen`);
      again.close();
    }
  });
});

/** Mount a tmpfs of `bytes` at `dir`; false (with the reason) where the machine refuses. */
function mountTmpfs(dir: string, bytes: number): string | null {
  if (process.platform !== "linux" || process.getuid?.() !== 0) return "needs root on Linux";
  try {
    execFileSync("mount", ["-t", "tmpfs", "-o", `size=${bytes}`, "tmpfs", dir], {
      stdio: "pipe",
    });
    return null;
  } catch (e) {
    return `mount -t tmpfs failed: ${e instanceof Error ? e.message.split("\n")[0] : String(e)}`;
  }
}

describe("a real full disk (tmpfs of 3 MiB)", () => {
  test("writes fail with ERR_IO while it is full, reads go on, and writes resume when space is freed, without reopen", (t) => {
    withTempDir((dir) => {
      const mnt = path.join(dir, "mnt");
      nodeFs.mkdirSync(mnt);
      const why = mountTmpfs(mnt, 3 * 2 ** 20);
      if (why !== null) {
        t.skip(`no tmpfs here: ${why}`);
        return;
      }
      let db: Database | null = null;
      try {
        // Ballast to delete later: the space a user frees.
        const ballast = path.join(mnt, "ballast");
        nodeFs.writeFileSync(ballast, new Uint8Array(1024 * 1024));
        const file = path.join(mnt, "db.pkv");
        db = open(file, { autoCheckpointPages: 64 });
        const model = new Map<string, string>();
        let full: unknown = null;
        for (let i = 0; i < 20_000 && full === null; i++) {
          const key = `key${i}`;
          const value = `${i}`.padEnd(300, "x");
          try {
            db.put(key, value);
            model.set(key, value);
          } catch (e) {
            full = e;
          }
        }
        assert.ok(
          isPagekvError(full, "ERR_IO"),
          `expected ERR_IO at a full disk, got ${String(full)}`,
        );
        assert.equal(((full as Error).cause as { code?: string }).code, "ENOSPC");
        // Full: reads work, and a write is ERR_IO again (not ERR_FENCED).
        assertModel(db, model, "at a full disk");
        let again: unknown = null;
        try {
          db.put("more", "x".padEnd(3000, "y"));
          model.set("more", "x".padEnd(3000, "y"));
        } catch (e) {
          again = e;
        }
        if (again !== null) assert.ok(isPagekvError(again, "ERR_IO"), String(again));
        // Space again: writes resume on the same handle.
        nodeFs.rmSync(ballast);
        for (let i = 0; i < 200; i++) {
          db.put(`after${i}`, `${i}`);
          model.set(`after${i}`, `${i}`);
        }
        assertModel(db, model, "after space was freed");
        db.close();
        db = null;
        const reopened = open(file, { readOnly: true });
        assertModel(reopened, model, "after reopen");
        reopened.close();
      } finally {
        try {
          db?.close(); // only when the test failed with it open: the mount must be idle
        } catch {
          // The failure being reported matters more.
        }
        execFileSync("umount", ["-l", mnt]);
      }
    });
  });
});
