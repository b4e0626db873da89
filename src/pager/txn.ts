// The write transaction: at most one per pager. It begins at the first change after a
// commit (implicitly) or at begin() (explicitly), and holds what rollback restores.
//
// Invariants:
//   - `saved` is the header as of the last commit while `active`; so is what a snapshot
//     copies (see Pager.committedMeta);
//   - `lsn` is fresh for every transaction and never reused, even after a rollback, so LSNs
//     never decrease along the log (docs/design/log-failures.md);
//   - `explicit` implies nothing about `active`: begin() sets `explicit` and the first
//     change makes the transaction `active` (an empty explicit transaction writes nothing).

import { Meta } from "./meta.js";

export class WriteTxn {
  /** Pages or the header changed since the last commit. */
  active = false;
  /** Between begin() and commit() / rollback(). */
  explicit = false;
  /** The LSN every frame of this transaction carries. */
  lsn = 0n;
  /** The header as of the last commit. */
  readonly saved = new Meta();
  /** Whether the freelist had changed since its trunks were last logged, at the start. */
  savedFreelistDirty = false;

  /** The first change since the last commit: remember what rollback restores. */
  start(lsn: bigint, meta: Meta, freelistDirty: boolean): void {
    this.active = true;
    this.lsn = lsn;
    this.saved.copyFrom(meta);
    this.savedFreelistDirty = freelistDirty;
  }

  /** Committed or rolled back. */
  finish(): void {
    this.active = false;
  }
}
