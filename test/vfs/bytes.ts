// Byte helpers shared by the VFS tests (no tests here: imported only).

import assert from "node:assert/strict";
import type { VFile } from "../../src/vfs/vfs.js";

export function text(s: string): Uint8Array {
  return new TextEncoder().encode(s);
}

/** The whole current content of `file`, asserting it reads in full. */
export function readAll(file: VFile): Uint8Array {
  const buf = new Uint8Array(file.size());
  assert.equal(file.readAt(buf, 0), buf.length);
  return buf;
}
