// Two "processes" on one MemFS for reader tests: exclusive locks are MemFS's, and the
// readers' marks go to a Board the writer's lock reads, as the reader files would
// (docs/design/readers.md). MemFS's own processes are tested in
// test/vfs/memfs-processes.test.ts; this keeps the pager's and the Database's tests apart
// from them.

import assert from "node:assert/strict";
import type { MemFS } from "../../src/vfs/memfs.js";
import type { LockMode, ReaderState, ReadMark, VFS, VLock } from "../../src/vfs/vfs.js";

/** The marks of the readers' opens, as the writer's readers() reports them. */
export class Board {
  readonly slots = new Map<number, ReadMark | null>();
  /** Every mark written, in order (for race A). */
  readonly history: (ReadMark | null)[] = [];
  private next = 1;

  add(): number {
    const id = this.next++;
    this.slots.set(id, null);
    return id;
  }

  states(): ReaderState[] {
    return [...this.slots.values()].map((m, i) => ({ pid: 1000 + i, thread: 0, marks: [m] }));
  }
}

/** A VFS on `fs` whose locks meet `board`: exclusive locks are MemFS's, shared ones the board's. */
export function view(fs: MemFS, board: Board): VFS {
  return {
    open: (p, o) => fs.open(p, o),
    delete: (p) => fs.delete(p),
    exists: (p) => fs.exists(p),
    lock(path: string, mode: LockMode = "exclusive"): VLock {
      if (mode === "exclusive") {
        const inner = fs.lock(path);
        return {
          get held() {
            return inner.held;
          },
          release: () => inner.release(),
          setMark: () => assert.fail("setMark on the writer's lock"),
          readers: () => board.states(),
        };
      }
      const id = board.add();
      let held = true;
      return {
        get held() {
          return held;
        },
        release() {
          held = false;
          board.slots.delete(id);
        },
        setMark(mark: ReadMark | null) {
          assert.ok(held, "setMark after release");
          board.slots.set(id, mark);
          board.history.push(mark);
        },
        readers: () => assert.fail("readers() on a shared lock"),
      };
    },
  };
}
