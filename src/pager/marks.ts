// Read marks (docs/design/readers.md): what a reader publishes about the log it may still
// read, and how the writer reads everyone's. The files behind them are the VFS's
// (VLock.setMark / VLock.readers); this is the arithmetic both sides agree on.
//
// Invariants:
//   - a reader's published mark never claims less than it reads: it is published before a
//     read looks at the log when none was (hold everything, race A), and only raised while
//     it stays published;
//   - the writer counts a mark it cannot trust (another generation, unknown) as bound 0,
//     which holds everything: a doubt never lets a page go home.

import type { ReaderState, ReadMark, VLock } from "../vfs/vfs.js";

/** A live reader as the writer's stats() shows it. */
export interface ReaderLag {
  readonly pid: number;
  readonly thread: number;
  /** Frames between its oldest mark and the committed end: the log it holds (0: none). */
  readonly framesBehind: number;
}

/** The bound in generation `generation` that `mark` holds the writer to, or null (none). */
export function effectiveBound(
  mark: ReadMark | null | "unknown",
  generation: number,
  end: number,
): number | null {
  if (mark === null) return null;
  if (mark === "unknown" || mark.generation !== generation) return 0;
  return Math.min(mark.bound, end);
}

/** The least bound any reader holds, or null when no reader holds any. */
export function oldestReaderBound(
  readers: readonly ReaderState[],
  generation: number,
  end: number,
): number | null {
  let oldest: number | null = null;
  for (const r of readers) {
    for (const m of r.marks) {
      const b = effectiveBound(m, generation, end);
      if (b !== null && (oldest === null || b < oldest)) oldest = b;
    }
  }
  return oldest;
}

export function readerLags(
  readers: readonly ReaderState[],
  generation: number,
  end: number,
): ReaderLag[] {
  return readers.map((r) => {
    let oldest = end;
    for (const m of r.marks) {
      const b = effectiveBound(m, generation, end);
      if (b !== null && b < oldest) oldest = b;
    }
    return { pid: r.pid, thread: r.thread, framesBehind: end - oldest };
  });
}

/** A reader's one published mark: writes through the lock only when it changes. */
export class MarkPublisher {
  private readonly lock: VLock;
  private generation = 0;
  /** -1: none published. */
  private bound = -1;

  constructor(lock: VLock) {
    this.lock = lock;
  }

  /** Nothing is published: the next read must hold everything first (race A). */
  get none(): boolean {
    return this.bound < 0;
  }

  /** Publish (generation, bound), or none when bound is null. */
  publish(generation: number, bound: number | null): void {
    const b = bound ?? -1;
    if (b === this.bound && (b < 0 || generation === this.generation)) return;
    this.lock.setMark(bound === null ? null : { generation, bound });
    this.generation = generation;
    this.bound = b;
  }
}
