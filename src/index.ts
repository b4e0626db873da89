// The package entry for Node: the platform-neutral engine (engine.ts) plus the Node file
// system, and open(), which defaults to it. The browser's entry is browser.ts.

import { type Database, type DbOpenOptions, openDatabase } from "./db/db.js";
import { NodeFS } from "./vfs/node/nodefs.js";
import type { VFS } from "./vfs/vfs.js";

export * from "./engine.js";
export { NODEFS_FILE_BYTES_MAX, NodeFS } from "./vfs/node/nodefs.js";

/** Open (by default creating) the database at `path`, on the local file system by default. */
export function open(path: string, options?: Omit<DbOpenOptions, "vfs"> & { vfs?: VFS }): Database {
  const o = options === undefined ? {} : options;
  // Anything but a plain object goes through as it is, for openDatabase to refuse.
  const withVfs =
    typeof o === "object" && o !== null && !Array.isArray(o) && o.vfs === undefined
      ? { ...o, vfs: new NodeFS() }
      : o;
  return openDatabase(path, withVfs as DbOpenOptions);
}
