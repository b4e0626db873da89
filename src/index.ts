// The package entry for Node: the platform-neutral engine plus the Node file system, and
// open(), which defaults to it. A browser entry will export the same engine with its own
// VFS.

import { type Database, type DbOpenOptions, openDatabase } from "./db/db.js";
import { NodeFS } from "./vfs/node/nodefs.js";
import type { VFS } from "./vfs/vfs.js";

export { BTREE_CACHE_FRAMES_MIN, VALUE_BYTES_MAX } from "./btree/btree.js";
export {
  type BatchOp,
  type Bytes,
  CACHE_BYTES_DEFAULT,
  Database,
  type DbOpenOptions,
  type DbStats,
  KV_APPLICATION_ID,
  type RangeOptions,
  Transaction,
} from "./db/db.js";
export { type ErrorCode, isPagekvError, PagekvError } from "./errors.js";
export * from "./format/index.js";
export * from "./pager/index.js";
export * from "./vfs/index.js";
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
