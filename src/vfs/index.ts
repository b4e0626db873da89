// The vfs layer's platform-neutral surface: the seam's types, MemFS and the PRNG.
// It must never add behaviour of its own, and never re-export node/ (NodeFS imports
// node:fs): the Node entry, src/index.ts, exports NodeFS itself.

export {
  type CrashOptions,
  type FaultCode,
  type FaultOp,
  MEMFS_FAULT_NTH_MAX,
  MEMFS_FAULTS_MAX,
  MEMFS_FILE_BYTES_MAX,
  MEMFS_PATH_CHARS_MAX,
  MEMFS_SECTOR_BYTES,
  MemFS,
  type MemFSOptions,
} from "./memfs.js";
export { mixSeed, PRNG_INT_RANGE_MAX, Prng } from "./prng.js";
export type { Crc32, FileSyncMode, OpenOptions, VFile, VFS, VLock } from "./vfs.js";
