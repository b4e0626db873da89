// The in-memory freelist: which pages are free, as a bitmap for O(1) membership (a free
// page must never be handed out twice or read as live data) and a stack for O(1) reuse.
// It is written to trunk pages at checkpoint (format/freelist.ts) and loaded back at open.

import { assertFailed } from "../errors.js";

export class FreePages {
  private bits = new Uint8Array(64);
  private stack = new Uint32Array(64);
  private top = 0;
  /**
   * While a transaction is open, every change in order: +pgno for add, -pgno for pop
   * (page numbers are >= 2, so the sign is free). Undone in reverse on rollback.
   */
  private readonly journal: number[] = [];
  /**
   * The stack's order before reorder() in the open transaction (null when it did not run):
   * a rollback puts it back, since the committed freelist's trunk pages are its first
   * entries (docs/design/compact.md, "The pager's part").
   */
  private savedOrder: Uint32Array | null = null;

  get count(): number {
    return this.top;
  }

  has(pgno: number): boolean {
    const byte = pgno >>> 3;
    return byte < this.bits.length && (this.bits[byte] & (1 << (pgno & 7))) !== 0;
  }

  add(pgno: number): void {
    if (this.has(pgno)) assertFailed(`page ${pgno} is already free`);
    const byte = pgno >>> 3;
    if (byte >= this.bits.length) this.bits = grow(this.bits, byte + 1);
    if (this.top === this.stack.length) this.stack = grow(this.stack, this.top + 1);
    this.bits[byte] |= 1 << (pgno & 7);
    this.stack[this.top++] = pgno;
    this.journal.push(pgno);
  }

  /** Take the most recently freed page, or 0 when none is free. */
  pop(): number {
    if (this.top === 0) return 0;
    const pgno = this.stack[--this.top];
    this.bits[pgno >>> 3] &= ~(1 << (pgno & 7));
    this.journal.push(-pgno);
    return pgno;
  }

  /** Empty the list and its journal (a reader's refresh, before it loads the new view's). */
  clear(): void {
    this.bits.fill(0);
    this.top = 0;
    this.journal.length = 0;
    this.savedOrder = null;
  }

  /** Forget the journal: the changes so far are committed. */
  commit(): void {
    this.journal.length = 0;
    this.savedOrder = null;
  }

  /**
   * Sort the stack so that pop() hands out the lowest page first (`lowestFirst`) or the
   * highest. Only before the transaction's first change (asserted): the order it replaces
   * is kept for rollback().
   */
  reorder(lowestFirst: boolean): void {
    if (this.journal.length > 0) assertFailed("free pages reordered after a change");
    const pages = this.stack.subarray(0, this.top);
    if (this.savedOrder === null) this.savedOrder = pages.slice();
    pages.sort();
    if (lowestFirst) pages.reverse();
  }

  /** Undo every change since the last commit(), newest first: the stack is as it was. */
  rollback(): void {
    for (let i = this.journal.length - 1; i >= 0; i--) {
      const op = this.journal[i];
      if (op > 0) {
        // Undo add(op): it is on top of the stack.
        this.top--;
        this.bits[op >>> 3] &= ~(1 << (op & 7));
      } else {
        // Undo pop(): put the page back on top.
        const pgno = -op;
        this.bits[pgno >>> 3] |= 1 << (pgno & 7);
        this.stack[this.top++] = pgno;
      }
    }
    this.journal.length = 0;
    if (this.savedOrder !== null) {
      // The undo left the set as committed, so the saved order is a permutation of it.
      if (this.savedOrder.length !== this.top) assertFailed("free pages lost their order");
      this.stack.set(this.savedOrder);
      this.savedOrder = null;
    }
  }

  /**
   * Every free page, oldest first: a view, valid until the next change. The freelist's
   * trunk pages are the first entries, the ones the stack will hand out last.
   */
  entries(): Uint32Array {
    return this.stack.subarray(0, this.top);
  }
}

/** `a` copied into a larger array of its kind, doubling until `needed` fits. */
function grow<T extends Uint8Array | Uint32Array>(a: T, needed: number): T {
  let n = a.length * 2;
  while (n < needed) n *= 2;
  const b = a instanceof Uint8Array ? new Uint8Array(n) : new Uint32Array(n);
  b.set(a);
  return b as T;
}
