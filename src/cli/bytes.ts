// How the CLI shows and reads keys and values: text when the bytes are printable UTF-8,
// `0x`-prefixed hex otherwise, and the JSON form used by `scan --json` and `load`
// (a string, or {"hex": "..."} for bytes that are not UTF-8). Never touches a database.

const decoder = new TextDecoder("utf-8", { fatal: true });
const encoder = new TextEncoder();

/** The text of `b` if it is valid UTF-8, else undefined. */
export function utf8(b: Uint8Array): string | undefined {
  try {
    return decoder.decode(b);
  } catch {
    return undefined;
  }
}

/** True for text that prints on one line: no C0/C1 control characters, no DEL. */
function printable(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x20 || (c >= 0x7f && c < 0xa0)) return false;
  }
  return true;
}

export function hex(b: Uint8Array): string {
  let s = "";
  for (let i = 0; i < b.length; i++) s += b[i].toString(16).padStart(2, "0");
  return s;
}

/** Printable UTF-8 as itself, anything else as `0x` and hex (the empty string stays ""). */
export function show(b: Uint8Array): string {
  const s = utf8(b);
  return s !== undefined && printable(s) ? s : `0x${hex(b)}`;
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
