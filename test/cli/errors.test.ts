// Every expected failure is one line `pagekv: <code>: <message>` with no stack trace, and
// a failed load leaves no new file behind and says how much it had committed.

import * as assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { describe, test } from "node:test";
import { open } from "../../src/index.js";
import { withTempDir } from "../tmpdir.js";
import { cli, fails, ok } from "./helpers.js";

describe("failures are one line", () => {
  test("load from a directory: ERR_IO naming it, and no database left behind", () =>
    withTempDir((dir) => {
      const input = path.join(dir, "sub");
      fs.mkdirSync(input);
      const err = fails(["load", path.join(dir, "x.pkv"), input], "ERR_IO");
      assert.ok(err.includes(input), err);
      assert.deepEqual(fs.readdirSync(dir), ["sub"]);
    }));

  test("load from a missing input: ERR_NOT_FOUND naming it, nothing created", () =>
    withTempDir((dir) => {
      const input = path.join(dir, "nope.tsv");
      const err = fails(["load", path.join(dir, "x.pkv"), input], "ERR_NOT_FOUND");
      assert.ok(err.includes(input), err);
      assert.deepEqual(fs.readdirSync(dir), []);
    }));

  test("a load that fails before its first commit removes the database it created", () =>
    withTempDir((dir) => {
      const input = path.join(dir, "in.tsv");
      fs.writeFileSync(input, "a\t1\nno tab\n");
      const err = fails(["load", path.join(dir, "x.pkv"), input], "ERR_ARG");
      assert.match(err, /in\.tsv:2: no tab.*; 0 entries committed before it/);
      assert.deepEqual(fs.readdirSync(dir), ["in.tsv"]);
    }));

  test("a load that fails later reports the entries committed before it, which stay", () =>
    withTempDir((dir) => {
      const db = path.join(dir, "x.pkv");
      const input = path.join(dir, "in.tsv");
      const lines = [];
      for (let i = 0; i < 7; i++) lines.push(`k${i}\tv${i}`);
      lines.push("no tab");
      fs.writeFileSync(input, `${lines.join("\n")}\n`);
      const err = fails(["load", db, input, "--batch", "3"], "ERR_ARG");
      assert.match(err, /in\.tsv:8: no tab.*; 6 entries committed before it/);
      assert.equal(ok(["scan", db]).split("\n").length - 1, 6);
    }));

  test("an engine error in a batch names the line that caused it", () =>
    withTempDir((dir) => {
      const db = path.join(dir, "x.pkv");
      const input = path.join(dir, "in.tsv");
      fs.writeFileSync(input, `a\t1\nb\t2\n${"k".repeat(5000)}\tv\n`);
      const err = fails(["load", db, input, "--batch", "2"], "ERR_KEY_TOO_LARGE");
      assert.match(err, /in\.tsv:3: .*; 2 entries committed before it/);
    }));

  test("a failed load into an existing database keeps it", () =>
    withTempDir((dir) => {
      const db = path.join(dir, "x.pkv");
      ok(["put", db, "keep", "me"]);
      const input = path.join(dir, "in.tsv");
      fs.writeFileSync(input, "no tab\n");
      fails(["load", db, input], "ERR_ARG");
      assert.equal(ok(["get", db, "keep"]), "me\n");
    }));

  test("a database path that is a directory is one line, no stack", () =>
    withTempDir((dir) => {
      for (const argv of [
        ["get", dir, "k"],
        ["put", dir, "k", "v"],
        ["stats", dir],
        ["dump", dir, "1"],
      ]) {
        const r = cli(argv);
        assert.equal(r.code, 1, argv.join(" "));
        assert.match(r.err, /^pagekv: ERR_[A-Z_]+: [^\n]+\n$/, argv.join(" "));
      }
    }));

  test("a Node error with an errno code is ERR_IO, one line", () =>
    withTempDir((dir) => {
      const db = path.join(dir, "a.pkv");
      ok(["put", db, "k", "v"]);
      const enospc = Object.assign(new Error("ENOSPC: no space left on device, write"), {
        code: "ENOSPC",
        errno: -28,
        syscall: "write",
      });
      const r = cli(["get", db, "k"], false, {
        out: () => {
          throw enospc;
        },
      });
      assert.equal(r.code, 1);
      assert.equal(r.err, "pagekv: ERR_IO: ENOSPC: no space left on device, write\n");
    }));

  test("a bug is ERR_INTERNAL: one line and a hint to report it, the stack only on request", () =>
    withTempDir((dir) => {
      const db = path.join(dir, "a.pkv");
      ok(["put", db, "k", "v"]);
      const boom = {
        out: () => {
          throw new TypeError("boom");
        },
      };
      const r = cli(["get", db, "k"], false, boom);
      assert.equal(r.code, 1);
      const lines = r.err.trimEnd().split("\n");
      assert.equal(lines.length, 2, r.err);
      assert.equal(lines[0], "pagekv: ERR_INTERNAL: TypeError: boom");
      assert.match(lines[1], /bug in pagekv.*report.*PAGEKV_DEBUG=1/);
      const debug = cli(["get", db, "k"], false, { ...boom, debug: true });
      assert.match(debug.err, /\n {4}at /);
      // The database was closed on the way out.
      open(db).close();
    }));

  test("check of an empty file is ERR_NOT_DATABASE, as open() says it", () =>
    withTempDir((dir) => {
      const db = path.join(dir, "empty.pkv");
      fs.writeFileSync(db, "");
      const err = fails(["check", db], "ERR_NOT_DATABASE");
      assert.match(err, /the file is empty \(0 bytes\)/);
      assert.equal(fs.statSync(db).size, 0);
    }));

  test("check's failure code is ERR_VERIFY", () =>
    withTempDir((dir) => {
      const db = path.join(dir, "a.pkv");
      const lines = [];
      for (let i = 0; i < 500; i++) lines.push(`key${String(i).padStart(4, "0")}\tvalue ${i}`);
      const input = path.join(dir, "in.tsv");
      fs.writeFileSync(input, lines.join("\n"));
      ok(["load", db, input]);
      const root = Number(/^tree root +page (\d+)$/m.exec(ok(["stats", db]))?.[1]);
      const victim = root === 2 ? 3 : 2;
      const fd = fs.openSync(db, "r+");
      fs.writeSync(fd, Buffer.alloc(64, 0xee), 0, 64, (victim - 1) * 4096 + 100);
      fs.closeSync(fd);
      const r = cli(["check", db]);
      assert.equal(r.code, 1);
      assert.match(r.err, /^pagekv: ERR_(VERIFY|CORRUPT): /);
      assert.doesNotMatch(r.err, /ERR_CHECK/);
    }));
});
