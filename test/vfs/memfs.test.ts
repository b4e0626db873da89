// Tests for MemFS, the crash-testing backend: file semantics, durability across crash(),
// torn writes, armCrash, injected faults. They must never assert on time.

import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { isPagekvError, type PagekvError } from "../../src/errors.js";
import { MEMFS_SECTOR_BYTES, MemFS } from "../../src/vfs/memfs.js";
import { readAll, text } from "./bytes.js";

const P = "/db.pkv";

function filled(length: number, byte: number): Uint8Array {
  return new Uint8Array(length).fill(byte);
}

function isCode(code: PagekvError["code"]): (e: unknown) => boolean {
  return (e) => isPagekvError(e, code);
}

/** An ERR_IO whose cause is an Error carrying the platform-style `code`. */
function isIoWithCause(causeCode: string): (e: unknown) => boolean {
  return (e) => {
    if (!isPagekvError(e, "ERR_IO")) return false;
    const cause = e.cause;
    return cause instanceof Error && (cause as Error & { code?: unknown }).code === causeCode;
  };
}

describe("MemFS file semantics", () => {
  test("write, read, size and truncate round trip, zero-filling gaps", () => {
    const fs = new MemFS();
    const f = fs.open(P, { create: true });
    assert.equal(f.size(), 0);
    f.writeAt(text("hello"), 0);
    f.writeAt(text("world"), 10);
    assert.equal(f.size(), 15);
    assert.deepEqual(readAll(f), text("hello\0\0\0\0\0world"));
    f.truncate(3);
    assert.equal(f.size(), 3);
    assert.deepEqual(readAll(f), text("hel"));
    // Growing again must not resurrect the bytes the shrink cut off.
    f.truncate(8);
    assert.deepEqual(readAll(f), text("hel\0\0\0\0\0"));
    f.writeAt(text("Z"), 12);
    assert.deepEqual(readAll(f), text("hel\0\0\0\0\0\0\0\0\0Z"));
  });

  test("writevAt writes the buffers back to back", () => {
    const fs = new MemFS();
    const f = fs.open(P, { create: true });
    f.writevAt([text("ab"), text(""), text("cde")], 2);
    assert.deepEqual(readAll(f), text("\0\0abcde"));
  });

  test("readAt is short at end of file, 0 past it, and leaves the rest of buf alone", () => {
    const fs = new MemFS();
    const f = fs.open(P, { create: true });
    f.writeAt(filled(10, 7), 0);
    const buf = filled(16, 0xee);
    assert.equal(f.readAt(buf, 4), 6);
    assert.deepEqual(buf.subarray(0, 6), filled(6, 7));
    assert.deepEqual(buf.subarray(6), filled(10, 0xee));
    assert.equal(f.readAt(buf, 10), 0);
    assert.equal(f.readAt(buf, 1000), 0);
  });

  test("a write keeps a private copy of the caller's buffer", () => {
    const fs = new MemFS();
    const f = fs.open(P, { create: true });
    const buf = text("abcd");
    f.writeAt(buf, 0);
    buf.fill(0x21);
    f.sync();
    assert.deepEqual(readAll(f), text("abcd"));
    assert.deepEqual(fs.readDurable(P), text("abcd"));
  });

  test("open of a missing file is ERR_NOT_FOUND naming the path", () => {
    const fs = new MemFS();
    assert.throws(
      () => fs.open(P),
      (e) => isPagekvError(e, "ERR_NOT_FOUND") && e.message.includes(P) && e.path === P,
    );
    assert.equal(fs.exists(P), false);
  });

  test("create+exclusive of an existing file is ERR_EXISTS; plain create reopens it", () => {
    const fs = new MemFS();
    fs.open(P, { create: true }).writeAt(text("keep"), 0);
    assert.throws(() => fs.open(P, { create: true, exclusive: true }), isCode("ERR_EXISTS"));
    const again = fs.open(P, { create: true });
    assert.deepEqual(readAll(again), text("keep"));
  });

  test("calls on a closed handle are ERR_CLOSED and close is idempotent", () => {
    const fs = new MemFS();
    const f = fs.open(P, { create: true });
    f.close();
    f.close();
    assert.throws(() => f.readAt(new Uint8Array(1), 0), isCode("ERR_CLOSED"));
    assert.throws(() => f.writeAt(new Uint8Array(1), 0), isCode("ERR_CLOSED"));
    assert.throws(() => f.writevAt([new Uint8Array(1)], 0), isCode("ERR_CLOSED"));
    assert.throws(() => f.truncate(0), isCode("ERR_CLOSED"));
    assert.throws(() => f.sync(), isCode("ERR_CLOSED"));
    assert.throws(() => f.size(), isCode("ERR_CLOSED"));
    // The file itself is untouched by closing one handle.
    assert.equal(fs.open(P).size(), 0);
  });

  test("a read-only handle reads and syncs but writes fail with ERR_IO caused by EBADF", () => {
    const fs = new MemFS();
    const w = fs.open(P, { create: true });
    w.writeAt(text("data"), 0);
    const r = fs.open(P, { readOnly: true });
    assert.deepEqual(readAll(r), text("data"));
    assert.throws(() => r.writeAt(text("x"), 0), isIoWithCause("EBADF"));
    assert.throws(() => r.writevAt([text("x")], 0), isIoWithCause("EBADF"));
    assert.throws(() => r.truncate(0), isIoWithCause("EBADF"));
    assert.deepEqual(readAll(r), text("data"));
    // fsync flushes the file, whichever handle asks.
    r.sync();
    fs.crash();
    assert.deepEqual(readAll(fs.open(P)), text("data"));
  });

  test("delete is durable at once, and open handles keep the deleted file's bytes", () => {
    const fs = new MemFS();
    const f = fs.open(P, { create: true });
    f.writeAt(text("old"), 0);
    fs.delete(P);
    assert.equal(fs.exists(P), false);
    assert.deepEqual(fs.fileNames(), []);
    f.writeAt(text("!"), 3);
    assert.deepEqual(readAll(f), text("old!"));
    assert.throws(() => fs.delete(P), isCode("ERR_NOT_FOUND"));
    // A new file under the same name is a different, empty file.
    assert.equal(fs.open(P, { create: true }).size(), 0);
    fs.delete(P);
    fs.crash();
    assert.equal(fs.exists(P), false);
  });

  test("a created file exists durably before any sync", () => {
    const fs = new MemFS();
    fs.open(P, { create: true }).writeAt(text("unsynced"), 0);
    fs.crash();
    assert.equal(fs.exists(P), true);
    assert.equal(fs.open(P).size(), 0);
  });

  test("offsets and sizes outside 0..2^40 are ERR_ARG and change nothing", () => {
    const fs = new MemFS();
    const f = fs.open(P, { create: true });
    const one = new Uint8Array(1);
    for (const bad of [-1, 1.5, Number.NaN, 2 ** 40 + 1, 2 ** 53]) {
      assert.throws(() => f.writeAt(one, bad), isCode("ERR_ARG"));
      assert.throws(() => f.readAt(one, bad), isCode("ERR_ARG"));
      assert.throws(() => f.truncate(bad), isCode("ERR_ARG"));
    }
    assert.throws(() => f.writeAt(one, 2 ** 40), isCode("ERR_ARG"));
    assert.equal(f.size(), 0);
    assert.equal(fs.opCount, 1);
  });

  test("there is no crc32 unless one is given", () => {
    assert.equal("crc32" in new MemFS(), false);
    const crc = (_data: Uint8Array, initial: number): number => initial + 1;
    assert.equal(new MemFS({ crc32: crc }).crc32, crc);
  });
});

describe("MemFS durability", () => {
  test("crash() without a seed reverts content and size to the last sync", () => {
    const fs = new MemFS();
    const f = fs.open(P, { create: true });
    f.writeAt(filled(100, 1), 0);
    f.sync();
    f.writeAt(filled(50, 2), 100);
    f.writeAt(filled(1, 3), 0);
    assert.equal(f.size(), 150);
    fs.crash();
    const g = fs.open(P);
    assert.equal(g.size(), 100);
    assert.deepEqual(readAll(g), filled(100, 1));
  });

  test("an unsynced truncate is undone by crash()", () => {
    const fs = new MemFS();
    const f = fs.open(P, { create: true });
    f.writeAt(filled(600, 9), 0);
    f.sync("data");
    f.truncate(10);
    fs.crash();
    assert.deepEqual(readAll(fs.open(P)), filled(600, 9));
  });

  test("synced data survives every seeded crash", () => {
    for (let seed = 0; seed < 20; seed++) {
      const fs = new MemFS();
      const f = fs.open(P, { create: true });
      f.writeAt(filled(3000, 5), 100);
      f.truncate(2000);
      f.sync("full");
      fs.crash({ seed });
      const expected = new Uint8Array(2000);
      expected.fill(5, 100);
      assert.deepEqual(readAll(fs.open(P)), expected, `seed ${seed}`);
    }
  });

  test("sync cost is per pending byte: a 1-byte write after a big sync leaves 1 pending", () => {
    const fs = new MemFS();
    const f = fs.open(P, { create: true });
    const bytes = 4 * 1024 * 1024;
    f.writeAt(filled(bytes, 0xab), 0);
    assert.equal(fs.pendingBytes(P), bytes);
    f.sync();
    assert.equal(fs.pendingBytes(P), 0);
    f.writeAt(text("x"), 1234567);
    assert.equal(fs.pendingBytes(P), 1);
    f.sync();
    assert.equal(fs.pendingBytes(P), 0);
    assert.equal(fs.durableSize(P), bytes);
    assert.equal(fs.readDurable(P)[1234567], "x".charCodeAt(0));
  });
});

/** A 4 KiB synced file of 0x11, then an unsynced 3000-byte write of 0x22 at offset 300. */
function tornScenario(seed: number): Uint8Array {
  const fs = new MemFS();
  const f = fs.open(P, { create: true });
  f.writeAt(filled(4096, 0x11), 0);
  f.sync();
  f.writeAt(filled(3000, 0x22), 300);
  fs.crash({ seed });
  return readAll(fs.open(P));
}

describe("MemFS seeded crash", () => {
  test("the same seed and history give the same bytes; other seeds differ", () => {
    const run = (seed: number): Uint8Array => {
      const fs = new MemFS();
      const a = fs.open("/a", { create: true });
      const b = fs.open("/b", { create: true });
      for (let i = 0; i < 12; i++) {
        a.writeAt(filled(700 + i * 37, i + 1), i * 331);
        b.writevAt([filled(100, i), filled(900, i + 100)], i * 503);
        if (i === 6) a.truncate(1500);
      }
      fs.crash({ seed });
      const out = new Uint8Array(fs.open("/a").size() + fs.open("/b").size());
      out.set(readAll(fs.open("/a")));
      out.set(readAll(fs.open("/b")), fs.open("/a").size());
      return out;
    };
    for (const seed of [0, 1, 99]) assert.deepEqual(run(seed), run(seed));
    const distinct = new Set<string>();
    for (let seed = 0; seed < 10; seed++) distinct.add(run(seed).join(","));
    assert.ok(distinct.size > 5, `only ${distinct.size} distinct outcomes`);
  });

  test("a pending write survives whole, is lost whole or is torn, across seeds", () => {
    const outcomes = new Set<string>();
    for (let seed = 0; seed < 100; seed++) {
      const got = tornScenario(seed).subarray(300, 3300);
      const news = got.filter((b) => b === 0x22).length;
      outcomes.add(news === 3000 ? "whole" : news === 0 ? "lost" : "torn");
    }
    assert.deepEqual([...outcomes].sort(), ["lost", "torn", "whole"]);
  });

  test("torn writes mix old and new only at absolute 512-byte boundaries", () => {
    let tornSeen = 0;
    for (let seed = 0; seed < 200; seed++) {
      const got = tornScenario(seed);
      assert.equal(got.length, 4096);
      // Outside the write, the synced bytes are never touched.
      assert.ok(got.subarray(0, 300).every((b) => b === 0x11));
      assert.ok(got.subarray(3300).every((b) => b === 0x11));
      let mixed = false;
      for (let start = 0; start < 3300; start += MEMFS_SECTOR_BYTES) {
        const lo = Math.max(start, 300);
        const hi = Math.min(start + MEMFS_SECTOR_BYTES, 3300);
        const piece = got.subarray(lo, hi);
        const first = piece[0];
        assert.ok(first === 0x11 || first === 0x22, `seed ${seed}: foreign byte`);
        assert.ok(
          piece.every((b) => b === first),
          `seed ${seed}: sector at ${start} mixes old and new bytes`,
        );
        if (first !== got[300]) mixed = true;
      }
      if (mixed) tornSeen++;
    }
    assert.ok(tornSeen > 10, `torn only ${tornSeen} times in 200 seeds`);
  });

  test("a pending truncate survives or is lost across seeds", () => {
    const sizes = new Set<number>();
    for (let seed = 0; seed < 40; seed++) {
      const fs = new MemFS();
      const f = fs.open(P, { create: true });
      f.writeAt(filled(1000, 1), 0);
      f.sync();
      f.truncate(10);
      fs.crash({ seed });
      sizes.add(fs.open(P).size());
    }
    assert.deepEqual(
      [...sizes].sort((a, b) => a - b),
      [10, 1000],
    );
  });

  test("crash() closes handles opened before it; new opens work", () => {
    const fs = new MemFS();
    const old = fs.open(P, { create: true });
    old.writeAt(text("abc"), 0);
    old.sync();
    fs.crash({ seed: 0 });
    assert.throws(() => old.readAt(new Uint8Array(3), 0), isCode("ERR_CLOSED"));
    assert.throws(() => old.writeAt(text("z"), 0), isCode("ERR_CLOSED"));
    assert.throws(() => old.size(), isCode("ERR_CLOSED"));
    old.close();
    const fresh = fs.open(P);
    assert.deepEqual(readAll(fresh), text("abc"));
    fresh.writeAt(text("d"), 3);
    assert.equal(fresh.size(), 4);
  });
});

describe("MemFS armCrash", () => {
  test("armCrash(k) lets k mutating calls through and fails the (k+1)th without effect", () => {
    for (let k = 0; k < 4; k++) {
      const fs = new MemFS();
      const f = fs.open(P, { create: true });
      f.writeAt(filled(10, 1), 0);
      f.sync();
      fs.armCrash(k);
      for (let i = 0; i < k; i++) f.writeAt(filled(1, 2), 10 + i);
      assert.equal(f.size(), 10 + k);
      // The (k+1)th is a sync: had it run, the k writes would survive the crash.
      assert.throws(() => f.sync(), isCode("ERR_CRASHED"), `k=${k}`);
      fs.crash();
      assert.deepEqual(readAll(fs.open(P)), filled(10, 1), `k=${k}`);
    }
  });

  test("after the armed crash every call but close throws ERR_CRASHED until crash()", () => {
    const fs = new MemFS();
    const f = fs.open(P, { create: true });
    fs.open("/other", { create: true });
    fs.armCrash(0);
    assert.throws(() => f.writeAt(text("x"), 0), isCode("ERR_CRASHED"));
    const buf = new Uint8Array(1);
    assert.throws(() => f.readAt(buf, 0), isCode("ERR_CRASHED"));
    assert.throws(() => f.size(), isCode("ERR_CRASHED"));
    assert.throws(() => f.sync(), isCode("ERR_CRASHED"));
    assert.throws(() => f.truncate(0), isCode("ERR_CRASHED"));
    assert.throws(() => f.writevAt([buf], 0), isCode("ERR_CRASHED"));
    assert.throws(() => fs.open(P), isCode("ERR_CRASHED"));
    assert.throws(() => fs.open("/new", { create: true }), isCode("ERR_CRASHED"));
    assert.throws(() => fs.exists(P), isCode("ERR_CRASHED"));
    assert.throws(() => fs.delete("/other"), isCode("ERR_CRASHED"));
    f.close();
    fs.crash();
    assert.equal(fs.exists("/other"), true);
    assert.equal(fs.exists("/new"), false);
    assert.equal(fs.open(P).size(), 0);
  });

  test("a creating open counts as a mutating call; opening an existing file does not", () => {
    const fs = new MemFS();
    fs.open(P, { create: true });
    fs.armCrash(1);
    fs.open(P, { create: true });
    fs.open(P);
    fs.open("/b", { create: true });
    assert.throws(() => fs.open("/c", { create: true }), isCode("ERR_CRASHED"));
    fs.crash();
    assert.deepEqual(fs.fileNames(), ["/b", P]);
  });

  test("crash() disarms a pending armCrash", () => {
    const fs = new MemFS();
    const f = fs.open(P, { create: true });
    fs.armCrash(0);
    fs.crash();
    const g = fs.open(P);
    g.writeAt(text("ok"), 0);
    g.sync();
    assert.deepEqual(fs.readDurable(P), text("ok"));
    assert.throws(() => f.size(), isCode("ERR_CLOSED"));
  });

  test("armCrash rejects a negative or fractional count with ERR_ARG", () => {
    const fs = new MemFS();
    for (const bad of [-1, 0.5, Number.NaN]) {
      assert.throws(() => fs.armCrash(bad), isCode("ERR_ARG"));
    }
  });

  test("opCount counts exactly the mutating calls", () => {
    const fs = new MemFS();
    const f = fs.open(P, { create: true }); // 1
    fs.open(P, { create: true });
    fs.open(P);
    f.writeAt(text("ab"), 0); // 2
    f.writevAt([text("c"), text("d")], 2); // 3
    f.readAt(new Uint8Array(4), 0);
    f.size();
    fs.exists(P);
    f.sync(); // 4
    f.truncate(1); // 5
    fs.open(P, { readOnly: true }).sync(); // 6
    fs.open("/x", { create: true }); // 7
    fs.delete("/x"); // 8
    f.close();
    assert.equal(fs.opCount, 8);
  });
});

describe("MemFS injectFault", () => {
  test("a read fault fails the nth read with EIO and leaves the buffer alone", () => {
    const fs = new MemFS();
    const f = fs.open(P, { create: true });
    f.writeAt(text("abc"), 0);
    fs.injectFault("read", 2);
    const buf = filled(3, 0);
    assert.equal(f.readAt(buf, 0), 3);
    buf.fill(0);
    assert.throws(() => f.readAt(buf, 0), isIoWithCause("EIO"));
    assert.deepEqual(buf, filled(3, 0));
    assert.equal(f.readAt(buf, 0), 3);
  });

  test("a write fault fails with ENOSPC and writes nothing", () => {
    const fs = new MemFS();
    const f = fs.open(P, { create: true });
    f.writeAt(text("abc"), 0);
    fs.injectFault("write", 1, "ENOSPC");
    assert.throws(
      () => f.writeAt(text("XYZW"), 1),
      (e) => isIoWithCause("ENOSPC")(e) && e instanceof Error && e.message.includes(P),
    );
    assert.deepEqual(readAll(f), text("abc"));
    assert.equal(fs.pendingBytes(P), 3);
    f.writeAt(text("XYZW"), 1);
    assert.deepEqual(readAll(f), text("aXYZW"));
  });

  test("writevAt counts as one write call and queued faults fire in turn", () => {
    const fs = new MemFS();
    const f = fs.open(P, { create: true });
    fs.injectFault("write", 2);
    fs.injectFault("write", 4, "ENOSPC");
    f.writevAt([text("a"), text("b"), text("c")], 0);
    assert.throws(() => f.writeAt(text("d"), 3), isIoWithCause("EIO"));
    f.writeAt(text("d"), 3);
    assert.throws(() => f.writevAt([text("e")], 4), isIoWithCause("ENOSPC"));
    f.writevAt([text("e")], 4);
    assert.deepEqual(readAll(f), text("abcde"));
  });

  test("a failed sync loses its pending writes even after a later successful sync", () => {
    const fs = new MemFS();
    const f = fs.open(P, { create: true });
    f.writeAt(filled(8, 1), 0);
    f.sync();
    f.writeAt(filled(4, 2), 0);
    fs.injectFault("sync", 1);
    assert.throws(() => f.sync(), isIoWithCause("EIO"));
    // fsyncgate: still readable, no longer pending, so a retry cannot make it durable.
    assert.deepEqual(readAll(f), text("\x02\x02\x02\x02\x01\x01\x01\x01"));
    assert.equal(fs.pendingBytes(P), 0);
    f.writeAt(filled(2, 3), 6);
    f.sync();
    fs.crash();
    assert.deepEqual(readAll(fs.open(P)), text("\x01\x01\x01\x01\x01\x01\x03\x03"));
  });

  test("a sync fault with ENOSPC carries that code", () => {
    const fs = new MemFS();
    const f = fs.open(P, { create: true });
    fs.injectFault("sync", 1, "ENOSPC");
    assert.throws(() => f.sync("data"), isIoWithCause("ENOSPC"));
    f.sync("data");
  });

  test("injectFault rejects bad arguments with ERR_ARG", () => {
    const fs = new MemFS();
    assert.throws(() => fs.injectFault("write", 0), isCode("ERR_ARG"));
    assert.throws(() => fs.injectFault("write", 1.5), isCode("ERR_ARG"));
    for (let i = 0; i < 64; i++) fs.injectFault("read", i + 1);
    assert.throws(() => fs.injectFault("read", 100), isCode("ERR_ARG"));
  });
});

describe("MemFS lock", () => {
  test("a second lock on a held path is ERR_LOCKED naming the path", () => {
    const fs = new MemFS();
    const first = fs.lock(P);
    assert.equal(first.held, true);
    assert.throws(
      () => fs.lock(P),
      (e) => isPagekvError(e, "ERR_LOCKED") && e.message.includes(`"${P}"`) && e.path === P,
    );
    assert.equal(first.held, true);
  });

  test("locks on different paths are independent", () => {
    const fs = new MemFS();
    const a = fs.lock("/a.pkv");
    const b = fs.lock("/b.pkv");
    assert.equal(a.held, true);
    assert.equal(b.held, true);
    a.release();
    assert.equal(b.held, true);
    assert.throws(() => fs.lock("/b.pkv"), isCode("ERR_LOCKED"));
  });

  test("release frees the path for a new lock, and a second release is a no-op", () => {
    const fs = new MemFS();
    const first = fs.lock(P);
    first.release();
    assert.equal(first.held, false);
    const second = fs.lock(P);
    assert.equal(second.held, true);
    // The old lock's second release must not free the newer holder's lock.
    first.release();
    assert.equal(first.held, false);
    assert.equal(second.held, true);
    assert.throws(() => fs.lock(P), isCode("ERR_LOCKED"));
  });

  test("a lock needs no file and creates none", () => {
    const fs = new MemFS();
    fs.lock(P);
    assert.deepEqual(fs.fileNames(), []);
  });

  test("crash() ends every lock and lets new locks be taken", () => {
    const fs = new MemFS();
    const a = fs.lock("/a.pkv");
    const b = fs.lock("/b.pkv");
    fs.crash();
    assert.equal(a.held, false);
    assert.equal(b.held, false);
    const again = fs.lock("/a.pkv");
    assert.equal(again.held, true);
    // A lock ended by the crash must not free the one taken after it.
    a.release();
    assert.equal(again.held, true);
    assert.throws(() => fs.lock("/a.pkv"), isCode("ERR_LOCKED"));
    assert.equal(fs.lock("/b.pkv").held, true);
  });

  test("lock after an armed crash fired is ERR_CRASHED until crash()", () => {
    const fs = new MemFS();
    const f = fs.open(P, { create: true });
    fs.armCrash(0);
    assert.throws(() => f.writeAt(text("x"), 0), isCode("ERR_CRASHED"));
    assert.throws(() => fs.lock(P), isCode("ERR_CRASHED"));
    fs.crash();
    assert.equal(fs.lock(P).held, true);
  });

  test("release never throws, not even while crashed", () => {
    const fs = new MemFS();
    const f = fs.open(P, { create: true });
    const lock = fs.lock(P);
    fs.armCrash(0);
    assert.throws(() => f.sync(), isCode("ERR_CRASHED"));
    lock.release();
    assert.equal(lock.held, false);
  });

  test("lock of an empty path is ERR_ARG", () => {
    const fs = new MemFS();
    assert.throws(() => fs.lock(""), isCode("ERR_ARG"));
  });

  test("lock and release neither count in opCount nor fire an armed crash", () => {
    const fs = new MemFS();
    const f = fs.open(P, { create: true }); // 1
    fs.armCrash(1);
    const lock = fs.lock(P);
    lock.release();
    fs.lock(P).release();
    assert.equal(fs.opCount, 1);
    f.writeAt(text("a"), 0); // 2: the one mutating call armCrash(1) lets through
    assert.equal(fs.opCount, 2);
    assert.throws(() => f.sync(), isCode("ERR_CRASHED"));
  });
});
