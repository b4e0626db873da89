// The "pagekv/level" entry: the abstract-level adapter, kept out of the core entry so that
// "pagekv" itself has no runtime dependency (abstract-level is an optional peer of this
// entry only). It re-exports; it must never add behaviour of its own.

export { type LevelErrorCode, PagekvLevelError } from "./errors.js";
export { CLEAR_BATCH_KEYS, PagekvLevel, type PagekvLevelOptions } from "./level.js";
