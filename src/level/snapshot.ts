// PagekvSnapshot: abstract-level's explicit snapshot (db.snapshot()) over one engine
// Snapshot, the last commit at the instant it was made (docs/design/snapshots.md). It is a
// token: reads name it in `options.snapshot` and level.ts reads through `engine`. It owns
// the engine snapshot's lifetime and never reads or writes anything itself.
//
// Invariants:
//   - `engine` is open until _close, which abstract-level calls once, when no read holds a
//     reference (snapshot.ref()); db.close() closes every snapshot it owns, and the
//     engine's close() closes every engine snapshot in any case;
//   - `level` is the PagekvLevel whose engine made `engine` (a sublevel's snapshot is its
//     root's): a read through it on another database is refused, never served.

import { AbstractSnapshot } from "abstract-level";
import type { Snapshot } from "../db/db.js";

/** What abstract-level hands _snapshot(): `owner` is the database that will close it. */
export interface PrivateSnapshotOptions {
  owner: object;
}

/**
 * abstract-level's declarations give AbstractSnapshot no constructor, but it takes the
 * options _snapshot() was given (and throws a TypeError without an owner).
 */
const Base = AbstractSnapshot as unknown as new (
  options: PrivateSnapshotOptions,
) => AbstractSnapshot;

export class PagekvSnapshot extends Base {
  constructor(
    options: PrivateSnapshotOptions,
    /** The database that made it (the root, for a sublevel's). */
    readonly level: object,
    /** The engine snapshot reads go through. */
    readonly engine: Snapshot,
  ) {
    super(options);
  }

  /** Release the engine snapshot (idempotent there: the database's close may have). */
  async _close(): Promise<void> {
    this.engine.close();
  }
}
