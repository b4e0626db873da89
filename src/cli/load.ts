// `pagekv load`: entries from JSON lines or TSV into the database, in transactions of
// `--batch` keys. Input is read in fixed chunks (never whole into memory, lines.ts); a bad
// line stops the load with its line number and the count of entries committed before it,
// which stay. The input is opened before the database, and a database this load created
// is removed again when nothing was committed to it: a failed load leaves no new file.

import * as fs from "node:fs";
import type { Database } from "../db/db.js";
import { isPagekvError } from "../errors.js";
import { walPathOf } from "../pager/pager.js";
import { count, notHex, parse, positionals, recoverMode } from "./args.js";
import { fromJson, parsePlain } from "./bytes.js";
import { CliError, EXIT_OK, fromSystemError, type Io, usageError } from "./io.js";
import { lines, type ReadChunk } from "./lines.js";
import { messageOf, openDb } from "./open.js";
import { Progress } from "./progress.js";

export const LOAD_BATCH_DEFAULT = 10_000;
/** Largest batch: a transaction's dirty pages spill to the log, but keep it bounded. */
export const LOAD_BATCH_MAX = 1_000_000;
const STDIN_FD = 0;
/** How long to wait before reading again from a non-blocking stdin that had nothing. */
const RETRY_WAIT_MS = 1;
const waitCell = new Int32Array(new SharedArrayBuffer(4));

type Entry = [Uint8Array, Uint8Array];

interface Input {
  fd: number;
  /** The name in messages: the path, or "stdin". */
  name: string;
  /** Bytes, for the progress bar (0: unknown). */
  size: number;
}

/** Open the input and make sure it can be read as a file, before any database exists. */
function openInput(input: string): Input {
  const name = input === "-" ? "stdin" : input;
  let fd = STDIN_FD;
  if (input !== "-") {
    try {
      fd = fs.openSync(input, "r");
    } catch (e) {
      throw fromSystemError(e, name);
    }
  }
  try {
    const st = fs.fstatSync(fd);
    if (st.isDirectory()) throw new CliError("ERR_IO", `${name}: is a directory, not a file`);
    return { fd, name, size: fd !== STDIN_FD && st.isFile() ? st.size : 0 };
  } catch (e) {
    if (fd !== STDIN_FD) fs.closeSync(fd);
    throw fromSystemError(e, name);
  }
}

function reader(input: Input): ReadChunk {
  return (buf) => {
    for (;;) {
      try {
        return fs.readSync(input.fd, buf, 0, buf.length, null);
      } catch (e) {
        const code = (e as NodeJS.ErrnoException).code;
        if (code === "EOF") return 0;
        if (code !== "EAGAIN") throw fromSystemError(e); // failure() says where
        Atomics.wait(waitCell, 0, 0, RETRY_WAIT_MS); // non-blocking stdin, nothing yet
      }
    }
  };
}

/** A key or value field of a TSV line, in the plain form (bytes.ts). */
function tsvField(s: string, what: string): Uint8Array {
  const b = parsePlain(s);
  if (b === undefined) throw new CliError("ERR_ARG", `${what} ${notHex(s)}`);
  return b;
}

function parseTsvLine(line: string): Entry {
  const tab = line.indexOf("\t");
  if (tab === -1) throw new CliError("ERR_ARG", "no tab between key and value");
  return [tsvField(line.slice(0, tab), "key"), tsvField(line.slice(tab + 1), "value")];
}

function parseJsonLine(line: string): Entry {
  let o: unknown;
  try {
    o = JSON.parse(line);
  } catch (e) {
    throw new CliError("ERR_ARG", `not JSON (${(e as Error).message})`);
  }
  const rec = o !== null && typeof o === "object" ? (o as Record<string, unknown>) : {};
  const key = fromJson(rec.key);
  const value = fromJson(rec.value);
  if (key === undefined || value === undefined) {
    throw new CliError(
      "ERR_ARG",
      `expected {"key": ..., "value": ...} with strings or {"hex": ...}`,
    );
  }
  return [key, value];
}

/** The load's state, for the message of a failure. */
interface Progressed {
  /** Entries in committed transactions. */
  committed: number;
  /** The line being read or put when it failed; 0 when not one line (a commit). */
  line: number;
  /** The lines of the batch being committed. */
  batchLines: [number, number];
}

function loadInto(db: Database, input: Input, batch: number, io: Io, at: Progressed): void {
  const progress = new Progress(io, `loading ${db.path}`, input.size);
  try {
    let format: "json" | "tsv" | undefined;
    let pending: Entry[] = [];
    let pendingLines: number[] = [];
    const flush = () => {
      const ops = pending;
      const opLines = pendingLines;
      at.batchLines = [opLines[0], opLines[opLines.length - 1]];
      db.transaction((tx) => {
        for (let i = 0; i < ops.length; i++) {
          at.line = opLines[i];
          tx.put(ops[i][0], ops[i][1]);
        }
        at.line = 0; // from here on, a failure is the commit's
      });
      at.committed += ops.length;
      pending = [];
      pendingLines = [];
    };
    let lineNo = 0;
    at.line = 1;
    for (const [raw, bytesRead] of lines(reader(input))) {
      lineNo++;
      at.line = lineNo;
      const line = raw.endsWith("\r") ? raw.slice(0, -1) : raw;
      if (line.trim() === "") continue;
      format ??= line.trimStart().startsWith("{") ? "json" : "tsv";
      pending.push(format === "json" ? parseJsonLine(line) : parseTsvLine(line));
      pendingLines.push(lineNo);
      if (pending.length >= batch) {
        flush();
        progress.update(input.size > 0 ? bytesRead : at.committed);
      }
      at.line = lineNo + 1; // a failure while reading is the next line's
    }
    if (pending.length > 0) flush();
    progress.update(input.size > 0 ? input.size : at.committed, true);
  } finally {
    progress.done();
  }
}

/** `e` with where it happened and what had been committed, as one CliError. */
function failure(e: unknown, input: Input, at: Progressed): unknown {
  let code: string;
  let message: string;
  if (e instanceof CliError) {
    code = e.code;
    message = e.message;
  } else if (isPagekvError(e)) {
    code = e.code;
    message = messageOf(e);
  } else {
    return e; // a bug: reported as ERR_INTERNAL
  }
  const where =
    at.line > 0
      ? `${input.name}:${at.line}`
      : `${input.name}: committing lines ${at.batchLines[0]}-${at.batchLines[1]}`;
  return new CliError(code, `${where}: ${message}; ${at.committed} entries committed before it`);
}

export function load(args: string[], io: Io): number {
  const { values: v, positionals: p } = parse("load", args);
  const [file, inputArg] = positionals("load", p, ["file", "input"]);
  const batch = count("load", "batch", v.batch) ?? LOAD_BATCH_DEFAULT;
  if (batch < 1 || batch > LOAD_BATCH_MAX) {
    throw usageError(`load: --batch must be in 1..${LOAD_BATCH_MAX}`);
  }
  const recover = recoverMode("load", v.recover);
  const input = openInput(inputArg);
  const at: Progressed = { committed: 0, line: 0, batchLines: [0, 0] };
  let created = false;
  let failed: unknown;
  try {
    created = !fs.existsSync(file);
    const db = openDb(file, "create", recover, io);
    try {
      loadInto(db, input, batch, io, at);
    } catch (e) {
      failed = failure(e, input, at);
    }
    db.close();
  } finally {
    if (input.fd !== STDIN_FD) fs.closeSync(input.fd);
  }
  if (failed !== undefined) {
    // Nothing of this load is in a file it created: remove the file (after close, which
    // released the writer lock and left no log), so a failed load leaves nothing new.
    if (created && at.committed === 0) {
      for (const f of [file, walPathOf(file)]) fs.rmSync(f, { force: true });
    }
    throw failed;
  }
  io.out(`loaded ${at.committed} entries into ${file}\n`);
  return EXIT_OK;
}
