// The workload of npm run bench:browser, run as it is on Node (NodeFS) and in a browser
// worker (OPFS): one plain ES module that both import, so the two columns measure the same
// operations. It takes an open Database and a clock; it owns no files.

/** The sizes of the run (16-byte keys and 100-byte values, as npm run bench). */
export const WORKLOAD = {
  records: 100_000,
  batch: 1_000,
  durableCommits: 1_000,
  gets: 200_000,
  scans: 2_000,
  scanKeys: 100,
  valueBytes: 100,
  /** A pool that holds the whole database: the reads are hot. */
  cacheBytes: 64 * 2 ** 20,
};

const enc = new TextEncoder();

function keyOf(i) {
  return enc.encode(`key:${String(i).padStart(12, "0")}`);
}

/** A small LCG: the same sequence on both platforms. */
function lcg(seed) {
  let x = seed >>> 0;
  return (n) => {
    x = (Math.imul(x, 1664525) + 1013904223) >>> 0;
    return x % n;
  };
}

/** Run every phase on `db`; each figure in operations per second. */
export function runWorkload(db, now) {
  const w = WORKLOAD;
  const value = new Uint8Array(w.valueBytes).fill(0x61);
  const rand = lcg(42);
  // A random order of the keys: a permutation by a multiplier prime to records.
  const order = (i) => (i * 7919 + 13) % w.records;

  let t = now();
  for (let i = 0; i < w.records; i += w.batch) {
    const ops = [];
    for (let j = i; j < i + w.batch; j++) ops.push({ type: "put", key: keyOf(order(j)), value });
    db.batch(ops);
  }
  const batchedPutsPerSec = (w.records * 1000) / (now() - t);

  t = now();
  for (let i = 0; i < w.durableCommits; i++) db.put(keyOf(rand(w.records)), value);
  const durableCommitsPerSec = (w.durableCommits * 1000) / (now() - t);

  // Warm the pool, then time gets of random keys.
  for (const _ of db.range()) {
    // read every page once
  }
  const keys = [];
  for (let i = 0; i < 4096; i++) keys.push(keyOf(rand(w.records)));
  t = now();
  for (let i = 0; i < w.gets; i++) {
    if (db.get(keys[i & 4095]) === undefined) throw new Error("a loaded key is missing");
  }
  const hotGetsPerSec = (w.gets * 1000) / (now() - t);

  t = now();
  for (let i = 0; i < w.scans; i++) {
    let n = 0;
    for (const _ of db.range({ gte: keyOf(rand(w.records - w.scanKeys)), limit: w.scanKeys })) n++;
    if (n !== w.scanKeys) throw new Error(`a scan returned ${n} keys`);
  }
  const scansPerSec = (w.scans * 1000) / (now() - t);

  const problems = db.check();
  if (problems.length > 0) throw new Error(`check(): ${problems.join("; ")}`);
  return { batchedPutsPerSec, durableCommitsPerSec, hotGetsPerSec, scansPerSec };
}
