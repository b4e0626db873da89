// Group-commit crash campaign CLI: check N crash points of the seeded asynchronous workload
// (test/crash/group.ts; every point when N >= T) and print any failure with the seed,
// point and crash seed that replay it. Exits 1 on failure. A test-side tool: it lives
// outside test/ so node --test never runs it.
//
//   node build/scripts/crash-group.js --seed S --points N [--writers K] [--calls C]
//                                     [--variants V] [--sync full|normal]
//   node build/scripts/crash-group.js --seed S --point K [--crash-seed X|none] ...
//   --no-recovery-crash: skip the second power failure inside each recovery (half the time).

import { parseArgs } from "node:util";
import {
  formatGroupFailure,
  GROUP_WRITERS_MAX,
  GROUP_WRITERS_MIN,
  type GroupCampaignResult,
  type GroupSync,
  runGroupCampaign,
} from "../test/crash/group.js";
import { cliArgs } from "./cli-args.js";

const USAGE =
  "usage: crash:group --seed S [--points N | --point K ...] [--writers K] [--calls C]\n" +
  "                   [--variants V] [--sync full|normal] [--crash-seed X|none]\n" +
  "                   [--no-recovery-crash]";

const { fail, int, crashSeed } = cliArgs(USAGE);

const { values } = parseArgs({
  options: {
    seed: { type: "string" },
    points: { type: "string" },
    point: { type: "string", multiple: true },
    writers: { type: "string" },
    calls: { type: "string" },
    variants: { type: "string" },
    sync: { type: "string" },
    "crash-seed": { type: "string" },
    "no-recovery-crash": { type: "boolean" },
    help: { type: "boolean", short: "h" },
  },
  strict: true,
});

if (values.help === true) {
  process.stdout.write(`${USAGE}\n`);
  process.exit(0);
}
if (values.seed === undefined) fail("--seed is required");
const seed = int("seed", values.seed, 0);
const writers = int("writers", values.writers, 16);
if (writers < GROUP_WRITERS_MIN || writers > GROUP_WRITERS_MAX) {
  fail(`--writers must be in ${GROUP_WRITERS_MIN}..${GROUP_WRITERS_MAX}`);
}
const callsPerWriter = int("calls", values.calls, 12);
const sync = (values.sync ?? "full") as GroupSync;
if (sync !== "full" && sync !== "normal") fail("--sync must be full or normal");
const points = values.points === undefined ? undefined : int("points", values.points, 0);
const pointList = values.point?.map((p) => int("point", p, 0));
const onlyCrashSeed = crashSeed(values["crash-seed"]);
const recoveryCrash = values["no-recovery-crash"] !== true;
const workloadText = `workload seed ${seed} (${writers} writers, ${callsPerWriter} calls each, sync ${sync})`;

const started = performance.now();
let lastReport = started;
let result: GroupCampaignResult;
try {
  result = await runGroupCampaign({
    seed,
    writers,
    callsPerWriter,
    sync,
    points,
    pointList,
    variants: int("variants", values.variants, 3),
    onlyCrashSeed,
    recoveryCrash,
    onProgress: (done, total, failures) => {
      const now = performance.now();
      if (now - lastReport < 2000 && done < total) return;
      lastReport = now;
      process.stdout.write(`  ${done}/${total} crash points, ${failures} failure(s)\n`);
    },
  });
} catch (e) {
  // The reference run (no crash) failed: a check of call order, or a hang.
  process.stdout.write(
    `FAIL ${workloadText}: ${e instanceof Error ? e.message : String(e)}\n  replay: npm run ` +
      `crash:group -- --seed ${seed} --writers ${writers} --calls ${callsPerWriter} --sync ${sync} --points 0\n`,
  );
  process.exit(1);
}

const w = result.workload;
const s = result.reference.stats;
const u = result.reference.units;
const kinds = Object.entries(s.byKind)
  .filter(([, n]) => n > 0)
  .map(([k, n]) => `${k} ${n}`)
  .join(", ");
process.stdout.write(
  `${workloadText}: pageSize ${w.pageSize}, cacheBytes ${w.cacheBytes}, autoCheckpointPages ` +
    `${w.autoCheckpointPages}\n` +
    `  reference run: T=${s.totalOps} mutating calls, ${s.calls} calls (${kinds}), ` +
    `${s.rejected} rejected as meant, ${s.groups} groups with a resolved call (${u.shared} ` +
    `units of 2+ calls, the largest ${u.largest}), ${s.reopens} reopens, ${s.spills} spills ` +
    `and ${s.checkpoints} checkpoints before the closes\n` +
    `  groupCommits read right after a resolved promise settled: its group ${s.settleExact}, ` +
    `later ${s.settleLater}\n` +
    `  crash sites: ${Object.entries(result.sites)
      .map(([k, v]) => `${k} ${v}`)
      .join(", ")}; ${result.openSpans} checks allowed more than one group boundary\n`,
);
for (const f of result.failures) process.stdout.write(`FAIL ${formatGroupFailure(f)}\n`);
const seconds = ((performance.now() - started) / 1000).toFixed(1);
process.stdout.write(
  `${result.checked} crash points checked (${result.recoveryCrashes} with a crash during ` +
    `recovery), ${result.failures.length} failure(s), ${seconds} s\n`,
);
process.exitCode = result.failures.length > 0 ? 1 : 0;
