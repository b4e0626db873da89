// SIGKILL of readers and of the writer at seeded instants, each killed process restarted
// (docs/design/readers.md, "What a crash leaves"): nothing acknowledged is lost (a
// restarted writer opens at the last acknowledged seq or the one after it), no reader ever
// sees a wrong total or a seq older than the last acknowledged before its read began, and
// readers keep reading across a writer's death and see the next writer's commits (rule 5).
// The short version of `npm run stress:readers`. PAGEKV_READERS_SEED replays a seed.

import * as assert from "node:assert/strict";
import { test } from "node:test";
import { Prng } from "../../src/vfs/prng.js";
import { envSeed } from "../seed.js";
import { Cluster, inTempDir } from "./cluster.js";
import { readsTotal } from "./workload.js";

const KILLS = 12;
const AUTO_CHECKPOINT_PAGES = 32;

test("readers and the writer SIGKILLed at seeded instants and restarted: no acknowledged commit lost, no read wrong or stale", {
  timeout: 180_000,
}, async () => {
  const seed = envSeed("PAGEKV_READERS_SEED", 5) ?? 5;
  console.log(`seed ${seed} (PAGEKV_READERS_SEED replays it)`);
  await inTempDir(async (dir) => {
    const cluster = new Cluster({
      dir,
      mode: "process",
      readers: 4,
      seed,
      autoCheckpointPages: AUTO_CHECKPOINT_PAGES,
    });
    try {
      await cluster.start();
      await cluster.runKills(KILLS, new Prng(seed));
      // The last writer, started after the last kill, commits a while under the readers.
      await cluster.commits(100);
      await cluster.finish();
    } finally {
      await cluster.dispose();
    }
    const t = cluster.totalsNow;
    console.log(cluster.summary());
    assert.deepEqual(cluster.failures, []);
    assert.equal(t.writerKills + t.readerKills, KILLS);
    assert.ok(t.writerKills >= 2 && t.readerKills >= 1, "runKills kills both kinds");
    assert.equal(t.writerStarts, t.writerKills + 1);
    // The last kill was the writer's: every reader at the end lived across it.
    assert.equal(t.readersAcrossWriterDeath, 4);
    assert.ok(t.checkpoints > 0, "no checkpoint completed");
    assert.ok(readsTotal(t.reads) > 100, `only ${readsTotal(t.reads)} reads checked`);
  });
});
