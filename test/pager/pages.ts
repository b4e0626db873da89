// Test helpers for pager tests: deterministic page contents that name their page and a
// version, so a page read from the wrong place or from the wrong moment is recognised.

import assert from "node:assert/strict";
import { PagekvError } from "../../src/errors.js";
import { type Frame, Pager, type PagerOptions } from "../../src/pager/pager.js";
import { MemFS } from "../../src/vfs/memfs.js";

/** Fill `data` with bytes derived from (pgno, version). */
export function stamp(data: Uint8Array, pgno: number, version: number): void {
  let x = (Math.imul(pgno, 0x9e3779b1) ^ Math.imul(version + 1, 0x85ebca6b)) >>> 0;
  for (let i = 0; i < data.length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    data[i] = x & 0xff;
  }
}

export function stamped(size: number, pgno: number, version: number): Uint8Array {
  const b = new Uint8Array(size);
  stamp(b, pgno, version);
  return b;
}

/** Write version `version` of page `pgno` through the pager. */
export function writePage(pager: Pager, pgno: number, version: number): void {
  const f = pager.get(pgno, "write");
  stamp(f.data, pgno, version);
  pager.unpin(f, true);
}

/** Allocate a page, stamp it with `version` and unpin it dirty; returns its number. */
export function allocatePage(pager: Pager, version: number): number {
  const f = pager.allocate();
  const pgno = f.pgno;
  stamp(f.data, pgno, version);
  pager.unpin(f, true);
  return pgno;
}

export function assertPage(pager: Pager, pgno: number, version: number): void {
  const f: Frame = pager.get(pgno);
  try {
    assert.deepEqual(f.data, stamped(pager.usableSize, pgno, version), `page ${pgno} v${version}`);
  } finally {
    pager.unpin(f);
  }
}

/** Assert that `fn` throws a PagekvError with `code`; returns it for further checks. */
export function throwsCode(fn: () => unknown, code: string): PagekvError {
  try {
    fn();
  } catch (e) {
    assert.ok(e instanceof PagekvError, `expected a PagekvError ${code}, got ${String(e)}`);
    assert.equal(e.code, code, e.message);
    return e;
  }
  assert.fail(`expected ${code}, nothing was thrown`);
}

/**
 * A database at `path` on a new MemFS of `pages` pages (2..pages+1, version 1) of
 * `pageSize` bytes, committed and closed, then opened again with `opts` (and debug).
 */
export function reopened(
  path: string,
  pageSize: number,
  pages: number,
  opts: Omit<PagerOptions, "pageSize">,
): { fs: MemFS; pager: Pager } {
  const fs = new MemFS();
  const build = Pager.create(fs, path, { pageSize, cacheFrames: 16 });
  build.begin();
  for (let i = 0; i < pages; i++) allocatePage(build, 1);
  build.commit();
  build.close();
  return { fs, pager: Pager.open(fs, path, { debug: true, ...opts }) };
}
