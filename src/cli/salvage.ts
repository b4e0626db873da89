// `pagekv salvage <damaged> <dest>`: every key/value pair that can still be read with
// verified checksums, copied into a new database, and a list of what could not be read.
// It reads both files raw (never through the pager, whose open refuses what it cannot
// explain) and never writes them. The rules (newest image, liveness, orphan leaves, the
// report): docs/design/backup.md, "Salvage".

import * as fs from "node:fs";
import {
  cellAt,
  cellProblem,
  childAt,
  count,
  headerProblem,
  interiorKeyLength,
  interiorKeyOffset,
  KIND_INTERIOR,
  KIND_LEAF,
  KIND_OVERFLOW,
  kind,
  leafKeyOffset,
  leafValueOffset,
  leafValueWord,
  NODE_HEADER_BYTES,
  nodeProblem,
  OVERFLOW_FLAG,
  right,
} from "../btree/node.js";
import { readU16, readU32 } from "../format/codec.js";
import { crc32 as crc32Fallback } from "../format/crc32.js";
import { loadFreelist } from "../format/freelist.js";
import { decodeHeader, HEADER_BYTES, type Header } from "../format/header.js";
import {
  checksummedView,
  isValidPageSize,
  PAGE_SIZE_MAX,
  PAGE_SIZE_MIN,
  pageDamage,
} from "../format/page.js";
import {
  decodeWalHeader,
  WAL_FRAME_HEADER_BYTES,
  WAL_HEADER_BYTES,
  type WalHeader,
  walFrameOffset,
} from "../format/wal-format.js";
import { open } from "../index.js";
import { walPathOf } from "../pager/pager.js";
import { NodeFS } from "../vfs/node/nodefs.js";
import type { Crc32, VFile } from "../vfs/vfs.js";
import { emptyScanState, saltFromFrames, scanLog } from "../wal/scan.js";
import { WalIndex } from "../wal/wal-index.js";
import { parse, positionals } from "./args.js";
import { show } from "./bytes.js";
import { CliError, EXIT_FAILURE, EXIT_OK, type Io } from "./io.js";

/** Keys written to the new database per transaction. */
export const SALVAGE_BATCH_KEYS = 1000;
/** Pages read to guess the page size when no header says it. */
const GUESS_PAGES = 64;
/** The longest value salvage follows (the tree's own limit is lower). */
const VALUE_BYTES_LIMIT = 2 ** 28;

type Pair = [Uint8Array, Uint8Array];
/** A key range [lo, hi): null is unbounded. */
interface Range {
  lo: Uint8Array | null;
  hi: Uint8Array | null;
}
interface Image {
  /** The verified usable bytes, or null when the image does not verify. */
  data: Uint8Array | null;
  /** "main file" or "log frame N". */
  where: string;
  fromLog: boolean;
  why: string;
}

export function salvage(args: string[], io: Io): number {
  const { positionals: p } = parse("salvage", args);
  const [damaged, dest] = positionals("salvage", p, ["damaged", "dest"]);
  if (!fs.existsSync(damaged)) throw new CliError("ERR_NOT_FOUND", `${damaged}: no such file`);
  for (const q of [dest, walPathOf(dest)]) {
    if (fs.existsSync(q)) {
      throw new CliError("ERR_EXISTS", `${q}: exists: salvage writes a new database only`);
    }
  }
  const vfs = new NodeFS();
  const s = new Salvager(vfs, damaged, vfs.crc32 ?? crc32Fallback);
  let saved = 0;
  const db = open(dest, { create: true });
  try {
    let batch: { type: "put"; key: Uint8Array; value: Uint8Array }[] = [];
    const flush = () => {
      if (batch.length === 0) return;
      db.batch(batch);
      saved += batch.length;
      batch = [];
    };
    s.run((key, value) => {
      batch.push({ type: "put", key, value });
      if (batch.length >= SALVAGE_BATCH_KEYS) flush();
    });
    flush();
    const problems = db.check();
    if (problems.length > 0) throw new CliError("ERR_VERIFY", `${dest}: ${problems[0]}`);
  } finally {
    db.close();
    s.close();
  }
  const lines = s.problems.map((line) => `${damaged}: ${line}\n`).join("");
  io.out(`${lines}${dest}: ${saved} keys saved\n`);
  if (s.problems.length === 0) return EXIT_OK;
  io.err(
    `pagekv: ERR_VERIFY: ${damaged}: ${s.problems.length} problem(s); ${saved} keys saved in ${dest}\n`,
  );
  return EXIT_FAILURE;
}

/** One damaged database read raw: its images, its tree as far as it goes, its orphans. */
export class Salvager {
  readonly problems: string[] = [];
  private readonly path: string;
  private readonly crc: Crc32;
  private readonly main: VFile;
  private readonly log: VFile | null;
  private readonly index = new WalIndex();
  private readonly pageSize: number;
  private readonly keyMax: number;
  /** Pages to look at: the header's count, or every page either file holds. */
  private readonly pages: number;
  private readonly header: Header | null;
  private readonly free: Set<number> | null;
  private readonly frame: Uint8Array;
  /** Pages the walk reached: tree nodes and the overflow pages of their values. */
  private readonly reached: Uint8Array;

  constructor(vfs: NodeFS, path: string, crc: Crc32) {
    this.path = path;
    this.crc = crc;
    this.main = vfs.open(path, { readOnly: true });
    const walPath = walPathOf(path);
    this.log = vfs.exists(walPath) ? vfs.open(walPath, { readOnly: true }) : null;
    const home = this.homeHeader();
    const walHead = this.log === null ? null : readWalHeader(this.log, crc);
    this.pageSize = home?.pageSize ?? walHead?.pageSize ?? this.guessPageSize();
    this.keyMax = this.pageSize / 16;
    this.frame = new Uint8Array(this.pageSize);
    this.scanLog(walHead, home);
    const newest = this.image(1);
    let header: Header | null = null;
    if (newest.data !== null) {
      try {
        header = decodeHeader(this.pageBytes(), crc, `${path} (page 1, ${newest.where})`);
      } catch (e) {
        this.problems.push(`page 1 (${newest.where}): ${messageOf(e)}`);
      }
    } else {
      this.problems.push(`page 1 (the header, ${newest.where}): ${newest.why}`);
    }
    this.header = header;
    const filePages = Math.floor(this.main.size() / this.pageSize);
    this.pages = header?.pageCount ?? filePages;
    this.reached = new Uint8Array(this.pages + 1);
    this.free = header === null ? null : this.readFreelist(header);
  }

  close(): void {
    this.main.close();
    this.log?.close();
  }

  /** Hand every readable pair to `emit`: the tree's leaves, then the orphans. */
  run(emit: (key: Uint8Array, value: Uint8Array) => void): void {
    const reached = this.reached;
    const lost: Range[] = [];
    const root = this.header === null ? 0 : this.header.slots[0];
    if (this.header === null) lost.push({ lo: null, hi: null });
    else if (root !== 0) this.walk(root, reached, lost, emit);
    if (lost.length === 0) {
      this.reportUnreached(reached);
      return;
    }
    // Orphan leaves: taken inside a lost range only; a conflict between two is not copied.
    const found = new Map<
      string,
      { key: Uint8Array; value: Uint8Array; pgno: number; log: boolean }
    >();
    const conflicts = new Set<string>();
    for (let pgno = 2; pgno <= this.pages; pgno++) {
      if (reached[pgno] !== 0 || this.free?.has(pgno) === true) continue;
      const img = this.image(pgno);
      if (img.data === null) {
        this.problems.push(`page ${pgno} (${img.where}): ${img.why}: not reached from the root`);
        continue;
      }
      const d = img.data;
      if (kind(d) !== KIND_LEAF || nodeProblem(d, KIND_LEAF, this.keyMax) !== null) continue;
      for (const [key, value] of this.cells(d, pgno)) {
        if (!lost.some((r) => inRange(key, r))) continue;
        const id = hexOf(key);
        const had = found.get(id);
        if (had === undefined) {
          found.set(id, { key, value, pgno, log: img.fromLog });
        } else if (!sameBytes(had.value, value)) {
          if (img.fromLog && !had.log) found.set(id, { key, value, pgno, log: true });
          else if (img.fromLog === had.log) {
            if (!conflicts.has(id)) {
              this.problems.push(
                `key '${show(key)}': pages ${had.pgno} and ${pgno} hold different values (one may be a stale free page): not copied`,
              );
            }
            conflicts.add(id);
          }
        }
      }
    }
    const sorted = [...found.entries()].filter(([id]) => !conflicts.has(id));
    sorted.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
    for (const [, e] of sorted) emit(e.key, e.value);
  }

  /** Damaged pages that are neither free nor reached, when the whole tree was reached. */
  private reportUnreached(reached: Uint8Array): void {
    for (let pgno = 2; pgno <= this.pages; pgno++) {
      if (reached[pgno] !== 0 || this.free?.has(pgno) === true) continue;
      const img = this.image(pgno);
      if (img.data === null) {
        this.problems.push(`page ${pgno} (${img.where}): ${img.why}: not reached from the root`);
      }
    }
  }

  /** Depth first from the root; every page is visited once (a cycle is damage). */
  private walk(
    root: number,
    reached: Uint8Array,
    lost: Range[],
    emit: (key: Uint8Array, value: Uint8Array) => void,
  ): void {
    const stack: { pgno: number; range: Range }[] = [{ pgno: root, range: { lo: null, hi: null } }];
    while (stack.length > 0) {
      const { pgno, range } = stack.pop() as { pgno: number; range: Range };
      const where = `keys ${rangeText(range)}`;
      if (pgno < 2 || pgno > this.pages || reached[pgno] !== 0) {
        this.problems.push(
          `a pointer to page ${pgno} (out of range, or seen twice): ${where} lost`,
        );
        lost.push(range);
        continue;
      }
      reached[pgno] = 1;
      const img = this.image(pgno);
      const d = img.data;
      if (d === null) {
        this.problems.push(`page ${pgno} (${img.where}): ${img.why}: ${where} lost`);
        lost.push(range);
        continue;
      }
      const k = kind(d);
      if (k === KIND_LEAF && nodeProblem(d, KIND_LEAF, this.keyMax) === null) {
        for (const [key, value] of this.cells(d, pgno)) {
          if (inRange(key, range)) emit(key, value);
        }
        continue;
      }
      if (k !== KIND_INTERIOR || nodeProblem(d, KIND_INTERIOR, this.keyMax) !== null) {
        const why = headerProblem(d, 0) ?? nodeProblem(d, 0, this.keyMax) ?? `kind ${k}`;
        this.problems.push(`page ${pgno} (${img.where}): not a tree node (${why}): ${where} lost`);
        lost.push(range);
        continue;
      }
      const n = count(d);
      let lo = range.lo;
      const children: { pgno: number; range: Range }[] = [];
      for (let i = 0; i < n; i++) {
        const off = cellAt(d, i);
        const ko = interiorKeyOffset(off);
        const sep = d.slice(ko, ko + interiorKeyLength(d, off));
        children.push({ pgno: childAt(d, i), range: { lo, hi: sep } });
        lo = sep;
      }
      children.push({ pgno: right(d), range: { lo, hi: range.hi } });
      for (let i = children.length - 1; i >= 0; i--) stack.push(children[i]);
    }
  }

  /** The pairs of a sound leaf, their values read (overflow chains followed and verified). */
  private cells(d: Uint8Array, pgno: number): Pair[] {
    const out: Pair[] = [];
    const n = count(d);
    for (let i = 0; i < n; i++) {
      if (cellProblem(d, i, this.keyMax) !== null) continue;
      const off = cellAt(d, i);
      const ko = leafKeyOffset(off);
      const key = d.slice(ko, ko + readU16(d, off));
      const word = leafValueWord(d, off);
      const vo = leafValueOffset(d, off);
      if (word < OVERFLOW_FLAG) {
        out.push([key, d.slice(vo, vo + word)]);
        continue;
      }
      const value = this.chain(readU32(d, vo), word - OVERFLOW_FLAG, key, pgno);
      if (value !== null) out.push([key, value]);
    }
    return out;
  }

  /** A value in an overflow chain, or null (reported) when a page of it cannot be read. */
  private chain(first: number, length: number, key: Uint8Array, leaf: number): Uint8Array | null {
    const lose = (what: string) => {
      this.problems.push(`key '${show(key)}' (leaf page ${leaf}): value lost: ${what}`);
      return null;
    };
    if (length > VALUE_BYTES_LIMIT) return lose(`an overflow value of ${length} bytes`);
    const value = new Uint8Array(length);
    const per = this.pageSize - 8 - NODE_HEADER_BYTES;
    let done = 0;
    let pgno = first;
    // Bounded: each page carries `per` bytes, so the chain has ceil(length / per) pages.
    for (let step = 0; done < length; step++) {
      if (pgno < 2 || pgno > this.pages || step > length / per + 1) {
        return lose(`overflow pointer ${pgno} is out of range`);
      }
      if (pgno < this.reached.length) this.reached[pgno] = 1;
      const img = this.image(pgno);
      if (img.data === null) return lose(`overflow page ${pgno} (${img.where}): ${img.why}`);
      if (kind(img.data) !== KIND_OVERFLOW) {
        return lose(`page ${pgno} in its overflow chain is of kind ${kind(img.data)}`);
      }
      const take = Math.min(per, length - done);
      value.set(img.data.subarray(NODE_HEADER_BYTES, NODE_HEADER_BYTES + take), done);
      done += take;
      pgno = right(img.data);
    }
    return value;
  }

  /**
   * The newest image of `pgno`: its newest committed log frame, else the main file's.
   * The usable bytes returned are a copy the caller may keep.
   */
  private image(pgno: number): Image {
    const frame = this.log === null ? -1 : this.index.newestOf(pgno);
    const page = this.frame;
    let got: number;
    let where: string;
    if (frame >= 0) {
      where = `log frame ${frame}`;
      got = (this.log as VFile).readAt(
        page,
        walFrameOffset(frame, this.pageSize) + WAL_FRAME_HEADER_BYTES,
      );
    } else {
      where = "main file";
      got = this.main.readAt(page, (pgno - 1) * this.pageSize);
    }
    const fromLog = frame >= 0;
    if (got < this.pageSize) {
      return { data: null, where, fromLog, why: "lies past the end of the file" };
    }
    const why = pageDamage(page, checksummedView(page), pgno, this.crc);
    if (why !== null) return { data: null, where, fromLog, why };
    return { data: page.slice(0, this.pageSize - 8), where, fromLog, why: "" };
  }

  /** The whole page last read by image() (for page 1's header). */
  private pageBytes(): Uint8Array {
    return this.frame;
  }

  private homeHeader(): Header | null {
    const first = new Uint8Array(HEADER_BYTES);
    if (this.main.readAt(first, 0) < HEADER_BYTES) return null;
    try {
      return decodeHeader(first, this.crc, this.path);
    } catch {
      return null;
    }
  }

  /** The page size for which most of the file's first pages verify. */
  private guessPageSize(): number {
    let best = 0;
    let bestSize = 0;
    for (let size = PAGE_SIZE_MIN; size <= PAGE_SIZE_MAX; size *= 2) {
      if (!isValidPageSize(size)) continue;
      const page = new Uint8Array(size);
      let ok = 0;
      for (let pgno = 1; pgno <= GUESS_PAGES; pgno++) {
        if (this.main.readAt(page, (pgno - 1) * size) < size) break;
        if (pageDamage(page, checksummedView(page), pgno, this.crc) === null) ok++;
      }
      if (ok > best) {
        best = ok;
        bestSize = size;
      }
    }
    if (bestSize === 0) {
      throw new CliError(
        "ERR_CORRUPT",
        `${this.path}: no page verifies at any page size: nothing can be salvaged`,
      );
    }
    return bestSize;
  }

  /** Link the log's committed frames (up to its first damage) into the index. */
  private scanLog(head: WalHeader | null, home: Header | null): void {
    const log = this.log;
    if (log === null) return;
    const path = walPathOf(this.path);
    let salt = head;
    if (salt === null && home !== null) {
      const expect = { pageSize: home.pageSize, databaseId: home.databaseId };
      salt = saltFromFrames(log, path, expect, this.crc, "truncate").salt;
    }
    if (salt === null) {
      if (log.size() > WAL_HEADER_BYTES) {
        this.problems.push(`${path}: the log's header is damaged: its frames are not used`);
      }
      return;
    }
    if (salt.pageSize !== this.pageSize || (home !== null && salt.databaseId !== home.databaseId)) {
      this.problems.push(`${path}: the log belongs to another database: not used`);
      return;
    }
    const state = emptyScanState();
    scanLog({ file: log, path, salt, crc: this.crc }, this.index, "truncate", state);
    // Frames past the end that no later frame says were synced are a torn tail or the
    // leftovers of an older generation, not damage; damage to synced ones loses commits.
    const dropped = state.found.droppedTransactions;
    if (dropped > 0) {
      this.problems.push(
        `${path}: log frame ${state.frames} does not verify but had been synced: the ` +
          `${dropped} commit(s) after it are not used`,
      );
    }
  }

  /** The freelist through the newest images, or null (reported) when it cannot be read. */
  private readFreelist(h: Header): Set<number> | null {
    if (h.freeCount === 0) return new Set();
    try {
      const pages = loadFreelist(
        {
          path: this.path,
          pageCount: h.pageCount,
          usableSize: this.pageSize - 8,
          readTrunk: (pgno) => {
            const img = this.image(pgno);
            if (img.data === null) {
              throw new CliError(
                "ERR_CORRUPT",
                `freelist trunk page ${pgno} (${img.where}): ${img.why}`,
              );
            }
            return img.data;
          },
        },
        h.freeTrunk,
        h.freeCount,
      );
      return new Set(pages);
    } catch (e) {
      this.problems.push(
        `the freelist cannot be read (${messageOf(e)}): stale leaves may be taken for orphans`,
      );
      return null;
    }
  }
}

function readWalHeader(log: VFile, crc: Crc32): WalHeader | null {
  const b = new Uint8Array(WAL_HEADER_BYTES);
  if (log.readAt(b, 0) < WAL_HEADER_BYTES) return null;
  return decodeWalHeader(b, crc);
}

function messageOf(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

function compare(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return a[i] - b[i];
  return a.length - b.length;
}

function inRange(key: Uint8Array, r: Range): boolean {
  return (r.lo === null || compare(key, r.lo) >= 0) && (r.hi === null || compare(key, r.hi) < 0);
}

function rangeText(r: Range): string {
  if (r.lo === null && r.hi === null) return "(every key)";
  if (r.lo === null) return `before '${show(r.hi as Uint8Array)}'`;
  if (r.hi === null) return `from '${show(r.lo)}' on`;
  return `from '${show(r.lo)}' to before '${show(r.hi)}'`;
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && compare(a, b) === 0;
}

/** A key as a string that sorts as its bytes do. */
function hexOf(b: Uint8Array): string {
  let s = "";
  for (const x of b) s += x.toString(16).padStart(2, "0");
  return s;
}
