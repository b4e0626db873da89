// The last commit as a page source over the pager: what reads through the Database see
// while a transaction function runs (the open transaction's changes are not in it). It only
// reads; it is not fixed: each commit moves it, and the Database says so (changed()), so
// that iterators over it find their place again (EntriesOptions.version).

import type { PageSource } from "../pager/page-source.js";
import type { Frame, Pager } from "../pager/pager.js";

export class CommittedView implements PageSource {
  private readonly pager: Pager;
  /** Commits since this view was made: bumped by changed(). */
  private commits = 0;
  /** The view's version, for EntriesOptions.version (one function, made once). */
  readonly version = (): number => this.commits;

  constructor(pager: Pager) {
    this.pager = pager;
  }

  /**
   * The pager's page count, the open transaction's included (what the committed tree
   * always checked its page numbers against; getCommitted itself refuses a page past the
   * committed count).
   */
  get pageCount(): number {
    return this.pager.pageCount;
  }

  getSlot(i: number): number {
    return this.pager.getCommittedSlot(i);
  }

  get(pgno: number): Frame {
    return this.pager.getCommitted(pgno);
  }

  unpin(frame: Frame): void {
    this.pager.unpin(frame);
  }

  /** The pager committed (or checkpointed): the view moved. */
  changed(): void {
    this.commits++;
  }
}
