// PagekvLevel's writes on the engine's asynchronous path (docs/design/group-commit.md):
// puts, dels and batches made in one turn share one log sync (counted on MemFS); clear
// comes in call order with them; close waits for the pending ones; a failed sync rejects
// them with abstract-level's code; with sync: "full" a get sees a put once it resolved.

import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { PagekvLevel } from "../../src/level/index.js";
import { MemFS } from "../../src/vfs/memfs.js";

const PATH = "/db.pkv";
const turn = () => new Promise<void>((resolve) => setImmediate(resolve));

async function opened(fsys: MemFS, options: { sync?: "full" | "normal" } = {}) {
  const db = new PagekvLevel(PATH, { vfs: fsys, autoCheckpointPages: 0, ...options });
  await db.open();
  return db;
}

describe("group commit through pagekv/level", () => {
  test("puts, dels and batches made in one turn share one log sync", async () => {
    const fsys = new MemFS();
    const db = await opened(fsys);
    await db.put("gone", "x");
    const s0 = fsys.callCount("sync");
    const writes: Promise<void>[] = [];
    for (let i = 0; i < 100; i++) writes.push(db.put(`k${i}`, `v${i}`));
    writes.push(db.del("gone"));
    writes.push(
      db.batch([
        { type: "put", key: "b1", value: "1" },
        { type: "del", key: "k0" },
      ]),
    );
    await Promise.all(writes);
    assert.equal(fsys.callCount("sync") - s0, 1, "one sync for the turn's writes");
    assert.equal(await db.get("gone"), undefined);
    assert.equal(await db.get("k0"), undefined);
    assert.equal(await db.get("k99"), "v99");
    assert.equal(await db.get("b1"), "1");
    await db.close();
  });

  test("awaited one by one, each write has its own sync", async () => {
    const fsys = new MemFS();
    const db = await opened(fsys);
    const s0 = fsys.callCount("sync");
    for (let i = 0; i < 4; i++) await db.put(`k${i}`, "v");
    assert.equal(fsys.callCount("sync") - s0, 4);
    await db.close();
  });

  test('sync: "full": a get sees a put once its promise resolved, not before', async () => {
    const fsys = new MemFS();
    const db = await opened(fsys);
    await db.put("k", "old");
    let resolved = false;
    const p = db.put("k", "new").then(() => {
      resolved = true;
    });
    await turn(); // applied, its sync in flight
    assert.equal(resolved, false);
    assert.equal(await db.get("k"), "old");
    await p;
    assert.equal(await db.get("k"), "new");
    await db.close();
  });

  test("clear deletes the writes called before it and none called after it", async () => {
    for (const sync of ["full", "normal"] as const) {
      const fsys = new MemFS();
      const db = await opened(fsys, { sync });
      await db.put("a0", "durable");
      const before = [db.put("a1", "pending"), db.batch([{ type: "put", key: "a2", value: "p" }])];
      await turn(); // with "full": applied, syncing (reads do not see them yet)
      const more = db.put("a3", "pending");
      const cleared = db.clear({ gte: "a" });
      const after = [db.put("a4", "after"), db.put("b", "after")];
      await Promise.all([...before, more, cleared, ...after]);
      assert.deepEqual(await db.keys().all(), ["a4", "b"], `sync: ${sync}`);
      await db.close();
    }
  });

  test("clear with a limit and reverse counts across its transactions", async () => {
    const fsys = new MemFS();
    const db = await opened(fsys);
    const n = 2500;
    const key = (i: number) => `k${String(i).padStart(5, "0")}`;
    await db.batch(
      Array.from({ length: n }, (_, i) => ({ type: "put" as const, key: key(i), value: "v" })),
    );
    const pending = db.put(key(n), "v"); // pending when clear is called: cleared first
    await db.clear({ reverse: true, limit: 2000 });
    await pending;
    const keys = await db.keys().all();
    assert.equal(keys.length, n + 1 - 2000);
    assert.equal(keys[keys.length - 1], key(n - 2000));
    await db.close();
  });

  test("close waits for pending writes, which resolve and survive power loss", async () => {
    const fsys = new MemFS();
    const db = await opened(fsys);
    const writes = [db.put("a", "1"), db.del("a"), db.put("b", "2")];
    await turn();
    writes.push(db.batch([{ type: "put", key: "c", value: "3" }]));
    await db.close();
    const outcomes = await Promise.allSettled(writes);
    assert.deepEqual(
      outcomes.map((o) => o.status),
      ["fulfilled", "fulfilled", "fulfilled", "fulfilled"],
    );
    fsys.crash();
    const again = await opened(fsys);
    assert.deepEqual(await again.keys().all(), ["b", "c"]);
    await again.close();
  });

  test("a failed sync rejects the group with LEVEL_IO_ERROR (ERR_IO), later writes ERR_FENCED", async () => {
    const fsys = new MemFS();
    const db = await opened(fsys);
    await db.put("k", "durable");
    fsys.injectFault("sync", 1);
    const group = await Promise.allSettled([db.put("k", "lost"), db.put("n", "lost")]);
    for (const o of group) {
      assert.equal(o.status, "rejected");
      const e = (o as PromiseRejectedResult).reason as { code?: string; cause?: { code?: string } };
      assert.equal(e.code, "LEVEL_IO_ERROR");
      assert.equal(e.cause?.code, "ERR_IO");
    }
    await assert.rejects(db.put("m", "lost"), (e: { code?: string; cause?: { code?: string } }) => {
      assert.equal(e.code, "LEVEL_IO_ERROR");
      assert.equal(e.cause?.code, "ERR_FENCED");
      return true;
    });
    assert.equal(await db.get("k"), "durable");
    await db.close();
    const again = await opened(fsys);
    assert.deepEqual(await again.keys().all(), ["k"]);
    assert.equal(await again.get("k"), "durable");
    await again.close();
  });
});
