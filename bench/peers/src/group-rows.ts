// The rows of the group-commit benchmark: one store and one way of awaiting a durable
// single-key write each. Every row opens a fresh database in the directory it is given
// and says, in its own terms, when the writer's await returns.

import { ClassicLevel } from "classic-level";
import { open as openLmdb } from "lmdb";
import { type Database, open as openPagekv } from "../../../dist/index.js";
import type { WriteFn } from "./group-cell.js";

/** pagekv's and classic-level's cache (lmdb reads through mmap): more than a cell writes. */
export const GROUP_CACHE_BYTES = 64 * 2 ** 20;
const PAGE_BYTES = 4096;

export interface Opened {
  readonly write: WriteFn;
  /** Groups committed since open (pagekv's stats().groupCommits), read after the cell;
   * undefined for the rows that have no such count. */
  groups(): number | undefined;
  close(): Promise<void>;
}

export interface Row {
  readonly id: RowId;
  /** The store. */
  readonly store: string;
  /** What each writer runs and awaits, as code. */
  readonly call: string;
  /** When the await returns. */
  readonly resolves: string;
  open(dir: string): Promise<Opened>;
}

export type RowId =
  | "pagekv-async"
  | "pagekv-sync"
  | "pagekv-sync-turn"
  | "lmdb-promise"
  | "lmdb-flushed"
  | "level-sync";

function openPagekvFull(dir: string): Database {
  return openPagekv(`${dir}/db.pkv`, {
    pageSize: PAGE_BYTES,
    cacheBytes: GROUP_CACHE_BYTES,
    sync: "full",
  });
}

const pagekvAsync: Row = {
  id: "pagekv-async",
  store: "pagekv",
  call: "await db.putAsync(k, v)",
  resolves: 'durable: its group\'s fdatasync returned (sync: "full")',
  async open(dir) {
    const db = openPagekvFull(dir);
    const groups0 = db.stats().groupCommits;
    return {
      write: (k, v) => db.putAsync(k, v),
      groups: () => db.stats().groupCommits - groups0,
      close: () => db.closeAsync(),
    };
  },
};

/** pagekv's synchronous put: each commit fdatasyncs on the calling thread, one at a time. */
function pagekvSync(id: "pagekv-sync" | "pagekv-sync-turn", turn: boolean): Row {
  return {
    id,
    store: "pagekv",
    call: turn ? "db.put(k, v); await setImmediate()" : "db.put(k, v); await null",
    resolves: turn
      ? "durable when put returns; then the writer waits one turn of the event loop"
      : "durable when put returns; then a microtask (no turn of the event loop)",
    async open(dir) {
      const db = openPagekvFull(dir);
      const yieldTurn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));
      return {
        write: turn
          ? (k, v) => {
              db.put(k, v);
              return yieldTurn();
            }
          : (k, v) => {
              db.put(k, v);
              return null;
            },
        groups: () => undefined,
        close: async () => {
          db.close();
        },
      };
    },
  };
}

/** lmdb-js with its defaults for durability (overlappingSync on Linux), binary keys/values. */
function lmdbRow(id: "lmdb-promise" | "lmdb-flushed"): Row {
  const flushed = id === "lmdb-flushed";
  return {
    id,
    store: "lmdb",
    call: flushed ? "await db.put(k, v); await db.flushed" : "await db.put(k, v)",
    resolves: flushed
      ? "durable: the commit is flushed to disk (db.flushed)"
      : "committed and visible, not yet flushed (overlappingSync: the sync follows)",
    async open(dir) {
      const db = openLmdb<Buffer, Buffer>(dir, { keyEncoding: "binary", encoding: "binary" });
      return {
        write: flushed
          ? async (k, v) => {
              await db.put(k, v);
              await db.flushed;
            }
          : (k, v) => db.put(k, v),
        groups: () => undefined,
        close: () => db.close(),
      };
    },
  };
}

const SYNC_TRUE = { sync: true } as const;

const levelSync: Row = {
  id: "level-sync",
  store: "classic-level",
  call: "await db.put(k, v, { sync: true })",
  resolves: "durable: LevelDB's log write was fsynced (its writers queue and share a sync)",
  async open(dir) {
    const db = new ClassicLevel<Buffer, Buffer>(dir, {
      keyEncoding: "buffer",
      valueEncoding: "buffer",
      cacheSize: GROUP_CACHE_BYTES,
    });
    await db.open();
    return {
      write: (k, v) => db.put(k, v, SYNC_TRUE),
      groups: () => undefined,
      close: () => db.close(),
    };
  },
};

/** Every row, in the order each K runs them. */
export const ROWS: readonly Row[] = [
  pagekvAsync,
  pagekvSync("pagekv-sync", false),
  pagekvSync("pagekv-sync-turn", true),
  lmdbRow("lmdb-promise"),
  lmdbRow("lmdb-flushed"),
  levelSync,
];
