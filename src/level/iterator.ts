// The adapter's iterators: abstract-level's entry, key and value iterators over one engine
// Snapshot's range iterator (a Cursor), restarted at a new bound by seek(). The snapshot is
// the iterator's own (implicit: taken when the iterator was created, closed with it) or
// the caller's (explicit: `options.snapshot`, closed by its owner): either way an entry
// written or deleted after that instant is never seen, and seek() reads the same snapshot.
// They never write.
//
// Invariants:
//   - the cursor's bounds always lie within the range the iterator was created with: a
//     seek() only tightens the lower bound (forward) or the upper bound (reverse);
//   - a cursor reads one engine snapshot, the same across seeks, and closes it exactly
//     when it owns it (implicit); an implicit snapshot counts toward the engine's
//     SNAPSHOTS_MAX until its iterator is closed (by its caller or by db.close());
//   - `limit` is counted by abstract-level (across seeks), never by the engine, so no
//     method here returns more than `this.limit - this.count` items;
//   - an engine error leaves here renamed by toLevelError (toSnapshotError when the
//     snapshot is the caller's), like every other adapter error.

import {
  AbstractIterator,
  AbstractKeyIterator,
  type AbstractSnapshot,
  AbstractValueIterator,
} from "abstract-level";
import type { RangeOptions, Snapshot } from "../db/db.js";
import { toLevelError, toSnapshotError } from "./errors.js";

/** The range options abstract-level hands the private API, keys already encoded as views. */
export interface PrivateRangeOptions {
  gt?: ArrayBufferView;
  gte?: ArrayBufferView;
  lt?: ArrayBufferView;
  lte?: ArrayBufferView;
  reverse: boolean;
  /** -1 for no limit. */
  limit: number;
  keyEncoding: string;
  /** An explicit snapshot to read from (level.ts resolves it to an engine Snapshot). */
  snapshot?: AbstractSnapshot;
}

/** What db._iterator() gets. */
export interface PrivateIteratorOptions extends PrivateRangeOptions {
  keys: boolean;
  values: boolean;
  valueEncoding: string;
}

/** What db._values() gets. */
export interface PrivateValueIteratorOptions extends PrivateRangeOptions {
  valueEncoding: string;
}

type Entry = [Uint8Array, Uint8Array];

/** A view as a Uint8Array over the same bytes (abstract-level's 'view' may be any view). */
export function toBytes(view: ArrayBufferView): Uint8Array {
  return view instanceof Uint8Array
    ? view
    : new Uint8Array(view.buffer, view.byteOffset, view.byteLength);
}

/** An engine range with byte bounds (what the adapter builds; a subset of RangeOptions). */
export interface ByteRange extends RangeOptions {
  gt?: Uint8Array;
  gte?: Uint8Array;
  lt?: Uint8Array;
  lte?: Uint8Array;
}

/**
 * The engine range for abstract-level's range options (limit left to the caller). In
 * abstract-level `gte` overrides `gt` and `lte` overrides `lt` (sublevels rely on it: they
 * prefix only the option that wins), whereas the engine would intersect them: so at most
 * one bound per side reaches the engine.
 */
export function engineRange(options: PrivateRangeOptions): ByteRange {
  const range: ByteRange = { reverse: options.reverse };
  if (options.gte !== undefined) range.gte = toBytes(options.gte);
  else if (options.gt !== undefined) range.gt = toBytes(options.gt);
  if (options.lte !== undefined) range.lte = toBytes(options.lte);
  else if (options.lt !== undefined) range.lt = toBytes(options.lt);
  return range;
}

/** Unsigned byte order, the engine's key order. */
function compareBytes(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    if (a[i] !== b[i]) return (a[i] ?? 0) - (b[i] ?? 0);
  }
  return a.length - b.length;
}

/**
 * One engine snapshot's range iterator over a fixed range, which seek() restarts inside
 * that range, on the same snapshot. The engine iterator is made at the first step, not at
 * construction: abstract-level checks an explicit snapshot at each read, and an iterator
 * made over a closed one must fail there (LEVEL_SNAPSHOT_NOT_OPEN), not when created.
 */
export class Cursor {
  private entries: Iterator<Entry> | null = null;
  /** Where the next engine iterator starts: `range`, tightened by the last seek(). */
  private current: ByteRange;

  /**
   * `owned`: the snapshot is this cursor's (implicit) and close() closes it; otherwise it
   * is the caller's, and its ERR_CLOSED is LEVEL_SNAPSHOT_NOT_OPEN.
   */
  constructor(
    private readonly snapshot: Snapshot,
    private readonly range: ByteRange,
    private readonly owned: boolean,
  ) {
    this.current = range;
  }

  /** The next entry, or undefined at the end of the range. */
  next(): Entry | undefined {
    try {
      if (this.entries === null) this.entries = this.snapshot.range(this.current);
      const r = this.entries.next();
      return r.done === true ? undefined : r.value;
    } catch (e) {
      throw this.owned ? toLevelError(e) : toSnapshotError(e);
    }
  }

  /**
   * Continue from the first key at or after `target` (at or before it when reverse), never
   * leaving the original range: the engine intersects the bounds given to it.
   */
  seek(target: Uint8Array): void {
    const r = this.range;
    const next: ByteRange = { ...r };
    if (r.reverse === true) {
      next.lte = r.lte === undefined || compareBytes(target, r.lte) < 0 ? target : r.lte;
    } else {
      next.gte = r.gte === undefined || compareBytes(target, r.gte) > 0 ? target : r.gte;
    }
    this.drop();
    this.current = next;
  }

  /** Let the engine iterator go, and the snapshot when it is this cursor's. */
  close(): void {
    this.drop();
    if (this.owned) this.snapshot.close();
  }

  /** Up to `n` items made by `map`, fewer only at the end of the range. */
  take<T>(n: number, map: (e: Entry) => T): T[] {
    const out: T[] = [];
    while (out.length < n) {
      const e = this.next();
      if (e === undefined) break;
      out.push(map(e));
    }
    return out;
  }

  private drop(): void {
    const entries = this.entries;
    this.entries = null;
    entries?.return?.();
  }
}

/** Entries remaining under the limit (abstract-level's limit is Infinity when unset). */
function remaining(limit: number, count: number): number {
  return limit === Number.POSITIVE_INFINITY ? Number.POSITIVE_INFINITY : limit - count;
}

// The iterators' key type parameter is ArrayBufferView because that is what abstract-level
// hands them (range options, seek targets); what they yield is always a Uint8Array. The
// database type is a parameter so that any PagekvLevel<K, V> can make them.

/** abstract-level's entry iterator; `keys: false` / `values: false` yield undefined there. */
export class PagekvIterator<TDatabase> extends AbstractIterator<
  TDatabase,
  ArrayBufferView | undefined,
  ArrayBufferView | undefined
> {
  private readonly cursor: Cursor;
  private readonly map: (e: Entry) => [Uint8Array | undefined, Uint8Array | undefined];

  constructor(db: TDatabase, options: PrivateIteratorOptions, cursor: Cursor) {
    super(db, options);
    this.cursor = cursor;
    const { keys, values } = options;
    this.map =
      keys && values ? (e) => e : (e) => [keys ? e[0] : undefined, values ? e[1] : undefined];
  }

  async _next(): Promise<[Uint8Array | undefined, Uint8Array | undefined] | undefined> {
    const e = this.cursor.next();
    return e === undefined ? undefined : this.map(e);
  }

  async _nextv(size: number): Promise<[Uint8Array | undefined, Uint8Array | undefined][]> {
    return this.cursor.take(size, this.map);
  }

  async _all(): Promise<[Uint8Array | undefined, Uint8Array | undefined][]> {
    return this.cursor.take(remaining(this.limit, this.count), this.map);
  }

  _seek(target: ArrayBufferView): void {
    this.cursor.seek(toBytes(target));
  }

  async _close(): Promise<void> {
    this.cursor.close();
  }
}

const entryKey = (e: Entry) => e[0];
const entryValue = (e: Entry) => e[1];

/** abstract-level's key iterator. */
export class PagekvKeyIterator<TDatabase> extends AbstractKeyIterator<TDatabase, ArrayBufferView> {
  private readonly cursor: Cursor;

  constructor(db: TDatabase, options: PrivateRangeOptions, cursor: Cursor) {
    super(db, options);
    this.cursor = cursor;
  }

  async _next(): Promise<Uint8Array | undefined> {
    return this.cursor.next()?.[0];
  }

  async _nextv(size: number): Promise<Uint8Array[]> {
    return this.cursor.take(size, entryKey);
  }

  async _all(): Promise<Uint8Array[]> {
    return this.cursor.take(remaining(this.limit, this.count), entryKey);
  }

  _seek(target: ArrayBufferView): void {
    this.cursor.seek(toBytes(target));
  }

  async _close(): Promise<void> {
    this.cursor.close();
  }
}

/** abstract-level's value iterator. */
export class PagekvValueIterator<TDatabase> extends AbstractValueIterator<
  TDatabase,
  ArrayBufferView,
  ArrayBufferView
> {
  private readonly cursor: Cursor;

  constructor(db: TDatabase, options: PrivateValueIteratorOptions, cursor: Cursor) {
    super(db, options);
    this.cursor = cursor;
  }

  async _next(): Promise<Uint8Array | undefined> {
    return this.cursor.next()?.[1];
  }

  async _nextv(size: number): Promise<Uint8Array[]> {
    return this.cursor.take(size, entryValue);
  }

  async _all(): Promise<Uint8Array[]> {
    return this.cursor.take(remaining(this.limit, this.count), entryValue);
  }

  _seek(target: ArrayBufferView): void {
    this.cursor.seek(toBytes(target));
  }

  async _close(): Promise<void> {
    this.cursor.close();
  }
}
