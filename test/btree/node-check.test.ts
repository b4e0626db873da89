// nodeSound, the one-pass check of every page the tree reads in, says a node is sound
// exactly when nodeProblem finds nothing: on real nodes (leaf, interior, overflow cells),
// on the same nodes with bytes of their header, slot array and cells damaged, and on
// pages of noise.

import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import {
  initNode,
  insertCell,
  KIND_INTERIOR,
  KIND_LEAF,
  KIND_OVERFLOW,
  nodeProblem,
  nodeSound,
  OVERFLOW_MARK,
} from "../../src/btree/node.js";
import { writeU16, writeU32 } from "../../src/format/codec.js";

const PAGE = 512;
const KEY_MAX = PAGE / 16;

/** A node of `kind` with cells of the given key and value lengths (value -1: overflow). */
function node(k: number, cells: [number, number][]): Uint8Array {
  const d = new Uint8Array(PAGE);
  const scratch = new Uint8Array(PAGE);
  initNode(d, k);
  let i = 0;
  for (const [keyLen, valueLen] of cells) {
    const body = k === KIND_LEAF ? (valueLen < 0 ? 8 : valueLen) : 0;
    const head = k === KIND_LEAF ? 4 : 6;
    const bytes = head + keyLen + body;
    const free = PAGE - 16 - 2 * (i + 1) - (PAGE - (d[4] << 8) - d[5]);
    if (bytes > free) break;
    const off = insertCell(d, i, bytes, scratch);
    if (k === KIND_LEAF) {
      writeU16(d, off, keyLen);
      writeU16(d, off + 2, valueLen < 0 ? OVERFLOW_MARK : valueLen);
    } else {
      writeU32(d, off, 2 + i);
      writeU16(d, off + 4, keyLen);
    }
    d.fill(0x41 + (i % 26), off + head, off + bytes);
    i++;
  }
  return d;
}

const agree = (d: Uint8Array, expect: number) => {
  const problem = nodeProblem(d, expect, KEY_MAX);
  assert.equal(nodeSound(d, expect, KEY_MAX), problem === null, problem ?? "sound");
};

test("nodeSound agrees with nodeProblem on nodes, damaged nodes and noise", () => {
  const cell = fc.tuple(fc.integer({ min: 0, max: 40 }), fc.integer({ min: -1, max: 140 }));
  const damage = fc.array(fc.tuple(fc.nat(PAGE - 1), fc.nat(255), fc.boolean()), {
    maxLength: 4,
  });
  fc.assert(
    fc.property(
      fc.constantFrom(KIND_LEAF, KIND_INTERIOR),
      fc.array(cell, { maxLength: 30 }),
      damage,
      fc.constantFrom(0, KIND_LEAF, KIND_INTERIOR),
      (k, cells, hits, expect) => {
        const d = node(k, cells);
        agree(d, expect);
        // Damage aimed mostly at the header and slot array, where it changes the checks.
        for (const [at, byte, early] of hits) d[early ? at % 80 : at] = byte;
        agree(d, expect);
        agree(d, 0);
      },
    ),
    { numRuns: 3000 },
  );
  fc.assert(
    fc.property(fc.uint8Array({ minLength: PAGE, maxLength: PAGE }), (noise) => {
      agree(noise, 0);
      noise[0] = KIND_LEAF;
      noise[2] = 0; // few cells, so that some noise pages pass the header
      agree(noise, 0);
      noise[0] = KIND_OVERFLOW;
      agree(noise, 0);
    }),
    { numRuns: 1000 },
  );
});

test("the edges: an empty node, a full one, keys at the limit and one past it", () => {
  agree(node(KIND_LEAF, []), 0);
  agree(node(KIND_INTERIOR, []), KIND_INTERIOR);
  agree(
    node(
      KIND_LEAF,
      Array.from({ length: 40 }, () => [KEY_MAX, 4] as [number, number]),
    ),
    0,
  );
  const over = node(KIND_LEAF, [[KEY_MAX + 1, 1]]);
  assert.equal(nodeSound(over, 0, KEY_MAX), false);
  agree(over, 0);
  const wrongKind = node(KIND_INTERIOR, [[3, 0]]);
  assert.equal(nodeSound(wrongKind, KIND_LEAF, KEY_MAX), false);
  assert.equal(nodeSound(wrongKind, KIND_INTERIOR, KEY_MAX), true);
});
