// load's line reader: lines split correctly at any chunk boundary, a line that spans
// many chunks is assembled with a number of copies linear in its chunks (never the
// quadratic re-scan of a growing string), and a 40 MiB line loads whole.

import * as assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { describe, test } from "node:test";
import { type LineWork, lines, type ReadChunk } from "../../src/cli/lines.js";
import { open } from "../../src/index.js";
import { withTempDir } from "../tmpdir.js";
import { ok } from "./helpers.js";

const encoder = new TextEncoder();
const MiB = 2 ** 20;

/** A reader over `bytes` that delivers at most `step` bytes per read. */
function source(bytes: Uint8Array, step: number): ReadChunk & { reads: number } {
  let at = 0;
  const read = (buf: Uint8Array) => {
    read.reads++;
    const n = Math.min(step, buf.length, bytes.length - at);
    buf.set(bytes.subarray(at, at + n));
    at += n;
    return n;
  };
  read.reads = 0;
  return read;
}

function all(bytes: Uint8Array, step: number, chunkBytes: number, work?: LineWork): string[] {
  return [...lines(source(bytes, step), { chunkBytes, work })].map(([s]) => s);
}

/** `n` bytes of printable text with a period prime to every chunk size, so misplaced chunks show. */
function pattern(n: number): Uint8Array {
  const b = new Uint8Array(n);
  for (let i = 0; i < n; i++) b[i] = 97 + ((i % 997) % 26);
  return b;
}

describe("lines", () => {
  test("splits at every chunk boundary, multi-byte characters included", () => {
    const text = "a\tb\n\nhéllo wörld 😀\r\nlast line without newline";
    const want = ["a\tb", "", "héllo wörld 😀\r", "last line without newline"];
    for (const chunk of [1, 2, 3, 5, 7, 64]) {
      for (const step of [1, 2, 4, 1000]) {
        assert.deepEqual(
          all(encoder.encode(text), step, chunk),
          want,
          `chunk ${chunk} step ${step}`,
        );
      }
    }
  });

  test("a BOM is dropped at the start of the input only; a final newline adds no line", () => {
    const bytes = encoder.encode("\uFEFFa\n\uFEFFb\n");
    assert.deepEqual(all(bytes, 2, 4), ["a", "\uFEFFb"]);
    assert.deepEqual(all(encoder.encode(""), 1, 4), []);
    assert.deepEqual(all(encoder.encode("\n"), 1, 4), [""]);
  });

  test("reports the bytes read with each line", () => {
    const got = [...lines(source(encoder.encode("ab\ncd\nef"), 3), { chunkBytes: 3 })];
    assert.deepEqual(got, [
      ["ab", 3],
      ["cd", 6],
      ["ef", 8],
    ]);
  });

  test("a line over many chunks costs copies linear in its chunks and bytes", () => {
    const chunkBytes = 64 * 1024;
    for (const mib of [1, 4, 16]) {
      const line = pattern(mib * MiB);
      const input = new Uint8Array(line.length + 3);
      input.set(line);
      input.set(encoder.encode("\nx\n"), line.length);
      const work: LineWork = { copies: 0, bytesCopied: 0 };
      const got = all(input, chunkBytes, chunkBytes, work);
      assert.equal(got.length, 2);
      assert.equal(got[0].length, line.length);
      assert.equal(got[0], new TextDecoder().decode(line));
      const chunks = Math.ceil(input.length / chunkBytes);
      // Each byte is copied out of the reused chunk once, and once more when joined.
      assert.ok(
        work.copies <= chunks + 1,
        `${mib} MiB: ${work.copies} copies for ${chunks} chunks`,
      );
      assert.ok(
        work.bytesCopied <= 2 * line.length,
        `${mib} MiB: ${work.bytesCopied} bytes copied for a ${line.length}-byte line`,
      );
    }
  });

  test("many short lines are decoded in place: no copies but at chunk boundaries", () => {
    const text = "k\tv\n".repeat(100_000);
    const work: LineWork = { copies: 0, bytesCopied: 0 };
    assert.equal(all(encoder.encode(text), 65536, 65536, work).length, 100_000);
    const chunks = Math.ceil(text.length / 65536);
    assert.ok(work.copies <= 2 * chunks, `${work.copies} copies for ${chunks} chunks`);
    assert.ok(work.bytesCopied <= 8 * chunks);
  });

  test("a line longer than the limit is ERR_ARG, found before it is all held", () => {
    const input = source(pattern(10_000), 100);
    assert.throws(
      () => [...lines(input, { chunkBytes: 100, lineBytesMax: 1000 })],
      (e: Error & { code?: string }) =>
        e.code === "ERR_ARG" && /longer than 1000 bytes/.test(e.message),
    );
    assert.ok(input.reads <= 11, `${input.reads} reads`);
  });
});

describe("load of a very long line", () => {
  test("a 40 MiB value on one TSV line loads whole", () =>
    withTempDir((dir) => {
      const value = pattern(40 * MiB);
      const input = path.join(dir, "long.tsv");
      const fd = fs.openSync(input, "w");
      fs.writeSync(fd, "short\tone\nlong\t");
      fs.writeSync(fd, value);
      fs.writeSync(fd, "\nafter\ttwo\n");
      fs.closeSync(fd);
      const db = path.join(dir, "long.pkv");
      assert.equal(ok(["load", db, input]), `loaded 3 entries into ${db}\n`);
      const r = open(db, { readOnly: true });
      try {
        const got = r.get("long");
        assert.ok(got !== undefined);
        assert.equal(got.length, value.length);
        assert.ok(Buffer.from(got).equals(Buffer.from(value)));
        assert.deepEqual(r.get("after"), encoder.encode("two"));
      } finally {
        r.close();
      }
    }));
});
