// The plain form of keys and values is unambiguous: text as itself unless it could be
// read as the 0x form, everything else 0x and hex; arguments take the same form, so any
// byte string goes in through put and comes back equal through get, plain or --json.

import * as assert from "node:assert/strict";
import * as path from "node:path";
import { describe, test } from "node:test";
import fc from "fast-check";
import { open } from "../../src/index.js";
import { withTempDir } from "../tmpdir.js";
import { cli, fails, ok } from "./helpers.js";

const encoder = new TextEncoder();
const strict = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

function hexOf(b: Uint8Array): string {
  return Buffer.from(b).toString("hex");
}

/** The test's own reading of the documented plain form. */
function readPlain(s: string): Uint8Array {
  return s.startsWith("0x") ? new Uint8Array(Buffer.from(s.slice(2), "hex")) : encoder.encode(s);
}

/** The test's own reading of the JSON form: a string, or {"hex": ...}. */
function readJson(x: unknown): Uint8Array {
  if (typeof x === "string") return encoder.encode(x);
  const h = (x as { hex: string }).hex;
  assert.equal(typeof h, "string");
  return new Uint8Array(Buffer.from(h, "hex"));
}

/** An argument for `b`: 0x and hex always works; text that does not start with 0x as itself. */
function argFor(b: Uint8Array, asText: boolean): string {
  if (asText) {
    try {
      const s = strict.decode(b);
      if (!s.startsWith("0x") && !s.includes("\0")) return s;
    } catch {
      // not UTF-8: hex below
    }
  }
  return `0x${hexOf(b)}`;
}

const tricky = fc.constantFrom(
  "",
  "0x",
  "0x0102",
  "0X0102",
  "0xzz",
  "0x1",
  "x",
  "a\tb",
  "line\nbreak",
  "\u2028",
  "\u0085",
  "héllo",
  "😀",
  "\uFEFF",
  " 0x01",
);
const bytesArb = fc.oneof(
  fc.uint8Array({ maxLength: 40 }),
  fc.string({ maxLength: 20 }).map((s) => encoder.encode(s)),
  fc.string({ unit: "grapheme", maxLength: 5 }).map((s) => encoder.encode(s)),
  tricky.map((s) => encoder.encode(s)),
  tricky.map((s) => encoder.encode(`0x${hexOf(encoder.encode(s))}`)),
);

describe("plain form", () => {
  test("text that looks like the 0x form prints as hex, so it differs from those bytes", () =>
    withTempDir((dir) => {
      const db = path.join(dir, "a.pkv");
      const w = open(db);
      w.put("text", "0x0102");
      w.put("bytes", new Uint8Array([1, 2]));
      w.close();
      assert.equal(ok(["get", db, "text"]), "0x307830313032\n");
      assert.equal(ok(["get", db, "bytes"]), "0x0102\n");
      assert.equal(ok(["scan", db]), "bytes\t0x0102\ntext\t0x307830313032\n");
    }));

  test("put and get arguments take the same form: 0x and hex are bytes", () =>
    withTempDir((dir) => {
      const db = path.join(dir, "a.pkv");
      ok(["put", db, "k", "0x0102"]);
      ok(["put", db, "0x00ff", "0x"]);
      const r = open(db, { readOnly: true });
      try {
        assert.deepEqual(r.get("k"), new Uint8Array([1, 2]));
        assert.deepEqual(r.get(new Uint8Array([0, 255])), new Uint8Array(0));
      } finally {
        r.close();
      }
      assert.equal(ok(["get", db, "k"]), "0x0102\n");
      assert.equal(ok(["get", db, "0x00ff"]), "\n");
      assert.equal(ok(["scan", db, "--gte", "0x00", "--lt", "0x01"]), "0x00ff\t\n");
    }));

  test("an argument that starts with 0x but is not hex is a usage error", () =>
    withTempDir((dir) => {
      const db = path.join(dir, "a.pkv");
      for (const bad of ["0xzz", "0x123"]) {
        const r = cli(["put", db, "k", bad]);
        assert.equal(r.code, 2, bad);
        assert.match(r.err, /^pagekv: ERR_USAGE: .*0x/);
      }
    }));

  test("get --json prints the record as scan --json does", () =>
    withTempDir((dir) => {
      const db = path.join(dir, "a.pkv");
      ok(["put", db, "k", "0x00ff"]);
      ok(["put", db, "t", "a\tb"]);
      assert.deepEqual(JSON.parse(ok(["get", db, "k", "--json"])), {
        key: "k",
        value: { hex: "00ff" },
      });
      assert.equal(
        ok(["get", "--json", db, "t"]),
        `${JSON.stringify({ key: "t", value: "a\tb" })}\n`,
      );
      fails(["get", db, "nope", "--json"], "ERR_KEY_NOT_FOUND");
    }));

  test("--help says how the plain form escapes", () => {
    for (const argv of [["--help"], ["get", "--help"], ["put", "--help"]]) {
      assert.match(ok(argv), /starts? with 0x/, argv.join(" "));
    }
  });

  test("property: any bytes put through the CLI come back equal through get, plain and --json", () =>
    withTempDir((dir) => {
      const db = path.join(dir, "p.pkv");
      let n = 0;
      fc.assert(
        fc.property(bytesArb, bytesArb, fc.boolean(), (key, value, asText) => {
          const k = argFor(key, asText);
          const v = argFor(value, asText);
          ok(["put", db, "--", k, v]);
          const plain = ok(["get", db, "--", k]);
          assert.ok(plain.endsWith("\n"));
          assert.doesNotMatch(plain.slice(0, -1), /[\n\r\t]/);
          assert.deepEqual(readPlain(plain.slice(0, -1)), value);
          const rec = JSON.parse(ok(["get", db, "--json", "--", k]));
          assert.deepEqual(readJson(rec.key), key);
          assert.deepEqual(readJson(rec.value), value);
          // What the CLI stored is exactly these bytes (read through the API).
          const r = open(db, { readOnly: true });
          try {
            assert.deepEqual(r.get(key), value);
          } finally {
            r.close();
          }
          n++;
        }),
        { numRuns: 150, seed: 20_261_201 },
      );
      assert.equal(n, 150);
    }));
});
