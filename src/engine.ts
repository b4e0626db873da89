// The platform-neutral engine every package entry exports (the Node entry index.ts, the
// browser entry browser.ts): the key/value API, the pager, the format, the VFS seam and
// MemFS. Nothing here imports node:* or a platform's VFS; each entry adds its own.

export { BTREE_CACHE_FRAMES_MIN, VALUE_BYTES_MAX } from "./btree/btree.js";
export {
  BACKUP_CHUNK_BYTES,
  BACKUP_CHUNK_PAGES_MAX,
  BACKUP_TEMP_SUFFIX,
  type BackupOptions,
  type BackupProgress,
  type BackupResult,
  type BatchOp,
  type Bytes,
  CACHE_BYTES_DEFAULT,
  COMPACT_MOVES_PER_TXN,
  type CompactOptions,
  type CompactResult,
  Database,
  type DbOpenOptions,
  type DbRangeOptions,
  type DbStats,
  KV_APPLICATION_ID,
  PENDING_BYTES_MAX,
  PENDING_CALLS_MAX,
  type RangeOptions,
  Snapshot,
  Transaction,
} from "./db/db.js";
export { type ErrorCode, isPagekvError, PagekvError } from "./errors.js";
export * from "./format/index.js";
export * from "./pager/index.js";
export * from "./vfs/index.js";
