// Tests for NodeFS against a real temp directory: round trips, error mapping with causes,
// writevAt, crc32. Each test gets its own directory and must never touch files outside it.

import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { once } from "node:events";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterEach, beforeEach, describe, test } from "node:test";
import { threadId } from "node:worker_threads";
import { isPagekvError } from "../../src/errors.js";
import { LOCK_FILE_BYTES_MAX } from "../../src/vfs/node/lockfile.js";
import { NodeFS } from "../../src/vfs/node/nodefs.js";
import type { VLock } from "../../src/vfs/vfs.js";
import { throwsCode } from "../pager/pages.js";
import { readAll, text } from "./bytes.js";
import { idleChild, SLEEP } from "./idle.js";

/** A PagekvError of `code` whose cause is the platform error with `causeCode`. */
function isMapped(code: "ERR_NOT_FOUND" | "ERR_EXISTS" | "ERR_IO", causeCode: string) {
  return (e: unknown): boolean =>
    isPagekvError(e, code) &&
    e.cause instanceof Error &&
    (e.cause as Error & { code?: unknown }).code === causeCode;
}

describe("NodeFS", () => {
  let dir = "";
  let file = "";
  const vfs = new NodeFS();

  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "pagekv-nodefs-"));
    file = path.join(dir, "db.pkv");
  });

  afterEach(() => {
    fs.rmSync(dir, { recursive: true, force: true });
  });

  test("write, read, size, truncate and sync round trip through the real file", () => {
    const f = vfs.open(file, { create: true });
    assert.equal(f.size(), 0);
    f.writeAt(text("hello"), 0);
    f.writeAt(text("world"), 10);
    f.sync();
    f.sync("data");
    assert.equal(f.size(), 15);
    assert.deepEqual(readAll(f), text("hello\0\0\0\0\0world"));
    f.truncate(3);
    assert.equal(f.size(), 3);
    f.close();
    assert.deepEqual(new Uint8Array(fs.readFileSync(file)), text("hel"));
  });

  test("readAt is short at end of file and 0 past it", () => {
    const f = vfs.open(file, { create: true });
    f.writeAt(new Uint8Array(10).fill(7), 0);
    const buf = new Uint8Array(16).fill(0xee);
    assert.equal(f.readAt(buf, 4), 6);
    assert.deepEqual(buf.subarray(0, 6), new Uint8Array(6).fill(7));
    assert.deepEqual(buf.subarray(6), new Uint8Array(10).fill(0xee));
    assert.equal(f.readAt(buf, 10), 0);
    assert.equal(f.readAt(buf, 5000), 0);
    f.close();
  });

  test("writevAt writes the buffers back to back at the offset", () => {
    const f = vfs.open(file, { create: true });
    f.writeAt(text("0123456789"), 0);
    f.writevAt([text("ab"), new Uint8Array(0), text("cde")], 3);
    f.writevAt([], 9);
    assert.deepEqual(readAll(f), text("012abcde89"));
    f.close();
  });

  test("open of a missing file is ERR_NOT_FOUND with the ENOENT cause", () => {
    assert.throws(
      () => vfs.open(file),
      (e) =>
        isMapped("ERR_NOT_FOUND", "ENOENT")(e) && e instanceof Error && e.message.includes(file),
    );
    assert.equal(vfs.exists(file), false);
  });

  test("create makes the file; create+exclusive on it is ERR_EXISTS with EEXIST cause", () => {
    vfs.open(file, { create: true }).close();
    assert.equal(vfs.exists(file), true);
    assert.throws(
      () => vfs.open(file, { create: true, exclusive: true }),
      isMapped("ERR_EXISTS", "EEXIST"),
    );
  });

  test("create without exclusive reopens an existing file without truncating it", () => {
    fs.writeFileSync(file, "keep");
    const f = vfs.open(file, { create: true });
    assert.deepEqual(readAll(f), text("keep"));
    f.close();
  });

  test("calls on a closed handle are ERR_CLOSED and close is idempotent", () => {
    const f = vfs.open(file, { create: true });
    f.close();
    f.close();
    assert.throws(
      () => f.readAt(new Uint8Array(1), 0),
      (e) => isPagekvError(e, "ERR_CLOSED"),
    );
    assert.throws(
      () => f.writeAt(text("x"), 0),
      (e) => isPagekvError(e, "ERR_CLOSED"),
    );
    assert.throws(
      () => f.sync(),
      (e) => isPagekvError(e, "ERR_CLOSED"),
    );
    assert.throws(
      () => f.size(),
      (e) => isPagekvError(e, "ERR_CLOSED"),
    );
  });

  test("a read-only handle reads, but a write fails with ERR_IO carrying the OS cause", () => {
    fs.writeFileSync(file, "data");
    const r = vfs.open(file, { readOnly: true });
    assert.deepEqual(readAll(r), text("data"));
    assert.throws(() => r.writeAt(text("x"), 0), isMapped("ERR_IO", "EBADF"));
    r.close();
    assert.equal(fs.readFileSync(file, "utf8"), "data");
  });

  test("delete removes the file; deleting a missing file is ERR_NOT_FOUND", () => {
    vfs.open(file, { create: true }).close();
    vfs.delete(file);
    assert.equal(fs.existsSync(file), false);
    assert.throws(() => vfs.delete(file), isMapped("ERR_NOT_FOUND", "ENOENT"));
  });

  test("negative or huge offsets are ERR_ARG, never passed to node:fs", () => {
    const f = vfs.open(file, { create: true });
    f.writeAt(text("abc"), 0);
    assert.throws(
      () => f.writeAt(text("x"), -1),
      (e) => isPagekvError(e, "ERR_ARG"),
    );
    assert.throws(
      () => f.readAt(new Uint8Array(1), -1),
      (e) => isPagekvError(e, "ERR_ARG"),
    );
    assert.throws(
      () => f.truncate(2 ** 41),
      (e) => isPagekvError(e, "ERR_ARG"),
    );
    assert.deepEqual(readAll(f), text("abc"));
    f.close();
  });

  test("crc32 matches the IEEE check value and continues from an initial value", () => {
    const crc32 = vfs.crc32;
    assert.ok(crc32 !== undefined, "Node >= 20.15 has zlib.crc32");
    assert.equal(crc32(text("123456789"), 0), 0xcbf43926);
    assert.equal(crc32(text("56789"), crc32(text("1234"), 0)), 0xcbf43926);
  });
});

/** A child that idles for 10 s, once it has started (so its pid is live). */
const spawnIdleChild = () => idleChild(SLEEP, 10);

/** The pid of a child process that has exited and been reaped: no process has it now. */
async function deadPid(): Promise<number> {
  const child = spawn(process.execPath, ["-e", ""], { stdio: "ignore" });
  await once(child, "spawn");
  const pid = child.pid;
  assert.ok(pid !== undefined, "spawned child has a pid");
  if (child.exitCode === null && child.signalCode === null) await once(child, "exit");
  assert.throws(() => process.kill(pid, 0), { code: "ESRCH" });
  return pid;
}

/**
 * Whether a lock or reader file's content is this thread's record (its first line: a
 * reader file goes on with its mark slots, docs/design/readers.md).
 */
function namesUs(content: string): boolean {
  const line = content.slice(0, content.indexOf("\n") + 1);
  const re = `^pid=${process.pid} thread=${threadId}( start=\\d+)?( boot=\\S+)?( proto=2)?\n$`;
  return new RegExp(re).test(line);
}

describe("NodeFS lock", () => {
  let dir = "";
  let file = "";
  let lockFile = "";
  const vfs = new NodeFS();
  const taken: VLock[] = [];

  function lock(p: string): VLock {
    const l = vfs.lock(p);
    taken.push(l);
    return l;
  }

  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "pagekv-lock-"));
    file = path.join(dir, "db.pkv");
    lockFile = `${file}-lock`;
  });

  afterEach(() => {
    for (const l of taken.splice(0)) l.release();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  test("lock creates the file <path>-lock holding our record, and no database file", () => {
    const l = lock(file);
    assert.equal(l.held, true);
    const content = fs.readFileSync(lockFile, "utf8");
    assert.ok(namesUs(content), content);
    assert.equal(fs.existsSync(file), false);
  });

  test("a second lock in the same process is ERR_LOCKED naming the path", () => {
    const first = lock(file);
    assert.throws(
      () => lock(file),
      (e) => isPagekvError(e, "ERR_LOCKED") && e.message.includes(file),
    );
    assert.equal(first.held, true);
    assert.ok(namesUs(fs.readFileSync(lockFile, "utf8")));
  });

  test("a relative path to a locked database is the same lock", () => {
    lock(file);
    const relative = path.relative(process.cwd(), file);
    assert.notEqual(relative, file);
    assert.throws(
      () => lock(relative),
      (e) => isPagekvError(e, "ERR_LOCKED"),
    );
  });

  test("release removes the lock file and allows locking again; a second release is a no-op", () => {
    const first = lock(file);
    first.release();
    assert.equal(first.held, false);
    assert.equal(fs.existsSync(lockFile), false);
    const second = lock(file);
    assert.equal(second.held, true);
    // The old lock's release must not remove the new holder's file or registry entry.
    first.release();
    assert.equal(fs.existsSync(lockFile), true);
    assert.throws(
      () => lock(file),
      (e) => isPagekvError(e, "ERR_LOCKED"),
    );
  });

  test("release tolerates a lock file already removed", () => {
    const l = lock(file);
    fs.unlinkSync(lockFile);
    l.release();
    assert.equal(l.held, false);
    assert.equal(lock(file).held, true);
  });

  test("a lock file naming a live other process is ERR_LOCKED naming path and pid", async () => {
    const child = await spawnIdleChild();
    try {
      fs.writeFileSync(lockFile, String(child.pid));
      assert.throws(
        () => lock(file),
        (e) =>
          isPagekvError(e, "ERR_LOCKED") &&
          e.message.includes(file) &&
          e.message.includes(String(child.pid)),
      );
      // Refused without touching the owner's file.
      assert.equal(fs.readFileSync(lockFile, "utf8"), String(child.pid));
    } finally {
      child.kill();
      if (child.exitCode === null && child.signalCode === null) await once(child, "exit");
    }
  });

  test("a lock file naming a dead process is taken over and then names us", async () => {
    const pid = await deadPid();
    fs.writeFileSync(lockFile, `${pid}\n`);
    const l = lock(file);
    assert.equal(l.held, true);
    assert.ok(namesUs(fs.readFileSync(lockFile, "utf8")));
  });

  test("a lock file with garbage or no content is taken over", () => {
    for (const content of ["not a pid", "", "0", "-1", "12x", "9".repeat(40)]) {
      fs.writeFileSync(lockFile, content);
      const l = lock(file);
      assert.equal(l.held, true, JSON.stringify(content));
      assert.ok(namesUs(fs.readFileSync(lockFile, "utf8")));
      l.release();
    }
  });

  test("a lock file naming our own pid but not held here is a leftover, taken over", () => {
    fs.writeFileSync(lockFile, String(process.pid));
    const l = lock(file);
    assert.equal(l.held, true);
    assert.throws(
      () => lock(file),
      (e) => isPagekvError(e, "ERR_LOCKED"),
    );
  });

  test("a lock in a missing directory is ERR_IO naming the lock file, with the cause", () => {
    const missing = path.join(dir, "no-such-dir", "db.pkv");
    assert.throws(
      () => lock(missing),
      (e) =>
        isMapped("ERR_IO", "ENOENT")(e) &&
        e instanceof Error &&
        e.message.includes(`${missing}-lock`),
    );
  });
  test("a shared lock leaves <path>-lock.r<pid>.<threadId> while any reader of this thread holds it", () => {
    const readerFile = `${lockFile}.r${process.pid}.${threadId}`;
    const a = vfs.lock(file, "shared");
    const b = vfs.lock(file, "shared");
    assert.ok(namesUs(fs.readFileSync(readerFile, "utf8")));
    a.release();
    assert.equal(fs.existsSync(readerFile), true, "one reader still holds it");
    b.release();
    assert.equal(fs.existsSync(readerFile), false);
  });

  test("a live reader in another process makes a writer ERR_LOCKED, leaving no lock file", async () => {
    const child = await spawnIdleChild();
    try {
      fs.writeFileSync(`${lockFile}.r${child.pid}`, "");
      const e = throwsCode(() => lock(file), "ERR_LOCKED");
      assert.ok(e.message.includes(`reader, live process ${child.pid}`), e.message);
      assert.equal(fs.existsSync(lockFile), false);
    } finally {
      child.kill();
      if (child.exitCode === null && child.signalCode === null) await once(child, "exit");
    }
  });

  test("a reader file of a dead process is removed by the next writer", async () => {
    const stale = `${lockFile}.r${await deadPid()}`;
    fs.writeFileSync(stale, "");
    const l = lock(file);
    assert.equal(l.held, true);
    assert.equal(fs.existsSync(stale), false);
  });

  test("a reader file <pid>.<threadId> of a dead process is removed by the next writer", async () => {
    const pid = await deadPid();
    const stale = `${lockFile}.r${pid}.3`;
    fs.writeFileSync(stale, `pid=${pid} thread=3\n`);
    lock(file);
    assert.equal(fs.existsSync(stale), false);
  });

  test("a lock file naming this process and another thread is a live sibling: ERR_LOCKED", () => {
    const sibling = threadId + 1;
    // Our own start time where /proc has it (a record from another platform has none).
    let start = "";
    if (fs.existsSync("/proc/self/stat")) {
      const stat = fs.readFileSync("/proc/self/stat", "latin1");
      start = ` start=${stat.slice(stat.lastIndexOf(")") + 2).split(" ")[19]}`;
    }
    fs.writeFileSync(lockFile, `pid=${process.pid} thread=${sibling}${start}\n`);
    const e = throwsCode(() => lock(file), "ERR_LOCKED");
    assert.ok(
      e.message.includes(`another thread (threadId ${sibling}) of this process`),
      e.message,
    );
    throwsCode(() => vfs.lock(file, "shared"), "ERR_LOCKED");
    // The same record naming this very thread is a leftover of a failed release.
    fs.writeFileSync(lockFile, `pid=${process.pid} thread=${threadId}${start}\n`);
    assert.equal(lock(file).held, true);
  });

  test("a lock record's unknown fields are skipped; a malformed or oversized one is stale", async () => {
    const child = await spawnIdleChild();
    try {
      fs.writeFileSync(lockFile, `pid=${child.pid} thread=0 later=field\n`);
      throwsCode(() => lock(file), "ERR_LOCKED");
      for (const content of [
        `pid=${child.pid} pid=${child.pid}`,
        `pid=${child.pid} thread=x`,
        `thread=0`,
        `pid=${child.pid} junk`,
        `pid=${child.pid} thread=0 x=${"y".repeat(LOCK_FILE_BYTES_MAX)}`,
      ]) {
        fs.writeFileSync(lockFile, content);
        const l = lock(file);
        assert.ok(namesUs(fs.readFileSync(lockFile, "utf8")), content);
        l.release();
      }
    } finally {
      child.kill();
      if (child.exitCode === null && child.signalCode === null) await once(child, "exit");
    }
  });

  test("a reader refused by a live writer leaves no reader file", async () => {
    const child = await spawnIdleChild();
    try {
      fs.writeFileSync(lockFile, String(child.pid));
      throwsCode(() => vfs.lock(file, "shared"), "ERR_LOCKED");
      assert.deepEqual(
        fs.readdirSync(dir).filter((n) => n.includes(".r")),
        [],
      );
    } finally {
      child.kill();
      if (child.exitCode === null && child.signalCode === null) await once(child, "exit");
    }
  });
});
