// NodeFS read marks (docs/design/readers.md, "The files", "How the writer reads a mark",
// races F and G, "What a crash leaves"): readers beside a writer of this version in a worker
// thread and in a child process, their mark slots as the writer's readers() sees them,
// the slot bound, torn and garbage slots, SIGKILLed readers, and older records refused.

import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { createInterface, type Interface } from "node:readline";
import { afterEach, beforeEach, describe, test } from "node:test";
import { fileURLToPath } from "node:url";
import { threadId, Worker } from "node:worker_threads";
import * as zlib from "node:zlib";
import { LOCK_FILE_BYTES_MAX } from "../../src/vfs/node/lockfile.js";
import {
  crc32Bitwise,
  decodeSlot,
  encodeSlot,
  READER_FILE_BYTES,
  RECORD_BYTES,
  SLOT_BYTES,
  slotOffset,
} from "../../src/vfs/node/marks.js";
import { NodeFS } from "../../src/vfs/node/nodefs.js";
import { READER_SLOTS_MAX, type ReaderState, type VLock } from "../../src/vfs/vfs.js";
import { throwsCode } from "../pager/pages.js";
import { idleChild } from "./idle.js";
import type { LockCommand, LockReply } from "./lock-worker.js";

const here = path.dirname(fileURLToPath(import.meta.url));
const childScript = path.join(here, "lock-child.js");
const workerScript = path.join(here, "lock-worker.js");
const vfs = new NodeFS();

let dir = "";
let file = "";
let lockFile = "";
const locks: VLock[] = [];
const peers: Peer[] = [];

beforeEach(() => {
  dir = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), "pagekv-marks-")));
  file = path.join(dir, "db.pkv");
  lockFile = `${file}-lock`;
});

afterEach(async () => {
  for (const l of locks.splice(0)) l.release();
  for (const p of peers.splice(0)) await p.end();
  fs.rmSync(dir, { recursive: true, force: true });
});

function take(p: string, mode: "exclusive" | "shared"): VLock {
  const l = vfs.lock(p, mode);
  locks.push(l);
  return l;
}

/** Another holder (a worker thread or a child process) running LockCommands. */
interface Peer {
  readonly pid: number;
  readonly thread: number;
  send(cmd: LockCommand): Promise<LockReply>;
  end(): Promise<void>;
}

/** Send and expect success; the reply's lock index, if any. */
async function must(peer: Peer, cmd: LockCommand): Promise<LockReply & { ok: true }> {
  const reply = await peer.send(cmd);
  assert.ok(reply.ok, `${cmd.op}: ${reply.ok ? "" : `${reply.code} ${reply.message}`}`);
  return reply;
}

async function workerPeer(): Promise<Peer> {
  const worker = new Worker(workerScript, { workerData: { ops: true } });
  const exit = once(worker, "exit");
  const peer: Peer = {
    pid: process.pid,
    thread: worker.threadId,
    async send(cmd) {
      const replied = once(worker, "message");
      worker.postMessage(cmd);
      return (await replied)[0] as LockReply;
    },
    async end() {
      worker.postMessage("end");
      await exit;
    },
  };
  peers.push(peer);
  return peer;
}

async function exited(child: ChildProcess): Promise<void> {
  if (child.exitCode === null && child.signalCode === null) await once(child, "exit");
}

/**
 * Until `pid` is gone or a zombie (at most 5 s): Deno may report a child's exit before the
 * kernel shows it dead, and the engine judges by what the kernel shows.
 */
async function dead(pid: number): Promise<void> {
  for (let i = 0; i < 500; i++) {
    let stat: string;
    try {
      stat = fs.readFileSync(`/proc/${pid}/stat`, "latin1");
    } catch {
      return; // gone
    }
    const state = stat.slice(stat.lastIndexOf(")") + 2).split(" ")[0];
    if (state === "Z" || state === "X") return;
    await new Promise((r) => setTimeout(r, 10));
  }
  assert.fail(`process ${pid} still alive 5 s after SIGKILL`);
}

async function childPeer(): Promise<Peer & { child: ChildProcess }> {
  const child = spawn(process.execPath, [childScript, "ops"], {
    stdio: ["pipe", "pipe", "inherit"],
  });
  await once(child, "spawn");
  const pid = child.pid;
  assert.ok(pid !== undefined && child.stdout !== null && child.stdin !== null);
  const lines: Interface = createInterface({ input: child.stdout });
  const queue: string[] = [];
  const waiting: ((line: string) => void)[] = [];
  lines.on("line", (line) => {
    const w = waiting.shift();
    if (w !== undefined) w(line);
    else queue.push(line);
  });
  const stdin = child.stdin;
  const peer = {
    child,
    pid,
    thread: 0,
    async send(cmd: LockCommand): Promise<LockReply> {
      const line = new Promise<string>((resolve) => {
        const queued = queue.shift();
        if (queued !== undefined) resolve(queued);
        else waiting.push(resolve);
      });
      stdin.write(`${JSON.stringify(cmd)}\n`);
      return JSON.parse(await line) as LockReply;
    },
    async end() {
      stdin.end();
      await exited(child);
    },
  };
  peers.push(peer);
  return peer;
}

const none = (n: number): null[] => new Array<null>(n).fill(null);
/** The marks of a reader file whose first slots hold `first` and every other one none. */
const slotsOf = (...first: ReaderState["marks"][number][]) => [
  ...first,
  ...none(READER_SLOTS_MAX - first.length),
];
const readerFileOf = (pid: number, thread: number) => `${lockFile}.r${pid}.${thread}`;

describe("the reader file's layout", () => {
  test("the bitwise CRC-32 (no zlib.crc32) gives zlib's values, continued too", () => {
    const zcrc = (zlib as unknown as { crc32: (d: Uint8Array, v?: number) => number }).crc32;
    const data = new TextEncoder().encode("The quick brown fox jumps over the lazy dog");
    assert.equal(crc32Bitwise(data, 0), 0x414f_a339);
    assert.equal(crc32Bitwise(data, 0), zcrc(data, 0));
    const head = data.subarray(0, 10);
    const tail = data.subarray(10);
    assert.equal(crc32Bitwise(tail, crc32Bitwise(head, 0)), zcrc(data, 0));
    assert.equal(crc32Bitwise(new Uint8Array(0), 0), 0);
  });

  test("a slot reads back what was written, and anything else reads unknown", () => {
    const buf = new Uint8Array(SLOT_BYTES);
    encodeSlot({ generation: 7, bound: 0xffff_ffff }, 3, buf, 0);
    assert.deepEqual(decodeSlot(buf, 3), { generation: 7, bound: 0xffff_ffff });
    assert.equal(decodeSlot(buf, 4), "unknown", "a slot copied to another index");
    for (let i = 0; i < SLOT_BYTES; i++) {
      const torn = buf.slice();
      torn[i] = (torn[i] ?? 0) ^ 0x10;
      assert.equal(decodeSlot(torn, 3), "unknown", `byte ${i} flipped`);
    }
    encodeSlot(null, 3, buf, 0);
    assert.equal(decodeSlot(buf, 3), null);
    assert.equal(decodeSlot(new Uint8Array(SLOT_BYTES), 3), "unknown", "zero bytes are not none");
    assert.equal(decodeSlot(buf.subarray(0, SLOT_BYTES - 1), 3), "unknown", "a short slot");
  });

  test("a new reader file holds our proto=2 record, padded, then every slot none", () => {
    take(file, "shared");
    const bytes = fs.readFileSync(readerFileOf(process.pid, threadId));
    assert.equal(bytes.length, READER_FILE_BYTES);
    // Longer than an older writer reads: to it, garbage, judged by the name (alive).
    assert.ok(bytes.length > LOCK_FILE_BYTES_MAX);
    const record = new TextDecoder().decode(bytes.subarray(0, RECORD_BYTES));
    assert.match(record, new RegExp(`^pid=${process.pid} thread=${threadId} .*proto=2\n *$`));
    for (let i = 0; i < READER_SLOTS_MAX; i++) {
      const at = slotOffset(i);
      assert.equal(decodeSlot(bytes.subarray(at, at + SLOT_BYTES), i), null, `slot ${i}`);
    }
  });

  test("the writer's lock file holds its record with proto=2", () => {
    take(file, "exclusive");
    assert.match(
      fs.readFileSync(lockFile, "utf8"),
      new RegExp(`^pid=${process.pid} thread=${threadId}( start=\\d+)?( boot=\\S+)? proto=2\n$`),
    );
  });
});

describe("a reader beside a writer", () => {
  test("a worker thread's writer and this thread's reader coexist; its readers() sees our marks", async () => {
    const writer = await workerPeer();
    const w = (await must(writer, { op: "lock", path: file, mode: "exclusive" })).index ?? -1;
    const r = take(file, "shared");
    assert.deepEqual((await must(writer, { op: "readers", index: w })).readers, [
      { pid: process.pid, thread: threadId, marks: slotsOf() },
    ]);
    r.setMark({ generation: 3, bound: 17 });
    assert.deepEqual((await must(writer, { op: "readers", index: w })).readers, [
      { pid: process.pid, thread: threadId, marks: slotsOf({ generation: 3, bound: 17 }) },
    ]);
    r.release();
    assert.deepEqual((await must(writer, { op: "readers", index: w })).readers, []);
    assert.equal(fs.existsSync(readerFileOf(process.pid, threadId)), false);
    // A second writer, here, is still refused by the worker's: writers exclude writers.
    const e = throwsCode(() => vfs.lock(file), "ERR_LOCKED");
    assert.ok(e.message.includes(`threadId ${writer.thread}`), e.message);
  });

  test("this thread's writer and a worker's reader coexist; readers() sees the worker's mark", async () => {
    const w = take(file, "exclusive");
    const reader = await workerPeer();
    const r = (await must(reader, { op: "lock", path: file, mode: "shared" })).index ?? -1;
    await must(reader, { op: "mark", index: r, mark: { generation: 1, bound: 0 } });
    assert.deepEqual(w.readers(), [
      { pid: process.pid, thread: reader.thread, marks: slotsOf({ generation: 1, bound: 0 }) },
    ]);
    // The worker cannot take the writer beside us; this thread cannot read beside itself.
    const refused = await reader.send({ op: "lock", path: file, mode: "exclusive" });
    assert.equal(refused.ok ? "ok" : refused.code, "ERR_LOCKED");
    throwsCode(() => vfs.lock(file, "shared"), "ERR_LOCKED");
  });

  test("a child process's reader: its setMark is what the next readers() returns", async () => {
    const w = take(file, "exclusive");
    const reader = await childPeer();
    const r = (await must(reader, { op: "lock", path: file, mode: "shared" })).index ?? -1;
    const seen = (): ReaderState[] => w.readers();
    assert.deepEqual(seen(), [{ pid: reader.pid, thread: 0, marks: slotsOf() }]);
    for (const mark of [
      { generation: 5, bound: 0 },
      { generation: 5, bound: 1234 },
      null,
      { generation: 6, bound: 2 },
    ]) {
      await must(reader, { op: "mark", index: r, mark });
      assert.deepEqual(seen(), [{ pid: reader.pid, thread: 0, marks: slotsOf(mark) }]);
    }
    await must(reader, { op: "release", index: r });
    assert.deepEqual(seen(), []);
    assert.equal(fs.existsSync(readerFileOf(reader.pid, 0)), false);
  });

  test("a child process's writer lists this thread's reader and its mark", async () => {
    const writer = await childPeer();
    const w = (await must(writer, { op: "lock", path: file, mode: "exclusive" })).index ?? -1;
    const r = take(file, "shared");
    r.setMark({ generation: 9, bound: 99 });
    assert.deepEqual((await must(writer, { op: "readers", index: w })).readers, [
      { pid: process.pid, thread: threadId, marks: slotsOf({ generation: 9, bound: 99 }) },
    ]);
    // Its second writer is refused by its own first; ours by the child's.
    const second = await writer.send({ op: "lock", path: file, mode: "exclusive" });
    assert.equal(second.ok ? "ok" : second.code, "ERR_LOCKED");
    r.release();
    throwsCode(() => vfs.lock(file), "ERR_LOCKED");
  });

  test("a SIGKILLed reader's file is stale: the writer's readers() removes it", async () => {
    const w = take(file, "exclusive");
    const reader = await childPeer();
    const r = (await must(reader, { op: "lock", path: file, mode: "shared" })).index ?? -1;
    await must(reader, { op: "mark", index: r, mark: { generation: 2, bound: 5 } });
    const left = readerFileOf(reader.pid, 0);
    assert.equal(w.readers().length, 1);
    reader.child.kill("SIGKILL");
    await exited(reader.child);
    await dead(reader.pid);
    assert.equal(fs.existsSync(left), true, "a crash leaves the reader file");
    assert.deepEqual(w.readers(), []);
    assert.equal(fs.existsSync(left), false);
  });
});

describe("the slots of one thread", () => {
  test("each shared lock owns a slot; release clears it; the last release removes the file", async () => {
    const writer = await workerPeer();
    const w = (await must(writer, { op: "lock", path: file, mode: "exclusive" })).index ?? -1;
    const marksSeen = async () => {
      const seen = (await must(writer, { op: "readers", index: w })).readers ?? [];
      assert.equal(seen.length, 1);
      return seen[0]?.marks;
    };
    const [a, b, c] = [take(file, "shared"), take(file, "shared"), take(file, "shared")];
    a.setMark({ generation: 1, bound: 10 });
    b.setMark({ generation: 1, bound: 20 });
    c.setMark({ generation: 1, bound: 30 });
    const ma = { generation: 1, bound: 10 };
    const mc = { generation: 1, bound: 30 };
    assert.deepEqual(await marksSeen(), slotsOf(ma, { generation: 1, bound: 20 }, mc));
    b.release();
    assert.deepEqual(await marksSeen(), slotsOf(ma, null, mc));
    // The freed slot is the next open's, and starts none.
    const d = take(file, "shared");
    assert.deepEqual(await marksSeen(), slotsOf(ma, null, mc));
    d.setMark({ generation: 2, bound: 0 });
    assert.deepEqual(await marksSeen(), slotsOf(ma, { generation: 2, bound: 0 }, mc));
    for (const l of [a, c, d]) l.release();
    assert.equal(fs.existsSync(readerFileOf(process.pid, threadId)), false);
    assert.deepEqual((await must(writer, { op: "readers", index: w })).readers, []);
  });

  test(`the ${READER_SLOTS_MAX + 1}th shared lock of a thread is ERR_LIMIT naming the database and the bound`, () => {
    const held: VLock[] = [];
    for (let i = 0; i < READER_SLOTS_MAX; i++) held.push(take(file, "shared"));
    const e = throwsCode(() => vfs.lock(file, "shared"), "ERR_LIMIT");
    assert.ok(e.message.includes(file), e.message);
    assert.ok(e.message.includes(String(READER_SLOTS_MAX)), e.message);
    // Every held lock keeps its slot: the refused one took none.
    assert.equal(
      held.every((l) => l.held),
      true,
    );
    held[10]?.release();
    take(file, "shared").setMark({ generation: 4, bound: 4 });
    throwsCode(() => vfs.lock(file, "shared"), "ERR_LIMIT");
  });

  test("setMark refuses what is not a mark, a released lock, and the writer's lock; readers() a reader's", () => {
    const r = take(file, "shared");
    for (const bad of [
      { generation: -1, bound: 0 },
      { generation: 0, bound: 2 ** 32 },
      { generation: 1.5, bound: 0 },
      { generation: 1 },
      "mark",
      undefined,
    ]) {
      throwsCode(() => r.setMark(bad as never), "ERR_ARG");
    }
    throwsCode(() => r.readers(), "ERR_ARG");
    r.release();
    throwsCode(() => r.setMark(null), "ERR_CLOSED");
    const w = take(path.join(dir, "other.pkv"), "exclusive");
    throwsCode(() => w.setMark({ generation: 1, bound: 1 }), "ERR_ARG");
    w.release();
    throwsCode(() => w.readers(), "ERR_CLOSED");
  });
});

describe("slots the writer cannot trust, and older files", () => {
  test("a torn or garbage slot, and a slot cut off the file, read unknown", async () => {
    const w = take(file, "exclusive");
    const reader = await childPeer();
    const r0 = (await must(reader, { op: "lock", path: file, mode: "shared" })).index ?? -1;
    const r1 = (await must(reader, { op: "lock", path: file, mode: "shared" })).index ?? -1;
    await must(reader, { op: "mark", index: r0, mark: { generation: 8, bound: 80 } });
    await must(reader, { op: "mark", index: r1, mark: { generation: 8, bound: 81 } });
    const rf = readerFileOf(reader.pid, 0);
    const fd = fs.openSync(rf, "r+");
    try {
      // Slot 0 half rewritten (its bound's bytes changed, not its CRC): a torn write.
      fs.writeSync(fd, new Uint8Array([0, 0, 0, 90]), 0, 4, slotOffset(0) + 8);
      // Slot 1: garbage.
      fs.writeSync(fd, new Uint8Array(SLOT_BYTES).fill(0xa5), 0, SLOT_BYTES, slotOffset(1));
      // Slots from 40 on: not there (a file cut short mid slot 40).
      fs.ftruncateSync(fd, slotOffset(40) + 5);
    } finally {
      fs.closeSync(fd);
    }
    const expected = [
      "unknown",
      "unknown",
      ...none(38),
      ...new Array(READER_SLOTS_MAX - 40).fill("unknown"),
    ];
    assert.deepEqual(w.readers(), [{ pid: reader.pid, thread: 0, marks: expected }]);
    // Rewritten whole, a slot verifies again.
    await must(reader, { op: "mark", index: r0, mark: { generation: 8, bound: 82 } });
    assert.deepEqual(w.readers()[0]?.marks.slice(0, 2), [{ generation: 8, bound: 82 }, "unknown"]);
  });

  test("a live reader file without proto=2 refuses a writer; one appearing later lists unknown", async () => {
    const idle = await idleChild();
    try {
      const pid = idle.pid ?? -1;
      const legacy = `${lockFile}.r${pid}.0`;
      fs.writeFileSync(legacy, `pid=${pid} thread=0\n`);
      const e = throwsCode(() => vfs.lock(file), "ERR_LOCKED");
      assert.ok(e.message.includes(`reader, live process ${pid}`), e.message);
      assert.match(e.message, /proto=2/);
      assert.equal(fs.existsSync(lockFile), false, "the refused writer's lock file is gone");
      fs.unlinkSync(legacy);
      const w = take(file, "exclusive");
      // An older reader arriving now (it will see our lock file and back off): held as unknown.
      fs.writeFileSync(legacy, `pid=${pid} thread=0\n`);
      assert.deepEqual(w.readers(), [{ pid, thread: 0, marks: ["unknown"] }]);
      // A reader file named by pid alone (before threads): thread 0, unknown.
      fs.unlinkSync(legacy);
      fs.writeFileSync(`${lockFile}.r${pid}`, "");
      assert.deepEqual(w.readers(), [{ pid, thread: 0, marks: ["unknown"] }]);
    } finally {
      idle.kill();
      await exited(idle);
    }
  });

  test("a live writer without proto=2 refuses a reader, and leaves no reader file", async () => {
    const idle = await idleChild();
    try {
      const pid = idle.pid ?? -1;
      for (const record of [`${pid}\n`, `pid=${pid} thread=0\n`]) {
        fs.writeFileSync(lockFile, record);
        const e = throwsCode(() => vfs.lock(file, "shared"), "ERR_LOCKED");
        assert.ok(e.message.includes(`process ${pid}`), e.message);
        assert.deepEqual(
          fs.readdirSync(dir).filter((n) => n.includes(".r")),
          [],
        );
      }
      // Another protocol number is not this one either.
      fs.writeFileSync(lockFile, `pid=${pid} thread=0 proto=3\n`);
      throwsCode(() => vfs.lock(file, "shared"), "ERR_LOCKED");
      // proto=2: a neighbour.
      fs.writeFileSync(lockFile, `pid=${pid} thread=0 proto=2\n`);
      take(file, "shared");
      // Our later opens check again, and still get in.
      take(file, "shared");
    } finally {
      idle.kill();
      await exited(idle);
    }
  });
});
