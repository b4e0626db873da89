// The commands that read or write keys, and the inspection commands: each parses its own
// arguments and returns an exit code; errors are thrown and reported by run.ts. Every
// command closes what it opened, whatever happens.
//
// The read commands run beside a writer in another process (docs/design/readers.md): each
// reads one committed state. get is one read; scan is db.range(), which reads one snapshot
// from its first entry to its last; stats, check and dump read every page, the root, the
// page count and the freelist from one snapshot taken at their start (view.ts), so a
// commit or checkpoint made meanwhile can neither mix two states nor show as damage.

import * as fs from "node:fs";
import { BTree } from "../btree/btree.js";
import { checkKind, type RangeOptions } from "../db/db.js";
import { walPathOf } from "../pager/pager.js";
import { bytesArg, count, parse, positionals, recoverMode, str } from "./args.js";
import { show, sizeOf, toJson } from "./bytes.js";
import { dumpPage, treeInfo } from "./inspect.js";
import { CliError, EXIT_FAILURE, EXIT_OK, type Io, usageError } from "./io.js";
import { withDb } from "./open.js";
import { withView } from "./view.js";

function keyNotFound(path: string, key: string): CliError {
  return new CliError("ERR_KEY_NOT_FOUND", `${path}: no key '${key}'`);
}

export function put(args: string[], io: Io): number {
  const { values: v, positionals: p } = parse("put", args);
  const [file, key, value] = positionals("put", p, ["file", "key", "value"]);
  const k = bytesArg("put", "<key>", key);
  const val = bytesArg("put", "<value>", value);
  withDb(file, "create", recoverMode("put", v.recover), io, (db) => db.put(k, val));
  return EXIT_OK;
}

export function get(args: string[], io: Io): number {
  const { values: v, positionals: p } = parse("get", args);
  const [file, key] = positionals("get", p, ["file", "key"]);
  const k = bytesArg("get", "<key>", key);
  const value = withDb(file, "read", recoverMode("get", v.recover), io, (db) => db.get(k));
  if (value === undefined) throw keyNotFound(file, key);
  io.out(
    v.json === true
      ? `${JSON.stringify({ key: toJson(k), value: toJson(value) })}\n`
      : `${show(value)}\n`,
  );
  return EXIT_OK;
}

export function del(args: string[], io: Io): number {
  const { values: v, positionals: p } = parse("del", args);
  const [file, key] = positionals("del", p, ["file", "key"]);
  const k = bytesArg("del", "<key>", key);
  if (!withDb(file, "write", recoverMode("del", v.recover), io, (db) => db.delete(k))) {
    throw keyNotFound(file, key);
  }
  return EXIT_OK;
}

export function scan(args: string[], io: Io): number {
  const { values: v, positionals: p } = parse("scan", args);
  const [file] = positionals("scan", p, ["file"]);
  const range: RangeOptions = { reverse: v.reverse === true };
  for (const bound of ["gt", "gte", "lt", "lte", "prefix"] as const) {
    const b = str(v[bound]);
    if (b !== undefined) range[bound] = bytesArg("scan", `--${bound}`, b);
  }
  const limit = count("scan", "limit", v.limit);
  if (limit !== undefined) range.limit = limit;
  const json = v.json === true;
  withDb(file, "read", recoverMode("scan", v.recover), io, (db) => {
    // Lines are gathered into chunks so a long scan is not one write call per key.
    let chunk = "";
    for (const [key, value] of db.range(range)) {
      chunk += json
        ? `${JSON.stringify({ key: toJson(key), value: toJson(value) })}\n`
        : `${show(key)}\t${show(value)}\n`;
      if (chunk.length >= 65536) {
        io.out(chunk);
        chunk = "";
      }
    }
    if (chunk.length > 0) io.out(chunk);
  });
  return EXIT_OK;
}

function fileSize(path: string): number {
  try {
    return fs.statSync(path).size;
  } catch {
    return 0;
  }
}

export function stats(args: string[], io: Io): number {
  const { values: v, positionals: p } = parse("stats", args);
  const [file] = positionals("stats", p, ["file"]);
  if (!fs.existsSync(file)) throw new CliError("ERR_NOT_FOUND", `${file}: no such database`);
  const fileBytes = fileSize(file);
  const logBytes = fileSize(walPathOf(file));
  const lines = withView(file, recoverMode("stats", v.recover), io, (view) => {
    const { pager, snap } = view;
    const t = treeInfo(view);
    const s = pager.stats();
    const lookups = s.hits + s.misses;
    const rows: [string, string][] = [
      ["file", file],
      ["file size", `${sizeOf(fileBytes)} (${fileBytes} bytes)`],
      ["log size", `${sizeOf(logBytes)} (${logBytes} bytes)`],
      ["page size", String(pager.pageSize)],
      ["pages", `${snap.pageCount} (1 header, ${view.free.length} free)`],
      ["keys", String(t.keys)],
      ["tree depth", String(t.depth)],
      ["tree root", t.root === 0 ? "none (empty)" : `page ${t.root}`],
      [
        "tree pages",
        `${t.leafPages} leaf, ${t.interiorPages} interior, ${t.overflowPages} overflow`,
      ],
      ["fill", `${(t.fill * 100).toFixed(1)}% of node bytes`],
      ["pool frames", String(s.cacheFrames)],
      [
        "pool (one walk)",
        `${s.hits} hits, ${s.misses} misses, hit ratio ${lookups === 0 ? "-" : `${((s.hits / lookups) * 100).toFixed(1)}%`}, ${s.evictions} evictions`,
      ],
    ];
    return rows.map(([k, val]) => `${k.padEnd(16)} ${val}\n`).join("");
  });
  io.out(lines);
  return EXIT_OK;
}

export function check(args: string[], io: Io): number {
  const { values: v, positionals: p } = parse("check", args);
  const [file] = positionals("check", p, ["file"]);
  if (!fs.existsSync(file)) throw new CliError("ERR_NOT_FOUND", `${file}: no such database`);
  // An empty file is refused as open() refuses it (check read through a Database before).
  if (fileSize(file) === 0 && !fs.existsSync(walPathOf(file))) {
    throw new CliError(
      "ERR_NOT_DATABASE",
      `${file}: the file is empty (0 bytes), not a database yet (open it writable to create one)`,
    );
  }
  const problems = withView(file, recoverMode("check", v.recover), io, (view) => {
    checkKind(view.pager, true);
    return new BTree(view.pager).check(view.snap, view.free);
  });
  if (problems.length === 0) {
    io.out(`${file}: ok\n`);
    return EXIT_OK;
  }
  io.out(problems.map((s) => `${s}\n`).join(""));
  io.err(`pagekv: ERR_VERIFY: ${file}: ${problems.length} problem(s) found\n`);
  return EXIT_FAILURE;
}

export function dump(args: string[], io: Io): number {
  const { values: v, positionals: p } = parse("dump", args);
  const [file, page] = positionals("dump", p, ["file", "page"]);
  const pgno = /^\d+$/.test(page) ? Number(page) : Number.NaN;
  if (!Number.isSafeInteger(pgno) || pgno < 1) {
    throw usageError(`dump: <page> must be a page number (1 or more), got '${page}'`);
  }
  if (!fs.existsSync(file)) throw new CliError("ERR_NOT_FOUND", `${file}: no such database`);
  const lines = withView(file, recoverMode("dump", v.recover), io, (view) => dumpPage(view, pgno));
  io.out(lines.map((s) => `${s}\n`).join(""));
  return EXIT_OK;
}

export function compact(args: string[], io: Io): number {
  const { values: v, positionals: p } = parse("compact", args);
  const [file] = positionals("compact", p, ["file"]);
  const [r, pageSize] = withDb(
    file,
    "write",
    recoverMode("compact", v.recover),
    io,
    (db) => [db.compact(), db.stats().pageSize] as const,
  );
  // The close's checkpoint may have cut what a reader held back: the size as it is now.
  const bytesNow = fileSize(file);
  if (v.json === true) {
    io.out(`${JSON.stringify({ file, ...r, bytesAfter: bytesNow })}\n`);
    return EXIT_OK;
  }
  const cut = bytesNow <= r.pagesAfter * pageSize;
  io.out(
    `${file}: ${r.pagesBefore} -> ${r.pagesAfter} pages (${r.pagesMoved} moved, ` +
      `${r.leavesMerged} leaves merged, ${r.transactions} transactions); file ` +
      `${sizeOf(r.bytesBefore)} -> ${sizeOf(bytesNow)}\n`,
  );
  if (!cut) {
    io.out(
      `${file}: a reader is behind the last commit: the file is cut to ${r.pagesAfter} ` +
        "pages at the first checkpoint after it moves on\n",
    );
  }
  return EXIT_OK;
}
