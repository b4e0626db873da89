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
import { readsTotal, type WriterStats } from "./workload.js";

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
      longSnapshots: true,
    });
    let last: WriterStats | null = null;
    let live: number[] = [];
    try {
      await cluster.start();
      await cluster.runKills(KILLS, new Prng(seed));
      // The last writer, started after the last kill, commits a while under the readers.
      await cluster.commits(300);
      last = cluster.writerState?.stats ?? null;
      live = [0, 1, 2, 3].map((i) => cluster.readerPid(i));
      await cluster.finish();
    } finally {
      await cluster.dispose();
    }
    const t = cluster.totalsNow;
    console.log(cluster.summary());
    assert.deepEqual(cluster.failures, []);
    assert.equal(t.writerKills + t.readerKills, KILLS);
    assert.ok(t.writerKills >= 2 && t.readerKills >= 1, "runKills kills both kinds");
    assert.ok(t.holdsAcrossWriterDeath >= 1, "no snapshot was held across a writer's death");
    assert.equal(t.writerStarts, t.writerKills + t.writerRestarts + 1);
    // The last kill was the writer's: every reader at the end lived across it.
    assert.equal(t.readersAcrossWriterDeath, 4);
    // SIGKILLed readers' files are stale: the writer lists only live readers (readers.md,
    // "What a crash leaves").
    assert.ok(last !== null);
    for (const r of last.readers) {
      assert.ok(live.includes(r.pid), `stats().readers lists pid ${r.pid}, not a live reader`);
      assert.ok(!cluster.killedReaderPids.includes(r.pid));
    }
    // Whether the last writer also resets the log here depends on when the live readers'
    // long snapshots close (Bun runs of the fresh clone saw 0 and 1 in 300 commits), so it
    // is not asserted: held.test.ts proves, without a race, that a SIGKILLed holder's mark
    // stops holding the log.
    assert.ok(readsTotal(t.reads) > 100, `only ${readsTotal(t.reads)} reads checked`);
  });
});
