// How engine errors surface through the abstract-level adapter: the PagekvError codes that
// abstract-level has a name for become a PagekvLevelError with that LEVEL_* code and the
// original error as `cause`; every other error passes through unchanged (a PagekvError
// keeps its ERR_* code). It never decides what is an error, only how one is named.
// ERR_LIMIT (too many open snapshots) is one of those others: abstract-level has no code
// for a bound, and none of its codes says "close something and retry".

import { type ErrorCode, PagekvError } from "../errors.js";

/** The abstract-level error codes the adapter produces from engine errors. */
export type LevelErrorCode =
  | "LEVEL_CORRUPTION"
  | "LEVEL_DATABASE_NOT_OPEN"
  | "LEVEL_INVALID_KEY"
  | "LEVEL_INVALID_VALUE"
  | "LEVEL_IO_ERROR"
  | "LEVEL_LOCKED"
  | "LEVEL_READONLY"
  | "LEVEL_SNAPSHOT_NOT_OPEN";

/** Engine code -> abstract-level code, for the codes abstract-level names. */
const LEVEL_CODES: Partial<Record<ErrorCode, LevelErrorCode>> = {
  ERR_CLOSED: "LEVEL_DATABASE_NOT_OPEN",
  ERR_CORRUPT: "LEVEL_CORRUPTION",
  ERR_FENCED: "LEVEL_IO_ERROR",
  ERR_IO: "LEVEL_IO_ERROR",
  ERR_KEY_TOO_LARGE: "LEVEL_INVALID_KEY",
  ERR_LOCKED: "LEVEL_LOCKED",
  ERR_READ_ONLY: "LEVEL_READONLY",
  ERR_VALUE_TOO_LARGE: "LEVEL_INVALID_VALUE",
};

/**
 * An engine error renamed for abstract-level: `code` is the LEVEL_* code, `pagekvCode` and
 * `cause` keep the engine's code and error.
 */
export class PagekvLevelError extends Error {
  readonly code: LevelErrorCode;
  readonly pagekvCode: ErrorCode;

  constructor(code: LevelErrorCode, cause: PagekvError) {
    super(cause.message, { cause });
    this.name = "PagekvLevelError";
    this.code = code;
    this.pagekvCode = cause.code;
  }
}

/** `e` as the adapter throws it: renamed when abstract-level has a code for it. */
export function toLevelError(e: unknown): unknown {
  if (!(e instanceof PagekvError)) return e;
  const code = LEVEL_CODES[e.code];
  return code === undefined ? e : new PagekvLevelError(code, e);
}

/**
 * `e` as the adapter throws it from a read through an explicit snapshot: the engine's
 * ERR_CLOSED there means the snapshot is closed (by its close() or the database's), which
 * abstract-level names LEVEL_SNAPSHOT_NOT_OPEN; anything else as toLevelError.
 */
export function toSnapshotError(e: unknown): unknown {
  if (e instanceof PagekvError && e.code === "ERR_CLOSED") {
    return new PagekvLevelError("LEVEL_SNAPSHOT_NOT_OPEN", e);
  }
  return toLevelError(e);
}
