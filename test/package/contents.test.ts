// What `npm pack` ships, as npm itself lists it: the built entry points, their type
// declarations, the CLI, the licence and the README, and nothing of the development tree
// (tests, benchmarks, scripts, build output); and every source map it ships resolves to a
// file it ships (src/ is shipped for them). The dry run skips lifecycle scripts: `npm
// test` has just built dist/.

import * as assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { before, describe, test } from "node:test";
import { npm, repoRoot } from "./pack.js";

/** What every install needs: the entries "exports" and "bin" name, and the licence. */
const REQUIRED = [
  "LICENSE",
  "README.md",
  "package.json",
  "dist/index.js",
  "dist/index.d.ts",
  "dist/level/index.js",
  "dist/level/index.d.ts",
  "dist/cli/main.js",
];

/** Only these root files, and files under these folders, belong in the package. */
const ROOT_FILES = new Set(["LICENSE", "README.md", "package.json"]);
const FOLDERS = ["dist/", "src/"];

let shipped: string[] = [];

before(async () => {
  const r = await npm(["pack", "--dry-run", "--json", "--ignore-scripts"], repoRoot);
  assert.equal(r.status, 0, r.stderr);
  const [report] = JSON.parse(r.stdout) as [{ files: { path: string }[] }];
  shipped = report.files.map((f) => f.path);
  assert.ok(
    fs.existsSync(path.join(repoRoot, "dist", "index.js")),
    "dist is built (npm run build)",
  );
});

describe("npm pack", () => {
  test("ships the entry points, their types, the CLI, LICENSE and the README", () => {
    const missing = REQUIRED.filter((p) => !shipped.includes(p));
    assert.deepEqual(missing, [], `shipped: ${shipped.join(", ")}`);
  });

  test("ships nothing of tests, benchmarks, scripts or build output", () => {
    const stray = shipped.filter(
      (p) => !ROOT_FILES.has(p) && !FOLDERS.some((folder) => p.startsWith(folder)),
    );
    assert.deepEqual(stray, []);
    for (const folder of ["test/", "bench/", "build/", "scripts/", "docs/"]) {
      assert.ok(!shipped.some((p) => p.startsWith(folder)), folder);
    }
  });

  test("the LICENSE is MIT, as package.json says", () => {
    const pkg = JSON.parse(fs.readFileSync(path.join(repoRoot, "package.json"), "utf8")) as {
      license: string;
    };
    assert.equal(pkg.license, "MIT");
    const text = fs.readFileSync(path.join(repoRoot, "LICENSE"), "utf8");
    assert.match(text, /^MIT License\n\nCopyright \(c\) 2026 the pagekv authors\n/);
  });

  test("every shipped source map's sources are shipped files", () => {
    const files = new Set(shipped);
    const maps = shipped.filter((p) => p.endsWith(".map"));
    const unresolved: string[] = [];
    for (const map of maps) {
      const json = JSON.parse(fs.readFileSync(path.join(repoRoot, map), "utf8")) as {
        sourceRoot?: string;
        sources: string[];
      };
      for (const source of json.sources) {
        const resolved = path.posix.join(path.posix.dirname(map), json.sourceRoot ?? "", source);
        if (!files.has(resolved)) unresolved.push(`${map} -> ${source}`);
      }
    }
    assert.deepEqual(unresolved, []);
  });

  test("every sourceMappingURL in a shipped file names a shipped map", () => {
    const files = new Set(shipped);
    const dangling: string[] = [];
    for (const file of shipped.filter((p) => /\.(js|d\.ts)$/.test(p))) {
      const text = fs.readFileSync(path.join(repoRoot, file), "utf8");
      const url = /\/\/# sourceMappingURL=(\S+)\s*$/.exec(text)?.[1];
      if (url === undefined) continue;
      const map = path.posix.join(path.posix.dirname(file), url);
      if (!files.has(map)) dangling.push(`${file} -> ${url}`);
    }
    assert.deepEqual(dangling, []);
  });
});
