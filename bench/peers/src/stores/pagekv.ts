// pagekv, from the root build (dist/): synchronous get/put/transaction/range, sync "normal"
// (the log is synced at checkpoints) for the relaxed mode and "full" for the durable one.

import { type Database, open } from "../../../../dist/index.js";
import { packageVersion } from "../env.js";
import type { Store, StoreMode } from "./store.js";

export const PAGE_BYTES = 4096;

export class PagekvStore implements Store {
  /** The database file's name in the store's directory. */
  static readonly FILE = "db.pkv";
  readonly name = "pagekv";
  readonly version = `pagekv ${packageVersion("../../package.json")} (this work tree)`;
  readonly api = "get, put, transaction(fn) for batches, range({ gte, limit }); all synchronous";
  private db: Database | undefined;

  setting(mode: StoreMode): string {
    return mode.durable ? 'sync: "full"' : 'sync: "normal"';
  }

  cacheSetting(mode: StoreMode): string {
    return `cacheBytes ${mode.cacheBytes}, pageSize ${PAGE_BYTES}`;
  }

  open(dir: string, mode: StoreMode): void {
    this.db = open(`${dir}/${PagekvStore.FILE}`, {
      pageSize: PAGE_BYTES,
      cacheBytes: mode.cacheBytes,
      sync: mode.durable ? "full" : "normal",
    });
  }

  private handle(): Database {
    if (this.db === undefined) throw new Error("pagekv: not open");
    return this.db;
  }

  get(key: Buffer): Uint8Array | undefined {
    return this.handle().get(key);
  }

  put(key: Buffer, value: Buffer): void {
    this.handle().put(key, value);
  }

  batch(entries: readonly (readonly [Buffer, Buffer])[]): void {
    this.handle().transaction((tx) => {
      for (const [key, value] of entries) tx.put(key, value);
    });
  }

  scan(start: Buffer, limit: number): number {
    let s = 0;
    for (const [, v] of this.handle().range({ gte: start, limit })) s += v[0];
    return s;
  }

  close(): void {
    this.handle().close();
    this.db = undefined;
  }
}
