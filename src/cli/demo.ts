// `pagekv demo` (what `npm start` runs): the key/value store on a real file in the working
// directory. Loads N keys in random order, reads them back uniformly and with a Zipf skew,
// runs range scans, prints a table of throughput and pool figures, then reopens the file
// and verifies a sample. Deterministic (a fixed seed).
//
// It only ever touches its own file, and only under the file's writer lock: the demo's
// database carries a marker key, and an existing file is reused only when it opens as a
// database holding that marker (its keys are then deleted in transactions). Any other
// file (text, another database, an empty one) is refused and left as it was. It never
// deletes a file.

import * as fs from "node:fs";
import type { Database, DbStats } from "../db/db.js";
import { isPagekvError } from "../errors.js";
import { open } from "../index.js";
import { Pager } from "../pager/pager.js";
import { NodeFS } from "../vfs/node/nodefs.js";
import { Prng } from "../vfs/prng.js";
import { count, parse, positionals, str } from "./args.js";
import { sizeOf } from "./bytes.js";
import { treeInfo } from "./inspect.js";
import { CliError, EXIT_OK, type Io, usageError } from "./io.js";
import { messageOf } from "./open.js";
import { Progress } from "./progress.js";
import { inView } from "./view.js";

export const DEMO_FILE = "pagekv-demo.pkv";
/** The key that marks a database as the demo's own; it sorts before every "key:" key. */
export const DEMO_MARKER_KEY = "!pagekv-demo";
const DEMO_MARKER_VALUE = "made by pagekv demo, which clears and reuses this file";
export const DEMO_KEYS_DEFAULT = 200_000;
/** Keys are "key:" and 12 digits, so at most 10^12; the demo keeps them all in memory. */
export const DEMO_KEYS_MAX = 10_000_000;
const KEY_BYTES = 16;
const VALUE_BYTES = 100;
const BATCH_KEYS = 10_000;
const SCAN_KEYS = 100;
const VERIFY_SAMPLE = 1_000;
const ZIPF_S = 0.99;
const SEED = 20_240_601;

const encoder = new TextEncoder();
const MARKER_BYTES = encoder.encode(DEMO_MARKER_KEY);

function keyOf(i: number): Uint8Array {
  const k = encoder.encode(`key:${String(i).padStart(KEY_BYTES - 4, "0")}`);
  return k;
}

/** Value i: its number, then a pattern derived from it, exactly VALUE_BYTES long. */
function demoValue(i: number): Uint8Array {
  const v = new Uint8Array(VALUE_BYTES);
  v.set(encoder.encode(`value ${i} `).subarray(0, VALUE_BYTES));
  for (let j = 0; j < VALUE_BYTES; j++) if (v[j] === 0) v[j] = 97 + ((i * 31 + j) % 26);
  return v;
}

function same(a: Uint8Array | undefined, b: Uint8Array): boolean {
  if (a === undefined || a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** A random permutation of 0..n-1 (Fisher-Yates). */
function permutation(n: number, prng: Prng): Uint32Array {
  const p = new Uint32Array(n);
  for (let i = 0; i < n; i++) p[i] = i;
  for (let i = n - 1; i > 0; i--) {
    const j = prng.int(i + 1);
    const t = p[i];
    p[i] = p[j];
    p[j] = t;
  }
  return p;
}

/** Zipf ranks 0..n-1 with exponent s: rank r has weight 1/(r+1)^s. Built once, O(n). */
class ZipfSampler {
  private readonly cdf: Float64Array;

  constructor(n: number, s: number) {
    this.cdf = new Float64Array(n);
    let sum = 0;
    for (let r = 0; r < n; r++) {
      sum += 1 / (r + 1) ** s;
      this.cdf[r] = sum;
    }
    for (let r = 0; r < n; r++) this.cdf[r] /= sum;
  }

  /** The rank for a uniform `u` in [0, 1): binary search of the CDF. */
  rank(u: number): number {
    let lo = 0;
    let hi = this.cdf.length - 1;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.cdf[mid] > u) hi = mid;
      else lo = mid + 1;
    }
    return lo;
  }
}

interface Row {
  phase: string;
  ops: number;
  ms: number;
  hits: number;
  misses: number;
  evictions: number;
}

/** Run `fn` (which returns its op count) and the pool's figures for it alone. */
function phase(db: Database, name: string, fn: () => number): Row {
  const before: DbStats = db.stats();
  const t0 = performance.now();
  const ops = fn();
  const ms = performance.now() - t0;
  const after = db.stats();
  return {
    phase: name,
    ops,
    ms,
    hits: after.hits - before.hits,
    misses: after.misses - before.misses,
    evictions: after.evictions - before.evictions,
  };
}

function table(rows: Row[]): string {
  const head = ["phase", "ops", "ms", "ops/s", "hit ratio", "evictions"];
  const cells = rows.map((r) => {
    const lookups = r.hits + r.misses;
    return [
      r.phase,
      r.ops.toLocaleString("en-US"),
      r.ms.toFixed(0),
      Math.round(r.ops / (r.ms / 1000)).toLocaleString("en-US"),
      lookups === 0 ? "-" : `${((r.hits / lookups) * 100).toFixed(1)}%`,
      r.evictions.toLocaleString("en-US"),
    ];
  });
  const widths = head.map((h, c) => Math.max(h.length, ...cells.map((row) => row[c].length)));
  const line = (row: string[]) =>
    `${row.map((x, c) => (c === 0 ? x.padEnd(widths[c]) : x.padStart(widths[c]))).join("  ")}\n`;
  return line(head) + line(widths.map((w) => "-".repeat(w))) + cells.map(line).join("");
}

export function demo(args: string[], io: Io): number {
  const { values: v, positionals: p } = parse("demo", args);
  positionals("demo", p, []);
  const n = count("demo", "keys", v.keys) ?? DEMO_KEYS_DEFAULT;
  if (n < 1 || n > DEMO_KEYS_MAX) throw usageError(`demo: --keys must be in 1..${DEMO_KEYS_MAX}`);
  const file = str(v.file) ?? DEMO_FILE;

  const prng = new Prng(SEED);
  const order = permutation(n, prng);
  const keys = Array.from({ length: n }, (_, i) => keyOf(i));
  // Before any output: a file that is not the demo's is refused with nothing printed.
  const db = openDemo(file);
  const rows: Row[] = [];
  let bad = 0;
  try {
    io.out(
      `pagekv demo: ${n.toLocaleString("en-US")} keys (${KEY_BYTES}-byte keys, ${VALUE_BYTES}-byte values) in ${file}\n\n`,
    );
    const pool = db.stats();
    io.out(
      `page size ${pool.pageSize}, pool ${pool.cacheFrames} frames (${sizeOf(pool.cacheFrames * pool.pageSize)})\n\n`,
    );
    const progress = new Progress(io, "loading", n);
    rows.push(
      phase(db, `load, random order, ${BATCH_KEYS.toLocaleString("en-US")}/txn`, () => {
        for (let start = 0; start < n; start += BATCH_KEYS) {
          const end = Math.min(n, start + BATCH_KEYS);
          db.transaction((tx) => {
            for (let j = start; j < end; j++) tx.put(keys[order[j]], demoValue(order[j]));
          });
          progress.update(end);
        }
        progress.update(n, true);
        progress.done();
        return n;
      }),
    );

    rows.push(
      phase(db, "get, uniform", () => {
        for (let j = 0; j < n; j++) {
          const i = prng.int(n);
          if (!same(db.get(keys[i]), demoValue(i))) bad++;
        }
        return n;
      }),
    );

    // Hot keys are scattered over the key space by a second permutation.
    const zipf = new ZipfSampler(n, ZIPF_S);
    const hot = permutation(n, prng);
    rows.push(
      phase(db, `get, Zipf s=${ZIPF_S}`, () => {
        for (let j = 0; j < n; j++) {
          const i = hot[zipf.rank(prng.next())];
          if (!same(db.get(keys[i]), demoValue(i))) bad++;
        }
        return n;
      }),
    );

    const scans = Math.max(1, Math.floor(n / SCAN_KEYS));
    rows.push(
      phase(db, `range scan, ${SCAN_KEYS} keys`, () => {
        let entries = 0;
        for (let j = 0; j < scans; j++) {
          const from = prng.int(n);
          let expect = from;
          for (const [k, val] of db.range({ gte: keys[from], limit: SCAN_KEYS })) {
            if (!same(k, keys[expect]) || !same(val, demoValue(expect))) bad++;
            expect++;
            entries++;
          }
          if (expect !== Math.min(n, from + SCAN_KEYS)) bad++;
        }
        return entries;
      }),
    );
  } finally {
    db.close();
  }

  // The tree's shape, read from the closed file by a pager of its own.
  const inspector = Pager.open(new NodeFS(), file, { cacheFrames: 256 });
  const tree = (() => {
    try {
      return inView(inspector, treeInfo);
    } finally {
      inspector.close();
    }
  })();

  const again = open(file, { create: false });
  try {
    rows.push(
      phase(again, `reopen, verify ${Math.min(n, VERIFY_SAMPLE)} keys`, () => {
        const sample = Math.min(n, VERIFY_SAMPLE);
        for (let j = 0; j < sample; j++) {
          const i = prng.int(n);
          if (!same(again.get(keys[i]), demoValue(i))) bad++;
        }
        return sample;
      }),
    );
    const problems = again.check();
    if (problems.length > 0) bad += problems.length;
  } finally {
    again.close();
  }

  io.out(table(rows));
  const fileBytes = fs.statSync(file).size;
  io.out(
    `\ntree depth ${tree.depth}; ${tree.leafPages.toLocaleString("en-US")} leaf + ${tree.interiorPages} interior pages, ${(tree.fill * 100).toFixed(0)}% full; ${(tree.keys - 1).toLocaleString("en-US")} keys\n` +
      `file ${file}: ${sizeOf(fileBytes)}; check: ${bad === 0 ? "ok" : "FAILED"}\n`,
  );
  if (bad > 0) throw new CliError("ERR_VERIFY", `${file}: ${bad} reads or checks did not match`);
  if (tree.keys !== n + 1) {
    throw new CliError(
      "ERR_VERIFY",
      `${file}: ${tree.keys} keys in the tree, expected ${n} and the marker`,
    );
  }
  io.out("every key read back as written.\n");
  return EXIT_OK;
}

/** Why `file` is not the demo's: it stays as it is. */
function notDemo(file: string, why: string): CliError {
  return new CliError(
    "ERR_EXISTS",
    `${file}: not a pagekv demo database (${why}); the demo reuses only its own files and ` +
      "left this one as it was: pass another --file, or delete it",
  );
}

/** Open `file` for the demo, held under its writer lock: created, or the demo's, emptied. */
function openDemo(file: string): Database {
  // A read-only look first: a file that is not the demo's is refused before anything
  // could write to it (a writer open would recover and checkpoint a pending log).
  let probe: Database;
  try {
    probe = open(file, { readOnly: true });
  } catch (e) {
    if (isPagekvError(e, "ERR_NOT_FOUND")) return createDemo(file);
    if (isPagekvError(e, "ERR_CORRUPT") || isPagekvError(e, "ERR_NOT_DATABASE")) {
      throw notDemo(file, `it does not open as one: ${messageOf(e)}`);
    }
    throw e;
  }
  try {
    if (probe.get(DEMO_MARKER_KEY) === undefined) throw notDemo(file, "no demo marker key");
  } finally {
    probe.close();
  }
  const db = open(file, { create: false });
  try {
    // Checked again under the writer lock: the file may have changed since the look.
    if (db.get(DEMO_MARKER_KEY) === undefined) throw notDemo(file, "no demo marker key");
    clearDemo(db);
    return db;
  } catch (e) {
    db.close();
    throw e;
  }
}

/** A new demo database; the engine refuses to create over a file that holds data. */
function createDemo(file: string): Database {
  let db: Database;
  try {
    db = open(file);
  } catch (e) {
    if (isPagekvError(e, "ERR_EXISTS")) throw notDemo(file, messageOf(e));
    throw e;
  }
  try {
    db.put(DEMO_MARKER_KEY, DEMO_MARKER_VALUE);
    return db;
  } catch (e) {
    db.close();
    throw e;
  }
}

/** Delete every key but the marker, BATCH_KEYS per transaction. */
function clearDemo(db: Database): void {
  for (;;) {
    const doomed: Uint8Array[] = [];
    for (const [k] of db.range({ limit: BATCH_KEYS + 1 })) {
      if (!same(k, MARKER_BYTES)) doomed.push(k);
    }
    if (doomed.length === 0) return;
    db.transaction((tx) => {
      for (const k of doomed) tx.delete(k);
    });
  }
}
