// One process of the readers benchmark (bench/readers.ts spawns it, as the writer and as
// each reader, so both sides of every comparison run in the same kind of process). It
// reads one JSON command per line on stdin and answers each with JSON lines on stdout
// tagged with the command's id; it times its own work with process.hrtime.bigint(),
// CLOCK_MONOTONIC on Linux, one clock for every process of the machine (figure 5 compares
// readings of it across processes). It asserts no timing; it ends when its stdin ends.

import { writeSync } from "node:fs";
import { createInterface } from "node:readline";
import { type Database, open, type Snapshot } from "../src/index.js";
import { keyOf, valueOfKey, XorShift32 } from "./harness.js";

/** What the parent sends: `op` and its arguments; `id` comes back on every answer. */
export interface Command {
  id: number;
  op:
    | "open"
    | "close"
    | "warm"
    | "hotGet"
    | "startRead"
    | "commits"
    | "checkpoint"
    | "busy"
    | "idle"
    | "tick"
    | "watch";
  file?: string;
  readOnly?: boolean;
  cacheBytes?: number;
  keys?: number;
  count?: number;
  seed?: number;
  snapshot?: boolean;
  /** busy: spin on the CPU without touching the database (the control of figure 4). */
  spin?: boolean;
  tick?: number;
  timeoutMs?: number;
}

/** What the readers benchmark prints of a writer's stats().readers entry. */
export interface ReaderSeen {
  pid: number;
  thread: number;
  framesBehind: number;
}

/** Gets and short ranges between two turns of a busy reader's event loop. */
const BUSY_GETS_PER_TURN = 100;
const BUSY_RANGE_ENTRIES = 50;
/** A spinning (control) process's turn: about as long as a busy reader's. */
export const SPIN_TURN_NS = 500_000n;
/** A watch polls at most this long (a bound: a commit never seen is reported, not awaited). */
const WATCH_TIMEOUT_MS_MAX = 10_000;

const TICK_KEY = new TextEncoder().encode("tick");

function reply(id: number, body: object): void {
  writeSync(1, `${JSON.stringify({ id, ...body })}\n`);
}

function nowNs(): bigint {
  return process.hrtime.bigint();
}

let db: Database | null = null;
let keys: Uint8Array[] = [];
let busy: { reads: number; stop: boolean; done: Promise<void> } | null = null;
let version = 1;

function theDb(): Database {
  if (db === null) throw new Error("readers-child: no database open");
  return db;
}

function keysOf(n: number): Uint8Array[] {
  if (keys.length !== n) keys = Array.from({ length: n }, (_, i) => keyOf(i));
  return keys;
}

/** `count` key indexes from `seed`: both processes of a comparison read the same keys. */
function picks(n: number, count: number, seed: number): Uint32Array {
  const rng = new XorShift32(seed);
  return Uint32Array.from({ length: count }, () => rng.int(n));
}

function writerReaders(d: Database): ReaderSeen[] {
  const st = d.stats() as { readers?: ReaderSeen[] };
  return (st.readers ?? []).map((r) => ({
    pid: r.pid,
    thread: r.thread,
    framesBehind: r.framesBehind,
  }));
}

async function busyLoop(state: { reads: number; stop: boolean }, n: number): Promise<void> {
  const d = theDb();
  const ks = keysOf(n);
  const rng = new XorShift32(process.pid);
  let sink = 0;
  while (!state.stop) {
    for (let i = 0; i < BUSY_GETS_PER_TURN; i++) sink += d.get(ks[rng.int(n)])?.[0] ?? 0;
    for (const [, v] of d.range({ gte: ks[rng.int(n)], limit: BUSY_RANGE_ENTRIES })) sink += v[0];
    state.reads += BUSY_GETS_PER_TURN + 1;
    await new Promise<void>((r) => setImmediate(r));
  }
  if (sink === -1) reply(-1, { sink });
}

/** The control of figure 4: as busy on the CPU as a reader, with no database open. */
async function spinLoop(state: { reads: number; stop: boolean }): Promise<void> {
  const rng = new XorShift32(process.pid);
  let sink = 0;
  while (!state.stop) {
    const end = nowNs() + SPIN_TURN_NS;
    while (nowNs() < end) for (let i = 0; i < 100; i++) sink += rng.int(7);
    state.reads++;
    await new Promise<void>((r) => setImmediate(r));
  }
  if (sink === -1) reply(-1, { sink });
}

async function handle(c: Command): Promise<void> {
  const n = c.keys ?? 0;
  switch (c.op) {
    case "open": {
      db = open(c.file ?? "", {
        readOnly: c.readOnly === true,
        create: false,
        cacheBytes: c.cacheBytes,
        sync: "full",
      });
      reply(c.id, { ok: true, pid: process.pid });
      return;
    }
    case "close": {
      theDb().close();
      db = null;
      reply(c.id, { ok: true });
      return;
    }
    case "warm": {
      let count = 0;
      for (const _ of theDb().range()) count++;
      reply(c.id, { ok: true, count });
      return;
    }
    case "hotGet": {
      const d = theDb();
      const ks = keysOf(n);
      const pick = picks(n, c.count ?? 0, c.seed ?? 1);
      // The snapshot is taken and closed outside the timed loop: its gets are the figure.
      const snap: Snapshot | null = c.snapshot === true ? d.snapshot() : null;
      let s = 0;
      const t0 = nowNs();
      if (snap !== null) {
        for (let i = 0; i < pick.length; i++) s += snap.get(ks[pick[i]])?.[0] ?? 0;
      } else {
        for (let i = 0; i < pick.length; i++) s += d.get(ks[pick[i]])?.[0] ?? 0;
      }
      const t1 = nowNs();
      snap?.close();
      reply(c.id, { ok: true, ns: Number(t1 - t0) / pick.length, sink: s });
      return;
    }
    case "startRead": {
      const d = theDb();
      const count = c.count ?? 0;
      const t0 = nowNs();
      for (let i = 0; i < count; i++) d.snapshot().close();
      const t1 = nowNs();
      reply(c.id, { ok: true, ns: Number(t1 - t0) / count });
      return;
    }
    case "commits": {
      const d = theDb();
      const ks = keysOf(n);
      const pick = picks(n, c.count ?? 0, c.seed ?? 1);
      const t0 = nowNs();
      for (let i = 0; i < pick.length; i++) d.put(ks[pick[i]], valueOfKey(pick[i], version++));
      const t1 = nowNs();
      reply(c.id, { ok: true, ns: Number(t1 - t0) / pick.length, readers: writerReaders(d) });
      return;
    }
    case "checkpoint": {
      const d = theDb();
      const done = d.checkpoint();
      reply(c.id, { ok: true, done, walFrames: d.stats().walFrames });
      return;
    }
    case "busy": {
      if (busy !== null) throw new Error("readers-child: already busy");
      const state = { reads: 0, stop: false, done: Promise.resolve() };
      state.done = c.spin === true ? spinLoop(state) : busyLoop(state, n);
      busy = state;
      reply(c.id, { ok: true });
      return;
    }
    case "idle": {
      const b = busy;
      if (b === null) throw new Error("readers-child: not busy");
      b.stop = true;
      await b.done;
      busy = null;
      reply(c.id, { ok: true, reads: b.reads });
      return;
    }
    case "tick": {
      const d = theDb();
      d.put(TICK_KEY, String(c.tick));
      const t = nowNs();
      reply(c.id, { ok: true, t: String(t) });
      return;
    }
    case "watch": {
      // Say so, then poll with plain gets (each starts a read) until the tick shows.
      const d = theDb();
      const want = String(c.tick);
      const limit = nowNs() + BigInt(Math.min(c.timeoutMs ?? 0, WATCH_TIMEOUT_MS_MAX)) * 1_000_000n;
      const dec = new TextDecoder();
      reply(c.id, { polling: true });
      let polls = 0;
      for (;;) {
        const v = d.get(TICK_KEY);
        const t = nowNs();
        polls++;
        if (v !== undefined && dec.decode(v) === want) {
          reply(c.id, { ok: true, t: String(t), polls });
          return;
        }
        if (t > limit) {
          reply(c.id, { ok: true, t: null, polls });
          return;
        }
      }
    }
  }
}

if (process.argv[2] === "serve") {
  const lines = createInterface({ input: process.stdin });
  // One command at a time, in order, except that a busy loop runs between them.
  let queue = Promise.resolve();
  lines.on("line", (line) => {
    const c = JSON.parse(line) as Command;
    queue = queue.then(() =>
      handle(c).catch((e: unknown) => {
        const code = (e as { code?: unknown }).code;
        reply(c.id, {
          ok: false,
          code: typeof code === "string" ? code : null,
          message: String(e),
        });
      }),
    );
  });
}
