// Loading a freelist trusts nothing: each kind of damage is reported as ERR_CORRUPT naming
// the trunk page, and no walk can loop.

import assert from "node:assert/strict";
import { test } from "node:test";
import { writeU32 } from "../../src/format/codec.js";
import {
  encodeTrunk,
  loadFreelist,
  trunkCapacity,
  trunksNeeded,
} from "../../src/format/freelist.js";
import { throwsCode } from "../pager/pages.js";

const USABLE = 504; // a 512-byte page minus its trailer

/** An in-memory file of trunk pages keyed by page number. */
function source(pages: Map<number, Uint8Array>, pageCount = 100) {
  return {
    path: "/f.pkv",
    pageCount,
    usableSize: USABLE,
    readTrunk(pgno: number) {
      const p = pages.get(pgno);
      assert.ok(p, `test read an unexpected page ${pgno}`);
      return p;
    },
  };
}

function trunk(next: number, entries: number[]): Uint8Array {
  const data = new Uint8Array(USABLE);
  encodeTrunk(data, next, entries, 0, entries.length);
  return data;
}

test("trunk capacity and the trunks needed for a freelist", () => {
  assert.equal(trunkCapacity(USABLE), 124);
  assert.equal(trunksNeeded(0, USABLE), 0);
  assert.equal(trunksNeeded(125, USABLE), 1);
  assert.equal(trunksNeeded(126, USABLE), 2);
});

test("a two-trunk chain loads every page, trunks included", () => {
  const pages = new Map([
    [5, trunk(9, [6, 7])],
    [9, trunk(0, [10])],
  ]);
  assert.deepEqual(loadFreelist(source(pages), 5, 5), [5, 6, 7, 9, 10]);
});

test("damaged freelists are ERR_CORRUPT naming the page", () => {
  const cases: [string, Map<number, Uint8Array>, number, number, RegExp][] = [
    ["pointer out of range", new Map([[5, trunk(101, [6])]]), 5, 3, /trunk pointer 101/],
    ["entry out of range", new Map([[5, trunk(0, [1])]]), 5, 2, /free page 1 is outside/],
    [
      "cycle",
      new Map([
        [5, trunk(9, [6])],
        [9, trunk(5, [])],
      ]),
      5,
      4,
      /trunk pointer 5.*twice/,
    ],
    ["duplicate", new Map([[5, trunk(0, [6, 6])]]), 5, 3, /free page 6.*twice/],
    ["too few pages", new Map([[5, trunk(0, [6])]]), 5, 3, /holds 2 pages, header says 3/],
    ["too many pages", new Map([[5, trunk(0, [6, 7])]]), 5, 2, /more than the header's 2/],
  ];
  for (const [name, pages, head, count, message] of cases) {
    const e = throwsCode(() => loadFreelist(source(pages), head, count), "ERR_CORRUPT");
    assert.match(e.message, message, name);
    assert.ok(e.pgno !== undefined, name);
  }
  const over = trunk(0, []);
  writeU32(over, 4, 125);
  const e = throwsCode(() => loadFreelist(source(new Map([[5, over]])), 5, 1), "ERR_CORRUPT");
  assert.match(e.message, /count 125 exceeds capacity 124/);
  assert.equal(e.pgno, 5);
});
