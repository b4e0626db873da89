// Big-endian integer fields, the only byte math in pagekv. Every multi-byte field on disk
// goes through these helpers; they never allocate and never bounds-check beyond what the
// typed array does (callers own the layout and assert it).

export function readU16(buf: Uint8Array, offset: number): number {
  return (buf[offset] << 8) | buf[offset + 1];
}

export function writeU16(buf: Uint8Array, offset: number, value: number): void {
  buf[offset] = value >>> 8;
  buf[offset + 1] = value;
}

export function readU32(buf: Uint8Array, offset: number): number {
  return (
    ((buf[offset] << 24) | (buf[offset + 1] << 16) | (buf[offset + 2] << 8) | buf[offset + 3]) >>> 0
  );
}

export function writeU32(buf: Uint8Array, offset: number, value: number): void {
  buf[offset] = value >>> 24;
  buf[offset + 1] = value >>> 16;
  buf[offset + 2] = value >>> 8;
  buf[offset + 3] = value;
}

const U32_SPAN = 0x1_0000_0000n;

/** A u64 as a bigint (LSNs may pass 2^53). */
export function readU64(buf: Uint8Array, offset: number): bigint {
  return BigInt(readU32(buf, offset)) * U32_SPAN + BigInt(readU32(buf, offset + 4));
}

export function writeU64(buf: Uint8Array, offset: number, value: bigint): void {
  writeU32(buf, offset, Number(value >> 32n));
  writeU32(buf, offset + 4, Number(value & 0xffff_ffffn));
}

export const U64_MAX = 0xffff_ffff_ffff_ffffn;
