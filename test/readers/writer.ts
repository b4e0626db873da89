// The writer of the reader tests (no tests here: run by child.ts or worker.ts). It opens
// the database as its one writer, creates the 1,000 accounts on first use, checks the
// total at every open (after recovery from a killed writer), then commits transfer
// transactions until told to stop, sending each acknowledged seq to the parent the moment
// its transaction call has returned, and its stats() every few commits.
//
// Invariant: an "ack" message for seq n is sent only after the transaction writing n
// returned (with sync "full": durable), and at most one commit is ever unacknowledged (a
// SIGKILL between the return and the send), so a restarted writer finds n or n + 1.

import { threadId } from "node:worker_threads";
import { type Database, isPagekvError, open } from "../../src/index.js";
import { Prng } from "../../src/vfs/prng.js";
import {
  ACCOUNTS,
  AMOUNT_MAX,
  accountKey,
  BALANCE_INITIAL,
  decodeInt,
  type FromWriter,
  type Port,
  problemOf,
  type ReaderSeen,
  SEQ_KEY,
  sumOf,
  type ToWriter,
  TRANSFERS_MAX,
  type WriterJob,
  type WriterStats,
} from "./workload.js";

export function describeError(e: unknown): string {
  if (isPagekvError(e)) return e.message;
  if (e instanceof Error) return `${e.name}: ${e.message}`;
  return String(e);
}

/** stats().readers as the engine reports it (docs/design/readers.md, "What a live reader costs"). */
function readersOf(stats: object): ReaderSeen[] {
  const list = (stats as { readers?: unknown }).readers;
  if (!Array.isArray(list)) return [];
  return list.map((r: { pid: number; thread: number; framesBehind: number }) => ({
    pid: r.pid,
    thread: r.thread,
    framesBehind: r.framesBehind,
  }));
}

export function runWriter(
  job: WriterJob,
  port: Port<ToWriter, FromWriter>,
  exit: (code: number) => void,
): void {
  let db: Database | undefined;
  const fail = (what: string, e: unknown) => {
    port.send({
      t: "fail",
      message: `writer ${process.pid}/${threadId}: ${what}: ${describeError(e)}`,
    });
    exit(1);
  };
  let seq: number;
  let created = false;
  try {
    db = open(job.path, { sync: "full", autoCheckpointPages: job.autoCheckpointPages });
    if (!db.has(SEQ_KEY)) {
      db.transaction((tx) => {
        for (let i = 0; i < ACCOUNTS; i++) tx.put(accountKey(i), String(BALANCE_INITIAL));
        tx.put(SEQ_KEY, "0");
      });
      created = true;
    }
    const seen = sumOf(db);
    const problem = problemOf(seen);
    if (problem !== null) throw new Error(`the state at open: ${problem}`);
    seq = seen.seq;
  } catch (e) {
    fail("open", e);
    return;
  }
  const live: Database = db;
  const shared = job.sharedAck === undefined ? null : new Int32Array(job.sharedAck);
  if (shared !== null) Atomics.store(shared, 0, seq);
  const prng = new Prng(job.seed);
  let stopping = false;
  port.onMessage((m) => {
    if (m.t === "stop") stopping = true;
  });
  port.send({ t: "open", pid: process.pid, thread: threadId, seq, created });

  const stats = (): WriterStats => {
    const s = live.stats();
    return {
      seq,
      commits: s.commits,
      checkpoints: s.checkpoints,
      walFrames: s.walFrames,
      readers: readersOf(s),
    };
  };

  const commitOne = () => {
    const next = seq + 1;
    live.transaction((tx) => {
      const stored = decodeInt(tx.get(SEQ_KEY), SEQ_KEY);
      if (stored !== seq) throw new Error(`seq ${stored} in the database, expected ${seq}`);
      const transfers = 1 + prng.int(TRANSFERS_MAX);
      for (let i = 0; i < transfers; i++) {
        const from = prng.int(ACCOUNTS);
        const to = prng.int(ACCOUNTS);
        if (from === to) continue;
        const fromBalance = decodeInt(tx.get(accountKey(from)), accountKey(from));
        const toBalance = decodeInt(tx.get(accountKey(to)), accountKey(to));
        const amount = Math.min(fromBalance, 1 + prng.int(AMOUNT_MAX));
        tx.put(accountKey(from), String(fromBalance - amount));
        tx.put(accountKey(to), String(toBalance + amount));
      }
      tx.put(SEQ_KEY, String(next));
    });
    // The transaction call returned: acknowledged.
    seq = next;
    if (shared !== null) Atomics.store(shared, 0, seq);
    port.send({ t: "ack", seq });
    if (seq % job.statsEvery === 0) port.send({ t: "stats", ...stats() });
  };

  const step = () => {
    try {
      if (stopping) {
        const last = stats();
        live.close();
        port.send({ t: "closed", ...last });
        exit(0);
        return;
      }
      for (let i = 0; i < job.burst; i++) commitOne();
    } catch (e) {
      fail(`commit of seq ${seq + 1}`, e);
      return;
    }
    setImmediate(step);
  };
  setImmediate(step);
}
