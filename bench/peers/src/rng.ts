// A small seeded generator (SplitMix32-style mixing over a Weyl sequence): every run of the
// benchmark draws the same operation sequence, and every store gets the same one.

export class Rng {
  private state: number;

  constructor(seed: number) {
    this.state = seed >>> 0;
  }

  /** A uniformly distributed unsigned 32-bit integer. */
  u32(): number {
    this.state = (this.state + 0x9e3779b9) >>> 0;
    let z = this.state;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
    return (z ^ (z >>> 16)) >>> 0;
  }

  /** A double in [0, 1) with 53 random bits. */
  double(): number {
    return ((this.u32() >>> 5) * 67108864 + (this.u32() >>> 6)) / 9007199254740992;
  }

  /** An integer in 0..n-1 (n <= 2^53). */
  int(n: number): number {
    return Math.floor(this.double() * n);
  }
}
