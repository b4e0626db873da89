// Tests for MemFS processes: several simulated processes on one machine share its files and
// page cache, each with its own handles and locks; kill() is the death of one process,
// crash() the power loss of the machine; the read-mark protocol's locks and mark slots
// (docs/design/readers.md). They must never assert on time.

import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { isPagekvError, type PagekvError } from "../../src/errors.js";
import { MEMFS_PROCESSES_MAX, MemFS } from "../../src/vfs/memfs.js";
import { READER_SLOTS_MAX, type ReadMark, type VLock } from "../../src/vfs/vfs.js";
import { readAll, text } from "./bytes.js";

const P = "/db.pkv";

function isCode(code: PagekvError["code"]): (e: unknown) => boolean {
  return (e) => isPagekvError(e, code);
}

/** An error of `code` whose message names `path` and contains `words`. */
function isCodeNaming(code: PagekvError["code"], path: string, words: string) {
  return (e: unknown) =>
    isPagekvError(e, code) &&
    e.path === path &&
    e.message.includes(`"${path}"`) &&
    e.message.includes(words);
}

describe("MemFS processes share the machine's files", () => {
  test("pids are assigned in the order processes start", () => {
    const fs = new MemFS();
    const a = fs.process();
    const b = a.process();
    assert.deepEqual([fs.pid, a.pid, b.pid], [1, 2, 3]);
    assert.equal(new MemFS().pid, 1, "a new machine starts again at pid 1");
  });

  test("an unsynced write of one process is read by another, and synced by either", () => {
    const fs = new MemFS();
    const other = fs.process();
    const f = fs.open(P, { create: true });
    f.writeAt(text("hello"), 0);
    const g = other.open(P);
    assert.deepEqual(readAll(g), text("hello"));
    assert.equal(other.pendingBytes(P), 5, "the page cache is one for both");
    assert.equal(other.durableSize(P), 0);
    g.sync();
    assert.deepEqual(fs.readDurable(P), text("hello"));
    assert.equal(fs.pendingBytes(P), 0);
  });

  test("create and delete by one process are seen by every other", () => {
    const fs = new MemFS();
    const other = fs.process();
    other.open("/x", { create: true });
    assert.equal(fs.exists("/x"), true);
    assert.deepEqual(fs.fileNames(), ["/x"]);
    fs.delete("/x");
    assert.equal(other.exists("/x"), false);
    assert.throws(() => other.open("/x"), isCode("ERR_NOT_FOUND"));
  });

  test("a process inherits the machine's crc32", () => {
    const crc32 = (_d: Uint8Array, initial: number) => initial + 1;
    const fs = new MemFS({ crc32 });
    assert.equal(fs.process().crc32, crc32);
    assert.equal("crc32" in new MemFS().process(), false);
  });

  test("opCount and callCount count the calls of every process", () => {
    const fs = new MemFS();
    const other = fs.process();
    const f = fs.open(P, { create: true }); // 1
    const g = other.open(P);
    g.writeAt(text("a"), 0); // 2
    f.sync(); // 3
    g.readAt(new Uint8Array(1), 0);
    assert.equal(fs.opCount, 3);
    assert.equal(other.opCount, 3);
    assert.equal(fs.callCount("write"), 1);
    assert.equal(fs.callCount("read"), 1);
  });

  test("an armed crash fires on any process's call and stops every process", () => {
    const fs = new MemFS();
    const other = fs.process();
    const f = fs.open(P, { create: true });
    f.writeAt(text("kept"), 0);
    f.sync();
    const g = other.open(P);
    fs.armCrash(1);
    g.writeAt(text("x"), 10); // the one call let through
    assert.throws(() => g.writeAt(text("y"), 11), isCode("ERR_CRASHED"));
    assert.throws(() => f.readAt(new Uint8Array(1), 0), isCode("ERR_CRASHED"));
    assert.throws(() => fs.open(P), isCode("ERR_CRASHED"));
    assert.throws(() => other.lock(P, "shared"), isCode("ERR_CRASHED"));
    assert.throws(() => fs.process(), isCode("ERR_CRASHED"));
    other.crash();
    assert.deepEqual(readAll(fs.open(P)), text("kept"));
  });

  test("an injected fault counts calls across processes", () => {
    const fs = new MemFS();
    const other = fs.process();
    const f = fs.open(P, { create: true });
    const g = other.open(P);
    fs.injectFault("write", 2);
    f.writeAt(text("a"), 0);
    assert.throws(() => g.writeAt(text("b"), 1), isCode("ERR_IO"));
    assert.deepEqual(readAll(f), text("a"));
  });
});

describe("MemFS kill(): the death of one process", () => {
  test("its handles close; another process's handles of the same file stay open", () => {
    const fs = new MemFS();
    const victim = fs.process();
    const f = fs.open(P, { create: true });
    const v = victim.open(P);
    victim.kill();
    assert.equal(victim.killed, true);
    assert.equal(fs.killed, false);
    assert.throws(() => v.readAt(new Uint8Array(1), 0), isCodeNaming("ERR_CLOSED", P, "killed"));
    assert.throws(() => v.writeAt(text("z"), 0), isCode("ERR_CLOSED"));
    assert.throws(() => v.size(), isCode("ERR_CLOSED"));
    assert.throws(() => v.sync(), isCode("ERR_CLOSED"));
    v.close();
    f.writeAt(text("ok"), 0);
    assert.equal(f.size(), 2);
  });

  test("the files keep every write it made, synced or not, until power loss", () => {
    const fs = new MemFS();
    const victim = fs.process();
    const v = victim.open(P, { create: true });
    v.writeAt(text("synced"), 0);
    v.sync();
    v.writeAt(text("+cache"), 6);
    victim.kill();
    const f = fs.open(P);
    assert.deepEqual(readAll(f), text("synced+cache"));
    assert.equal(fs.pendingBytes(P), 6);
    // The surviving process may make the dead one's write durable...
    f.sync();
    assert.deepEqual(fs.readDurable(P), text("synced+cache"));
  });

  test("without a sync, the dead process's unsynced write goes at the power loss", () => {
    const fs = new MemFS();
    const victim = fs.process();
    const v = victim.open(P, { create: true });
    v.writeAt(text("synced"), 0);
    v.sync();
    v.writeAt(text("+cache"), 6);
    victim.kill();
    fs.crash();
    assert.deepEqual(readAll(fs.open(P)), text("synced"));
  });

  test("the process's own calls are ERR_CLOSED; the machine's still work", () => {
    const fs = new MemFS();
    fs.open(P, { create: true });
    const victim = fs.process();
    victim.kill();
    victim.kill(); // idempotent
    assert.throws(() => victim.open(P), isCodeNaming("ERR_CLOSED", P, `pid ${victim.pid}`));
    assert.throws(() => victim.open("/n", { create: true }), isCode("ERR_CLOSED"));
    assert.throws(() => victim.exists(P), isCode("ERR_CLOSED"));
    assert.throws(() => victim.delete(P), isCode("ERR_CLOSED"));
    assert.throws(() => victim.lock(P), isCode("ERR_CLOSED"));
    assert.throws(() => victim.tearMark(P), isCode("ERR_CLOSED"));
    assert.equal(fs.exists("/n"), false, "a refused create made no file");
    assert.deepEqual(victim.fileNames(), [P]);
    assert.equal(victim.durableSize(P), 0);
    const child = victim.process();
    assert.equal(child.exists(P), true);
  });

  test("its writer lock ends, and another process can take the writer", () => {
    const fs = new MemFS();
    const victim = fs.process();
    const lock = victim.lock(P);
    assert.throws(() => fs.lock(P), isCode("ERR_LOCKED"));
    victim.kill();
    assert.equal(lock.held, false);
    const next = fs.lock(P);
    assert.equal(next.held, true);
    lock.release(); // the dead lock's release must not free the new one
    assert.equal(next.held, true);
    assert.throws(() => fs.process().lock(P), isCode("ERR_LOCKED"));
  });

  test("its read marks vanish from the writer's readers(); the others' stay", () => {
    const fs = new MemFS();
    const writer = fs.lock(P);
    const a = fs.process();
    const b = fs.process();
    const la = a.lock(P, "shared");
    const lb = b.lock(P, "shared");
    la.setMark({ generation: 1, bound: 3 });
    lb.setMark({ generation: 1, bound: 5 });
    assert.equal(writer.readers().length, 2);
    a.kill();
    assert.equal(la.held, false);
    assert.equal(lb.held, true);
    assert.deepEqual(writer.readers(), [
      { pid: b.pid, thread: 0, marks: [{ generation: 1, bound: 5 }] },
    ]);
    assert.throws(() => la.setMark(null), isCode("ERR_CLOSED"));
  });

  test("kill() is no I/O: it neither counts in opCount nor fires an armed crash, and works while crashed", () => {
    const fs = new MemFS();
    const f = fs.open(P, { create: true }); // 1
    fs.armCrash(1);
    const a = fs.process();
    const b = fs.process();
    const lock = b.lock(P, "shared");
    a.lock(P, "shared");
    a.kill();
    assert.equal(fs.opCount, 1);
    f.writeAt(text("a"), 0); // the one call armCrash(1) lets through
    assert.throws(() => f.sync(), isCode("ERR_CRASHED"));
    b.kill();
    assert.equal(b.killed, true);
    assert.equal(lock.held, false);
  });

  test("a killed process frees its place under MEMFS_PROCESSES_MAX", () => {
    const fs = new MemFS();
    const procs: MemFS[] = [fs];
    while (procs.length < MEMFS_PROCESSES_MAX) procs.push(fs.process());
    assert.throws(() => fs.process(), isCode("ERR_LIMIT"));
    procs[5].kill();
    const again = fs.process();
    assert.equal(again.pid, MEMFS_PROCESSES_MAX + 1);
    assert.throws(() => fs.process(), isCode("ERR_LIMIT"));
  });
});

describe("MemFS crash(): power loss for every process", () => {
  test("every process's handles close and locks end, from whichever handle calls it", () => {
    const fs = new MemFS();
    const a = fs.process();
    const b = fs.process();
    const fw = fs.open(P, { create: true });
    fw.writeAt(text("durable"), 0);
    fw.sync();
    fw.writeAt(text("lost"), 7);
    const writer = fs.lock(P);
    const ra = a.lock(P, "shared");
    ra.setMark({ generation: 2, bound: 0 });
    const fb = b.open(P);
    b.crash();
    for (const l of [writer, ra]) assert.equal(l.held, false);
    for (const f of [fw, fb]) assert.throws(() => f.size(), isCode("ERR_CLOSED"));
    assert.deepEqual(fs.readersOf(P), []);
    // Every process not killed runs again after the boot, with nothing open.
    assert.deepEqual(readAll(a.open(P)), text("durable"));
    const w2 = b.lock(P);
    assert.equal(w2.held, true);
    assert.equal(fs.lock(P, "shared").held, true, "another process's reader beside it");
    writer.release(); // an ended lock's release must not free the new writer
    assert.throws(() => a.lock(P), isCode("ERR_LOCKED"));
  });

  test("a killed process stays dead after the power comes back", () => {
    const fs = new MemFS();
    const victim = fs.process();
    victim.kill();
    victim.crash(); // the power switch is the machine's, reachable from any handle
    assert.equal(victim.killed, true);
    assert.throws(() => victim.open(P, { create: true }), isCode("ERR_CLOSED"));
    assert.equal(fs.open(P, { create: true }).size(), 0);
  });
});

describe("MemFS locks across processes (docs/design/readers.md)", () => {
  test("exclusive excludes exclusive across processes, naming the path and the holder", () => {
    const fs = new MemFS();
    const other = fs.process();
    fs.lock(P);
    assert.throws(() => other.lock(P), isCodeNaming("ERR_LOCKED", P, `pid ${fs.pid}`));
    assert.throws(() => other.lock(P, "exclusive"), isCode("ERR_LOCKED"));
    assert.equal(other.lock("/other.pkv").held, true, "another path is independent");
  });

  test("shared locks of other processes coexist with the writer, in either order", () => {
    const fs = new MemFS();
    const r1 = fs.process();
    const r2 = fs.process();
    const before = r1.lock(P, "shared");
    const writer = fs.lock(P);
    const after = r2.lock(P, "shared");
    const second = r1.lock(P, "shared");
    for (const l of [before, writer, after, second]) assert.equal(l.held, true);
    writer.release();
    assert.equal(fs.lock(P).held, true, "a writer again beside the readers");
  });

  test("within one process the writer and readers exclude each other", () => {
    const fs = new MemFS();
    const w = fs.lock(P);
    assert.throws(() => fs.lock(P, "shared"), isCodeNaming("ERR_LOCKED", P, "holds its writer"));
    w.release();
    const r = fs.lock(P, "shared");
    assert.throws(() => fs.lock(P), isCodeNaming("ERR_LOCKED", P, "open for reading"));
    r.release();
    assert.equal(fs.lock(P).held, true);
  });

  test("a bad mode is ERR_ARG", () => {
    const fs = new MemFS();
    assert.throws(() => fs.lock(P, "both" as "shared"), isCode("ERR_ARG"));
  });

  test(`READER_SLOTS_MAX (${READER_SLOTS_MAX}) shared locks per process and path, then ERR_LIMIT`, () => {
    const fs = new MemFS();
    const locks: VLock[] = [];
    for (let i = 0; i < READER_SLOTS_MAX; i++) locks.push(fs.lock(P, "shared"));
    assert.throws(() => fs.lock(P, "shared"), isCodeNaming("ERR_LIMIT", P, `${READER_SLOTS_MAX}`));
    assert.equal(fs.process().lock(P, "shared").held, true, "another process has its own");
    assert.equal(fs.lock("/b.pkv", "shared").held, true, "another path has its own");
    locks[10].release();
    assert.equal(fs.lock(P, "shared").held, true, "a released slot is free again");
    assert.throws(() => fs.lock(P, "shared"), isCode("ERR_LIMIT"));
  });

  test("locks, marks and readers() neither count in opCount nor fire an armed crash", () => {
    const fs = new MemFS();
    const other = fs.process();
    const f = fs.open(P, { create: true }); // 1
    fs.armCrash(1);
    const w = fs.lock(P);
    const r = other.lock(P, "shared");
    r.setMark({ generation: 1, bound: 1 });
    other.tearMark(P);
    w.readers();
    r.release();
    w.release();
    assert.equal(fs.opCount, 1);
    f.writeAt(text("a"), 0); // the one mutating call armCrash(1) lets through
    assert.throws(() => f.sync(), isCode("ERR_CRASHED"));
  });
});

describe("MemFS mark slots: setMark and readers()", () => {
  test("readers() lists every live reader process by pid, one mark per slot in the order taken", () => {
    const fs = new MemFS();
    const w = fs.lock(P);
    assert.deepEqual(w.readers(), []);
    const b = fs.process();
    const a = fs.process();
    // a takes its lock first, yet b (the lower pid) is listed first.
    const a1 = a.lock(P, "shared");
    const b1 = b.lock(P, "shared");
    const b2 = b.lock(P, "shared");
    // A new slot holds no mark yet (race F): it reads nothing.
    assert.deepEqual(w.readers(), [
      { pid: b.pid, thread: 0, marks: [null, null] },
      { pid: a.pid, thread: 0, marks: [null] },
    ]);
    b2.setMark({ generation: 7, bound: 4 });
    a1.setMark({ generation: 7, bound: 0 });
    b1.setMark({ generation: 6, bound: 9 });
    assert.deepEqual(w.readers(), [
      {
        pid: b.pid,
        thread: 0,
        marks: [
          { generation: 6, bound: 9 },
          { generation: 7, bound: 4 },
        ],
      },
      { pid: a.pid, thread: 0, marks: [{ generation: 7, bound: 0 }] },
    ]);
    b2.setMark(null);
    b1.release();
    assert.deepEqual(w.readers(), [
      { pid: b.pid, thread: 0, marks: [null] },
      { pid: a.pid, thread: 0, marks: [{ generation: 7, bound: 0 }] },
    ]);
    b2.release();
    a1.release();
    assert.deepEqual(w.readers(), []);
  });

  test("readersOf() shows the same, with or without a writer", () => {
    const fs = new MemFS();
    const r = fs.process();
    r.lock(P, "shared").setMark({ generation: 3, bound: 2 });
    const want = [{ pid: r.pid, thread: 0, marks: [{ generation: 3, bound: 2 }] }];
    assert.deepEqual(fs.readersOf(P), want);
    assert.deepEqual(fs.lock(P).readers(), want);
    assert.deepEqual(fs.readersOf("/none"), []);
  });

  test("a published mark is a copy: changing the caller's object later changes nothing", () => {
    const fs = new MemFS();
    const w = fs.lock(P);
    const r = fs.process().lock(P, "shared");
    const mark = { generation: 1, bound: 2 };
    r.setMark(mark);
    mark.bound = 99;
    assert.deepEqual(w.readers()[0].marks, [{ generation: 1, bound: 2 }]);
  });

  test("setMark on the writer's lock and readers() on a reader's are ERR_ARG", () => {
    const fs = new MemFS();
    const w = fs.lock(P);
    const r = fs.process().lock(P, "shared");
    assert.throws(() => w.setMark(null), isCodeNaming("ERR_ARG", P, "writer"));
    assert.throws(() => w.setMark({ generation: 1, bound: 1 }), isCode("ERR_ARG"));
    assert.throws(() => r.readers(), isCodeNaming("ERR_ARG", P, "reader"));
  });

  test("a mark that is not null or two u32s is ERR_ARG, and the slot keeps its mark", () => {
    const fs = new MemFS();
    const r = fs.lock(P, "shared");
    r.setMark({ generation: 4, bound: 4 });
    const bad: unknown[] = [
      undefined,
      5,
      {},
      { generation: 1 },
      { bound: 1 },
      { generation: -1, bound: 0 },
      { generation: 0, bound: 0.5 },
      { generation: 2 ** 32, bound: 0 },
      { generation: 0, bound: Number.NaN },
      { generation: "1", bound: 0 },
    ];
    for (const m of bad) {
      assert.throws(() => r.setMark(m as ReadMark), isCode("ERR_ARG"), JSON.stringify(m));
    }
    assert.deepEqual(fs.readersOf(P)[0].marks, [{ generation: 4, bound: 4 }]);
    r.setMark({ generation: 2 ** 32 - 1, bound: 2 ** 32 - 1 });
    assert.deepEqual(fs.readersOf(P)[0].marks, [{ generation: 2 ** 32 - 1, bound: 2 ** 32 - 1 }]);
  });

  test("setMark and readers() on a released lock are ERR_CLOSED; after an armed crash, ERR_CRASHED", () => {
    const fs = new MemFS();
    const w = fs.lock(P);
    const r = fs.process().lock(P, "shared");
    w.release();
    r.release();
    assert.throws(() => w.readers(), isCodeNaming("ERR_CLOSED", P, "released"));
    assert.throws(() => r.setMark(null), isCodeNaming("ERR_CLOSED", P, "released"));
    const w2 = fs.lock(P);
    const r2 = fs.process().lock(P, "shared");
    const f = fs.open(P, { create: true });
    fs.armCrash(0);
    assert.throws(() => f.sync(), isCode("ERR_CRASHED"));
    assert.throws(() => w2.readers(), isCode("ERR_CRASHED"));
    assert.throws(() => r2.setMark(null), isCode("ERR_CRASHED"));
    r2.release(); // release never throws
    assert.equal(r2.held, false);
  });
});

describe("MemFS tearMark: a slot caught mid-rewrite (race G)", () => {
  test("every slot of the process reads unknown until its next setMark", () => {
    const fs = new MemFS();
    const w = fs.lock(P);
    const reader = fs.process();
    const bystander = fs.process();
    const s0 = reader.lock(P, "shared");
    const s1 = reader.lock(P, "shared");
    const other = bystander.lock(P, "shared");
    s0.setMark({ generation: 1, bound: 2 });
    other.setMark({ generation: 1, bound: 8 });
    reader.tearMark(P);
    assert.deepEqual(w.readers(), [
      { pid: reader.pid, thread: 0, marks: ["unknown", "unknown"] },
      { pid: bystander.pid, thread: 0, marks: [{ generation: 1, bound: 8 }] },
    ]);
    s1.setMark({ generation: 1, bound: 5 });
    assert.deepEqual(w.readers()[0].marks, ["unknown", { generation: 1, bound: 5 }]);
    s0.setMark(null);
    assert.deepEqual(w.readers()[0].marks, [null, { generation: 1, bound: 5 }]);
  });

  test("one slot by its index", () => {
    const fs = new MemFS();
    const reader = fs.process();
    const s0 = reader.lock(P, "shared");
    reader.lock(P, "shared").setMark({ generation: 2, bound: 2 });
    s0.setMark({ generation: 2, bound: 1 });
    reader.tearMark(P, 1);
    assert.deepEqual(fs.readersOf(P)[0].marks, [{ generation: 2, bound: 1 }, "unknown"]);
  });

  test("a path the process holds no shared lock on, or a slot past its last, is ERR_ARG", () => {
    const fs = new MemFS();
    const reader = fs.process();
    assert.throws(() => reader.tearMark(P), isCodeNaming("ERR_ARG", P, "no shared lock"));
    fs.lock(P, "shared"); // another process's slot is not this one's
    assert.throws(() => reader.tearMark(P), isCode("ERR_ARG"));
    reader.lock(P, "shared");
    for (const slot of [1, -1, 0.5]) {
      assert.throws(() => reader.tearMark(P, slot), isCode("ERR_ARG"), String(slot));
    }
    reader.tearMark(P, 0);
    assert.deepEqual(
      fs.readersOf(P).map((r) => r.marks),
      [[null], ["unknown"]],
    );
  });
});

describe("MemFS armKill: a process killed at a file-operation boundary", () => {
  test("the victim's own call that reaches the count dies without effect", () => {
    for (let k = 0; k < 3; k++) {
      const fs = new MemFS();
      const writer = fs.process();
      const f = writer.open(P, { create: true }); // before arming: not counted below
      const lock = writer.lock(P);
      writer.armKill(k);
      for (let i = 0; i < k; i++) f.writeAt(text("a"), i);
      assert.equal(writer.killed, false, `k=${k}`);
      assert.throws(() => f.writeAt(text("b"), k), isCodeNaming("ERR_CLOSED", P, "killed"));
      assert.equal(writer.killed, true);
      assert.equal(lock.held, false);
      assert.deepEqual(readAll(fs.open(P)), text("a".repeat(k)), `k=${k}: the k writes stay`);
      assert.equal(fs.opCount, 1 + k, "the refused call did not count");
    }
  });

  test("another process's call reaching the count kills the victim and goes through", () => {
    const fs = new MemFS();
    const reader = fs.process();
    const rf = reader.open(P, { create: true });
    const rl = reader.lock(P, "shared");
    rl.setMark({ generation: 1, bound: 1 });
    const w = fs.open(P);
    reader.armKill(1);
    w.writeAt(text("x"), 0);
    assert.equal(reader.killed, false);
    w.sync(); // the second call: the reader dies before it, and the sync runs
    assert.equal(reader.killed, true);
    assert.deepEqual(fs.readDurable(P), text("x"));
    assert.deepEqual(fs.readersOf(P), []);
    assert.throws(() => rf.size(), isCode("ERR_CLOSED"));
  });

  test("locks, marks and reads are not boundaries: only mutating calls count", () => {
    const fs = new MemFS();
    const victim = fs.process();
    const f = victim.open(P, { create: true });
    victim.armKill(0);
    f.readAt(new Uint8Array(1), 0);
    victim.lock(P, "shared").setMark(null);
    victim.open(P).size();
    assert.equal(victim.killed, false);
    assert.throws(() => f.truncate(0), isCode("ERR_CLOSED"));
    assert.equal(victim.killed, true);
  });

  test("re-arming replaces the count; crash() disarms it", () => {
    const fs = new MemFS();
    const a = fs.process();
    const b = fs.process();
    const f = fs.open(P, { create: true });
    a.armKill(0);
    a.armKill(2);
    b.armKill(1);
    f.writeAt(text("1"), 0);
    f.writeAt(text("2"), 1);
    assert.deepEqual([a.killed, b.killed], [false, true]);
    fs.crash();
    f.close();
    const g = fs.open(P, { create: true });
    for (let i = 0; i < 4; i++) g.writeAt(text("z"), i);
    assert.equal(a.killed, false, "crash() disarmed a's kill");
  });

  test("a bad count is ERR_ARG; arming a killed process is ERR_CLOSED", () => {
    const fs = new MemFS();
    const p = fs.process();
    for (const bad of [-1, 1.5, Number.NaN]) {
      assert.throws(() => p.armKill(bad), isCode("ERR_ARG"), String(bad));
    }
    p.kill();
    assert.throws(() => p.armKill(0), isCode("ERR_CLOSED"));
  });

  test("an armed crash at the same call wins: the power fails, nobody is killed alone", () => {
    const fs = new MemFS();
    const w = fs.process();
    const f = w.open(P, { create: true });
    w.armKill(0);
    fs.armCrash(0);
    assert.throws(() => f.writeAt(text("a"), 0), isCode("ERR_CRASHED"));
    assert.equal(w.killed, false);
  });
});
