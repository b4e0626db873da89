// The header as the pager holds it between reads and writes of page 1: a copyable value.
// The pager keeps the current one (the last commit plus the open transaction's changes), a
// transaction keeps the last commit's to roll back to, and a snapshot keeps its instant's.

import { APP_SLOTS, type Header } from "../format/header.js";

export class Meta {
  /** High-water mark of allocated pages, page 1 included. */
  pageCount = 1;
  changeCounter = 0;
  checkpointLsn = 0n;
  /** The 8 application slots (the B-tree's root is slot 0). */
  readonly slots = new Uint32Array(APP_SLOTS);
  databaseId = 0;
  applicationId = 0;
  /** The file was read as format version 2, which has no application id. */
  legacy = false;

  /** The fields of a decoded header (the freelist's are the pager's FreePages). */
  static of(h: Header): Meta {
    const m = new Meta();
    m.adopt(h);
    return m;
  }

  adopt(h: Header): void {
    this.pageCount = h.pageCount;
    this.changeCounter = h.changeCounter;
    this.checkpointLsn = h.checkpointLsn;
    this.slots.set(h.slots);
    this.databaseId = h.databaseId;
    this.applicationId = h.applicationId;
    this.legacy = h.legacy;
  }

  /** Make this a copy of `m`. Allocates nothing. */
  copyFrom(m: Meta): void {
    this.pageCount = m.pageCount;
    this.changeCounter = m.changeCounter;
    this.checkpointLsn = m.checkpointLsn;
    this.slots.set(m.slots);
    this.databaseId = m.databaseId;
    this.applicationId = m.applicationId;
    this.legacy = m.legacy;
  }
}
