// `pagekv load`: entries from JSON lines or TSV into the database, in transactions of
// `--batch` keys. Input is read in fixed chunks (never whole into memory, lines.ts); a bad line
// stops the load with its line number, and the batches committed before it stay.

import * as fs from "node:fs";
import { open } from "../index.js";
import { count, parse, positionals } from "./args.js";
import { fromJson } from "./bytes.js";
import { CliError, EXIT_OK, type Io } from "./io.js";
import { lines, type ReadChunk } from "./lines.js";
import { Progress } from "./progress.js";

export const LOAD_BATCH_DEFAULT = 10_000;
/** Largest batch: a transaction's dirty pages spill to the log, but keep it bounded. */
export const LOAD_BATCH_MAX = 1_000_000;
const STDIN_FD = 0;
/** How long to wait before reading again from a non-blocking stdin that had nothing. */
const RETRY_WAIT_MS = 1;
const waitCell = new Int32Array(new SharedArrayBuffer(4));

/** Reads of a file descriptor for lines(): 0 at the end. */
function reader(fd: number): ReadChunk {
  return (buf) => {
    for (;;) {
      try {
        return fs.readSync(fd, buf, 0, buf.length, null);
      } catch (e) {
        const code = (e as NodeJS.ErrnoException).code;
        if (code === "EOF") return 0;
        if (code !== "EAGAIN") throw e;
        Atomics.wait(waitCell, 0, 0, RETRY_WAIT_MS); // non-blocking stdin, nothing yet
      }
    }
  };
}

type Entry = [Uint8Array | string, Uint8Array | string];

function parseJsonLine(line: string, where: string): Entry {
  let o: unknown;
  try {
    o = JSON.parse(line);
  } catch (e) {
    throw new CliError("ERR_ARG", `${where}: not JSON (${(e as Error).message})`);
  }
  const rec = o !== null && typeof o === "object" ? (o as Record<string, unknown>) : {};
  const key = fromJson(rec.key);
  const value = fromJson(rec.value);
  if (key === undefined || value === undefined) {
    throw new CliError(
      "ERR_ARG",
      `${where}: expected {"key": ..., "value": ...} with strings or {"hex": ...}`,
    );
  }
  return [key, value];
}

function parseTsvLine(line: string, where: string): Entry {
  const tab = line.indexOf("\t");
  if (tab === -1) throw new CliError("ERR_ARG", `${where}: no tab between key and value`);
  return [line.slice(0, tab), line.slice(tab + 1)];
}

export function load(args: string[], io: Io): number {
  const { values: v, positionals: p } = parse("load", args, { batch: { type: "string" } });
  const [file, input] = positionals("load", p, ["file", "input"]);
  const batch = count("load", "batch", v.batch) ?? LOAD_BATCH_DEFAULT;
  if (batch < 1 || batch > LOAD_BATCH_MAX) {
    throw new CliError("ERR_USAGE", `load: --batch must be in 1..${LOAD_BATCH_MAX}`, 2);
  }
  let fd: number;
  let total = 0;
  if (input === "-") {
    fd = STDIN_FD;
  } else {
    try {
      fd = fs.openSync(input, "r");
      total = fs.fstatSync(fd).size;
    } catch (e) {
      throw new CliError("ERR_NOT_FOUND", `${input}: cannot read (${(e as Error).message})`);
    }
  }
  const progress = new Progress(io, `loading ${file}`, total);
  const db = open(file);
  let loaded = 0;
  try {
    let format: "json" | "tsv" | undefined;
    let pending: Entry[] = [];
    const flush = () => {
      const ops = pending;
      db.transaction((tx) => {
        for (const [k, val] of ops) tx.put(k, val);
      });
      loaded += ops.length;
      pending = [];
    };
    let lineNo = 0;
    for (const [raw, bytesRead] of lines(reader(fd))) {
      lineNo++;
      const line = raw.endsWith("\r") ? raw.slice(0, -1) : raw;
      if (line.trim() === "") continue;
      format ??= line.trimStart().startsWith("{") ? "json" : "tsv";
      const where = `${input}:${lineNo}`;
      pending.push(format === "json" ? parseJsonLine(line, where) : parseTsvLine(line, where));
      if (pending.length >= batch) {
        flush();
        progress.update(total > 0 ? bytesRead : loaded);
      }
    }
    if (pending.length > 0) flush();
    progress.update(total > 0 ? total : loaded, true);
  } finally {
    progress.done();
    if (fd !== STDIN_FD) fs.closeSync(fd);
    db.close();
  }
  io.out(`loaded ${loaded} entries into ${file}\n`);
  return EXIT_OK;
}
