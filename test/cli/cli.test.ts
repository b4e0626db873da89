// The pagekv CLI, run in-process through run() with captured output: each command's
// happy path, exit codes (0 ok, 1 missing key / failed check / runtime error, 2 usage),
// load formats, scan options and output encodings, dump, check, stats and the demo.

import * as assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { describe, test } from "node:test";
import { open } from "../../src/index.js";
import { withTempDir } from "../tmpdir.js";
import { cli } from "./helpers.js";

/** Run and require exit 0, returning stdout. */
function ok(argv: string[]): string {
  const r = cli(argv);
  assert.equal(r.code, 0, `pagekv ${argv.join(" ")} failed: ${r.err}`);
  return r.out;
}

/** A database in `dir` holding the given TSV lines, loaded through the CLI. */
function loaded(dir: string, lines: string[]): string {
  const db = path.join(dir, "t.pkv");
  const input = path.join(dir, "in.tsv");
  fs.writeFileSync(input, `${lines.join("\n")}\n`);
  ok(["load", db, input]);
  return db;
}

describe("put, get, del", () => {
  test("put creates the file, get prints the value, del removes it", () =>
    withTempDir((dir) => {
      const db = path.join(dir, "a.pkv");
      assert.equal(ok(["put", db, "hello", "world"]), "");
      assert.ok(fs.existsSync(db));
      assert.equal(ok(["get", db, "hello"]), "world\n");
      ok(["put", db, "hello", "again"]);
      assert.equal(ok(["get", db, "hello"]), "again\n");
      assert.equal(ok(["del", db, "hello"]), "");
      const r = cli(["get", db, "hello"]);
      assert.equal(r.code, 1);
      assert.equal(r.out, "");
      assert.match(r.err, /^pagekv: ERR_KEY_NOT_FOUND: .*hello/);
    }));

  test("get and del of a missing key exit 1", () =>
    withTempDir((dir) => {
      const db = path.join(dir, "a.pkv");
      ok(["put", db, "k", "v"]);
      assert.equal(cli(["get", db, "nope"]).code, 1);
      const r = cli(["del", db, "nope"]);
      assert.equal(r.code, 1);
      assert.match(r.err, /ERR_KEY_NOT_FOUND/);
      assert.equal(ok(["get", db, "k"]), "v\n");
    }));

  test("a key starting with '-' is accepted after --", () =>
    withTempDir((dir) => {
      const db = path.join(dir, "a.pkv");
      ok(["put", db, "--", "-k", "v"]);
      assert.equal(ok(["get", db, "--", "-k"]), "v\n");
    }));

  test("a non-printable value prints as hex", () =>
    withTempDir((dir) => {
      const db = path.join(dir, "a.pkv");
      ok(["put", db, "k", "a\tb"]);
      assert.equal(ok(["get", db, "k"]), "0x610962\n");
    }));
});

describe("missing files", () => {
  for (const argv of [
    ["get", "F", "k"],
    ["del", "F", "k"],
    ["scan", "F"],
    ["stats", "F"],
    ["check", "F"],
    ["dump", "F", "2"],
  ]) {
    test(`${argv[0]} on a missing file fails with ERR_NOT_FOUND and creates nothing`, () =>
      withTempDir((dir) => {
        const db = path.join(dir, "missing.pkv");
        const r = cli(argv.map((a) => (a === "F" ? db : a)));
        assert.equal(r.code, 1);
        assert.match(r.err, /^pagekv: ERR_NOT_FOUND: /);
        assert.doesNotMatch(r.err, /ERR_NOT_FOUND: ERR_NOT_FOUND/);
        assert.deepEqual(fs.readdirSync(dir), []);
      }));
  }
});

describe("usage", () => {
  test("bad usage exits 2 with ERR_USAGE on stderr", () =>
    withTempDir((dir) => {
      const db = path.join(dir, "a.pkv");
      ok(["put", db, "k", "v"]);
      for (const argv of [
        [],
        ["frobnicate", db],
        ["get", db],
        ["put", db, "k"],
        ["get"],
        ["get", db, "k", "extra"],
        ["scan", db, "--bogus"],
        ["scan", db, "--limit", "many"],
        ["scan", db, "--limit", "-1"],
        ["scan", db, "--gt"],
        ["load", db, "x", "--batch", "0"],
        ["dump", db, "page"],
        ["dump", db, "0"],
        ["demo", "--keys", "lots"],
      ]) {
        const r = cli(argv);
        assert.equal(r.code, 2, `pagekv ${argv.join(" ")}: ${r.err}`);
        assert.match(r.err, /ERR_USAGE|usage: pagekv/, `pagekv ${argv.join(" ")}`);
        assert.equal(r.out, "");
      }
      assert.equal(ok(["get", db, "k"]), "v\n");
    }));

  test("--help prints the summary, <command> --help the command's options", () => {
    assert.match(ok(["--help"]), /usage: pagekv <command> <file>/);
    for (const name of ["put", "get", "del", "scan", "load", "stats", "check", "dump", "demo"]) {
      assert.match(ok([name, "--help"]), new RegExp(`^usage: pagekv ${name}`));
    }
    assert.match(ok(["scan", "--help"]), /--prefix/);
    assert.match(ok(["load", "-h"]), /--batch/);
  });
});

describe("load", () => {
  test("TSV: key, tab, the rest of the line as the value; blank lines skipped", () =>
    withTempDir((dir) => {
      const db = path.join(dir, "t.pkv");
      const input = path.join(dir, "in.tsv");
      fs.writeFileSync(input, "b\t2\n\na\t1\r\nc\tx\ty\n");
      assert.match(ok(["load", db, input]), /loaded 3 entries/);
      assert.equal(ok(["scan", db]), "a\t1\nb\t2\nc\t0x780979\n");
    }));

  test("JSON lines, with {hex} bytes, in small batches", () =>
    withTempDir((dir) => {
      const db = path.join(dir, "j.pkv");
      const input = path.join(dir, "in.jsonl");
      const lines = [];
      for (let i = 0; i < 250; i++) lines.push(JSON.stringify({ key: `k${i}`, value: `v${i}` }));
      lines.push(JSON.stringify({ key: { hex: "00ff" }, value: { hex: "80" } }));
      fs.writeFileSync(input, `  ${lines.join("\n")}\n`);
      assert.match(ok(["load", db, input, "--batch", "100"]), /loaded 251 entries/);
      assert.equal(ok(["get", db, "k42"]), "v42\n");
      assert.equal(ok(["scan", db, "--limit", "1"]), "0x00ff\t0x80\n");
      assert.equal(ok(["check", db]), `${db}: ok\n`);
    }));

  test("a bad line fails with its line number and exit 1", () =>
    withTempDir((dir) => {
      const db = path.join(dir, "t.pkv");
      const input = path.join(dir, "in.tsv");
      fs.writeFileSync(input, "a\t1\nno tab here\n");
      const r = cli(["load", db, input]);
      assert.equal(r.code, 1);
      assert.match(r.err, /^pagekv: ERR_ARG: .*in\.tsv:2: no tab/);
      const j = path.join(dir, "in.jsonl");
      fs.writeFileSync(j, '{"key": "a", "value": "1"}\n{"key": 5}\n');
      assert.equal(cli(["load", db, j]).code, 1);
    }));

  test("a missing input fails with exit 1", () =>
    withTempDir((dir) => {
      const r = cli(["load", path.join(dir, "t.pkv"), path.join(dir, "nope.tsv")]);
      assert.equal(r.code, 1);
      assert.match(r.err, /ERR_NOT_FOUND/);
    }));

  test("the progress bar is drawn only on a terminal", () =>
    withTempDir((dir) => {
      const db = path.join(dir, "t.pkv");
      const input = path.join(dir, "in.tsv");
      fs.writeFileSync(input, "a\t1\nb\t2\n");
      assert.doesNotMatch(cli(["load", db, input]).err, /\r/);
      const tty = cli(["load", db, input], true);
      assert.equal(tty.code, 0);
      assert.match(tty.err, /\rloading .*\[#+\] 100%/);
    }));
});

describe("scan", () => {
  const keys = ["a", "ab", "abc", "b", "ba", "c"];
  const scan = (db: string, ...opts: string[]) =>
    ok(["scan", db, ...opts])
      .split("\n")
      .filter((l) => l !== "")
      .map((l) => l.split("\t")[0]);

  test("bounds, prefix, reverse and limit", () =>
    withTempDir((dir) => {
      const db = loaded(
        dir,
        keys.map((k) => `${k}\tv-${k}`),
      );
      assert.deepEqual(scan(db), keys);
      assert.deepEqual(scan(db, "--gt", "ab"), ["abc", "b", "ba", "c"]);
      assert.deepEqual(scan(db, "--gte", "ab", "--lt", "b"), ["ab", "abc"]);
      assert.deepEqual(scan(db, "--lte", "b"), ["a", "ab", "abc", "b"]);
      assert.deepEqual(scan(db, "--prefix", "a"), ["a", "ab", "abc"]);
      assert.deepEqual(scan(db, "--prefix", "a", "--gt", "a"), ["ab", "abc"]);
      assert.deepEqual(scan(db, "--reverse"), [...keys].reverse());
      assert.deepEqual(scan(db, "--reverse", "--limit", "2"), ["c", "ba"]);
      assert.deepEqual(scan(db, "--limit", "0"), []);
      assert.equal(ok(["scan", db, "--prefix", "b", "--limit", "1"]), "b\tv-b\n");
      assert.equal(ok(["scan", db, "--prefix", "zz"]), "");
    }));

  test("--json prints JSON lines; bytes that are not UTF-8 as {hex}", () =>
    withTempDir((dir) => {
      const db = path.join(dir, "j.pkv");
      const input = path.join(dir, "in.jsonl");
      fs.writeFileSync(
        input,
        [
          JSON.stringify({ key: { hex: "00ff" }, value: "bin key" }),
          JSON.stringify({ key: "tab", value: "a\tb" }),
          JSON.stringify({ key: "text", value: "héllo" }),
        ].join("\n"),
      );
      ok(["load", db, input]);
      const lines = ok(["scan", db, "--json"]).trimEnd().split("\n");
      assert.deepEqual(
        lines.map((l) => JSON.parse(l)),
        [
          { key: { hex: "00ff" }, value: "bin key" },
          { key: "tab", value: "a\tb" },
          { key: "text", value: "héllo" },
        ],
      );
      // Text output: hex for the non-UTF-8 key and for the control character.
      assert.equal(ok(["scan", db]), "0x00ff\tbin key\ntab\t0x610962\ntext\théllo\n");
      // --json output loads back to the same entries.
      const copy = path.join(dir, "copy.pkv");
      fs.writeFileSync(path.join(dir, "dump.jsonl"), lines.join("\n"));
      ok(["load", copy, path.join(dir, "dump.jsonl")]);
      assert.equal(ok(["scan", copy, "--json"]), ok(["scan", db, "--json"]));
    }));
});

describe("stats, check, dump", () => {
  test("stats prints the tree and pool figures", () =>
    withTempDir((dir) => {
      const db = loaded(dir, ["a\t1", "b\t2", "c\t3"]);
      const out = ok(["stats", db]);
      assert.match(out, /^keys +3$/m);
      assert.match(out, /^tree depth +1$/m);
      assert.match(out, /^tree pages +1 leaf, 0 interior, 0 overflow$/m);
      assert.match(out, /^page size +4096$/m);
      assert.match(out, /^file size +.*\(\d+ bytes\)$/m);
      assert.match(out, /^log size /m);
      assert.match(out, /hit ratio/);
      assert.match(out, /evictions/);
    }));

  test("get, scan, check, stats and dump open read-only: they run beside another reader", () =>
    withTempDir((dir) => {
      const db = loaded(dir, ["a\t1", "b\t2"]);
      const before = fs.readFileSync(db);
      const reader = open(db, { readOnly: true }); // a writer open would be ERR_LOCKED now
      try {
        assert.equal(ok(["get", db, "a"]), "1\n");
        assert.equal(ok(["scan", db]), "a\t1\nb\t2\n");
        ok(["check", db]);
        ok(["stats", db]);
        ok(["dump", db, "1"]);
        assert.equal(cli(["put", db, "c", "3"]).code, 1, "a write is refused meanwhile");
      } finally {
        reader.close();
      }
      assert.deepEqual(fs.readFileSync(db), before);
    }));

  test("check exits 0 on a good file", () =>
    withTempDir((dir) => {
      const db = loaded(dir, ["a\t1", "b\t2"]);
      const r = cli(["check", db]);
      assert.equal(r.code, 0);
      assert.equal(r.out, `${db}: ok\n`);
      assert.equal(r.err, "");
    }));

  test("check exits 1 on a damaged file", () =>
    withTempDir((dir) => {
      const lines = [];
      for (let i = 0; i < 500; i++) lines.push(`key${String(i).padStart(4, "0")}\tvalue ${i}`);
      const db = loaded(dir, lines);
      const root = Number(/^tree root +page (\d+)$/m.exec(ok(["stats", db]))?.[1]);
      assert.ok(root >= 2);
      // Scribble over a page that is not the root: its checksum no longer matches.
      const victim = root === 2 ? 3 : 2;
      const fd = fs.openSync(db, "r+");
      fs.writeSync(fd, Buffer.alloc(64, 0xee), 0, 64, (victim - 1) * 4096 + 100);
      fs.closeSync(fd);
      const r = cli(["check", db]);
      assert.equal(r.code, 1);
      assert.match(r.err, /^pagekv: ERR_(VERIFY|CORRUPT): /);
    }));

  test("dump decodes the root leaf and the header page", () =>
    withTempDir((dir) => {
      const db = loaded(dir, ["apple\tred", "banana\tyellow"]);
      const root = /^tree root +page (\d+)$/m.exec(ok(["stats", db]))?.[1];
      assert.ok(root !== undefined);
      const out = ok(["dump", db, root]);
      assert.match(out, new RegExp(`^page ${root}: leaf$`, "m"));
      assert.match(out, /^cells: 2$/m);
      assert.match(out, /^free bytes: \d+ of 4072$/m);
      assert.match(out, /^right sibling: none$/m);
      assert.match(out, /^ +0 +apple +\(3 bytes\)$/m);
      assert.match(out, /^ +1 +banana +\(6 bytes\)$/m);
      const header = ok(["dump", db, "1"]);
      assert.match(header, /^page 1: header/);
      assert.match(header, new RegExp(`^tree root \\(slot 0\\): ${root}$`, "m"));
    }));

  test("dump of an interior page lists children; a page out of range exits 1", () =>
    withTempDir((dir) => {
      const lines = [];
      for (let i = 0; i < 2000; i++)
        lines.push(`key${String(i).padStart(5, "0")}\t${"x".repeat(50)}`);
      const db = loaded(dir, lines);
      const stats = ok(["stats", db]);
      assert.match(stats, /^tree depth +2$/m);
      const root = /^tree root +page (\d+)$/m.exec(stats)?.[1];
      assert.ok(root !== undefined);
      const out = ok(["dump", db, root]);
      assert.match(out, /: interior$/m);
      assert.match(out, /^ +0 +child \d+ +< key\d+$/m);
      assert.match(out, /^ +right child: \d+$/m);
      const r = cli(["dump", db, "999999"]);
      assert.equal(r.code, 1);
      assert.match(r.err, /^pagekv: ERR_PAGE_RANGE: /);
    }));
});

describe("demo", () => {
  test("a small demo finishes, prints its table and verifies", () =>
    withTempDir((dir) => {
      const file = path.join(dir, "demo.pkv");
      const out = ok(["demo", "--keys", "2000", "--file", file]);
      assert.match(out, /^phase +ops +ms +ops\/s +hit ratio +evictions$/m);
      for (const phase of [/^load/m, /^get, uniform/m, /^get, Zipf/m, /^range scan/m, /^reopen/m]) {
        assert.match(out, phase);
      }
      assert.match(out, /^load.* 2,000 /m);
      assert.match(out, /tree depth \d+;.* 2,000 keys/);
      assert.match(out, /check: ok/);
      assert.match(out, /every key read back as written/);
      assert.equal(ok(["check", file]), `${file}: ok\n`);
      assert.equal(ok(["get", file, "key:000000001999"]).slice(0, 11), "value 1999 ");
    }));
});
