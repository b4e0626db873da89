// Tests for the replayable PRNG: determinism, seed mixing, ranges, argument bounds.
// They must never depend on Math.random or time.

import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { isPagekvError } from "../../src/errors.js";
import { mixSeed, Prng } from "../../src/vfs/prng.js";

function take(prng: Prng, n: number): number[] {
  const out: number[] = [];
  for (let i = 0; i < n; i++) out.push(prng.nextU32());
  return out;
}

function popcount32(x: number): number {
  let v = x >>> 0;
  let c = 0;
  while (v !== 0) {
    c += v & 1;
    v >>>= 1;
  }
  return c;
}

describe("mixSeed", () => {
  test("small seeds map to far-apart u32 states", () => {
    const mixed = [0, 1, 2, 3].map(mixSeed);
    for (const m of mixed) assert.ok(Number.isInteger(m) && m >= 0 && m < 2 ** 32);
    assert.equal(new Set(mixed).size, mixed.length);
    for (let i = 0; i < mixed.length; i++) {
      for (let j = i + 1; j < mixed.length; j++) {
        // An avalanche hash flips ~16 bits; a weak mix (e.g. identity) flips 1 or 2.
        assert.ok(popcount32(mixed[i] ^ mixed[j]) >= 6, `seeds ${i},${j} too similar`);
      }
    }
    assert.notEqual(mixSeed(0), 0);
  });

  test("is a pure function and separates seeds past 32 bits", () => {
    assert.equal(mixSeed(12345), mixSeed(12345));
    assert.notEqual(mixSeed(1), mixSeed(1 + 2 ** 32));
    assert.notEqual(mixSeed(-1), mixSeed(2 ** 32 - 1));
  });

  test("rejects non-integer seeds with ERR_ARG", () => {
    for (const bad of [1.5, Number.NaN, Number.POSITIVE_INFINITY, 2 ** 53]) {
      assert.throws(
        () => mixSeed(bad),
        (e) => isPagekvError(e, "ERR_ARG"),
      );
    }
  });
});

describe("Prng", () => {
  test("the same seed replays the same stream", () => {
    assert.deepEqual(take(new Prng(42), 100), take(new Prng(42), 100));
  });

  test("seeds 0, 1 and 2 give unrelated streams", () => {
    const a = take(new Prng(0), 50);
    const b = take(new Prng(1), 50);
    const c = take(new Prng(2), 50);
    let same = 0;
    for (let i = 0; i < 50; i++) {
      if (a[i] === b[i] || b[i] === c[i] || a[i] === c[i]) same++;
    }
    assert.equal(same, 0);
  });

  test("seed 0 produces a varied stream", () => {
    const values = take(new Prng(0), 1000);
    assert.ok(new Set(values).size > 990);
  });

  test("next() stays in [0, 1) and int(n) in 0..n-1, covering every value", () => {
    const prng = new Prng(7);
    const seen = new Array<number>(6).fill(0);
    for (let i = 0; i < 6000; i++) {
      const f = prng.next();
      assert.ok(f >= 0 && f < 1);
      const k = prng.int(6);
      assert.ok(Number.isInteger(k) && k >= 0 && k < 6);
      seen[k]++;
    }
    // Each bucket expects 1000; a broken mapping leaves some near 0 or 6000.
    for (const count of seen) assert.ok(count > 800 && count < 1200, `bucket ${count}`);
    assert.equal(prng.int(1), 0);
  });

  test("int() rejects n outside 1..2^32 with ERR_ARG", () => {
    const prng = new Prng(1);
    for (const bad of [0, -1, 2.5, 2 ** 32 + 1, Number.NaN]) {
      assert.throws(
        () => prng.int(bad),
        (e) => isPagekvError(e, "ERR_ARG"),
      );
    }
  });
});
