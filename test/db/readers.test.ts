// Readers beside the writer through the Database (docs/design/readers.md), in one process
// with two "processes" on one MemFS (test/vfs/mark-board.ts): a writer moves amounts
// between accounts in transactions, with automatic checkpoints many times over, while
// readers check on every read that the total never changes and that what they see is the
// last commit when the read began (an explicit snapshot: the commit when it was taken).
// Seeded: PAGEKV_READERS_SEED replays a run.

import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { type Database, open } from "../../src/index.js";
import { MemFS } from "../../src/vfs/memfs.js";
import { Prng } from "../../src/vfs/prng.js";
import { envSeed } from "../seed.js";
import { Board, view } from "../vfs/mark-board.js";

const PATH = "/accounts.pkv";
const ACCOUNTS = 200;
const START = 1000;
const STEPS = 1500;

const key = (i: number) => `acct:${String(i).padStart(4, "0")}`;
const num = (v: Uint8Array | undefined) => Number(new TextDecoder().decode(v));

/** The total of every account and the sequence number, read in one range (one snapshot). */
function audit(db: Database | ReturnType<Database["snapshot"]>): { total: number; seq: number } {
  let total = 0;
  let n = 0;
  for (const [, v] of db.range({ gte: "acct:", lt: "acct;" })) {
    total += num(v);
    n++;
  }
  assert.equal(n, ACCOUNTS, "every account is there");
  return { total, seq: num(db.get("seq")) };
}

describe("readers beside the writer (Database)", () => {
  test("transfers: every read sees one whole commit, the last one when it began", async () => {
    const seed = envSeed("PAGEKV_READERS_SEED", 11) ?? Date.now() >>> 0;
    const rng = new Prng(seed);
    const fs = new MemFS();
    const vfs = view(fs, new Board());
    const writer = open(PATH, {
      vfs,
      pageSize: 512,
      autoCheckpointPages: 16,
      cacheBytes: 64 * 512,
    });
    writer.transaction((tx) => {
      for (let i = 0; i < ACCOUNTS; i++) tx.put(key(i), String(START));
      tx.put("seq", "0");
    });
    const readers = [0, 1, 2].map(() => open(PATH, { vfs, readOnly: true, cacheBytes: 32 * 512 }));
    const held: { snap: ReturnType<Database["snapshot"]>; seq: number; until: number }[] = [];
    let seq = 0;
    let checked = 0;
    for (let step = 0; step < STEPS; step++) {
      const from = rng.int(ACCOUNTS);
      const to = rng.int(ACCOUNTS);
      const amount = rng.int(50);
      writer.transaction((tx) => {
        tx.put(key(from), String(num(tx.get(key(from))) - amount));
        tx.put(key(to), String(num(tx.get(key(to))) + amount));
        tx.put("seq", String(seq + 1));
      });
      seq++; // acknowledged
      const r = readers[rng.int(readers.length)];
      switch (rng.int(4)) {
        case 0: {
          const a = audit(r);
          assert.equal(a.total, ACCOUNTS * START, `seed ${seed} step ${step}: total`);
          assert.equal(a.seq, seq, `seed ${seed} step ${step}: the last acknowledged commit`);
          break;
        }
        case 1:
          assert.equal(num(r.get("seq")), seq, `seed ${seed} step ${step}: get`);
          break;
        case 2:
          // Snapshots held for a while in the first half of every 300 steps: the log grows
          // behind them, then moves on (checkpoints and resets) once they are closed.
          if (held.length < 4 && step % 300 < 150) {
            held.push({ snap: r.snapshot(), seq, until: step + rng.int(150) });
          }
          break;
        default:
          // The reader's event loop runs: its view is released, and the log can move on.
          await new Promise((resolve) => setTimeout(resolve, 1));
      }
      for (let i = held.length - 1; i >= 0; i--) {
        const h = held[i];
        const a = audit(h.snap);
        assert.equal(a.total, ACCOUNTS * START, `seed ${seed} step ${step}: snapshot total`);
        assert.equal(a.seq, h.seq, `seed ${seed} step ${step}: the snapshot stays at its commit`);
        checked++;
        if (step >= h.until || step % 300 >= 150) {
          h.snap.close();
          held.splice(i, 1);
        }
      }
    }
    for (const h of held) h.snap.close();
    const stats = writer.stats();
    assert.ok(stats.checkpoints > 20, `checkpoints happened (${stats.checkpoints})`);
    assert.ok(checked > 100, `snapshots were checked (${checked})`);
    for (const r of readers) r.close();
    writer.close();
    assert.equal(fs.exists(`${PATH}-wal`), false, "the last one out removes the log");
  });

  test("a reader's range is one snapshot even while the writer commits between its steps", () => {
    const fs = new MemFS();
    const vfs = view(fs, new Board());
    const writer = open(PATH, { vfs, pageSize: 512, autoCheckpointPages: 8 });
    writer.transaction((tx) => {
      for (let i = 0; i < ACCOUNTS; i++) tx.put(key(i), "1");
    });
    const reader = open(PATH, { vfs, readOnly: true });
    const it = reader.range({ snapshot: false })[Symbol.iterator]();
    let seen = 0;
    for (let r = it.next(); !r.done; r = it.next()) {
      assert.equal(num(r.value[1]), 1, "the state the range began at");
      seen++;
      writer.transaction((tx) => {
        for (let i = 0; i < ACCOUNTS; i += 7) tx.put(key(i), "2");
      });
    }
    assert.equal(seen, ACCOUNTS);
    assert.equal(num(reader.get(key(0))), 2, "the next read sees the last commit");
    reader.close();
    writer.close();
  });
});
