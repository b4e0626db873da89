// `pagekv --version` prints the package's version, from a checkout and from an installed
// package; the main --help lists every command's options, and each command's --help
// lists exactly the options the command accepts.

import * as assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { describe, test } from "node:test";
import { type CommandName, OPTIONS } from "../../src/cli/options.js";
import { HELP } from "../../src/cli/usage.js";
import { withTempDir } from "../tmpdir.js";
import { cli, DIST, ok, ROOT } from "./helpers.js";

const COMMANDS = [
  "put",
  "get",
  "del",
  "scan",
  "load",
  "stats",
  "check",
  "dump",
  "backup",
  "salvage",
  "compact",
  "demo",
];
const VERSION = (
  JSON.parse(fs.readFileSync(path.join(ROOT, "package.json"), "utf8")) as {
    version: string;
  }
).version;

/** The --flags a help text names. */
function flagsIn(text: string): Set<string> {
  return new Set(text.match(/--[a-z][a-z-]*/g) ?? []);
}

/** The summary's line(s) for `name`: from its entry to the next command's. */
function summaryOf(name: string): string {
  const summary = ok(["--help"]);
  const start = summary.search(new RegExp(`^ {2}${name} `, "m"));
  assert.ok(start >= 0, `no summary line for ${name}`);
  const rest = summary.slice(start + 1);
  const next = rest.search(/^ {2}[a-z]+ /m);
  return next === -1 ? rest : rest.slice(0, next);
}

describe("--version", () => {
  test("prints the version in package.json", () => {
    assert.equal(ok(["--version"]), `${VERSION}\n`);
    assert.match(ok(["--help"]), /--version/);
  });

  test("works from an installed package, through the bin's symlink", () =>
    withTempDir((dir) => {
      const pkg = path.join(dir, "node_modules", "pagekv");
      fs.mkdirSync(pkg, { recursive: true });
      fs.copyFileSync(path.join(ROOT, "package.json"), path.join(pkg, "package.json"));
      fs.cpSync(DIST, path.join(pkg, "dist"), { recursive: true });
      const bin = path.join(dir, "node_modules", ".bin");
      fs.mkdirSync(bin);
      fs.symlinkSync("../pagekv/dist/cli/main.js", path.join(bin, "pagekv"));
      for (const main of [path.join(pkg, "dist/cli/main.js"), path.join(bin, "pagekv")]) {
        const r = spawnSync(process.execPath, [main, "--version"], { cwd: dir, encoding: "utf8" });
        assert.equal(r.stderr, "");
        assert.equal(r.status, 0);
        assert.equal(r.stdout, `${VERSION}\n`);
      }
    }));
});

describe("--help", () => {
  test("the summary lists every option of every command", () => {
    const summary = ok(["--help"]);
    const common =
      /^options of every command that opens a database \(all but salvage and demo\):\n((?: {2}.*\n)+)/m.exec(
        summary,
      );
    const commonFlags = common === null ? new Set<string>() : flagsIn(common[1]);
    for (const name of COMMANDS) {
      const own = flagsIn(ok([name, "--help"]));
      const listed = flagsIn(summaryOf(name));
      if (name !== "demo" && name !== "salvage") for (const flag of commonFlags) listed.add(flag);
      for (const flag of own) {
        assert.ok(listed.has(flag), `pagekv --help: ${name} does not list ${flag}`);
      }
    }
    assert.match(summaryOf("demo"), /--file/);
    assert.match(summaryOf("scan"), /--reverse/);
  });

  test("each command's help names exactly the options the command parses", () => {
    for (const name of COMMANDS) {
      const parsed = Object.keys(OPTIONS[name as CommandName]).map((o) => `--${o}`);
      assert.deepEqual([...flagsIn(HELP[name as CommandName])].sort(), parsed.sort(), name);
    }
  });

  test("each option a command's help names is accepted by the command", () =>
    withTempDir((dir) => {
      const db = path.join(dir, "a.pkv");
      ok(["put", db, "k", "v"]);
      for (const name of COMMANDS) {
        for (const flag of flagsIn(ok([name, "--help"]))) {
          // Unknown options are usage errors naming the option; a known one fails otherwise.
          const r = cli([name, flag]);
          assert.doesNotMatch(r.err, /Unknown option/, `${name} ${flag}`);
        }
      }
    }));
});
