// A worker thread for the locking tests (no tests here). locking.test.ts and marks.test.ts
// start it with workerData; run as a main thread (as the test runner does with every file
// under build/test) it does nothing.
// - { path, readOnly, hold }: opens the database and posts {ok: true, threadId} or
//   {ok: false, code, message}. With hold it keeps the database open until it is sent
//   "close", then closes it, posts "closed" and ends; with hold "leak" it ends without
//   closing the database.
// - { ops: true }: takes NodeFS locks as it is told, one LockCommand per message, one
//   LockReply posted for each (see LockOps); it ends when sent "end", leaving its locks to
//   its 'exit' event. lock-child.ts runs the same commands in a child process.

import { isMainThread, parentPort, threadId, workerData } from "node:worker_threads";
import { type Database, isPagekvError, open } from "../../src/index.js";
import { NodeFS } from "../../src/vfs/node/nodefs.js";
import type { ReaderState, ReadMark, VLock } from "../../src/vfs/vfs.js";

interface Job {
  path: string;
  readOnly: boolean;
  hold: boolean | "leak";
}

/** One step of a lock script: which lock (by the index "lock" replied) does what. */
export type LockCommand =
  | { op: "lock"; path: string; mode: "exclusive" | "shared" }
  | { op: "mark"; index: number; mark: ReadMark | null }
  | { op: "release"; index: number }
  | { op: "readers"; index: number };

export type LockReply =
  | { ok: true; pid: number; threadId: number; index?: number; readers?: ReaderState[] }
  | { ok: false; code: string; message: string };

/** Runs LockCommands against one NodeFS, keeping the locks it took by index. */
export class LockOps {
  private readonly vfs = new NodeFS();
  private readonly locks: VLock[] = [];

  run(cmd: LockCommand): LockReply {
    const me = { ok: true as const, pid: process.pid, threadId };
    try {
      switch (cmd.op) {
        case "lock":
          this.locks.push(this.vfs.lock(cmd.path, cmd.mode));
          return { ...me, index: this.locks.length - 1 };
        case "mark":
          this.lockAt(cmd.index).setMark(cmd.mark);
          return me;
        case "release":
          this.lockAt(cmd.index).release();
          return me;
        case "readers":
          return { ...me, readers: this.lockAt(cmd.index).readers() };
      }
    } catch (e) {
      if (isPagekvError(e)) return { ok: false, code: e.code, message: e.message };
      return { ok: false, code: "NOT_PAGEKV", message: String(e) };
    }
  }

  private lockAt(index: number): VLock {
    const lock = this.locks[index];
    if (lock === undefined) throw new Error(`no lock ${index}`);
    return lock;
  }
}

function run(port: NonNullable<typeof parentPort>, job: Job): void {
  let db: Database;
  try {
    db = open(job.path, { readOnly: job.readOnly });
  } catch (e) {
    if (isPagekvError(e)) port.postMessage({ ok: false, code: e.code, message: e.message });
    else port.postMessage({ ok: false, code: "NOT_PAGEKV", message: String(e) });
    return;
  }
  if (!job.readOnly) db.put("k", `from thread ${threadId}`);
  port.postMessage({ ok: true, threadId });
  if (job.hold === true) {
    port.once("message", () => {
      db.close();
      port.postMessage("closed");
    });
  } else if (job.hold === false) {
    db.close();
  }
  // "leak": end with the database open.
}

function serve(port: NonNullable<typeof parentPort>): void {
  const ops = new LockOps();
  port.on("message", (cmd: LockCommand | "end") => {
    if (cmd === "end") port.close();
    else port.postMessage(ops.run(cmd));
  });
}

if (!isMainThread && parentPort !== null) {
  const data = workerData as Job | { ops: true };
  if ("ops" in data) serve(parentPort);
  else run(parentPort, data);
}
