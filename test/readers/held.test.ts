// A reader holding an old snapshot holds the log back (docs/design/readers.md, "What a
// live reader costs the writer", rules 1 and 2): while a reader process holds a snapshot,
// the writer's stats().readers names it (its pid) with framesBehind > 0, no checkpoint
// completes (no reset: its mark is not at the committed end) and the log grows. Once it
// closes the snapshot, or once it is SIGKILLed (its reader file is then stale and its marks
// ignored: "What a crash leaves"), checkpoints complete again and the log's frame count
// comes back down.

import * as assert from "node:assert/strict";
import { test } from "node:test";
import { envSeed } from "../seed.js";
import { Cluster, inTempDir } from "./cluster.js";
import type { WriterStats } from "./workload.js";

const AUTO_CHECKPOINT_PAGES = 32;
/** Commits while the snapshot is held: about four frames each, far past the threshold. */
const HELD_COMMITS = 400;
const STATS_EVERY = 10;

async function holdThen(end: "release" | "kill", seed: number): Promise<void> {
  await inTempDir(async (dir) => {
    const cluster = new Cluster({
      dir,
      mode: "process",
      readers: 2,
      seed,
      autoCheckpointPages: AUTO_CHECKPOINT_PAGES,
      statsEvery: STATS_EVERY,
    });
    const reports = (from: number): WriterStats[] =>
      cluster.statsLog.slice(from).map((r) => r.stats);
    let held: WriterStats[] = [];
    let after: WriterStats[] = [];
    let holder = -1;
    try {
      await cluster.start();
      holder = cluster.readerPid(0);
      await cluster.commits(100);
      const heldSeq = await cluster.hold(0);
      // Reports from commits well after the snapshot's seq (the newest commit when the
      // reader took it; its mark was published before it answered "holding").
      await cluster.until(() => cluster.lastAck >= heldSeq + 2 * STATS_EVERY);
      const heldFrom = cluster.statsLog.length;
      await cluster.commits(HELD_COMMITS);
      held = reports(heldFrom);
      if (end === "release") await cluster.release(0);
      else await cluster.killReader(0);
      const afterFrom = cluster.statsLog.length;
      await cluster.commits(HELD_COMMITS);
      after = reports(afterFrom);
      await cluster.finish();
    } finally {
      await cluster.dispose();
    }
    console.log(cluster.summary());
    assert.deepEqual(cluster.failures, []);
    assert.ok(held.length >= 10, `only ${held.length} stats reports while held`);
    const checkpointsHeld = held[0]?.checkpoints ?? -1;
    for (const s of held) {
      const me = s.readers.find((r) => r.pid === holder);
      assert.ok(
        me !== undefined,
        `stats().readers does not name the holder ${holder} at seq ${s.seq}: ${JSON.stringify(s.readers)}`,
      );
      assert.ok(me.framesBehind > 0, `the holder is 0 frames behind at seq ${s.seq}`);
      assert.equal(
        s.checkpoints,
        checkpointsHeld,
        `a checkpoint reset the log under the held snapshot at seq ${s.seq}`,
      );
    }
    const lastHeld = held[held.length - 1];
    assert.ok(lastHeld !== undefined);
    const behind = lastHeld.readers.find((r) => r.pid === holder)?.framesBehind ?? 0;
    assert.ok(
      lastHeld.walFrames > 8 * AUTO_CHECKPOINT_PAGES,
      `the log held only ${lastHeld.walFrames} frames`,
    );
    assert.ok(behind > 4 * AUTO_CHECKPOINT_PAGES, `the holder was only ${behind} frames behind`);
    // Released or killed: checkpoints complete again and the log comes back down.
    const lastAfter = after[after.length - 1];
    assert.ok(lastAfter !== undefined);
    assert.ok(
      lastAfter.checkpoints >= checkpointsHeld + 3,
      `only ${lastAfter.checkpoints - checkpointsHeld} checkpoints after the ${end}`,
    );
    const smallest = Math.min(...after.map((s) => s.walFrames));
    assert.ok(
      smallest < lastHeld.walFrames / 4,
      `the log stayed at ${smallest} frames or more (${lastHeld.walFrames} while held)`,
    );
    const later = lastAfter.readers.find((r) => r.pid === holder);
    if (end === "kill") assert.equal(later, undefined, "a killed reader is still listed");
    else assert.ok((later?.framesBehind ?? 0) < behind, "the holder is still as far behind");
  });
}

test("a reader process holding an old snapshot is listed with framesBehind > 0 and stops log resets until it closes it", {
  timeout: 120_000,
}, async () => {
  const seed = envSeed("PAGEKV_READERS_SEED", 17) ?? 17;
  console.log(`seed ${seed} (PAGEKV_READERS_SEED replays it)`);
  await holdThen("release", seed);
});

test("a reader process SIGKILLed while it holds an old snapshot no longer holds the log: resets resume, it is not listed", {
  timeout: 120_000,
}, async () => {
  const seed = envSeed("PAGEKV_READERS_SEED", 19) ?? 19;
  console.log(`seed ${seed} (PAGEKV_READERS_SEED replays it)`);
  await holdThen("kill", seed);
});
