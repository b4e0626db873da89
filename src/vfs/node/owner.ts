// Who holds a lock: the owner record that lock and reader files hold (pid, thread id,
// process start time, boot id), this thread's own record, and the judgement of a record as
// a live holder or stale. Reads /proc where there is one (Linux); never signals a process
// (kill with signal 0 only probes) and never blocks.

import * as fs from "node:fs";
import { threadId } from "node:worker_threads";
import { PagekvError } from "../../errors.js";

/** Largest pid believed: a bigger number is garbage, and kill() must never see it. */
export const PID_MAX = 2 ** 31 - 1;

/**
 * The lock protocol this version speaks, recorded as `proto=2` in every record it writes:
 * readers beside the writer, with read marks (docs/design/readers.md, "The files"). A
 * record without it (null) is a holder of an older pagekv, which excludes readers and
 * writers alike; a writer and a reader coexist only when both records say exactly this.
 */
export const LOCK_PROTO = 2;

export interface OwnerRecord {
  readonly pid: number;
  /** worker_threads.threadId of the holding thread (0: the main thread); null: not recorded. */
  readonly thread: number | null;
  /** Its process's start time, clock ticks after boot (/proc/<pid>/stat field 22); null: not recorded. */
  readonly start: string | null;
  /** /proc/sys/kernel/random/boot_id of the boot it ran in; null: not recorded. */
  readonly boot: string | null;
  /** The lock protocol its writer spoke (LOCK_PROTO); null: an older pagekv's record. */
  readonly proto: number | null;
}

function errnoCode(e: unknown): string | undefined {
  if (typeof e === "object" && e !== null && "code" in e) {
    const code = (e as { code: unknown }).code;
    if (typeof code === "string") return code;
  }
  return undefined;
}

/**
 * Field 22 (starttime) of a /proc/<pid>/stat line, or null if the line is not one. Field 2
 * is the command in parentheses, which may itself hold spaces and parentheses: the fields
 * are counted from the last ')'.
 */
export function startTimeFromStat(stat: string): string | null {
  const close = stat.lastIndexOf(")");
  if (close < 0) return null;
  // After ") ": field 3 (state) is index 0, so field 22 is index 19.
  const fields = stat
    .slice(close + 1)
    .trim()
    .split(/\s+/);
  const start = fields[19];
  return start !== undefined && /^\d{1,20}$/.test(start) ? start : null;
}

/**
 * Field 3 (state) of a /proc/<pid>/stat line: "Z" a zombie, "X" dead; null if not a line.
 * A zombie has exited and holds no file, but kill(pid, 0) still finds it until its parent
 * reaps it (Deno's child processes stay so a while after their exit event).
 */
export function stateFromStat(stat: string): string | null {
  const close = stat.lastIndexOf(")");
  if (close < 0) return null;
  const state = stat
    .slice(close + 1)
    .trim()
    .split(/\s+/)[0];
  return state === undefined || state === "" ? null : state;
}

/** /proc/<pid>/stat, or null when it cannot be read (no /proc, hidepid, the process gone). */
function statOf(pid: number): string | null {
  try {
    return fs.readFileSync(`/proc/${pid}/stat`, "latin1");
  } catch {
    return null;
  }
}

/**
 * The start time of process `pid` (clock ticks after boot), or null when it cannot be told:
 * no /proc, a /proc that hides other users' processes (hidepid), or the process is gone.
 */
export function startTimeOf(pid: number): string | null {
  const stat = statOf(pid);
  return stat === null ? null : startTimeFromStat(stat);
}

function readBootId(): string | null {
  try {
    const id = fs.readFileSync("/proc/sys/kernel/random/boot_id", "latin1").trim();
    return /^[0-9a-f-]{1,64}$/i.test(id) ? id : null;
  } catch {
    return null;
  }
}

let selfRecord: OwnerRecord | null = null;

/** This thread's record, read once: what its lock and reader files hold. */
export function self(): OwnerRecord {
  if (selfRecord === null) {
    const start = startTimeOf(process.pid);
    selfRecord = {
      pid: process.pid,
      thread: threadId,
      start,
      boot: readBootId(),
      proto: LOCK_PROTO,
    };
  }
  return selfRecord;
}

/**
 * The text of a record: `pid=<n> thread=<n>[ start=<ticks>][ boot=<id>][ proto=<n>]\n`.
 * Older pagekv skip the `proto` field (unknown fields are skipped, below), so they still
 * read our records: to them we are a live holder, as before.
 */
export function encodeRecord(r: OwnerRecord): string {
  let text = `pid=${r.pid}`;
  if (r.thread !== null) text += ` thread=${r.thread}`;
  if (r.start !== null) text += ` start=${r.start}`;
  if (r.boot !== null) text += ` boot=${r.boot}`;
  if (r.proto !== null) text += ` proto=${r.proto}`;
  return `${text}\n`;
}

const FIELD_SYNTAX: Record<string, RegExp> = {
  pid: /^\d{1,10}$/,
  thread: /^\d{1,15}$/,
  start: /^\d{1,20}$/,
  boot: /^[0-9a-f-]{1,64}$/i,
  proto: /^\d{1,5}$/,
};

/**
 * The record in a file's text, or null when it is not one (empty, garbage, bad numbers).
 * Understands the old format, a bare pid (thread, start and boot then unknown). Unknown
 * `name=value` fields are skipped, so a later format with more fields still reads.
 */
export function decodeRecord(text: string): OwnerRecord | null {
  const bare = /^\s*(\d{1,10})\s*$/.exec(text);
  if (bare !== null) return recordOf(Number(bare[1]), null, null, null, null);
  const fields = new Map<string, string>();
  for (const token of text.split(/\s+/)) {
    if (token === "") continue;
    const eq = token.indexOf("=");
    if (eq <= 0) return null;
    const name = token.slice(0, eq);
    const value = token.slice(eq + 1);
    if (fields.has(name)) return null;
    const syntax = FIELD_SYNTAX[name];
    if (syntax !== undefined && !syntax.test(value)) return null;
    fields.set(name, value);
  }
  const pid = fields.get("pid");
  if (pid === undefined) return null;
  const thread = fields.get("thread");
  const proto = fields.get("proto");
  return recordOf(
    Number(pid),
    thread === undefined ? null : Number(thread),
    fields.get("start") ?? null,
    fields.get("boot") ?? null,
    proto === undefined ? null : Number(proto),
  );
}

function recordOf(
  pid: number,
  thread: number | null,
  start: string | null,
  boot: string | null,
  proto: number | null,
): OwnerRecord | null {
  // pid 0 or a negative one would make kill() signal a whole process group.
  if (pid < 1 || pid > PID_MAX) return null;
  return { pid, thread, start, boot, proto };
}

/** Whether the holder of record `r` speaks this version's protocol (readers beside a writer). */
export function knowsReadMarks(r: OwnerRecord): boolean {
  return r.proto === LOCK_PROTO;
}

/** kill(pid, 0) probes without signalling: EPERM means alive but not ours to signal. */
function isAlive(pid: number, filePath: string): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    const code = errnoCode(e);
    if (code === "ESRCH") return false;
    if (code === "EPERM") return true;
    const why = e instanceof Error ? e.message : String(e);
    throw new PagekvError(
      "ERR_IO",
      `NodeFS: cannot check the owner (pid ${pid}) of lock file "${filePath}": ${why}`,
      { cause: e, path: filePath },
    );
  }
}

/**
 * Who holds the lock `r` records, as words for a message ("live process 123"), or null
 * when the record is stale: written in an earlier boot, by a process that is gone, by an
 * earlier process that had the same pid (another start time), or by this very thread (a
 * caller asks only after its own registry said this thread holds no such lock, so such a
 * file is a leftover of a failed release). A record naming this process and another
 * thread is a live sibling thread, since threads of a live process cannot be probed: one
 * that ended without releasing holds until the process exits. Where a start time or boot
 * id is missing (old format, no /proc), the pid alone decides.
 */
export function liveHolder(r: OwnerRecord, filePath: string): string | null {
  const me = self();
  if (r.boot !== null && me.boot !== null && r.boot !== me.boot) return null;
  if (r.pid === me.pid) {
    if (r.start !== null && me.start !== null && r.start !== me.start) return null;
    // New files always name a thread: a bare pid of ours is an earlier process's.
    if (r.thread === null || r.thread === me.thread) return null;
    return `another thread (threadId ${r.thread}) of this process`;
  }
  if (!isAlive(r.pid, filePath)) return null;
  const stat = statOf(r.pid);
  const state = stat === null ? null : stateFromStat(stat);
  if (state === "Z" || state === "X") return null; // exited, not yet reaped
  if (r.start !== null && me.start !== null && stat !== null) {
    // The pid now names a process that started at another time. Unreadable (hidden by
    // hidepid, or gone since the probe): the pid alone decides.
    const now = startTimeFromStat(stat);
    if (now !== null && now !== r.start) return null;
  }
  return r.thread === null || r.thread === 0
    ? `live process ${r.pid}`
    : `live process ${r.pid} (threadId ${r.thread})`;
}
