// db.compact(): give disk space back (docs/design/compact.md). Runs the repacker's walk (the
// leaves packed full) and the relocator's (live pages moved down) in bounded transactions,
// then one transaction that lowers the page count past the free
// tail, then a checkpoint, which cuts the file when no snapshot or reader holds the log.
// It owns the transaction discipline of compaction and its report; the page moves are the
// tree's (src/btree/relocate.ts), the shrink and the cut the pager's.

import { COMPACT_MOVES_PER_TXN, Relocator } from "../btree/relocate.js";
import { Repacker } from "../btree/repack.js";
import type { Pager } from "../pager/pager.js";

export { COMPACT_MOVES_PER_TXN };

export interface CompactOptions {
  /**
   * Leaf pairs packed, or pages moved, per transaction at most (default
   * COMPACT_MOVES_PER_TXN): each dirties about three pages.
   */
  movesPerTransaction?: number;
}

/** What compact() did. Pages count page 1; bytes are the main file's size on the VFS. */
export interface CompactResult {
  /** The page count before. */
  pagesBefore: number;
  /** The page count after: page 1 and the live pages, none free. */
  pagesAfter: number;
  /** Live pages moved from past pagesAfter into free pages below it. */
  pagesMoved: number;
  /** Leaves emptied into their left neighbour when the leaves were packed (pages freed). */
  leavesMerged: number;
  /**
   * Transactions committed: the packing and the moves (COMPACT_MOVES_PER_TXN pairs or moves
   * at most each) and the shrink; 0 when there was nothing to do.
   */
  transactions: number;
  /** The main file's size before. */
  bytesBefore: number;
  /** Its size after: pagesAfter pages, unless `fileCut` is false. */
  bytesAfter: number;
  /**
   * Whether the file was cut to pagesAfter pages. false while an open snapshot or a reader
   * in another process is behind the last commit: they may still read the old pages, and
   * the file is cut at the first checkpoint that resets the log after they move on (an
   * automatic one, db.checkpoint(), another compact(), or close()).
   */
  fileCut: boolean;
}

/**
 * Compact the tree in `rootSlot` of `pager`: no transaction may be open (the caller
 * checked). A failure rolls back the transaction in progress; those committed before it
 * stand (each is a whole, consistent tree: compaction changes no data).
 */
export function compactPager(
  pager: Pager,
  rootSlot: number,
  movesPerTxn = COMPACT_MOVES_PER_TXN,
): CompactResult {
  const pagesBefore = pager.pageCount;
  const bytesBefore = pager.fileBytes;
  const commitsBefore = pager.stats().commits;
  // First pass: leaves packed full, emptied ones freed (as many pairs per transaction).
  const pack = new Repacker(pager, rootSlot);
  while (!pack.done) {
    inTransaction(pager, () => {
      pack.step(movesPerTxn);
    });
  }
  // Second pass: live pages past the target move down; the target is known only now.
  const walk = new Relocator(pager, rootSlot);
  // Bounded: each transaction moves at least one page or ends the walk, and at most
  // `walk.wanted` pages move.
  while (!walk.done) {
    inTransaction(pager, () => {
      pager.reuseLowestFirst();
      walk.step(movesPerTxn);
    });
  }
  inTransaction(pager, () => {
    pager.shrink();
  });
  const transactions = pager.stats().commits - commitsBefore;
  const fileCut = pager.checkpoint() && pager.fileBytes <= pager.pageCount * pager.pageSize;
  return {
    pagesBefore,
    pagesAfter: pager.pageCount,
    pagesMoved: walk.moved,
    leavesMerged: pack.merged,
    transactions,
    bytesBefore,
    bytesAfter: pager.fileBytes,
    fileCut,
  };
}

function inTransaction(pager: Pager, fn: () => void): void {
  pager.begin();
  try {
    fn();
    pager.commit();
  } catch (e) {
    if (pager.inTransaction) pager.rollback();
    throw e;
  }
}
