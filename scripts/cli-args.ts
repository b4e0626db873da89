// What the crash campaign CLIs (crash.ts, crash-group.ts) share of their argument handling:
// a usage error that exits 2, non-negative integers, and the --crash-seed choice.

/** The helpers of one CLI, whose usage text `usage` is printed with every error. */
export function cliArgs(usage: string) {
  function fail(message: string): never {
    process.stderr.write(`${message}\n${usage}\n`);
    process.exit(2);
  }

  /** `text` as a non-negative integer, `fallback` when absent; a usage error otherwise. */
  function int(name: string, text: string | undefined, fallback: number): number {
    if (text === undefined) return fallback;
    const n = Number(text);
    if (!Number.isSafeInteger(n) || n < 0) fail(`--${name} must be a non-negative integer`);
    return n;
  }

  /** --crash-seed X|none: undefined when absent (every variant), else the one variant. */
  function crashSeed(text: string | undefined): { seed: number | undefined } | undefined {
    if (text === undefined) return undefined;
    return { seed: text === "none" ? undefined : int("crash-seed", text, 0) };
  }

  return { fail, int, crashSeed };
}
