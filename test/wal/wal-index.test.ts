// The log index against a naive model (per page, the list of its linked frames): random adds,
// rollbacks (removeFrom, also twice without a commit between), new generations and lookups at
// random bounds agree; a lookup walks back O(log n) steps however many versions a page has;
// both the frame arrays and the page table grow past their initial sizes without losing a
// frame.

import assert from "node:assert/strict";
import { describe, test } from "node:test";
import fc from "fast-check";
import { WalIndex } from "../../src/wal/wal-index.js";
import { envSeed } from "../seed.js";

/** Fixed by default so a CI run is repeatable; PAGEKV_WAL_INDEX_SEED=random explores new ones. */
const SEED = envSeed("PAGEKV_WAL_INDEX_SEED", 20261201);

/** Per page, its linked frames in ascending order: what the index must answer from. */
class Model {
  readonly pages = new Map<number, number[]>();
  /** The newest linked frame of any page, -1 when none. */
  last = -1;

  add(frame: number, pgno: number): void {
    const list = this.pages.get(pgno) ?? [];
    list.push(frame);
    this.pages.set(pgno, list);
    this.last = frame;
  }

  removeFrom(first: number): void {
    this.last = -1;
    for (const [pgno, list] of this.pages) {
      while (list.length > 0 && list[list.length - 1] >= first) list.pop();
      if (list.length === 0) this.pages.delete(pgno);
      else this.last = Math.max(this.last, list[list.length - 1]);
    }
  }

  clear(): void {
    this.pages.clear();
    this.last = -1;
  }

  lookup(pgno: number, bound: number): number {
    const list = this.pages.get(pgno) ?? [];
    for (let i = list.length - 1; i >= 0; i--) if (list[i] < bound) return list[i];
    return -1;
  }

  newest(pgno: number): number {
    const list = this.pages.get(pgno);
    return list === undefined ? -1 : list[list.length - 1];
  }

  pagesBelow(bound: number): number[] {
    return [...this.pages]
      .filter(([, list]) => list[0] < bound)
      .map(([pgno]) => pgno)
      .sort((a, b) => a - b);
  }
}

type Op =
  | { op: "add"; pgno: number; gap: number }
  | { op: "removeFrom"; back: number; share: number }
  | { op: "clear" }
  | { op: "lookup"; pgno: number; bound: number }
  | { op: "pages"; bound: number };

/**
 * The page numbers the property draws from: small ones, and ones whose home in the index's
 * initial 64-slot table is slot 62 or 63 (Fibonacci hashing), so their probe runs collide and
 * wrap around, and removing a page must shift the run back. The last two are never added:
 * looking them up walks those runs to their end.
 */
const PAGE_NUMBERS: number[] = (() => {
  const pages = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12];
  for (let p = 13; pages.length < 26; p++) {
    if (Math.imul(p, 0x9e3779b1) >>> 26 >= 62) pages.push(p);
  }
  return pages;
})();
/** Pages the property adds to (the rest are only looked up). */
const PAGES = PAGE_NUMBERS.length - 2;

const opArb: fc.Arbitrary<Op> = fc.oneof(
  {
    weight: 12,
    arbitrary: fc.record({
      op: fc.constant("add" as const),
      pgno: fc.integer({ min: 0, max: PAGES - 1 }).map((i) => PAGE_NUMBERS[i]),
      gap: fc.oneof(fc.constant(0), fc.integer({ min: 0, max: 5 })),
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      op: fc.constant("removeFrom" as const),
      // A rollback of the last few frames (back), or a cut anywhere (share > 0: a fraction
      // of the frames kept), which empties whole pages out of the table.
      back: fc.integer({ min: 0, max: 40 }),
      share: fc.oneof(fc.constant(0), fc.integer({ min: 1, max: 100 })),
    }),
  },
  { weight: 1, arbitrary: fc.record({ op: fc.constant("clear" as const) }) },
  {
    weight: 6,
    arbitrary: fc.record({
      op: fc.constant("lookup" as const),
      pgno: fc.integer({ min: 0, max: PAGES + 1 }).map((i) => PAGE_NUMBERS[i]),
      bound: fc.integer({ min: 0, max: 1 << 20 }),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      op: fc.constant("pages" as const),
      bound: fc.integer({ min: 0, max: 1 << 20 }),
    }),
  },
);

/** Every page at every bound up to past the last frame: the index answers as the model. */
function agreeEverywhere(index: WalIndex, model: Model, frameEnd: number): void {
  for (const pgno of PAGE_NUMBERS) {
    assert.equal(index.newestOf(pgno), model.newest(pgno), `newest of page ${pgno}`);
    for (let bound = 0; bound <= frameEnd + 1; bound++) {
      const want = model.lookup(pgno, bound);
      assert.equal(index.lookup(pgno, bound), want, `page ${pgno} below ${bound}`);
      assert.equal(index.newest, model.newest(pgno), `newest after the lookup of ${pgno}`);
    }
  }
  for (let bound = 0; bound <= frameEnd + 1; bound++) {
    assert.deepEqual([...index.pages(bound)], model.pagesBelow(bound), `pages below ${bound}`);
  }
}

/**
 * Chain steps a lookup may take among `versions` frames of a page: about 2*log2(n), as skew-
 * binary jump pointers promise (measured worst cases here lie within 2*log2(n) + 6).
 */
function stepsBound(versions: number): number {
  return Math.floor(2 * Math.log2(versions)) + 8;
}

describe("WalIndex", () => {
  test("agrees with a per-page list model under random adds, removeFroms, clears, lookups", () => {
    fc.assert(
      fc.property(fc.array(opArb, { maxLength: 300 }), (ops) => {
        const index = new WalIndex();
        const model = new Model();
        /** One past the highest frame ever added in this generation. */
        let frameEnd = 0;
        for (const o of ops) {
          switch (o.op) {
            case "add": {
              // Past the newest linked frame: into a gap, or over positions a removeFrom
              // unlinked (an append rewound after a discard).
              const frame = model.last + 1 + o.gap;
              index.add(frame, o.pgno);
              model.add(frame, o.pgno);
              frameEnd = Math.max(frameEnd, frame + 1);
              break;
            }
            case "removeFrom": {
              const first =
                o.share > 0
                  ? Math.floor((frameEnd * o.share) / 100)
                  : Math.max(0, frameEnd - o.back);
              index.removeFrom(first);
              model.removeFrom(first);
              break;
            }
            case "clear":
              index.clear();
              model.clear();
              frameEnd = 0;
              break;
            case "lookup": {
              const bound = o.bound % (frameEnd + 2);
              assert.equal(index.lookup(o.pgno, bound), model.lookup(o.pgno, bound));
              assert.equal(index.newest, model.newest(o.pgno));
              break;
            }
            case "pages": {
              const bound = o.bound % (frameEnd + 2);
              assert.deepEqual([...index.pages(bound)], model.pagesBelow(bound));
              break;
            }
          }
          assert.equal(index.pageCount, model.pages.size);
          index.checkInvariants();
        }
        agreeEverywhere(index, model, frameEnd);
      }),
      { numRuns: 300, seed: SEED },
    );
  });

  test("rolling back twice without a commit between unlinks both transactions' frames", () => {
    const index = new WalIndex();
    index.add(0, 7); // committed: frames 0-1, committed end 2
    index.add(1, 8);
    index.add(2, 7); // transaction A: frames 2-4, rolled back
    index.add(3, 9);
    index.add(4, 8);
    index.removeFrom(2);
    index.add(5, 7); // transaction B: frames 5-6 (A's frames stay in the file, unlinked)
    index.add(6, 9);
    index.removeFrom(2);
    index.checkInvariants();
    assert.equal(index.pageCount, 2);
    assert.equal(index.newestOf(7), 0);
    assert.equal(index.newestOf(8), 1);
    assert.equal(index.newestOf(9), -1);
    assert.deepEqual([...index.pages(10)], [7, 8]);
    // A discard cut the log back to the committed end: the next append reuses frame 2.
    index.add(2, 9);
    assert.equal(index.lookup(9, 3), 2);
    assert.equal(index.lookup(7, 3), 0);
    index.checkInvariants();
  });

  test("a lookup in a 200,000-version chain is exact at every bound in O(log n) steps", () => {
    const n = 200_000;
    const index = new WalIndex();
    for (let f = 0; f < n; f++) index.add(f, 42);
    const stepsMax = stepsBound(n);
    let worst = 0;
    for (let bound = 0; bound <= n + 1; bound++) {
      const want = bound === 0 ? -1 : Math.min(bound, n) - 1;
      const got = index.lookup(42, bound);
      if (got !== want) assert.fail(`below ${bound}: frame ${got}, want ${want}`);
      assert.equal(index.newest, n - 1);
      worst = Math.max(worst, index.lastSteps);
    }
    assert.ok(worst <= stepsMax, `a lookup took ${worst} steps, more than ${stepsMax}`);
    // The bound is tight enough to mean something: a linear walk would take up to n steps.
    assert.ok(worst > 10, `worst case ${worst} steps: the counter counts`);
  });

  test("interleaved pages with gaps: each page's chain is exact and short at every bound", () => {
    const index = new WalIndex();
    const model = new Model();
    // Page p in 1..5 logs in every p-th round; every 7th frame is a gap (rolled back).
    let frame = 0;
    for (let round = 0; round < 50_000; round++) {
      for (let pgno = 1; pgno <= 5; pgno++) {
        if (round % pgno !== 0) continue;
        if (frame % 7 === 3) frame++;
        index.add(frame, pgno);
        model.add(frame, pgno);
        frame++;
      }
    }
    const frames = frame;
    for (let pgno = 1; pgno <= 5; pgno++) {
      const versions = model.pages.get(pgno)?.length ?? 0;
      const stepsMax = stepsBound(versions);
      for (let bound = 0; bound <= frames + 1; bound += 13) {
        const want = model.lookup(pgno, bound);
        const got = index.lookup(pgno, bound);
        if (got !== want) assert.fail(`page ${pgno} below ${bound}: ${got}, want ${want}`);
        if (index.lastSteps > stepsMax) {
          assert.fail(`page ${pgno} below ${bound}: ${index.lastSteps} steps > ${stepsMax}`);
        }
      }
    }
    // Unlinking the newer half leaves every older answer as it was.
    const half = Math.floor(frames / 2);
    index.removeFrom(half);
    model.removeFrom(half);
    index.checkInvariants();
    for (let pgno = 1; pgno <= 5; pgno++) {
      for (let bound = 0; bound <= frames + 1; bound += 17) {
        assert.equal(index.lookup(pgno, bound), model.lookup(pgno, bound));
      }
    }
  });

  test("the frame arrays and the page table grow past their initial sizes and keep every frame", () => {
    const index = new WalIndex();
    const frameSlots = index.frameCapacity;
    const pageSlots = index.pageCapacity;
    // Page numbers that share their low bits, and ones past 2^31, so the probe runs are long
    // and growth rehashes colliding keys.
    const pages: number[] = [];
    for (let i = 1; i <= 3000; i++) pages.push(i % 3 === 0 ? 2 ** 32 - i : i * 2 ** 20);
    const frames = 20 * frameSlots;
    for (let f = 0; f < frames; f++) index.add(f, pages[f % pages.length]);
    assert.ok(index.frameCapacity >= frames && index.frameCapacity > frameSlots);
    assert.ok(index.pageCapacity >= 2 * pages.length && index.pageCapacity > pageSlots);
    assert.equal(index.pageCount, pages.length);
    index.checkInvariants();
    for (let f = frames - 1; f >= 0; f -= 7) {
      const pgno = pages[f % pages.length];
      // The newest frame of pgno below f + 1 is f itself.
      assert.equal(index.lookup(pgno, f + 1), f);
      assert.equal(index.lookup(pgno, f), f - pages.length < 0 ? -1 : f - pages.length);
    }
    assert.deepEqual(
      [...index.pages(frames)],
      [...pages].sort((a, b) => a - b),
    );
    // Cut back to frame 1500: the pages first logged from there on leave the table. Growth
    // rehashed the keys out of insertion order, so removing them must shift probe runs back.
    index.removeFrom(1500);
    index.checkInvariants();
    assert.equal(index.pageCount, 1500);
    for (const [i, pgno] of pages.entries()) {
      assert.equal(index.newestOf(pgno), i < 1500 ? i : -1, `page ${pgno}`);
    }
    // A new generation starts empty, in the grown arrays.
    index.clear();
    assert.equal(index.pageCount, 0);
    assert.equal(index.lookup(pages[0], frames), -1);
    assert.equal(index.newest, -1);
    index.add(0, pages[5]);
    assert.equal(index.lookup(pages[5], 1), 0);
    index.checkInvariants();
  });

  test("pages that collide in the table leave it on removeFrom, after growth, and the rest stay found", () => {
    // 64 pages whose homes in the initial 64-slot table are its last four slots: their runs
    // wrap around, and growth rehashes them out of insertion order.
    const colliding: number[] = [];
    for (let p = 1; colliding.length < 64; p++) {
      if (Math.imul(p, 0x9e3779b1) >>> 26 >= 60) colliding.push(p);
    }
    let lcg = 12345;
    for (let trial = 0; trial < 200; trial++) {
      const pages = [...colliding];
      for (let i = pages.length - 1; i > 0; i--) {
        lcg = (Math.imul(lcg, 1103515245) + 12345) >>> 0;
        const j = lcg % (i + 1);
        [pages[i], pages[j]] = [pages[j], pages[i]];
      }
      const index = new WalIndex();
      for (const [f, pgno] of pages.entries()) index.add(f, pgno);
      const cut = trial % pages.length;
      index.removeFrom(cut);
      for (const [f, pgno] of pages.entries()) {
        assert.equal(index.newestOf(pgno), f < cut ? f : -1, `trial ${trial}: page ${pgno}`);
      }
      index.checkInvariants();
    }
  });

  test("add refuses a frame that does not follow the newest linked one, and page 0", () => {
    const index = new WalIndex();
    index.add(3, 1);
    assert.throws(() => index.add(3, 2), /internal assertion/);
    assert.throws(() => index.add(2, 2), /internal assertion/);
    assert.throws(() => index.add(4, 0), /internal assertion/);
    index.removeFrom(3);
    index.add(3, 2); // the position was unlinked: reusable
    assert.equal(index.newestOf(2), 3);
  });
});
