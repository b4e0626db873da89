// The page table against a Map model: inserts and backward-shift deletes in random order
// never lose a key, including long probe runs that wrap around the table.

import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import { PageTable } from "../../src/pager/page-table.js";

test("page table agrees with a Map under random inserts and deletes", () => {
  fc.assert(
    fc.property(
      fc.array(fc.tuple(fc.boolean(), fc.integer({ min: 1, max: 300 })), { maxLength: 400 }),
      (ops) => {
        const t = new PageTable(64);
        const m = new Map<number, number>();
        for (const [insert, pgno] of ops) {
          if (insert && !m.has(pgno) && m.size < 64) {
            t.set(pgno, m.size);
            m.set(pgno, m.size);
          } else if (!insert && m.has(pgno)) {
            t.delete(pgno);
            m.delete(pgno);
          }
          assert.equal(t.size, m.size);
        }
        for (let p = 1; p <= 300; p++) assert.equal(t.get(p), m.get(p) ?? -1);
      },
    ),
    { numRuns: 300 },
  );
});

test("a full table of page numbers that collide still finds each one", () => {
  const t = new PageTable(16);
  const keys = Array.from({ length: 16 }, (_, i) => (i + 1) * 2 ** 27); // same low bits
  for (const [i, k] of keys.entries()) t.set(k, i);
  for (const [i, k] of keys.entries()) assert.equal(t.get(k), i);
  for (const k of keys.slice(0, 8)) t.delete(k);
  for (const [i, k] of keys.entries()) assert.equal(t.get(k), i < 8 ? -1 : i);
});

test("page numbers up to 2^32 - 2 are stored and found, also past 2^31", () => {
  const t = new PageTable(16);
  const keys = [1, 2 ** 31 - 1, 2 ** 31, 2 ** 31 + 1, 2 ** 32 - 3, 2 ** 32 - 2];
  for (const [i, k] of keys.entries()) t.set(k, i);
  for (const [i, k] of keys.entries()) assert.equal(t.get(k), i);
  assert.equal(t.get(2 ** 32 - 4), -1);
  t.delete(2 ** 31);
  assert.equal(t.get(2 ** 31), -1);
  assert.equal(t.get(2 ** 31 + 1), 3);
  assert.equal(t.get(2 ** 32 - 2), 5);
});
