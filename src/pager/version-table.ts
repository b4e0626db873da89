// The pool's second table: (page, version) -> frame index, for the older images snapshots
// read (docs/design/snapshots.md). A version is a log frame + 1, or 0 for the main file's
// image; versions are those of the current log generation, and the table is emptied when
// the log is reset. Open addressing over typed arrays, sized once (twice the frame count),
// linear probing with backward-shift deletion: a lookup allocates nothing. The current
// images live in the PageTable, which this never slows.

import { assert, assertFailed } from "../errors.js";
import { tableBits } from "./page-table.js";

const EMPTY = 0; // page 0 is never stored

export class VersionTable {
  private readonly pages: Uint32Array;
  private readonly versions: Uint32Array;
  private readonly values: Int32Array;
  private readonly mask: number;
  private readonly shift: number;
  private readonly capacity: number;
  private count = 0;

  constructor(capacity: number) {
    const bits = tableBits(capacity);
    this.pages = new Uint32Array(1 << bits);
    this.versions = new Uint32Array(1 << bits);
    this.values = new Int32Array(1 << bits);
    this.mask = (1 << bits) - 1;
    this.shift = 32 - bits;
    this.capacity = capacity;
  }

  get size(): number {
    return this.count;
  }

  private home(pgno: number, version: number): number {
    return Math.imul(pgno ^ Math.imul(version, 0x85ebca6b), 0x9e3779b1) >>> this.shift;
  }

  /** Frame index holding `version` of `pgno`, or -1. */
  get(pgno: number, version: number): number {
    let i = this.home(pgno, version);
    for (;;) {
      const p = this.pages[i];
      if (p === EMPTY) return -1;
      if (p === pgno && this.versions[i] === version) return this.values[i];
      i = (i + 1) & this.mask;
    }
  }

  set(pgno: number, version: number, frameIndex: number): void {
    assert(pgno !== EMPTY && this.count < this.capacity, "version table insert out of bounds");
    let i = this.home(pgno, version);
    while (this.pages[i] !== EMPTY) {
      if (this.pages[i] === pgno && this.versions[i] === version) {
        assertFailed(`version ${version} of page ${pgno} is already in the version table`);
      }
      i = (i + 1) & this.mask;
    }
    this.pages[i] = pgno;
    this.versions[i] = version;
    this.values[i] = frameIndex;
    this.count++;
  }

  delete(pgno: number, version: number): void {
    const mask = this.mask;
    let i = this.home(pgno, version);
    while (this.pages[i] !== pgno || this.versions[i] !== version) {
      if (this.pages[i] === EMPTY)
        assertFailed(`version ${version} of page ${pgno} is not in the table`);
      i = (i + 1) & mask;
    }
    // Backward shift (as in page-table.ts): no tombstones.
    let j = i;
    for (;;) {
      j = (j + 1) & mask;
      const p = this.pages[j];
      if (p === EMPTY) break;
      const h = this.home(p, this.versions[j]);
      if (((j - h) & mask) >= ((j - i) & mask)) {
        this.pages[i] = p;
        this.versions[i] = this.versions[j];
        this.values[i] = this.values[j];
        i = j;
      }
    }
    this.pages[i] = EMPTY;
    this.count--;
  }
}
