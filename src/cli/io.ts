// The CLI's seam to the terminal: where output and errors go and whether stderr is a
// terminal (for progress bars). Commands write only through it, so tests run them
// in-process with captured output; only main.ts binds it to the process.

export interface Io {
  /**
   * Standard output: results (one call may hold several lines; no newline is added).
   * Throws OutputClosed when the reader has gone (a closed pipe): the command stops there.
   */
  out(s: string): void;
  /** Standard error: diagnostics and progress. Never throws. */
  err(s: string): void;
  /** Whether stderr is a terminal: progress bars are drawn only then. */
  isTTY: boolean;
  /** Print the stack of an internal error (ERR_INTERNAL) too: PAGEKV_DEBUG=1. */
  debug?: boolean;
}

/** Exit codes: the contract scripts rely on. */
export const EXIT_OK = 0;
/** A missing key (get, del), a failed check, or a runtime error (ERR_CORRUPT, ...). */
export const EXIT_FAILURE = 1;
/** Bad usage: unknown command, missing arguments, a bad flag. */
export const EXIT_USAGE = 2;

/**
 * An error the CLI itself raises, with a stable code like PagekvError's and its exit code.
 * `ERR_USAGE` exits 2; the others exit 1. Codes are ErrorCode's (src/errors.ts).
 */
export class CliError extends Error {
  readonly code: string;
  readonly exitCode: number;

  constructor(code: string, message: string, exitCode = EXIT_FAILURE) {
    super(message);
    this.name = "CliError";
    this.code = code;
    this.exitCode = exitCode;
  }
}

/**
 * Thrown by Io.out when standard output was closed by its reader (`pagekv scan db | head
 * -1`): not a failure. The command unwinds (closing what it opened) and exits 0, silently.
 */
export class OutputClosed extends Error {
  constructor() {
    super("standard output was closed by its reader");
    this.name = "OutputClosed";
  }
}

export function usageError(message: string): CliError {
  return new CliError("ERR_USAGE", message, EXIT_USAGE);
}

/** A Node system error (fs, writes): it has an errno code such as ENOENT and a syscall. */
export function isSystemError(e: unknown): e is NodeJS.ErrnoException {
  if (!(e instanceof Error)) return false;
  const { code, syscall } = e as NodeJS.ErrnoException;
  return typeof code === "string" && /^E[A-Z0-9]+$/.test(code) && typeof syscall === "string";
}

/**
 * A Node system error about `what` (a file name, "stdin", "stdout"; when not known, Node's
 * message, which names the path if it had one) as a CliError: ERR_NOT_FOUND for a missing
 * file, ERR_IO for every other failure. Anything else is returned unchanged.
 */
export function fromSystemError(e: unknown, what?: string): unknown {
  if (!isSystemError(e)) return e;
  const code = e.code === "ENOENT" ? "ERR_NOT_FOUND" : "ERR_IO";
  if (what === undefined) return new CliError(code, e.message);
  return new CliError(
    code,
    e.code === "ENOENT" ? `${what}: no such file` : `${what}: ${e.message}`,
  );
}
