// Writers that close cleanly and restart under readers (docs/design/readers.md, rules 3
// and 4, races D and F): readers opened on a closed database before any writer follow the
// writers that come later; a reader that keeps closing and reopening the database meets
// closes that delete the log and closes that keep it. Every read is checked as in
// bank.test.ts, and each restarted writer opens at exactly the closed one's seq.

import * as assert from "node:assert/strict";
import { test } from "node:test";
import { envSeed } from "../seed.js";
import { Cluster, inTempDir } from "./cluster.js";

const AUTO_CHECKPOINT_PAGES = 32;

test("readers opened on a closed database (no writer, no log) follow the writer that starts later, and the next one after its clean close", {
  timeout: 120_000,
}, async () => {
  const seed = envSeed("PAGEKV_READERS_SEED", 23) ?? 23;
  console.log(`seed ${seed} (PAGEKV_READERS_SEED replays it)`);
  await inTempDir(async (dir) => {
    let logGone = false;
    const cluster = new Cluster({
      dir,
      mode: "process",
      readers: 4,
      seed,
      autoCheckpointPages: AUTO_CHECKPOINT_PAGES,
    });
    try {
      logGone = await cluster.startReadersFirst(200);
      await cluster.commits(300);
      await cluster.restartWriter();
      await cluster.commits(300);
      await cluster.finish();
    } finally {
      await cluster.dispose();
    }
    const t = cluster.totalsNow;
    console.log(cluster.summary());
    assert.deepEqual(cluster.failures, []);
    // The first writer closed alone: its log went (readers.md rule 3).
    assert.ok(logGone, "the log outlived a close with no reader");
    assert.equal(t.writerStarts, 3);
    // Every reader lived across both writers' ends and read the last one's final state.
    assert.equal(t.readersAcrossWriterDeath, 4);
    assert.ok(t.checkpoints >= 5, `only ${t.checkpoints} checkpoints`);
  });
});

test("a reader closing and reopening the database again and again while writers close cleanly and restart (rule 3, races D and F)", {
  timeout: 120_000,
}, async () => {
  const seed = envSeed("PAGEKV_READERS_SEED", 29) ?? 29;
  console.log(`seed ${seed} (PAGEKV_READERS_SEED replays it)`);
  const restarts = 20;
  await inTempDir(async (dir) => {
    const cluster = new Cluster({
      dir,
      mode: "process",
      readers: 1,
      seed,
      autoCheckpointPages: AUTO_CHECKPOINT_PAGES,
      reopenEvery: 2,
    });
    try {
      await cluster.start();
      for (let i = 0; i < restarts; i++) {
        await cluster.commits(20 + ((i * 7) % 40));
        await cluster.restartWriter();
      }
      await cluster.commits(50);
      await cluster.finish();
    } finally {
      await cluster.dispose();
    }
    const t = cluster.totalsNow;
    console.log(cluster.summary());
    assert.deepEqual(cluster.failures, []);
    assert.equal(t.writerRestarts, restarts);
    assert.ok(t.reads.reopens >= 20, `only ${t.reads.reopens} reopens`);
  });
});
