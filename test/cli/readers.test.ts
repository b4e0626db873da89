// The read commands (get, scan, stats, check, dump) on a database that a live writer in
// another process holds and keeps committing to (docs/design/readers.md): each command
// opens as a reader and reports one committed state, check finds no damage, and what they
// print follows the writer's commits. Also, in one process, that the inspection commands'
// view (src/cli/view.ts) keeps one state however the database changes after it was taken.

import * as assert from "node:assert/strict";
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { once } from "node:events";
import * as fs from "node:fs";
import * as path from "node:path";
import { createInterface } from "node:readline";
import { describe, test } from "node:test";
import { fileURLToPath } from "node:url";
import { BTree } from "../../src/btree/btree.js";
import { show } from "../../src/cli/bytes.js";
import { dumpPage, treeInfo } from "../../src/cli/inspect.js";
import { inView } from "../../src/cli/view.js";
import { Database } from "../../src/db/db.js";
import { open } from "../../src/index.js";
import { Pager } from "../../src/pager/pager.js";
import { NodeFS } from "../../src/vfs/node/nodefs.js";
import { withTempDir } from "../tmpdir.js";
import { cli, MAIN_BUILD, ok } from "./helpers.js";

const here = path.dirname(fileURLToPath(import.meta.url));
const writerScript = path.join(here, "writer-child.js");

/** Rounds of every command at most, and the distinct commits they must have seen. */
const ROUNDS_MAX = 200;
const COMMITS_SEEN_MIN = 4;

interface Ready {
  ready: true;
  pid: number;
  kKeys: number;
  keysTotal: number;
  bigBytes: number;
}

/** A writer child (writer-child.ts) on `db`, and the lines it prints. */
class Writer {
  readonly child: ChildProcess;
  private readonly lines: AsyncIterator<string>;

  constructor(db: string) {
    this.child = spawn(process.execPath, [writerScript, db], {
      stdio: ["pipe", "pipe", "inherit"],
    });
    const out = this.child.stdout;
    assert.ok(out !== null);
    this.lines = createInterface({ input: out })[Symbol.asyncIterator]();
  }

  async line(): Promise<unknown> {
    const r = await this.lines.next();
    assert.ok(r.done !== true, "the writer child ended without a line");
    return JSON.parse(r.value);
  }

  /** Ask it to stop: it closes the database and says how many commits it made after the first. */
  async stop(): Promise<number> {
    this.child.stdin?.end();
    const last = (await this.line()) as { commits: number };
    if (this.child.exitCode === null) await once(this.child, "exit");
    assert.equal(this.child.exitCode, 0);
    return last.commits;
  }

  kill(): void {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill();
  }
}

async function withWriter(fn: (db: string, ready: Ready) => Promise<void>): Promise<void> {
  const dir = fs.mkdtempSync(path.join(fs.realpathSync("/tmp"), "pagekv-readers-cli-"));
  const db = path.join(dir, "w.pkv");
  const w = new Writer(db);
  try {
    const ready = (await w.line()) as Ready;
    assert.equal(ready.ready, true);
    await fn(db, ready);
    const commits = await w.stop();
    // Closed: the last commit is what every command reads now.
    assert.equal(ok(["get", db, "n"]), `${commits}\n`);
    assert.equal(ok(["check", db]), `${db}: ok\n`);
  } finally {
    w.kill();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/** `key<TAB>value` lines as pairs. */
function pairs(out: string): [string, string][] {
  return out
    .split("\n")
    .filter((l) => l.length > 0)
    .map((l) => {
      const tab = l.indexOf("\t");
      assert.ok(tab > 0, `not a key<TAB>value line: ${l}`);
      return [l.slice(0, tab), l.slice(tab + 1)];
    });
}

function field(out: string, re: RegExp, what: string): number {
  const m = re.exec(out);
  assert.ok(m !== null, `${what} not in:\n${out}`);
  return Number(m[1]);
}

describe("read commands beside a writer in another process", () => {
  test("get, scan, stats, check and dump each report one committed state while it commits", () =>
    withWriter(async (db, ready) => {
      const seen = new Set<number>();
      let last = -1;
      for (let round = 0; round < ROUNDS_MAX && seen.size < COMMITS_SEEN_MIN; round++) {
        // get: a committed number, never older than one seen before (each run is a new read).
        const n = Number(ok(["get", db, "n"]));
        assert.ok(Number.isInteger(n) && n >= last, `get n: ${n} after ${last}`);
        seen.add(n);
        last = n;

        // scan: the k keys of one commit, all equal, and not older than the get before.
        const ks = pairs(ok(["scan", db, "--prefix", "k"]));
        assert.equal(ks.length, ready.kKeys);
        const k0 = Number(ks[0][1]);
        assert.ok(k0 >= n, `scan after get: ${k0} < ${n}`);
        for (const [k, v] of ks) assert.equal(Number(v), k0, `${k} in one scan`);
        last = k0;

        // A whole scan: every key of one state ("n" agrees with the k keys, the count holds).
        const all = pairs(ok(["scan", db]));
        assert.equal(all.length, ready.keysTotal);
        const at = new Map(all);
        const sn = at.get("n");
        assert.ok(sn !== undefined);
        for (const [k, v] of all) if (k.startsWith("k")) assert.equal(v, sn, `${k} vs n`);
        assert.equal(at.get("big"), show(new Uint8Array(ready.bigBytes).fill(Number(sn) & 0xff)));
        last = Number(sn);

        // stats: the key count of one state, and pages that add up.
        const st = ok(["stats", db]);
        assert.equal(field(st, /^keys +(\d+)$/m, "keys"), ready.keysTotal);
        const pages = field(st, /^pages +(\d+) \(1 header/m, "pages");
        const free = field(st, /^pages +\d+ \(1 header, (\d+) free\)$/m, "free pages");
        assert.ok(free < pages);

        // check: no damage in the state it read.
        const c = cli(["check", db]);
        assert.deepEqual(c, { code: 0, out: `${db}: ok\n`, err: "" });

        // dump: the header of one state, and its root page then (a later state may have
        // freed or reused it: any page in range decodes).
        const h = ok(["dump", db, "1"]);
        const count = field(h, /^page count: (\d+)$/m, "page count");
        const root = field(h, /^tree root \(slot 0\): (\d+)$/m, "tree root");
        assert.ok(root >= 2 && root <= count, `root ${root} of ${count} pages`);
        const d = ok(["dump", db, String(root)]);
        assert.match(d, new RegExp(`^page ${root}: (leaf|interior|overflow|free)`));
      }
      assert.ok(
        seen.size >= COMMITS_SEEN_MIN,
        `the writer committed while the commands ran: saw ${[...seen].join(", ")}`,
      );
    }));

  test("check and scan run as processes beside the writer", () =>
    withWriter(async (db, ready) => {
      for (let i = 0; i < 3; i++) {
        const c = spawnSync(process.execPath, [MAIN_BUILD, "check", db], { encoding: "utf8" });
        assert.deepEqual([c.status, c.stdout, c.stderr], [0, `${db}: ok\n`, ""]);
        const s = spawnSync(process.execPath, [MAIN_BUILD, "scan", db, "--prefix", "k"], {
          encoding: "utf8",
        });
        assert.equal(s.status, 0, s.stderr);
        const ks = pairs(s.stdout);
        assert.equal(ks.length, ready.kKeys);
        assert.equal(new Set(ks.map(([, v]) => v)).size, 1, "one commit's k keys");
      }
    }));
});

describe("the inspection commands' view", () => {
  test("keeps the state it was taken at: later commits, frees and a checkpoint do not show", () =>
    withTempDir((dir) => {
      const file = path.join(dir, "v.pkv");
      const db0 = open(file);
      db0.transaction((tx) => {
        for (let i = 0; i < 400; i++) tx.put(`key${String(i).padStart(4, "0")}`, "x".repeat(300));
        tx.put("big", new Uint8Array(20_000).fill(7));
      });
      db0.close();
      const pager = Pager.open(new NodeFS(), file, { cacheFrames: 64 });
      const db = new Database(pager, false);
      try {
        inView(pager, (view) => {
          const before = treeInfo(view);
          const header = dumpPage(view, 1);
          assert.equal(before.keys, 401);
          // Change nearly everything: delete most keys (pages freed), rewrite the overflow
          // value (its chain freed, a new one allocated), add keys, and checkpoint.
          db.transaction((tx) => {
            for (let i = 0; i < 350; i++) tx.delete(`key${String(i).padStart(4, "0")}`);
            tx.put("big", new Uint8Array(30_000).fill(9));
          });
          for (let i = 0; i < 20; i++) db.put(`new${i}`, "y".repeat(500));
          db.checkpoint();
          assert.equal(db.check().length, 0, "the live tree is whole too");
          // The view: the same figures, and no damage.
          assert.deepEqual(treeInfo(view), before);
          assert.deepEqual(dumpPage(view, 1), header);
          assert.deepEqual(new BTree(pager).check(view.snap, view.free), []);
          // What it guards against: the live pages with the view's freelist do not add up.
          assert.notDeepEqual(new BTree(pager).check(undefined, view.free), []);
        });
      } finally {
        db.close();
      }
    }));
});
