// Crash campaigns: every mutating file-system call of seeded workloads is a power failure,
// each under three crash variants (unsynced writes all lost, or kept/lost/torn by a seed),
// each followed by a second power failure inside the recovery. After every one the
// database opens and holds exactly a committed state the sync mode allows. A failure
// names the seed, point and crash seed that `npm run crash` replays. Three campaigns run
// with snapshots open when the power fails (read, and checked, until it does). Two run
// with reader processes beside the writer (docs/design/readers.md): every point is then
// also the death of the writer alone and of one reader.
// PAGEKV_CRASH_SEEDS / PAGEKV_CRASH_STEPS scale it.

import assert from "node:assert/strict";
import { test } from "node:test";
import {
  type CampaignOptions,
  type CampaignResult,
  type CrashSite,
  formatFailure,
  newSiteCounts,
  runCampaign,
} from "./harness.js";

const SEEDS = Number(process.env.PAGEKV_CRASH_SEEDS ?? 3);
const STEPS = Number(process.env.PAGEKV_CRASH_STEPS ?? 60);
/** The reader campaigns are shorter: each point replays the workload four times more. */
const READER_STEPS = Math.min(STEPS, 40);
/** Failures printed in full before the rest are only counted. */
const FAILURES_SHOWN_MAX = 10;

const totals = {
  checked: 0,
  recoveryCrashes: 0,
  commits: 0,
  rollbacks: 0,
  writebacks: 0,
  autoCheckpoints: 0,
  explicitCheckpoints: 0,
  implicitCommits: 0,
  reopens: 0,
  snapshotReads: 0,
  checkpointsRefused: 0,
  checkpointsWithSnapshots: 0,
  autoCheckpointsHeld: 0,
  readerPageReads: 0,
  writerKills: 0,
  readerKills: 0,
  sites: newSiteCounts(),
  writerKillSites: newSiteCounts(),
};

function campaign(o: CampaignOptions, diagnostic: (m: string) => void): CampaignResult {
  const r = runCampaign(o);
  const s = r.reference.stats;
  totals.checked += r.checked;
  totals.recoveryCrashes += r.recoveryCrashes;
  totals.commits += s.commits;
  totals.rollbacks += s.rollbacks;
  totals.writebacks += s.writebacks;
  totals.autoCheckpoints += s.autoCheckpoints;
  totals.explicitCheckpoints += s.explicitCheckpoints;
  totals.implicitCommits += s.implicitCommits;
  totals.reopens += s.reopens;
  totals.snapshotReads += s.snapshotReads;
  totals.checkpointsRefused += s.checkpointsRefused;
  totals.checkpointsWithSnapshots += s.checkpointsWithSnapshots;
  totals.autoCheckpointsHeld += s.autoCheckpointsHeld;
  for (const [site, n] of Object.entries(r.sites)) totals.sites[site as CrashSite] += n;
  totals.readerPageReads += s.readerPageReads;
  totals.writerKills += r.writerKills;
  totals.readerKills += r.readerKills;
  for (const [site, n] of Object.entries(r.writerKillSites)) {
    totals.writerKillSites[site as CrashSite] += n;
  }
  diagnostic(
    `seed ${o.seed} (sync ${o.sync}, ${o.steps} steps, T=${s.totalOps}): ${r.checked} crash ` +
      `points checked, ${s.commits} commits, ${s.rollbacks} rollbacks, ${s.writebacks} ` +
      `spills, ${s.autoCheckpoints} automatic + ${s.explicitCheckpoints} explicit checkpoints` +
      (o.snapshots === true
        ? `; ${s.snapshotsOpened} snapshots, ${s.snapshotReads} pages read through them, ` +
          `${s.checkpointsRefused} checkpoints refused, ${s.autoCheckpointsHeld} commits ` +
          "past the automatic limit"
        : "") +
      ((o.readers ?? 0) > 0
        ? `; ${o.readers} readers: ${s.readerRefreshes} refreshes, ${s.readerPageReads} pages ` +
          `read, ${s.readerSnapshotsOpened} snapshots, ${s.readerKills} scripted kills, ` +
          `${s.checkpointsHeldByReaders} checkpoints held by a reader, ` +
          `${s.checkpointsDoneWithReaders} done beside them; ${r.writerKills} writer kills, ` +
          `${r.readerKills} reader kills`
        : ""),
  );
  const shown = r.failures.slice(0, FAILURES_SHOWN_MAX).map(formatFailure);
  const more = r.failures.length - shown.length;
  assert.equal(
    r.failures.length,
    0,
    `${r.failures.length} crash point(s) failed:\n${shown.join("\n")}` +
      (more > 0 ? `\n... and ${more} more` : ""),
  );
  // Every workload must commit, roll back and checkpoint on its own, or its crash points
  // prove little.
  assert.ok(s.commits > 10, `seed ${o.seed}: only ${s.commits} commits`);
  assert.ok(s.rollbacks > 0, `seed ${o.seed}: no rollback`);
  if ((o.readers ?? 0) > 0) {
    // A reader's view is held for the whole (synchronous) campaign, so an automatic
    // checkpoint never empties the log beside readers: the explicit ones must.
    assert.ok(s.readerRefreshes > 0 && s.readerPageReads > 0, `seed ${o.seed}: no reader read`);
    assert.ok(s.readerSnapshotsOpened > 0, `seed ${o.seed}: no reader snapshot`);
    assert.ok(s.checkpointsHeldByReaders > 0, `seed ${o.seed}: no checkpoint held by a reader`);
    assert.ok(
      s.checkpointsDoneWithReaders > 0,
      `seed ${o.seed}: no checkpoint done beside readers`,
    );
    assert.ok(r.writerKills > 0 && r.readerKills > 0, `seed ${o.seed}: no kill point`);
  } else {
    assert.ok(s.autoCheckpoints > 0, `seed ${o.seed}: no automatic checkpoint`);
  }
  if (o.snapshots === true) {
    assert.ok(s.snapshotReads > 0, `seed ${o.seed}: no page read through a snapshot`);
    assert.ok(s.checkpointsRefused > 0, `seed ${o.seed}: no checkpoint held back by a snapshot`);
    assert.ok(s.autoCheckpointsHeld > 0, `seed ${o.seed}: no automatic checkpoint held back`);
  }
  return r;
}

for (let seed = 1; seed <= SEEDS; seed++) {
  test(`sync full, seed ${seed}: a returned commit survives every crash point`, (t) => {
    campaign({ seed, steps: STEPS, sync: "full", variants: 3 }, (m) => t.diagnostic(m));
  });
}

for (const seed of [101, 102]) {
  test(`sync normal, seed ${seed}: every crash point leaves a committed state since the last checkpoint`, (t) => {
    campaign({ seed, steps: STEPS, sync: "normal", variants: 3 }, (m) => t.diagnostic(m));
  });
}

test("sync full with every invariant checked (debug): a small workload, every crash point", (t) => {
  campaign({ seed: 201, steps: 25, sync: "full", variants: 2, debug: true }, (m) =>
    t.diagnostic(m),
  );
});

for (const [seed, sync] of [
  [301, "full"],
  [302, "normal"],
] as const) {
  test(`sync ${sync}, seed ${seed}, snapshots open: every snapshot read is its commit, and every crash point recovers as without them`, (t) => {
    campaign({ seed, steps: STEPS, sync, variants: 3, snapshots: true }, (m) => t.diagnostic(m));
  });
}

test("sync full, debug, snapshots open: a small workload, every crash point", (t) => {
  campaign({ seed: 206, steps: 30, sync: "full", variants: 2, debug: true, snapshots: true }, (m) =>
    t.diagnostic(m),
  );
});

for (const [seed, sync, snapshots] of [
  [401, "full", false],
  [402, "normal", true],
] as const) {
  test(`sync ${sync}, seed ${seed}, 2 reader processes${snapshots ? " and snapshots" : ""}: every reader read is one committed state, and every point is also a kill of the writer and of a reader`, (t) => {
    campaign({ seed, steps: READER_STEPS, sync, variants: 2, snapshots, readers: 2 }, (m) =>
      t.diagnostic(m),
    );
  });
}

test("the campaigns exercised spills, both kinds of checkpoint and crashes inside them", (t) => {
  const s = totals.sites;
  const summary =
    `${totals.checked} crash points checked (each with a crash during recovery: ` +
    `${totals.recoveryCrashes} interrupted an open); sites: ` +
    Object.entries(s)
      .map(([k, v]) => `${k} ${v}`)
      .join(", ");
  t.diagnostic(summary);
  console.log(`crash harness: ${summary}`);
  // A workload makes over 3 mutating calls a step; each call is a crash point, 3 times.
  const floor = (SEEDS + 2) * STEPS * 3 * 3;
  assert.ok(totals.checked >= floor, `only ${totals.checked} crash points, want ${floor}`);
  assert.ok(totals.writebacks > 0, "no dirty page ever spilled to the log mid-transaction");
  assert.ok(totals.explicitCheckpoints > 0, "no explicit checkpoint");
  assert.ok(totals.implicitCommits > 0, "no implicit transaction committed by checkpoint/close");
  assert.ok(totals.reopens > 0, "no clean close and reopen");
  for (const site of ["txn-op", "commit", "auto-checkpoint", "checkpoint", "close", "open"]) {
    assert.ok(s[site as CrashSite] > 0, `no crash point fell in ${site}`);
  }
  assert.ok(totals.recoveryCrashes > 0, "no crash ever interrupted a recovery");
  assert.ok(totals.snapshotReads > 0, "no page read through a snapshot");
  assert.ok(totals.checkpointsRefused > 0, "no checkpoint returned false");
  assert.ok(totals.checkpointsWithSnapshots > 0, "no checkpoint completed with a snapshot open");
  assert.ok(s.snapshot > 0, "no crash point fell in a snapshot read");
  assert.ok(totals.readerPageReads > 0, "no page read by a reader process");
  assert.ok(totals.writerKills > 0 && totals.readerKills > 0, "no kill point");
  for (const site of ["txn-op", "commit", "checkpoint", "close", "open"]) {
    assert.ok(totals.writerKillSites[site as CrashSite] > 0, `no writer kill fell in ${site}`);
  }
});
