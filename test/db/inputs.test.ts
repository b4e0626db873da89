// What open() accepts: only key/value databases (a file of another kind is refused by its
// application id), strictly checked options (a typo or a wrong type is ERR_ARG naming it,
// never a silent change of durability or access), and an empty file as a new database.

import assert from "node:assert/strict";
import * as nodeFs from "node:fs";
import * as path from "node:path";
import { describe, test } from "node:test";
import { writeU32 } from "../../src/format/codec.js";
import { crc32 } from "../../src/format/crc32.js";
import { FORMAT_VERSION } from "../../src/format/header.js";
import { checksummedView, sealPage } from "../../src/format/page.js";
import {
  type FileSyncMode,
  isPagekvError,
  KV_APPLICATION_ID,
  open,
  Pager,
  type SyncMode,
} from "../../src/index.js";
import { MemFS } from "../../src/vfs/memfs.js";
import { throwsCode } from "../pager/pages.js";
import { withTempDir } from "../tmpdir.js";

const PATH = "/kind.pkv";
const dec = (b: Uint8Array | undefined) =>
  b === undefined ? undefined : new TextDecoder().decode(b);

/** The README's Pager example: page 2 holds 1, 2, 3 and slot 0 points at it. */
function pagerFile(fs: MemFS): void {
  const pager = Pager.create(fs, PATH, { pageSize: 4096 });
  pager.begin();
  const frame = pager.allocate();
  frame.data.set([1, 2, 3]);
  const pgno = frame.pgno;
  pager.unpin(frame, true);
  pager.setSlot(0, pgno);
  pager.commit();
  pager.close();
}

/** Rewrite page 1 of a closed database as format version 2 wrote it (no application id). */
function downgradeToVersion2(fs: MemFS, pageSize: number): void {
  const f = fs.open(PATH);
  const page = new Uint8Array(pageSize);
  f.readAt(page, 0);
  writeU32(page, 8, 2);
  writeU32(page, 76, 0);
  writeU32(page, 124, crc32(page.subarray(0, 124), 0));
  sealPage(page, checksummedView(page), 1, crc32);
  f.writeAt(page, 0);
  f.sync();
  f.close();
}

function readHeaderU32(fs: MemFS, offset: number): number {
  const bytes = fs.readDurable(PATH);
  return new DataView(bytes.buffer, bytes.byteOffset).getUint32(offset);
}

describe("open() accepts only key/value databases", () => {
  test("a file made with the bare Pager is ERR_NOT_DATABASE naming the file, and is left as it was", () => {
    const fs = new MemFS();
    pagerFile(fs);
    const before = fs.readDurable(PATH);
    const e = throwsCode(() => open(PATH, { vfs: fs }), "ERR_NOT_DATABASE");
    assert.match(e.message, /\/kind\.pkv: not a pagekv key\/value database/);
    assert.match(e.message, /no application id/);
    throwsCode(() => open(PATH, { vfs: fs, readOnly: true }), "ERR_NOT_DATABASE");
    assert.deepEqual(fs.readDurable(PATH), before);
    // And the Pager still opens it.
    Pager.open(fs, PATH).close();
  });

  test("a file of another application id is ERR_NOT_DATABASE naming the id", () => {
    const fs = new MemFS();
    Pager.create(fs, PATH, { applicationId: 0xc0ffee }).close();
    const e = throwsCode(() => open(PATH, { vfs: fs }), "ERR_NOT_DATABASE");
    assert.match(e.message, /application id is 0x00c0ffee/);
  });

  test("a format-2 file made with the bare Pager is refused too", () => {
    const fs = new MemFS();
    pagerFile(fs);
    downgradeToVersion2(fs, 4096);
    const e = throwsCode(() => open(PATH, { vfs: fs }), "ERR_NOT_DATABASE");
    assert.match(e.message, /format-2 file whose root page 2/);
  });

  test("a format-2 key/value database still opens, and is stamped with its id at its next write", () => {
    const fs = new MemFS();
    const db = open(PATH, { vfs: fs, pageSize: 512 });
    for (let i = 0; i < 300; i++) db.put(`k${i}`, `v${i}`);
    db.close();
    downgradeToVersion2(fs, 512);
    const reader = open(PATH, { vfs: fs, readOnly: true });
    assert.equal(dec(reader.get("k7")), "v7");
    reader.close();
    assert.equal(readHeaderU32(fs, 8), 2, "a read-only open writes nothing");
    const writer = open(PATH, { vfs: fs });
    assert.equal(dec(writer.get("k299")), "v299");
    writer.put("new", "1");
    writer.close();
    assert.equal(readHeaderU32(fs, 8), FORMAT_VERSION);
    assert.equal(readHeaderU32(fs, 76), KV_APPLICATION_ID);
    const again = open(PATH, { vfs: fs });
    assert.equal([...again.range()].length, 301);
    assert.deepEqual(again.check(), []);
    again.close();
  });

  test("an empty (0-byte) file becomes a database, as mktemp leaves one", () => {
    withTempDir((dir) => {
      const file = path.join(dir, "tmp.XXXX");
      nodeFs.writeFileSync(file, "");
      const e = throwsCode(() => open(file, { readOnly: true }), "ERR_NOT_DATABASE");
      assert.match(e.message, /empty \(0 bytes\)/);
      const db = open(file);
      db.put("k", "v");
      db.close();
      const again = open(file, { readOnly: true });
      assert.equal(dec(again.get("k")), "v");
      again.close();
    });
  });

  test("an empty file whose log a closing writer deletes while open() looks is the database that close left", () => {
    const fs = new MemFS();
    const made = open("/made.pkv", { vfs: fs });
    made.put("k", "v");
    made.close();
    const source = fs.open("/made.pkv");
    const image = new Uint8Array(source.size());
    source.readAt(image, 0);
    source.close();
    fs.open(PATH, { create: true }).close();
    // open() sees an empty file and a log; the writer's close then copies the database home
    // and deletes its log before open() gets to open it (docs/design/readers.md, race D).
    const racing = new Proxy(fs, {
      get(target, prop) {
        if (prop === "exists") return (p: string) => p === `${PATH}-wal` || target.exists(p);
        if (prop === "open") {
          return (p: string, o?: { readOnly?: boolean }) => {
            if (p === `${PATH}-wal`) {
              const home = target.open(PATH);
              home.writeAt(image, 0);
              home.close();
            }
            return target.open(p, o);
          };
        }
        const v = Reflect.get(target, prop);
        return typeof v === "function" ? v.bind(target) : v;
      },
    });
    const db = open(PATH, { vfs: racing, readOnly: true });
    assert.equal(dec(db.get("k")), "v");
    db.close();
  });
});

describe("options are checked strictly", () => {
  const fs = () => new MemFS();

  test("a wrong type is ERR_ARG naming the option and what it must be", () => {
    const cases: [Record<string, unknown>, RegExp][] = [
      [{ readOnly: "yes" }, /option "readOnly" must be true or false, got "yes"/],
      [{ create: 0 }, /option "create" must be true or false, got 0/],
      [{ pageSize: "4096" }, /option "pageSize" must be an integer in 512\.\.65536, got "4096"/],
      [{ cacheBytes: -1 }, /option "cacheBytes" must be an integer/],
      [{ cacheBytes: Number.NaN }, /option "cacheBytes" must be an integer/],
      [{ sync: "FULL" }, /option "sync" must be one of "full", "normal", "off", got "FULL"/],
      [{ sync: true }, /option "sync" must be one of/],
      [{ autoCheckpointPages: 1.5 }, /option "autoCheckpointPages" must be an integer/],
      [{ recover: "yes" }, /option "recover" must be one of "strict", "truncate"/],
      [{ vfs: {} }, /option "vfs" must be a VFS/],
    ];
    for (const [options, message] of cases) {
      const e = throwsCode(() => open(PATH, { vfs: fs(), ...options } as never), "ERR_ARG");
      assert.match(e.message, message, JSON.stringify(options));
    }
  });

  test('readOnly: "yes" never opens read-write', () => {
    const mem = fs();
    open(PATH, { vfs: mem }).close();
    throwsCode(() => open(PATH, { vfs: mem, readOnly: "yes" as never }), "ERR_ARG");
  });

  test("an unknown option name is ERR_ARG naming it, with the likely one", () => {
    const cases: [Record<string, unknown>, RegExp][] = [
      [{ pagesize: 4096 }, /unknown option "pagesize" \(did you mean "pageSize"\?\)/],
      [{ readonly: true }, /unknown option "readonly" \(did you mean "readOnly"\?\)/],
      [{ durable: true }, /unknown option "durable" \(known: pageSize, cacheBytes/],
    ];
    for (const [options, message] of cases) {
      const e = throwsCode(() => open(PATH, { vfs: fs(), ...options } as never), "ERR_ARG");
      assert.match(e.message, message);
    }
  });

  test("options that are not an object are ERR_ARG, never a TypeError", () => {
    for (const options of [null, "fast", 7, [], true]) {
      const e = throwsCode(() => open(PATH, options as never), "ERR_ARG");
      assert.match(e.message, /options must be an object/);
    }
    for (const p of [undefined, null, "", 5]) {
      throwsCode(() => open(p as never, { vfs: fs() }), "ERR_ARG");
    }
  });

  test("range() options: unknown names and wrong types are ERR_ARG", () => {
    const db = open(PATH, { vfs: fs() });
    db.put("a", "1");
    const cases: [unknown, RegExp][] = [
      [{ start: "a" }, /unknown option "start"/],
      [{ Reverse: true }, /did you mean "reverse"/],
      [{ reverse: "yes" }, /option "reverse" must be true or false/],
      [{ limit: "3" }, /option "limit" must be an integer/],
      [{ limit: -1 }, /option "limit" must be an integer/],
      [null, /options must be an object, got null/],
      [{ gte: 5 }, /gte must be a Uint8Array or a string/],
    ];
    for (const [options, message] of cases) {
      const e = throwsCode(() => db.range(options as never), "ERR_ARG");
      assert.match(e.message, message);
      const tx = () => db.transaction((t) => [...t.range(options as never)]);
      assert.match(throwsCode(tx, "ERR_ARG").message, message);
    }
    assert.deepEqual([...db.range({ limit: 5, reverse: false })].length, 1);
    db.close();
  });

  test("Pager.create and Pager.open check their options too", () => {
    const mem = fs();
    const cases: [() => unknown, RegExp][] = [
      [
        () => Pager.create(mem, PATH, { pageSize: "4096" } as never),
        /"pageSize" must be an integer/,
      ],
      [() => Pager.create(mem, PATH, { cachefames: 8 } as never), /unknown option "cachefames"/],
      [() => Pager.create(mem, PATH, { readOnly: true } as never), /unknown option "readOnly"/],
      [() => Pager.create(mem, PATH, null as never), /options must be an object/],
      [() => Pager.create(mem, PATH, { debug: 1 } as never), /"debug" must be true or false/],
    ];
    for (const [fn, message] of cases) assert.match(throwsCode(fn, "ERR_ARG").message, message);
    Pager.create(mem, PATH).close();
    const opens: [() => unknown, RegExp][] = [
      [() => Pager.open(mem, PATH, { readOnly: "yes" } as never), /"readOnly" must be true/],
      [() => Pager.open(mem, PATH, { pageSize: 512 } as never), /unknown option "pageSize"/],
      [() => Pager.open(mem, PATH, { sync: "fast" } as never), /"sync" must be one of/],
      [() => Pager.open(mem, PATH, { recover: 1 } as never), /"recover" must be one of/],
    ];
    for (const [fn, message] of opens) assert.match(throwsCode(fn, "ERR_ARG").message, message);
    // Nothing was left locked by the refusals.
    Pager.open(mem, PATH).close();
  });

  test("the root's SyncMode is open()'s sync (the pager's), FileSyncMode the VFS's", () => {
    // Type-level: this file does not compile if the names mean the other concept.
    const modes: SyncMode[] = ["full", "normal", "off"];
    const fileModes: FileSyncMode[] = ["data", "full"];
    for (const sync of modes) open(PATH, { vfs: fs(), sync }).close();
    const mem = fs();
    const f = mem.open("/f", { create: true });
    for (const m of fileModes) f.sync(m);
    f.close();
  });

  test('recover: "truncate" is reachable from open()', () => {
    const mem = fs();
    const db = open(PATH, { vfs: mem, recover: "truncate" });
    assert.equal(db.droppedTransactions, 0);
    db.close();
    assert.ok(!isPagekvError(null));
  });
});
