// The demo's dedicated worker: pagekv over OPFS (pagekv/browser from dist/), answering the
// page's requests. Everything after openBrowser() is the synchronous engine.

import { OPFS_WAL_SUFFIX, openBrowser, vfsOf } from "/dist/browser.js";

const NAME = "demo.pkv";
const RECORDS = 100_000;
const BATCH = 1_000;
const dec = new TextDecoder();
let db = null;

function keyOf(i) {
  return `user:${String(i).padStart(6, "0")}`;
}

function recordValue(i) {
  return JSON.stringify({ id: i, name: `user ${i}`, score: (i * 7919) % 1000 });
}

function stats() {
  const records = countRecords();
  const s = db.stats();
  const vfs = vfsOf(db);
  const lookups = s.hits + s.misses;
  return {
    records,
    "pool hit ratio": lookups === 0 ? "-" : `${((100 * s.hits) / lookups).toFixed(2)} %`,
    "pool frames": s.cacheFrames,
    pages: s.pageCount,
    "free pages": s.freePages,
    "page size": s.pageSize,
    "file bytes": vfs.sizeOf(NAME),
    "log frames": s.walFrames,
    "log file bytes": vfs.sizeOf(`${NAME}${OPFS_WAL_SUFFIX}`),
    commits: s.commits,
    checkpoints: s.checkpoints,
  };
}

let counted = null;
function countRecords() {
  if (counted === null) {
    counted = 0;
    for (const _ of db.range({ prefix: "user:" })) counted++;
  }
  return counted;
}

const commands = {
  async open() {
    // A reload kills the previous page's worker without close(): the browser drops its
    // handles, perhaps a moment after this worker starts. Another tab keeps them: say so.
    for (let attempt = 1; ; attempt++) {
      try {
        db = await openBrowser(NAME);
        return stats();
      } catch (e) {
        if (e?.code !== "ERR_LOCKED" || attempt === 30) throw e;
        await new Promise((r) => setTimeout(r, 100));
      }
    }
  },
  load() {
    const t0 = performance.now();
    for (let i = 0; i < RECORDS; i += BATCH) {
      const ops = [];
      for (let j = i; j < Math.min(RECORDS, i + BATCH); j++) {
        ops.push({ type: "put", key: keyOf(j), value: recordValue(j) });
      }
      db.batch(ops);
      postMessage({ progress: (i + BATCH) / RECORDS });
    }
    const ms = performance.now() - t0;
    counted = null;
    return { records: RECORDS, ms, perSec: (RECORDS * 1000) / ms, stats: stats() };
  },
  lookup({ key }) {
    const t0 = performance.now();
    const v = db.get(key);
    const us = (performance.now() - t0) * 1000;
    return { key, value: v === undefined ? null : dec.decode(v), us };
  },
  scan({ prefix }) {
    const t0 = performance.now();
    const entries = [];
    let total = 0;
    for (const [k, v] of db.range({ prefix })) {
      if (entries.length < 20) entries.push([dec.decode(k), dec.decode(v)]);
      total++;
    }
    return { entries, total, ms: performance.now() - t0 };
  },
  reads() {
    const n = countRecords();
    if (n === 0) return { gets: 0 };
    const GETS = 50_000;
    const SCANS = 1_000;
    let x = 12345;
    const t0 = performance.now();
    for (let i = 0; i < GETS; i++) {
      x = (x * 1103515245 + 12345) % 2147483648;
      if (db.get(keyOf(x % n)) === undefined) throw new Error(`missing ${keyOf(x % n)}`);
    }
    const t1 = performance.now();
    for (let i = 0; i < SCANS; i++) {
      x = (x * 1103515245 + 12345) % 2147483648;
      let c = 0;
      for (const _ of db.range({ gte: keyOf(x % n), limit: 100 })) c++;
      if (c === 0) throw new Error("empty scan");
    }
    const t2 = performance.now();
    return {
      getsPerSec: (GETS * 1000) / (t1 - t0),
      scansPerSec: (SCANS * 1000) / (t2 - t1),
      stats: stats(),
    };
  },
  stats() {
    return stats();
  },
  clear() {
    // One transaction per 1,000 deletes, so the log stays small.
    const keys = [];
    for (const [k] of db.range({ prefix: "user:" })) keys.push(k);
    for (let i = 0; i < keys.length; i += BATCH) {
      db.batch(keys.slice(i, i + BATCH).map((key) => ({ type: "del", key })));
    }
    db.checkpoint();
    counted = null;
    return stats();
  },
};

self.addEventListener("message", async (ev) => {
  const { id, cmd, args } = ev.data;
  try {
    postMessage({ id, ok: true, result: await commands[cmd](args ?? {}) });
  } catch (e) {
    postMessage({ id, ok: false, error: `${e?.code ?? e?.name}: ${e?.message}` });
  }
});
