// A reader holding an old snapshot holds the log back (docs/design/readers.md, "What a
// live reader costs the writer", rules 1 and 2): while a reader process holds a snapshot,
// the writer's stats().readers names it (its pid) with framesBehind > 0, no checkpoint
// completes (no reset: its mark is not at the committed end) and the log grows; once it
// closes the snapshot, checkpoints complete again and the log's frame count comes back down.

import * as assert from "node:assert/strict";
import { test } from "node:test";
import { envSeed } from "../seed.js";
import { Cluster, inTempDir } from "./cluster.js";
import type { WriterStats } from "./workload.js";

const AUTO_CHECKPOINT_PAGES = 32;
/** Commits while the snapshot is held: about four frames each, far past the threshold. */
const HELD_COMMITS = 400;

test("a reader process holding an old snapshot is listed with framesBehind > 0 and stops log resets until it closes it", {
  timeout: 120_000,
}, async () => {
  const seed = envSeed("PAGEKV_READERS_SEED", 17) ?? 17;
  console.log(`seed ${seed} (PAGEKV_READERS_SEED replays it)`);
  await inTempDir(async (dir) => {
    const cluster = new Cluster({
      dir,
      mode: "process",
      readers: 2,
      seed,
      autoCheckpointPages: AUTO_CHECKPOINT_PAGES,
      statsEvery: 10,
    });
    const reports = (from: number): WriterStats[] =>
      cluster.statsLog.slice(from).map((r) => r.stats);
    let held: WriterStats[];
    let after: WriterStats[];
    let holder: number;
    let checkpointsBefore: number;
    try {
      await cluster.start();
      holder = cluster.readerPid(0);
      await cluster.commits(100);
      const heldSeq = await cluster.hold(0);
      // Commits acknowledged once the mark is surely published: the snapshot's own seq was
      // the newest commit when the reader took it, and its mark went out before "holding".
      await cluster.until(() => cluster.lastAck >= heldSeq + 2 * 10);
      const heldFrom = cluster.statsLog.length;
      await cluster.commits(HELD_COMMITS);
      held = reports(heldFrom);
      checkpointsBefore = held[0]?.checkpoints ?? -1;
      await cluster.release(0);
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
    for (const s of held) {
      const me = s.readers.find((r) => r.pid === holder);
      assert.ok(
        me !== undefined,
        `stats().readers does not name the holder ${holder} at seq ${s.seq}: ${JSON.stringify(s.readers)}`,
      );
      assert.ok(me.framesBehind > 0, `the holder is 0 frames behind at seq ${s.seq}`);
      assert.equal(
        s.checkpoints,
        checkpointsBefore,
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
    // Released: checkpoints complete again and the log comes back down.
    const lastAfter = after[after.length - 1];
    assert.ok(lastAfter !== undefined);
    assert.ok(
      lastAfter.checkpoints >= checkpointsBefore + 3,
      `only ${lastAfter.checkpoints - checkpointsBefore} checkpoints after the release`,
    );
    const smallest = Math.min(...after.map((s) => s.walFrames));
    assert.ok(
      smallest < lastHeld.walFrames / 4,
      `the log stayed at ${smallest} frames or more (${lastHeld.walFrames} while held)`,
    );
    const later = lastAfter.readers.find((r) => r.pid === holder)?.framesBehind ?? 0;
    assert.ok(later < behind, `the holder is still ${later} frames behind`);
  });
});
