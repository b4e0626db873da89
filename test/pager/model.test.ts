// Randomized model test: thousands of mixed get/write/allocate/free/checkpoint steps through
// a tiny pool, with crashes, clean reopens and fully pinned pools in between, checked
// page for page against a plain in-memory model. Each seed replays exactly: a failure
// message names the seed and the step. PAGEKV_MODEL_SEEDS / PAGEKV_MODEL_STEPS scale it.

import assert from "node:assert/strict";
import { test } from "node:test";
import { PagekvError } from "../../src/errors.js";
import { Pager } from "../../src/pager/pager.js";
import { MemFS } from "../../src/vfs/memfs.js";
import { Prng } from "../../src/vfs/prng.js";
import { assertPage, stamp, throwsCode } from "./pages.js";

const PATH = "/model.pkv";
const SEEDS = Number(process.env.PAGEKV_MODEL_SEEDS ?? 6);
const STEPS = Number(process.env.PAGEKV_MODEL_STEPS ?? 2500);

interface State {
  live: Map<number, number>; // page -> version of its contents
  free: Set<number>;
  pageCount: number;
  slot: number;
}

function copy(s: State): State {
  return { live: new Map(s.live), free: new Set(s.free), pageCount: s.pageCount, slot: s.slot };
}

function pick<T>(rng: Prng, items: Iterable<T>, size: number): T | undefined {
  if (size === 0) return undefined;
  let k = rng.int(size);
  for (const x of items) if (k-- === 0) return x;
  return undefined;
}

/** Compare every page of the pager with the model. */
function verifyAll(pager: Pager, m: State): void {
  assert.equal(pager.pageCount, m.pageCount, "page count");
  assert.equal(pager.stats().freePages, m.free.size, "free pages");
  assert.equal(pager.getSlot(0), m.slot, "slot 0");
  for (let p = 2; p <= m.pageCount; p++) {
    const version = m.live.get(p);
    if (version !== undefined) assertPage(pager, p, version);
    else {
      assert.ok(m.free.has(p), `page ${p} is neither live nor free in the model`);
      throwsCode(() => pager.get(p), "ERR_PAGE_RANGE");
    }
  }
}

function run(seed: number, steps: number): { crashes: number; checkpoints: number } {
  const rng = new Prng(seed);
  const fs = new MemFS();
  const cacheFrames = 2 + rng.int(4);
  const open = () => Pager.open(fs, PATH, { cacheFrames, debug: true });
  let pager = Pager.create(fs, PATH, { pageSize: 512, cacheFrames, debug: true });
  let m: State = { live: new Map(), free: new Set(), pageCount: 1, slot: 0 };
  let durable = copy(m);
  let version = 0;
  let crashes = 0;
  let checkpoints = 0;
  for (let step = 0; step < steps; step++) {
    const roll = rng.int(100);
    try {
      if (roll < 25) {
        const p = pick(rng, m.live.keys(), m.live.size);
        if (p !== undefined) assertPage(pager, p, m.live.get(p) ?? -1);
      } else if (roll < 50) {
        const p = pick(rng, m.live.keys(), m.live.size);
        if (p !== undefined) {
          const f = pager.get(p, "write");
          stamp(f.data, p, ++version);
          pager.unpin(f, true);
          m.live.set(p, version);
        }
      } else if (roll < 68) {
        const f = pager.allocate();
        const p = f.pgno;
        if (m.free.size > 0) assert.ok(m.free.delete(p), `allocate gave ${p}, not a free page`);
        else assert.equal(p, ++m.pageCount, "allocate past the high-water mark");
        stamp(f.data, p, ++version);
        pager.unpin(f, true);
        m.live.set(p, version);
      } else if (roll < 80) {
        const p = pick(rng, m.live.keys(), m.live.size);
        if (p !== undefined) {
          pager.free(p);
          m.live.delete(p);
          m.free.add(p);
        }
      } else if (roll < 85) {
        m.slot = rng.int(1000);
        pager.setSlot(0, m.slot);
      } else if (roll < 90) {
        pager.checkpoint(BigInt(step));
        durable = copy(m);
        checkpoints++;
      } else if (roll < 94) {
        // Pin as many live pages as there are frames; one more must fail cleanly.
        const pinned = [...m.live.keys()].slice(0, cacheFrames);
        const frames = pinned.map((p) => pager.get(p));
        const other = [...m.live.keys()].find((p) => !pinned.includes(p));
        if (frames.length === cacheFrames && other !== undefined) {
          throwsCode(() => pager.get(other), "ERR_POOL_EXHAUSTED");
          throwsCode(() => pager.allocate(), "ERR_POOL_EXHAUSTED");
        }
        for (const f of frames) pager.unpin(f);
      } else if (roll < 97) {
        fs.crash();
        crashes++;
        pager = open();
        m = copy(durable);
        verifyAll(pager, m);
      } else {
        pager.close();
        pager = open();
        durable = copy(m);
        verifyAll(pager, m);
      }
    } catch (e) {
      const what = e instanceof Error ? e.message : String(e);
      const wrapped = new Error(`seed ${seed}, step ${step} (roll ${roll}): ${what}`);
      if (e instanceof PagekvError || e instanceof Error)
        wrapped.stack = `${wrapped.message}\n${e.stack}`;
      throw wrapped;
    }
  }
  verifyAll(pager, m);
  pager.close();
  verifyAll(open(), m);
  return { crashes, checkpoints };
}

test(`random workloads match the model page for page (${SEEDS} seeds x ${STEPS} steps)`, () => {
  let crashes = 0;
  let checkpoints = 0;
  for (let seed = 1; seed <= SEEDS; seed++) {
    const r = run(seed, STEPS);
    crashes += r.crashes;
    checkpoints += r.checkpoints;
  }
  // The workload must really exercise crashes and checkpoints, or it proves little.
  assert.ok(crashes >= SEEDS * 5, `only ${crashes} crashes`);
  assert.ok(checkpoints >= SEEDS * 10, `only ${checkpoints} checkpoints`);
});
