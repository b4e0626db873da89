// Key heads: a descent's binary search over a compact array instead of the cells.
//
// A search of a slotted node probes log2(count) cells, each somewhere else in the page:
// over a tree larger than the CPU caches, every probe is a cache miss. For each node page
// a search meets, the heads table keeps, beside the page and not in it, the node's common
// key prefix length p and, per cell in slot order, its two key bytes after the prefix
// (zero-padded: "head"). A search compares the key's prefix with the first cell's once,
// then binary-searches the heads (one array of 2 bytes a cell, a few cache lines), and
// compares whole keys only among the cells whose head equals the key's: usually one.
// LeanStore and Umbra keep such heads in their slots; here they are a cache, so the file
// format does not change.
//
// Why it finds what the plain search finds: every key of the node starts with the prefix
// (the first and last keys share it, and the keys between them sort between them). For
// keys a < b of the node, head(a) <= head(b): either a's suffix is a prefix of b's (zero
// padding is the least byte) or they differ first at a byte that is in the head (then
// head(a) < head(b)) or past it (equal heads). So a cell whose head is below the key's is
// below the key, one whose head is above it is above it, and the answer lies among the
// cells with an equal head, where the whole keys decide.
//
// Validity: heads are built from a frame's bytes and stamped with this table's id in
// Frame.shape, which the pool clears at every bind and every write pin (frame.ts). A
// frame pinned for reading cannot change, and a tree operation holds no pin after it
// returns, so a stamp that matches means the heads match the bytes. Tables are per pager
// (one per pool, shared by every cursor: headsOf), sized once for the whole pool; memory
// is committed as frames use it (HEADS_PER_PAGE_BYTES a frame). Nodes with more cells
// than a frame's share hold no heads and are searched the plain way.
//
// Invariants: for a frame f with f.shape === this.id, heads[f.index * perFrame + i] is the
// head of cell i of f's node for every i < count, and prefix[f.index] its prefix length.

import { readU16 } from "../format/codec.js";
import type { Frame, Pager } from "../pager/pager.js";
import {
  cellAt,
  compareKey,
  count,
  INTERIOR_CELL_HEADER_BYTES,
  KIND_LEAF,
  kind,
  LEAF_CELL_HEADER_BYTES,
  type SearchResult,
  search,
} from "./node.js";

/** Bytes of heads per frame, as a share of the page: 1/16 (256 bytes at 4 KiB: 128 cells). */
export const HEADS_SHARE = 16;

let nextId = 1;
const tables = new WeakMap<Pager, KeyHeads>();

/** The heads table of `pager`'s pool, made on first use. */
export function headsOf(pager: Pager): KeyHeads {
  let t = tables.get(pager);
  if (t === undefined) {
    t = new KeyHeads(pager.cacheFrames, pager.pageSize);
    tables.set(pager, t);
  }
  return t;
}

export class KeyHeads {
  /** Stamp in Frame.shape of a frame whose heads this table holds (never 0). */
  readonly id: number;
  /** Cells per frame that have a head; nodes with more are searched without. */
  readonly perFrame: number;
  private readonly heads: Uint16Array;
  private readonly prefix: Uint16Array;

  constructor(frames: number, pageSize: number) {
    this.id = nextId;
    nextId = nextId === 0x7fff_ffff ? 1 : nextId + 1;
    this.perFrame = pageSize / HEADS_SHARE / 2;
    this.heads = new Uint16Array(frames * this.perFrame);
    this.prefix = new Uint16Array(frames);
  }

  /**
   * search() (node.ts) of the node in the pinned frame `f`, whose cells have all been
   * checked (the cursor's NODE_CHECKED): same result, fewer cache lines.
   */
  search(f: Frame, key: Uint8Array, keyLen: number, out: SearchResult): boolean {
    const d = f.data;
    const n = count(d);
    if (f.shape !== this.id) {
      if (n > this.perFrame || n < 2) return search(d, key, keyLen, out);
      this.build(f, n);
    }
    const leaf = kind(d) === KIND_LEAF;
    const head = leaf ? LEAF_CELL_HEADER_BYTES : INTERIOR_CELL_HEADER_BYTES;
    const lengthAt = leaf ? 0 : 4;
    const p = this.prefix[f.index];
    out.exact = false;
    if (p > 0) {
      // The key against the prefix every cell starts with: below or above all of them.
      const c = compareKey(key, Math.min(keyLen, p), d, cellAt(d, 0) + head, p);
      if (c !== 0) {
        out.index = c < 0 ? 0 : n;
        return true;
      }
    }
    const kh = (keyLen > p ? key[p] << 8 : 0) | (keyLen > p + 1 ? key[p + 1] : 0);
    const heads = this.heads;
    const base = f.index * this.perFrame;
    // [lo, hi): the cells whose head equals the key's.
    let lo = 0;
    let hi = n;
    while (lo < hi) {
      const m = (lo + hi) >>> 1;
      if (heads[base + m] < kh) lo = m + 1;
      else hi = m;
    }
    hi = n;
    let a = lo;
    while (a < hi) {
      const m = (a + hi) >>> 1;
      if (heads[base + m] <= kh) a = m + 1;
      else hi = m;
    }
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      const off = cellAt(d, mid);
      const c = compareKey(key, keyLen, d, off + head, readU16(d, off + lengthAt));
      if (leaf) {
        if (c === 0) {
          out.index = mid;
          out.exact = true;
          return true;
        }
        if (c > 0) lo = mid + 1;
        else hi = mid;
      } else if (c >= 0) {
        lo = mid + 1; // equal keys live in the right subtree
      } else {
        hi = mid;
      }
    }
    out.index = lo;
    return true;
  }

  /** Fill f's heads from its n >= 2 cells, and stamp it. */
  private build(f: Frame, n: number): void {
    const d = f.data;
    const leaf = kind(d) === KIND_LEAF;
    const head = leaf ? LEAF_CELL_HEADER_BYTES : INTERIOR_CELL_HEADER_BYTES;
    const lengthAt = leaf ? 0 : 4;
    const first = cellAt(d, 0);
    const last = cellAt(d, n - 1);
    const m = Math.min(readU16(d, first + lengthAt), readU16(d, last + lengthAt));
    let p = 0;
    while (p < m && d[first + head + p] === d[last + head + p]) p++;
    const heads = this.heads;
    const base = f.index * this.perFrame;
    for (let i = 0; i < n; i++) {
      const off = cellAt(d, i);
      const len = readU16(d, off + lengthAt);
      const k = off + head;
      heads[base + i] = (len > p ? d[k + p] << 8 : 0) | (len > p + 1 ? d[k + p + 1] : 0);
    }
    this.prefix[f.index] = p;
    f.shape = this.id;
  }
}
