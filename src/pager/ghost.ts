// S3-FIFO's ghost list: the numbers of pages recently evicted from the small queue without
// reaching main (buffer-pool.ts), no bytes. A generation-stamp table rather than a FIFO:
// every add() takes the next stamp, and an entry is a ghost while its stamp is among the
// last `capacity` handed out and no take() or later add() has replaced it. Two-way buckets
// over one Uint32Array of (page, stamp) pairs, so an add, a lookup or a take reads one
// 16-byte bucket and never walks or shifts anything (a ring plus an open-addressing table
// took 3 to 5 probes and a backward shift per miss).
// Allocated at open: at least two slots per entry, 8 bytes a slot (16 to 32 per entry).
//
// Invariants: at most `capacity` ghosts (stamps of live entries are distinct and within the
// last `capacity`); a page is in at most one live slot. The pool never lists a page whose
// current image is resident: it adds a page only after its frame is unbound and take()s
// it at every bind. An entry may also leave early, when two later adds share its bucket:
// the list is a hint for the miss path, not a record.

import { assert, assertFailed } from "../errors.js";
import { tableBits } from "./page-table.js";

/** The last stamp before the table starts again (stamps are u32; 0 marks a dead slot). */
const STAMP_MAX = 0xffff_ffff;

export class Ghost {
  /** Per bucket: page, stamp of way 0, then page, stamp of way 1. Stamp 0: no entry. */
  private readonly slots: Uint32Array;
  private readonly shift: number;
  /** Stamps handed out; the newest entry has stamp `added`. */
  private added = 0;

  constructor(readonly capacity: number) {
    assert(Number.isInteger(capacity) && capacity >= 0, "ghost capacity");
    const bits = tableBits(capacity) - 1; // buckets: half of at least twice the entries
    this.slots = new Uint32Array(4 << bits);
    this.shift = 32 - bits;
  }

  private bucket(pgno: number): number {
    return (Math.imul(pgno, 0x9e3779b1) >>> this.shift) << 2;
  }

  /** Whether the slot at `i` (a page's index) holds an entry that is still a ghost. */
  private live(i: number): boolean {
    const stamp = this.slots[i + 1];
    return stamp !== 0 && this.added - stamp < this.capacity;
  }

  has(pgno: number): boolean {
    const b = this.bucket(pgno);
    const s = this.slots;
    return (s[b] === pgno && this.live(b)) || (s[b + 2] === pgno && this.live(b + 2));
  }

  /** Make `pgno` (no ghost) the newest ghost, in its bucket's older way. */
  add(pgno: number): void {
    if (this.capacity === 0) return;
    if (this.has(pgno)) assertFailed(`page ${pgno} is a ghost already`); // message only then
    if (this.added === STAMP_MAX) {
      // Once per 2^32 evictions: forget every ghost rather than let stamps wrap.
      this.slots.fill(0);
      this.added = 0;
    }
    const b = this.bucket(pgno);
    const s = this.slots;
    const way = s[b + 1] <= s[b + 3] ? b : b + 2; // a dead slot's stamp is 0 or old
    s[way] = pgno;
    s[way + 1] = ++this.added;
  }

  /** True when `pgno` was a ghost; it is none after. */
  take(pgno: number): boolean {
    const b = this.bucket(pgno);
    const s = this.slots;
    if (s[b] === pgno && this.live(b)) {
      s[b + 1] = 0;
      return true;
    }
    if (s[b + 2] === pgno && this.live(b + 2)) {
      s[b + 3] = 0;
      return true;
    }
    return false;
  }

  /** Ghosts now, at most capacity. O(slots): for checks and tests. */
  get size(): number {
    let n = 0;
    this.forEach(() => {
      n++;
    });
    return n;
  }

  /** Call `f` with every ghost, oldest first. O(slots): for checks and tests. */
  forEach(f: (pgno: number) => void): void {
    const live: number[] = [];
    for (let i = 0; i < this.slots.length; i += 2) if (this.live(i)) live.push(i);
    live.sort((x, y) => this.slots[x + 1] - this.slots[y + 1]);
    for (const i of live) f(this.slots[i]);
  }
}
