// The one error type every layer throws for bad input, bad files and failed I/O.
// A stable `code` string (like Node's err.code) is the contract; messages name the file,
// the page and what was expected. A failed assertion is a bug and uses `assert` instead.

/** Every code pagekv throws. Stable across versions: match on these, not on messages. */
export type ErrorCode =
  | "ERR_ARG" // a caller passed a value outside the documented domain
  | "ERR_CLOSED" // use of a pager, file or handle after close()
  | "ERR_CORRUPT" // the file's bytes are not what pagekv wrote (checksum, header, freelist)
  | "ERR_CRASHED" // MemFS: simulated power loss armed by armCrash() has happened
  | "ERR_EXISTS" // create of a file that already holds data
  | "ERR_FENCED" // a sync (or log write) failed earlier: writes refused until reopen
  | "ERR_FULL" // the page-count limit would be passed
  | "ERR_IO" // the file system failed; `cause` holds the original error
  | "ERR_KEY_TOO_LARGE" // a key longer than the tree's documented maximum
  | "ERR_LIMIT" // a documented bound would be passed (open snapshots, ...)
  | "ERR_LINKED" // the database file has more than one hard link (two names, two logs)
  | "ERR_LOCKED" // another writer (this process or a live other one) holds the database
  | "ERR_NOT_DATABASE" // a pagekv file of another kind (its application id), not a key/value database
  | "ERR_NOT_FOUND" // open of a file that does not exist
  | "ERR_PAGE_RANGE" // a page number outside 2..pageCount (page 1 is the pager's own)
  | "ERR_PIN" // the pin contract was broken (double unpin, free of a pinned page, ...)
  | "ERR_POOL_EXHAUSTED" // every frame is pinned: no page can be brought in
  | "ERR_READ_ONLY" // a write on a database opened read-only
  | "ERR_TXN" // transaction misuse: begin inside a transaction, commit without one, ...
  | "ERR_VALUE_TOO_LARGE" // a value longer than the tree's documented maximum
  // The command-line tool's own codes (never thrown by the engine):
  | "ERR_USAGE" // CLI: bad command line (exit status 2)
  | "ERR_KEY_NOT_FOUND" // CLI: get of a key that is not there
  | "ERR_VERIFY" // CLI: check or the demo found problems
  | "ERR_INTERNAL"; // CLI: an error that is not a PagekvError (a bug: please report it)

export interface PagekvErrorDetails {
  /** The underlying error (for ERR_IO, the platform's error with its own `code`). */
  cause?: unknown;
  /** The file the error is about, when there is one. */
  path?: string;
  /** The page the error is about, when there is one. */
  pgno?: number;
}

export class PagekvError extends Error {
  readonly code: ErrorCode;
  readonly path: string | undefined;
  readonly pgno: number | undefined;

  constructor(code: ErrorCode, message: string, details: PagekvErrorDetails = {}) {
    super(
      `${code}: ${message}`,
      details.cause === undefined ? undefined : { cause: details.cause },
    );
    this.name = "PagekvError";
    this.code = code;
    this.path = details.path;
    this.pgno = details.pgno;
  }
}

/** True when `e` is a PagekvError with the given code. */
export function isPagekvError(e: unknown, code?: ErrorCode): e is PagekvError {
  return e instanceof PagekvError && (code === undefined || e.code === code);
}

/**
 * Internal invariant check. A failure here is a bug in pagekv, never a caller's mistake:
 * callers' mistakes get a PagekvError with a code.
 */
export function assert(condition: boolean, message: string): asserts condition {
  if (!condition) assertFailed(message);
}

/** Throw an assertion failure; for hot code that must build a message only on failure. */
export function assertFailed(message: string): never {
  throw new Error(`pagekv internal assertion failed: ${message}`);
}
