// The parent of the reader tests (no tests here: imported by the tests and by
// scripts/stress-readers.ts). It runs one writer and N readers of one database file, as
// child processes or as worker threads, relays the writer's acknowledged seq to every
// reader, kills and restarts them (SIGKILL, seeded), and records every failure any of them
// reports together with its own checks:
//   - a restarted writer opens at the last acknowledged seq or one past it (the one commit
//     a SIGKILL can catch between its return and its ack): nothing acknowledged is lost,
//     nothing unacknowledged appears beyond it;
//   - acks of one writer come in order, one by one;
//   - a process or thread ends only when told to (stop, final) or killed.
// Waiting is on events (messages, exits), never on a clock: a hang is the test runner's
// timeout.

import { type ChildProcess, spawn } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import * as readline from "node:readline";
import { fileURLToPath } from "node:url";
import { Worker } from "node:worker_threads";
import { isPagekvError, open } from "../../src/index.js";
import type { Prng } from "../../src/vfs/prng.js";
import {
  addReads,
  type FromReader,
  type FromWriter,
  type Job,
  noReads,
  problemOf,
  type ReadCounts,
  type ReaderJob,
  readsTotal,
  sumOf,
  type ToReader,
  type ToWriter,
  type WriterJob,
  type WriterStats,
} from "./workload.js";

const here = path.dirname(fileURLToPath(import.meta.url));
const CHILD = path.join(here, "child.js");
const WORKER = path.join(here, "worker.js");

/** Bytes of a member's stderr kept for a failure report. */
const STDERR_TAIL_BYTES = 4096;
/** Kills at most one run may ask for (a bound on the schedule). */
export const KILLS_MAX = 10_000;

export type Mode = "process" | "thread";

export interface ClusterOptions {
  dir: string;
  mode: Mode;
  readers: number;
  seed: number;
  autoCheckpointPages: number;
  /** Writer stats after every this many commits. */
  statsEvery?: number;
  /** Commits between the writer's event-loop turns. */
  burst?: number;
  log?: (line: string) => void;
}

/** One process or thread of the cluster, as the parent drives it. */
interface Handle {
  readonly pid: number;
  send(message: object): void;
  /** SIGKILL (a process) or terminate() (a thread). */
  kill(): void;
  readonly ended: Promise<void>;
  stderr(): string;
}

function processHandle(job: Job, onMessage: (m: unknown) => void): Handle {
  const child: ChildProcess = spawn(process.execPath, [CHILD, JSON.stringify(job)], {
    stdio: ["pipe", "pipe", "pipe"],
  });
  let tail = "";
  child.stderr?.on("data", (d: Buffer) => {
    tail = (tail + d.toString()).slice(-STDERR_TAIL_BYTES);
  });
  // A killed reader's stdin: writes after its death fail with EPIPE, which is expected.
  child.stdin?.on("error", () => {});
  if (child.stdout === null) throw new Error("child without stdout");
  // Only complete lines: a line cut by the child's death never reaches onMessage.
  const lines = readline.createInterface({ input: child.stdout });
  lines.on("line", (line) => {
    let m: unknown;
    try {
      m = JSON.parse(line);
    } catch {
      m = { t: "fail", message: `unparseable line from pid ${child.pid}: ${line}` };
    }
    onMessage(m);
  });
  // "close": the process exited and its stdout was read to the end, so every message it
  // sent (every ack) has been handled before anyone waits past its end.
  const ended = new Promise<void>((resolve) => child.once("close", () => resolve()));
  return {
    pid: child.pid ?? -1,
    send(message) {
      if (child.stdin?.writable) child.stdin.write(`${JSON.stringify(message)}\n`);
    },
    kill() {
      child.kill("SIGKILL");
    },
    ended,
    stderr: () => tail,
  };
}

function threadHandle(job: Job, onMessage: (m: unknown) => void): Handle {
  const worker = new Worker(WORKER, { workerData: job });
  let tail = "";
  worker.on("error", (e) => {
    tail = `${tail}${e instanceof Error ? e.stack : String(e)}`.slice(-STDERR_TAIL_BYTES);
    onMessage({ t: "fail", message: `worker ${worker.threadId} threw: ${String(e)}` });
  });
  worker.on("message", onMessage);
  const ended = new Promise<void>((resolve) => worker.once("exit", () => resolve()));
  return {
    pid: process.pid,
    send(message) {
      worker.postMessage(message);
    },
    kill() {
      void worker.terminate();
    },
    ended,
    stderr: () => tail,
  };
}

interface Member {
  handle: Handle;
  /** Told to end (stop, final) or killed: its end is expected. */
  ending: boolean;
  /** Its pid and thread once it reported them. */
  pid: number;
  thread: number;
}

interface WriterMember extends Member {
  /** The seq it opened at, once open. */
  openSeq: number | null;
  /** Its last ack (the seq it last committed). */
  seq: number;
  /** Its latest stats. */
  stats: WriterStats | null;
  closed: WriterStats | null;
}

interface ReaderMember extends Member {
  index: number;
  ready: boolean;
  holding: number | null;
  released: boolean;
  final: number | null;
  /** Writers started before it: fewer than in all means it lived across a writer's death. */
  writersBefore: number;
}

export interface Totals {
  /** Transactions acknowledged, over every writer. */
  commits: number;
  writerStarts: number;
  writerKills: number;
  /** Clean stops and restarts of the writer (not kills). */
  writerRestarts: number;
  readerStarts: number;
  readerKills: number;
  /** Completed checkpoints (log resets), summed over every writer's last stats. */
  checkpoints: number;
  /** Times the writer's log frame count went down from one stats report to the next. */
  logShrinks: number;
  /** Readers whose final read (after the last writer's clean close) began before that writer started. */
  readersAcrossWriterDeath: number;
  reads: ReadCounts;
}

export class Cluster {
  readonly options: Required<Omit<ClusterOptions, "log">> & Pick<ClusterOptions, "log">;
  readonly path: string;
  readonly failures: string[] = [];
  /** Every stats report of every writer, in order (each writer's counters start at 0). */
  readonly statsLog: { writer: number; stats: WriterStats }[] = [];
  /** The last acknowledged seq (or the seq a restarted writer opened at). */
  lastAck = 0;
  private writer: WriterMember | null = null;
  private readonly readers: (ReaderMember | null)[] = [];
  private readonly totals: Totals = {
    commits: 0,
    writerStarts: 0,
    writerKills: 0,
    writerRestarts: 0,
    readerStarts: 0,
    readerKills: 0,
    checkpoints: 0,
    logShrinks: 0,
    readersAcrossWriterDeath: 0,
    reads: noReads(),
  };
  /** Checkpoints of writers that ended (their last stats). */
  private checkpointsEnded = 0;
  private relayPending = false;
  /** The seq the last writer closed at, when it closed cleanly (not killed). */
  private cleanCloseSeq: number | null = null;
  /** Threads: the writer's acknowledged seq, in memory every thread reads (writer.ts). */
  private readonly sharedAck: SharedArrayBuffer | undefined;
  private readonly waiters: {
    test: () => boolean;
    resolve: () => void;
    reject: (e: Error) => void;
  }[] = [];

  constructor(options: ClusterOptions) {
    this.options = { statsEvery: 20, burst: 4, ...options };
    this.path = path.join(options.dir, "bank.db");
    this.sharedAck = options.mode === "thread" ? new SharedArrayBuffer(4) : undefined;
  }

  get totalsNow(): Totals {
    const w = this.writer?.stats?.checkpoints ?? 0;
    return {
      ...this.totals,
      checkpoints: this.checkpointsEnded + w,
      reads: { ...this.totals.reads },
    };
  }

  /** The current writer's pid and latest stats. */
  get writerState(): { pid: number; stats: WriterStats | null } | null {
    const w = this.writer;
    return w === null ? null : { pid: w.pid, stats: w.stats };
  }

  /** Pids of the reader processes killed so far. */
  readonly killedReaderPids: number[] = [];

  readerPid(i: number): number {
    const r = this.readers[i];
    if (r === undefined || r === null) throw new Error(`no reader ${i}`);
    return r.handle.pid;
  }

  /** Start the writer, wait until it has opened, then start the readers. */
  async start(): Promise<void> {
    this.startWriter();
    await this.until(() => this.writer?.openSeq !== null);
    for (let i = 0; i < this.options.readers; i++) this.startReader(i);
    await this.until(() => this.readers.every((r) => r?.ready === true));
  }

  /** Resolves once `n` more transactions have been acknowledged. */
  commits(n: number): Promise<void> {
    const target = this.totals.commits + n;
    return this.until(() => this.totals.commits >= target);
  }

  /** Resolves when `test` holds (checked after every event); rejects at the first failure. */
  until(test: () => boolean): Promise<void> {
    if (this.failures.length > 0) return Promise.reject(this.failure());
    if (test()) return Promise.resolve();
    return new Promise((resolve, reject) => this.waiters.push({ test, resolve, reject }));
  }

  /** SIGKILL the writer (a process cluster only), wait for its end, start the next one. */
  async killWriter(): Promise<void> {
    const w = this.writer;
    if (w === null) throw new Error("no writer to kill");
    w.ending = true;
    w.handle.kill();
    await w.handle.ended;
    this.cleanCloseSeq = null;
    this.totals.writerKills++;
    this.startWriter();
  }

  /**
   * Stop the writer cleanly (its close keeps the log while readers live: readers.md rule 3)
   * and start the next one, which must open at exactly the closed writer's last seq.
   */
  async restartWriter(): Promise<void> {
    const w = this.writer;
    if (w === null) throw new Error("no writer to restart");
    await this.until(() => w.openSeq !== null);
    w.ending = true;
    w.handle.send({ t: "stop" } satisfies ToWriter);
    await this.until(() => w.closed !== null);
    await w.handle.ended;
    this.cleanCloseSeq = w.closed?.seq ?? null;
    this.totals.writerRestarts++;
    this.startWriter();
  }

  async killReader(i: number): Promise<void> {
    const r = this.readers[i];
    if (r === undefined || r === null) throw new Error(`no reader ${i}`);
    r.ending = true;
    r.handle.kill();
    await r.handle.ended;
    this.killedReaderPids.push(r.handle.pid);
    this.totals.readerKills++;
    this.startReader(i);
  }

  /**
   * `kills` SIGKILLs at seeded instants: after a seeded number of acknowledged commits (and
   * a seeded few milliseconds more, which only moves the instant), a seeded victim: the
   * writer about one time in three (and then, one time in four, again while the next one
   * opens and recovers), else a reader. The first kill is the writer's, the second a
   * reader's and the last the writer's, so that every run kills both, and the readers at
   * the end (finish) have all lived across a writer's death. About one kill in eight is
   * followed by a clean restart of the writer (restartWriter), not counted as a kill.
   */
  async runKills(kills: number, prng: Prng): Promise<void> {
    if (!Number.isSafeInteger(kills) || kills < 0 || kills > KILLS_MAX) {
      throw new Error(`kills must be an integer in 0..${KILLS_MAX}, got ${kills}`);
    }
    let done = 0;
    while (done < kills) {
      await this.commits(5 + prng.int(120));
      await sleep(prng.int(4));
      const last = done === kills - 1;
      const writer = done === 0 || last || (done !== 1 && prng.int(3) === 0);
      if (writer) {
        await this.killWriter();
        done++;
        if (done < kills - 1 && prng.int(4) === 0) {
          await sleep(prng.int(60));
          await this.killWriter();
          done++;
        }
      } else {
        await this.killReader(prng.int(this.options.readers));
        done++;
      }
      // Now and then a clean restart of the writer too, under the live readers.
      if (done < kills - 1 && prng.int(8) === 0) {
        await this.commits(5 + prng.int(60));
        await this.restartWriter();
      }
      this.options.log?.(
        `kill ${done}/${kills} (${writer ? "writer" : "reader"}): ${this.summary()}`,
      );
      if (this.failures.length > 0) throw this.failure();
    }
  }

  /**
   * End the run: stop the writer (a clean close), relay its last seq, ask every reader for
   * a final read (which must see exactly that seq), then open the database alone and check
   * it: the last seq, the total, the tree.
   */
  async finish(): Promise<void> {
    const w = this.writer;
    if (w === null) throw new Error("no writer");
    await this.until(() => w.openSeq !== null);
    w.ending = true;
    w.handle.send({ t: "stop" } satisfies ToWriter);
    await this.until(() => w.closed !== null);
    await w.handle.ended;
    const last = w.closed?.seq ?? -1;
    this.relay();
    for (const r of this.readers) {
      if (r === null) continue;
      r.ending = true;
      r.handle.send({ t: "final" } satisfies ToReader);
    }
    await this.until(() => this.readers.every((r) => r === null || r.final !== null));
    for (const r of this.readers) {
      if (r === null) continue;
      await r.handle.ended;
      if (r.final !== last) {
        this.fail(
          `reader ${r.index}'s final read saw seq ${r.final}, the writer closed at ${last}`,
        );
      }
      if (r.writersBefore < this.totals.writerStarts) this.totals.readersAcrossWriterDeath++;
    }
    const db = open(this.path, { readOnly: false });
    try {
      const seen = sumOf(db);
      const problem = problemOf(seen);
      if (problem !== null) this.fail(`the database after the run: ${problem}`);
      if (seen.seq !== last)
        this.fail(`the database after the run: seq ${seen.seq}, expected ${last}`);
      const damage = db.check();
      if (damage.length > 0) this.fail(`the tree after the run: ${damage.join("; ")}`);
    } finally {
      db.close();
    }
    if (this.failures.length > 0) throw this.failure();
  }

  /** Kill whatever still runs (after a failure); never throws. */
  async dispose(): Promise<void> {
    const all: Member[] = [];
    if (this.writer !== null) all.push(this.writer);
    for (const r of this.readers) if (r !== null) all.push(r);
    for (const m of all) {
      m.ending = true;
      m.handle.kill();
    }
    await Promise.all(all.map((m) => m.handle.ended));
  }

  summary(): string {
    const t = this.totalsNow;
    return (
      `commits ${t.commits} (seq ${this.lastAck}), checkpoints ${t.checkpoints}, ` +
      `log shrinks ${t.logShrinks}, writer starts ${t.writerStarts} kills ${t.writerKills} ` +
      `clean restarts ${t.writerRestarts}, ` +
      `reader starts ${t.readerStarts} kills ${t.readerKills}, reads checked ${readsTotal(t.reads)} ` +
      `(${JSON.stringify(t.reads)})`
    );
  }

  failure(): Error {
    return new Error(`${this.failures.length} failure(s):\n${this.failures.join("\n")}`);
  }

  // ---- internals ----

  private fail(message: string): void {
    this.failures.push(message);
    this.options.log?.(`FAIL ${message}`);
  }

  private poke(): void {
    const failed = this.failures.length > 0;
    for (let i = this.waiters.length - 1; i >= 0; i--) {
      const w = this.waiters[i];
      if (w === undefined) continue;
      if (failed) {
        this.waiters.splice(i, 1);
        w.reject(this.failure());
      } else if (w.test()) {
        this.waiters.splice(i, 1);
        w.resolve();
      }
    }
  }

  private spawnJob(job: Job, onMessage: (m: unknown) => void): Handle {
    return this.options.mode === "process"
      ? processHandle(job, onMessage)
      : threadHandle(job, onMessage);
  }

  private startWriter(): void {
    const index = this.totals.writerStarts++;
    const job: WriterJob = {
      role: "writer",
      sharedAck: this.sharedAck,
      path: this.path,
      seed: this.options.seed * 1009 + index,
      autoCheckpointPages: this.options.autoCheckpointPages,
      statsEvery: this.options.statsEvery,
      burst: this.options.burst,
    };
    const me: WriterMember = {
      handle: undefined as unknown as Handle,
      ending: false,
      pid: -1,
      thread: -1,
      openSeq: null,
      seq: -1,
      stats: null,
      closed: null,
    };
    me.handle = this.spawnJob(job, (m) => {
      this.onWriter(me, index, m as FromWriter);
      this.poke();
    });
    this.writer = me;
    void me.handle.ended.then(() => {
      this.checkpointsEnded += me.stats?.checkpoints ?? 0;
      if (this.writer === me) me.stats = null;
      if (!me.ending) this.fail(`writer ${index} ended unasked: ${me.handle.stderr()}`);
      this.poke();
    });
  }

  private onWriter(me: WriterMember, index: number, m: FromWriter): void {
    switch (m.t) {
      case "open": {
        me.pid = m.pid;
        me.thread = m.thread;
        // Every acknowledged commit survived; at most the one a kill caught unacknowledged
        // is there beyond it (writer.ts's invariant).
        if (index > 0 && (m.seq < this.lastAck || m.seq > this.lastAck + 1)) {
          this.fail(
            `writer ${index} opened at seq ${m.seq}, the last acknowledged was ${this.lastAck}`,
          );
        }
        // After a clean close, exactly its last commit.
        if (this.cleanCloseSeq !== null && m.seq !== this.cleanCloseSeq) {
          this.fail(
            `writer ${index} opened at seq ${m.seq}, the last one closed at ${this.cleanCloseSeq}`,
          );
        }
        me.openSeq = m.seq;
        me.seq = m.seq;
        // Its recovery made that state the log's last commit: reads from now on see it.
        this.ack(m.seq);
        return;
      }
      case "ack":
        if (m.seq !== me.seq + 1) this.fail(`writer ${index} acked seq ${m.seq} after ${me.seq}`);
        me.seq = m.seq;
        this.totals.commits++;
        this.ack(m.seq);
        return;
      case "stats":
      case "closed": {
        const { t, ...stats } = m;
        if (me.stats !== null && stats.walFrames < me.stats.walFrames) this.totals.logShrinks++;
        me.stats = stats;
        this.statsLog.push({ writer: index, stats });
        if (t === "closed") me.closed = stats;
        return;
      }
      case "fail":
        this.fail(m.message);
        return;
    }
  }

  private startReader(i: number): void {
    this.totals.readerStarts++;
    const job: ReaderJob = {
      role: "reader",
      sharedAck: this.sharedAck,
      path: this.path,
      seed: this.options.seed * 7919 + this.totals.readerStarts,
      ack: this.lastAck,
      reportEvery: 50,
    };
    const me: ReaderMember = {
      handle: undefined as unknown as Handle,
      ending: false,
      pid: -1,
      thread: -1,
      index: i,
      ready: false,
      holding: null,
      released: false,
      final: null,
      writersBefore: this.totals.writerStarts,
    };
    me.handle = this.spawnJob(job, (m) => {
      this.onReader(me, m as FromReader);
      this.poke();
    });
    this.readers[i] = me;
    void me.handle.ended.then(() => {
      if (!me.ending) this.fail(`reader ${i} ended unasked: ${me.handle.stderr()}`);
      this.poke();
    });
  }

  private onReader(me: ReaderMember, m: FromReader): void {
    switch (m.t) {
      case "ready":
        me.pid = m.pid;
        me.thread = m.thread;
        me.ready = true;
        return;
      case "reads":
        addReads(this.totals.reads, m.counts);
        return;
      case "holding":
        me.holding = m.seq;
        return;
      case "released":
        me.released = true;
        return;
      case "final":
        me.final = m.seq;
        addReads(this.totals.reads, m.counts);
        return;
      case "fail":
        this.fail(m.message);
        return;
    }
  }

  /** Ask reader i to take a snapshot and hold it; resolves with the seq it sees. */
  async hold(i: number): Promise<number> {
    const r = this.readers[i];
    if (r === undefined || r === null) throw new Error(`no reader ${i}`);
    r.holding = null;
    r.released = false;
    r.handle.send({ t: "hold" } satisfies ToReader);
    await this.until(() => r.holding !== null);
    return r.holding ?? -1;
  }

  async release(i: number): Promise<void> {
    const r = this.readers[i];
    if (r === undefined || r === null) throw new Error(`no reader ${i}`);
    r.handle.send({ t: "release" } satisfies ToReader);
    await this.until(() => r.released);
  }

  private ack(seq: number): void {
    if (seq > this.lastAck) this.lastAck = seq;
    if (this.relayPending) return;
    this.relayPending = true;
    setImmediate(() => this.relay());
  }

  /** Send every reader the latest acknowledged seq (batched: at most once per turn). */
  private relay(): void {
    this.relayPending = false;
    const message: ToReader = { t: "ack", seq: this.lastAck };
    for (const r of this.readers) if (r !== null && !r.ending) r.handle.send(message);
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * Try to open a second writer of `file` here (beside the cluster's): its error code, or
 * "opened" (then closed again) when it was not refused.
 */
export function refusedWriter(file: string): string {
  try {
    open(file).close();
    return "opened";
  } catch (e) {
    return isPagekvError(e) ? e.code : String(e);
  }
}

/** Run `fn` in a fresh temporary directory, removed afterwards whatever happened. */
export async function inTempDir<T>(fn: (dir: string) => Promise<T>): Promise<T> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "pagekv-readers-"));
  try {
    return await fn(dir);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
