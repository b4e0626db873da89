// The header as the pager holds it between reads and writes of page 1: a copyable value.
// The pager keeps the current one (the last commit plus the open transaction's changes), a
// transaction keeps the last commit's to roll back to, and a snapshot keeps its instant's.

import { PagekvError } from "../errors.js";
import { APP_SLOTS, type Header } from "../format/header.js";

/** What a Meta holds: the header's fields but the page size and the freelist's. */
type MetaFields = Pick<
  Header,
  | "pageCount"
  | "changeCounter"
  | "checkpointLsn"
  | "slots"
  | "databaseId"
  | "applicationId"
  | "legacy"
>;

/** `i` if it names one of the header's slots (0..7), else ERR_ARG naming the file. */
export function slotIndex(path: string, i: number): number {
  if (!Number.isInteger(i) || i < 0 || i >= APP_SLOTS) {
    throw new PagekvError("ERR_ARG", `${path}: slot ${String(i)} is not in 0..7`, { path });
  }
  return i;
}

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
    m.copyFrom(h);
    return m;
  }

  /** Make this a copy of `m` (a decoded header or another Meta). Allocates nothing. */
  copyFrom(m: MetaFields): void {
    this.pageCount = m.pageCount;
    this.changeCounter = m.changeCounter;
    this.checkpointLsn = m.checkpointLsn;
    this.slots.set(m.slots);
    this.databaseId = m.databaseId;
    this.applicationId = m.applicationId;
    this.legacy = m.legacy;
  }
}
