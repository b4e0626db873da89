// Tests for VFile.syncAsync (docs/design/group-commit.md, "The VFS seam"): NodeFS on a real
// temporary file (results, error mapping, close while a sync is in flight and when its
// descriptor really closes) and MemFS's model (what becomes durable, crash, kill and fault
// points at the completion). No timing is asserted: only what each promise settles to.

import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { describe, test } from "node:test";
import { isPagekvError, type PagekvError } from "../../src/errors.js";
import { MemFS } from "../../src/vfs/memfs.js";
import { NodeFS } from "../../src/vfs/node/nodefs.js";
import type { VFile } from "../../src/vfs/vfs.js";
import { readAll, text } from "./bytes.js";

const P = "/db.pkv";

function isCode(code: PagekvError["code"]): (e: unknown) => boolean {
  return (e) => isPagekvError(e, code);
}

/** An ERR_IO naming `filePath` whose cause carries the platform code `causeCode`. */
function isIoWithCause(causeCode: string, filePath: string): (e: unknown) => boolean {
  return (e) => {
    if (!isPagekvError(e, "ERR_IO") || !e.message.includes(filePath)) return false;
    const cause = e.cause;
    return cause instanceof Error && (cause as Error & { code?: unknown }).code === causeCode;
  };
}

/** withTempDir for async bodies: the directory goes once the body's promise settled. */
async function withTempDirAsync<T>(fn: (dir: string) => Promise<T>): Promise<T> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "pagekv-test-"));
  try {
    return await fn(dir);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/** Descriptors of this process open on `filePath`, from /proc/self/fd (Linux). */
function descriptorsOn(filePath: string): number {
  const real = fs.realpathSync(filePath);
  let n = 0;
  for (const entry of fs.readdirSync("/proc/self/fd")) {
    let target: string;
    try {
      target = fs.readlinkSync(path.join("/proc/self/fd", entry));
    } catch {
      continue; // the directory listing's own descriptor, gone already
    }
    if (target === real) n++;
  }
  return n;
}

/** How a promise settled, without letting a rejection go unhandled meanwhile. */
function settle(p: Promise<void>): Promise<{ ok: true } | { ok: false; error: unknown }> {
  return p.then(
    () => ({ ok: true }) as const,
    (error: unknown) => ({ ok: false, error }) as const,
  );
}

/** Resolves after one macrotask: a MemFS completion scheduled before it has run. */
function nextMacrotask(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

describe("NodeFS syncAsync", () => {
  test("resolves for both modes, and what was written before it reads back after reopen", async () => {
    await withTempDirAsync(async (dir) => {
      const vfs = new NodeFS();
      const p = path.join(dir, "a.pkv");
      const f = vfs.open(p, { create: true });
      f.writeAt(text("hello"), 0);
      await f.syncAsync?.("data");
      f.writeAt(text(" world"), 5);
      await f.syncAsync?.("full");
      await f.syncAsync?.();
      f.close();
      const g = vfs.open(p);
      assert.deepEqual(readAll(g), text("hello world"));
      g.close();
    });
  });

  test("a failed sync rejects ERR_IO with the platform's error as cause, as sync() throws", async () => {
    // fsync(2) on /dev/null fails with EINVAL on Linux: a real platform error, no mock.
    const f = new NodeFS().open("/dev/null");
    try {
      assert.throws(() => f.sync("data"), isIoWithCause("EINVAL", "/dev/null"));
      await assert.rejects(
        f.syncAsync?.("data") as Promise<void>,
        isIoWithCause("EINVAL", "/dev/null"),
      );
      await assert.rejects(
        f.syncAsync?.("full") as Promise<void>,
        isIoWithCause("EINVAL", "/dev/null"),
      );
    } finally {
      f.close();
    }
  });

  test("a closed file rejects ERR_CLOSED, as a promise, never a throw", async () => {
    await withTempDirAsync(async (dir) => {
      const f = new NodeFS().open(path.join(dir, "a.pkv"), { create: true });
      f.close();
      let p: Promise<void> | undefined;
      assert.doesNotThrow(() => {
        p = f.syncAsync?.("data");
      });
      assert.ok(p instanceof Promise);
      await assert.rejects(p, isCode("ERR_CLOSED"));
    });
  });

  test("close() during in-flight syncs: closed at once, the descriptor only after the last completes", async () => {
    await withTempDirAsync(async (dir) => {
      const p = path.join(dir, "a.pkv");
      const f = new NodeFS().open(p, { create: true });
      f.writeAt(text("abc"), 0);
      assert.equal(descriptorsOn(p), 1);
      const first = settle(f.syncAsync?.("data") as Promise<void>);
      const second = settle(f.syncAsync?.("full") as Promise<void>);
      f.close();
      // Closed for every call from now on...
      assert.throws(() => f.writeAt(text("x"), 0), isCode("ERR_CLOSED"));
      await assert.rejects(f.syncAsync?.("data") as Promise<void>, isCode("ERR_CLOSED"));
      // ...but the descriptor outlives close(): no callback can have run yet. At least
      // one, not exactly one: Deno's node:fs holds a duplicate while its sync runs.
      assert.ok(descriptorsOn(p) >= 1);
      f.close(); // idempotent, and must not close the descriptor under the syncs either
      assert.ok(descriptorsOn(p) >= 1);
      assert.deepEqual(await first, { ok: true });
      assert.deepEqual(await second, { ok: true });
      assert.equal(descriptorsOn(p), 0);
    });
  });

  test("the descriptor is closed at close() when no sync is in flight, even after syncs", async () => {
    await withTempDirAsync(async (dir) => {
      const p = path.join(dir, "a.pkv");
      const f = new NodeFS().open(p, { create: true });
      await f.syncAsync?.("data");
      assert.equal(descriptorsOn(p), 1);
      f.close();
      assert.equal(descriptorsOn(p), 0);
    });
  });

  test("close() during a failing sync: the sync rejects ERR_IO and the descriptor still closes", async () => {
    const before = descriptorsOn("/dev/null");
    const f = new NodeFS().open("/dev/null");
    assert.equal(descriptorsOn("/dev/null"), before + 1);
    const s = settle(f.syncAsync?.("data") as Promise<void>);
    f.close();
    assert.ok(descriptorsOn("/dev/null") >= before + 1); // Deno: plus its duplicate
    const r = await s;
    assert.equal(r.ok, false);
    assert.ok(!r.ok && isIoWithCause("EINVAL", "/dev/null")(r.error));
    assert.equal(descriptorsOn("/dev/null"), before);
  });
});

describe("MemFS syncAsync", () => {
  /** A machine with P holding "old" durably and `pendingText` written after that sync. */
  function setUp(pendingText: string): { vfs: MemFS; f: VFile } {
    const vfs = new MemFS();
    const f = vfs.open(P, { create: true });
    f.writeAt(text("old"), 0);
    f.sync();
    f.writeAt(text(pendingText), 3);
    return { vfs, f };
  }

  test("the writes before the call are durable once it resolves, and survive a crash", async () => {
    const { vfs, f } = setUp("AB");
    const ops = vfs.opCount;
    const syncs = vfs.callCount("sync");
    const s = f.syncAsync?.("data") as Promise<void>;
    // Nothing happens at the call: the completion is a later macrotask.
    assert.deepEqual(vfs.readDurable(P), text("old"));
    assert.equal(vfs.opCount, ops);
    assert.equal(vfs.callCount("sync"), syncs);
    await s;
    assert.equal(vfs.opCount, ops + 1);
    assert.equal(vfs.callCount("sync"), syncs + 1);
    assert.deepEqual(vfs.readDurable(P), text("oldAB"));
    assert.equal(vfs.pendingBytes(P), 0);
    vfs.crash();
    const g = vfs.open(P);
    assert.deepEqual(readAll(g), text("oldAB"));
  });

  test("a write after the call, before the completion, stays pending and is lost by a crash", async () => {
    const { vfs, f } = setUp("AB");
    const s = f.syncAsync?.() as Promise<void>;
    f.writeAt(text("CD"), 5);
    f.truncate(6); // a truncate after the call stays pending too
    await s;
    assert.deepEqual(vfs.readDurable(P), text("oldAB"));
    assert.equal(vfs.pendingBytes(P), 2);
    assert.deepEqual(readAll(f), text("oldABC"));
    vfs.crash();
    assert.deepEqual(readAll(vfs.open(P)), text("oldAB"));
  });

  test("a sync() and more writes between the call and the completion: only the writes before the call", async () => {
    const { vfs, f } = setUp("AB");
    const s = f.syncAsync?.() as Promise<void>;
    f.writeAt(text("CD"), 5);
    f.sync(); // makes AB and CD durable, and empties the pending list
    f.writeAt(text("EF"), 7); // pending again, at the front of the list
    await s;
    assert.deepEqual(vfs.readDurable(P), text("oldABCD"));
    assert.equal(vfs.pendingBytes(P), 2);
    vfs.crash();
    assert.deepEqual(readAll(vfs.open(P)), text("oldABCD"));
  });

  test("two syncAsync calls in flight each make durable what was written before it", async () => {
    const { vfs, f } = setUp("AB");
    const first = f.syncAsync?.() as Promise<void>;
    f.writeAt(text("CD"), 5);
    const second = f.syncAsync?.() as Promise<void>;
    f.writeAt(text("EF"), 7);
    await first;
    assert.deepEqual(vfs.readDurable(P), text("oldAB"));
    await second;
    assert.deepEqual(vfs.readDurable(P), text("oldABCD"));
    assert.equal(vfs.pendingBytes(P), 2);
  });

  test("a crash armed for the completion's call rejects ERR_CRASHED and makes nothing durable", async () => {
    const { vfs, f } = setUp("AB");
    const s = settle(f.syncAsync?.() as Promise<void>);
    vfs.armCrash(0); // the completion is the next mutating call
    const r = await s;
    assert.ok(!r.ok && isCode("ERR_CRASHED")(r.error));
    assert.deepEqual(vfs.readDurable(P), text("old"));
    vfs.crash();
    assert.deepEqual(readAll(vfs.open(P)), text("old"));
  });

  test("a crash armed one call later lets the completion through: it counts as one mutating call", async () => {
    const { vfs, f } = setUp("AB");
    const s = f.syncAsync?.() as Promise<void>;
    vfs.armCrash(1);
    await s;
    assert.deepEqual(vfs.readDurable(P), text("oldAB"));
    assert.throws(() => f.writeAt(text("x"), 0), isCode("ERR_CRASHED"));
  });

  test("power lost before the completion (crash(), or an armed crash fired by another call) rejects it", async () => {
    {
      const { vfs, f } = setUp("AB");
      const s = settle(f.syncAsync?.() as Promise<void>);
      vfs.crash();
      const r = await s;
      assert.ok(!r.ok && isCode("ERR_CRASHED")(r.error));
      assert.deepEqual(vfs.readDurable(P), text("old"));
    }
    {
      const { vfs, f } = setUp("AB");
      const s = settle(f.syncAsync?.() as Promise<void>);
      vfs.armCrash(0);
      assert.throws(() => f.writeAt(text("x"), 0), isCode("ERR_CRASHED"));
      const r = await s;
      assert.ok(!r.ok && isCode("ERR_CRASHED")(r.error));
      assert.deepEqual(vfs.readDurable(P), text("old"));
    }
  });

  test("an injected sync fault rejects ERR_IO and drops the pending writes (fsyncgate)", async () => {
    const { vfs, f } = setUp("AB");
    vfs.injectFault("sync", 1);
    const s = settle(f.syncAsync?.() as Promise<void>);
    const r = await s;
    assert.ok(!r.ok && isIoWithCause("EIO", P)(r.error));
    assert.equal(vfs.pendingBytes(P), 0);
    assert.deepEqual(readAll(f), text("oldAB")); // still readable until the crash
    await f.syncAsync?.(); // reports success without writing them, as Linux does
    assert.deepEqual(vfs.readDurable(P), text("old"));
    vfs.crash();
    assert.deepEqual(readAll(vfs.open(P)), text("old"));
  });

  test("a kill of the process before the completion rejects ERR_CLOSED; its writes stay unsynced", async () => {
    const vfs = new MemFS();
    const child = vfs.process();
    const f = child.open(P, { create: true });
    f.writeAt(text("AB"), 0);
    const s = settle(f.syncAsync?.() as Promise<void>);
    child.kill();
    const r = await s;
    assert.ok(!r.ok && isCode("ERR_CLOSED")(r.error));
    assert.equal(vfs.pendingBytes(P), 2);
    assert.equal(vfs.durableSize(P), 0);
  });

  test("a kill armed for the completion's call rejects ERR_CLOSED, the sync having no effect", async () => {
    const vfs = new MemFS();
    const child = vfs.process();
    const f = child.open(P, { create: true });
    f.writeAt(text("AB"), 0);
    const s = settle(f.syncAsync?.() as Promise<void>);
    child.armKill(0);
    const r = await s;
    assert.ok(!r.ok && isCode("ERR_CLOSED")(r.error));
    assert.equal(child.killed, true);
    assert.equal(vfs.durableSize(P), 0);
  });

  test("close() with a syncAsync in flight is allowed: the sync still completes", async () => {
    const { vfs, f } = setUp("AB");
    const s = f.syncAsync?.() as Promise<void>;
    f.close();
    assert.throws(() => f.writeAt(text("x"), 0), isCode("ERR_CLOSED"));
    await s;
    assert.deepEqual(vfs.readDurable(P), text("oldAB"));
  });

  test("at the call: a closed handle and a bad mode reject (ERR_CLOSED, ERR_ARG), never throw", async () => {
    const { vfs, f } = setUp("AB");
    const ops = vfs.opCount;
    let bad: Promise<void> | undefined;
    assert.doesNotThrow(() => {
      bad = f.syncAsync?.("bogus" as "data");
    });
    await assert.rejects(bad as Promise<void>, isCode("ERR_ARG"));
    f.close();
    let closed: Promise<void> | undefined;
    assert.doesNotThrow(() => {
      closed = f.syncAsync?.("data");
    });
    await assert.rejects(closed as Promise<void>, isCode("ERR_CLOSED"));
    await nextMacrotask();
    assert.equal(vfs.opCount, ops); // neither reached the device
    assert.deepEqual(vfs.readDurable(P), text("old"));
  });

  test("a read-only handle may syncAsync, as it may sync()", async () => {
    const { vfs } = setUp("AB");
    const r = vfs.open(P, { readOnly: true });
    await r.syncAsync?.("data");
    assert.deepEqual(vfs.readDurable(P), text("oldAB"));
  });
});
