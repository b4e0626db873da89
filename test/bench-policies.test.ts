// The replacement-policy simulators of bench/policies/policies.ts on hand-made traces: miss
// counts and residents worked out by hand (and two textbook reference strings), Belady's
// MIN equal to an exhaustive search over eviction choices on short traces and never above
// any other policy on random ones, and the S3-FIFO simulator step for step with the buffer
// pool's own chooseVictim (src/pager/buffer-pool.ts): hits, queues and ghosts.

import assert from "node:assert/strict";
import { describe, test } from "node:test";
import fc from "fast-check";
import {
  Belady,
  Clock,
  countMisses,
  Lru,
  POLICIES,
  type ReplacementPolicy,
  S3Fifo,
  Sieve,
} from "../bench/policies/policies.js";
import { BufferPool } from "../src/pager/buffer-pool.js";
import { envSeed } from "./seed.js";

/** Fixed by default so a CI run is repeatable; PAGEKV_POLICIES_SEED=random explores new ones. */
const SEED = envSeed("PAGEKV_POLICIES_SEED", 20261201);

const LIMIT = 64;

function misses(p: ReplacementPolicy, pages: readonly number[]): number {
  return countMisses(p, Uint32Array.from(pages));
}

function residents(p: ReplacementPolicy): number[] {
  const out: number[] = [];
  for (let i = 0; i < LIMIT; i++) if (p.has(i)) out.push(i);
  return out;
}

/** The fewest misses over every sequence of eviction choices (demand paging), memoised. */
function bruteForceMisses(trace: readonly number[], capacity: number): number {
  const memo = new Map<string, number>();
  const go = (i: number, resident: readonly number[]): number => {
    if (i === trace.length) return 0;
    const key = `${i}:${resident.join(",")}`;
    const known = memo.get(key);
    if (known !== undefined) return known;
    const p = trace[i];
    let best: number;
    if (resident.includes(p)) {
      best = go(i + 1, resident);
    } else if (resident.length < capacity) {
      best =
        1 +
        go(
          i + 1,
          [...resident, p].sort((a, b) => a - b),
        );
    } else {
      best = Number.POSITIVE_INFINITY;
      for (const victim of resident) {
        const next = resident.filter((r) => r !== victim);
        next.push(p);
        best = Math.min(
          best,
          1 +
            go(
              i + 1,
              next.sort((a, b) => a - b),
            ),
        );
      }
    }
    memo.set(key, best);
    return best;
  };
  return go(0, []);
}

// Silberschatz's reference string: 3 frames give 9 faults under OPT, 12 under LRU.
const TEXTBOOK = [7, 0, 1, 2, 0, 3, 0, 4, 2, 3, 0, 3, 2, 1, 2, 0, 1, 7, 0, 1];

describe("hand-computed miss counts", () => {
  test("LRU, CLOCK and SIEVE part ways on 1 2 1 3 2 with 2 frames", () => {
    const t = [1, 2, 1, 3, 2];
    // LRU: 3 evicts 2 (1 was used since), then 2 evicts 1.
    const lru = new Lru(2, LIMIT);
    assert.equal(misses(lru, t), 4);
    assert.deepEqual(residents(lru), [2, 3]);
    // CLOCK: both bits set, the hand clears both and takes frame 0 (page 1); 2 then hits.
    const clock = new Clock(2, LIMIT);
    assert.equal(misses(clock, t), 3);
    assert.deepEqual(residents(clock), [2, 3]);
    // SIEVE: 1 is visited, so 3 evicts 2 (unvisited) and the hand runs off the head; 2 then
    // evicts the oldest, 1, whose bit the first sweep cleared.
    const sieve = new Sieve(2, LIMIT);
    assert.equal(misses(sieve, t), 4);
    assert.deepEqual(residents(sieve), [2, 3]);
  });

  test("SIEVE keeps a visited page in place where LRU and CLOCK lose it", () => {
    const t = [1, 2, 3, 1, 4, 2, 5, 1];
    const sieve = new Sieve(3, LIMIT);
    assert.equal(misses(sieve, t), 6); // 4 evicts 2, 2 evicts 3, 5 evicts 4; 1 hits
    assert.deepEqual(residents(sieve), [1, 2, 5]);
    const lru = new Lru(3, LIMIT);
    assert.equal(misses(lru, t), 7);
    assert.deepEqual(residents(lru), [1, 2, 5]);
    const clock = new Clock(3, LIMIT);
    assert.equal(misses(clock, t), 6); // 4 evicts 1, 5 evicts 3, 1 evicts 2
    assert.deepEqual(residents(clock), [1, 4, 5]);
  });

  test("LRU and Belady on the textbook reference string", () => {
    assert.equal(misses(new Lru(3, LIMIT), TEXTBOOK), 12);
    assert.equal(misses(new Belady(3, LIMIT, Uint32Array.from(TEXTBOOK)), TEXTBOOK), 9);
  });

  test("S3-FIFO: promotion at two hits, the ghost, main's reinsertion, 4 frames", () => {
    // 4 frames: small 1, main 3, ghost 3 entries.
    const s = new S3Fifo(4, LIMIT);
    assert.equal(s.smallFrames, 1);
    assert.equal(s.mainFrames, 3);
    assert.equal(s.ghostEntries, 3);
    const step = (pgno: number, hit: boolean) => assert.equal(s.access(pgno), hit, `page ${pgno}`);
    for (const p of [1, 2, 3, 4]) step(p, false); // all in small while the cache fills
    step(1, true);
    step(1, true); // counter 2
    step(5, false); // 1 moves to main (counter cleared), 2 goes to the ghost
    assert.equal(s.queueOf(1), "main");
    assert.ok(s.ghosted(2));
    step(2, false); // 3 to the ghost; 2 was a ghost: straight into main
    assert.equal(s.queueOf(2), "main");
    assert.ok(!s.ghosted(2));
    step(6, false); // 4 to the ghost
    step(1, true); // counter 1
    step(7, false); // 5 to the ghost (ghost: 5 4 3)
    // 3, the oldest ghost, is looked up before its miss sends 6 to the ghost (which pushes
    // 3's slot out): 3 enters main. (Looked up after, as Algorithm 1 reads, it would enter
    // small.)
    step(3, false);
    assert.ok(!s.ghosted(3));
    assert.equal(s.queueOf(3), "main");
    step(5, false); // 7 to the ghost pushes 4 out; 5 still a ghost: into main, past its share
    assert.equal(s.queueOf(5), "main");
    step(3, true);
    step(3, true); // counter 2
    // Small is empty, below its share: main reinserts 1 (counter 1 -> 0) and evicts 2,
    // which leaves without a ghost entry; 9 enters small.
    step(9, false);
    assert.equal(s.queueOf(3), "main");
    assert.equal(s.queueOf(9), "small");
    assert.equal(s.queueOf(2), null);
    assert.ok(!s.ghosted(2));
    step(2, false); // 9 to the ghost; 2 is not a ghost: small
    assert.equal(s.queueOf(2), "small");
    assert.deepEqual(residents(s), [1, 2, 3, 5]);
    assert.deepEqual(
      [9, 7, 6, 5, 4, 3, 2].map((p) => s.ghosted(p)),
      [true, true, true, false, false, false, false],
    );
  });

  test("S3-FIFO: a page moved from small to main starts there with a cleared counter", () => {
    const s = new S3Fifo(4, LIMIT);
    // 1 moves to main after two hits; 2 and 3 return from the ghost into main: main 3 2 1.
    const t = [1, 2, 3, 4, 1, 1, 5, 2, 6, 3, 7, 7, 7, 8];
    assert.equal(misses(s, t), 10);
    // 7 moving into the full main evicts its oldest, 1, whose counter 2 was cleared by its
    // move (kept, it would have been reinserted and 2 evicted instead).
    assert.deepEqual(residents(s), [2, 3, 7, 8]);
  });

  test("S3-FIFO: counters cap at 3, so the most-hit page of main outlives the others", () => {
    const s = new S3Fifo(4, LIMIT);
    // 1..7 pass through small into the ghost; 3, 2 and 4 return from it into main (3 the
    // oldest). 3 is hit five times (counter 3), 2 and 4 twice (2); 8 is promoted at 9.
    const t = [1, 2, 3, 4, 5, 6, 7, 3, 2, 4, 3, 3, 3, 3, 3, 2, 2, 4, 4, 8, 8, 8, 9];
    assert.equal(misses(s, t), 12);
    assert.deepEqual(
      [3, 4, 8, 9].map((p) => s.queueOf(p)),
      ["main", "main", "main", "small"],
    );
    // Moving 8 into the full main: reinsertions spend the counters 3, 2, 2 round by round
    // and 2, oldest with 0 left, goes (with a cap of 2, 3 would have gone first).
    assert.deepEqual(residents(s), [3, 4, 8, 9]);
  });

  test("S3-FIFO filters a scan: pages touched once leave from small, the hot set stays", () => {
    const s = new S3Fifo(10, 1000);
    const lru = new Lru(10, 1000);
    const trace: number[] = [];
    for (let round = 0; round < 20; round++) {
      for (let r = 0; r < 3; r++) for (let h = 1; h <= 8; h++) trace.push(h);
      for (let k = 0; k < 30; k++) trace.push(100 + round * 30 + k);
    }
    // The 8 hot pages fit main (9 frames); the scan of 30 new pages passes through small.
    const m = misses(s, trace);
    assert.equal(m, 8 + 20 * 30);
    for (let h = 1; h <= 8; h++) assert.equal(s.queueOf(h), "main");
    // LRU loses the hot set to every scan.
    assert.equal(misses(lru, trace), 20 * (8 + 30));
  });
});

describe("Belady's MIN", () => {
  test("equals an exhaustive search over eviction choices on traces of <= 12 accesses", () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 0, max: 5 }), { minLength: 1, maxLength: 12, size: "max" }),
        fc.integer({ min: 1, max: 4 }),
        (trace, capacity) => {
          const t = Uint32Array.from(trace);
          assert.equal(
            countMisses(new Belady(capacity, LIMIT, t), t),
            bruteForceMisses(trace, capacity),
          );
        },
      ),
      { seed: SEED, numRuns: 400 },
    );
  });

  test("never misses more than any other policy on random traces", () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 0, max: 40 }), { minLength: 1, maxLength: 600, size: "max" }),
        fc.integer({ min: 2, max: 30 }),
        (trace, capacity) => {
          const t = Uint32Array.from(trace);
          const opt = countMisses(new Belady(capacity, LIMIT, t), t);
          for (const p of POLICIES) {
            const m = countMisses(p.make(capacity, LIMIT, t), t);
            assert.ok(opt <= m, `${p.name}: ${m} misses, Belady ${opt}`);
          }
        },
      ),
      { seed: SEED, numRuns: 200 },
    );
  });

  test("refuses a replay that departs from its trace", () => {
    const b = new Belady(2, LIMIT, Uint32Array.from([1, 2]));
    b.access(1);
    assert.throws(() => b.access(3), /trace says 2/);
  });
});

describe("every policy", () => {
  test("holds at most its capacity and hits exactly when the page is resident", () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 0, max: 30 }), { minLength: 1, maxLength: 400, size: "max" }),
        fc.integer({ min: 2, max: 20 }),
        (trace, capacity) => {
          const t = Uint32Array.from(trace);
          for (const p of POLICIES) {
            const policy = p.make(capacity, LIMIT, t);
            const distinct = new Set<number>();
            for (const pgno of trace) {
              const was = policy.has(pgno);
              assert.equal(policy.access(pgno), was, `${p.name} page ${pgno}`);
              assert.ok(policy.has(pgno), `${p.name}: page ${pgno} resident after its access`);
              distinct.add(pgno);
              // Demand paging: nothing leaves before the pool is full, and a miss then evicts
              // exactly one page (S3-FIFO too: one victim per call, as the pool's).
              const n = residents(policy).length;
              assert.equal(n, Math.min(capacity, distinct.size), `${p.name} holds ${n}`);
            }
          }
        },
      ),
      { seed: SEED, numRuns: 100 },
    );
  });
});

describe("the S3-FIFO simulator is the buffer pool's S3-FIFO", () => {
  test("same hits, queues and ghosts as BufferPool, access by access", () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 1, max: 40 }), { minLength: 1, maxLength: 500, size: "max" }),
        fc.integer({ min: 2, max: 24 }),
        (trace, capacity) => {
          const pool = new BufferPool(capacity, 512, 512);
          const sim = new S3Fifo(capacity, LIMIT);
          assert.equal(pool.smallShare, sim.smallFrames);
          assert.equal(pool.mainShare, sim.mainFrames);
          for (const pgno of trace) {
            // The pager's get: a hit pins; a miss takes an empty frame or the pool's victim,
            // binds and pins it. The caller unpins before its next get.
            let f = pool.lookup(pgno);
            const hit = f !== null;
            if (f === null) {
              f = pool.takeEmpty();
              if (f === null) {
                const victim = pool.chooseVictim();
                assert.ok(victim !== null);
                pool.unbind(victim);
                f = victim;
              }
              pool.bind(f, pgno);
            }
            pool.pin(f, false);
            pool.unpin(f, false);
            assert.equal(sim.access(pgno), hit, `page ${pgno}`);
            for (let p = 1; p <= 40; p++) {
              const g = pool.lookup(p);
              assert.equal(
                g === null ? null : pool.queueOf(g),
                sim.queueOf(p),
                `page ${p}'s queue`,
              );
              assert.equal(pool.ghost.has(p), sim.ghosted(p), `page ${p} a ghost`);
            }
          }
          pool.checkInvariants();
        },
      ),
      { seed: SEED, numRuns: 300 },
    );
  });
});
