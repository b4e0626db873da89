// The bank workload of the reader tests (no tests here: imported only): 1,000 accounts
// whose balances always add up to the same total, and a commit sequence number written in
// every transaction, plus the messages the writer, the readers and the parent exchange.
// What a reader checks is stated here once, so the process and thread variants check alike.

import type { Database, Snapshot } from "../../src/index.js";

/** Accounts in the database: keys ACCOUNT_PREFIX + 4 digits. */
export const ACCOUNTS = 1000;
export const BALANCE_INITIAL = 1000;
/** What the balances add up to in every committed state. */
export const TOTAL = ACCOUNTS * BALANCE_INITIAL;
export const ACCOUNT_PREFIX = "acct/";
/** The commit sequence number: the count of transfer transactions committed. */
export const SEQ_KEY = "seq";
/** Transfers in one transaction at most (each touches two accounts). */
export const TRANSFERS_MAX = 4;
/** One transfer moves at most this much. */
export const AMOUNT_MAX = 100;

const decoder = new TextDecoder();

export function accountKey(i: number): string {
  return `${ACCOUNT_PREFIX}${String(i).padStart(4, "0")}`;
}

/** A stored decimal integer, or a thrown Error naming the key (a wrong byte is a failure). */
export function decodeInt(value: Uint8Array | undefined, key: string): number {
  if (value === undefined) throw new Error(`${key}: missing`);
  const text = decoder.decode(value);
  if (!/^(0|[1-9][0-9]{0,14})$/.test(text)) throw new Error(`${key}: not a count: ${text}`);
  return Number(text);
}

/** One committed state as a reader saw it: the sum of every balance and the seq. */
export interface Seen {
  accounts: number;
  total: number;
  seq: number;
}

/**
 * Sum every account and read the seq in one pass over `entries` (a whole-database range,
 * in key order: the accounts, then "seq"). Throws on a balance that does not parse.
 */
export function sumEntries(entries: Iterable<[Uint8Array, Uint8Array]>): Seen {
  let accounts = 0;
  let total = 0;
  let seq = -1;
  for (const [k, v] of entries) {
    const key = decoder.decode(k);
    if (key.startsWith(ACCOUNT_PREFIX)) {
      accounts++;
      total += decodeInt(v, key);
    } else if (key === SEQ_KEY) {
      seq = decodeInt(v, key);
    } else {
      throw new Error(`unexpected key ${key}`);
    }
  }
  return { accounts, total, seq };
}

/** The problem with a state, or null when it is a committed state of the workload. */
export function problemOf(seen: Seen): string | null {
  if (seen.accounts !== ACCOUNTS) return `${seen.accounts} accounts, expected ${ACCOUNTS}`;
  if (seen.total !== TOTAL) return `total ${seen.total}, expected ${TOTAL} (seq ${seen.seq})`;
  if (seen.seq < 0) return "no seq key";
  return null;
}

/** The whole state through a snapshot, or through the database (its own snapshot). */
export function sumOf(source: Database | Snapshot): Seen {
  return sumEntries(source.range());
}

// ---- messages (JSON, one per line over a pipe, or postMessage between threads) ----

/** Counts of reads a reader checked, by kind (sent as increments since the last report). */
export interface ReadCounts {
  point: number;
  has: number;
  range: number;
  read: number;
  snapshots: number;
  /** Reads through an explicit snapshot after an event-loop turn (the writer committing). */
  snapshotReads: number;
  /** Bursts of reads in one synchronous run (their reads are counted as point and range). */
  bursts: number;
}

export function noReads(): ReadCounts {
  return { point: 0, has: 0, range: 0, read: 0, snapshots: 0, snapshotReads: 0, bursts: 0 };
}

export function addReads(into: ReadCounts, more: ReadCounts): void {
  into.point += more.point;
  into.has += more.has;
  into.range += more.range;
  into.read += more.read;
  into.snapshots += more.snapshots;
  into.snapshotReads += more.snapshotReads;
  into.bursts += more.bursts;
}

/** Reads checked (a burst's reads are among point and range already). */
export function readsTotal(c: ReadCounts): number {
  return c.point + c.has + c.range + c.read + c.snapshots + c.snapshotReads;
}

/** A live reader as the writer's stats() lists it. */
export interface ReaderSeen {
  pid: number;
  thread: number;
  framesBehind: number;
}

export interface WriterStats {
  seq: number;
  commits: number;
  checkpoints: number;
  walFrames: number;
  readers: ReaderSeen[];
}

export type FromWriter =
  | { t: "open"; pid: number; thread: number; seq: number; created: boolean }
  | { t: "ack"; seq: number }
  | ({ t: "stats" } & WriterStats)
  | ({ t: "closed" } & WriterStats)
  | { t: "fail"; message: string };

export type ToWriter = { t: "stop" };

export type FromReader =
  | { t: "ready"; pid: number; thread: number }
  | { t: "reads"; counts: ReadCounts; seqMax: number }
  | { t: "holding"; seq: number }
  | { t: "released" }
  | { t: "final"; seq: number; counts: ReadCounts }
  | { t: "fail"; message: string };

export type ToReader =
  | { t: "ack"; seq: number }
  | { t: "hold" }
  | { t: "release" }
  | { t: "final" };

/** How a writer runs (passed on its command line, or as workerData). */
export interface WriterJob {
  role: "writer";
  /** Threads only: an Int32Array's memory where each acknowledged seq is stored at once. */
  sharedAck?: SharedArrayBuffer;
  path: string;
  seed: number;
  /** The database's autoCheckpointPages: small, so checkpoints and resets happen often. */
  autoCheckpointPages: number;
  /** A stats message after every this many commits. */
  statsEvery: number;
  /** Commits between two event-loop turns (the writer reads its commands in between). */
  burst: number;
}

export interface ReaderJob {
  role: "reader";
  /** Threads only: the writer's sharedAck, read before every read. */
  sharedAck?: SharedArrayBuffer;
  path: string;
  seed: number;
  /** The last acknowledged seq when the reader was started: its first reads see at least it. */
  ack: number;
  /** A reads message after every this many checked reads. */
  reportEvery: number;
}

export type Job = WriterJob | ReaderJob;

/** Either side of a channel: send one message, receive each one in order. */
export interface Port<In, Out> {
  send(message: Out): void;
  onMessage(handler: (message: In) => void): void;
}
