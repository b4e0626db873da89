// CRC-32 (IEEE 802.3, reflected polynomial 0xEDB88320), as zlib computes it, in pure
// TypeScript: the fallback when the platform's VFS offers no native crc32. Slicing-by-8
// tables are built once at module load; the function never allocates.

import type { Crc32 } from "../vfs/vfs.js";

const TABLES = buildTables();

function buildTables(): Uint32Array {
  const t = new Uint32Array(8 * 256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  for (let n = 0; n < 256; n++) {
    let c = t[n];
    for (let s = 1; s < 8; s++) {
      c = t[c & 0xff] ^ (c >>> 8);
      t[s * 256 + n] = c >>> 0;
    }
  }
  return t;
}

/** CRC-32 of `data`, continuing from `initial` (0 to start), like zlib.crc32(data, initial). */
export const crc32: Crc32 = (data: Uint8Array, initial: number): number => {
  const t = TABLES;
  let c = ~initial;
  let i = 0;
  const n = data.length;
  const n8 = n - (n & 7);
  while (i < n8) {
    const a = c ^ (data[i] | (data[i + 1] << 8) | (data[i + 2] << 16) | (data[i + 3] << 24));
    c =
      t[1792 + (a & 0xff)] ^
      t[1536 + ((a >>> 8) & 0xff)] ^
      t[1280 + ((a >>> 16) & 0xff)] ^
      t[1024 + (a >>> 24)] ^
      t[768 + data[i + 4]] ^
      t[512 + data[i + 5]] ^
      t[256 + data[i + 6]] ^
      t[data[i + 7]];
    i += 8;
  }
  while (i < n) c = t[(c ^ data[i++]) & 0xff] ^ (c >>> 8);
  return ~c >>> 0;
};
