// What a reader of pages needs from a view of the database: the live pager (the newest
// state, the open transaction's changes included) or a snapshot (one commit, fixed). The
// B-tree reads through one of these and writes only through the pager.

import type { Frame } from "./frame.js";

export interface PageSource {
  /** Pages in this view, page 1 included: page numbers read from its pages lie in 2..pageCount. */
  readonly pageCount: number;
  /** One of the header's 8 application slots, as of this view. */
  getSlot(i: number): number;
  /** Pin page `pgno` (2..pageCount) for reading; the caller unpins it through this source. */
  get(pgno: number): Frame;
  /** Release a pin taken by get(). */
  unpin(frame: Frame): void;
}
