// How the commands open a database: the key/value API or a read-only pager (stats, dump),
// with --recover passed to the engine. An ERR_CORRUPT about damaged synced log frames
// names the CLI's flag, and a recovery that dropped commits says so on stderr.

import type { Database } from "../db/db.js";
import { isPagekvError, type PagekvError } from "../errors.js";
import { open } from "../index.js";
import { Pager } from "../pager/pager.js";
import { NodeFS } from "../vfs/node/nodefs.js";
import type { RecoverMode } from "../wal/wal.js";
import { CliError, type Io } from "./io.js";

/** Pool frames for the inspection commands' own pager (they pin one page at a time). */
const INSPECT_CACHE_FRAMES = 256;

/** What the engine's message says when `recover: "truncate"` would open the file. */
const ENGINE_RECOVER_HINT = 'recover: "truncate"';

/**
 * "read" opens read-only (no lock against other readers, nothing written, the log
 * recovered in memory only); "write" needs the file; "create" makes it when missing.
 */
export type OpenMode = "read" | "write" | "create";

export function openDb(path: string, mode: OpenMode, recover: RecoverMode, io: Io): Database {
  const db = opening(() =>
    open(path, { create: mode === "create", readOnly: mode === "read", recover }),
  );
  reportDropped(db.droppedTransactions, io);
  return db;
}

/** Run `fn` on the database at `path` and close it, even when `fn` throws. */
export function withDb<T>(
  path: string,
  mode: OpenMode,
  recover: RecoverMode,
  io: Io,
  fn: (db: Database) => T,
): T {
  const db = openDb(path, mode, recover, io);
  try {
    return fn(db);
  } finally {
    db.close();
  }
}

/** Run `fn` on a read-only pager of the database at `path` (for stats and dump). */
export function withPager<T>(path: string, recover: RecoverMode, io: Io, fn: (p: Pager) => T): T {
  const pager = opening(() =>
    Pager.open(new NodeFS(), path, { cacheFrames: INSPECT_CACHE_FRAMES, readOnly: true, recover }),
  );
  try {
    reportDropped(pager.droppedTransactions, io);
    return fn(pager);
  } finally {
    pager.close();
  }
}

/** `fn`, with the engine's advice about recover: "truncate" spelled as the CLI's flag. */
function opening<T>(fn: () => T): T {
  try {
    return fn();
  } catch (e) {
    if (isPagekvError(e, "ERR_CORRUPT") && e.message.includes(ENGINE_RECOVER_HINT)) {
      throw new CliError(
        "ERR_CORRUPT",
        `${messageOf(e)}; to do so, run the command again with --recover truncate`,
      );
    }
    throw e;
  }
}

function reportDropped(dropped: number, io: Io): void {
  if (dropped > 0) {
    io.err(`pagekv: recovered: dropped ${dropped} transaction(s) after damaged log frames\n`);
  }
}

/** An engine error's message without the code it starts with. */
export function messageOf(e: PagekvError): string {
  return e.message.startsWith(`${e.code}: `) ? e.message.slice(e.code.length + 2) : e.message;
}
