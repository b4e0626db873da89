// Readers in worker threads of the writer's process (docs/design/readers.md, "What a
// reader is": a thread is its own holder): the writer in one worker, four readers in four
// others, the test's main thread relaying acknowledged seqs; the checks of
// processes.test.ts, with checkpoints and log resets happening many times.

import * as assert from "node:assert/strict";
import { test } from "node:test";
import { envSeed } from "../seed.js";
import { Cluster, inTempDir, refusedWriter } from "./cluster.js";
import { readsTotal } from "./workload.js";

const COMMITS = 1500;
const AUTO_CHECKPOINT_PAGES = 32;

test("4 reader worker threads beside a writer thread see one committed, fresh state per read while the log checkpoints and resets", {
  timeout: 180_000,
}, async () => {
  const seed = envSeed("PAGEKV_READERS_SEED", 13) ?? 13;
  console.log(`seed ${seed} (PAGEKV_READERS_SEED replays it)`);
  await inTempDir(async (dir) => {
    let secondWriter = "not tried";
    const cluster = new Cluster({
      dir,
      mode: "thread",
      readers: 4,
      seed,
      autoCheckpointPages: AUTO_CHECKPOINT_PAGES,
    });
    try {
      await cluster.start();
      await cluster.commits(COMMITS / 2);
      secondWriter = refusedWriter(cluster.path);
      await cluster.commits(COMMITS / 2);
      await cluster.finish();
    } finally {
      await cluster.dispose();
    }
    const t = cluster.totalsNow;
    console.log(cluster.summary());
    assert.deepEqual(cluster.failures, []);
    // Writers still exclude each other (readers.md, "What a reader is").
    assert.equal(secondWriter, "ERR_LOCKED");
    assert.ok(t.checkpoints >= 20, `only ${t.checkpoints} checkpoints (log resets)`);
    assert.ok(t.logShrinks >= 10, `the log shrank only ${t.logShrinks} times`);
    for (const kind of [
      "point",
      "has",
      "range",
      "read",
      "snapshots",
      "snapshotReads",
      "bursts",
    ] as const) {
      assert.ok(t.reads[kind] > 0, `no ${kind} reads checked`);
    }
    assert.ok(readsTotal(t.reads) > 400, `only ${readsTotal(t.reads)} reads checked`);
  });
});
