// NodeFS locking through the public open(): one writer per file whatever its name (symlinks,
// relative paths, hard links refused), in one process and across processes.

import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterEach, beforeEach, describe, test } from "node:test";
import { fileURLToPath } from "node:url";
import { type Database, open } from "../../src/index.js";
import { NodeFS } from "../../src/vfs/node/nodefs.js";
import { throwsCode } from "../pager/pages.js";

const here = path.dirname(fileURLToPath(import.meta.url));
const childScript = path.join(here, "lock-child.js");
const dec = (b: Uint8Array | undefined) =>
  b === undefined ? undefined : new TextDecoder().decode(b);

let dir = "";
const opened: Database[] = [];

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

  test("a writer in another process through a symlink locks out the real name", async () => {
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
      throwsCode(() => open(real, { readOnly: true }), "ERR_LOCKED");
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
