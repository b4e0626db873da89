// Group-commit crash campaigns (test/crash/group.ts): K asynchronous writer tasks, and the
// power fails at every mutating file-system call of the run (or a seeded sample of them),
// under two crash variants each (unsynced writes all lost, or kept/lost/torn by a seed),
// each followed by a second power failure inside the recovery. After every one the
// database opens and holds the state of call order up to a group boundary the sync mode
// allows: every resolved write with sync "full", never half a group. A failure names the
// seed, point and crash seed that `npm run crash:group` replays; `npm run crash:group`
// also runs the long campaigns.

import assert from "node:assert/strict";
import { test } from "node:test";
import {
  formatGroupFailure,
  type GroupCampaignOptions,
  type GroupCampaignResult,
  runGroupCampaign,
} from "./group.js";

/** Failures printed in full before the rest are only counted. */
const FAILURES_SHOWN_MAX = 10;

async function campaign(
  o: GroupCampaignOptions,
  diagnostic: (m: string) => void,
): Promise<GroupCampaignResult> {
  const r = await runGroupCampaign(o);
  const s = r.reference.stats;
  diagnostic(
    `seed ${o.seed} (${o.writers} writers, sync ${o.sync}, T=${s.totalOps}, ${s.calls} calls, ` +
      `${s.groups} groups, largest unit ${r.reference.units.largest}, ${s.rejected} rejected as ` +
      `meant, ${s.spills} spills, ${s.checkpoints} checkpoints, ${s.reopens} reopens): ` +
      `${r.checked} crash points checked, ${r.recoveryCrashes} recovery crashes, ` +
      `${r.openSpans} with more than one boundary allowed; sites ${JSON.stringify(r.sites)}`,
  );
  const shown = r.failures.slice(0, FAILURES_SHOWN_MAX).map(formatGroupFailure);
  const more = r.failures.length - shown.length;
  assert.equal(
    r.failures.length,
    0,
    `${r.failures.length} crash failure(s):\n${shown.join("\n")}${more > 0 ? `\n... ${more} more` : ""}`,
  );
  // The campaign exercised what it claims: groups of several calls, calls that failed
  // alone, crash points with a group in flight, recoveries interrupted.
  assert.ok(r.checked > 0, "no crash point was checked");
  assert.ok(r.reference.units.shared > 0, "no group held two calls");
  assert.ok(s.rejected > 0, "no call failed on purpose");
  assert.ok(r.sites.async > 0, "the power never failed in a group's append or sync");
  assert.ok(r.recoveryCrashes > 0, "no recovery was interrupted");
  // (These seeds were picked for it: calls beside the groups, and a close with calls after it.)
  const k = s.byKind;
  assert.ok(k["sync-put"] > 0 && k.checkpoint > 0, "no synchronous put or checkpoint");
  assert.ok(s.reopens > 0 && k["closed-put"] > 0, "no closeAsync with a write after it");
  return r;
}

test("every crash point of 8 writers with sync full: resolved writes survive, no group is half visible", async (t) => {
  await campaign({ seed: 19, writers: 8, callsPerWriter: 10, sync: "full", variants: 2 }, (m) =>
    t.diagnostic(m),
  );
});

test("crash points of 32 writers with sync full: the state is a group-boundary prefix at least up to the last resolved group", async (t) => {
  const r = await campaign(
    { seed: 8, writers: 32, callsPerWriter: 6, sync: "full", variants: 2, points: 60 },
    (m) => t.diagnostic(m),
  );
  assert.ok(r.openSpans > 0, "no crash point had a group in flight");
});

test("crash points of 16 writers with sync normal: a resolved write may be lost, never half a group", async (t) => {
  await campaign(
    { seed: 12, writers: 16, callsPerWriter: 8, sync: "normal", variants: 2, points: 60 },
    (m) => t.diagnostic(m),
  );
});
