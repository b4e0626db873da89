// One committed state of a database for the inspection commands (stats, check, dump): a
// read-only pager and one snapshot of it taken at the start, which every page read, the
// root, the page count and the freelist come from. A writer in another process may commit
// and checkpoint meanwhile (docs/design/readers.md); what the command reports is still one
// state, never a mix of two. Never writes, and closes what it opened.

import type { Pager, PagerSnapshot } from "../pager/pager.js";
import type { RecoverMode } from "../wal/wal.js";
import type { Io } from "./io.js";
import { withPager } from "./open.js";

export interface View {
  /** The read-only pager: its pool figures and page size; never read pages through it. */
  readonly pager: Pager;
  /** The state every page is read from: the last commit when the view was taken. */
  readonly snap: PagerSnapshot;
  /**
   * The freelist of that state, trunk pages included. A snapshot keeps no copy of it, so
   * it is the pager's, read right after snapshot() and before anything else could start a
   * read: on a reader, snapshot() is the refresh (readers.md, "The reader's steps"), and
   * the pager's freelist is then that of the view the snapshot took.
   *
   * readers.md's step 3 names the freelist among what a refresh reads of the new end
   * (it did not at first: a reader kept the freelist of its open, and check beside a
   * committing writer reported pages "used twice: freelist and overflow"; found by
   * test/cli/readers.test.ts, which runs check beside a writer that frees pages at every
   * commit).
   */
  readonly free: readonly number[];
  /** Membership in `free`. */
  isFree(pgno: number): boolean;
}

/**
 * Run `fn` on one view of the database at `path`. The snapshot holds the reader's mark
 * (readers.md, "The reader's steps": its mark is the least bound among its snapshots), so
 * the writer's checkpoints copy home nothing it could see (rule 1, race B) and do not reset
 * the log under it (rule 2, race C) until it is closed.
 */
export function withView<T>(path: string, recover: RecoverMode, io: Io, fn: (v: View) => T): T {
  return withPager(path, recover, io, (pager) => inView(pager, fn));
}

/** Run `fn` on one view of an open pager: a snapshot taken now, closed when `fn` ends. */
export function inView<T>(pager: Pager, fn: (v: View) => T): T {
  const snap = pager.snapshot();
  try {
    const free = pager.freePageNumbers();
    const set = new Set(free);
    return fn({ pager, snap, free, isFree: (p) => set.has(p) });
  } finally {
    snap.close();
  }
}
