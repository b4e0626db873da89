// --recover truncate: a database whose log has a damaged frame that had been synced fails
// with ERR_CORRUPT naming the flag; with the flag it opens at the last good commit and
// says on stderr how many transactions it dropped.

import * as assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { describe, test } from "node:test";
import { walFrameOffset } from "../../src/format/wal-format.js";
import { open } from "../../src/index.js";
import { withTempDir } from "../tmpdir.js";
import { cli, fails, ok } from "./helpers.js";

const PAGE = 4096;

/**
 * A database at `dir`/d.pkv whose log holds six synced one-key commits (k0..k5, sync
 * "full"), as a process killed after them leaves it (the log not checkpointed), with one
 * byte flipped in the page of log frame 3: the third commit's, which later frames count
 * as synced. The files are copied while the writer still has them open.
 */
function damaged(dir: string): string {
  const live = path.join(dir, "live.pkv");
  const db = path.join(dir, "d.pkv");
  const w = open(live, { sync: "full" });
  try {
    for (let i = 0; i < 6; i++) w.put(`k${i}`, `v${i}`);
    fs.copyFileSync(live, db);
    fs.copyFileSync(`${live}-wal`, `${db}-wal`);
  } finally {
    w.close();
  }
  const fd = fs.openSync(`${db}-wal`, "r+");
  try {
    const at = walFrameOffset(3, PAGE) + 40 + 100;
    const b = Buffer.alloc(1);
    fs.readSync(fd, b, 0, 1, at);
    b[0] ^= 0x5a;
    fs.writeSync(fd, b, 0, 1, at);
  } finally {
    fs.closeSync(fd);
  }
  return db;
}

const RECOVERED = "pagekv: recovered: dropped 3 transaction(s) after damaged log frames\n";

describe("--recover truncate", () => {
  test("without the flag: ERR_CORRUPT, and the message names the flag", () =>
    withTempDir((dir) => {
      const db = damaged(dir);
      for (const argv of [
        ["get", db, "k0"],
        ["scan", db],
        ["put", db, "x", "1"],
        ["stats", db],
      ]) {
        const err = fails(argv, "ERR_CORRUPT");
        assert.match(err, /log frame 3 is damaged/);
        assert.match(err, /--recover truncate/, argv.join(" "));
      }
    }));

  test("read-only commands open at the last good commit and report the drop", () =>
    withTempDir((dir) => {
      const db = damaged(dir);
      const get = cli(["get", db, "k1", "--recover", "truncate"]);
      assert.deepEqual(get, { code: 0, out: "v1\n", err: RECOVERED });
      const scan = cli(["scan", "--recover", "truncate", db]);
      assert.deepEqual(scan, { code: 0, out: "k0\tv0\nk1\tv1\n", err: RECOVERED });
      const missing = cli(["get", db, "k4", "--recover", "truncate"]);
      assert.equal(missing.code, 1);
      assert.equal(missing.err.split("\n")[0], RECOVERED.trimEnd());
      assert.match(missing.err, /ERR_KEY_NOT_FOUND/);
      for (const argv of [
        ["stats", db],
        ["check", db],
        ["dump", db, "1"],
      ]) {
        const r = cli([...argv, "--recover", "truncate"]);
        assert.equal(r.code, 0, `${argv.join(" ")}: ${r.err}`);
        assert.equal(r.err, RECOVERED, argv.join(" "));
      }
    }));

  test("a writing command repairs the file: later opens need no flag", () =>
    withTempDir((dir) => {
      const db = damaged(dir);
      const r = cli(["put", db, "k9", "v9", "--recover", "truncate"]);
      assert.deepEqual(r, { code: 0, out: "", err: RECOVERED });
      assert.equal(ok(["scan", db]), "k0\tv0\nk1\tv1\nk9\tv9\n");
    }));

  test("on a healthy database the flag says nothing", () =>
    withTempDir((dir) => {
      const db = path.join(dir, "ok.pkv");
      ok(["put", db, "a", "1"]);
      assert.deepEqual(cli(["get", db, "a", "--recover", "truncate"]), {
        code: 0,
        out: "1\n",
        err: "",
      });
    }));

  test("--recover takes strict or truncate", () =>
    withTempDir((dir) => {
      const db = path.join(dir, "ok.pkv");
      ok(["put", db, "a", "1"]);
      assert.equal(ok(["get", db, "a", "--recover", "strict"]), "1\n");
      const r = cli(["get", db, "a", "--recover", "yes"]);
      assert.equal(r.code, 2);
      assert.match(r.err, /^pagekv: ERR_USAGE: .*--recover/);
    }));
});
