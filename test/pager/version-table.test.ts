// The version table against a Map model: (page, version) keys inserted and deleted in
// random order, many versions of few pages (the shape snapshots make), never lose a key
// and never confuse two versions of one page.

import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import { VersionTable } from "../../src/pager/version-table.js";

test("version table agrees with a Map under random inserts and deletes", () => {
  fc.assert(
    fc.property(
      fc.array(
        fc.tuple(fc.boolean(), fc.integer({ min: 1, max: 12 }), fc.integer({ min: 0, max: 40 })),
        { maxLength: 500 },
      ),
      (ops) => {
        const t = new VersionTable(64);
        const m = new Map<string, number>();
        let next = 0;
        for (const [insert, pgno, version] of ops) {
          const key = `${pgno}/${version}`;
          if (insert && !m.has(key) && m.size < 64) {
            t.set(pgno, version, next);
            m.set(key, next++);
          } else if (!insert && m.has(key)) {
            t.delete(pgno, version);
            m.delete(key);
          }
          assert.equal(t.size, m.size);
        }
        for (let p = 1; p <= 12; p++) {
          for (let v = 0; v <= 40; v++) assert.equal(t.get(p, v), m.get(`${p}/${v}`) ?? -1);
        }
      },
    ),
    { numRuns: 200 },
  );
});

test("a full table of one page's versions, and of versions far apart, finds each one", () => {
  const t = new VersionTable(32);
  for (let v = 0; v < 16; v++) t.set(7, v, v);
  for (let v = 0; v < 16; v++) t.set(7 + v, 0xffff_fff0 + (v % 15), 100 + v);
  for (let v = 0; v < 16; v++) assert.equal(t.get(7, v), v);
  for (let v = 0; v < 16; v++) assert.equal(t.get(7 + v, 0xffff_fff0 + (v % 15)), 100 + v);
  for (let v = 0; v < 16; v += 2) t.delete(7, v);
  for (let v = 0; v < 16; v++) assert.equal(t.get(7, v), v % 2 === 0 ? -1 : v);
  assert.equal(t.get(8, 1), -1);
});
