// What readers beside the writer cost and how fresh they are (issue 11,
// docs/design/readers.md), on NodeFS in a temp dir. One writer process and READERS reader
// processes, all the same program (bench/readers-child.ts) started the same way, so every
// comparison is between two processes of one kind:
//   1. a reader's hot get through a snapshot it holds, against the writer's hot db.get;
//   2. a reader's plain db.get (a read started per get), against the writer's db.get;
//   3. starting a read when nothing changed (a reader's snapshot() + close()), against the
//      writer's snapshot() + close();
//   4. the writer's durable commits (sync "full") with READERS busy readers, against none;
//   5. how long after the writer's commit returns a polling reader's read sees it.
// Figures 1-4 are medians of rotated rounds (every side once per round, the order rotating;
// each process times its own work); figure 5 reads one monotonic clock in two processes.
// Nothing here asserts a timing.
//
// Usage: node build/bench/readers.js [--keys N]

import { type ChildProcess, spawn } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { open } from "../src/index.js";
import {
  fmt,
  fmtInt,
  fsTypeName,
  KEY_BYTES,
  keyOf,
  machineLoad,
  median,
  printRunsOf,
  printTable,
  shuffled,
  VALUE_BYTES,
  valueOfKey,
  verdict,
} from "./harness.js";
import { type Command, type ReaderSeen, SPIN_TURN_NS } from "./readers-child.js";

const KEYS_DEFAULT = 100_000;
const LOAD_TXN_KEYS = 10_000;
const PAGE_BYTES = 4096;
/** Several times the database: every hot figure reads from the pool. */
const CACHE_BYTES = 64 * 2 ** 20;
/** Reader processes: all busy in figure 4; the first one measures figures 1, 2, 3 and 5. */
const READERS = 4;
const RUNS = 15;
const WARMUP_RUNS = 1;
const HOT_READS_PER_RUN = 200_000;
const START_READS_PER_RUN = 100_000;
const COMMITS_PER_RUN = 100;
const COMMIT_RUNS = 25;
const LATENCY_SAMPLES = 300;
/** How long a reader polls for one commit before the sample is counted as never seen. */
const WATCH_TIMEOUT_MS = 5_000;
/** A bound on any one answer from a child: a child that hangs ends the run. */
const REPLY_TIMEOUT_MS = 120_000;

/** The targets: a time ratio and a throughput ratio. */
const HOT_GET_TARGET = 1.2;
const COMMITS_TARGET = 0.8;

type Row = [benchmark: string, figure: string, reference: string, ratio: string, target: string];

const here = path.dirname(fileURLToPath(import.meta.url));
const childScript = path.join(here, "readers-child.js");

type Reply = Record<string, unknown> & { id: number; ok?: boolean };

/** One child process and its answers, by command id. */
class Child {
  readonly name: string;
  private readonly proc: ChildProcess;
  private nextId = 1;
  private readonly arrived = new Map<number, Reply[]>();
  private readonly waiting = new Map<number, (r: Reply) => void>();
  private ended = false;

  constructor(name: string) {
    this.name = name;
    this.proc = spawn(process.execPath, [childScript, "serve"], {
      stdio: ["pipe", "pipe", "inherit"],
    });
    const out = this.proc.stdout;
    if (out === null) throw new Error(`${name}: no stdout`);
    createInterface({ input: out }).on("line", (line) => {
      const r = JSON.parse(line) as Reply;
      const w = this.waiting.get(r.id);
      if (w !== undefined) {
        this.waiting.delete(r.id);
        w(r);
      } else {
        const q = this.arrived.get(r.id) ?? [];
        q.push(r);
        this.arrived.set(r.id, q);
      }
    });
    this.proc.on("exit", () => {
      this.ended = true;
    });
  }

  /** Send a command; returns its id. */
  post(c: Omit<Command, "id">): number {
    const id = this.nextId++;
    this.proc.stdin?.write(`${JSON.stringify({ id, ...c })}\n`);
    return id;
  }

  /** The next answer to command `id`; a failure answer throws. */
  next(id: number): Promise<Reply> {
    const q = this.arrived.get(id);
    const queued = q?.shift();
    if (queued !== undefined) return Promise.resolve(checked(this.name, queued));
    if (this.ended) return Promise.reject(new Error(`${this.name}: the process ended`));
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiting.delete(id);
        reject(new Error(`${this.name}: no answer to command ${id} in ${REPLY_TIMEOUT_MS} ms`));
      }, REPLY_TIMEOUT_MS);
      this.waiting.set(id, (r) => {
        clearTimeout(timer);
        try {
          resolve(checked(this.name, r));
        } catch (e) {
          reject(e);
        }
      });
    });
  }

  ask(c: Omit<Command, "id">): Promise<Reply> {
    return this.next(this.post(c));
  }

  /** ns per operation of a timed command. */
  async ns(c: Omit<Command, "id">): Promise<number> {
    const r = await this.ask(c);
    if (typeof r.ns !== "number") throw new Error(`${this.name}: ${c.op} answered no time`);
    return r.ns;
  }

  async end(): Promise<void> {
    if (this.ended) return;
    const exited = new Promise<void>((r) => this.proc.once("exit", () => r()));
    this.proc.stdin?.end();
    await exited;
  }

  kill(): void {
    if (!this.ended) this.proc.kill();
  }
}

function checked(name: string, r: Reply): Reply {
  if (r.ok === false) throw new Error(`${name}: ${String(r.code)}: ${String(r.message)}`);
  return r;
}

/** One side of a rotated comparison whose work runs in a child (it reports ns per op). */
interface AsyncSide {
  readonly run: () => Promise<number>;
  readonly before?: () => Promise<void>;
  readonly after?: () => Promise<void>;
}

/**
 * harness.ts's `rotated` for sides that run in other processes: `runs` rounds each timing
 * every side once, the order rotating from round to round and turning around after every
 * `sides.length` rounds, after `warmupRuns` untimed rounds. Returns ns/op [side][round].
 */
async function rotatedAsync(
  runs: number,
  sides: readonly AsyncSide[],
  warmupRuns: number,
): Promise<number[][]> {
  const once = async (s: AsyncSide): Promise<number> => {
    await s.before?.();
    const ns = await s.run();
    await s.after?.();
    return ns;
  };
  for (let w = 0; w < warmupRuns; w++) for (const s of sides) await once(s);
  const k = sides.length;
  const out: number[][] = sides.map(() => []);
  for (let r = 0; r < runs; r++) {
    const step = Math.floor(r / k) % 2 === 0 ? 1 : k - 1;
    for (let j = 0; j < k; j++) {
      const i = (r + j * step) % k;
      out[i].push(await once(sides[i]));
    }
  }
  return out;
}

function timeRatios(a: readonly number[], b: readonly number[]): number[] {
  return a.map((x, i) => x / b[i]);
}

function speedRatios(a: readonly number[], b: readonly number[]): number[] {
  return a.map((x, i) => b[i] / x);
}

function spread(xs: readonly number[]): string {
  return `${fmt(Math.min(...xs), 2)}..${fmt(Math.max(...xs), 2)}`;
}

/** The p-th percentile (0..100) of a non-empty list, nearest rank. */
function percentile(xs: readonly number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  const rank = Math.min(s.length, Math.max(1, Math.ceil((p / 100) * s.length)));
  return s[rank - 1];
}

function load(file: string, n: number): void {
  const db = open(file, { pageSize: PAGE_BYTES, cacheBytes: CACHE_BYTES, sync: "normal" });
  try {
    const order = shuffled(n, 1);
    for (let s = 0; s < n; s += LOAD_TXN_KEYS) {
      db.transaction((tx) => {
        const end = Math.min(n, s + LOAD_TXN_KEYS);
        for (let j = s; j < end; j++) tx.put(keyOf(order[j]), valueOfKey(order[j], 0));
      });
    }
    db.checkpoint();
  } finally {
    db.close();
  }
}

interface Cast {
  readonly writer: Child;
  readonly readers: readonly Child[];
  readonly file: string;
  readonly n: number;
}

async function openAll(c: Cast, readers: readonly Child[]): Promise<void> {
  await Promise.all(
    readers.map((r) =>
      r.ask({ op: "open", file: c.file, readOnly: true, cacheBytes: CACHE_BYTES }),
    ),
  );
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { keys: { type: "string" } } });
  const n = values.keys === undefined ? KEYS_DEFAULT : Number(values.keys);
  if (!Number.isInteger(n) || n < 1000) throw new Error("--keys must be an integer >= 1000");
  const t0 = performance.now();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "pagekv-readers-bench-"));
  console.log("pagekv readers benchmark");
  console.log(`node ${process.version} on ${os.platform()} ${os.arch()}`);
  console.log(`cpu: ${os.cpus()[0]?.model ?? "unknown"} (${os.cpus().length} logical cores)`);
  console.log(`temp dir: ${dir} (${fsTypeName(dir)})`);
  console.log(`machine load at start: ${machineLoad()}`);
  console.log(
    `${fmtInt(n)} keys of ${KEY_BYTES} B, values ${VALUE_BYTES} B, page ${PAGE_BYTES} B, ` +
      `pool ${CACHE_BYTES / 2 ** 20} MiB in every process (the whole database fits); one ` +
      `writer process (sync "full") and ${READERS} reader processes, all ${path.basename(childScript)}; ` +
      `medians of ${RUNS} rotated rounds (${COMMIT_RUNS} for commits) after ${WARMUP_RUNS} warm-up round`,
  );
  const file = path.join(dir, "r.pkv");
  load(file, n);
  const writer = new Child("writer");
  const readers = Array.from({ length: READERS }, (_, i) => new Child(`reader ${i}`));
  const cast: Cast = { writer, readers, file, n };
  const rows: Row[] = [];
  try {
    await writer.ask({ op: "open", file, readOnly: false, cacheBytes: CACHE_BYTES });
    await openAll(cast, readers);
    for (const ch of [writer, ...readers]) await ch.ask({ op: "warm" });
    rows.push(...(await benchHotGet(cast)));
    rows.push(...(await benchStartRead(cast)));
    rows.push(...(await benchCommits(cast)));
    rows.push(...(await benchLatency(cast)));
    for (const ch of [writer, ...readers]) await ch.ask({ op: "close" });
    for (const ch of [writer, ...readers]) await ch.end();
  } finally {
    for (const ch of [writer, ...readers]) ch.kill();
    fs.rmSync(dir, { recursive: true, force: true });
  }
  console.log(`\nmachine load at end: ${machineLoad()}`);
  console.log("\n## Summary\n");
  printTable(["benchmark", "figure", "reference (same run)", "ratio", "target"], rows);
  console.log(`\ntotal time ${fmt((performance.now() - t0) / 1000, 1)} s; temp dir removed`);
}

// ---- 1-2. hot gets ----

async function benchHotGet(c: Cast): Promise<Row[]> {
  console.log(
    `\n## 1-2. Hot point reads of random keys, ${fmtInt(HOT_READS_PER_RUN)} per run (the ` +
      "whole database in each process's pool; the writer idle)\n",
  );
  const r0 = c.readers[0];
  const hot = { op: "hotGet", keys: c.n, count: HOT_READS_PER_RUN, seed: 2 } as const;
  const [tW, tSnap, tPlain] = await rotatedAsync(
    RUNS,
    [
      { run: () => c.writer.ns(hot) },
      { run: () => r0.ns({ ...hot, snapshot: true }) },
      { run: () => r0.ns(hot) },
    ],
    WARMUP_RUNS,
  );
  printRunsOf("writer, db.get               ", tW, "ns/get", 1);
  printRunsOf("reader, snapshot.get (held)  ", tSnap, "ns/get", 1);
  printRunsOf("reader, db.get (a read each) ", tPlain, "ns/get", 1);
  const rs = timeRatios(tSnap, tW);
  const rp = timeRatios(tPlain, tW);
  console.log(
    `reader snapshot.get ${fmt(median(tSnap), 0)} ns, writer db.get ${fmt(median(tW), 0)} ns: ` +
      `${fmt(median(rs), 3)}x time (per round ${spread(rs)}; target <= ${HOT_GET_TARGET}x)`,
  );
  console.log(
    `reader db.get ${fmt(median(tPlain), 0)} ns, writer db.get ${fmt(median(tW), 0)} ns: ` +
      `${fmt(median(rp), 3)}x time (per round ${spread(rp)}; no target)`,
  );
  return [
    [
      "reader's hot get through a snapshot it holds",
      `${fmt(median(tSnap), 0)} ns/get`,
      `${fmt(median(tW), 0)} ns/get (the writer's db.get)`,
      `${fmt(median(rs), 3)}x time`,
      `<= ${HOT_GET_TARGET}x ${verdict(median(rs) <= HOT_GET_TARGET)}; per round ${spread(rs)}`,
    ],
    [
      "reader's plain db.get (starts a read each)",
      `${fmt(median(tPlain), 0)} ns/get`,
      `${fmt(median(tW), 0)} ns/get (the writer's db.get)`,
      `${fmt(median(rp), 3)}x time`,
      `none; per round ${spread(rp)}`,
    ],
  ];
}

// ---- 3. starting a read ----

async function benchStartRead(c: Cast): Promise<Row[]> {
  console.log(
    `\n## 3. Starting a read when nothing changed: snapshot() + close(), ` +
      `${fmtInt(START_READS_PER_RUN)} per run (the database idle)\n`,
  );
  const r0 = c.readers[0];
  const cmd = { op: "startRead", count: START_READS_PER_RUN } as const;
  const [tR, tW] = await rotatedAsync(
    RUNS,
    [{ run: () => r0.ns(cmd) }, { run: () => c.writer.ns(cmd) }],
    WARMUP_RUNS,
  );
  printRunsOf("reader, snapshot() + close()", tR, "us/pair", 1000);
  printRunsOf("writer, snapshot() + close()", tW, "us/pair", 1000);
  const r = timeRatios(tR, tW);
  console.log(
    `reader ${fmt(median(tR) / 1000, 3)} us, writer ${fmt(median(tW) / 1000, 3)} us per ` +
      `snapshot() + close(): ${fmt(median(r), 1)}x time (per round ${spread(r)}; no target)`,
  );
  return [
    [
      "start a read, nothing changed: reader's snapshot() + close()",
      `${fmt(median(tR) / 1000, 3)} us/pair`,
      `${fmt(median(tW) / 1000, 3)} us/pair (the writer's snapshot() + close())`,
      `${fmt(median(r), 1)}x time`,
      `none (raw); per round ${fmt(Math.min(...tR) / 1000, 3)}..${fmt(Math.max(...tR) / 1000, 3)} us`,
    ],
  ];
}

// ---- 4. durable commits with busy readers ----

async function benchCommits(c: Cast): Promise<Row[]> {
  console.log(
    `\n## 4. The writer's durable commits: db.put of one random key each, sync "full", ` +
      `${fmtInt(COMMITS_PER_RUN)} per run, with ${READERS} busy reader processes against none\n`,
  );
  console.log(
    "Busy: each reader loops on 100 db.get of random keys and a 50-entry range, then a turn " +
      "of its event loop. None: every reader has closed the database (no reader file). " +
      `Control: the ${READERS} processes spin on the CPU in turns of ${Number(SPIN_TURN_NS) / 1000} us ` +
      "with the database closed (what CPU contention alone costs the writer on this machine). " +
      "After each run the writer checkpoints (untimed).",
  );
  let seq = 10;
  let reads = 0;
  let busyRounds = 0;
  let held: ReaderSeen[] = [];
  let checkpointsHeld = 0;
  const commitRun = async (busy: boolean): Promise<number> => {
    const r = await c.writer.ask({ op: "commits", keys: c.n, count: COMMITS_PER_RUN, seed: seq++ });
    if (busy) held = (r.readers as ReaderSeen[] | undefined) ?? [];
    return r.ns as number;
  };
  const checkpoint = async (busy: boolean): Promise<void> => {
    const r = await c.writer.ask({ op: "checkpoint" });
    if (busy && r.done !== true) checkpointsHeld++;
  };
  const [tBusy, tNone, tSpin] = await rotatedAsync(
    COMMIT_RUNS,
    [
      {
        before: async () => {
          await Promise.all(c.readers.map((r) => r.ask({ op: "busy", keys: c.n })));
        },
        run: () => commitRun(true),
        after: async () => {
          const rs = await Promise.all(c.readers.map((r) => r.ask({ op: "idle" })));
          for (const r of rs) reads += r.reads as number;
          busyRounds++;
          await checkpoint(true);
        },
      },
      {
        before: async () => {
          await Promise.all(c.readers.map((r) => r.ask({ op: "close" })));
        },
        run: () => commitRun(false),
        after: async () => {
          await checkpoint(false);
          await openAll(c, c.readers);
        },
      },
      {
        before: async () => {
          await Promise.all(c.readers.map((r) => r.ask({ op: "close" })));
          await Promise.all(c.readers.map((r) => r.ask({ op: "busy", spin: true })));
        },
        run: () => commitRun(false),
        after: async () => {
          await Promise.all(c.readers.map((r) => r.ask({ op: "idle" })));
          await checkpoint(false);
          await openAll(c, c.readers);
        },
      },
    ],
    WARMUP_RUNS,
  );
  printRunsOf(`${READERS} busy readers`, tBusy, "us/commit", 1000);
  printRunsOf("no reader     ", tNone, "us/commit", 1000);
  printRunsOf(`${READERS} spinning    `, tSpin, "us/commit", 1000);
  const perSec = (ns: number) => `${fmtInt(1e9 / ns)} commits/s`;
  const r = speedRatios(tBusy, tNone);
  console.log(
    `the readers made ${fmtInt(reads)} reads in ${busyRounds} busy runs ` +
      `(${fmtInt(reads / busyRounds)} per run, all ${READERS} together)`,
  );
  console.log(
    `the writer's stats().readers after the last busy run's commits: ` +
      (held.length === 0
        ? "none listed"
        : held
            .map((h) => `pid ${h.pid} thread ${h.thread} ${h.framesBehind} frames behind`)
            .join("; ")),
  );
  console.log(
    `the untimed checkpoint after a busy run returned false (held back by a reader) ` +
      `${checkpointsHeld} of ${busyRounds} times`,
  );
  console.log(
    `${READERS} busy readers ${perSec(median(tBusy))}, none ${perSec(median(tNone))}: ` +
      `${fmt(median(r), 3)}x throughput (per round ${spread(r)}; target >= ${COMMITS_TARGET}x)`,
  );
  const rs = speedRatios(tSpin, tNone);
  const rb = speedRatios(tBusy, tSpin);
  console.log(
    `control: ${READERS} spinning processes ${perSec(median(tSpin))}, none ` +
      `${perSec(median(tNone))}: ${fmt(median(rs), 3)}x throughput (per round ${spread(rs)}); ` +
      `busy readers against spinning processes ${fmt(median(rb), 3)}x (per round ${spread(rb)})`,
  );
  return [
    [
      `durable commits (sync "full") with ${READERS} busy reader processes`,
      perSec(median(tBusy)),
      `${perSec(median(tNone))} (no reader)`,
      `${fmt(median(r), 3)}x throughput`,
      `>= ${COMMITS_TARGET}x ${verdict(median(r) >= COMMITS_TARGET)}; per round ${spread(r)}`,
    ],
    [
      `control: durable commits with ${READERS} processes spinning (no database)`,
      perSec(median(tSpin)),
      `${perSec(median(tNone))} (no reader)`,
      `${fmt(median(rs), 3)}x throughput`,
      `none; busy readers / spinning ${fmt(median(rb), 3)}x`,
    ],
  ];
}

// ---- 5. how soon a reader sees a commit ----
//
// What this figure shows is readers.md's race E' (written down as open): a reader reads
// the committed end off the log itself, and the writer's commit appends its frames (commit
// mark included) before it syncs the log, so with sync "full" a reader can see a commit
// before the writer's put has returned. Negative latencies below are such reads.

async function benchLatency(c: Cast): Promise<Row[]> {
  console.log(
    `\n## 5. How soon a reader sees a commit: ${LATENCY_SAMPLES} commits of "tick" (sync ` +
      `"full"), each watched by reader 0 polling with db.get from before the commit\n`,
  );
  console.log(
    "latency = the reader's process.hrtime.bigint() just after the get that returned the new " +
      "value, minus the writer's just after its db.put returned (one CLOCK_MONOTONIC for both " +
      "processes). Negative: the reader saw the commit before the writer's put returned " +
      "(its frames were written and readable before the sync ended: readers.md, race E').",
  );
  const r0 = c.readers[0];
  const us: number[] = [];
  let missed = 0;
  let polls = 0;
  for (let i = 0; i < LATENCY_SAMPLES; i++) {
    const id = r0.post({ op: "watch", tick: i, timeoutMs: WATCH_TIMEOUT_MS });
    await r0.next(id); // polling
    const w = await c.writer.ask({ op: "tick", tick: i });
    const seen = await r0.next(id);
    polls += seen.polls as number;
    if (seen.t === null) {
      missed++;
      continue;
    }
    us.push(Number(BigInt(seen.t as string) - BigInt(w.t as string)) / 1000);
  }
  const negative = us.filter((x) => x < 0).length;
  if (us.length === 0) {
    console.log(`no commit was seen within ${WATCH_TIMEOUT_MS} ms (${missed} missed)`);
    return [["reader sees a commit", "never", "-", "-", "none"]];
  }
  console.log(
    `seen ${us.length} of ${LATENCY_SAMPLES} (missed within ${WATCH_TIMEOUT_MS} ms: ${missed}); ` +
      `median ${fmt(median(us), 1)} us, p99 ${fmt(percentile(us, 99), 1)} us, min ` +
      `${fmt(Math.min(...us), 1)} us, max ${fmt(Math.max(...us), 1)} us; negative ${negative}; ` +
      `${fmtInt(polls / LATENCY_SAMPLES)} polls per sample`,
  );
  return [
    [
      "reader sees a commit after the writer's return: median",
      `${fmt(median(us), 1)} us`,
      "-",
      "-",
      `none; ${negative} of ${us.length} negative (seen before the put returned)`,
    ],
    [
      "reader sees a commit after the writer's return: p99",
      `${fmt(percentile(us, 99), 1)} us`,
      "-",
      "-",
      `none; max ${fmt(Math.max(...us), 1)} us, ${missed} never seen`,
    ],
  ];
}

await main();
