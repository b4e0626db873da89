// A tiny deterministic PRNG for replayable simulations (MemFS crashes, fuzz drivers):
// the same seed always gives the same stream on every platform. It must never be used
// for anything needing unpredictability, and never reads clocks or global randomness.

import { PagekvError } from "../errors.js";

/** The largest `n` accepted by `Prng.int`: outcomes are drawn from one 32-bit output. */
export const PRNG_INT_RANGE_MAX = 2 ** 32;

/** murmur3's 32-bit finaliser: a bijection on u32 where every input bit flips ~half the
 * output bits, so neighbouring seeds land far apart. */
function fmix32(h: number): number {
  let x = h >>> 0;
  x ^= x >>> 16;
  x = Math.imul(x, 0x85ebca6b);
  x ^= x >>> 13;
  x = Math.imul(x, 0xc2b2ae35);
  x ^= x >>> 16;
  return x >>> 0;
}

/**
 * Hash any safe integer seed to a well-mixed u32, so seeds 0, 1, 2 start unrelated
 * streams. Injective on seeds that fit in 32 bits (fmix32 is a bijection); wider seeds
 * fold their high word in first.
 */
export function mixSeed(seed: number): number {
  if (!Number.isSafeInteger(seed)) {
    throw new PagekvError("ERR_ARG", `mixSeed: seed must be a safe integer, got ${seed}`);
  }
  const lo = seed >>> 0; // ToUint32 is exact modular reduction for any safe integer
  const hi = Math.floor(seed / 2 ** 32) >>> 0;
  // The golden-ratio offset keeps seed 0 from mapping to state 0 (fmix32(0) === 0).
  return fmix32(lo ^ fmix32((hi + 0x9e3779b9) >>> 0));
}

/** mulberry32 over a mixed seed: 32 bits of state, period 2^32, fine for simulations. */
export class Prng {
  private state: number;

  constructor(seed: number) {
    this.state = mixSeed(seed);
  }

  /** A uniformly distributed integer in 0..2^32-1. */
  nextU32(): number {
    // mulberry32 advances by a Weyl constant, so every state (including 0) is valid.
    this.state = (this.state + 0x6d2b79f5) | 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  }

  /** A float in [0, 1) with 32 bits of randomness. */
  next(): number {
    return this.nextU32() / 2 ** 32;
  }

  /** A uniformly chosen integer in 0..n-1; `n` is an integer in 1..2^32. */
  int(n: number): number {
    if (!Number.isSafeInteger(n) || n < 1 || n > PRNG_INT_RANGE_MAX) {
      throw new PagekvError(
        "ERR_ARG",
        `Prng.int: n must be an integer in 1..${PRNG_INT_RANGE_MAX}, got ${n}`,
      );
    }
    // next() <= 1 - 2^-32 and n <= 2^32, so the product stays strictly below n.
    return Math.floor(this.next() * n);
  }
}
