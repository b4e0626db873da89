// A reader of the reader tests (no tests here: run by child.ts or worker.ts). It opens the
// database readOnly beside the writer and reads in a seeded mix: point reads, has, whole
// ranges summing every account, read(fn), and explicit snapshots held across several
// event-loop turns while the writer commits. Every read is checked:
//   - the state is a committed one: 1,000 accounts adding up to TOTAL;
//   - it is fresh: its seq is at least the last acknowledged seq the parent had relayed
//     BEFORE the read began (readers.md, "What a reader is": a read sees the last commit in
//     the log when it began; with sync "full" an acknowledged commit is in the log);
//   - it never goes back: a read's seq is at least any earlier read's;
//   - a snapshot is fixed: every read through it, turns later, sees its first seq and total.
// Among the reads are bursts: many reads in one synchronous run, with no event-loop turn
// between them. Beside a writer thread that stores each acknowledged seq in shared memory
// (bank.test.ts, threads), every read of a burst checks freshness against the seq stored when it
// began, so a reader that served a burst from one view would fail.
// A failed check sends "fail" and stops the reader.

import { threadId } from "node:worker_threads";
import { type Database, open, type Snapshot } from "../../src/index.js";
import { Prng } from "../../src/vfs/prng.js";
import {
  ACCOUNTS,
  accountKey,
  decodeInt,
  type FromReader,
  noReads,
  type Port,
  problemOf,
  type ReadCounts,
  type ReaderJob,
  readsTotal,
  SEQ_KEY,
  type Seen,
  sumEntries,
  sumOf,
  TOTAL,
  type ToReader,
} from "./workload.js";
import { describeError } from "./writer.js";

/** Event-loop turns an explicit snapshot is held across, at most. */
const SNAPSHOT_TURNS_MAX = 6;
/** A long snapshot: one in this many reads, held across this many pauses of at most this many ms. */
const LONG_SNAPSHOT_ONE_IN = 300;
const LONG_SNAPSHOT_PAUSES_MAX = 10;
const LONG_SNAPSHOT_PAUSE_MS_MAX = 25;
/** Reads in one synchronous burst, at most. */
const BURST_READS_MAX = 24;

/** Thrown to unwind the read loop after a failure was reported. */
class Stop extends Error {}

export function runReader(
  job: ReaderJob,
  port: Port<ToReader, FromReader>,
  exit: (code: number) => void,
): void {
  const who = `reader ${process.pid}/${threadId}`;
  /** The latest acknowledged seq relayed by the parent. */
  let ack = job.ack;
  /** Threads only: the writer thread's last acknowledged seq, stored the moment it returns. */
  const shared = job.sharedAck === undefined ? null : new Int32Array(job.sharedAck);
  /** The newest acknowledged seq this reader knows of, now. */
  const acked = () => (shared === null ? ack : Math.max(ack, Atomics.load(shared, 0)));
  /** The highest seq any read has seen. */
  let seqMax = -1;
  let pendingHold = false;
  let pendingRelease = false;
  let pendingFinal = false;
  let held: { snapshot: Snapshot; seen: Seen } | null = null;
  let stopped = false;
  const delta: ReadCounts = noReads();
  const prng = new Prng(job.seed);

  const fail = (message: string): never => {
    if (!stopped) {
      stopped = true;
      port.send({ t: "fail", message: `${who}: ${message}` });
      exit(1);
    }
    throw new Stop(message);
  };

  port.onMessage((m) => {
    if (m.t === "ack") ack = Math.max(ack, m.seq);
    else if (m.t === "hold") pendingHold = true;
    else if (m.t === "release") pendingRelease = true;
    else if (m.t === "final") pendingFinal = true;
  });

  let db: Database;
  try {
    db = open(job.path, { readOnly: true });
  } catch (e) {
    fail(`open: ${describeError(e)}`);
    return;
  }
  port.send({ t: "ready", pid: process.pid, thread: threadId });

  const count = (kind: keyof ReadCounts) => {
    delta[kind]++;
    if (readsTotal(delta) >= job.reportEvery) {
      port.send({ t: "reads", counts: { ...delta }, seqMax });
      for (const k of Object.keys(delta) as (keyof ReadCounts)[]) delta[k] = 0;
    }
  };

  /** A read's seq against the ack recorded before it began and every earlier read. */
  const fresh = (seq: number, ackBefore: number, what: string) => {
    if (seq < ackBefore) {
      fail(
        `${what} saw seq ${seq}, but seq ${ackBefore} had been acknowledged by the writer ` +
          "before the read began (docs/design/readers.md: a read sees the last commit in the log)",
      );
    }
    if (seq < seqMax) fail(`${what} saw seq ${seq} after an earlier read had seen ${seqMax}`);
    seqMax = seq;
  };

  const whole = (seen: Seen, what: string) => {
    const problem = problemOf(seen);
    if (problem !== null) fail(`${what}: not a committed state: ${problem}`);
  };

  const balanceOf = (value: Uint8Array | undefined, key: string, what: string) => {
    const n = decodeInt(value, key);
    if (n > TOTAL) fail(`${what}: ${key} holds ${n}, more than the total ${TOTAL}`);
    return n;
  };

  const pointRead = () => {
    const before = acked();
    fresh(decodeInt(db.get(SEQ_KEY), SEQ_KEY), before, "get");
    const key = accountKey(prng.int(ACCOUNTS));
    balanceOf(db.get(key), key, "get");
    count("point");
  };

  const hasRead = () => {
    const key = accountKey(prng.int(ACCOUNTS));
    if (!db.has(SEQ_KEY) || !db.has(key)) fail(`has: ${SEQ_KEY} or ${key} is missing`);
    if (db.has(accountKey(ACCOUNTS))) fail(`has: ${accountKey(ACCOUNTS)} exists`);
    count("has");
  };

  const rangeRead = () => {
    const before = acked();
    const seen = sumOf(db);
    whole(seen, "range");
    fresh(seen.seq, before, "range");
    count("range");
  };

  /**
   * A whole-database range whose iterator is consumed a few hundred entries at a time, with
   * event-loop turns (the writer committing) between: it reads the snapshot taken when
   * range() was called, so its sum is still one committed state.
   */
  const rangeAcrossTurns = async () => {
    const before = acked();
    const it = db.range();
    const entries: [Uint8Array, Uint8Array][] = [];
    try {
      for (let done = false; !done; ) {
        const n = 1 + prng.int(400);
        for (let i = 0; i < n && !done; i++) {
          const r = it.next();
          if (r.done === true) done = true;
          else entries.push(r.value);
        }
        if (!done) await turn();
        if (stopped) return;
      }
    } finally {
      it.return?.();
    }
    const seen = sumEntries(entries);
    whole(seen, "range across turns");
    fresh(seen.seq, before, "range across turns");
    count("rangesAcrossTurns");
  };

  const readFn = () => {
    const before = acked();
    const key = accountKey(prng.int(ACCOUNTS));
    const seen = db.read((s) => {
      const sum = sumOf(s);
      const seq = decodeInt(s.get(SEQ_KEY), SEQ_KEY);
      if (seq !== sum.seq) fail(`read(fn): get saw seq ${seq}, its range ${sum.seq}`);
      balanceOf(s.get(key), key, "read(fn)");
      return sum;
    });
    whole(seen, "read(fn)");
    fresh(seen.seq, before, "read(fn)");
    count("read");
  };

  /**
   * Reads back to back, no turn between: each one refreshes (readers.md, "Refresh": at the
   * start of every read). readers.md's "a burst of synchronous reads shares one view" can be
   * read as "a burst is served from the view of its first read", which would break the
   * promise that a read sees every commit acknowledged before it began (threads learn of
   * acks synchronously, through shared memory); what a burst shares is one held mark. This
   * test holds the engine to the promise.
   */
  const burst = () => {
    const n = 2 + prng.int(BURST_READS_MAX - 1);
    for (let i = 0; i < n; i++) {
      if (prng.int(4) === 0) rangeRead();
      else {
        const before = acked();
        fresh(decodeInt(db.get(SEQ_KEY), SEQ_KEY), before, "get in a burst");
        count("point");
      }
    }
    count("bursts");
  };

  /** A read through a snapshot taken earlier: the same state, whatever was committed since. */
  const reread = (s: Snapshot, first: Seen, what: string, full: boolean) => {
    if (full) {
      const again = sumOf(s);
      if (again.seq !== first.seq || again.total !== first.total || again.accounts !== ACCOUNTS) {
        fail(
          `${what}: a snapshot of seq ${first.seq} now reads seq ${again.seq}, total ${again.total}`,
        );
      }
    } else {
      const seq = decodeInt(s.get(SEQ_KEY), SEQ_KEY);
      if (seq !== first.seq) fail(`${what}: a snapshot of seq ${first.seq} now reads seq ${seq}`);
    }
    count("snapshotReads");
  };

  const turn = () =>
    new Promise<void>((resolve) => {
      if (prng.int(2) === 0) setImmediate(resolve);
      else setTimeout(resolve, 0);
    });

  /** Up to `ms` milliseconds, seeded: a long snapshot's pause between two of its reads. */
  const pause = (ms: number) =>
    new Promise<void>((resolve) => setTimeout(resolve, prng.int(ms + 1)));

  /**
   * A snapshot read, then read again across event-loop turns; a long one across pauses of
   * milliseconds, so that it is still held while a killed writer's successor recovers
   * (which must not reset the log under it: rule 5).
   */
  const heldSnapshot = async (long: boolean) => {
    const before = acked();
    const s = db.snapshot();
    const what = long ? "long snapshot" : "snapshot";
    try {
      const first = sumOf(s);
      whole(first, what);
      fresh(first.seq, before, what);
      count("snapshots");
      const turns = 1 + prng.int(long ? LONG_SNAPSHOT_PAUSES_MAX : SNAPSHOT_TURNS_MAX);
      for (let i = 0; i < turns; i++) {
        await (long ? pause(LONG_SNAPSHOT_PAUSE_MS_MAX) : turn());
        if (stopped) return;
        reread(s, first, what, i === turns - 1 || prng.int(3) === 0);
        // A read through the database meanwhile is as fresh as any.
        const liveBefore = acked();
        const seq = decodeInt(db.get(SEQ_KEY), SEQ_KEY);
        fresh(seq, liveBefore, "get beside a snapshot");
        count("point");
      }
    } finally {
      s.close();
    }
  };

  const commands = () => {
    if (pendingHold && held === null) {
      pendingHold = false;
      const before = acked();
      const snapshot = db.snapshot();
      const seen = sumOf(snapshot);
      whole(seen, "held snapshot");
      fresh(seen.seq, before, "held snapshot");
      held = { snapshot, seen };
      port.send({ t: "holding", seq: seen.seq });
    }
    if (pendingRelease && held !== null) {
      pendingRelease = false;
      reread(held.snapshot, held.seen, "held snapshot at its release", true);
      held.snapshot.close();
      held = null;
      port.send({ t: "released" });
    }
    if (pendingFinal) {
      const before = acked();
      const seen = sumOf(db);
      whole(seen, "final range");
      fresh(seen.seq, before, "final range");
      count("range");
      db.close();
      stopped = true;
      // The reads not yet reported ride on the final message.
      port.send({ t: "final", seq: seen.seq, counts: { ...delta } });
      exit(0);
    }
  };

  /**
   * Close the database and open it again, turns apart: its reader file goes at the close
   * (the last shared lock of this thread), so a writer closing meanwhile may see no reader
   * and delete the log, or retire it under the reopen (readers.md rule 3, races D and F).
   */
  const reopen = async () => {
    db.close();
    // Closed a while (a few ms at most), so that at times no reader of the database lives.
    await new Promise((resolve) => setTimeout(resolve, prng.int(4)));
    db = open(job.path, { readOnly: true });
    count("reopens");
  };

  const loop = async () => {
    let reads = 0;
    try {
      while (!stopped) {
        commands();
        if (stopped) break;
        reads++;
        if (job.reopenEvery > 0 && reads % job.reopenEvery === 0 && held === null) await reopen();
        const op = prng.int(20);
        if (job.longSnapshots && prng.int(LONG_SNAPSHOT_ONE_IN) === 0) await heldSnapshot(true);
        else if (op < 5) pointRead();
        else if (op < 7) hasRead();
        else if (op < 11) rangeRead();
        else if (op < 14) readFn();
        else if (op < 16) burst();
        else if (op < 17) await rangeAcrossTurns();
        else await heldSnapshot(false);
        await turn();
      }
    } catch (e) {
      if (!(e instanceof Stop)) fail(`read: ${describeError(e)}`);
    }
  };
  void loop().catch(() => {});
}
