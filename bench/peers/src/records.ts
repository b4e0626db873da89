// The records every store holds: YCSB-like keys, "user" plus a fixed-width decimal of a
// hash of the record number (16 ASCII bytes, so the insert order is a random key order),
// and 100-byte values of pseudo-random (incompressible) bytes drawn from the record
// number and a version, so a store that compresses (LevelDB's Snappy) gains nothing.

export const KEY_BYTES = 16;
export const VALUE_BYTES = 100;
export const RECORD_BYTES = KEY_BYTES + VALUE_BYTES;
/** Record numbers must stay below this: the key hash is a bijection on 32 bits. */
export const RECORDS_MAX = 2 ** 32;

/** murmur3's fmix32: a bijection on u32, so distinct record numbers give distinct keys. */
function fmix32(x: number): number {
  let h = x >>> 0;
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

/** The key of record `n`: "user" + 12 zero-padded decimal digits of fmix32(n). */
export function recordKey(n: number): Buffer {
  return Buffer.from(
    `user${fmix32(n)
      .toString()
      .padStart(KEY_BYTES - 4, "0")}`,
    "latin1",
  );
}

/** The value of record `n` at `version`: VALUE_BYTES pseudo-random bytes. */
export function recordValue(n: number, version: number): Buffer {
  const v = Buffer.allocUnsafe(VALUE_BYTES);
  let s = (fmix32(n) ^ Math.imul(version + 1, 0x9e3779b1)) >>> 0 || 1;
  for (let i = 0; i < VALUE_BYTES; i += 4) {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    v.writeUInt32LE(s >>> 0, i);
  }
  return v;
}
