// A reader's mark slot that cannot be written (docs/design/readers.md, race G; the lock
// files: docs/design/locking.md): setMark is ERR_IO and the slot keeps its last mark;
// release gives the lock up all the same. The failure is injected by replacing node:fs's
// writeSync for the engine's ESM import too (syncBuiltinESMExports), which only Node
// supports: scripts/runtimes.ts runs this file on Node only.

import assert from "node:assert/strict";
import fsModule, * as fs from "node:fs";
import { syncBuiltinESMExports } from "node:module";
import * as os from "node:os";
import * as path from "node:path";
import { afterEach, beforeEach, describe, test } from "node:test";
import { threadId } from "node:worker_threads";
import { decodeSlots } from "../../src/vfs/node/marks.js";
import { NodeFS } from "../../src/vfs/node/nodefs.js";
import type { VLock } from "../../src/vfs/vfs.js";
import { throwsCode } from "../pager/pages.js";

const vfs = new NodeFS();
let dir = "";
let file = "";
const locks: VLock[] = [];

beforeEach(() => {
  dir = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), "pagekv-marks-faults-")));
  file = path.join(dir, "db.pkv");
});

afterEach(() => {
  for (const l of locks.splice(0)) if (l.held) l.release();
  fs.rmSync(dir, { recursive: true, force: true });
});

function take(mode: "exclusive" | "shared"): VLock {
  const l = vfs.lock(file, mode);
  locks.push(l);
  return l;
}

const readerFile = () => `${file}-lock.r${process.pid}.${threadId}`;

/** The marks in this thread's reader file, as a writer would decode them. */
function slotsOnDisk(): ReturnType<typeof decodeSlots> {
  const bytes = fs.readFileSync(readerFile());
  return decodeSlots(new Uint8Array(bytes), bytes.length);
}

/** Run `fn` while every fs.writeSync fails with EIO (the engine's `import * as fs` too). */
function withFailingWrites(fn: () => void): void {
  const real = fsModule.writeSync;
  fsModule.writeSync = (() => {
    throw Object.assign(new Error("EIO: i/o error, write"), { code: "EIO" });
  }) as typeof fsModule.writeSync;
  syncBuiltinESMExports();
  try {
    fn();
  } finally {
    fsModule.writeSync = real;
    syncBuiltinESMExports();
  }
}

describe("a slot that cannot be written", () => {
  test("setMark is ERR_IO naming the reader file; the slot keeps its last mark", () => {
    const r = take("shared");
    r.setMark({ generation: 1, bound: 1 });
    withFailingWrites(() => {
      const e = throwsCode(() => r.setMark({ generation: 1, bound: 2 }), "ERR_IO");
      assert.ok(e.message.includes(readerFile()), e.message);
      assert.match(e.message, /mark slot 0/);
    });
    assert.deepEqual(slotsOnDisk()[0], { generation: 1, bound: 1 });
  });

  test("release gives the lock up even when its slot cannot be cleared, then says ERR_IO", () => {
    const a = take("shared");
    const b = take("shared");
    a.setMark({ generation: 3, bound: 3 });
    withFailingWrites(() => {
      throwsCode(() => a.release(), "ERR_IO");
      assert.equal(a.held, false);
      // The last release still removes the file: no mark outlives it.
      throwsCode(() => b.release(), "ERR_IO");
      assert.equal(b.held, false);
    });
    assert.equal(fs.existsSync(readerFile()), false);
    // The registry let both go: this thread may now be the writer.
    take("exclusive");
  });
});
