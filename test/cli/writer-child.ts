// A writer process for test/cli/readers.test.ts (no tests here). Run as
// `node writer-child.js <database path>`; run with no arguments (as the test runner does
// with every file under build/test) it does nothing.
//
// It creates the database, then commits until its stdin ends, one transaction after
// another (yielding to its event loop between them), each keeping these facts true of
// every committed state, so that a reader that mixed two states would see it:
//   - "n" is the commit's number i (decimal), and every key k00..k49 holds i too;
//   - "big" is an overflow value of BIG_BYTES bytes, all equal to i & 0xff (rewritten each
//     commit: its old chain is freed, so the freelist changes at every commit);
//   - exactly G_KEYS keys g<j>: commit i puts g<i + G_KEYS> and deletes g<i> (pages split,
//     merge and are freed);
// so every state holds KEYS_TOTAL keys. A small automatic checkpoint threshold makes it
// checkpoint (and, when no reader holds the log, reset it) every few commits.
// Once the first commit is made it prints one JSON line {ready, pid, kKeys, keysTotal,
// bigBytes}; on stdin's end it closes the database and prints {commits} (the last i).

import { open } from "../../src/index.js";

const K_KEYS = 50;
const G_KEYS = 100;
const BIG_BYTES = 10_000;
/** k00..k49, g keys, "n" and "big". */
const KEYS_TOTAL = K_KEYS + G_KEYS + 2;
/** Log pages after which the writer checkpoints: a few commits' worth. */
const AUTO_CHECKPOINT_PAGES = 32;
/** A bound on the run whatever the parent does: commits at most. */
const COMMITS_MAX = 1_000_000;

function kKey(j: number): string {
  return `k${String(j).padStart(2, "0")}`;
}

function gKey(j: number): string {
  return `g${String(j).padStart(7, "0")}`;
}

function gValue(j: number): string {
  return `${j}:${"v".repeat(200)}`;
}

const [dbPath] = process.argv.slice(2);

if (dbPath !== undefined) {
  const db = open(dbPath, { sync: "normal", autoCheckpointPages: AUTO_CHECKPOINT_PAGES });
  const commit = (i: number): void => {
    db.transaction((tx) => {
      const n = String(i);
      tx.put("n", n);
      for (let j = 0; j < K_KEYS; j++) tx.put(kKey(j), n);
      tx.put("big", new Uint8Array(BIG_BYTES).fill(i & 0xff));
      if (i === 0) {
        for (let j = 0; j < G_KEYS; j++) tx.put(gKey(j), gValue(j));
      } else {
        tx.put(gKey(i - 1 + G_KEYS), gValue(i - 1 + G_KEYS));
        tx.delete(gKey(i - 1));
      }
    });
  };
  commit(0);
  let i = 0;
  let stopping = false;
  process.stdout.write(
    `${JSON.stringify({ ready: true, pid: process.pid, kKeys: K_KEYS, keysTotal: KEYS_TOTAL, bigBytes: BIG_BYTES })}\n`,
  );
  process.stdin.resume();
  process.stdin.on("end", () => {
    stopping = true;
  });
  const step = (): void => {
    if (stopping || i >= COMMITS_MAX) {
      db.close();
      process.stdout.write(`${JSON.stringify({ commits: i })}\n`);
      process.stdin.pause();
      return;
    }
    commit(++i);
    setImmediate(step);
  };
  setImmediate(step);
}
