// Argument parsing shared by the commands: node:util's parseArgs in strict mode, with
// every parse failure turned into a usage error (exit 2), and the positional checks.

import { type ParseArgsConfig, parseArgs } from "node:util";
import { usageError } from "./io.js";

type Options = NonNullable<ParseArgsConfig["options"]>;

export interface Parsed {
  values: Record<string, string | boolean | undefined>;
  positionals: string[];
}

/** Parse `args` for `command`; `--help` / `-h` is always accepted. */
export function parse(command: string, args: string[], options: Options): Parsed {
  try {
    const { values, positionals } = parseArgs({
      args,
      options: { ...options, help: { type: "boolean", short: "h" } },
      allowPositionals: true,
      strict: true,
    });
    return { values: values as Parsed["values"], positionals };
  } catch (e) {
    throw usageError(`${command}: ${e instanceof Error ? e.message : String(e)}`);
  }
}

/** Exactly `names.length` positionals, or a usage error naming the missing ones. */
export function positionals(command: string, p: string[], names: string[]): string[] {
  if (p.length < names.length) {
    throw usageError(
      `${command}: missing ${names
        .slice(p.length)
        .map((n) => `<${n}>`)
        .join(" ")}`,
    );
  }
  if (p.length > names.length) {
    throw usageError(`${command}: unexpected argument '${p[names.length]}'`);
  }
  return p;
}

/** A non-negative integer flag value, or a usage error. */
export function count(
  command: string,
  flag: string,
  s: string | boolean | undefined,
): number | undefined {
  if (s === undefined) return undefined;
  const n = typeof s === "string" && /^\d+$/.test(s) ? Number(s) : Number.NaN;
  if (!Number.isSafeInteger(n)) {
    throw usageError(`${command}: --${flag} must be a non-negative integer, got '${String(s)}'`);
  }
  return n;
}

/** A string flag value (parseArgs already checked its type). */
export function str(v: string | boolean | undefined): string | undefined {
  return typeof v === "string" ? v : undefined;
}
