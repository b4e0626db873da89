// Argument parsing shared by the commands: node:util's parseArgs in strict mode over the
// command's row of OPTIONS, with every parse failure turned into a usage error (exit 2),
// and the checks of positionals, counts, byte arguments and --recover.

import { parseArgs } from "node:util";
import type { RecoverMode } from "../wal/wal.js";
import { hex, parsePlain } from "./bytes.js";
import { usageError } from "./io.js";
import { type CommandName, OPTIONS } from "./options.js";

export interface Parsed {
  values: Record<string, string | boolean | undefined>;
  positionals: string[];
}

/** Parse `args` for `command` with its OPTIONS; `--help` / `-h` is always accepted. */
export function parse(command: CommandName, args: string[]): Parsed {
  try {
    const { values, positionals } = parseArgs({
      args,
      options: { ...OPTIONS[command], help: { type: "boolean", short: "h" } },
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

/** The bytes of a key or value argument in the plain form (bytes.ts), or a usage error. */
export function bytesArg(command: string, what: string, s: string): Uint8Array {
  const b = parsePlain(s);
  if (b === undefined) throw usageError(`${command}: ${what} ${notHex(s)}`);
  return b;
}

/** Why `s` (which starts with 0x) is refused, and how to write it as text. */
export function notHex(s: string): string {
  const shown = s.length > 40 ? `${s.slice(0, 40)}...` : s;
  const asText =
    s.length > 40 ? "0x and the hex of its UTF-8" : `0x${hex(new TextEncoder().encode(s))}`;
  return `'${shown}' starts with 0x but is not hex (an even number of hex digits); for the text itself write ${asText}`;
}

/** --recover: "strict" (the default) or "truncate", or a usage error. */
export function recoverMode(command: string, v: string | boolean | undefined): RecoverMode {
  if (v === undefined || v === "strict") return "strict";
  if (v === "truncate") return "truncate";
  throw usageError(`${command}: --recover must be 'truncate' or 'strict', got '${String(v)}'`);
}
