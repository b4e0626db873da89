// The YCSB request distributions, ported from YCSB's ZipfianGenerator,
// ScrambledZipfianGenerator and SkewedLatestGenerator (site.ycsb.generator), with YCSB's
// constants: theta 0.99 and, for the scrambled variant, a Zipfian over 10^10 items whose
// draws are hashed (FNV-1a 64) onto the key range. Deterministic from the Rng passed in.

import type { Rng } from "./rng.js";

/** YCSB's zipfian constant. */
export const ZIPFIAN_THETA = 0.99;
/** ScrambledZipfianGenerator.ITEM_COUNT and its precomputed zeta at theta 0.99. */
const SCRAMBLED_ITEMS = 10_000_000_000;
const SCRAMBLED_ZETAN = 26.46902820178302;

/** Records at most: FNV results are reduced modulo the count with exact double arithmetic. */
export const ZIPF_ITEMS_MAX = 2 ** 26;

/** sum_{i=from}^{to-1} 1 / (i + 1)^theta, added to `initial` (YCSB's zeta with a start). */
function zeta(from: number, to: number, theta: number, initial: number): number {
  let sum = initial;
  for (let i = from; i < to; i++) sum += 1 / (i + 1) ** theta;
  return sum;
}

/** Zipfian over 0..items-1, item 0 the most popular; the item count may grow. */
export class Zipfian {
  private items: number;
  private zetan: number;
  private eta: number;
  private readonly alpha: number;
  private readonly zeta2: number;
  private readonly theta: number;

  constructor(items: number, theta = ZIPFIAN_THETA, zetan?: number) {
    this.theta = theta;
    this.items = items;
    this.zeta2 = zeta(0, 2, theta, 0);
    this.alpha = 1 / (1 - theta);
    this.zetan = zetan ?? zeta(0, items, theta, 0);
    this.eta = this.etaFor(items);
  }

  private etaFor(items: number): number {
    return (1 - (2 / items) ** (1 - this.theta)) / (1 - this.zeta2 / this.zetan);
  }

  /** A draw over 0..items-1; `items` may only grow (zeta is extended incrementally). */
  next(rng: Rng, items = this.items): number {
    if (items !== this.items) {
      if (items < this.items) throw new Error("Zipfian item count may only grow");
      this.zetan = zeta(this.items, items, this.theta, this.zetan);
      this.items = items;
      this.eta = this.etaFor(items);
    }
    const u = rng.double();
    const uz = u * this.zetan;
    if (uz < 1) return 0;
    if (uz < 1 + 0.5 ** this.theta) return 1;
    return Math.floor(this.items * (this.eta * u - this.eta + 1) ** this.alpha);
  }
}

const TWO_32 = 4294967296;

/** YCSB's Utils.fnvhash64 (FNV-1a over the 8 little-endian bytes, then Math.abs), mod n. */
export function fnvhash64Mod(value: number, n: number): number {
  let lo = 0x84222325;
  let hi = 0xcbf29ce4;
  let vlo = value >>> 0;
  let vhi = Math.floor(value / TWO_32) >>> 0;
  for (let i = 0; i < 8; i++) {
    lo = (lo ^ (vlo & 0xff)) >>> 0;
    vlo = ((vlo >>> 8) | ((vhi & 0xff) << 24)) >>> 0;
    vhi >>>= 8;
    // h *= 0x100000001b3 (mod 2^64): h * 0x1b3 + (h << 40)
    const low = lo * 0x1b3;
    const carry = Math.floor(low / TWO_32);
    hi = (Math.imul(hi, 0x1b3) + carry + (lo << 8)) >>> 0;
    lo = low >>> 0;
  }
  if (hi >= 0x80000000) {
    // Math.abs of a negative long: two's complement negation.
    lo = (~lo + 1) >>> 0;
    hi = (~hi + (lo === 0 ? 1 : 0)) >>> 0;
  }
  return ((hi % n) * (TWO_32 % n) + (lo % n)) % n;
}

/** YCSB's ScrambledZipfianGenerator over 0..items-1: Zipfian popularity, hashed positions. */
export class ScrambledZipfian {
  private readonly zipf = new Zipfian(SCRAMBLED_ITEMS, ZIPFIAN_THETA, SCRAMBLED_ZETAN);

  constructor(private readonly items: number) {
    if (items > ZIPF_ITEMS_MAX) throw new Error(`at most ${ZIPF_ITEMS_MAX} items`);
  }

  next(rng: Rng): number {
    return fnvhash64Mod(this.zipf.next(rng), this.items);
  }
}

/** YCSB's SkewedLatestGenerator: Zipfian distance back from the latest inserted record. */
export class SkewedLatest {
  private readonly zipf: Zipfian;

  constructor(latest: number) {
    this.zipf = new Zipfian(latest);
  }

  /** A record in 0..latest, `latest` being the newest record number inserted so far. */
  next(rng: Rng, latest: number): number {
    return latest - this.zipf.next(rng, latest);
  }
}
