// npm run test:runtimes: the compiled tests (build/test) and the README's examples on Bun and
// Deno, each installed on first use from its npm-registry package into a cache outside the
// repository. Node runs every test file first, as the reference; a runtime's results are then
// compared with Node's test by test, so a runner that runs fewer tests, or more, or reads a
// skip as a pass, fails the run as surely as a failing test. Exits 1 on any failure or
// difference. A test-side tool: it lives outside test/ so node --test never runs it.
//
//   npm run test:runtimes [-- --runtime bun|deno] [-- --no-install] [-- PATTERN...]
//
// PATTERNs keep the test files whose path under build/test contains one of them. The cache
// is PAGEKV_RUNTIMES_CACHE, else node_modules/.cache/pagekv-runtimes. Not ~/.cache: a test
// runs the runtime as the user nobody, who cannot reach a binary under root's 0700 home.
// `npm ci` empties node_modules, so CI installs again (from npm's own cache when it has one).

import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import ts from "typescript";
import { isPagekvError, open } from "../src/index.js";

/** The repository root (this file runs as build/scripts/runtimes.js). */
const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const TESTS = path.join(ROOT, "build", "test");
/** Logs and JUnit reports of the last run, per runtime and test file. */
const OUT = path.join(ROOT, "build", "runtimes");
/** Ends a runtime process that hangs: no test file takes a tenth of this on Node. */
const FILE_TIMEOUT_MS = 10 * 60 * 1000;
const EXAMPLE_TIMEOUT_MS = 60 * 1000;
/** Lines of a failing file's log printed before the path of the whole log. */
const LOG_TAIL_LINES = 60;

type Status = "pass" | "fail" | "skip";

/** How a runner's JUnit XML names a test: see parseJunit. */
type JunitShape = "node" | "bun" | "deno";

interface Runtime {
  name: "bun" | "deno";
  version: string;
  /** The npm package holding the binary, and the binary's path inside it, per platform. */
  packages: Record<string, { pkg: string; bin: string }>;
  /** Argv (after the binary) to run one compiled test file, writing JUnit XML to `xml`. */
  testArgs(file: string, xml: string): string[];
  /** Argv (after the binary) to run one TypeScript file. */
  runArgs(file: string): string[];
  /** Environment for every process of this runtime; `cache` is its install directory. */
  env(cache: string): Record<string, string>;
  junit: JunitShape;
  /**
   * Test files (under build/test) not run on this runtime, with the reason. Every other
   * file runs, and must give Node's results test by test.
   */
  excluded: Record<string, string>;
  /** Deno's node:test treats `t.skip()` inside a running test as a no-op: it reads as ok. */
  skipReadsAsPass: boolean;
}

const RUNTIMES: Runtime[] = [
  {
    name: "bun",
    version: "1.4.4",
    packages: { "linux-x64-glibc": { pkg: "@oven/bun-linux-x64", bin: "bin/bun" } },
    // `bun test` runs node:test files with its own runner (describe/test map onto bun:test;
    // `bun file.js` refuses them: "Cannot use test outside of the test runner"). Its default
    // per-test timeout (5 s) is lifted: the model tests run far longer, on Node too.
    testArgs: (file, xml) => [
      "test",
      `--timeout=${FILE_TIMEOUT_MS}`,
      "--reporter=junit",
      `--reporter-outfile=${xml}`,
      file,
    ],
    runArgs: (file) => ["run", file],
    env: () => ({ NO_COLOR: "1" }),
    junit: "bun",
    excluded: {
      "vfs/marks-faults.test.js":
        "it injects EIO by replacing node:fs's writeSync for ESM importers " +
        "(syncBuiltinESMExports), which this runtime's node:fs does not support",
    },
    skipReadsAsPass: false,
  },
  {
    name: "deno",
    version: "2.9.6",
    packages: { "linux-x64-glibc": { pkg: "@deno/linux-x64-glibc", bin: "deno" } },
    // `deno test` maps node:test onto Deno.test (a describe becomes a test with steps).
    // `deno run` of the same file registers the tests and runs none, exiting 0.
    testArgs: (file, xml) => ["test", "-A", `--junit-path=${xml}`, file],
    runArgs: (file) => ["run", "-A", file],
    // Deno's own caches go beside its binary, not to ~/.cache/deno.
    env: (cache) => ({
      NO_COLOR: "1",
      DENO_DIR: path.join(cache, "deno-dir"),
      DENO_NO_UPDATE_CHECK: "1",
      DENO_NO_PROMPT: "1",
    }),
    junit: "deno",
    excluded: {
      "vfs/marks-faults.test.js":
        "it injects EIO by replacing node:fs's writeSync for ESM importers " +
        "(syncBuiltinESMExports), which this runtime's node:fs does not support",
      "cli/pipe.test.js":
        "two of its three tests run `<process.execPath> main.js ... | head -1` through sh; on " +
        "Deno that is `deno main.js` with no permission flags (Deno adds -A only when " +
        "child_process spawns its own binary directly), so the CLI dies on its first " +
        "process.env read (NotCapable). `deno test --filter` selects top-level tests only, " +
        "so the third (in-process) test of the same describe cannot be kept alone",
    },
    skipReadsAsPass: true,
  },
];

// ---- the command line

const USAGE = "usage: test:runtimes [--runtime bun|deno] [--no-install] [PATTERN...]";
const args = parseArgs({
  options: {
    runtime: { type: "string", multiple: true },
    "no-install": { type: "boolean", default: false },
    help: { type: "boolean", default: false },
  },
  allowPositionals: true,
});
if (args.values.help) {
  console.log(USAGE);
  process.exit(0);
}
const wanted = args.values.runtime ?? RUNTIMES.map((r) => r.name);
for (const name of wanted) {
  if (!RUNTIMES.some((r) => r.name === name)) {
    process.stderr.write(`test:runtimes: unknown runtime "${name}"\n${USAGE}\n`);
    process.exit(2);
  }
}
const patterns = args.positionals;

// ---- installing a runtime

/** "linux-x64-glibc", "linux-x64-musl", "darwin-arm64", ...: the key of Runtime.packages. */
function platformKey(): string {
  const base = `${process.platform}-${process.arch}`;
  if (process.platform !== "linux") return base;
  const header = process.report.getReport() as { header?: { glibcVersionRuntime?: string } };
  return `${base}-${header.header?.glibcVersionRuntime === undefined ? "musl" : "glibc"}`;
}

function cacheRoot(): string {
  const set = process.env.PAGEKV_RUNTIMES_CACHE;
  if (set !== undefined && set !== "") return path.resolve(set);
  return path.join(ROOT, "node_modules", ".cache", "pagekv-runtimes");
}

/** The first directory above `file` that other users cannot enter, if any. */
function closedToOthers(file: string): string | undefined {
  for (let dir = path.dirname(file); ; dir = path.dirname(dir)) {
    if ((fs.statSync(dir).mode & 0o001) === 0) return dir;
    if (path.dirname(dir) === dir) return undefined;
  }
}

/** npm itself: the one running this script under `npm run`, else the `npm` on PATH. */
function npmCommand(): [string, string[]] {
  const cli = process.env.npm_execpath;
  if (cli?.endsWith(".js")) return [process.execPath, [cli]];
  return [process.platform === "win32" ? "npm.cmd" : "npm", []];
}

interface Installed {
  runtime: Runtime;
  binary: string;
  /** The install directory, reused by the next run. */
  cache: string;
  versionLine: string;
  installSeconds: number;
}

type InstallOutcome = { ok: Installed } | { skipped: string } | { failed: string };

/**
 * The runtime's binary, installed into `<cache>/<package>@<version>` unless it is there: npm
 * installs into a temporary sibling that is renamed into place, so an interrupted install
 * leaves nothing half there and two runs at once do not collide.
 */
function install(runtime: Runtime, allowInstall: boolean): InstallOutcome {
  const key = platformKey();
  const entry = runtime.packages[key];
  if (entry === undefined) {
    return { skipped: `no npm package of ${runtime.name} is known for ${key}` };
  }
  const spec = `${entry.pkg}@${runtime.version}`;
  const cache = path.join(cacheRoot(), spec.replace("/", "+"));
  const binaryIn = (dir: string) => path.join(dir, "node_modules", entry.pkg, entry.bin);
  const started = performance.now();
  if (!fs.existsSync(binaryIn(cache))) {
    if (!allowInstall) return { failed: `${spec} is not in ${cache} (--no-install)` };
    console.log(`${runtime.name}: installing ${spec} into ${cache}`);
    const tmp = `${cache}.tmp-${process.pid}`;
    fs.rmSync(tmp, { recursive: true, force: true });
    fs.mkdirSync(tmp, { recursive: true });
    const [npm, pre] = npmCommand();
    const r = spawnSync(
      npm,
      [
        ...pre,
        "install",
        "--no-save",
        "--no-package-lock",
        "--no-audit",
        "--no-fund",
        "--ignore-scripts",
        "--prefix",
        tmp,
        spec,
      ],
      { cwd: tmp, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] },
    );
    if (r.status !== 0 || !fs.existsSync(binaryIn(tmp))) {
      fs.rmSync(tmp, { recursive: true, force: true });
      const why = r.error !== undefined ? String(r.error) : `${r.stdout}${r.stderr}`.trim();
      return { failed: `npm install ${spec} failed (exit ${r.status}): ${why}` };
    }
    try {
      fs.renameSync(tmp, cache);
    } catch (e) {
      // Another run put it there first: use theirs.
      fs.rmSync(tmp, { recursive: true, force: true });
      if (!fs.existsSync(binaryIn(cache))) throw e;
    }
  } else {
    console.log(`${runtime.name}: using ${spec} from ${cache}`);
  }
  const binary = binaryIn(cache);
  const v = spawnSync(binary, ["--version"], {
    encoding: "utf8",
    env: { ...process.env, ...runtime.env(cache) },
  });
  const versionLine = `${v.stdout ?? ""}`.split("\n")[0]?.trim() ?? "";
  if (v.status !== 0 || !versionLine.includes(runtime.version)) {
    return {
      failed: `${binary} --version: exit ${v.status}, "${versionLine}" ${v.stderr ?? ""}`.trim(),
    };
  }
  const closed = closedToOthers(fs.realpathSync(binary));
  if (closed !== undefined && process.getuid?.() === 0) {
    console.log(
      `${runtime.name}: note: other users cannot enter ${closed}, so the locking test that ` +
        "runs the runtime as nobody will fail: set PAGEKV_RUNTIMES_CACHE to a directory they can",
    );
  }
  const installSeconds = (performance.now() - started) / 1000;
  return { ok: { runtime, binary, cache, versionLine, installSeconds } };
}

// ---- JUnit XML, as Node, Bun and Deno write it

const ENTITIES: Record<string, string> = { lt: "<", gt: ">", amp: "&", quot: '"', apos: "'" };

function unescapeXml(s: string): string {
  return s.replace(/&(#x[0-9a-fA-F]+|#[0-9]+|[a-z]+);/g, (whole, e: string) => {
    if (e.startsWith("#x")) return String.fromCodePoint(Number.parseInt(e.slice(2), 16));
    if (e.startsWith("#")) return String.fromCodePoint(Number.parseInt(e.slice(1), 10));
    return ENTITIES[e] ?? whole;
  });
}

function attribute(attrs: string, name: string): string | undefined {
  const m = new RegExp(`\\s${name}\\s*=\\s*"([^"]*)"`).exec(attrs);
  return m?.[1] === undefined ? undefined : unescapeXml(m[1]);
}

/** A test's or suite's name. Node 20's reporter escapes a double quote twice (&amp;quot;). */
function nameOf(attrs: string, shape: JunitShape): string {
  const name = attribute(attrs, "name") ?? "";
  return shape === "node" ? name.replaceAll("&quot;", '"') : name;
}

/**
 * The leaf tests of one file's JUnit report, by full name ("describe > test"), in report
 * order; a name seen twice gets " #2". Node nests a <testsuite> per describe; Bun the same
 * inside one <testsuite> for the file; Deno writes flat <testcase>s whose names are already
 * full paths, a describe being a testcase of its own (dropped here: it is not a leaf).
 */
function parseJunit(xml: string, shape: JunitShape): Map<string, Status> {
  const tag =
    /<(\/?)(testsuites|testsuite|testcase|failure|error|skipped)\b((?:\s+[\w:.-]+\s*=\s*"[^"]*")*)\s*(\/?)>/g;
  const suites: string[] = [];
  const found: [string, Status][] = [];
  let current: { name: string; status: Status } | null = null;
  const finish = () => {
    if (current !== null) found.push([current.name, current.status]);
    current = null;
  };
  for (const m of xml.matchAll(tag)) {
    const [, close, element, attrs = "", selfClosing] = m;
    if (element === "testsuite") {
      if (close === "/") suites.pop();
      else if (selfClosing !== "/") suites.push(nameOf(attrs, shape));
    } else if (element === "testcase") {
      if (close === "/") {
        finish();
        continue;
      }
      const within = shape === "deno" ? [] : shape === "bun" ? suites.slice(1) : suites;
      current = { name: [...within, nameOf(attrs, shape)].join(" > "), status: "pass" };
      if (selfClosing === "/") finish();
    } else if (current !== null && close !== "/") {
      if (element === "failure" || element === "error") current.status = "fail";
      else if (element === "skipped" && current.status !== "fail") current.status = "skip";
    }
  }
  finish();
  const names = found.map(([name]) => name);
  const leaves =
    shape === "deno"
      ? found.filter(([name]) => !names.some((other) => other.startsWith(`${name} > `)))
      : found;
  const tests = new Map<string, Status>();
  for (const [name, status] of leaves) {
    let unique = name;
    for (let n = 2; tests.has(unique); n++) unique = `${name} #${n}`;
    tests.set(unique, status);
  }
  return tests;
}

// ---- running one test file

interface FileRun {
  tests: Map<string, Status>;
  /** What went wrong outside any one test: no report, a crash, a timeout, an exit status. */
  problems: string[];
  seconds: number;
  log: string;
}

function counts(tests: Map<string, Status>): Record<Status, number> {
  const c = { pass: 0, fail: 0, skip: 0 };
  for (const s of tests.values()) c[s]++;
  return c;
}

function runFile(
  label: string,
  command: string,
  argv: (file: string, xml: string) => string[],
  env: Record<string, string>,
  rel: string,
  shape: JunitShape,
): FileRun {
  const base = path.join(OUT, label, rel);
  fs.mkdirSync(path.dirname(base), { recursive: true });
  const log = `${base}.log`;
  const xml = `${base}.xml`;
  fs.rmSync(xml, { force: true });
  const fd = fs.openSync(log, "w");
  const started = performance.now();
  let r: ReturnType<typeof spawnSync>;
  try {
    r = spawnSync(command, argv(path.join(TESTS, rel), xml), {
      cwd: ROOT,
      env: { ...process.env, ...env },
      stdio: ["ignore", fd, fd],
      timeout: FILE_TIMEOUT_MS,
    });
  } finally {
    fs.closeSync(fd);
  }
  const seconds = (performance.now() - started) / 1000;
  const problems: string[] = [];
  if (r.error !== undefined) problems.push(`could not run ${command}: ${r.error.message}`);
  if (r.signal !== null) problems.push(`ended by ${r.signal} after ${seconds.toFixed(0)} s`);
  const tests = fs.existsSync(xml) ? parseJunit(fs.readFileSync(xml, "utf8"), shape) : new Map();
  if (!fs.existsSync(xml)) problems.push("wrote no JUnit report");
  const failed = counts(tests).fail;
  if (r.status !== 0 && r.signal === null && failed === 0) {
    problems.push(`exited ${r.status} with no failed test in its report`);
  }
  if (r.status === 0 && failed > 0) problems.push(`exited 0 with ${failed} failed test(s)`);
  if (tests.size === 0) problems.push("reported no test");
  return { tests, problems, seconds, log };
}

/** What a runtime's run of a file differs in from Node's, test by test. */
function differences(
  node: Map<string, Status>,
  got: Map<string, Status>,
  runtime: Runtime,
): { problems: string[]; notes: string[] } {
  const problems: string[] = [];
  const notes: string[] = [];
  for (const [name, want] of node) {
    const status = got.get(name);
    if (status === undefined) problems.push(`not run (Node: ${want}): ${name}`);
    else if (status === "fail") problems.push(`failed: ${name}`);
    else if (status !== want) {
      if (runtime.skipReadsAsPass && want === "skip" && status === "pass") {
        notes.push(`skipped on Node, reads as a pass on ${runtime.name} (t.skip()): ${name}`);
      } else problems.push(`${status} here, ${want} on Node: ${name}`);
    }
  }
  for (const [name, status] of got) {
    if (!node.has(name)) problems.push(`not in Node's run (${status}): ${name}`);
  }
  return { problems, notes };
}

function tail(file: string, lines: number): string {
  const text = fs.readFileSync(file, "utf8").trimEnd().split("\n");
  return text.slice(-lines).join("\n");
}

function line(c: Record<Status, number>): string {
  return `${c.pass} passed, ${c.fail} failed, ${c.skip} skipped`;
}

function reportFile(label: string, rel: string, run: FileRun, extra: string[]): void {
  const c = counts(run.tests);
  const problems = [...run.problems, ...extra];
  console.log(
    `${label.padEnd(5)} ${rel.padEnd(28)} ${line(c).padEnd(34)} ${run.seconds.toFixed(1)} s` +
      (problems.length > 0 ? "  FAILED" : ""),
  );
  for (const p of problems) console.log(`      ${p}`);
  if (problems.length > 0) {
    console.log(`      --- last lines of ${path.relative(ROOT, run.log)}:`);
    console.log(tail(run.log, LOG_TAIL_LINES).replace(/^/gm, "      | "));
  }
}

// ---- the README's examples

/** The README's ```ts blocks, in order. */
function readmeExamples(): string[] {
  const readme = fs.readFileSync(path.join(ROOT, "README.md"), "utf8");
  return [...readme.matchAll(/^```ts\n([\s\S]*?)^```$/gm)].map((m) => m[1] ?? "");
}

/**
 * Put before each example: console.log prints strings as they are, bigints as `1n` and the
 * rest as JSON, so that what the runtimes print compares byte for byte with Node (their own
 * console.log formats objects each in its own way).
 */
const PREAMBLE = `const show = (v: unknown): string =>
  typeof v === "string" ? v : typeof v === "bigint" ? \`\${v}n\` : JSON.stringify(v);
const log = console.log.bind(console);
console.log = (...a: unknown[]): void => log(a.map(show).join(" "));
`;

interface ExampleRun {
  status: number | null;
  stdout: string;
  stderr: string;
}

/** Each example in a fresh folder where `pagekv` and `pagekv/level` resolve to this repo. */
function prepareExamples(): { dir: string; count: number; sources: string[] } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "pagekv-runtimes-"));
  const modules = path.join(dir, "node_modules");
  fs.mkdirSync(modules);
  fs.symlinkSync(ROOT, path.join(modules, "pagekv"), "dir");
  const level = fs.realpathSync(path.join(ROOT, "node_modules", "abstract-level"));
  fs.symlinkSync(level, path.join(modules, "abstract-level"), "dir");
  fs.writeFileSync(path.join(dir, "package.json"), '{ "private": true, "type": "module" }\n');
  const examples = readmeExamples();
  examples.forEach((code, i) => {
    const source = PREAMBLE + code;
    fs.writeFileSync(path.join(dir, `readme-${i + 1}.ts`), source);
    const js = ts.transpileModule(source, {
      compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022 },
    }).outputText;
    fs.writeFileSync(path.join(dir, `readme-${i + 1}.mjs`), js);
  });
  return { dir, count: examples.length, sources: examples };
}

/** Run the examples in order in `<dir>/run-<label>`; the .pkv files they leave, dumped. */
function runExamples(
  dir: string,
  count: number,
  label: string,
  command: string,
  argv: (file: string) => string[],
  env: Record<string, string>,
  ext: "ts" | "mjs",
): { runs: ExampleRun[]; files: Map<string, string> } {
  const cwd = path.join(dir, `run-${label}`);
  fs.mkdirSync(cwd);
  const runs: ExampleRun[] = [];
  for (let i = 1; i <= count; i++) {
    const r = spawnSync(command, argv(path.join(dir, `readme-${i}.${ext}`)), {
      cwd,
      env: { ...process.env, ...env },
      encoding: "utf8",
      timeout: EXAMPLE_TIMEOUT_MS,
    });
    runs.push({ status: r.status, stdout: r.stdout ?? "", stderr: r.stderr ?? String(r.error) });
  }
  const files = new Map<string, string>();
  for (const name of fs.readdirSync(cwd).sort()) {
    if (name.endsWith(".pkv")) files.set(name, dumpOnNode(path.join(cwd, name)));
  }
  return { runs, files };
}

/** A file the examples wrote, read back by Node's engine: its entries and check(). */
function dumpOnNode(file: string): string {
  const hex = (b: Uint8Array) => Buffer.from(b).toString("hex");
  try {
    const db = open(file, { readOnly: true });
    try {
      const entries = [...db.range()].map(([k, v]) => `${hex(k)}=${hex(v)}`);
      return JSON.stringify({ entries, check: db.check() });
    } finally {
      db.close();
    }
  } catch (e) {
    if (isPagekvError(e, "ERR_NOT_DATABASE")) return "(a pagekv file, not a key/value database)";
    return `cannot open: ${e instanceof Error ? e.message : String(e)}`;
  }
}

/** How a runtime's examples differ from Node's: exit status, output, the files left. */
function exampleDifferences(
  node: ReturnType<typeof runExamples>,
  got: ReturnType<typeof runExamples>,
): string[] {
  const problems: string[] = [];
  got.runs.forEach((r, i) => {
    const want = node.runs[i];
    const name = `README example ${i + 1}`;
    if (r.status !== 0) problems.push(`${name}: exit ${r.status}: ${r.stderr.trim()}`);
    else if (want !== undefined && r.stdout !== want.stdout) {
      problems.push(
        `${name}: printed ${JSON.stringify(r.stdout)}, Node ${JSON.stringify(want.stdout)}`,
      );
    }
  });
  const names = new Set([...node.files.keys(), ...got.files.keys()]);
  for (const name of names) {
    const a = node.files.get(name);
    const b = got.files.get(name);
    if (a !== b)
      problems.push(
        `${name} read on Node: ${b ?? "(missing)"}; from Node's run: ${a ?? "(missing)"}`,
      );
  }
  return problems;
}

// ---- main

function testFiles(): string[] {
  if (!fs.existsSync(TESTS)) {
    process.stderr.write(`test:runtimes: no ${TESTS}: run npm run build:test first\n`);
    process.exit(2);
  }
  const all = (fs.readdirSync(TESTS, { recursive: true }) as string[])
    .filter((f) => f.endsWith(".test.js"))
    .map((f) => f.split(path.sep).join("/"))
    .sort();
  return patterns.length === 0 ? all : all.filter((f) => patterns.some((p) => f.includes(p)));
}

interface Summary {
  label: string;
  version: string;
  files: number;
  counts: Record<Status, number>;
  examples: string;
  excluded: number;
  seconds: number;
  failed: boolean;
}

function main(): number {
  const files = testFiles();
  if (files.length === 0) {
    process.stderr.write(`test:runtimes: no test file matches ${patterns.join(" ")}\n`);
    return 2;
  }
  const installed: Installed[] = [];
  /** What failed, one entry per file or check: the run fails if any. */
  const failures: string[] = [];
  const skippedRuntimes: string[] = [];
  for (const runtime of RUNTIMES.filter((r) => wanted.includes(r.name))) {
    const outcome = install(runtime, !args.values["no-install"]);
    if ("ok" in outcome) {
      const i = outcome.ok;
      console.log(
        `${runtime.name}: ${i.versionLine} at ${i.binary} (ready in ${i.installSeconds.toFixed(1)} s)`,
      );
      installed.push(i);
    } else if ("skipped" in outcome) {
      console.log(`${runtime.name}: SKIPPED: ${outcome.skipped}`);
      skippedRuntimes.push(runtime.name);
    } else {
      console.log(`${runtime.name}: FAILED: ${outcome.failed}`);
      failures.push(`${runtime.name} install`);
    }
  }
  fs.rmSync(OUT, { recursive: true, force: true });
  console.log(`logs and JUnit reports: ${path.relative(ROOT, OUT)}/`);

  // Node, the reference, runs every file some runtime runs.
  const needed = files.filter((f) => installed.some((i) => !(f in i.runtime.excluded)));
  const reference = new Map<string, FileRun>();
  const summaries: Summary[] = [];
  let started = performance.now();
  const nodeCounts = { pass: 0, fail: 0, skip: 0 };
  for (const rel of needed) {
    const run = runFile(
      "node",
      process.execPath,
      (file, xml) => [
        "--test",
        "--test-reporter=spec",
        "--test-reporter-destination=stdout",
        "--test-reporter=junit",
        `--test-reporter-destination=${xml}`,
        file,
      ],
      {},
      rel,
      "node",
    );
    const extra = [...run.tests].filter(([, s]) => s === "fail").map(([n]) => `failed: ${n}`);
    reportFile("node", rel, run, extra);
    if (run.problems.length > 0 || extra.length > 0) failures.push(`node ${rel}`);
    const c = counts(run.tests);
    for (const s of ["pass", "fail", "skip"] as const) nodeCounts[s] += c[s];
    reference.set(rel, run);
  }
  const examples = prepareExamples();
  const nodeExamples = runExamples(
    examples.dir,
    examples.count,
    "node",
    process.execPath,
    (f) => [f],
    {},
    "mjs",
  );
  const nodeExampleProblems = nodeExamples.runs
    .map((r, i) =>
      r.status === 0 ? "" : `README example ${i + 1} on Node: exit ${r.status}: ${r.stderr}`,
    )
    .filter((p) => p !== "");
  // The examples this run promises: a key/value one and a pager one, at the least.
  for (const [what, mark] of [
    ["open()", /\bopen\(/],
    ["the Pager", /\bPager\.create\(/],
  ] as const) {
    if (!examples.sources.some((code) => mark.test(code))) {
      nodeExampleProblems.push(`the README has no \`\`\`ts example of ${what}`);
    }
  }
  for (const p of nodeExampleProblems) console.log(`node  ${p}`);
  if (nodeExampleProblems.length > 0) failures.push("node README examples");
  summaries.push({
    label: "node (reference)",
    version: process.version,
    files: needed.length,
    counts: nodeCounts,
    examples: `${examples.count - nodeExampleProblems.length}/${examples.count} ran`,
    excluded: 0,
    seconds: (performance.now() - started) / 1000,
    failed: failures.some((f) => f.startsWith("node ")),
  });

  for (const i of installed) {
    const { runtime } = i;
    started = performance.now();
    const env = runtime.env(i.cache);
    const total = { pass: 0, fail: 0, skip: 0 };
    let runtimeFailed = false;
    const ran = files.filter((f) => !(f in runtime.excluded));
    for (const rel of files.filter((f) => f in runtime.excluded)) {
      console.log(`${runtime.name.padEnd(5)} ${rel.padEnd(28)} EXCLUDED: ${runtime.excluded[rel]}`);
    }
    for (const rel of ran) {
      const run = runFile(runtime.name, i.binary, runtime.testArgs, env, rel, runtime.junit);
      const node = reference.get(rel);
      const diff =
        node === undefined
          ? { problems: [], notes: [] }
          : differences(node.tests, run.tests, runtime);
      reportFile(runtime.name, rel, run, diff.problems);
      for (const n of diff.notes) console.log(`      note: ${n}`);
      if (run.problems.length > 0 || diff.problems.length > 0) {
        runtimeFailed = true;
        failures.push(`${runtime.name} ${rel}`);
      }
      const c = counts(run.tests);
      for (const s of ["pass", "fail", "skip"] as const) total[s] += c[s];
    }
    const got = runExamples(
      examples.dir,
      examples.count,
      runtime.name,
      i.binary,
      runtime.runArgs,
      env,
      "ts",
    );
    const exampleProblems = exampleDifferences(nodeExamples, got);
    console.log(
      `${runtime.name.padEnd(5)} README examples: ${got.runs.length} run as TypeScript, ` +
        (exampleProblems.length === 0
          ? `output as on Node; the ${got.files.size} .pkv files they wrote read on Node as ` +
            "Node's own"
          : "FAILED"),
    );
    for (const p of exampleProblems) console.log(`      ${p}`);
    if (exampleProblems.length > 0) {
      runtimeFailed = true;
      failures.push(`${runtime.name} README examples`);
    }
    summaries.push({
      label: runtime.name,
      version: runtime.version,
      files: ran.length,
      counts: total,
      examples:
        exampleProblems.length === 0
          ? `${got.runs.length}/${got.runs.length} as on Node`
          : `FAILED (${exampleProblems.length})`,
      excluded: files.length - ran.length,
      seconds: (performance.now() - started) / 1000,
      failed: runtimeFailed,
    });
  }
  fs.rmSync(examples.dir, { recursive: true, force: true });

  console.log("");
  console.log(
    `${"runtime".padEnd(17)} ${"version".padEnd(8)} files  excluded  ${"tests".padEnd(34)} README examples     time`,
  );
  for (const s of summaries) {
    console.log(
      `${s.label.padEnd(17)} ${s.version.padEnd(8)} ${String(s.files).padStart(5)}  ` +
        `${String(s.excluded).padStart(8)}  ${line(s.counts).padEnd(34)} ${s.examples.padEnd(19)} ` +
        `${s.seconds.toFixed(0)} s${s.failed ? "  FAILED" : ""}`,
    );
  }
  for (const name of skippedRuntimes)
    console.log(`${name.padEnd(17)} skipped: no package for this platform`);
  // The closing line counts the tests of Bun and Deno, not Node's reference run.
  const all = { pass: 0, fail: 0, skip: 0 };
  for (const s of summaries.slice(1))
    for (const k of ["pass", "fail", "skip"] as const) all[k] += s.counts[k];
  console.log(`runtimes: ${all.pass} passed, ${all.fail} failed, ${all.skip} skipped`);
  if (failures.length > 0) console.log(`runtimes: FAILED: ${failures.join(", ")}`);
  return failures.length > 0 ? 1 : 0;
}

process.exitCode = main();
