// `pagekv compact <file>`: gives free pages back (db.compact(): docs/design/compact.md),
// prints the figures (or one JSON object), needs the writer's lock, and refuses what is
// not a database with the usual typed errors.

import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { test } from "node:test";
import { open } from "../../src/index.js";
import { withTempDir } from "../tmpdir.js";
import { cli, fails, ok } from "./helpers.js";

/** A database with 3000 keys of which all but every 10th were deleted again. */
function thinned(file: string): void {
  const db = open(file, { pageSize: 1024, sync: "off" });
  const keys = Array.from(
    { length: 3000 },
    (_, i) => `key${((i * 7919) % 3000).toString().padStart(5, "0")}`,
  );
  db.batch(keys.map((k, i) => ({ type: "put", key: k, value: `${i}:${"v".repeat(80)}` })));
  db.batch(keys.filter((_, i) => i % 10 !== 0).map((k) => ({ type: "del", key: k })));
  db.close();
}

test("compact cuts the file to its live pages, prints the figures, and the data and check stay", () => {
  withTempDir((dir) => {
    const file = path.join(dir, "c.pkv");
    thinned(file);
    const before = fs.statSync(file).size;
    const scan = ok(["scan", file]);
    const out = ok(["compact", file]);
    const after = fs.statSync(file).size;
    assert.ok(after < before / 3, `${before} -> ${after}`);
    const m =
      /^(.+): (\d+) -> (\d+) pages \((\d+) moved, (\d+) leaves merged, (\d+) transactions\); file .+ -> .+\n$/.exec(
        out,
      );
    assert.ok(m !== null, out);
    assert.equal(m[1], file);
    assert.equal(Number(m[2]) * 1024, before);
    assert.equal(Number(m[3]) * 1024, after);
    assert.equal(ok(["scan", file]), scan);
    assert.equal(ok(["check", file]), `${file}: ok\n`);
    // Again: nothing left to do.
    const json = JSON.parse(ok(["compact", file, "--json"]));
    assert.equal(json.file, file);
    assert.equal(json.pagesBefore, json.pagesAfter);
    assert.equal(json.pagesMoved, 0);
    assert.equal(json.transactions, 0);
    assert.equal(json.bytesAfter, after);
    assert.equal(json.fileCut, true);
  });
});

test("compact needs the writer's lock, a database, and exactly one file", () => {
  withTempDir((dir) => {
    const file = path.join(dir, "l.pkv");
    thinned(file);
    const db = open(file);
    try {
      fails(["compact", file], "ERR_LOCKED");
    } finally {
      db.close();
    }
    fails(["compact", path.join(dir, "missing.pkv")], "ERR_NOT_FOUND");
    assert.equal(cli(["compact"]).code, 2);
    assert.equal(cli(["compact", file, "extra"]).code, 2);
    assert.match(ok(["compact", "--help"]), /^usage: pagekv compact <file>/);
  });
});
