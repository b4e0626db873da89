// The page table: page number -> frame index, an open-addressing hash table over two typed
// arrays (linear probing, Fibonacci hashing, backward-shift deletion so no tombstones ever
// build up). Sized once at open to twice the frame count: a lookup allocates nothing and
// probes a short run whatever the pool size.

import { assert, assertFailed } from "../errors.js";

const EMPTY = 0; // page 0 is the null page and never stored

/**
 * Slots (as a power of two, log2) for an open-addressing table of at most `capacity` keys:
 * at least twice as many, so probe runs stay short when it is full.
 */
export function tableBits(capacity: number): number {
  let bits = 4;
  while (1 << bits < capacity * 2) bits++;
  return bits;
}

export class PageTable {
  private readonly keys: Uint32Array;
  private readonly values: Int32Array;
  private readonly mask: number;
  private readonly shift: number;
  private readonly capacity: number;
  private count = 0;

  constructor(capacity: number) {
    const bits = tableBits(capacity);
    this.keys = new Uint32Array(1 << bits);
    this.values = new Int32Array(1 << bits);
    this.mask = (1 << bits) - 1;
    this.shift = 32 - bits;
    this.capacity = capacity;
  }

  get size(): number {
    return this.count;
  }

  private home(pgno: number): number {
    return Math.imul(pgno, 0x9e3779b1) >>> this.shift;
  }

  /** Frame index holding `pgno`, or -1. */
  get(pgno: number): number {
    const keys = this.keys;
    let i = this.home(pgno);
    for (;;) {
      const k = keys[i];
      // EMPTY first: page 0 must never match an empty slot.
      if (k === EMPTY) return -1;
      if (k === pgno) return this.values[i];
      i = (i + 1) & this.mask;
    }
  }

  set(pgno: number, frameIndex: number): void {
    assert(pgno !== EMPTY && this.count < this.capacity, "page table insert out of bounds");
    const keys = this.keys;
    let i = this.home(pgno);
    while (keys[i] !== EMPTY) {
      if (keys[i] === pgno) assertFailed(`page ${pgno} is already in the page table`);
      i = (i + 1) & this.mask;
    }
    keys[i] = pgno;
    this.values[i] = frameIndex;
    this.count++;
  }

  delete(pgno: number): void {
    const keys = this.keys;
    const mask = this.mask;
    let i = this.home(pgno);
    while (keys[i] !== pgno) {
      if (keys[i] === EMPTY) assertFailed(`page ${pgno} is not in the page table`);
      i = (i + 1) & mask;
    }
    // Backward shift: pull later entries of the probe run into the hole when the hole lies
    // between their home slot and where they sit, so every key stays reachable.
    let j = i;
    for (;;) {
      j = (j + 1) & mask;
      const k = keys[j];
      if (k === EMPTY) break;
      const h = this.home(k);
      if (((j - h) & mask) >= ((j - i) & mask)) {
        keys[i] = k;
        this.values[i] = this.values[j];
        i = j;
      }
    }
    keys[i] = EMPTY;
    this.count--;
  }
}
