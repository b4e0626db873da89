// `pagekv demo --file X` touches only its own demo database: it refuses any other file
// (text or a database of other data) and leaves it untouched, and reuses its own file.

import * as assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { describe, test } from "node:test";
import { open } from "../../src/index.js";
import { withTempDir } from "../tmpdir.js";
import { fails, ok } from "./helpers.js";

const KEYS = "300";

describe("demo --file", () => {
  test("a text file at the path is refused and survives byte for byte", () =>
    withTempDir((dir) => {
      const file = path.join(dir, "notes.txt");
      const text = "my notes\n".repeat(1000);
      fs.writeFileSync(file, text);
      const err = fails(["demo", "--keys", KEYS, "--file", file], "ERR_EXISTS");
      assert.match(err, /notes\.txt/);
      assert.match(err, /not a pagekv demo database/);
      assert.equal(fs.readFileSync(file, "utf8"), text);
      assert.deepEqual(fs.readdirSync(dir), ["notes.txt"]);
    }));

  test("an empty file at the path is refused too", () =>
    withTempDir((dir) => {
      const file = path.join(dir, "empty");
      fs.writeFileSync(file, "");
      fails(["demo", "--keys", KEYS, "--file", file], "ERR_EXISTS");
      assert.equal(fs.readFileSync(file).length, 0);
      assert.deepEqual(fs.readdirSync(dir), ["empty"]);
    }));

  test("a database of other data is refused and unchanged", () =>
    withTempDir((dir) => {
      const file = path.join(dir, "app.pkv");
      ok(["put", file, "user:1", "ada"]);
      const before = fs.readFileSync(file);
      const err = fails(["demo", "--keys", KEYS, "--file", file], "ERR_EXISTS");
      assert.match(err, /app\.pkv/);
      assert.deepEqual(fs.readFileSync(file), before);
      assert.deepEqual(fs.readdirSync(dir), ["app.pkv"]);
      assert.equal(ok(["get", file, "user:1"]), "ada\n");
    }));

  test("an empty database that is not the demo's is refused", () =>
    withTempDir((dir) => {
      const file = path.join(dir, "empty.pkv");
      open(file).close();
      fails(["demo", "--keys", KEYS, "--file", file], "ERR_EXISTS");
    }));

  test("running the demo twice on one file reuses it; a smaller run leaves only its keys", () =>
    withTempDir((dir) => {
      const file = path.join(dir, "demo.pkv");
      assert.match(ok(["demo", "--keys", "2000", "--file", file]), /every key read back/);
      const out = ok(["demo", "--keys", KEYS, "--file", file]);
      assert.match(out, /every key read back as written/);
      assert.match(out, /; 300 keys/);
      assert.equal(ok(["check", file]), `${file}: ok\n`);
      const keys = ok(["scan", file, "--prefix", "key:"]).trimEnd().split("\n");
      assert.equal(keys.length, 300);
      assert.equal(fs.readdirSync(dir).sort().join(","), "demo.pkv");
    }));
});
