// pagekv over OPFS in a real headless Chromium (Debian's, driven by playwright-core): the
// seeded model workload, a worker killed in the middle of durable commits, the lock
// between workers and tabs, and the demo page (load, look up, scan, reload). Skips, saying
// why, when /usr/bin/chromium is absent. The fixtures are in test/browser/fixtures/.

import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { after, before, test } from "node:test";
import { fileURLToPath } from "node:url";
import type { Page } from "playwright-core";
import { type Chromium, chromiumMissing, launchChromium } from "../../scripts/chromium.js";
import { type StaticServer, serveStatic } from "../../scripts/serve.js";

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..", "..");
const missing = chromiumMissing();
const skip = missing === null ? false : `no Chromium: ${missing}`;
/** Every browser test: skipped without Chromium; a hung page fails instead of hanging. */
const browserTest = { skip, timeout: 120_000 };
if (missing !== null) console.log(`# browser tests skipped: ${missing}`);

let chromium: Chromium | null = null;
let server: StaticServer | null = null;
let harness: Page | null = null;

before(async () => {
  if (missing !== null) return;
  server = await serveStatic(repoRoot);
  chromium = await launchChromium();
  harness = await openHarness();
});

after(async () => {
  await chromium?.close();
  await server?.close();
});

async function openHarness(): Promise<Page> {
  assert.ok(chromium !== null && server !== null);
  const page = await chromium.context.newPage();
  page.on("pageerror", (e) => console.log(`# page error: ${e.message}`));
  await page.goto(`${server.origin}/test/browser/fixtures/index.html`);
  await page.waitForFunction(
    () => (globalThis as unknown as { harnessReady?: boolean }).harnessReady,
  );
  return page;
}

function page(): Page {
  assert.ok(harness !== null);
  return harness;
}

/** Run `cmd` in a new worker of `p` (or worker `slot`, kept for later calls). */
async function inWorker(
  p: Page,
  slot: string,
  cmd: string,
  args: Record<string, unknown>,
): Promise<{ ok: boolean; result?: unknown; code?: string | null; message?: string }> {
  return p.evaluate(
    async ({ slot, cmd, args }) => {
      // biome-ignore lint/suspicious/noExplicitAny: the harness is plain JS in the page
      const h = (globalThis as any).harness;
      h.workers[slot] ??= h.spawn();
      return h.settle(h.workers[slot].call(cmd, args));
    },
    { slot, cmd, args },
  );
}

async function terminate(p: Page, slot: string): Promise<void> {
  await p.evaluate((slot) => {
    // biome-ignore lint/suspicious/noExplicitAny: the harness is plain JS in the page
    const h = (globalThis as any).harness;
    h.workers[slot]?.terminate();
    delete h.workers[slot];
  }, slot);
}

test(
  "OpfsVFS keeps the VFS contract: absent = empty, delete, gathered writes, release",
  browserTest,
  async () => {
    const r = await inWorker(page(), "vfs", "vfs", { name: "contract.pkv" });
    assert.ok(r.ok, r.message);
    assert.deepEqual(Object.fromEntries(r.result as [string, unknown][]), {
      "main exists (created empty)": true,
      "log exists before create": false,
      "open log without create": "ERR_NOT_FOUND",
      "open another name": "ERR_NOT_FOUND",
      "log exists after create": true,
      "exclusive create of it": "ERR_EXISTS",
      "writevAt then readAt: same bytes, zeros before": true,
      size: true,
      "short read at the end": true,
      truncate: true,
      "closed file": "ERR_CLOSED",
      "log exists after delete": false,
      "log bytes after delete": 0,
      "delete again": "ERR_NOT_FOUND",
      "bad offset": "ERR_ARG",
      "second lock": "ERR_LOCKED",
      "lock held after release": false,
      "exists after release": "ERR_CLOSED",
      // The deleted log's entry is gone; the database file (0 bytes here) stays.
      "entries after release": "contract.pkv",
      "bad name": "ERR_ARG",
    });
    await terminate(page(), "vfs");
  },
);

test(
  "OpfsVFS syncAsync flushes at the call: resolves, or rejects (never throws) as sync() throws",
  browserTest,
  async () => {
    const r = await inWorker(page(), "sync", "syncAsync", { name: "syncasync.pkv" });
    assert.ok(r.ok, r.message);
    assert.deepEqual(r.result, {
      "open file, data": "resolved",
      "open file, full": "resolved",
      "read-only file": "resolved",
      "closed file": "ERR_CLOSED",
      "released VFS": "ERR_CLOSED",
      "bytes after release": "hello",
    });
    await terminate(page(), "sync");
  },
);

test(
  "openBrowser refuses bad options and missing databases, leaving no entry",
  browserTest,
  async () => {
    const r = await inWorker(page(), "bad", "badOpens", {});
    assert.ok(r.ok, r.message);
    assert.deepEqual(r.result, {
      "unknown option": "ERR_ARG",
      "bad page size": "ERR_ARG",
      "create: false, missing": "ERR_NOT_FOUND",
      "readOnly, missing": "ERR_NOT_FOUND",
      "bad name": "ERR_ARG",
      "entries left": "",
    });
    await terminate(page(), "bad");
  },
);

test(
  "a seeded model workload on OPFS matches the sorted in-memory model",
  browserTest,
  async () => {
    for (const seed of [1, 2, 3]) {
      const r = await inWorker(page(), `model${seed}`, "model", {
        name: `model-${seed}.pkv`,
        seed,
        ops: 900,
      });
      assert.ok(r.ok, r.message);
      const out = r.result as { tally: Record<string, number>; keys: number };
      // The workload did exercise every kind of operation, and reopened.
      for (const kind of ["put", "del", "get", "batch", "tx", "rollback", "range", "reopen"]) {
        assert.ok((out.tally[kind] ?? 0) > 0, `seed ${seed}: some ${kind} ran`);
      }
      await terminate(page(), `model${seed}`);
    }
  },
);

test(
  "a worker terminated amid durable commits loses no acknowledged one; check() is clean",
  browserTest,
  async () => {
    const p = page();
    // [acknowledgements to wait for, yield to the event loop every n commits (0: never)]
    const rounds: [number, number][] = [
      [50, 16],
      [233, 16],
      [97, 0],
      [611, 0],
    ];
    for (const [round, [atLeast, yieldEvery]] of rounds.entries()) {
      const name = `stream-${round}.pkv`;
      await p.evaluate(
        ({ name, yieldEvery }) => {
          // biome-ignore lint/suspicious/noExplicitAny: the harness is plain JS in the page
          const h = (globalThis as any).harness;
          h.workers.stream = h.spawn();
          h.workers.stream.post("stream", { name, count: 1_000_000, yieldEvery });
        },
        { name, yieldEvery },
      );
      await p.waitForFunction(
        (n) =>
          // biome-ignore lint/suspicious/noExplicitAny: the harness is plain JS in the page
          ((globalThis as any).harness.workers.stream.acks.length as number) >= n,
        atLeast,
        { timeout: 30_000 },
      );
      // Terminate first, then read the acknowledgements: none can arrive after.
      const acked = await p.evaluate(() => {
        // biome-ignore lint/suspicious/noExplicitAny: the harness is plain JS in the page
        const w = (globalThis as any).harness.workers.stream;
        w.terminate();
        return (w.acks as number[]).length - 1;
      });
      await terminate(p, "stream");
      // The killed worker's handles are dropped by the browser, up to a few seconds after
      // terminate() of a busy one: until then a reopen is ERR_LOCKED. Bounded retries (at most
      // 10 s); no timing is asserted.
      let r = await inWorker(p, "verify", "verify", { name, acked });
      let lockedTries = 0;
      for (; lockedTries < 100 && !r.ok && r.code === "ERR_LOCKED"; lockedTries++) {
        await new Promise((res) => setTimeout(res, 100));
        r = await inWorker(p, "verify", "verify", { name, acked });
      }
      assert.ok(r.ok, `${r.code}: ${r.message}`);
      const v = r.result as { keys: number; problems: string[] };
      assert.deepEqual(v.problems, []);
      assert.ok(v.keys >= acked + 1, `round ${round}: ${v.keys} keys, ${acked + 1} acknowledged`);
      console.log(
        `# round ${round}: ${acked + 1} commits acknowledged, ${v.keys} found (${lockedTries} reopens met ERR_LOCKED first)`,
      );
      await terminate(p, "verify");
    }
  },
);

test(
  "a second worker or tab gets ERR_LOCKED naming another tab or worker, then opens after close",
  browserTest,
  async () => {
    const p = page();
    const name = "locked.pkv";
    const held = await inWorker(p, "a", "hold", { name });
    assert.ok(held.ok, held.message);
    const second = await inWorker(p, "b", "tryOpen", { name });
    const r = second.result as { code: string; message: string };
    assert.equal(r.code, "ERR_LOCKED");
    assert.match(r.message, /another tab or worker/);
    // Another tab of the same origin: the same.
    const tab = await openHarness();
    try {
      const t = (await inWorker(tab, "c", "tryOpen", { name })).result as { code: string };
      assert.equal(t.code, "ERR_LOCKED");
      // The holder closes: now both can open, and see its commit.
      assert.ok((await inWorker(p, "a", "close", {})).ok);
      const again = (await inWorker(tab, "c", "tryOpen", { name })).result as {
        code: string;
        value: string;
      };
      assert.deepEqual(again, { code: "opened", value: "yes" });
      // A closed database is one entry: the log was removed after close.
      const list = (await inWorker(tab, "c", "list", {})).result as Record<string, number>;
      assert.ok(list[name] !== undefined && list[name] > 0);
      assert.equal(list[`${name}-wal`], undefined, JSON.stringify(list));
      // Readers coexist (read-only handles); a writer is then ERR_LOCKED.
      assert.ok((await inWorker(p, "a", "hold", { name, readOnly: true })).ok);
      const reader = (await inWorker(tab, "c", "tryOpen", { name, readOnly: true })).result as {
        code: string;
      };
      assert.equal(reader.code, "opened");
      const writer = (await inWorker(tab, "c", "tryOpen", { name })).result as { code: string };
      assert.equal(writer.code, "ERR_LOCKED");
      assert.ok((await inWorker(p, "a", "close", {})).ok);
    } finally {
      await tab.close();
      for (const s of ["a", "b"]) await terminate(p, s);
    }
  },
);

test(
  "the demo page loads, looks up, scans, and keeps its data across a reload",
  browserTest,
  async () => {
    assert.ok(chromium !== null && server !== null);
    const p = await chromium.context.newPage();
    try {
      await p.goto(`${server.origin}/web/`);
      await p.waitForSelector("body[data-ready='1']");
      await p.click("#load");
      await p.waitForSelector("body[data-busy='0']", { timeout: 120_000 });
      assert.match((await p.textContent("#load-result")) ?? "", /100,000 records in .* records\/s/);
      const progress = await p.$eval("#progress", (e) => (e as unknown as { value: number }).value);
      assert.equal(progress, 1);
      await p.fill("#key", "user:042424");
      await p.click("#lookup");
      await p.waitForSelector("body[data-busy='0']");
      assert.match((await p.textContent("#lookup-result")) ?? "", /user:042424 = \{"id":42424,/);
      await p.fill("#prefix", "user:0424");
      await p.click("#scan");
      await p.waitForSelector("body[data-busy='0']");
      assert.match((await p.textContent("#scan-result")) ?? "", /^100 keys in/);
      await p.click("#reads");
      await p.waitForSelector("body[data-busy='0']");
      assert.match(
        (await p.textContent("#reads-result")) ?? "",
        /gets\/s, .* scans of 100 keys\/s/,
      );
      const stats = await p.textContent("#stats");
      assert.match(stats ?? "", /pool hit ratio/);
      assert.match(stats ?? "", /records100,000/);

      await p.reload();
      await p.waitForSelector("body[data-ready='1']");
      assert.match((await p.textContent("#stats")) ?? "", /records100,000/);
      await p.fill("#key", "user:099999");
      await p.click("#lookup");
      await p.waitForSelector("body[data-busy='0']");
      assert.match((await p.textContent("#lookup-result")) ?? "", /user:099999 = \{"id":99999,/);
      await p.click("#scan");
      await p.waitForSelector("body[data-busy='0']");
      assert.match((await p.textContent("#scan-result")) ?? "", /^100 keys in/);

      const dir = fs.mkdtempSync(path.join(os.tmpdir(), "pagekv-web-"));
      const shot = path.join(dir, "demo.png");
      await p.screenshot({ path: shot, fullPage: true });
      assert.ok(fs.statSync(shot).size > 0);
      console.log(`# screenshot of the demo page: ${shot}`);
    } finally {
      await p.close();
    }
  },
);
