// `pagekv salvage` (docs/design/backup.md, "Salvage"): with damage to an interior page, a
// leaf, an overflow chain, the header, or with newer images in the log, everything that was
// not damaged comes back exactly, nothing comes back wrong, and the report names the
// damaged pages (and the keys lost with a leaf or a chain). `pagekv backup` makes a copy
// that checks clean and refuses an existing destination.

import * as assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { describe, test } from "node:test";
import { open } from "../../src/index.js";
import { Pager } from "../../src/pager/pager.js";
import { NodeFS } from "../../src/vfs/node/nodefs.js";
import { withTempDir } from "../tmpdir.js";
import { cli, fails, ok } from "./helpers.js";

const dec = new TextDecoder();
const PAGE = 512;
const key = (i: number) => `k${String(i).padStart(5, "0")}`;
const value = (i: number) => `v${i}:`.padEnd(i % 50 === 0 ? 1800 : 30 + (i % 20), "x");

type Model = Map<string, string>;

/** A database of `n` keys at 512-byte pages (a tree of three levels), closed cleanly. */
function build(file: string, n: number, deletes: boolean): Model {
  const db = open(file, { pageSize: PAGE });
  const model: Model = new Map();
  db.batch(
    Array.from({ length: n }, (_, i) => ({ type: "put" as const, key: key(i), value: value(i) })),
  );
  for (let i = 0; i < n; i++) model.set(key(i), value(i));
  if (deletes) {
    for (let i = 0; i < n; i += 4) {
      db.delete(key(i));
      model.delete(key(i));
    }
  }
  db.close();
  return model;
}

function contents(file: string): Model {
  const db = open(file, { readOnly: true });
  try {
    const m: Model = new Map();
    for (const [k, v] of db.range()) m.set(dec.decode(k), dec.decode(v));
    return m;
  } finally {
    db.close();
  }
}

/** Page numbers of each kind in use (free pages left out), read through the pager. */
function pagesByKind(file: string): {
  root: number;
  leaf: number[];
  interior: number[];
  overflow: number[];
} {
  const pager = Pager.open(new NodeFS(), file, { readOnly: true });
  try {
    const free = new Set(pager.freePageNumbers());
    const out = {
      root: pager.getSlot(0),
      leaf: [] as number[],
      interior: [] as number[],
      overflow: [] as number[],
    };
    for (let p = 2; p <= pager.pageCount; p++) {
      if (free.has(p)) continue;
      const f = pager.get(p);
      const k = f.data[0];
      pager.unpin(f);
      if (k === 1) out.leaf.push(p);
      else if (k === 2) out.interior.push(p);
      else if (k === 3) out.overflow.push(p);
    }
    return out;
  } finally {
    pager.close();
  }
}

/** The keys of leaf `pgno`, read through the pager before it is damaged. */
function leafKeys(file: string, pgno: number): string[] {
  const pager = Pager.open(new NodeFS(), file, { readOnly: true });
  try {
    const f = pager.get(pgno);
    const d = f.data;
    const n = (d[2] << 8) | d[3];
    const keys: string[] = [];
    for (let i = 0; i < n; i++) {
      const off = (d[16 + 2 * i] << 8) | d[17 + 2 * i];
      const len = (d[off] << 8) | d[off + 1];
      keys.push(dec.decode(d.subarray(off + 4, off + 4 + len)));
    }
    pager.unpin(f);
    return keys;
  } finally {
    pager.close();
  }
}

/** A page in use whose main-file image differs from its newest one (a log frame's). */
function loggedPage(file: string): number {
  const pager = Pager.open(new NodeFS(), file, { readOnly: true });
  const raw = fs.readFileSync(file);
  try {
    const free = new Set(pager.freePageNumbers());
    for (let p = 2; p <= pager.pageCount; p++) {
      if (free.has(p)) continue;
      const f = pager.get(p);
      const same = Buffer.compare(Buffer.from(f.data), raw.subarray((p - 1) * PAGE, p * PAGE - 8));
      pager.unpin(f);
      if (same !== 0) return p;
    }
  } finally {
    pager.close();
  }
  assert.fail("no page has a newer image in the log");
}

/** Flip a byte in the middle of page `pgno` of `file`. */
function damage(file: string, pgno: number, at = PAGE / 2): void {
  const fd = fs.openSync(file, "r+");
  const b = Buffer.alloc(1);
  fs.readSync(fd, b, 0, 1, (pgno - 1) * PAGE + at);
  b[0] ^= 0x5a;
  fs.writeSync(fd, b, 0, 1, (pgno - 1) * PAGE + at);
  fs.closeSync(fd);
}

/** Every pair in `got` is the model's exactly; returns the model's keys missing from it. */
function noneWrong(got: Model, model: Model): string[] {
  for (const [k, v] of got) assert.equal(v, model.get(k), `key ${k} came back wrong`);
  return [...model.keys()].filter((k) => !got.has(k));
}

function salvage(src: string, dest: string, expectDamage: boolean): string {
  const r = cli(["salvage", src, dest]);
  assert.equal(r.code, expectDamage ? 1 : 0, r.err);
  if (expectDamage) assert.match(r.err, /^pagekv: ERR_VERIFY: .* problem\(s\); \d+ keys saved in /);
  else assert.equal(r.err, "");
  assert.equal(ok(["check", dest]), `${dest}: ok\n`);
  return r.out;
}

describe("salvage", () => {
  test("an undamaged file comes back whole, exit 0", () =>
    withTempDir((dir) => {
      const src = path.join(dir, "a.pkv");
      const model = build(src, 600, true);
      const out = salvage(src, path.join(dir, "b.pkv"), false);
      assert.equal(out, `${path.join(dir, "b.pkv")}: ${model.size} keys saved\n`);
      assert.deepEqual(contents(path.join(dir, "b.pkv")), model);
    }));

  test("a damaged interior page loses nothing: its leaves are read as orphans in its key range", () =>
    withTempDir((dir) => {
      const src = path.join(dir, "a.pkv");
      const model = build(src, 600, true);
      const kinds = pagesByKind(src);
      const inner = kinds.interior.find((p) => p !== kinds.root);
      assert.ok(inner !== undefined, "the tree has an interior page below its root");
      damage(src, inner);
      assert.equal(cli(["check", src]).code, 1);
      const out = salvage(src, path.join(dir, "b.pkv"), true);
      assert.match(
        out,
        new RegExp(
          `page ${inner} \\(main file\\): checksum mismatch.*keys (from|before) '.*' lost`,
        ),
      );
      assert.deepEqual(contents(path.join(dir, "b.pkv")), model);
    }));

  test("a damaged root loses nothing either", () =>
    withTempDir((dir) => {
      const src = path.join(dir, "a.pkv");
      const model = build(src, 600, true);
      const { root } = pagesByKind(src);
      damage(src, root);
      const out = salvage(src, path.join(dir, "b.pkv"), true);
      assert.match(
        out,
        new RegExp(`page ${root} \\(main file\\): checksum mismatch.*\\(every key\\) lost`),
      );
      assert.deepEqual(contents(path.join(dir, "b.pkv")), model);
    }));

  test("a damaged leaf loses exactly its keys, named with the page and its key range", () =>
    withTempDir((dir) => {
      const src = path.join(dir, "a.pkv");
      const model = build(src, 600, true);
      const kinds = pagesByKind(src);
      const leaf = kinds.leaf[Math.floor(kinds.leaf.length / 2)];
      const keys = leafKeys(src, leaf);
      assert.ok(keys.length > 0);
      damage(src, leaf);
      const out = salvage(src, path.join(dir, "b.pkv"), true);
      assert.match(out, new RegExp(`page ${leaf} \\(main file\\): checksum mismatch`));
      const missing = noneWrong(contents(path.join(dir, "b.pkv")), model);
      assert.deepEqual(missing.sort(), keys.sort());
    }));

  test("a damaged overflow page loses that one value, named with its key", () =>
    withTempDir((dir) => {
      const src = path.join(dir, "a.pkv");
      const model = build(src, 600, true);
      const { overflow } = pagesByKind(src);
      assert.ok(overflow.length > 0);
      damage(src, overflow[2]);
      const out = salvage(src, path.join(dir, "b.pkv"), true);
      assert.match(
        out,
        new RegExp(
          `key 'k\\d+' \\(leaf page \\d+\\): value lost: overflow page ${overflow[2]} \\(main file\\): checksum mismatch`,
        ),
      );
      const missing = noneWrong(contents(path.join(dir, "b.pkv")), model);
      assert.equal(missing.length, 1);
      assert.equal(model.get(missing[0])?.length, 1800);
    }));

  test("a damaged header: every leaf is an orphan, and every pair comes back", () =>
    withTempDir((dir) => {
      const src = path.join(dir, "a.pkv");
      const model = build(src, 600, false);
      damage(src, 1, 30);
      assert.equal(cli(["check", src]).code, 1);
      const out = salvage(src, path.join(dir, "b.pkv"), true);
      assert.match(out, /page 1 \(the header, main file\): checksum mismatch/);
      assert.deepEqual(contents(path.join(dir, "b.pkv")), model);
    }));

  test("images in the log are newer than the main file's: salvage takes them", () =>
    withTempDir((dir) => {
      const live = path.join(dir, "live.pkv");
      const model = build(live, 600, false);
      // Commits left in the log: copy the files while the writer has them open.
      const db = open(live, { autoCheckpointPages: 0 });
      for (let i = 1; i < 600; i += 5) {
        db.put(key(i), `new${i}`);
        model.set(key(i), `new${i}`);
      }
      const src = path.join(dir, "a.pkv");
      fs.copyFileSync(live, src);
      fs.copyFileSync(`${live}-wal`, `${src}-wal`);
      db.close();
      const out = salvage(src, path.join(dir, "b.pkv"), false);
      assert.match(out, /600 keys saved/);
      assert.deepEqual(contents(path.join(dir, "b.pkv")), model);
      // A page whose home image is older than its log frame, damaged at home: the log serves.
      const logged = loggedPage(src);
      damage(src, logged);
      salvage(src, path.join(dir, "c.pkv"), false);
      assert.deepEqual(contents(path.join(dir, "c.pkv")), model);
    }));

  test("salvage refuses an existing destination and a missing source", () =>
    withTempDir((dir) => {
      const src = path.join(dir, "a.pkv");
      build(src, 10, false);
      fs.writeFileSync(path.join(dir, "b.pkv"), "");
      fails(["salvage", src, path.join(dir, "b.pkv")], "ERR_EXISTS");
      fails(["salvage", path.join(dir, "none.pkv"), path.join(dir, "c.pkv")], "ERR_NOT_FOUND");
      assert.equal(fs.existsSync(path.join(dir, "c.pkv")), false);
    }));
});

describe("backup (CLI)", () => {
  test("pagekv backup copies the last commit into a file that checks clean, and refuses an existing one", () =>
    withTempDir((dir) => {
      const src = path.join(dir, "a.pkv");
      const model = build(src, 300, true);
      const dest = path.join(dir, "b.pkv");
      const out = ok(["backup", src, dest]);
      assert.match(out, /^.*b\.pkv: \d+ pages, .* \(\d+ bytes\), the commit of LSN \d+\n$/);
      assert.equal(fs.existsSync(`${dest}-wal`), false);
      assert.equal(ok(["check", dest]), `${dest}: ok\n`);
      assert.deepEqual(contents(dest), model);
      fails(["backup", src, dest], "ERR_EXISTS");
      // On a terminal, a progress bar on stderr, erased at the end.
      const tty = cli(["backup", src, path.join(dir, "c.pkv")], true);
      assert.equal(tty.code, 0);
      assert.match(tty.err, /backing up .*\[#+\] 100%/);
    }));
});
