// Range options as the Database, its transactions and its snapshots take them: checked,
// every bound intersected (gt/gte/lt/lte/prefix), and handed to the tree. Also the byte
// conversion every key and value goes through.

import type { BTree, EntriesOptions } from "../btree/btree.js";
import { compareKey } from "../btree/node.js";
import { PagekvError } from "../errors.js";
import { checkOptions, optionalBoolean, optionalInteger } from "../options.js";
import type { PageSource } from "../pager/pager.js";

export type Bytes = Uint8Array | string;

export interface RangeOptions {
  gt?: Bytes;
  gte?: Bytes;
  lt?: Bytes;
  lte?: Bytes;
  prefix?: Bytes;
  reverse?: boolean;
  /** Entries at most, counted after `reverse` (a non-negative integer). */
  limit?: number;
}

const encoder = new TextEncoder();

/** `x` as bytes: a Uint8Array as is, a string as UTF-8; ERR_ARG naming `what` otherwise. */
export function bytes(x: unknown, what: string, path: string): Uint8Array {
  if (x instanceof Uint8Array) return x;
  if (typeof x === "string") return encoder.encode(x);
  throw new PagekvError("ERR_ARG", `${path}: ${what} must be a Uint8Array or a string`, { path });
}

/** The options range() takes (no start/end: those are another API's names). */
export const RANGE_OPTIONS = ["gt", "gte", "lt", "lte", "prefix", "reverse", "limit"] as const;

/**
 * A range iterator over `tree` (read in `source`, a snapshot, when given, else live), with every bound
 * intersected and `limit` applied. The options are checked now; `guard` runs before the
 * first entry and after each one.
 */
export function rangeOf(
  tree: BTree,
  options: RangeOptions,
  path: string,
  guard: () => void,
  source?: PageSource,
  known: readonly string[] = RANGE_OPTIONS,
): IterableIterator<[Uint8Array, Uint8Array]> {
  guard();
  const where = `${path}: range`;
  const o = checkOptions<RangeOptions>(options, known, where, path);
  const limit = optionalInteger(o.limit, "limit", 0, Number.MAX_SAFE_INTEGER, where, path);
  const reverse = optionalBoolean(o.reverse, "reverse", where, path) === true;
  const b = (x: Bytes | undefined, what: string) =>
    x === undefined ? undefined : bytes(x, what, path);
  const prefix = b(o.prefix, "prefix");
  // The tightest bound on each side, among the given ones and the prefix's.
  let lower: [Uint8Array, boolean] | undefined; // [bound, exclusive]
  let upper: [Uint8Array, boolean] | undefined;
  const lowerBy = (k: Uint8Array | undefined, exclusive: boolean) => {
    if (k === undefined) return;
    if (lower === undefined) {
      lower = [k, exclusive];
      return;
    }
    const c = compare(k, lower[0]);
    if (c > 0 || (c === 0 && exclusive)) lower = [k, exclusive];
  };
  const upperBy = (k: Uint8Array | undefined, exclusive: boolean) => {
    if (k === undefined) return;
    if (upper === undefined) {
      upper = [k, exclusive];
      return;
    }
    const c = compare(k, upper[0]);
    if (c < 0 || (c === 0 && exclusive)) upper = [k, exclusive];
  };
  lowerBy(b(o.gte, "gte"), false);
  lowerBy(b(o.gt, "gt"), true);
  upperBy(b(o.lte, "lte"), false);
  upperBy(b(o.lt, "lt"), true);
  if (prefix !== undefined) {
    lowerBy(prefix, false);
    upperBy(prefixEnd(prefix), true);
  }
  const opts: EntriesOptions = { reverse, limit, guard };
  if (source !== undefined) opts.source = source; // a snapshot: a fixed view
  if (lower !== undefined) opts[lower[1] ? "gt" : "gte"] = lower[0];
  if (upper !== undefined) opts[upper[1] ? "lt" : "lte"] = upper[0];
  return tree.entries(opts);
}

/** The least key greater than every key starting with `prefix`, or undefined (none). */
function prefixEnd(prefix: Uint8Array): Uint8Array | undefined {
  let end = prefix.length;
  while (end > 0 && prefix[end - 1] === 0xff) end--;
  if (end === 0) return undefined;
  const out = prefix.slice(0, end);
  out[end - 1]++;
  return out;
}

function compare(a: Uint8Array, b: Uint8Array): number {
  return compareKey(a, a.length, b, 0, b.length);
}
