// The package as a user gets it: `npm pack` of a fresh clone (no dist/: `prepare` must
// build it) gives a tarball that, extracted into a consumer's node_modules, type-checks
// "pagekv" and "pagekv/level" under TypeScript's node16, nodenext, bundler and node10
// module resolution, runs, runs its CLI, and runs the README's examples in order in one
// folder. A control proves the type check can fail: names the package lacks do not compile.

import * as assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { after, before, describe, test } from "node:test";
import {
  copyAsClone,
  extractTo,
  makeTempDir,
  nodeModules,
  npm,
  type Run,
  readTarball,
  removeDir,
  repoRoot,
  run,
  tsc,
} from "./pack.js";

/** A consumer's use of both entries, with types; prints what it read. */
const USE_TS = `import { type Database, type DbStats, open } from "pagekv";
import { PagekvLevel, type PagekvLevelOptions } from "pagekv/level";

const db: Database = open("use.pkv", { cacheBytes: 1 << 20, sync: "normal" });
db.put("k", "v");
const value: Uint8Array | undefined = db.get("k");
const stats: DbStats = db.stats();
db.close();

const options: PagekvLevelOptions<string, { n: number }> = { valueEncoding: "json" };
const level = new PagekvLevel<string, { n: number }>("use-level.pkv", options);
await level.put("k", { n: 1 });
const got: { n: number } | undefined = await level.get("k");
await level.close();

export function neverCalled(): void {
  // @ts-expect-error: sync is "full" | "normal" | "off": the types are real, not any
  open("never.pkv", { sync: true });
}

console.log(JSON.stringify({ value: new TextDecoder().decode(value), got, pageSize: stats.pageSize }));
`;

/** The control: names neither entry exports. */
const WRONG_TS = `import { openDatabaseNotExported } from "pagekv";
import { PagekvLevelNotExported } from "pagekv/level";
console.log(openDatabaseNotExported, PagekvLevelNotExported);
`;

/** TypeScript's module settings a consumer may use; module is what each requires. */
const SETTINGS = {
  node16: "node16",
  nodenext: "nodenext",
  bundler: "esnext",
  node10: "esnext",
} as const;
type Setting = keyof typeof SETTINGS;

/** The README's ```ts blocks, in order. */
function readmeExamples(): string[] {
  const readme = fs.readFileSync(path.join(repoRoot, "README.md"), "utf8");
  return [...readme.matchAll(/^```ts\n([\s\S]*?)^```$/gm)].map((m) => m[1] ?? "");
}

let tmp = "";
let app = "";
let entries: string[] = [];
const checks = new Map<string, Promise<Run>>();

/**
 * nodenext also checks the declarations (pagekv's, and the @types/node they use) and emits
 * JavaScript to run; the other settings check resolution and use only, to save time.
 */
function tsconfig(name: string, setting: Setting, files: string[], full: boolean): string {
  const compilerOptions = {
    target: "ES2022",
    lib: ["ES2022"],
    types: ["node"],
    module: SETTINGS[setting],
    moduleResolution: setting,
    strict: true,
    skipLibCheck: !full,
    ...(full ? { outDir: "out" } : { noEmit: true }),
  };
  const file = `tsconfig.${name}.json`;
  fs.writeFileSync(path.join(app, file), JSON.stringify({ compilerOptions, files }));
  return file;
}

/** Start a type check now (they run side by side); its test awaits the result. */
function startCheck(name: string, setting: Setting, files: string[], full = false): void {
  const p = tsc(["-p", tsconfig(name, setting, files, full)], app);
  p.catch(() => {}); // awaited by its test; no unhandled rejection meanwhile
  checks.set(name, p);
}

async function check(name: string): Promise<Run> {
  const p = checks.get(name);
  assert.ok(p !== undefined, name);
  return p;
}

/** The nodenext check's output file (tsc emits despite type errors: each test stands alone). */
async function emitted(file: string): Promise<void> {
  const r = await check("nodenext");
  assert.ok(fs.existsSync(path.join(app, "out", file)), `${file}: ${r.stdout}${r.stderr}`);
}

before(async () => {
  tmp = makeTempDir();
  const clone = path.join(tmp, "clone");
  copyAsClone(clone);
  assert.ok(!fs.existsSync(path.join(clone, "dist")));
  const packed = await npm(["pack", "--json", "--pack-destination", tmp], clone);
  assert.equal(packed.status, 0, packed.stderr);
  const [report] = JSON.parse(packed.stdout) as [{ filename: string }];
  const tarball = readTarball(path.join(tmp, report.filename));
  entries = tarball.map((e) => e.path);

  app = path.join(tmp, "app");
  const modules = path.join(app, "node_modules");
  extractTo(tarball, path.join(modules, "pagekv"));
  fs.mkdirSync(path.join(modules, "@types"), { recursive: true });
  for (const dep of ["abstract-level", "@types/node"]) {
    fs.symlinkSync(path.join(nodeModules, dep), path.join(modules, dep), "dir");
  }
  fs.writeFileSync(path.join(app, "package.json"), '{ "private": true, "type": "module" }\n');
  fs.writeFileSync(path.join(app, "use.ts"), USE_TS);
  fs.writeFileSync(path.join(app, "wrong.ts"), WRONG_TS);
  const examples = readmeExamples().map((code, i) => {
    const file = `readme-${i + 1}.ts`;
    fs.writeFileSync(path.join(app, file), code);
    return file;
  });
  for (const setting of Object.keys(SETTINGS) as Setting[]) {
    startCheck(setting, setting, ["use.ts", ...examples], setting === "nodenext");
  }
  startCheck("wrong", "nodenext", ["wrong.ts"]);
});

after(() => {
  if (tmp !== "") removeDir(tmp);
});

describe("npm pack of a fresh clone", () => {
  test("builds dist/ (prepare) and ships it with the types, the CLI and LICENSE", () => {
    for (const p of ["dist/index.js", "dist/index.d.ts", "dist/level/index.js"]) {
      assert.ok(entries.includes(`package/${p}`), `${p} in ${entries.join(", ")}`);
    }
    for (const p of ["dist/level/index.d.ts", "dist/cli/main.js", "LICENSE", "README.md"]) {
      assert.ok(entries.includes(`package/${p}`), p);
    }
  });
});

describe("a TypeScript consumer of the installed tarball", () => {
  for (const setting of Object.keys(SETTINGS) as Setting[]) {
    test(`compiles with moduleResolution ${setting}`, async () => {
      const r = await check(setting);
      assert.equal(r.status, 0, r.stdout + r.stderr);
    });
  }

  test("fails to compile an import of names the package does not export (control)", async () => {
    const r = await check("wrong");
    assert.notEqual(r.status, 0);
    assert.match(r.stdout, /wrong\.ts.*error TS\d+:.*openDatabaseNotExported/);
    assert.match(r.stdout, /wrong\.ts.*error TS\d+:.*PagekvLevelNotExported/);
  });

  test("runs both entries from the installed package", async () => {
    await emitted("use.js");
    const cwd = fs.mkdtempSync(path.join(app, "use-"));
    const r = await run(process.execPath, [path.join(app, "out", "use.js")], cwd);
    assert.equal(r.status, 0, r.stderr);
    assert.deepEqual(JSON.parse(r.stdout), { value: "v", got: { n: 1 }, pageSize: 4096 });
  });

  test("runs the installed CLI", async () => {
    const cli = path.join(app, "node_modules", "pagekv", "dist", "cli", "main.js");
    const cwd = fs.mkdtempSync(path.join(app, "cli-"));
    const put = await run(process.execPath, [cli, "put", "cli.pkv", "k", "v"], cwd);
    assert.equal(put.status, 0, put.stderr);
    const get = await run(process.execPath, [cli, "get", "cli.pkv", "k"], cwd);
    assert.deepEqual([get.status, get.stdout], [0, "v\n"]);
  });

  test("runs the README's examples in order in one folder", async () => {
    const count = readmeExamples().length;
    assert.ok(count >= 3, `${count} examples`);
    await emitted(`readme-${count}.js`);
    const cwd = fs.mkdtempSync(path.join(app, "readme-"));
    for (let i = 1; i <= count; i++) {
      const r = await run(process.execPath, [path.join(app, "out", `readme-${i}.js`)], cwd);
      assert.equal(r.status, 0, `README example ${i}: ${r.stderr}`);
    }
  });
});
