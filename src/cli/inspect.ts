// Read-only views of a database file below the public API, for `stats` and `dump`: the
// tree's shape (depth, page counts, fill) and one page decoded with node.ts's accessors.
// Reads only through the View it is given (one snapshot: view.ts), never the live pager,
// and never writes a page; the B-tree's root is slot 0.

import {
  cellAt,
  childAt,
  count,
  freeBytes,
  interiorChild,
  KIND_INTERIOR,
  KIND_LEAF,
  KIND_OVERFLOW,
  keyLengthAt,
  keyOffsetAt,
  kind,
  leafValueOffset,
  leafValueWord,
  NODE_HEADER_BYTES,
  OVERFLOW_FLAG,
  right,
  usedBytes,
} from "../btree/node.js";
import { readU32 } from "../format/codec.js";
import { show } from "./bytes.js";
import type { View } from "./view.js";

/** The application slot holding the B-tree's root page (0: an empty tree). */
export const ROOT_SLOT = 0;
/** Deepest tree walked; a deeper one is reported rather than followed (check finds why). */
const WALK_DEPTH_MAX = 32;

export interface TreeInfo {
  root: number;
  /** Levels from root to leaf (0 for an empty tree). */
  depth: number;
  keys: number;
  leafPages: number;
  interiorPages: number;
  overflowPages: number;
  /** Bytes in cells and slots over usable node bytes, across all tree nodes (0..1). */
  fill: number;
}

/** Walk every tree node of the view once (pinning one page at a time); overflow chains are
 * counted from their value lengths, not read. */
export function treeInfo(view: View): TreeInfo {
  const { pager, snap } = view;
  const root = snap.getSlot(ROOT_SLOT);
  const info: TreeInfo = {
    root,
    depth: 0,
    keys: 0,
    leafPages: 0,
    interiorPages: 0,
    overflowPages: 0,
    fill: 0,
  };
  if (root === 0) return info;
  const payload = pager.usableSize - NODE_HEADER_BYTES;
  let used = 0;
  let capacity = 0;
  const walk = (pgno: number, depth: number): void => {
    if (depth >= WALK_DEPTH_MAX) return;
    const f = snap.get(pgno);
    const d = f.data;
    const n = count(d);
    const children: number[] = [];
    used += usedBytes(d);
    capacity += d.length - NODE_HEADER_BYTES;
    if (kind(d) === KIND_LEAF) {
      info.leafPages++;
      info.keys += n;
      info.depth = Math.max(info.depth, depth + 1);
      for (let i = 0; i < n; i++) {
        const word = leafValueWord(d, cellAt(d, i));
        if (word >= OVERFLOW_FLAG)
          info.overflowPages += Math.ceil((word - OVERFLOW_FLAG) / payload);
      }
    } else if (kind(d) === KIND_INTERIOR) {
      info.interiorPages++;
      for (let i = 0; i <= n; i++) children.push(childAt(d, i));
    }
    snap.unpin(f);
    for (const c of children) walk(c, depth + 1);
  };
  walk(root, 0);
  info.fill = capacity === 0 ? 0 : used / capacity;
  return info;
}

const KIND_NAMES: Record<number, string> = {
  [KIND_LEAF]: "leaf",
  [KIND_INTERIOR]: "interior",
  [KIND_OVERFLOW]: "overflow",
};

/**
 * Page `pgno` of the view decoded as lines of text. Page 1 is the pager's header (as of the
 * view: its page count, freelist and root); a free page says so.
 */
export function dumpPage(view: View, pgno: number): string[] {
  const { pager, snap } = view;
  if (pgno === 1) {
    return [
      "page 1: header (the pager's own)",
      `page size: ${pager.pageSize}`,
      `page count: ${snap.pageCount}`,
      `free pages: ${view.free.length}`,
      `checkpoint LSN: ${pager.checkpointLSN}`,
      `tree root (slot ${ROOT_SLOT}): ${snap.getSlot(ROOT_SLOT)}`,
    ];
  }
  if (view.isFree(pgno)) return [`page ${pgno}: free (on the freelist)`];
  const f = snap.get(pgno); // verifies the page's checksum and trailer
  try {
    const d = f.data;
    const k = kind(d);
    const name = KIND_NAMES[k] ?? `unknown (${k})`;
    const lines = [`page ${pgno}: ${name}`, "checksum: ok (verified on read)"];
    if (k === KIND_OVERFLOW) {
      lines.push(`next page: ${right(d) === 0 ? "none" : right(d)}`);
      return lines;
    }
    if (k !== KIND_LEAF && k !== KIND_INTERIOR) return lines;
    const n = count(d);
    lines.push(`cells: ${n}`, `free bytes: ${freeBytes(d)} of ${d.length - NODE_HEADER_BYTES}`);
    if (k === KIND_LEAF) lines.push(`right sibling: ${right(d) === 0 ? "none" : right(d)}`);
    for (let i = 0; i < n; i++) {
      const off = cellAt(d, i);
      const key = show(d.subarray(keyOffsetAt(d, i), keyOffsetAt(d, i) + keyLengthAt(d, i)));
      if (k === KIND_LEAF) {
        const word = leafValueWord(d, off);
        const value =
          word >= OVERFLOW_FLAG
            ? `${word - OVERFLOW_FLAG} bytes in overflow from page ${readU32(d, leafValueOffset(d, off))}`
            : `${word} bytes`;
        lines.push(`  ${String(i).padStart(4)}  ${key}  (${value})`);
      } else {
        lines.push(`  ${String(i).padStart(4)}  child ${interiorChild(d, off)}  < ${key}`);
      }
    }
    if (k === KIND_INTERIOR) lines.push(`  right child: ${right(d)}`);
    return lines;
  } finally {
    snap.unpin(f);
  }
}
