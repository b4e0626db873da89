import assert from "node:assert/strict";
import { test } from "node:test";
import { writeU32 } from "../../src/format/codec.js";
import { crc32 } from "../../src/format/crc32.js";
import {
  APPLICATION_ID_NONE,
  decodeHeader,
  encodeHeader,
  FORMAT_VERSION,
  FORMAT_VERSION_MIN,
  HEADER_BYTES,
  newHeader,
} from "../../src/format/header.js";
import { throwsCode } from "../pager/pages.js";

function encoded(mutate?: (h: ReturnType<typeof newHeader>) => void): Uint8Array {
  const h = newHeader(4096, 0x12345678);
  h.pageCount = 10;
  h.freeTrunk = 3;
  h.freeCount = 4;
  h.changeCounter = 5;
  h.checkpointLsn = 2n ** 60n + 1n;
  h.slots[2] = 0xfffffffe;
  mutate?.(h);
  const page = new Uint8Array(4096);
  encodeHeader(h, page, crc32);
  return page;
}

test("a header round-trips every field", () => {
  const h = decodeHeader(encoded(), crc32, "/x");
  assert.equal(h.pageSize, 4096);
  assert.equal(h.pageCount, 10);
  assert.equal(h.freeTrunk, 3);
  assert.equal(h.freeCount, 4);
  assert.equal(h.changeCounter, 5);
  assert.equal(h.checkpointLsn, 2n ** 60n + 1n);
  assert.deepEqual([...h.slots], [0, 0, 0xfffffffe, 0, 0, 0, 0, 0]);
});

test("any single flipped bit in the header is detected", () => {
  const good = encoded();
  for (let bit = 0; bit < HEADER_BYTES * 8; bit++) {
    const bad = good.slice();
    bad[bit >> 3] ^= 1 << (bit & 7);
    const e = throwsCode(() => decodeHeader(bad, crc32, "/x.pkv"), "ERR_CORRUPT");
    assert.equal(e.pgno, 1);
    assert.match(e.message, /\/x\.pkv/);
  }
});

test("fields that checksum correctly but make no sense are still rejected", () => {
  const cases: [string, (h: ReturnType<typeof newHeader>) => void][] = [
    ["page size", (h) => (h.pageSize = 1000)],
    ["page count", (h) => (h.pageCount = 0)],
    ["free count", (h) => (h.freeCount = 10)],
    ["freelist head", (h) => (h.freeTrunk = 0)],
    ["freelist head", (h) => (h.freeTrunk = 11)],
    ["freelist head", (h) => (h.freeTrunk = 1)],
  ];
  for (const [what, mutate] of cases) {
    const e = throwsCode(() => decodeHeader(encoded(mutate), crc32, "/x"), "ERR_CORRUPT");
    assert.match(e.message, new RegExp(what), e.message);
  }
  for (const version of [FORMAT_VERSION_MIN - 1, FORMAT_VERSION + 1]) {
    const other = encoded();
    writeU32(other, 8, version);
    writeU32(other, 124, crc32(other.subarray(0, 124), 0));
    const e = throwsCode(() => decodeHeader(other, crc32, "/x"), "ERR_CORRUPT");
    assert.ok(
      e.message.includes(
        `format version ${version} is not supported (this pagekv reads versions ` +
          `${FORMAT_VERSION_MIN}..${FORMAT_VERSION})`,
      ),
      e.message,
    );
  }
});

test("the application id round-trips; a version-2 header reads as legacy with none", () => {
  const h = decodeHeader(
    encoded((x) => (x.applicationId = 0xfeedbeef)),
    crc32,
    "/x",
  );
  assert.equal(h.applicationId, 0xfeedbeef);
  assert.equal(h.legacy, false);
  const old = encoded((x) => (x.applicationId = 0xfeedbeef));
  writeU32(old, 8, 2); // version 2 had zeros where the application id now is
  writeU32(old, 76, 0);
  writeU32(old, 124, crc32(old.subarray(0, 124), 0));
  const legacy = decodeHeader(old, crc32, "/x");
  assert.equal(legacy.legacy, true);
  assert.equal(legacy.applicationId, APPLICATION_ID_NONE);
});
