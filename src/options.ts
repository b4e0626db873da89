// Checking option objects at the public doors (open(), range(), Pager.create/open, the
// level adapter): a typo or a wrong type must be ERR_ARG naming the option, never a
// silent change of durability or access, and never a TypeError from inside the engine.
// Beside errors.ts at the bottom of the layers: every layer's entry points use it.

import { PagekvError } from "./errors.js";

/** Where the error message says the option was given: "app.pkv: open", "range", ... */
export type OptionsSite = string;

function optionError(site: OptionsSite, message: string, path: string | undefined): PagekvError {
  return new PagekvError("ERR_ARG", `${site}: ${message}`, path === undefined ? {} : { path });
}

/**
 * `options` as an object whose every own key is in `known`: undefined is {}; null, an
 * array, a string or any other non-object is ERR_ARG, as is an unknown key (named, with
 * the known name it most likely meant when only its case differs).
 */
export function checkOptions<T extends object>(
  options: unknown,
  known: readonly string[],
  site: OptionsSite,
  path?: string,
): Partial<T> {
  if (options === undefined) return {};
  if (typeof options !== "object" || options === null || Array.isArray(options)) {
    const got = options === null ? "null" : Array.isArray(options) ? "an array" : typeof options;
    throw optionError(site, `options must be an object, got ${got}`, path);
  }
  for (const key of Object.keys(options)) {
    if (known.includes(key)) continue;
    const meant = known.find((k) => k.toLowerCase() === key.toLowerCase());
    const hint = meant === undefined ? `known: ${known.join(", ")}` : `did you mean "${meant}"?`;
    throw optionError(site, `unknown option "${key}" (${hint})`, path);
  }
  return options as Partial<T>;
}

/** A boolean option: undefined, true or false; anything else ("yes", 1) is ERR_ARG. */
export function optionalBoolean(
  value: unknown,
  name: string,
  site: OptionsSite,
  path?: string,
): boolean | undefined {
  if (value === undefined || typeof value === "boolean") return value;
  throw optionError(site, `option "${name}" must be true or false, got ${describe(value)}`, path);
}

/** An integer option in min..max (a number, not a numeric string), or undefined. */
export function optionalInteger(
  value: unknown,
  name: string,
  min: number,
  max: number,
  site: OptionsSite,
  path?: string,
): number | undefined {
  if (value === undefined) return undefined;
  if (typeof value === "number" && Number.isInteger(value) && value >= min && value <= max) {
    return value;
  }
  throw optionError(
    site,
    `option "${name}" must be an integer in ${min}..${max}, got ${describe(value)}`,
    path,
  );
}

/** One of `choices` (compared with ===), or undefined. */
export function optionalChoice<C extends string>(
  value: unknown,
  name: string,
  choices: readonly C[],
  site: OptionsSite,
  path?: string,
): C | undefined {
  if (value === undefined) return undefined;
  if (typeof value === "string" && (choices as readonly string[]).includes(value))
    return value as C;
  const list = choices.map((c) => `"${c}"`).join(", ");
  throw optionError(site, `option "${name}" must be one of ${list}, got ${describe(value)}`, path);
}

/** A short, safe rendering of a bad value for an error message. */
export function describe(value: unknown): string {
  if (typeof value === "string") {
    return JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}...` : value);
  }
  if (typeof value === "bigint") return `${value}n`;
  if (value === null || typeof value !== "object") return String(value);
  return Array.isArray(value) ? "an array" : "an object";
}
