// A damaged tree page (valid checksum, wrong contents) reaches abstract-level callers as
// LEVEL_CORRUPTION with the engine's ERR_CORRUPT in pagekvCode, from reads, iterators and
// writes alike: never a RangeError or an engine code abstract-level has no name for.

import assert from "node:assert/strict";
import { test } from "node:test";
import { childAt, count, KIND_INTERIOR, kind } from "../../src/btree/node.js";
import { writeU32 } from "../../src/format/codec.js";
import { PagekvLevel, PagekvLevelError } from "../../src/level/index.js";
import { Pager } from "../../src/pager/pager.js";
import { MemFS } from "../../src/vfs/memfs.js";

const FILE = "/db.pkv";

async function corruption(promise: Promise<unknown>): Promise<void> {
  await assert.rejects(promise, (e) => {
    assert.ok(e instanceof PagekvLevelError, String(e));
    assert.equal(e.code, "LEVEL_CORRUPTION", e.message);
    assert.equal(e.pagekvCode, "ERR_CORRUPT");
    assert.match(e.message, new RegExp(`${FILE}: page \\d+: `));
    return true;
  });
}

test("a child pointer to a free page is LEVEL_CORRUPTION at get, iterator, put and del", async () => {
  const fsys = new MemFS();
  const db = new PagekvLevel(FILE, { vfs: fsys, pageSize: 512, cacheBytes: 0 });
  await db.batch(
    Array.from({ length: 300 }, (_, i) => ({
      type: "put" as const,
      key: String(i).padStart(4, "0"),
      value: "v".repeat(40),
    })),
  );
  await db.clear({ gte: "0100", lt: "0200" }); // leaves free pages
  await db.close();

  const pager = Pager.open(fsys, FILE);
  const root = pager.getSlot(0);
  const free = pager.freePageNumbers()[0];
  const f = pager.get(root, "write");
  assert.equal(kind(f.data), KIND_INTERIOR);
  assert.ok(count(f.data) > 0 && childAt(f.data, 0) !== free);
  writeU32(f.data, 8, free); // the rightmost child
  pager.unpin(f, true);
  pager.close();

  const again = new PagekvLevel(FILE, { vfs: fsys });
  await corruption(again.get("0299"));
  await corruption(again.keys({ reverse: true }).all());
  await corruption(again.put("0299", "w"));
  await corruption(again.del("0298"));
  assert.equal(await again.get("0000"), "v".repeat(40), "the undamaged part still reads");
  await again.close();
});
