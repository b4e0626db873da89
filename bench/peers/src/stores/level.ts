// LevelDB through classic-level, with Buffer keys and values and its defaults otherwise
// (Snappy compression on, 4 MiB write buffer). Point reads use its synchronous getSync;
// writes and scans are asynchronous and awaited one at a time, as a user would. Relaxed
// mode writes with sync: false (no fsync); durable mode with sync: true.

import { ClassicLevel } from "classic-level";
import { packageVersion } from "../env.js";
import type { Store, StoreMode } from "./store.js";

export class LevelStore implements Store {
  readonly name = "classic-level";
  readonly version = `classic-level ${packageVersion("node_modules/classic-level/package.json")}`;
  readonly api =
    "getSync; await put, await batch([...]) (batches), await iterator({ gte, limit }).all()";
  private db: ClassicLevel<Buffer, Buffer> | undefined;
  private durable = false;

  setting(mode: StoreMode): string {
    return mode.durable ? "put/batch with { sync: true } (fsync)" : "default { sync: false }";
  }

  cacheSetting(mode: StoreMode): string {
    return `cacheSize ${mode.cacheBytes} (block cache), defaults otherwise`;
  }

  async open(dir: string, mode: StoreMode): Promise<void> {
    this.durable = mode.durable;
    const db = new ClassicLevel<Buffer, Buffer>(dir, {
      keyEncoding: "buffer",
      valueEncoding: "buffer",
      cacheSize: mode.cacheBytes,
    });
    await db.open();
    this.db = db;
  }

  private handle(): ClassicLevel<Buffer, Buffer> {
    if (this.db === undefined) throw new Error("classic-level: not open");
    return this.db;
  }

  get(key: Buffer): Uint8Array | undefined {
    return this.handle().getSync(key);
  }

  put(key: Buffer, value: Buffer): Promise<void> {
    return this.handle().put(key, value, { sync: this.durable });
  }

  batch(entries: readonly (readonly [Buffer, Buffer])[]): Promise<void> {
    return this.handle().batch(
      entries.map(([key, value]) => ({ type: "put" as const, key, value })),
      { sync: this.durable },
    );
  }

  async scan(start: Buffer, limit: number): Promise<number> {
    let s = 0;
    for (const [, value] of await this.handle().iterator({ gte: start, limit }).all()) {
      s += value[0];
    }
    return s;
  }

  close(): Promise<void> {
    const db = this.handle();
    this.db = undefined;
    return db.close();
  }
}
