// The public API's contract, example by example: open defaults, one-call writes,
// batches, transaction functions, ranges with every option, and misuse as typed errors.

import assert from "node:assert/strict";
import * as path from "node:path";
import { describe, test } from "node:test";
import { type Database, open } from "../../src/index.js";
import { MemFS } from "../../src/vfs/memfs.js";
import { throwsCode } from "../pager/pages.js";
import { withTempDir } from "../tmpdir.js";

const dec = (b: Uint8Array | undefined) =>
  b === undefined ? undefined : new TextDecoder().decode(b);
const keys = (it: Iterable<[Uint8Array, Uint8Array]>) => [...it].map(([k]) => dec(k));

function db(): { fs: MemFS; db: Database } {
  const fs = new MemFS();
  return { fs, db: open("/db.pkv", { vfs: fs, pageSize: 512, cacheBytes: 0 }) };
}

describe("open", () => {
  test("creates by default, keeps data across close and reopen, and a file's page size wins", () => {
    const { fs, db: d } = db();
    d.put("k", "v");
    d.close();
    const again = open("/db.pkv", { vfs: fs, pageSize: 4096 });
    assert.equal(dec(again.get("k")), "v");
    assert.equal(again.stats().pageSize, 512);
    again.close();
  });

  test("cacheBytes is counted in the file's own pages, whatever pageSize says", () => {
    const { fs, db: d } = db();
    d.close();
    const again = open("/db.pkv", { vfs: fs, pageSize: 4096, cacheBytes: 512 * 100 });
    assert.equal(again.stats().cacheFrames, 100);
    again.close();
  });

  test("the default pool does not raise the automatic checkpoint past 8192 pages; a cacheBytes given does", () => {
    const load = (options: { cacheBytes?: number }) => {
      const d = open("/ckpt.pkv", { vfs: new MemFS(), pageSize: 512, sync: "off", ...options });
      const value = new Uint8Array(100);
      for (let t = 0; t < 20; t++) {
        d.transaction((tx) => {
          for (let i = 0; i < 2000; i++)
            tx.put(`key${String(t * 2000 + i).padStart(8, "0")}`, value);
        });
      }
      const s = d.stats();
      d.close();
      return s;
    };
    const plain = load({});
    assert.equal(
      plain.cacheFrames,
      (256 * 2 ** 20) / 512,
      "the default 256 MiB pool, in 512-byte pages",
    );
    assert.ok(plain.checkpoints >= 1, "no checkpoint with the default pool");
    assert.ok(plain.walFrames <= 8192 + 2000, `${plain.walFrames} frames in the log`);
    const pooled = load({ cacheBytes: 512 * 40_000 });
    assert.equal(pooled.checkpoints, 0, "a 40,000-page pool holds the log until it has as many");
    assert.ok(pooled.walFrames > 8192, `${pooled.walFrames} frames in the log`);
  });

  test("create: false on a missing file is ERR_NOT_FOUND", () => {
    throwsCode(() => open("/none.pkv", { vfs: new MemFS(), create: false }), "ERR_NOT_FOUND");
  });

  test("a second open of the same file is ERR_LOCKED", () => {
    const { fs, db: d } = db();
    throwsCode(() => open("/db.pkv", { vfs: fs }), "ERR_LOCKED");
    d.close();
  });
});

describe("reads and writes", () => {
  test("get, has, put, delete with strings and bytes; the empty key and value", () => {
    const { db: d } = db();
    d.put("", "");
    d.put(Uint8Array.of(0xff), "max");
    assert.equal(dec(d.get("")), "");
    assert.equal(d.has(""), true);
    assert.equal(d.delete(""), true);
    assert.equal(d.delete(""), false);
    assert.equal(d.get(""), undefined);
    assert.equal(dec(d.get(Uint8Array.of(0xff))), "max");
  });

  test("returned values are copies the caller owns", () => {
    const { db: d } = db();
    d.put("k", "abc");
    const v = d.get("k");
    assert.ok(v);
    v[0] = 0x7a;
    assert.equal(dec(d.get("k")), "abc");
  });

  test("a batch applies in array order as one transaction", () => {
    const { db: d } = db();
    d.batch([
      { type: "put", key: "a", value: "1" },
      { type: "put", key: "a", value: "2" },
      { type: "del", key: "b" },
      { type: "put", key: "b", value: "3" },
    ]);
    assert.deepEqual([dec(d.get("a")), dec(d.get("b"))], ["2", "3"]);
    const before = d.stats().commits;
    throwsCode(
      () => d.batch([{ type: "put", key: "c", value: "1" }, { type: "zap" } as never]),
      "ERR_ARG",
    );
    assert.equal(d.get("c"), undefined);
    assert.equal(d.stats().commits, before);
  });
});

describe("transactions", () => {
  test("commits when the function returns, rolls back and rethrows when it throws", () => {
    const { db: d } = db();
    assert.equal(
      d.transaction((tx) => {
        tx.put("a", "1");
        assert.equal(dec(tx.get("a")), "1"); // its own writes
        assert.equal(d.get("a"), undefined); // the database shows the last commit
        return 7;
      }),
      7,
    );
    assert.equal(dec(d.get("a")), "1");
    assert.throws(
      () =>
        d.transaction((tx) => {
          tx.put("b", "1");
          tx.delete("a");
          throw new Error("no");
        }),
      /no/,
    );
    assert.equal(d.get("b"), undefined);
    assert.equal(dec(d.get("a")), "1");
  });

  test("misuse is ERR_TXN: nested, a promise, a write through the database, a stale tx", () => {
    const { db: d } = db();
    throwsCode(() => d.transaction(() => d.transaction(() => 1)), "ERR_TXN");
    throwsCode(() => d.transaction(async () => 1), "ERR_TXN");
    throwsCode(() => d.transaction(() => d.put("x", "y")), "ERR_TXN");
    assert.equal(d.get("x"), undefined);
    let kept: { get(k: string): unknown } | undefined;
    let it: Iterator<unknown> | undefined;
    d.put("r1", "1");
    d.put("r2", "2");
    d.transaction((tx) => {
      kept = tx;
      it = tx.range()[Symbol.iterator]();
      it.next();
    });
    throwsCode(() => kept?.get("a"), "ERR_TXN");
    throwsCode(() => it?.next(), "ERR_TXN");
  });
});

describe("ranges", () => {
  function abc(): Database {
    const { db: d } = db();
    for (const k of ["a", "ab", "abc", "b", "ba", "c"]) d.put(k, k.toUpperCase());
    return d;
  }

  test("bounds and prefix intersect; reverse; limit after reverse", () => {
    const d = abc();
    assert.deepEqual(keys(d.range()), ["a", "ab", "abc", "b", "ba", "c"]);
    assert.deepEqual(keys(d.range({ gt: "a", lte: "b" })), ["ab", "abc", "b"]);
    assert.deepEqual(keys(d.range({ prefix: "a" })), ["a", "ab", "abc"]);
    assert.deepEqual(keys(d.range({ prefix: "a", gt: "a", lt: "abc" })), ["ab"]);
    assert.deepEqual(keys(d.range({ gte: "ab", gt: "ab" })), ["abc", "b", "ba", "c"]);
    assert.deepEqual(keys(d.range({ reverse: true, limit: 2 })), ["c", "ba"]);
    assert.deepEqual(keys(d.range({ prefix: "b", reverse: true })), ["ba", "b"]);
    assert.deepEqual(keys(d.range({ limit: 0 })), []);
    assert.deepEqual(keys(d.range({ prefix: Uint8Array.of(0xff) })), []);
    throwsCode(() => [...d.range({ limit: -1 })], "ERR_ARG");
    throwsCode(() => [...d.range({ limit: 1.5 })], "ERR_ARG");
  });

  test("a live iterator (snapshot: false) outlives writes: it continues after its last key, never repeating", () => {
    const d = abc();
    const seen: (string | undefined)[] = [];
    for (const [k] of d.range({ snapshot: false })) {
      seen.push(dec(k));
      if (dec(k) === "ab") {
        d.delete("abc");
        d.put("aa", "new"); // before the cursor: not seen
        d.put("bb", "new"); // after it: seen
      }
    }
    assert.deepEqual(seen, ["a", "ab", "b", "ba", "bb", "c"]);
  });

  test("a range reads a snapshot taken when range() is called: later writes are not seen", () => {
    const d = abc();
    const before = keys(d.range());
    const seen: (string | undefined)[] = [];
    for (const [k] of d.range()) {
      seen.push(dec(k));
      if (dec(k) === "ab") {
        d.delete("abc");
        d.put("aa", "new");
        d.put("bb", "new");
      }
    }
    assert.deepEqual(seen, before);
    assert.equal(d.stats().snapshots, 0, "the finished range closed its snapshot");
  });
});

describe("iterators across leaves and commits", () => {
  const pad = (i: number) => `k${String(i).padStart(5, "0")}`;

  test("a write in the middle of a leaf's entries is seen by the rest of a live range", () => {
    const { db: d } = db();
    d.batch(Array.from({ length: 400 }, (_, i) => ({ type: "put", key: pad(i * 2), value: "v" })));
    const seen: string[] = [];
    for (const [k, v] of d.range({ gte: pad(100), snapshot: false })) {
      seen.push(`${dec(k)}=${dec(v)}`);
      if (seen.length === 2) {
        d.put(pad(105), "new"); // after the cursor, in the same leaf: seen
        d.put(pad(106), "changed"); // a later key's value changes: the new value is seen
        d.delete(pad(108)); // a later key goes: never seen
      }
      if (seen.length === 6) break;
    }
    assert.deepEqual(seen, [
      `${pad(100)}=v`,
      `${pad(102)}=v`,
      `${pad(104)}=v`,
      `${pad(105)}=new`,
      `${pad(106)}=changed`,
      `${pad(110)}=v`,
    ]);
  });

  test("forward and reverse ranges cross many leaves and agree with each other", () => {
    const { db: d } = db();
    const all = Array.from({ length: 1500 }, (_, i) => pad(i));
    d.batch(all.map((k) => ({ type: "put" as const, key: k, value: k.repeat(3) })));
    assert.deepEqual(keys(d.range()), all);
    assert.deepEqual(keys(d.range({ reverse: true })), [...all].reverse());
    assert.deepEqual(keys(d.range({ gt: pad(10), lte: pad(900), limit: 700 })), all.slice(11, 711));
    assert.deepEqual(
      keys(d.range({ gte: pad(10), lt: pad(900), reverse: true, limit: 700 })),
      all.slice(200, 900).reverse(),
    );
    for (const [k, v] of d.range({ gte: pad(1400) })) assert.equal(dec(v), dec(k)?.repeat(3));
  });

  test("an iterator over the committed view, opened in a transaction, survives its commit", () => {
    const { db: d } = db();
    d.batch(Array.from({ length: 300 }, (_, i) => ({ type: "put", key: pad(i), value: "old" })));
    let it: Iterator<[Uint8Array, Uint8Array]> | undefined;
    const first: string[] = [];
    d.transaction((tx) => {
      it = d.range()[Symbol.iterator](); // through db: the committed state
      for (let i = 0; i < 5; i++) first.push(dec(it.next().value?.[0]) ?? "");
      // Rewrite the tree under it: every page of the committed state changes at commit.
      for (let i = 0; i < 300; i++) tx.delete(pad(i));
      for (let i = 0; i < 300; i += 3) tx.put(pad(i), "new");
    });
    assert.deepEqual(first, [pad(0), pad(1), pad(2), pad(3), pad(4)]);
    const rest: string[] = [];
    for (let r = it?.next(); r !== undefined && r.done !== true; r = it?.next()) {
      rest.push(`${dec(r.value[0])}=${dec(r.value[1])}`);
    }
    // It reads its snapshot of the commit before the transaction, whose pages the commit
    // rewrote and freed: the old state, whole.
    const want = [];
    for (let i = 5; i < 300; i++) want.push(`${pad(i)}=old`);
    assert.deepEqual(rest, want);
    assert.deepEqual(d.check(), []);
  });
});

describe("misuse", () => {
  test("wrong types are ERR_ARG, oversized keys ERR_KEY_TOO_LARGE, use after close ERR_CLOSED", () => {
    const { db: d } = db();
    throwsCode(() => d.put(5 as never, "v"), "ERR_ARG");
    throwsCode(() => d.put("k", {} as never), "ERR_ARG");
    throwsCode(() => d.put("k".repeat(33), "v"), "ERR_KEY_TOO_LARGE");
    d.close();
    throwsCode(() => d.get("k"), "ERR_CLOSED");
    throwsCode(() => d.put("k", "v"), "ERR_CLOSED");
    throwsCode(() => d.close(), "ERR_CLOSED");
  });
});

describe("read-only opens", () => {
  test("read-only opens coexist, see committed data, and refuse writes with ERR_READ_ONLY", () => {
    const { fs, db: d } = db();
    d.put("k", "v");
    d.transaction((tx) => tx.put("t", "1"));
    throwsCode(() => open("/db.pkv", { vfs: fs, readOnly: true }), "ERR_LOCKED"); // a writer
    // The writer's commits are in its log: a crash leaves them there for readers to recover.
    fs.crash();
    const ops = fs.opCount;
    const r1 = open("/db.pkv", { vfs: fs, readOnly: true });
    const r2 = open("/db.pkv", { vfs: fs, readOnly: true });
    assert.equal(dec(r1.get("k")), "v");
    assert.equal(dec(r2.get("t")), "1");
    throwsCode(() => r1.put("x", "y"), "ERR_READ_ONLY");
    throwsCode(() => r1.delete("k"), "ERR_READ_ONLY");
    throwsCode(() => r1.transaction(() => 1), "ERR_READ_ONLY");
    throwsCode(() => r1.checkpoint(), "ERR_READ_ONLY");
    throwsCode(() => open("/db.pkv", { vfs: fs }), "ERR_LOCKED"); // readers hold it
    r1.close();
    r2.close();
    assert.equal(fs.opCount, ops, "read-only opens wrote nothing");
    const w = open("/db.pkv", { vfs: fs });
    assert.equal(dec(w.get("t")), "1");
    w.close();
  });

  test("a read-only open of a missing file is ERR_NOT_FOUND, whatever create says", () => {
    throwsCode(() => open("/none.pkv", { vfs: new MemFS(), readOnly: true }), "ERR_NOT_FOUND");
  });
});

test("on NodeFS, readers and a writer of one file exclude each other in one process", () => {
  withTempDir((dir) => {
    const file = path.join(dir, "ro.pkv");
    const w = open(file);
    w.put("k", "v");
    throwsCode(() => open(file, { readOnly: true }), "ERR_LOCKED");
    w.close();
    const r = open(file, { readOnly: true });
    assert.equal(dec(r.get("k")), "v");
    throwsCode(() => open(file), "ERR_LOCKED");
    r.close();
    open(file).close();
  });
});

test("a power loss at any call of creating a database leaves a path that opens", () => {
  // Found by the group-commit crash harness: a crash while open() created the file left it
  // and its log empty, and every later open was ERR_CORRUPT "the file is 0 bytes".
  let points = 0;
  for (let k = 0; ; k++) {
    const fs = new MemFS();
    fs.armCrash(k);
    let created = false;
    try {
      const d = open("/new.pkv", { vfs: fs });
      d.put("a", "1");
      d.close();
      created = true;
    } catch {
      // The power failed at call k.
    }
    fs.crash();
    const d = open("/new.pkv", { vfs: fs });
    const a = dec(d.get("a"));
    assert.ok(a === undefined || a === "1", `crash at call ${k}: a = ${a}`);
    if (created) assert.equal(a, "1", "a close that returned is durable");
    d.put("b", "2");
    assert.deepEqual(d.check(), [], `crash at call ${k}`);
    d.close();
    points++;
    if (created) break;
  }
  assert.ok(points > 4, `only ${points} crash points`);
});
