// Copies of keys and values for callers, carved from shared 8 KiB slabs the way Node's
// Buffer pool does: allocating a small Uint8Array of its own costs about 1 us here (a
// backing store each), a view of a slab about 0.1 us. Each copy owns its bytes: slabs are
// only ever handed out forward, never reused. A copy's `.buffer` is the whole slab.

/** Bytes per slab. */
export const SLAB_BYTES = 8192;
/** Copies longer than this get a buffer of their own, so one slab holds several. */
export const SLAB_COPY_BYTES_MAX = SLAB_BYTES / 2;

let slab = new ArrayBuffer(SLAB_BYTES);
let slabBytes = new Uint8Array(slab);
let used = 0;

/** Room for n bytes at `used` in the current slab (a new slab when it is full). */
function reserve(n: number): void {
  if (used + n > SLAB_BYTES) {
    slab = new ArrayBuffer(SLAB_BYTES);
    slabBytes = new Uint8Array(slab);
    used = 0;
  }
}

/** A fresh copy of src[start, end). */
export function copyOut(src: Uint8Array, start: number, end: number): Uint8Array {
  const n = end - start;
  if (n > SLAB_COPY_BYTES_MAX) return src.slice(start, end);
  reserve(n);
  const out = new Uint8Array(slab, used, n);
  used += (n + 7) & ~7; // keep copies 8-byte aligned
  out.set(src.subarray(start, end));
  return out;
}

/**
 * Fresh copies of a key src[start, start+keyLen) and the value that directly follows it
 * (valueLen bytes), made with one copy: the leaf cell layout keeps them adjacent.
 */
export function copyEntry(
  src: Uint8Array,
  start: number,
  keyLen: number,
  valueLen: number,
): [Uint8Array, Uint8Array] {
  const n = keyLen + valueLen;
  if (n > SLAB_COPY_BYTES_MAX) {
    return [src.slice(start, start + keyLen), src.slice(start + keyLen, start + n)];
  }
  reserve(n);
  slabBytes.set(src.subarray(start, start + n), used);
  const key = new Uint8Array(slab, used, keyLen);
  const value = new Uint8Array(slab, used + keyLen, valueLen);
  used += (n + 7) & ~7;
  return [key, value];
}
