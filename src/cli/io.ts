// The CLI's seam to the terminal: where output and errors go and whether stderr is a
// terminal (for progress bars). Commands write only through it, so tests run them
// in-process with captured output; only main.ts binds it to the process.

export interface Io {
  /** Standard output: results (one call may hold several lines; no newline is added). */
  out(s: string): void;
  /** Standard error: diagnostics and progress. */
  err(s: string): void;
  /** Whether stderr is a terminal: progress bars are drawn only then. */
  isTTY: boolean;
}

/** Exit codes: the contract scripts rely on. */
export const EXIT_OK = 0;
/** A missing key (get, del), a failed check, or a runtime error (ERR_CORRUPT, ...). */
export const EXIT_FAILURE = 1;
/** Bad usage: unknown command, missing arguments, a bad flag. */
export const EXIT_USAGE = 2;

/**
 * An error the CLI itself raises, with a stable code like PagekvError's and its exit code.
 * `ERR_USAGE` exits 2; the others exit 1.
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

export function usageError(message: string): CliError {
  return new CliError("ERR_USAGE", message, EXIT_USAGE);
}
