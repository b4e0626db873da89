// lmdb (lmdb-js) with binary keys and values: reads are synchronous (getBinary, getRange);
// writes use its synchronous calls (putSync, transactionSync) so that an operation is
// done when it returns, as in the other stores. Durable mode opens with overlappingSync:
// false, so every commit fsyncs before it returns. lmdb has no setting between that and
// no fsync at all: its default, overlappingSync, still costs about one fsync per putSync
// (the next commit waits for the previous flush; measured ~0.7 ms here, slower than
// overlappingSync: false), so relaxed mode is noSync: true, which favours lmdb: a power
// failure may lose recent commits and, unlike the others' relaxed settings, may also
// corrupt the file.

import { open, type RootDatabase } from "lmdb";
import { packageVersion } from "../env.js";
import type { Store, StoreMode } from "./store.js";

/** lmdb-js's TransactionFlags.SYNCHRONOUS_COMMIT: committed (and synced, unless noSync)
 * when transactionSync returns; not abortable. */
const TXN_SYNCHRONOUS_COMMIT = 0x2;

export class LmdbStore implements Store {
  readonly name = "lmdb";
  readonly version = `lmdb ${packageVersion("node_modules/lmdb/package.json")}`;
  readonly api =
    "getBinary, putSync, transactionSync (batches), getRange({ start, limit }); all synchronous";
  private db: RootDatabase<Buffer, Buffer> | undefined;

  setting(mode: StoreMode): string {
    return mode.durable
      ? "overlappingSync: false (each commit fsyncs before it returns)"
      : "noSync: true (no fsync; its default overlappingSync costs ~1 fsync per putSync)";
  }

  cacheSetting(_mode: StoreMode): string {
    return "no cache of its own: reads go through mmap and the OS page cache (cannot be limited)";
  }

  open(dir: string, mode: StoreMode): void {
    this.db = open<Buffer, Buffer>(dir, {
      keyEncoding: "binary",
      encoding: "binary",
      overlappingSync: false,
      noSync: !mode.durable,
    });
  }

  private handle(): RootDatabase<Buffer, Buffer> {
    if (this.db === undefined) throw new Error("lmdb: not open");
    return this.db;
  }

  get(key: Buffer): Uint8Array | undefined {
    return this.handle().getBinary(key);
  }

  put(key: Buffer, value: Buffer): void {
    this.handle().putSync(key, value);
  }

  batch(entries: readonly (readonly [Buffer, Buffer])[]): void {
    const db = this.handle();
    db.transactionSync(() => {
      for (const [key, value] of entries) db.putSync(key, value);
    }, TXN_SYNCHRONOUS_COMMIT);
  }

  scan(start: Buffer, limit: number): number {
    let s = 0;
    for (const { value } of this.handle().getRange({ start, limit })) s += value[0];
    return s;
  }

  close(): Promise<void> {
    const db = this.handle();
    this.db = undefined;
    return db.close();
  }
}
