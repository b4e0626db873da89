// The pure-TypeScript CRC-32 must give exactly zlib's values, or a file written on one
// platform would read as corrupt on another.

import assert from "node:assert/strict";
import { test } from "node:test";
import * as zlib from "node:zlib";
import fc from "fast-check";
import { crc32 } from "../../src/format/crc32.js";

type NativeCrc32 = (data: Uint8Array, value?: number) => number;
const native = (zlib as unknown as { crc32?: NativeCrc32 }).crc32;

test("crc32 of the standard check string is 0xCBF43926", () => {
  assert.equal(crc32(new TextEncoder().encode("123456789"), 0), 0xcbf43926);
  assert.equal(crc32(new Uint8Array(0), 0), 0);
});

test("crc32 equals node:zlib's crc32 on random data, lengths and offsets", () => {
  assert.ok(native, "zlib.crc32 exists on Node >= 20.15");
  fc.assert(
    fc.property(
      fc.uint8Array({ minLength: 1, maxLength: 5000 }),
      fc.nat(64),
      fc.nat(),
      (data, cut, init) => {
        // Non-empty: zlib answers 0 for an empty buffer whatever the initial value.
        const view = data.subarray(Math.min(cut, data.length - 1));
        assert.equal(crc32(view, init >>> 0), native(view, init >>> 0));
      },
    ),
    { numRuns: 500 },
  );
});

test("crc32 continues across chunks like one call", () => {
  const data = new Uint8Array(4096).map((_, i) => (i * 7) & 0xff);
  const whole = crc32(data, 0);
  assert.equal(crc32(data.subarray(1000), crc32(data.subarray(0, 1000), 0)), whole);
});
