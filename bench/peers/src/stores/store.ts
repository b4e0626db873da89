// The one small interface every store is driven through. Reads are synchronous in every
// store measured (each has a synchronous point read); writes and scans return a promise
// only where the store's API is asynchronous, and the workloads await only then.

export type Maybe<T> = T | Promise<T>;

/** How a store is (re)opened for a phase of the benchmark. */
export interface StoreMode {
  /** true: every commit is durable when it returns (fsync'd); false: the relaxed setting,
   * in which commits are not synced one by one. */
  readonly durable: boolean;
  /** The store's own cache budget in bytes (lmdb has none: it reads through mmap). */
  readonly cacheBytes: number;
}

export interface Store {
  readonly name: string;
  /** The package name and its version, for the environment section. */
  readonly version: string;
  /** The calls each operation uses, for the report. */
  readonly api: string;
  /** The durability setting a mode opens with, in the store's own terms. */
  setting(mode: StoreMode): string;
  /** The cache setting a mode opens with, in the store's own terms. */
  cacheSetting(mode: StoreMode): string;
  open(dir: string, mode: StoreMode): Maybe<void>;
  /** A copy of the value, or undefined. */
  get(key: Buffer): Uint8Array | undefined;
  /** One single-key write transaction. */
  put(key: Buffer, value: Buffer): Maybe<void>;
  /** One write transaction of all the entries. */
  batch(entries: readonly (readonly [Buffer, Buffer])[]): Maybe<void>;
  /** Up to `limit` entries from the first key >= `start`, in key order; the sum of their
   * values' first bytes (so the entries are really read). */
  scan(start: Buffer, limit: number): Maybe<number>;
  close(): Maybe<void>;
}
