// abstract-level's own compliance suite, run whole against PagekvLevel: tape runs it in a
// private harness whose object stream we collect, and one node:test test fails if any
// assertion failed or the suite did not finish. What the suite skips, it skips by itself
// from db.supports (the manifest); nothing is excluded here. The manifest claims implicit
// and explicit snapshots, so the suite's snapshot tests run (and its "no snapshot" tests
// do not): a few of them, named below, must be among the tests run.
//
// Each database the suite makes (about 850) lives in its own MemFS: nothing to clean up,
// and fast. They keep the default sync: "full", so writes take the shipped durable path
// (a MemFS sync is cheap), but get the smallest buffer pool (cacheBytes: 0, raised to the
// tree's minimum): allocating the then-default 8 MiB pool per database tripled the run
// time (the default is now 256 MiB, its frames made as pages come in), and a tiny pool makes
// the suite exercise eviction too. PAGEKV_LEVEL_SUITE_FS=node runs
// the same suite on NodeFS instead, one file per database in one temp dir, removed
// afterwards.

import assert from "node:assert/strict";
import * as fs from "node:fs";
import { createRequire } from "node:module";
import * as os from "node:os";
import * as path from "node:path";
import { test } from "node:test";
import tape from "tape";
import { PagekvLevel, type PagekvLevelOptions } from "../../src/level/index.js";
import { MemFS } from "../../src/vfs/memfs.js";

/** The suite gives up (and the test fails) if tape has not finished by then. */
const SUITE_TIMEOUT_MS = 120_000;
/** At most this many failed assertions are listed in the failure message. */
const FAILURES_SHOWN_MAX = 20;
/** Each expected/actual value in that list is cut to this many characters. */
const DETAIL_CHARS_MAX = 160;

/**
 * Tests of abstract-level's suite that run only when the manifest claims snapshots: from
 * iterator-snapshot-test.js and iterator-seek-test.js (implicitSnapshots) and from
 * iterator-explicit-snapshot-test.js (explicitSnapshots).
 */
const SNAPSHOT_TESTS = [
  "delete key after snapshotting",
  "iterator().seek() respects snapshot (reverse: true, deferred: false)",
  "get() changed entry from snapshot",
  "iterator(), keys(), values() with snapshot",
  "clear() entries from snapshot",
  "get() after closing snapshot",
  "snapshot is closed on database close",
];
/** A test of the suite that runs only when the manifest claims no implicit snapshots. */
const NO_SNAPSHOT_TEST = "delete key after creating iterator";

const cut = (x: unknown) => {
  const s = JSON.stringify(x) ?? String(x);
  return s.length > DETAIL_CHARS_MAX ? `${s.slice(0, DETAIL_CHARS_MAX)}...` : s;
};

type Options = PagekvLevelOptions<unknown, unknown>;

/** abstract-level/test's entry (the package ships no types for it). */
type Suite = (options: {
  test: tape.Harness;
  factory: (options?: Options) => PagekvLevel<unknown, unknown>;
}) => void;

interface Tally {
  tests: number;
  testsSkipped: number;
  asserts: number;
  passed: number;
  failed: string[];
  skipped: number;
  todo: number;
  done: boolean;
}

/** Count one row of tape's object stream into `tally`; `names` maps test ids to names. */
function count(row: unknown, tally: Tally, names: Map<number, string>): void {
  if (row === null || typeof row !== "object") return; // comments arrive as strings
  const r = row as Record<string, unknown>;
  if (r.type === "test") {
    tally.tests++;
    if (r.skip) tally.testsSkipped++;
    names.set(Number(r.id), String(r.name));
  } else if (r.type === "assert") {
    tally.asserts++;
    if (r.skip) tally.skipped++;
    else if (r.todo) tally.todo++;
    else if (r.ok === true) tally.passed++;
    else {
      const where = names.get(Number(r.test)) ?? `test ${String(r.test)}`;
      const detail =
        r.operator === undefined
          ? ""
          : ` (${String(r.operator)}: expected ${cut(r.expected)}, got ${cut(r.actual)})`;
      tally.failed.push(`${where}: ${String(r.name)}${detail}`);
    }
  }
}

test("abstract-level's compliance suite passes against PagekvLevel", async (t) => {
  const onNode = process.env.PAGEKV_LEVEL_SUITE_FS === "node";
  const dir = onNode ? fs.mkdtempSync(path.join(os.tmpdir(), "pagekv-level-")) : "";
  let made = 0;
  const factory = (options?: Options) => {
    made++;
    if (onNode)
      return new PagekvLevel(path.join(dir, `db-${made}.pkv`), { cacheBytes: 0, ...options });
    return new PagekvLevel("/db.pkv", { cacheBytes: 0, ...options, vfs: new MemFS() });
  };

  const harness = tape.createHarness();
  // The object stream sees only tests registered after it exists: create it first.
  const stream = harness.createStream({ objectMode: true });
  const tally: Tally = {
    tests: 0,
    testsSkipped: 0,
    asserts: 0,
    passed: 0,
    failed: [],
    skipped: 0,
    todo: 0,
    done: false,
  };
  const names = new Map<number, string>();
  const started = Date.now();
  let timer: NodeJS.Timeout | undefined;
  try {
    await new Promise<void>((resolve, reject) => {
      timer = setTimeout(() => {
        reject(new Error(`the suite did not finish in ${SUITE_TIMEOUT_MS} ms`));
      }, SUITE_TIMEOUT_MS);
      stream.on("data", (row: unknown) => count(row, tally, names));
      stream.on("error", reject);
      stream.on("end", () => {
        tally.done = true;
        resolve();
      });
      const require = createRequire(import.meta.url);
      const suite = require("abstract-level/test") as Suite;
      suite({ test: harness, factory });
    });
  } finally {
    clearTimeout(timer);
    if (onNode) fs.rmSync(dir, { recursive: true, force: true });
    t.diagnostic(
      `abstract-level suite on ${onNode ? "NodeFS" : "MemFS"}: ${tally.tests} tests ` +
        `(${tally.testsSkipped} skipped), ${tally.asserts} assertions run, ${tally.passed} passed, ` +
        `${tally.failed.length} failed, ${tally.skipped} skipped, ${tally.todo} todo; ` +
        `${made} databases, ${Date.now() - started} ms`,
    );
  }
  assert.ok(tally.done, "the suite finished");
  assert.ok(tally.asserts > 0, "the suite ran assertions");
  const ran = new Set(names.values());
  assert.deepEqual(
    SNAPSHOT_TESTS.filter((name) => !ran.has(name)),
    [],
    "the suite's snapshot tests ran",
  );
  assert.ok(!ran.has(NO_SNAPSHOT_TEST), "the suite's tests of no snapshots did not run");
  assert.deepEqual(
    tally.failed.slice(0, FAILURES_SHOWN_MAX),
    [],
    `${tally.failed.length} assertions failed`,
  );
});
