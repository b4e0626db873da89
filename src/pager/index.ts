export type { RecoverMode } from "../wal/wal.js";
export type { Frame, Intent, PagerOptions, PagerStats, SyncMode } from "./pager.js";
export {
  ARENA_BYTES_MAX,
  CACHE_FRAMES_DEFAULT,
  CACHE_FRAMES_MAX,
  CACHE_FRAMES_MIN,
  Pager,
  WRITE_RUN_PAGES_MAX,
} from "./pager.js";
