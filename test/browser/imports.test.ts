// The browser build loads in a browser as it is: the static import graph of
// dist/browser.js (parsed from the emitted ES modules) holds only relative ./x.js modules
// inside dist/, never a node: module, never dist/vfs/node/ and never the Node entry.

import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..", "..");
const dist = path.join(repoRoot, "dist");

/** The specifiers of a module's static imports and re-exports (and dynamic imports). */
export function specifiers(source: string): string[] {
  const out: string[] = [];
  // Comments could hide or fake an import: drop them first (tsc's output has no strings
  // containing comment markers in import position).
  const code = source.replace(/\/\*[\s\S]*?\*\//g, "").replace(/^\s*\/\/.*$/gm, "");
  const re =
    /(?:^|[;\s])(?:import|export)\s*(?:[\w*${}\s,]+?\s*from\s*)?["']([^"']+)["']|import\s*\(\s*["']([^"']+)["']\s*\)/g;
  for (const m of code.matchAll(re)) out.push(m[1] ?? m[2] ?? "");
  return out;
}

/** Every module reachable from `entry`, with the problems found on the way. */
function walk(entry: string): { modules: string[]; problems: string[] } {
  const seen = new Set<string>();
  const problems: string[] = [];
  const todo = [entry];
  while (todo.length > 0) {
    const file = todo.pop() as string;
    if (seen.has(file)) continue;
    seen.add(file);
    const rel = path.relative(dist, file);
    for (const spec of specifiers(fs.readFileSync(file, "utf8"))) {
      if (spec.startsWith("node:")) {
        problems.push(`${rel} imports ${spec}`);
        continue;
      }
      if (!spec.startsWith("./") && !spec.startsWith("../")) {
        problems.push(`${rel} imports the bare specifier "${spec}" (a browser cannot load it)`);
        continue;
      }
      if (!spec.endsWith(".js")) problems.push(`${rel} imports "${spec}" without .js`);
      const target = path.resolve(path.dirname(file), spec);
      const trel = path.relative(dist, target);
      if (trel.startsWith("..")) problems.push(`${rel} imports "${spec}", outside dist/`);
      if (trel.startsWith(`vfs${path.sep}node${path.sep}`)) problems.push(`${rel} imports ${trel}`);
      if (trel === "index.js") problems.push(`${rel} imports the Node entry index.js`);
      if (!fs.existsSync(target)) problems.push(`${rel} imports "${spec}", which is not built`);
      else todo.push(target);
    }
  }
  return { modules: [...seen].map((f) => path.relative(dist, f)).sort(), problems };
}

test("the parser finds every import and re-export form tsc emits", () => {
  const src = [
    'import { a } from "./a.js";',
    'import * as b from "node:fs";',
    'export { c } from "./c.js";',
    'export * from "./d.js";',
    'import "./e.js";',
    "const f = await import('./f.js');",
    '// import { g } from "./commented.js";',
    'import {\n  h,\n  i,\n} from "../h.js";',
  ].join("\n");
  assert.deepEqual(specifiers(src).sort(), [
    "../h.js",
    "./a.js",
    "./c.js",
    "./d.js",
    "./e.js",
    "./f.js",
    "node:fs",
  ]);
});

test("dist/browser.js reaches no node: module, no vfs/node and not the Node entry", () => {
  const entry = path.join(dist, "browser.js");
  assert.ok(fs.existsSync(entry), "dist/browser.js is built (npm run build)");
  const { modules, problems } = walk(entry);
  assert.deepEqual(problems, []);
  // The walk did reach the engine (not a vacuous pass) and the OPFS VFS.
  for (const m of ["db/db.js", "pager/pager.js", "vfs/browser/opfs.js", "format/crc32.js"]) {
    assert.ok(modules.includes(m.split("/").join(path.sep)), `the graph includes ${m}`);
  }
});

test("the walk does fail on the Node entry's graph (the check can fail)", () => {
  const { problems } = walk(path.join(dist, "index.js"));
  assert.ok(
    problems.some((p) => p.includes("node:fs")),
    `index.js's graph imports node:fs: ${problems.join("; ")}`,
  );
});

test("package.json exports pagekv/browser with its types", () => {
  const pkg = JSON.parse(fs.readFileSync(path.join(repoRoot, "package.json"), "utf8")) as {
    exports: Record<string, { types: string; import: string }>;
  };
  assert.deepEqual(pkg.exports["./browser"], {
    types: "./dist/browser.d.ts",
    import: "./dist/browser.js",
  });
  assert.ok(fs.existsSync(path.join(dist, "browser.d.ts")));
});
