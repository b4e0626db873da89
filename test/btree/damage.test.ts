// Damaged pages with valid checksums: a real database (a few hundred keys, overflow values,
// free pages) is built with open() on MemFS, then one tree page (leaf, interior, overflow)
// is overwritten through the bare Pager, so that its CRC is valid but its bytes are not a
// B-tree node as the tree wrote it: random bytes, or a targeted field (kind, count, content
// start, garbage, a slot, a cell's key or value length, a child or sibling pointer, an
// overflow chain's pointer or length), or the root slot. The database is reopened with
// open() and every operation is run: get, has, put (small and overflow), delete, batch,
// ranges both ways with bounds, a transaction function, check(). Every error must be
// ERR_CORRUPT naming the file and a page; never a TypeError/RangeError or an internal
// assertion; no operation may loop (page reads per operation and entries per range are
// bounded, not timed); a write that fails leaves the committed pages as they were; and
// check() must report targeted damage (a changed value byte is not damage anyone can see,
// so random bytes are exempt).
//
// PAGEKV_DAMAGE_RUNS sets the number of damaged files (default 1000). PAGEKV_DAMAGE_SEED picks
// the seed (fixed by default; "random" draws one); to replay a failure pass the seed and
// path fast-check printed as PAGEKV_DAMAGE_SEED and PAGEKV_DAMAGE_PATH.
// PAGEKV_DAMAGE_SURVEY=1 reports every violation found instead of failing at the first;
// PAGEKV_DAMAGE_PAGE_SIZE sets the page size (default 512; up to 4096 builds a fitting file).

import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { test } from "node:test";
import fc from "fast-check";
import { BTree } from "../../src/btree/btree.js";
import {
  cellAt,
  childAt,
  count,
  initNode,
  insertCell,
  KIND_INTERIOR,
  KIND_LEAF,
  KIND_OVERFLOW,
  kind,
  LEAF_CELL_HEADER_BYTES,
  leafValueOffset,
  NODE_HEADER_BYTES,
  OVERFLOW_MARK,
  right,
} from "../../src/btree/node.js";
import { readU16, readU32, writeU16, writeU32 } from "../../src/format/codec.js";
import { type Database, MemFS, open, PagekvError, Pager } from "../../src/index.js";
import { envSeed } from "../seed.js";

const RUNS = Number(process.env.PAGEKV_DAMAGE_RUNS ?? 1000);
const SEED_DEFAULT = 20261201;
const SEED = envSeed("PAGEKV_DAMAGE_SEED", SEED_DEFAULT);
const PATH = process.env.PAGEKV_DAMAGE_PATH;
const SURVEY = process.env.PAGEKV_DAMAGE_SURVEY === "1";

const FILE = "/damaged.pkv";
/** PAGEKV_DAMAGE_PAGE_SIZE runs the same at another page size (the file grows with it). */
const PAGE_SIZE = Number(process.env.PAGEKV_DAMAGE_PAGE_SIZE ?? 512);
const OPTIONS = { pageSize: PAGE_SIZE, cacheBytes: 16 * PAGE_SIZE, sync: "off" } as const;
const KEYS = 400 * (PAGE_SIZE / 512);
/** Page reads one operation may make before it counts as looping. */
const READS_PER_OP_MAX = 20_000;

const enc = new TextEncoder();
const keyOf = (i: number) => enc.encode(`key:${String(i).padStart(5, "0")}`);
function valueFor(i: number, round = 0): Uint8Array {
  const n = i % 23 === 0 ? 300 + ((i * 37) % 1200) : 8 + ((i * 13) % 40); // some overflow
  const v = new Uint8Array(n);
  for (let j = 0; j < n; j++) v[j] = (i * 31 + j * 7 + round) & 0xff;
  return v;
}

// ---- the database every run damages ----

interface Catalogue {
  image: Uint8Array;
  pageCount: number;
  root: number;
  leaves: number[];
  interiors: number[];
  overflows: number[];
  /** First page of each overflow chain. */
  chainHeads: number[];
  free: number[];
  keys: Uint8Array[];
}

function build(): Catalogue {
  const fs = new MemFS();
  // sync "normal": the closing checkpoint syncs, so readDurable() sees the whole file.
  const db = open(FILE, { ...OPTIONS, sync: "normal", vfs: fs });
  db.batch(
    Array.from({ length: KEYS }, (_, i) => ({ type: "put", key: keyOf(i), value: valueFor(i) })),
  );
  // Deletes leave free pages (and underfull leaves merged away).
  db.batch(
    Array.from({ length: KEYS / 6 }, (_, i) => ({ type: "del" as const, key: keyOf(100 + i) })),
  );
  const problems = db.check();
  assert.deepEqual(problems, []);
  db.close();
  const image = fs.readDurable(FILE);
  const pager = Pager.open(restore(image), FILE);
  const c: Catalogue = {
    image,
    pageCount: pager.pageCount,
    root: pager.getSlot(0),
    leaves: [],
    interiors: [],
    overflows: [],
    chainHeads: [],
    free: pager.freePageNumbers(),
    keys: [],
  };
  const walk = (pgno: number) => {
    const f = pager.get(pgno);
    const d = f.data.slice();
    pager.unpin(f);
    if (kind(d) === KIND_LEAF) {
      c.leaves.push(pgno);
      for (let i = 0; i < count(d); i++) {
        const off = cellAt(d, i);
        const kl = readU16(d, off);
        c.keys.push(d.slice(off + LEAF_CELL_HEADER_BYTES, off + LEAF_CELL_HEADER_BYTES + kl));
        if (readU16(d, off + 2) !== OVERFLOW_MARK) continue;
        let p = readU32(d, leafValueOffset(d, off));
        c.chainHeads.push(p);
        while (p !== 0) {
          c.overflows.push(p);
          const o = pager.get(p);
          p = right(o.data);
          pager.unpin(o);
        }
      }
      return;
    }
    assert.equal(kind(d), KIND_INTERIOR);
    c.interiors.push(pgno);
    for (let i = 0; i <= count(d); i++) walk(childAt(d, i));
  };
  walk(c.root);
  pager.close();
  // Three levels at 512-byte pages; larger pages fan out too far for that (their "interior"
  // target is then the root).
  if (PAGE_SIZE === 512) assert.ok(c.interiors.length >= 2, "no interior nodes below the root");
  assert.ok(c.overflows.length > 0 && c.free.length > 0 && c.leaves.length > 20);
  return c;
}

/** A MemFS holding `image` as the database file. */
function restore(image: Uint8Array): MemFS {
  const fs = new MemFS();
  const f = fs.open(FILE, { create: true });
  f.writeAt(image, 0);
  f.sync();
  f.close();
  return fs;
}

// ---- damage ----

type Target = "leaf" | "interior" | "overflow" | "root";

type Damage =
  | { what: "random"; offset: number; bytes: number[] }
  | { what: "kind"; value: number }
  | { what: "count" | "content" | "garbage"; value: number }
  | { what: "slot"; cell: number; value: number }
  | { what: "keyLength" | "valueLength"; cell: number; value: number }
  | { what: "child"; cell: number; to: number }
  | { what: "right"; to: number }
  | { what: "overflowRef"; cell: number; to: number }
  | { what: "overflowLength"; cell: number; value: number }
  | { what: "rootSlot"; to: number };

/** A u16 near the interesting boundaries; resolved against the page when applied. */
const u16Arb = fc.oneof(
  fc.constantFrom(0, 1, 15, 16, 17, 0xfffe, 0xffff, -1, -2, -3, -4),
  fc.integer({ min: 0, max: 0xffff }),
);
/** Where a pointer goes: fixed numbers and (negative) symbolic choices resolved later. */
const toArb = fc.oneof(
  fc.constantFrom(0, 1, 0xffff_ffff, -1, -2, -3, -4, -5, -6, -7),
  fc.integer({ min: 2, max: 400 }),
);

const damageArb: fc.Arbitrary<Damage> = fc.oneof(
  fc.record({
    what: fc.constant("random" as const),
    offset: fc.nat({ max: PAGE_SIZE - 9 }),
    bytes: fc.array(fc.integer({ min: 0, max: 255 }), { minLength: 1, maxLength: 40 }),
  }),
  fc.record({ what: fc.constant("kind" as const), value: fc.constantFrom(0, 1, 2, 3, 4, 255) }),
  fc.record({
    what: fc.constantFrom("count" as const, "content" as const, "garbage" as const),
    value: u16Arb,
  }),
  fc.record({ what: fc.constant("slot" as const), cell: fc.nat(), value: u16Arb }),
  fc.record({
    what: fc.constantFrom("keyLength" as const, "valueLength" as const),
    cell: fc.nat(),
    // -5: as long as the page allows (the cell then ends at the page's end), in bounds.
    value: fc.oneof({ arbitrary: u16Arb, weight: 3 }, { arbitrary: fc.constant(-5), weight: 1 }),
  }),
  fc.record({ what: fc.constant("child" as const), cell: fc.nat(), to: toArb }),
  fc.record({ what: fc.constant("right" as const), to: toArb }),
  fc.record({ what: fc.constant("overflowRef" as const), cell: fc.nat(), to: toArb }),
  fc.record({
    what: fc.constant("overflowLength" as const),
    cell: fc.nat(),
    value: fc.constantFrom(0, 1, -1, -2, -3, 0xffff_ffff, 64 * 2 ** 20 + 1, 2 ** 31),
  }),
);

const rootSlotArb = fc.record({ what: fc.constant("rootSlot" as const), to: toArb });

const hitArb = fc.record({
  target: fc.constantFrom<Target>("leaf", "interior", "overflow", "root"),
  page: fc.nat(),
  damage: fc.oneof({ arbitrary: damageArb, weight: 12 }, { arbitrary: rootSlotArb, weight: 1 }),
});
/** One damaged page, sometimes two. */
const caseArb = fc.oneof(
  { arbitrary: fc.tuple(hitArb), weight: 4 },
  { arbitrary: fc.tuple(hitArb, hitArb), weight: 1 },
);
type Hit = { target: Target; page: number; damage: Damage };
type Case = Hit[];

/**
 * Apply `c` to a copy of the catalogue's file through the bare Pager (so the checksum is
 * valid). Returns the file system and whether bytes changed that check() must notice (a
 * targeted field given a new value), or null when the damage does not apply to the page.
 */
/** The page `c` damages (for the root slot: the root, whose pointer it changes). */
function pageOf(cat: Catalogue, c: Hit): number {
  const pages =
    c.target === "leaf"
      ? cat.leaves
      : c.target === "interior"
        ? cat.interiors.length > 1
          ? cat.interiors.filter((p) => p !== cat.root)
          : cat.interiors
        : c.target === "overflow"
          ? cat.overflows
          : [cat.root];
  return c.damage.what === "rootSlot" ? cat.root : pages[c.page % pages.length];
}

function damagePage(
  cat: Catalogue,
  pager: Pager,
  c: Hit,
): { visible: boolean; pgno: number } | null {
  const pgno = pageOf(cat, c);
  const f = pager.get(pgno, "write");
  const d = f.data;
  const before = d.slice();
  const usable = d.length;
  const n = count(d);
  const k = kind(d);
  const dm = c.damage;
  /** A symbolic u16 (-1: old + 1, -2: old - 1, -3: usable, -4: usable + 1). */
  const u16 = (v: number, old: number) =>
    (v === -1 ? old + 1 : v === -2 ? old - 1 : v === -3 ? usable : v === -4 ? usable + 1 : v) &
    0xffff;
  /**
   * A symbolic page: -1 itself, -2 the root, -3 a free page, -4 pageCount, -5 pageCount + 1,
   * -6 a leaf, -7 the head of an overflow chain.
   */
  const to = (v: number) =>
    v === -1
      ? pgno
      : v === -2
        ? cat.root
        : v === -3
          ? cat.free[0]
          : v === -4
            ? cat.pageCount
            : v === -5
              ? cat.pageCount + 1
              : v === -6
                ? cat.leaves[(pgno * 7) % cat.leaves.length]
                : v === -7
                  ? cat.chainHeads[pgno % cat.chainHeads.length]
                  : v;
  let visible = true;
  let applies = true;
  const overflowCells: number[] = [];
  if (k === KIND_LEAF) {
    for (let i = 0; i < n; i++)
      if (readU16(d, cellAt(d, i) + 2) === OVERFLOW_MARK) overflowCells.push(i);
  }
  switch (dm.what) {
    case "random":
      d.set(dm.bytes.slice(0, usable - dm.offset), dm.offset);
      visible = false;
      break;
    case "kind":
      d[0] = dm.value;
      break;
    case "count":
      if (k === KIND_OVERFLOW) applies = false;
      else writeU16(d, 2, u16(dm.value, n));
      break;
    case "content":
      if (k === KIND_OVERFLOW) applies = false;
      else writeU16(d, 4, u16(dm.value, readU16(d, 4)));
      break;
    case "garbage":
      if (k === KIND_OVERFLOW) applies = false;
      else writeU16(d, 6, u16(dm.value, readU16(d, 6)));
      break;
    case "slot":
      if (k === KIND_OVERFLOW || n === 0) applies = false;
      else {
        const at = NODE_HEADER_BYTES + 2 * (dm.cell % n);
        writeU16(d, at, u16(dm.value, readU16(d, at)));
      }
      break;
    case "keyLength":
    case "valueLength":
      if (k === KIND_OVERFLOW || n === 0) applies = false;
      else {
        const off = cellAt(d, dm.cell % n);
        const at = k === KIND_LEAF ? (dm.what === "keyLength" ? off : off + 2) : off + 4;
        const old = readU16(d, at);
        // The rest of the cell beside the field changed: the other length, or an overflow ref.
        const vl = readU16(d, off + 2);
        const rest =
          k !== KIND_LEAF
            ? 6
            : dm.what === "keyLength"
              ? 4 + (vl === OVERFLOW_MARK ? 8 : vl)
              : 4 + readU16(d, off);
        const inBounds = Math.max(0, usable - off - rest);
        const overflowRef = k === KIND_LEAF && dm.what === "valueLength" && vl === OVERFLOW_MARK;
        if (dm.value === -5 && overflowRef) applies = false;
        else writeU16(d, at, dm.value === -5 ? inBounds : u16(dm.value, old));
      }
      break;
    case "child":
      if (k !== KIND_INTERIOR) applies = false;
      else {
        const i = dm.cell % (n + 1);
        if (i === n) writeU32(d, 8, to(dm.to));
        else writeU32(d, cellAt(d, i), to(dm.to));
      }
      break;
    case "right":
      writeU32(d, 8, to(dm.to));
      // The last leaf's 0 and an overflow page's last 0 are also "no sibling": same bytes.
      break;
    case "overflowRef":
    case "overflowLength":
      if (overflowCells.length === 0) applies = false;
      else {
        const off = cellAt(d, overflowCells[dm.cell % overflowCells.length]);
        const at = leafValueOffset(d, off) + (dm.what === "overflowRef" ? 0 : 4);
        const old = readU32(d, at);
        const payload = usable - NODE_HEADER_BYTES;
        const v =
          dm.what === "overflowRef"
            ? to(dm.to)
            : dm.value === -1
              ? old + payload
              : dm.value === -2
                ? Math.max(0, old - payload)
                : dm.value === -3
                  ? old + 5 * payload
                  : dm.value;
        writeU32(d, at, v >>> 0);
      }
      break;
  }
  let slotChanged = false;
  if (dm.what === "rootSlot") {
    const root = to(dm.to);
    slotChanged = root !== cat.root;
    pager.setSlot(0, root);
  }
  const changed = slotChanged || d.some((b, i) => b !== before[i]);
  pager.unpin(f, changed);
  if (!applies) return null;
  return { visible: visible && changed, pgno };
}

/**
 * Apply the hits of `c` (each to a page no earlier hit took) to a copy of the catalogue's
 * file through the bare Pager, so that every checksum is valid. Returns the file system,
 * whether some hit changed a field check() must notice, and the pages hit; null when no
 * hit applied to its page.
 */
function damage(cat: Catalogue, c: Case): { fs: MemFS; visible: boolean; pgnos: number[] } | null {
  const fs = restore(cat.image);
  const pager = Pager.open(fs, FILE);
  let visible = false;
  const pgnos: number[] = [];
  for (const hit of c) {
    // A second hit on a page could undo the first: each hit takes a page of its own.
    if (pgnos.includes(pageOf(cat, hit))) continue;
    const r = damagePage(cat, pager, hit);
    if (r === null) continue;
    pgnos.push(r.pgno);
    visible ||= r.visible;
  }
  pager.close();
  return pgnos.length === 0 ? null : { fs, visible, pgnos };
}

// ---- running every operation ----

interface Outcome {
  op: string;
  error: unknown;
}

/** A thrown error the contract allows: a PagekvError ERR_CORRUPT naming the file and a page. */
function violation(e: unknown): string | null {
  if (!(e instanceof PagekvError)) {
    const err = e as Error;
    return `not a PagekvError: ${err?.name}: ${err?.message} ${String(err?.stack).split("\n")[1]?.trim()}`;
  }
  if (e.code !== "ERR_CORRUPT") return `${e.code} (expected ERR_CORRUPT): ${e.message}`;
  if (!e.message.includes(FILE) || e.path !== FILE) return `does not name the file: ${e.message}`;
  if (!/page \d+/.test(e.message)) return `does not name a page: ${e.message}`;
  return null;
}

const LOOP = "an operation looped";

/** Count page reads per operation; past the bound, throw (a loop, not a slow operation). */
function instrument(db: Database): { pager: Pager; reset: () => void } {
  const pager = (db as unknown as { pager: Pager }).pager;
  let reads = 0;
  const get = pager.get.bind(pager);
  const pinAt = pager.pinAt.bind(pager);
  const bump = () => {
    if (++reads > READS_PER_OP_MAX)
      throw new Error(`${LOOP}: more than ${READS_PER_OP_MAX} page reads`);
  };
  pager.get = (pgno, intent) => {
    bump();
    return get(pgno, intent);
  };
  pager.pinAt = (snap, pgno) => {
    bump();
    return pinAt(snap, pgno);
  };
  return { pager, reset: () => (reads = 0) };
}

/** The committed state: slot 0, page count, freelist and the bytes of every live page. */
function fingerprint(pager: Pager): string {
  const h = createHash("sha1");
  const free = new Set(pager.freePageNumbers());
  h.update(`${pager.getSlot(0)} ${pager.pageCount} ${[...free].sort((a, b) => a - b).join(",")}`);
  for (let p = 2; p <= pager.pageCount; p++) {
    if (free.has(p)) continue;
    const f = pager.get(p);
    h.update(f.data);
    pager.unpin(f);
  }
  return h.digest("hex");
}

function exercise(fs: MemFS, cat: Catalogue): { outcomes: Outcome[]; checkFound: boolean } {
  const outcomes: Outcome[] = [];
  let checkFound = false;
  let db: Database;
  try {
    db = open(FILE, { ...OPTIONS, vfs: fs });
  } catch (e) {
    outcomes.push({ op: "open", error: e });
    return { outcomes, checkFound: true };
  }
  const { pager, reset } = instrument(db);
  const entriesMax = cat.keys.length + KEYS + 10;
  const run = (op: string, fn: () => void, writes = false) => {
    const before = writes ? fingerprint(pager) : "";
    reset();
    try {
      fn();
    } catch (e) {
      outcomes.push({ op, error: e });
      if (writes) {
        const after = fingerprint(pager);
        if (after !== before)
          outcomes.push({ op, error: new Error(`${op} failed and changed committed pages`) });
      }
    }
  };
  const drain = (it: Iterable<[Uint8Array, Uint8Array]>) => {
    let n = 0;
    for (const _ of it)
      if (++n > entriesMax)
        throw new Error(`${LOOP}: a range yielded more than ${entriesMax} entries`);
  };
  run("check", () => {
    const problems = db.check();
    if (problems.length > 0) checkFound = true;
  });
  if (
    outcomes.some(
      (o) => o.op === "check" && o.error instanceof PagekvError && o.error.code === "ERR_CORRUPT",
    )
  )
    checkFound = true;
  const sample = cat.keys.filter((_, i) => i % 5 === 0);
  run("get", () => {
    for (const k of cat.keys) db.get(k);
  });
  run("has", () => {
    for (const k of sample) db.has(k);
  });
  run("get missing", () => {
    db.get(enc.encode("key:00100x"));
    db.get(enc.encode("zzz"));
    db.get(enc.encode(""));
  });
  run("range", () => drain(db.range()));
  run("range reverse", () => drain(db.range({ reverse: true })));
  run("range bounded", () => drain(db.range({ gte: keyOf(50), lt: keyOf(300) })));
  run("range bounded reverse", () =>
    drain(db.range({ gt: keyOf(20), lte: keyOf(390), reverse: true })),
  );
  run("range prefix limit", () => drain(db.range({ prefix: "key:002", limit: 7 })));
  run("put small", () => db.put(keyOf(7), valueFor(7, 1).subarray(0, 12)), true);
  run("put new", () => db.put(keyOf(120), "new"), true);
  run("put overflow", () => db.put(keyOf(250), new Uint8Array(900).fill(9)), true);
  run("put replaces overflow", () => db.put(keyOf(23), "short now"), true);
  run("delete", () => db.delete(keyOf(46)), true);
  run("delete overflow", () => db.delete(keyOf(69)), true);
  run("delete missing", () => db.delete(keyOf(130)), true);
  run(
    "batch",
    () =>
      db.batch(
        Array.from({ length: 40 }, (_, i) =>
          i % 3 === 0
            ? { type: "del" as const, key: keyOf(i * 9) }
            : { type: "put" as const, key: keyOf(i * 9 + 1), value: valueFor(i, 2) },
        ),
      ),
    true,
  );
  run(
    "transaction",
    () =>
      db.transaction((tx) => {
        tx.put(keyOf(333), valueFor(23, 3));
        tx.get(keyOf(300));
        db.get(keyOf(301)); // the committed view
        drain(tx.range({ gte: keyOf(200), limit: 50 }));
        drain(db.range({ lt: keyOf(200), reverse: true, limit: 50 }));
        tx.delete(keyOf(301));
        tx.has(keyOf(302));
      }),
    true,
  );
  run(
    "deletes",
    () =>
      db.batch(
        Array.from({ length: 150 }, (_, i) => ({ type: "del" as const, key: keyOf(160 + i) })),
      ),
    true,
  );
  run("check again", () => db.check());
  run("close", () => db.close());
  return { outcomes, checkFound };
}

// ---- the property ----

/**
 * What the first runs found before the tree validated pages (each failed then), replayed
 * first on every run: a reverse range looping through a leaf whose kind byte was zeroed; a
 * free or out-of-range child, sibling or overflow page as ERR_PAGE_RANGE; RangeErrors from
 * compaction and cell copies; the internal "leaf value does not follow its key" assertion;
 * and damage check() called fine.
 */
const EXAMPLES: [Case][] = [
  [[{ target: "leaf", page: 0, damage: { what: "random", offset: 0, bytes: [0] } }]],
  [[{ target: "leaf", page: 3, damage: { what: "kind", value: 4 } }]],
  [[{ target: "root", page: 0, damage: { what: "right", to: 396 } }]],
  [[{ target: "root", page: 0, damage: { what: "right", to: -3 } }]],
  [[{ target: "overflow", page: 2, damage: { what: "right", to: -3 } }]],
  [[{ target: "leaf", page: 5, damage: { what: "keyLength", cell: 1, value: 28722 } }]],
  [[{ target: "leaf", page: 7, damage: { what: "count", value: 16 } }]],
  [[{ target: "interior", page: 0, damage: { what: "content", value: 5483 } }]],
  [[{ target: "leaf", page: 9, damage: { what: "valueLength", cell: 2, value: 40759 } }]],
  [[{ target: "leaf", page: 0, damage: { what: "overflowLength", cell: 0, value: 1 } }]],
  [[{ target: "interior", page: 0, damage: { what: "child", cell: 2, to: -2 } }]],
];

const census = new Map<string, number>();
const found: string[] = [];

test("a damaged page with a valid checksum is ERR_CORRUPT at every operation, never a TypeError or a loop", () => {
  const cat = build();
  let applied = 0;
  let visibleRuns = 0;
  let corruptErrors = 0;
  let failing = 0;
  let checkMissed = 0;
  fc.assert(
    fc.property(caseArb, (c) => {
      const damaged = damage(cat, c);
      if (damaged === null) return;
      applied++;
      const { outcomes, checkFound } = exercise(damaged.fs, cat);
      const problems: string[] = [];
      for (const o of outcomes) {
        const v = violation(o.error);
        if (v === null) {
          corruptErrors++;
          continue;
        }
        problems.push(`${o.op}: ${v}`);
        const kindOf =
          o.error instanceof PagekvError
            ? o.error.code
            : `${(o.error as Error)?.name}: ${(o.error as Error)?.message}`;
        const key = `${o.op}: ${kindOf.replace(/\d+/g, "N")}`;
        census.set(key, (census.get(key) ?? 0) + 1);
      }
      if (damaged.visible) {
        visibleRuns++;
        if (!checkFound) problems.push("check() found nothing");
      }
      if (problems.length === 0) return;
      failing++;
      if (problems.includes("check() found nothing")) checkMissed++;
      const what = `page(s) ${damaged.pgnos.join(", ")} damaged by ${JSON.stringify(c)}`;
      if (SURVEY) {
        if (found.length < 40) found.push(`${what}:\n    ${problems.join("\n    ")}`);
        return;
      }
      assert.fail(`${what}:\n  ${problems.join("\n  ")}`);
    }),
    { numRuns: RUNS, seed: SEED, path: PATH, examples: EXAMPLES, includeErrorInReport: true },
  );
  console.log(
    `damage: ${applied} damaged files (${visibleRuns} with targeted damage check() must see), ` +
      `${corruptErrors} ERR_CORRUPT errors`,
  );
  if (SURVEY) {
    console.log(`${failing} damaged files broke the contract; check() missed ${checkMissed}`);
    console.log(
      [...census]
        .sort((a, b) => b[1] - a[1])
        .map(([k, n]) => `${n}\t${k}`)
        .join("\n"),
    );
    console.log(found.join("\n"));
  }
});

test("a file the bare Pager wrote (page 2 holds 1, 2, 3; slot 0 points at it) is ERR_CORRUPT to the tree", () => {
  const fs = new MemFS();
  const pager = Pager.create(fs, FILE, { pageSize: 4096, cacheFrames: 16 });
  pager.begin();
  const f = pager.allocate();
  f.data.set([1, 2, 3]);
  pager.unpin(f, true);
  pager.setSlot(0, f.pgno);
  pager.commit();
  const tree = new BTree(pager);
  const ops: [string, () => unknown][] = [
    ["get", () => tree.get(enc.encode("a"))],
    ["has", () => tree.has(enc.encode("a"))],
    ["put", () => tree.put(enc.encode("a"), enc.encode("b"))],
    ["delete", () => tree.delete(enc.encode("a"))],
    ["entries", () => [...tree.entries()]],
    ["entries reverse", () => [...tree.entries({ reverse: true })]],
  ];
  for (const [name, fn] of ops) {
    pager.begin();
    try {
      fn();
      assert.fail(`${name} did not throw`);
    } catch (e) {
      assert.ok(e instanceof PagekvError, `${name}: ${String(e)}`);
      assert.equal(e.code, "ERR_CORRUPT", `${name}: ${e.message}`);
      assert.match(e.message, new RegExp(`${FILE}: page 2`), name);
    } finally {
      pager.rollback();
    }
  }
  assert.ok(tree.check().length > 0, "check() reports the page");
  pager.close();
  // Through open(): refused up front (once files carry an application id) or ERR_CORRUPT.
  let db: Database;
  try {
    db = open(FILE, { vfs: fs });
  } catch (e) {
    assert.ok(e instanceof PagekvError && e.code === "ERR_NOT_DATABASE", String(e));
    return;
  }
  for (const fn of [() => db.put("a", "b"), () => db.get("a"), () => [...db.range()]]) {
    assert.throws(fn, (e) => e instanceof PagekvError && e.code === "ERR_CORRUPT");
  }
  db.close();
});

/**
 * A root leaf of `cells` ([key, value length]) written directly: every cell inside the
 * page and the space accounted for, but cells put() would never write.
 */
function craftedLeaf(cells: [string, number][]): { pager: Pager; tree: BTree } {
  const pager = Pager.create(new MemFS(), FILE, { pageSize: 512, cacheFrames: 16 });
  pager.begin();
  const f = pager.allocate();
  const d = f.data;
  initNode(d, KIND_LEAF);
  const scratch = new Uint8Array(d.length);
  for (const [key, valueLength] of cells) {
    const k = enc.encode(key);
    const at = insertCell(d, count(d), LEAF_CELL_HEADER_BYTES + k.length + valueLength, scratch);
    writeU16(d, at, k.length);
    writeU16(d, at + 2, valueLength);
    d.set(k, at + LEAF_CELL_HEADER_BYTES);
  }
  pager.unpin(f, true);
  pager.setSlot(0, f.pgno);
  pager.commit();
  return { pager, tree: new BTree(pager) };
}

test("an inline cell larger than put() ever writes is ERR_CORRUPT, not a split past the page", () => {
  // a, then b (a 440-byte inline value: put() keeps at most a quarter page inline), then c.
  // Inserting bb splits a | b, bb, c: more than a page, had the leaf been trusted.
  const { pager, tree } = craftedLeaf([
    ["a", 4],
    ["b", 440],
    ["c", 4],
  ]);
  assert.ok(
    tree.check().some((p) => /larger than/.test(p)),
    "check() reports the cell",
  );
  pager.begin();
  const e = throwsCorrupt(() => tree.put(enc.encode("bb"), new Uint8Array(100)));
  assert.match(e.message, /page 2: leaf cell 1 .*larger than/);
  pager.rollback();
  // A node found inconsistent is damaged as a whole: reads of it fail too, never read on.
  assert.match(throwsCorrupt(() => tree.get(enc.encode("a"))).message, /leaf cell 1/);
  pager.close();
});

test("a key longer than the tree's maximum is ERR_CORRUPT at a write", () => {
  const { pager, tree } = craftedLeaf([
    ["k".repeat(40), 4], // keyBytesMax is 32 at 512-byte pages
    ["z", 4],
  ]);
  assert.deepEqual(tree.check(), [
    "page 2: leaf cell 0 has a key of 40 bytes, larger than the maximum 32",
  ]);
  pager.begin();
  const e = throwsCorrupt(() => tree.put(enc.encode("m"), enc.encode("v")));
  assert.match(e.message, /page 2: leaf cell 0 has a key of 40 bytes/);
  pager.rollback();
  pager.close();
});

function throwsCorrupt(fn: () => unknown): PagekvError {
  try {
    fn();
  } catch (e) {
    assert.ok(e instanceof PagekvError, `expected ERR_CORRUPT, got ${String(e)}`);
    assert.equal(e.code, "ERR_CORRUPT", e.message);
    return e;
  }
  assert.fail("expected ERR_CORRUPT, nothing was thrown");
}

test("a write to a leaf whose sibling pointer is out of range is ERR_CORRUPT and changes nothing", () => {
  const cat = build();
  const hit: Hit = { target: "leaf", page: 3, damage: { what: "right", to: 0xffff_ffff } };
  const damaged = damage(cat, [hit]);
  assert.ok(damaged !== null);
  // The first key of the damaged leaf: a put of it changes that leaf and nothing else.
  const pager = Pager.open(damaged.fs, FILE);
  const f = pager.get(pageOf(cat, hit));
  const off = cellAt(f.data, 0);
  const key = f.data.slice(
    off + LEAF_CELL_HEADER_BYTES,
    off + LEAF_CELL_HEADER_BYTES + readU16(f.data, off),
  );
  pager.unpin(f);
  pager.close();
  const db = open(FILE, { ...OPTIONS, vfs: damaged.fs });
  const { pager: inner } = instrument(db);
  const committed = fingerprint(inner);
  const e = throwsCorrupt(() => db.put(key, "x"));
  assert.match(e.message, /the right sibling pointer points at page 4294967295/);
  assert.equal(fingerprint(inner), committed);
  // The node is checked whole when it is first pinned, so a get reports it too.
  assert.match(throwsCorrupt(() => db.get(key)).message, /right sibling pointer/);
  assert.equal(fingerprint(inner), committed);
  db.close();
});
