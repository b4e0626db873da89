// `npm start`: a short demonstration of the pager on a real file in the working directory.
// Creates pager-demo.pkv, writes pages in transactions through a pool much smaller than
// the file (spilling to the log), rolls one back, checkpoints, reopens, verifies every
// page and prints the pool statistics. The key/value
// store will replace this with its own demo.

import * as fs from "node:fs";
import { Pager, type PagerStats } from "../pager/pager.js";
import { NodeFS } from "../vfs/node/nodefs.js";

const FILE = "pager-demo.pkv";
const PAGES = 20_000;
const CACHE_FRAMES = 256;

/** A page's content: its number and a round, so a misplaced or stale page is caught. */
function fill(data: Uint8Array, pgno: number, round: number): void {
  for (let i = 0; i < data.length; i += 4) {
    data[i] = pgno >>> 16;
    data[i + 1] = pgno >>> 8;
    data[i + 2] = pgno;
    data[i + 3] = round;
  }
}

function matches(data: Uint8Array, pgno: number, round: number): boolean {
  for (let i = 0; i < data.length; i += 4) {
    if (
      data[i] !== ((pgno >>> 16) & 0xff) ||
      data[i + 1] !== ((pgno >>> 8) & 0xff) ||
      data[i + 2] !== (pgno & 0xff) ||
      data[i + 3] !== round
    ) {
      return false;
    }
  }
  return true;
}

function row(label: string, s: PagerStats, ms: number): string {
  const hitRatio = s.hits + s.misses === 0 ? 0 : s.hits / (s.hits + s.misses);
  return [
    label.padEnd(30),
    `${ms.toFixed(0).padStart(6)} ms`,
    `hits ${String(s.hits).padStart(7)}`,
    `misses ${String(s.misses).padStart(6)}`,
    `hit ratio ${(hitRatio * 100).toFixed(1).padStart(5)}%`,
    `evictions ${String(s.evictions).padStart(6)}`,
    `writebacks ${String(s.writebacks).padStart(6)}`,
    `read ${String(s.pagesRead).padStart(6)}`,
    `written ${String(s.pagesWritten).padStart(6)}`,
  ].join("  ");
}

function timed<T>(fn: () => T): [T, number] {
  const t0 = performance.now();
  const r = fn();
  return [r, performance.now() - t0];
}

function main(): void {
  const vfs = new NodeFS();
  if (vfs.exists(FILE)) vfs.delete(FILE);
  console.log(`pagekv pager demo: ${PAGES} pages of 4 KiB through a ${CACHE_FRAMES}-frame pool`);
  console.log(`file: ${FILE}\n`);

  const pager = Pager.create(vfs, FILE, { pageSize: 4096, cacheFrames: CACHE_FRAMES });
  const [, tAlloc] = timed(() => {
    for (let i = 0; i < PAGES; i++) {
      if (i % 1000 === 0) pager.begin();
      const f = pager.allocate();
      fill(f.data, f.pgno, 1);
      pager.unpin(f, true);
      if (i % 1000 === 999) pager.commit(); // durable: logged and synced
    }
  });
  console.log(row("allocate + write, 20 commits", pager.stats(), tAlloc));

  // A transaction that changes its mind leaves no trace.
  pager.begin();
  for (let p = 2; p < 500; p++) {
    const f = pager.get(p, "write");
    fill(f.data, p, 9);
    pager.unpin(f, true);
  }
  pager.rollback();

  // Rewrite every tenth page, free every hundredth, then make it durable.
  const [, tUpdate] = timed(() => {
    for (let p = 2; p <= PAGES + 1; p += 10) {
      const f = pager.get(p, "write");
      fill(f.data, p, 2);
      pager.unpin(f, true);
    }
    for (let p = 7; p <= PAGES + 1; p += 100) pager.free(p);
    pager.setSlot(0, PAGES);
    pager.checkpoint();
  });
  console.log(row("update, free, checkpoint", pager.stats(), tUpdate));
  pager.close();

  const again = Pager.open(vfs, FILE, { cacheFrames: CACHE_FRAMES });
  let bad = 0;
  const [, tVerify] = timed(() => {
    for (let p = 2; p <= PAGES + 1; p++) {
      if ((p - 7) % 100 === 0) continue; // freed
      const f = again.get(p);
      if (!matches(f.data, p, (p - 2) % 10 === 0 ? 2 : 1)) bad++;
      again.unpin(f);
    }
  });
  console.log(row("reopen + verify all pages", again.stats(), tVerify));
  // A hot set smaller than the pool: after the first touch every get is a cache hit.
  const [, tHot] = timed(() => {
    for (let i = 0; i < 1_000_000; i++) {
      const p = 1008 + ((i * 7919) % 200) * 2; // even: never 7 mod 100, the freed pages
      const f = again.get(p);
      if (f.data[3] !== ((p - 2) % 10 === 0 ? 2 : 1)) bad++;
      again.unpin(f);
    }
  });
  const s = again.stats();
  console.log(row("1M gets over 200 hot pages", s, tHot));
  console.log(
    `\nreopened: ${s.pageCount} pages, ${s.freePages} free, checkpoint LSN ${again.checkpointLSN},` +
      ` slot 0 = ${again.getSlot(0)}, file ${(fs.statSync(FILE).size / 2 ** 20).toFixed(1)} MiB`,
  );
  again.close();
  if (bad > 0) {
    console.error(`FAILED: ${bad} pages did not read back as written`);
    process.exitCode = 1;
    return;
  }
  console.log("every page read back exactly as written.");
}

main();
