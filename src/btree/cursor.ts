// A cursor: a place in the tree (a leaf and an index in it) and the path that leads there,
// read through one page source (the live pager, or a fixed view such as a snapshot). It
// owns every pin its operation takes, so that an operation that fails midway leaves nothing
// pinned (released()). It never writes a page: the tree writes through the pager and
// tracks those pins here (track), so one list holds every pin of an operation.
//
// Invariants:
//   - between operations the cursor holds no pin (heldCount === 0): each operation ends
//     with its pins unpinned or, when it fails, released();
//   - it holds at most PINS_MAX pins at once (the tree's operations take at most 4);
//   - read pins are taken from and returned to `source`; write pins (the tree's) to the
//     pager, dirty when the operation failed (they may be half changed);
//   - pathPages[0..depth) is the path of the last descent, root first: pathPages[l + 1] is
//     child pathIndex[l] of pathPages[l], and pathPages[depth - 1] is a leaf;
//   - (leaf, index) is the entry a range reads next, written by the positioning methods
//     (leaf 0: none); `found` is the last search's result in the leaf;
//   - every page number followed was first checked to lie in 2..source.pageCount, and
//     every walk along a chain is bounded by source.pageCount.
// Nothing here allocates but the copies a range or a get returns.

import { assert, isPagekvError, PagekvError } from "../errors.js";
import { readU16, readU32 } from "../format/codec.js";
import type { PageSource } from "../pager/page-source.js";
import type { Frame, Pager } from "../pager/pager.js";
import { copyEntry, copyOut } from "./copies.js";
import {
  cellAt,
  cellProblem,
  childAt,
  commonPrefix,
  compareKey,
  count,
  headerProblem,
  KIND_INTERIOR,
  KIND_LEAF,
  KIND_OVERFLOW,
  kind,
  leafKeyOffset,
  leafValueOffset,
  leafValueWord,
  NODE_HEADER_BYTES,
  nodeProblem,
  nodeSound,
  OVERFLOW_FLAG,
  right,
  type SearchResult,
  search,
} from "./node.js";

/** Largest value: 64 MiB (an overflow chain of about 16,400 pages at 4 KiB). */
export const VALUE_BYTES_MAX = 64 * 2 ** 20;
/** Deepest tree walked before the file is declared corrupt (fan-out >= 4: 2^64 keys). */
export const TREE_DEPTH_MAX = 32;
/**
 * Frame.checked once checkNode has checked the frame's node whole (0: not yet). Above it,
 * PREFIX_KNOWN + p records also a prefix p every key of the node shares, for search():
 * its commonPrefix(), computed at a read pin while no write pin is out; dropped by every
 * write pin (write()); and put back by the holder of that pin only after a change it
 * knows keeps every key sharing p bytes (keepPrefix). So a prefix on record always holds
 * for the bytes in the frame. (Every change to a node goes through a write pin, and a
 * frame bound to another page or image starts at 0.)
 */
const NODE_CHECKED = 1;
const PREFIX_KNOWN = 2;
/** Pins one operation may hold (at most 4 by design; this is the hard bound). */
const PINS_MAX = 8;
/** Entries a range copies out of one leaf at a time (bounds the copies held ahead). */
const LEAF_COPY_MAX = 256;

const EMPTY = new Uint8Array(0);

export class Cursor {
  /** The view reads go through: the tree sets it at each operation, an iterator once. */
  source: PageSource;
  /** The last search's place in the leaf at the end of the path. */
  readonly found: SearchResult = { index: 0, exact: false, shared: 0 };
  /** Where a range goes next (leaf 0: nowhere). */
  leaf = 0;
  index = -1;
  readonly pathPages = new Uint32Array(TREE_DEPTH_MAX);
  readonly pathIndex = new Int32Array(TREE_DEPTH_MAX);
  depth = 0;
  private readonly pager: Pager;
  private readonly rootSlot: number;
  private readonly keyBytesMax: number;
  private readonly overflowPayload: number;
  /** Pins the current operation holds, and whether each was taken for writing. */
  private readonly held: Frame[] = new Array<Frame>(PINS_MAX);
  private readonly heldWrite: boolean[] = new Array<boolean>(PINS_MAX).fill(false);
  private heldCount = 0;

  /**
   * A cursor of the tree in `rootSlot` of `pager`'s header, reading `source` (which may be
   * the pager itself). The pager names the file in errors and takes back write pins.
   */
  constructor(pager: Pager, rootSlot: number, keyBytesMax: number, source: PageSource) {
    this.pager = pager;
    this.rootSlot = rootSlot;
    this.keyBytesMax = keyBytesMax;
    this.overflowPayload = pager.usableSize - NODE_HEADER_BYTES;
    this.source = source;
  }

  /** Pins the current operation holds (0 between operations). */
  get pinned(): number {
    return this.heldCount;
  }

  /** The root page in this cursor's view (0: an empty tree). */
  root(): number {
    const src = this.source;
    return src === this.pager ? this.pager.getSlot(this.rootSlot) : src.getSlot(this.rootSlot);
  }

  // ---- pins ----

  // Every pin an operation takes goes through these, so that an operation that fails
  // midway (an I/O error, a full pool, a crash, a damaged page) leaves nothing pinned: see
  // released(). Every page number the tree asks for came from the file (the root slot, a
  // child, sibling or overflow pointer), so a page the source refuses (free, or out of
  // range) is damage: ERR_CORRUPT.

  /** Pin a page for reading, in this cursor's view. */
  read(pgno: number): Frame {
    let f: Frame;
    try {
      // The live pager called as itself: its call sites stay monomorphic whatever views
      // other cursors read (a hot get through the pager must not pay for snapshots).
      const src = this.source;
      f = src === this.pager ? this.pager.get(pgno) : src.get(pgno);
    } catch (e) {
      throw this.refused(e, pgno);
    }
    this.track(f, false);
    return f;
  }

  /** Pin a page for writing: always from the pager, whatever view this cursor reads. */
  write(pgno: number): Frame {
    let f: Frame;
    try {
      f = this.pager.get(pgno, "write");
    } catch (e) {
      throw this.refused(e, pgno);
    }
    if (f.checked > NODE_CHECKED) f.checked = NODE_CHECKED; // the keys may change now
    this.track(f, true);
    return f;
  }

  /** Pin a node for reading and check its header: kind `expect` (0: leaf or interior). */
  readNode(pgno: number, expect: number): Frame {
    const f = this.read(pgno);
    this.checkNode(f, expect);
    return f;
  }

  /** Record a pin the operation took (`write`: from the pager, for writing). */
  track(f: Frame, write: boolean): void {
    if (this.heldCount === PINS_MAX) {
      if (write) this.pager.unpin(f, true);
      else this.source.unpin(f);
      throw new Error("pagekv internal assertion failed: a tree operation pinned too many pages");
    }
    this.held[this.heldCount] = f;
    this.heldWrite[this.heldCount++] = write;
  }

  /** Release a pin the operation took; `dirty` (a write pin only) declares a change. */
  unpin(f: Frame, dirty = false): void {
    let write = false;
    for (let i = this.heldCount - 1; i >= 0; i--) {
      if (this.held[i] === f) {
        write = this.heldWrite[i];
        this.held[i] = this.held[this.heldCount - 1];
        this.heldWrite[i] = this.heldWrite[this.heldCount - 1];
        this.heldCount--;
        break;
      }
    }
    if (write) {
      this.pager.unpin(f, dirty);
    } else {
      assert(!dirty, "a page pinned for reading was unpinned as changed");
      const src = this.source;
      if (src === this.pager) this.pager.unpin(f);
      else src.unpin(f);
    }
  }

  /**
   * After a failure: release every pin the operation still holds, pages pinned for writing
   * as dirty (they may be half changed, so the transaction's rollback must discard them).
   * Returns `e`, for `throw cursor.released(e)`.
   */
  released(e: unknown): unknown {
    while (this.heldCount > 0) {
      this.heldCount--;
      const f = this.held[this.heldCount];
      try {
        if (this.heldWrite[this.heldCount]) this.pager.unpin(f, true);
        else this.source.unpin(f);
      } catch {
        // The pager (or the view) is closed or dead: nothing is pinned any more.
      }
    }
    return e;
  }

  // ---- damage ----

  /**
   * The pinned node `f` must be a node of kind `expect` (0: either), checked at every pin;
   * and whole (header, every cell, the space count, every page number it holds), checked
   * once per image read in (Frame.checked): what the tree writes keeps a node whole, so
   * the pages it uses again and again are not checked again and again. A failure throws
   * (the caller's released() unpins `f`).
   */
  checkNode(f: Frame, expect: number): void {
    const d = f.data;
    if (f.checked >= NODE_CHECKED) {
      if (expect === 0 || kind(d) === expect) return;
      throw this.corrupt(f.pgno, headerProblem(d, expect) ?? "is not the node expected");
    }
    if (!nodeSound(d, expect, this.keyBytesMax)) {
      throw this.corrupt(f.pgno, nodeProblem(d, expect, this.keyBytesMax) ?? "is not a sound node");
    }
    if (kind(d) === KIND_INTERIOR) {
      const n = count(d);
      for (let i = 0; i <= n; i++) this.pointer(f.pgno, childAt(d, i), "a child pointer");
    } else if (right(d) !== 0) {
      this.pointer(f.pgno, right(d), "the right sibling pointer");
    }
    f.checked = NODE_CHECKED;
  }

  /**
   * Record again that every key of node `f`, pinned for writing by this operation, shares
   * its first `prefix` bytes, after a change that kept them so: a value rewritten in place,
   * or one key inserted that shares them (SearchResult.shared of its search in this node).
   * A write pin dropped the prefix on record; without this every update of a leaf would
   * compute it again.
   */
  keepPrefix(f: Frame, prefix: number): void {
    if (f.checked >= NODE_CHECKED) f.checked = PREFIX_KNOWN + prefix;
  }

  /** `to`, a page number read from page `from`, if it lies in 2..pageCount of the view. */
  pointer(from: number, to: number, what: string): number {
    const src = this.source;
    const pageCount = src === this.pager ? this.pager.pageCount : src.pageCount;
    if (to >= 2 && to <= pageCount) return to;
    throw this.corrupt(from, `${what} points at page ${to}, outside 2..${pageCount}`);
  }

  /** Cell `i` of the pinned node `f` (header checked) must lie inside the page. */
  checkCell(f: Frame, i: number): void {
    if (f.checked >= NODE_CHECKED) return; // every cell was checked with the node
    const problem = cellProblem(f.data, i, this.keyBytesMax);
    if (problem !== null) throw this.corrupt(f.pgno, problem);
  }

  /** An error of the source or pager for a page the tree asked for, as the tree reports it. */
  refused(e: unknown, pgno: number): unknown {
    if (!isPagekvError(e, "ERR_PAGE_RANGE")) return e;
    return new PagekvError(
      "ERR_CORRUPT",
      `${this.pager.path}: page ${pgno}: the tree refers to it, but it is not a page in use (${e.message})`,
      { path: this.pager.path, pgno, cause: e },
    );
  }

  corrupt(pgno: number, what: string): PagekvError {
    return new PagekvError("ERR_CORRUPT", `${this.pager.path}: page ${pgno}: ${what}`, {
      path: this.pager.path,
      pgno,
    });
  }

  // ---- descent ----

  /**
   * Walk from the root to the leaf where `key` belongs, recording the path; `found` holds
   * the leaf index. Pins one page at a time and allocates nothing. The tree is not empty.
   */
  descend(key: Uint8Array): number {
    const f = this.descendPinned(key);
    const pgno = f.pgno;
    this.unpin(f);
    return pgno;
  }

  /** descend(), returning the leaf still pinned for reading: the caller unpins it. */
  descendPinned(key: Uint8Array): Frame {
    let pgno = this.root();
    for (let depth = 0; depth < TREE_DEPTH_MAX; depth++) {
      const f = this.readNode(pgno, 0); // checked whole, as search() needs
      const d = f.data;
      let prefix = f.checked - PREFIX_KNOWN;
      if (prefix < 0) {
        prefix = commonPrefix(d);
        if (f.writers === 0) f.checked = PREFIX_KNOWN + prefix;
      }
      search(d, key, key.length, prefix, this.found);
      this.pathPages[depth] = pgno;
      this.pathIndex[depth] = this.found.index;
      if (kind(d) === KIND_LEAF) {
        this.depth = depth + 1;
        return f;
      }
      const child = childAt(d, this.found.index);
      this.unpin(f);
      pgno = this.pointer(pgno, child, "a child pointer");
    }
    throw this.corrupt(pgno, `lies deeper than ${TREE_DEPTH_MAX} levels`);
  }

  // ---- positioning ----

  // Each of these leaves its answer in (leaf, index) (leaf 0 when there is no such entry),
  // so a range step allocates no tuple.

  /** First entry >= key (> key when `open`). */
  seekFrom(key: Uint8Array, open: boolean): void {
    const leaf = this.descend(key);
    const index = this.found.exact && open ? this.found.index + 1 : this.found.index;
    this.settleForward(leaf, index);
  }

  /** Last entry <= key (< key when `open`). */
  seekBefore(key: Uint8Array, open: boolean): void {
    const leaf = this.descend(key);
    const index = this.found.exact && !open ? this.found.index : this.found.index - 1;
    if (index >= 0) this.place(leaf, index);
    else this.previousLeafEnd();
  }

  /** The last entry of the tree. */
  lastEntry(): void {
    let pgno = this.root();
    for (let depth = 0; depth < TREE_DEPTH_MAX; depth++) {
      const f = this.readNode(pgno, 0);
      const d = f.data;
      const k = kind(d);
      const n = count(d);
      this.pathPages[depth] = pgno;
      this.pathIndex[depth] = n;
      const child = right(d);
      this.unpin(f);
      if (k === KIND_LEAF) {
        this.depth = depth + 1;
        if (n > 0) this.place(pgno, n - 1);
        else this.previousLeafEnd();
        return;
      }
      pgno = this.pointer(pgno, child, "the rightmost child pointer");
    }
    throw this.corrupt(pgno, `lies deeper than ${TREE_DEPTH_MAX} levels`);
  }

  /** From the leaf at the end of the recorded path, the last entry of an earlier leaf. */
  previousLeafEnd(): void {
    // Each round visits one more leaf to the left: more rounds than pages is a cycle.
    for (let round = 0; ; round++) {
      let level = this.depth - 2;
      while (level >= 0 && this.pathIndex[level] === 0) level--;
      if (level < 0) {
        this.place(0, -1);
        return;
      }
      const parent = this.pathPages[level];
      if (round > this.source.pageCount) {
        throw this.corrupt(
          parent,
          "leads a reverse walk through more leaves than the file has pages",
        );
      }
      // Down the left neighbour's subtree along rightmost children.
      let f = this.readNode(parent, KIND_INTERIOR);
      const at = this.pathIndex[level] - 1;
      let pgno = at < count(f.data) ? childAt(f.data, at) : 0;
      this.unpin(f);
      pgno = this.pointer(parent, pgno, "a child pointer");
      this.pathIndex[level]--;
      for (let depth = level + 1; ; depth++) {
        if (depth >= TREE_DEPTH_MAX)
          throw this.corrupt(pgno, `lies deeper than ${TREE_DEPTH_MAX} levels`);
        f = this.readNode(pgno, 0);
        const d = f.data;
        const n = count(d);
        this.pathPages[depth] = pgno;
        this.pathIndex[depth] = n;
        const leaf = kind(d) === KIND_LEAF;
        const child = right(d);
        this.unpin(f);
        if (leaf) {
          this.depth = depth + 1;
          if (n > 0) {
            this.place(pgno, n - 1);
            return;
          }
          break; // an empty leaf: keep going left
        }
        pgno = this.pointer(pgno, child, "the rightmost child pointer");
      }
    }
  }

  /** `index` in `leaf` if it is inside the leaf, else the first entry of a later leaf. */
  settleForward(leaf: number, index: number): void {
    let pgno = leaf;
    let i = index;
    for (let hops = 0; pgno !== 0; hops++) {
      if (hops > this.source.pageCount)
        throw this.corrupt(leaf, "starts a leaf chain with a cycle");
      const f = this.readNode(pgno, KIND_LEAF);
      const n = count(f.data);
      const next = right(f.data);
      this.unpin(f);
      if (i < n) {
        this.place(pgno, i);
        return;
      }
      if (next !== 0) this.pointer(pgno, next, "the right sibling pointer");
      pgno = next;
      i = 0;
    }
    this.place(0, -1);
  }

  place(leaf: number, index: number): void {
    this.leaf = leaf;
    this.index = index;
  }

  /**
   * Copy entries of `leaf` from `index` on (down when `reverse`) into `out`: at most `max`,
   * stopping at the leaf's end, past `bound` (inclusive unless `open`), or before an overflow
   * value unless it comes first (it is then the only entry). Leaves the next entry's place in
   * (leaf, index); returns true when `bound` was passed (the range is done). One pin at a time.
   */
  copyLeaf(
    leaf: number,
    index: number,
    reverse: boolean,
    bound: Uint8Array | undefined,
    open: boolean,
    max: number,
    out: [Uint8Array, Uint8Array][],
  ): boolean {
    const f = this.readNode(leaf, KIND_LEAF);
    const d = f.data;
    const n = count(d);
    const step = reverse ? -1 : 1;
    const passed = reverse ? (open ? 0 : 1) : open ? 0 : -1;
    let i = index;
    let overflow = false;
    for (; i >= 0 && i < n && out.length < max && out.length < LEAF_COPY_MAX; i += step) {
      this.checkCell(f, i);
      const cell = cellAt(d, i);
      const off = leafKeyOffset(cell);
      const len = readU16(d, cell); // the key's length
      if (bound !== undefined) {
        const c = compareKey(bound, bound.length, d, off, len);
        if (reverse ? c >= passed : c <= passed) {
          this.unpin(f);
          return true;
        }
      }
      const word = leafValueWord(d, cell);
      if (word >= OVERFLOW_FLAG) {
        overflow = out.length === 0;
        if (overflow) out.push([copyOut(d, off, off + len), EMPTY]);
        break;
      }
      // The value follows the key in the cell (node.ts's layout): one copy takes both.
      out.push(copyEntry(d, off, len, word));
    }
    const firstKey = out.length > 0 ? out[0][0] : null;
    const next = right(d);
    this.unpin(f);
    if (next !== 0) this.pointer(leaf, next, "the right sibling pointer");
    if (overflow) {
      out[0][1] = this.readValue(leaf, i);
      i += step;
    }
    // The next place: inside this leaf, or across to the neighbour.
    if (i >= 0 && i < n) this.place(leaf, i);
    else if (!reverse) this.settleForward(next, 0);
    else if (firstKey === null) this.place(0, -1);
    else {
      this.descend(firstKey); // records the path to this leaf
      this.previousLeafEnd();
    }
    return false;
  }

  // ---- values ----

  /** A copy of the value of cell `index` of `leaf`. */
  readValue(leaf: number, index: number): Uint8Array {
    const f = this.readNode(leaf, KIND_LEAF);
    if (index >= count(f.data)) throw this.corrupt(leaf, `has no cell ${index} any more`);
    return this.valueOf(f, index);
  }

  /** A copy of the value of cell `index` of leaf `f`, which is pinned: this unpins it. */
  valueOf(f: Frame, index: number): Uint8Array {
    const leaf = f.pgno;
    const d = f.data;
    this.checkCell(f, index);
    const off = cellAt(d, index);
    const word = leafValueWord(d, off);
    if (word < OVERFLOW_FLAG) {
      const at = leafValueOffset(d, off);
      const value = copyOut(d, at, at + word);
      this.unpin(f);
      return value;
    }
    const length = word - OVERFLOW_FLAG;
    let pgno = readU32(d, leafValueOffset(d, off));
    this.unpin(f);
    // The length is checked before it is allocated, the chain against it as it is read.
    const pages = Math.ceil(length / this.overflowPayload);
    const pageCount = this.source.pageCount;
    if (length > VALUE_BYTES_MAX || pages >= pageCount) {
      throw this.corrupt(
        leaf,
        `cell ${index} holds an overflow value of ${length} bytes (${pages} pages), ` +
          `more than the maximum ${VALUE_BYTES_MAX} or than the file's ${pageCount} pages`,
      );
    }
    const value = new Uint8Array(length);
    let from = leaf;
    let done = 0;
    while (done < length) {
      if (pgno === 0) {
        throw this.corrupt(
          from,
          `ends the overflow chain of a ${length}-byte value at byte ${done}`,
        );
      }
      this.pointer(from, pgno, "an overflow pointer");
      const o = this.read(pgno);
      if (kind(o.data) !== KIND_OVERFLOW) {
        throw this.corrupt(pgno, `kind ${kind(o.data)} in an overflow chain (from page ${from})`);
      }
      const n = Math.min(this.overflowPayload, length - done);
      value.set(o.data.subarray(NODE_HEADER_BYTES, NODE_HEADER_BYTES + n), done);
      done += n;
      const next = right(o.data);
      this.unpin(o);
      from = pgno;
      pgno = next;
    }
    if (pgno !== 0) {
      throw this.corrupt(
        from,
        `continues the overflow chain of a ${length}-byte value past its end`,
      );
    }
    return value;
  }
}
