// A reader that closes the pipe early (`pagekv scan db | head -1`) ends the command
// quietly: exit 0, nothing on stderr. Runs the built CLI as a real child process.

import * as assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { describe, test } from "node:test";
import { OutputClosed } from "../../src/cli/io.js";
import { withTempDir } from "../tmpdir.js";
import { cli, MAIN_BUILD, ok } from "./helpers.js";

/** Run `pagekv args | head -1` in sh; the CLI's own exit status and stderr, and head's output. */
function intoHead(dir: string, args: string[]): { rc: number; err: string; out: string } {
  const q = (s: string) => `'${s.replaceAll("'", "'\\''")}'`;
  const rc = path.join(dir, "rc");
  const err = path.join(dir, "err");
  const cmd = `(${q(process.execPath)} ${q(MAIN_BUILD)} ${args.map(q).join(" ")} 2>${q(err)}; echo $? >${q(rc)}) | head -1`;
  const r = spawnSync("sh", ["-c", cmd], { encoding: "utf8" });
  assert.equal(r.status, 0, r.stderr);
  return {
    rc: Number(fs.readFileSync(rc, "utf8").trim()),
    err: fs.readFileSync(err, "utf8"),
    out: r.stdout,
  };
}

describe("a closed stdout", () => {
  test("scan | head -1 exits 0 with an empty stderr", () =>
    withTempDir((dir) => {
      const db = path.join(dir, "big.pkv");
      const input = path.join(dir, "in.tsv");
      const lines = [];
      for (let i = 0; i < 8000; i++)
        lines.push(`k${String(i).padStart(6, "0")}\t${"v".repeat(100)}`);
      fs.writeFileSync(input, `${lines.join("\n")}\n`);
      ok(["load", db, input]);
      const r = intoHead(dir, ["scan", db]);
      assert.equal(r.out, `k000000\t${"v".repeat(100)}\n`);
      assert.equal(r.err, "");
      assert.equal(r.rc, 0);
      const json = intoHead(dir, ["scan", db, "--json"]);
      assert.equal(json.err, "");
      assert.equal(json.rc, 0);
    }));

  test("--help | head -1 exits 0 with an empty stderr", () =>
    withTempDir((dir) => {
      const r = intoHead(dir, ["--help"]);
      assert.match(r.out, /^usage: pagekv/);
      assert.equal(r.err, "");
      assert.equal(r.rc, 0);
    }));

  test("in-process: an out() that reports the reader gone ends the command with exit 0", () =>
    withTempDir((dir) => {
      const db = path.join(dir, "a.pkv");
      ok(["put", db, "k", "v"]);
      let writes = 0;
      const r = cli(["scan", db], false, {
        out: () => {
          writes++;
          throw new OutputClosed();
        },
      });
      assert.deepEqual([r.code, r.err, writes], [0, "", 1]);
      // The database was closed on the way out: a writer can open it.
      ok(["put", db, "k2", "v2"]);
    }));
});
