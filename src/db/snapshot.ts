// A read snapshot of a Database: get, has and range as of one commit, whatever is written
// afterwards, until close(). It wraps the pager's snapshot (src/pager/snapshots.ts; the
// protocol is docs/design/snapshots.md) and reads the shared tree through it. Also the
// iterator db.range() returns, which owns a snapshot of its own and closes it when it ends.
//
// Invariants:
//   - every read checks the pager snapshot first: one closed by its own close() or by the
//     database's is ERR_CLOSED, before any page is touched;
//   - an OwnedRange closes its snapshot exactly once: when it is exhausted, when a step
//     throws, at return() (a for..of that breaks), or when it is garbage collected
//     unfinished (the FinalizationRegistry, which it joins at the microtask after it was
//     made if still open); the registry holds the snapshot, never the iterator, so
//     registering does not keep the iterator alive.

import type { BTree } from "../btree/btree.js";
import { PagekvError } from "../errors.js";
import type { PagerSnapshot } from "../pager/pager.js";
import { type Bytes, bytes, type RangeOptions, rangeOf } from "./range.js";

export class Snapshot {
  readonly path: string;
  private readonly tree: BTree;
  private readonly snap: PagerSnapshot;

  /** @internal Made by Database.snapshot(). */
  constructor(path: string, tree: BTree, snap: PagerSnapshot) {
    this.path = path;
    this.tree = tree;
    this.snap = snap;
  }

  /** True once closed, by close() or by the database's. */
  get closed(): boolean {
    return this.snap.closed;
  }

  get(key: Bytes): Uint8Array | undefined {
    this.check();
    return this.tree.get(bytes(key, "key", this.path), this.snap);
  }

  has(key: Bytes): boolean {
    this.check();
    return this.tree.has(bytes(key, "key", this.path), this.snap);
  }

  /** Entries as of the snapshot; the iterator is usable while the snapshot is open. */
  range(options: RangeOptions = {}): IterableIterator<[Uint8Array, Uint8Array]> {
    return rangeOf(this.tree, options, this.path, () => this.check(), this.snap);
  }

  /** Release the snapshot: the log and the pool need no longer keep its state. Idempotent. */
  close(): void {
    this.snap.close();
  }

  [Symbol.dispose](): void {
    this.close();
  }

  private check(): void {
    if (this.snap.closed) {
      throw new PagekvError(
        "ERR_CLOSED",
        `${this.path}: the snapshot is closed (by its close() or the database's)`,
        { path: this.path },
      );
    }
  }
}

/** Closes the snapshot of an iterator collected before it finished. */
const abandoned = new FinalizationRegistry<PagerSnapshot>((snap) => snap.close());

/**
 * Iterators made since the last registration. Registering one with the FinalizationRegistry
 * costs about as much as a short range, and most ranges finish in the call that made them
 * (a for..of), so they are registered at the next microtask, and only if still open then;
 * or at once when this many have piled up in one synchronous run (a bound on the list).
 */
const unregistered: OwnedRange[] = [];
const UNREGISTERED_MAX = 256;

function registerOpen(): void {
  for (const r of unregistered) r.register();
  unregistered.length = 0;
}

/** db.range()'s iterator: `inner` over its own snapshot `snap`, closed when it ends. */
export class OwnedRange implements IterableIterator<[Uint8Array, Uint8Array]> {
  private readonly inner: IterableIterator<[Uint8Array, Uint8Array]>;
  private snap: PagerSnapshot | null;
  private registered = false;

  constructor(inner: IterableIterator<[Uint8Array, Uint8Array]>, snap: PagerSnapshot) {
    this.inner = inner;
    this.snap = snap;
    if (unregistered.length === 0) queueMicrotask(registerOpen);
    else if (unregistered.length >= UNREGISTERED_MAX) registerOpen();
    unregistered.push(this);
  }

  /** @internal Watch for its collection, unless it has finished already. */
  register(): void {
    if (this.snap !== null) {
      this.registered = true;
      abandoned.register(this, this.snap, this);
    }
  }

  next(): IteratorResult<[Uint8Array, Uint8Array]> {
    if (this.snap === null) return { done: true, value: undefined };
    let r: IteratorResult<[Uint8Array, Uint8Array]>;
    try {
      r = this.inner.next();
    } catch (e) {
      this.finish();
      throw e;
    }
    if (r.done === true) this.finish();
    return r;
  }

  return(): IteratorResult<[Uint8Array, Uint8Array]> {
    if (this.snap !== null) {
      try {
        this.inner.return?.();
      } finally {
        this.finish();
      }
    }
    return { done: true, value: undefined };
  }

  [Symbol.iterator](): this {
    return this;
  }

  private finish(): void {
    const snap = this.snap;
    if (snap === null) return;
    this.snap = null;
    if (this.registered) abandoned.unregister(this);
    snap.close();
  }
}
