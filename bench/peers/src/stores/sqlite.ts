// SQLite through better-sqlite3 (synchronous API): one WITHOUT ROWID table with a BLOB
// primary key, WAL journal, prepared statements. Relaxed mode is synchronous=NORMAL (the
// WAL is synced at checkpoints, as pagekv's sync "normal"); durable mode synchronous=FULL.

import Database from "better-sqlite3";
import { packageVersion } from "../env.js";
import type { Store, StoreMode } from "./store.js";

interface Statements {
  readonly db: Database.Database;
  readonly get: Database.Statement<[Buffer], Buffer>;
  readonly put: Database.Statement<[Buffer, Buffer]>;
  readonly scan: Database.Statement<[Buffer, number], [Buffer, Buffer]>;
  readonly batch: (entries: readonly (readonly [Buffer, Buffer])[]) => void;
}

export class SqliteStore implements Store {
  readonly name = "better-sqlite3";
  readonly version: string;
  readonly api =
    "prepared SELECT / INSERT .. ON CONFLICT DO UPDATE, db.transaction() for batches, " +
    "SELECT key, value WHERE key >= ? ORDER BY key LIMIT ?; all synchronous";
  private s: Statements | undefined;

  constructor() {
    const pkg = packageVersion("node_modules/better-sqlite3/package.json");
    const mem = new Database(":memory:");
    const sqlite = mem.prepare("SELECT sqlite_version()").pluck().get();
    mem.close();
    this.version = `better-sqlite3 ${pkg} (SQLite ${String(sqlite)})`;
  }

  setting(mode: StoreMode): string {
    return mode.durable
      ? "journal_mode=WAL, synchronous=FULL (each commit fsyncs the WAL)"
      : "journal_mode=WAL, synchronous=NORMAL (WAL synced at checkpoints)";
  }

  cacheSetting(mode: StoreMode): string {
    return `cache_size=-${Math.round(mode.cacheBytes / 1024)} (KiB), page_size 4096`;
  }

  open(dir: string, mode: StoreMode): void {
    const db = new Database(`${dir}/db.sqlite`);
    db.pragma("page_size = 4096");
    db.pragma("journal_mode = WAL");
    db.pragma(`synchronous = ${mode.durable ? "FULL" : "NORMAL"}`);
    db.pragma(`cache_size = -${Math.round(mode.cacheBytes / 1024)}`);
    db.exec(
      "CREATE TABLE IF NOT EXISTS kv (key BLOB PRIMARY KEY, value BLOB NOT NULL) WITHOUT ROWID",
    );
    const put = db.prepare<[Buffer, Buffer]>(
      "INSERT INTO kv (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
    );
    this.s = {
      db,
      get: db.prepare<[Buffer], Buffer>("SELECT value FROM kv WHERE key = ?").pluck(),
      put,
      scan: db
        .prepare<[Buffer, number], [Buffer, Buffer]>(
          "SELECT key, value FROM kv WHERE key >= ? ORDER BY key LIMIT ?",
        )
        .raw(),
      batch: db.transaction((entries: readonly (readonly [Buffer, Buffer])[]) => {
        for (const [key, value] of entries) put.run(key, value);
      }),
    };
  }

  private handle(): Statements {
    if (this.s === undefined) throw new Error("better-sqlite3: not open");
    return this.s;
  }

  get(key: Buffer): Uint8Array | undefined {
    return this.handle().get.get(key);
  }

  put(key: Buffer, value: Buffer): void {
    this.handle().put.run(key, value);
  }

  batch(entries: readonly (readonly [Buffer, Buffer])[]): void {
    this.handle().batch(entries);
  }

  scan(start: Buffer, limit: number): number {
    let sum = 0;
    for (const row of this.handle().scan.all(start, limit)) sum += row[1][0];
    return sum;
  }

  close(): void {
    this.handle().db.close();
    this.s = undefined;
  }
}
