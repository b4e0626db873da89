export type { RecoverMode } from "../wal/wal.js";
export type { Frame, Intent, PagerOptions, PagerStats, PageSource, SyncMode } from "./pager.js";
export {
  ARENA_BYTES_MAX,
  CACHE_FRAMES_DEFAULT,
  CACHE_FRAMES_MAX,
  CACHE_FRAMES_MIN,
  Pager,
  PagerSnapshot,
  SNAPSHOTS_MAX,
  WRITE_RUN_PAGES_MAX,
} from "./pager.js";
