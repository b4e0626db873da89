import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import {
  readU16,
  readU32,
  readU64,
  U64_MAX,
  writeU16,
  writeU32,
  writeU64,
} from "../../src/format/codec.js";

test("u16, u32 and u64 fields are big-endian on disk", () => {
  const b = new Uint8Array(16);
  writeU16(b, 0, 0x0102);
  writeU32(b, 2, 0x03040506);
  writeU64(b, 6, 0x0708090a0b0c0d0en);
  assert.deepEqual([...b.subarray(0, 14)], [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14]);
});

test("every u32 and u64 round-trips, including the extremes", () => {
  const b = new Uint8Array(13);
  fc.assert(
    fc.property(fc.nat({ max: 0xffffffff }), fc.bigInt({ min: 0n, max: U64_MAX }), (x, y) => {
      writeU32(b, 1, x);
      writeU64(b, 5, y);
      assert.equal(readU32(b, 1), x);
      assert.equal(readU64(b, 5), y);
    }),
  );
  writeU32(b, 0, 0xffffffff);
  assert.equal(readU32(b, 0), 0xffffffff);
  writeU64(b, 0, U64_MAX);
  assert.equal(readU64(b, 0), U64_MAX);
  writeU16(b, 0, 0xffff);
  assert.equal(readU16(b, 0), 0xffff);
});
