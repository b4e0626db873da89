// How the CLI shows and reads keys and values. The plain form (arguments, TSV input, plain
// output) is text as itself when the bytes are printable UTF-8 that does not start with
// "0x", and otherwise "0x" and two lowercase hex digits per byte: so "0x..." always means
// hex, and every byte string has exactly one plain form. The JSON form (`--json`, `load`)
// is a string for valid UTF-8, else {"hex": "..."}. Never touches a database.

// ignoreBOM: a leading U+FEFF is part of the bytes, not a mark to drop.
const decoder = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });
const encoder = new TextEncoder();

/** The text of `b` if it is valid UTF-8, else undefined. */
export function utf8(b: Uint8Array): string | undefined {
  try {
    return decoder.decode(b);
  } catch {
    return undefined;
  }
}

/** The plain form's mark of hex; text starting with it is shown as hex too. */
export const HEX_PREFIX = "0x";

/**
 * True for text that prints on one line: no C0/C1 control characters, no DEL, no
 * U+2028/U+2029 (line and paragraph separators).
 */
function printable(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x20 || (c >= 0x7f && c < 0xa0) || c === 0x2028 || c === 0x2029) return false;
  }
  return true;
}

export function hex(b: Uint8Array): string {
  let s = "";
  for (let i = 0; i < b.length; i++) s += b[i].toString(16).padStart(2, "0");
  return s;
}

/**
 * The plain form: printable UTF-8 that does not start with "0x" as itself, anything else
 * as "0x" and hex (the empty string stays ""). parsePlain is its inverse.
 */
export function show(b: Uint8Array): string {
  const s = utf8(b);
  return s !== undefined && printable(s) && !s.startsWith(HEX_PREFIX)
    ? s
    : `${HEX_PREFIX}${hex(b)}`;
}

/**
 * The bytes of a plain-form string: "0x" and an even number of hex digits (either case)
 * are those bytes, anything else is its UTF-8. Undefined for "0x" followed by non-hex.
 */
export function parsePlain(s: string): Uint8Array | undefined {
  return s.startsWith(HEX_PREFIX) ? parseHex(s.slice(HEX_PREFIX.length)) : encoder.encode(s);
}

export type JsonBytes = string | { hex: string };

/** JSON form: valid UTF-8 as a string (JSON escapes controls), else {"hex": "..."}. */
export function toJson(b: Uint8Array): JsonBytes {
  const s = utf8(b);
  return s !== undefined ? s : { hex: hex(b) };
}

/** Inverse of toJson; undefined when `x` is neither form. */
export function fromJson(x: unknown): Uint8Array | undefined {
  if (typeof x === "string") return encoder.encode(x);
  if (x !== null && typeof x === "object" && typeof (x as { hex?: unknown }).hex === "string") {
    return parseHex((x as { hex: string }).hex);
  }
  return undefined;
}

/** Bytes of an even-length hex string, or undefined. */
export function parseHex(s: string): Uint8Array | undefined {
  if (s.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(s)) return undefined;
  const out = new Uint8Array(s.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = Number.parseInt(s.slice(2 * i, 2 * i + 2), 16);
  return out;
}

/** Human-readable byte count: 512 B, 3.2 KiB, 24.0 MiB. */
export function sizeOf(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 2 ** 20) return `${(n / 1024).toFixed(1)} KiB`;
  if (n < 2 ** 30) return `${(n / 2 ** 20).toFixed(1)} MiB`;
  return `${(n / 2 ** 30).toFixed(2)} GiB`;
}
