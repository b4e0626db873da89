// Copies of keys and values for callers, carved from shared 8 KiB slabs the way Node's
// Buffer pool does: allocating a small Uint8Array of its own costs about 1 us here (a
// backing store each), a view of a slab about 0.1 us. Each copy owns its bytes: slabs are
// only ever handed out forward, never reused. A copy's `.buffer` is the whole slab.

/** Bytes per slab. */
export const SLAB_BYTES = 8192;
/** Copies longer than this get a buffer of their own, so one slab holds several. */
export const SLAB_COPY_BYTES_MAX = SLAB_BYTES / 2;

let slab = new ArrayBuffer(SLAB_BYTES);
let used = 0;

/** A fresh copy of src[start, end). */
export function copyOut(src: Uint8Array, start: number, end: number): Uint8Array {
  const n = end - start;
  if (n > SLAB_COPY_BYTES_MAX) return src.slice(start, end);
  if (used + n > SLAB_BYTES) {
    slab = new ArrayBuffer(SLAB_BYTES);
    used = 0;
  }
  const out = new Uint8Array(slab, used, n);
  used += (n + 7) & ~7; // keep copies 8-byte aligned
  out.set(src.subarray(start, end));
  return out;
}
