// The pager's one state value, checked at every entry (the lock's loss, DEAD, is the VFS's
// and is checked beside it). A read-only pager is a mode, not a state: it is OPEN and
// refuses every write.
//
//   OPEN ──(a sync failed, or the log's header write)──> FENCED ──(close)──> CLOSED
//     └──────────────────────────(close)──────────────────────────────────────┘
//
// OPEN     every call allowed (a write transaction may be open: see txn.ts)
// FENCED   what is on disk past the last good sync is unknown: writes are ERR_FENCED, reads
//          and snapshots still serve the last commit; close() skips the checkpoint and the
//          next open recovers to the last durable commit
// CLOSED   every call is ERR_CLOSED
// No state goes back: a fenced or closed pager is done with.

import { assert } from "../errors.js";

export const OPEN = 0;
export const FENCED = 1;
export const CLOSED = 2;
export type PagerState = typeof OPEN | typeof FENCED | typeof CLOSED;

/** Check a transition against the diagram above. */
export function assertTransition(from: PagerState, to: PagerState): void {
  assert(to > from, `pager state ${from} -> ${to} is not a transition`);
}
