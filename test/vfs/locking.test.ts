// NodeFS locking through the public open(): one writer per file whatever its name (symlinks,
// relative paths, hard links refused), across processes and worker threads, with readers
// beside it in other threads and processes (docs/design/readers.md; the marks themselves:
// marks.test.ts); stale locks of a reused pid; read-only opens in a directory the reader
// cannot write.

import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterEach, beforeEach, describe, test } from "node:test";
import { fileURLToPath } from "node:url";
import { threadId, Worker } from "node:worker_threads";
import { type Database, open } from "../../src/index.js";
import { NodeFS } from "../../src/vfs/node/nodefs.js";
import { startTimeFromStat } from "../../src/vfs/node/owner.js";
import type { VLock } from "../../src/vfs/vfs.js";
import { throwsCode } from "../pager/pages.js";
import { idleChild, SLEEP } from "./idle.js";

const here = path.dirname(fileURLToPath(import.meta.url));
const childScript = path.join(here, "lock-child.js");
const workerScript = path.join(here, "lock-worker.js");
const dec = (b: Uint8Array | undefined) =>
  b === undefined ? undefined : new TextDecoder().decode(b);
const hasProc = fs.existsSync("/proc/self/stat");

let dir = "";
const opened: Database[] = [];
const locks: VLock[] = [];

function openDb(p: string, options: { readOnly?: boolean } = {}): Database {
  const db = open(p, options);
  opened.push(db);
  return db;
}

beforeEach(() => {
  dir = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), "pagekv-locking-")));
});

afterEach(() => {
  for (const db of opened.splice(0)) db.close();
  for (const l of locks.splice(0)) l.release();
  fs.chmodSync(dir, 0o755);
  fs.rmSync(dir, { recursive: true, force: true });
});

describe("one file, one writer, whatever its name", () => {
  test("a symlink to a database open as writer is ERR_LOCKED, and names the real file", () => {
    const real = path.join(dir, "real.pkv");
    const link = path.join(dir, "link.pkv");
    const db = openDb(real);
    db.put("a", "1");
    fs.symlinkSync(real, link);
    const e = throwsCode(() => open(link), "ERR_LOCKED");
    assert.ok(e.message.includes(real), e.message);
    throwsCode(() => open(link, { readOnly: true }), "ERR_LOCKED");
    db.close();
    opened.length = 0;
    // Opened through the link, every file is kept under the real name: one log, one lock.
    const viaLink = openDb(link);
    assert.equal(viaLink.path, real);
    viaLink.put("b", "2");
    assert.equal(fs.existsSync(`${link}-wal`), false);
    assert.equal(fs.existsSync(`${link}-lock`), false);
    assert.equal(fs.existsSync(`${real}-lock`), true);
    viaLink.close();
    opened.length = 0;
    const again = openDb(real);
    assert.equal(dec(again.get("b")), "2");
  });

  test("a symlinked parent directory is the same database", () => {
    const realDir = path.join(dir, "data");
    const linkDir = path.join(dir, "data-link");
    fs.mkdirSync(realDir);
    fs.symlinkSync(realDir, linkDir);
    openDb(path.join(realDir, "db.pkv"));
    throwsCode(() => open(path.join(linkDir, "db.pkv")), "ERR_LOCKED");
    throwsCode(() => open(path.join(linkDir, "..", "data", "db.pkv")), "ERR_LOCKED");
  });

  test("a relative path and an absolute path are the same database", () => {
    const abs = path.join(dir, "db.pkv");
    openDb(abs);
    const relative = path.relative(process.cwd(), abs);
    assert.notEqual(relative, abs);
    throwsCode(() => open(relative), "ERR_LOCKED");
    throwsCode(() => open(`./${relative}`, { readOnly: true }), "ERR_LOCKED");
  });

  test("creating through a dangling symlink creates its target, under the target's name", () => {
    const target = path.join(dir, "target.pkv");
    const link = path.join(dir, "dangling.pkv");
    fs.symlinkSync("target.pkv", link);
    const db = openDb(link);
    assert.equal(db.path, target);
    assert.equal(fs.lstatSync(link).isSymbolicLink(), true);
    throwsCode(() => open(target), "ERR_LOCKED");
  });

  test("a file with a second hard link is ERR_LINKED through either name, saying what to do", () => {
    const real = path.join(dir, "db.pkv");
    const other = path.join(dir, "other.pkv");
    openDb(real).close();
    opened.length = 0;
    fs.linkSync(real, other);
    for (const name of [real, other]) {
      const e = throwsCode(() => open(name), "ERR_LINKED");
      assert.ok(e.message.includes(name), e.message);
      assert.match(e.message, /2 hard links/);
      assert.match(e.message, /log/);
      assert.match(e.message, /copy/);
      throwsCode(() => open(name, { readOnly: true }), "ERR_LINKED");
    }
    fs.unlinkSync(other);
    openDb(real);
  });

  test("a database in a missing directory is ERR_NOT_FOUND saying the directory does not exist", () => {
    const missing = path.join(dir, "no-such-dir", "db.pkv");
    const e = throwsCode(() => open(missing), "ERR_NOT_FOUND");
    assert.ok(e.message.includes(path.join(dir, "no-such-dir")), e.message);
    assert.match(e.message, /the directory ".*" does not exist/);
  });

  test("canonical() makes the name absolute and resolves symlinks, also for a new file", () => {
    const vfs = new NodeFS();
    const real = path.join(dir, "db.pkv");
    fs.symlinkSync(dir, path.join(dir, "self"));
    assert.equal(vfs.canonical(path.join(dir, "self", "self", "db.pkv")), real);
    fs.writeFileSync(real, "");
    fs.symlinkSync("db.pkv", path.join(dir, "l1"));
    fs.symlinkSync("l1", path.join(dir, "l2"));
    assert.equal(vfs.canonical(path.join(dir, "self", "l2")), real);
    assert.equal(vfs.canonical(path.relative(process.cwd(), real)), real);
  });

  test("in one thread, the lock registry knows the file by device and inode, in either order", () => {
    const vfs = new NodeFS();
    const real = path.join(dir, "db.pkv");
    const link = path.join(dir, "link.pkv");
    fs.symlinkSync(real, link);
    // As Pager.create does: the lock is taken before the file exists.
    locks.push(vfs.lock(real));
    fs.writeFileSync(real, "");
    // vfs.lock() itself does not resolve symlinks: only the inode ties the names together.
    throwsCode(() => vfs.lock(link), "ERR_LOCKED");
    throwsCode(() => vfs.lock(link, "shared"), "ERR_LOCKED");
    for (const l of locks.splice(0)) l.release();
    locks.push(vfs.lock(link, "shared"));
    throwsCode(() => vfs.lock(real), "ERR_LOCKED");
  });

  test("a writer in another process through a symlink locks out the real name, not its readers", async () => {
    const real = path.join(dir, "db.pkv");
    const link = path.join(dir, "link.pkv");
    openDb(real).close();
    opened.length = 0;
    fs.symlinkSync(real, link);
    const child = spawn(process.execPath, [childScript, "hold", link], {
      stdio: ["pipe", "pipe", "inherit"],
    });
    try {
      const ready = JSON.parse(await firstLine(child));
      assert.deepEqual(ready, { ok: true, ready: true });
      const e = throwsCode(() => open(real), "ERR_LOCKED");
      assert.ok(e.message.includes(`process ${child.pid}`), e.message);
      // A reader of this version opens beside it, under the real name's reader file.
      const reader = open(real, { readOnly: true });
      try {
        assert.ok(fs.existsSync(`${real}-lock.r${process.pid}.${threadId}`));
        assert.equal(fs.existsSync(`${link}-lock.r${process.pid}.${threadId}`), false);
      } finally {
        reader.close();
      }
    } finally {
      child.stdin?.end();
      await exited(child);
    }
    // The child closed: its commit is there under the real name.
    assert.equal(dec(openDb(real).get("k")), "from child");
  });
});

/** The first line the child prints. */
async function firstLine(child: ChildProcess): Promise<string> {
  const out = child.stdout;
  assert.ok(out !== null);
  let text = "";
  for await (const chunk of out) {
    text += String(chunk);
    const nl = text.indexOf("\n");
    if (nl >= 0) return text.slice(0, nl);
  }
  return text;
}

async function exited(child: ChildProcess): Promise<void> {
  if (child.exitCode === null && child.signalCode === null) await once(child, "exit");
}

interface WorkerReply {
  ok: boolean;
  code?: string;
  message?: string;
  threadId?: number;
}

/** A worker opening `p`: the worker, its first reply, and its exit (listened for from the start). */
async function startWorker(
  p: string,
  readOnly: boolean,
  hold: boolean | "leak",
): Promise<{ worker: Worker; reply: WorkerReply; exit: Promise<unknown> }> {
  const worker = new Worker(workerScript, { workerData: { path: p, readOnly, hold } });
  const exit = once(worker, "exit");
  const [reply] = (await once(worker, "message")) as [WorkerReply];
  return { worker, reply, exit };
}

async function closeWorker(w: { worker: Worker; exit: Promise<unknown> }): Promise<void> {
  const closed = once(w.worker, "message");
  w.worker.postMessage("close");
  assert.equal((await closed)[0], "closed");
  await w.exit;
}

describe("worker threads of one process exclude each other's writers as processes do", () => {
  test("main thread writer: a worker's writer is ERR_LOCKED, a worker's reader opens beside it", async () => {
    const file = path.join(dir, "db.pkv");
    const db = openDb(file);
    const writer = await startWorker(file, false, false);
    await writer.exit;
    assert.equal(writer.reply.ok, false, "the worker's writer got in");
    assert.equal(writer.reply.code, "ERR_LOCKED");
    assert.ok(
      writer.reply.message?.includes(`another thread (threadId ${threadId})`),
      writer.reply.message,
    );
    const reader = await startWorker(file, true, true);
    try {
      assert.equal(reader.reply.ok, true, reader.reply.message);
      assert.ok(fs.existsSync(`${file}-lock.r${process.pid}.${reader.reply.threadId}`));
    } finally {
      await closeWorker(reader);
    }
    assert.equal(fs.existsSync(`${file}-lock.r${process.pid}.${reader.reply.threadId}`), false);
    db.close();
    opened.length = 0;
    const { reply, exit } = await startWorker(file, false, false);
    await exit;
    assert.equal(reply.ok, true, reply.message);
  });

  test("worker writer: the main thread's writer is ERR_LOCKED until it closes, its reader is not", async () => {
    const file = path.join(dir, "db.pkv");
    openDb(file).close();
    opened.length = 0;
    const held = await startWorker(file, false, true);
    const reply = held.reply;
    try {
      assert.equal(reply.ok, true, reply.message);
      const e = throwsCode(() => open(file), "ERR_LOCKED");
      assert.ok(e.message.includes(`another thread (threadId ${reply.threadId})`), e.message);
      const reader = open(file, { readOnly: true });
      // This thread reads, so its own writer is refused by the registry too.
      throwsCode(() => open(file), "ERR_LOCKED");
      reader.close();
    } finally {
      await closeWorker(held);
    }
    assert.equal(dec(openDb(file, { readOnly: true }).get("k")), `from thread ${reply.threadId}`);
  });

  test("main thread reader: a worker's writer opens beside it, and a second one is ERR_LOCKED", async () => {
    const file = path.join(dir, "db.pkv");
    openDb(file).close();
    opened.length = 0;
    const reader = openDb(file, { readOnly: true });
    const first = await startWorker(file, false, true);
    try {
      assert.equal(first.reply.ok, true, first.reply.message);
      // Writers still exclude writers, readers or not.
      const second = await startWorker(file, false, false);
      await second.exit;
      assert.equal(second.reply.code, "ERR_LOCKED", second.reply.message);
      assert.ok(
        second.reply.message?.includes(`threadId ${first.reply.threadId}`),
        second.reply.message,
      );
      // Readers in two threads coexist, beside the writer.
      const third = await startWorker(file, true, false);
      await third.exit;
      assert.equal(third.reply.ok, true, third.reply.message);
    } finally {
      await closeWorker(first);
    }
    reader.close();
    opened.length = 0;
  });

  test("a live reader file of an older pagekv (no proto=2) keeps a worker's writer out", async () => {
    const file = path.join(dir, "db.pkv");
    openDb(file).close();
    opened.length = 0;
    // A sibling thread's reader file as an older version wrote it: the record alone.
    const sibling = `${file}-lock.r${process.pid}.${threadId + 1000}`;
    fs.writeFileSync(sibling, `pid=${process.pid} thread=${threadId + 1000}\n`);
    const refused = await startWorker(file, false, false);
    await refused.exit;
    assert.equal(refused.reply.code, "ERR_LOCKED", refused.reply.message);
    assert.ok(refused.reply.message?.includes("proto=2"), refused.reply.message);
    fs.unlinkSync(sibling);
    const admitted = await startWorker(file, false, false);
    await admitted.exit;
    assert.equal(admitted.reply.ok, true, admitted.reply.message);
  });

  test("a worker that ends without close() gives its lock up when it exits", async () => {
    const file = path.join(dir, "db.pkv");
    const { reply, exit } = await startWorker(file, false, "leak");
    assert.equal(reply.ok, true, reply.message);
    await exit;
    assert.equal(fs.existsSync(`${file}-lock`), false);
    assert.equal(dec(openDb(file).get("k")), `from thread ${reply.threadId}`);
  });
});

describe("a reader in another process beside this thread's writer", () => {
  test("a child process's reader opens beside this thread's writer and reads its commits", async () => {
    const file = path.join(dir, "db.pkv");
    const db = openDb(file);
    db.put("k", "first");
    const read = async (): Promise<unknown> => {
      const child = spawn(process.execPath, [childScript, "read", file, "k"], {
        stdio: ["ignore", "pipe", "inherit"],
      });
      const line = await firstLine(child);
      await exited(child);
      return JSON.parse(line);
    };
    assert.deepEqual(await read(), { ok: true, value: "first" });
    db.put("k", "second");
    assert.deepEqual(await read(), { ok: true, value: "second" });
    // The child closed: its reader file went with it.
    assert.deepEqual(
      fs.readdirSync(dir).filter((n) => n.includes("-lock.r")),
      [],
    );
  });
});

/** Field 22 of /proc/<pid>/stat, read here by the test's own means. */
function startTicks(pid: number): string {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return fields[19] ?? "";
}

const bootId = () => fs.readFileSync("/proc/sys/kernel/random/boot_id", "utf8").trim();

/** A child that idles (its pid live) until killed; spawned through `exe` if given. */

describe("a lock of a dead process whose pid was reused", () => {
  let child: (ChildProcess & { pid: number }) | null = null;
  let file = "";
  let lockFile = "";
  const vfs = new NodeFS();

  beforeEach(() => {
    file = path.join(dir, "db.pkv");
    lockFile = `${file}-lock`;
  });

  afterEach(async () => {
    if (child !== null) {
      child.kill();
      await exited(child);
      child = null;
    }
  });

  test("start time of a process is parsed after the last ')' of /proc/<pid>/stat", () => {
    const tail = " S 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 424242 20 21";
    assert.equal(startTimeFromStat(`77 (a) b (c) 1 2)${tail}`), "424242");
    assert.equal(startTimeFromStat(`77 (plain)${tail}`), "424242");
    assert.equal(startTimeFromStat("77 (short) S 1 2"), null);
    assert.equal(startTimeFromStat("no parenthesis at all"), null);
  });

  test("a live pid with another start time is a reused pid: its lock is taken over", async (t) => {
    if (!hasProc) return t.skip("no /proc: the start time is not recorded on this platform");
    child = await idleChild();
    const wrong = String(BigInt(startTicks(child.pid)) + 1n);
    fs.writeFileSync(lockFile, `pid=${child.pid} thread=0 start=${wrong} boot=${bootId()}\n`);
    locks.push(vfs.lock(file));
    assert.match(fs.readFileSync(lockFile, "utf8"), new RegExp(`^pid=${process.pid} `));
  });

  test("a live pid with its own start time holds the lock: ERR_LOCKED", async (t) => {
    if (!hasProc) return t.skip("no /proc: the start time is not recorded on this platform");
    child = await idleChild();
    const content = `pid=${child.pid} thread=0 start=${startTicks(child.pid)} boot=${bootId()}\n`;
    fs.writeFileSync(lockFile, content);
    const e = throwsCode(() => vfs.lock(file), "ERR_LOCKED");
    assert.ok(e.message.includes(`process ${child.pid}`), e.message);
    assert.equal(fs.readFileSync(lockFile, "utf8"), content);
    throwsCode(() => vfs.lock(file, "shared"), "ERR_LOCKED");
  });

  test("a command name with spaces and parentheses does not confuse the start time", async (t) => {
    if (!hasProc) return t.skip("no /proc: the start time is not recorded on this platform");
    const exe = path.join(dir, "x) 1 2 (y");
    fs.symlinkSync(SLEEP, exe);
    child = await idleChild(exe);
    assert.match(fs.readFileSync(`/proc/${child.pid}/stat`, "utf8"), /\(x\) 1 2 \(y\)/);
    fs.writeFileSync(lockFile, `pid=${child.pid} thread=0 start=${startTicks(child.pid)}\n`);
    throwsCode(() => vfs.lock(file), "ERR_LOCKED");
  });

  test("a zombie (exited, not yet reaped by its parent) holds no lock: it is taken over", async (t) => {
    if (!hasProc) return t.skip("no /proc: a zombie cannot be told from a live process here");
    // `sleep 0.3 &` exits once its parent has been exec'd into `sleep 30`, which never
    // reaps it (a shell that was still a shell might).
    const sh = spawn("sh", ["-c", "sleep 0.3 & echo $!; exec sleep 30"], {
      stdio: ["ignore", "pipe", "ignore"],
    });
    const [line] = (await once(sh.stdout, "data")) as [Buffer];
    const zombie = Number(line.toString().trim());
    try {
      let state = "";
      for (let i = 0; i < 500 && state !== "Z"; i++) {
        await new Promise((r) => setTimeout(r, 10));
        const stat = fs.readFileSync(`/proc/${zombie}/stat`, "utf8");
        state = stat.slice(stat.lastIndexOf(")") + 2).split(" ")[0];
      }
      assert.equal(state, "Z", "the child became a zombie");
      const start = startTicks(zombie);
      fs.writeFileSync(lockFile, `pid=${zombie} thread=0 start=${start} boot=${bootId()}\n`);
      locks.push(vfs.lock(file));
      assert.match(fs.readFileSync(lockFile, "utf8"), new RegExp(`^pid=${process.pid} `));
    } finally {
      sh.kill();
      await exited(sh);
    }
  });

  test("a lock written in an earlier boot is stale whatever its pid", async (t) => {
    if (!hasProc) return t.skip("no /proc: the boot id is not recorded on this platform");
    child = await idleChild();
    const start = startTicks(child.pid);
    const otherBoot = "00000000-0000-4000-8000-000000000000";
    fs.writeFileSync(lockFile, `pid=${child.pid} thread=0 start=${start} boot=${otherBoot}\n`);
    locks.push(vfs.lock(file));
    assert.match(fs.readFileSync(lockFile, "utf8"), new RegExp(`^pid=${process.pid} `));
  });

  test("an old-format lock file (just a live pid) is still honoured", async () => {
    child = await idleChild();
    fs.writeFileSync(lockFile, `${child.pid}\n`);
    throwsCode(() => vfs.lock(file), "ERR_LOCKED");
  });

  test("our own pid with another start time is a leftover of an earlier process", (t) => {
    if (!hasProc) return t.skip("no /proc: the start time is not recorded on this platform");
    const wrong = String(BigInt(startTicks(process.pid)) + 1n);
    fs.writeFileSync(lockFile, `pid=${process.pid} thread=${threadId + 1} start=${wrong}\n`);
    locks.push(vfs.lock(file));
  });

  test("a reader file of a reused pid is removed; one of the live process blocks", async (t) => {
    if (!hasProc) return t.skip("no /proc: the start time is not recorded on this platform");
    child = await idleChild();
    const start = BigInt(startTicks(child.pid));
    const readerFile = `${lockFile}.r${child.pid}.0`;
    fs.writeFileSync(readerFile, `pid=${child.pid} thread=0 start=${start + 1n}\n`);
    const l = vfs.lock(file);
    assert.equal(fs.existsSync(readerFile), false);
    l.release();
    fs.writeFileSync(readerFile, `pid=${child.pid} thread=0 start=${start}\n`);
    const e = throwsCode(() => vfs.lock(file), "ERR_LOCKED");
    assert.ok(e.message.includes(`process ${child.pid}`), e.message);
    assert.equal(fs.existsSync(readerFile), true);
  });
});

describe("a read-only open in a directory the reader cannot write", () => {
  const NOBODY = 65534;

  /** The child script and the compiled engine, copied where `nobody` can read them. */
  function childCopy(): string {
    const root = path.join(dir, "code");
    const built = path.resolve(here, "..", "..");
    fs.cpSync(path.join(built, "src"), path.join(root, "src"), { recursive: true });
    fs.mkdirSync(path.join(root, "test", "vfs"), { recursive: true });
    fs.copyFileSync(childScript, path.join(root, "test", "vfs", "lock-child.js"));
    fs.copyFileSync(workerScript, path.join(root, "test", "vfs", "lock-worker.js"));
    fs.writeFileSync(path.join(root, "package.json"), '{ "type": "module" }\n');
    const open = (p: string): void => {
      fs.chmodSync(p, fs.statSync(p).isDirectory() ? 0o755 : 0o644);
      if (fs.statSync(p).isDirectory()) for (const n of fs.readdirSync(p)) open(path.join(p, n));
    };
    open(root);
    return path.join(root, "test", "vfs", "lock-child.js");
  }

  function readAsNobody(script: string, db: string): Promise<Record<string, unknown>> {
    const child = spawn(process.execPath, [script, "read", db, "k"], {
      uid: NOBODY,
      gid: NOBODY,
      cwd: "/",
      stdio: ["ignore", "pipe", "inherit"],
    });
    return firstLine(child).then(async (line) => {
      await exited(child);
      return JSON.parse(line) as Record<string, unknown>;
    });
  }

  test("proceeds without a reader file, and is refused while any writer holds it", async (t) => {
    if (process.getuid?.() !== 0) {
      return t.skip("needs root to run the reader as another user (nobody)");
    }
    fs.chmodSync(dir, 0o755);
    const script = childCopy();
    const dataDir = path.join(dir, "data");
    fs.mkdirSync(dataDir);
    const file = path.join(dataDir, "db.pkv");
    const db = openDb(file);
    db.put("k", "v");
    db.close();
    opened.length = 0;
    fs.chmodSync(dataDir, 0o555);
    assert.deepEqual(await readAsNobody(script, file), { ok: true, value: "v" });
    assert.deepEqual(
      fs.readdirSync(dataDir).filter((n) => n.includes("-lock")),
      [],
      "no reader file",
    );
    // A writer of this version: a reader with nowhere to publish its marks stays out.
    const writer = openDb(file);
    const unpublished = await readAsNobody(script, file);
    assert.equal(unpublished.code, "ERR_LOCKED", String(unpublished.message));
    assert.match(String(unpublished.message), /nowhere to publish its read marks/);
    writer.close();
    opened.length = 0;
    // An older writer (its record without proto=2), in a live process: refused.
    const idle = await idleChild();
    try {
      fs.writeFileSync(`${file}-lock`, `pid=${idle.pid} thread=0\n`);
      const refused = await readAsNobody(script, file);
      assert.equal(refused.code, "ERR_LOCKED", String(refused.message));
    } finally {
      idle.kill();
      await exited(idle);
    }
  });
});
