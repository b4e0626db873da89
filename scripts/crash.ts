// Crash campaign CLI: check N crash points of the seeded workload (every point when N >= T)
// and print any failure with the seed, point and crash seed that replay it. Exits 1 on
// failure. A test-side tool: it lives outside test/ so node --test never runs it.
//
//   node build/scripts/crash.js --seed S --points N [--steps M] [--sync full|normal]
//   node build/scripts/crash.js --seed S --point K [--crash-seed X|none] [--debug]
//   --snapshots: the workload also holds pager snapshots open and reads through them.
//   --readers K: K reader processes read beside the writer (docs/design/readers.md); each
//   point is then also a kill of the writer alone and a kill of one reader.
//   --kinds power,kill-writer,kill-reader: only these (default: all of them).

import { parseArgs } from "node:util";
import {
  type CampaignResult,
  type CrashKind,
  type CrashSync,
  formatFailure,
  runCampaign,
} from "../test/crash/harness.js";
import { cliArgs } from "./cli-args.js";

const USAGE =
  "usage: crash --seed S [--points N | --point K] [--steps M] [--sync full|normal]\n" +
  "             [--variants V] [--crash-seed X|none] [--page-size P] [--debug] [--snapshots]\n" +
  "             [--readers K] [--kinds power,kill-writer,kill-reader]";

const { fail, int, crashSeed } = cliArgs(USAGE);

const { values } = parseArgs({
  options: {
    seed: { type: "string" },
    points: { type: "string" },
    point: { type: "string", multiple: true },
    steps: { type: "string" },
    sync: { type: "string" },
    variants: { type: "string" },
    "crash-seed": { type: "string" },
    "page-size": { type: "string" },
    debug: { type: "boolean" },
    snapshots: { type: "boolean" },
    readers: { type: "string" },
    kinds: { type: "string" },
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
const steps = int("steps", values.steps, 60);
const sync = (values.sync ?? "full") as CrashSync;
if (sync !== "full" && sync !== "normal") fail("--sync must be full or normal");
const points = values.points === undefined ? undefined : int("points", values.points, 0);
const pointList = values.point?.map((p) => int("point", p, 0));
const onlyCrashSeed = crashSeed(values["crash-seed"]);

const snapshots = values.snapshots === true;
const readers = int("readers", values.readers, 0);
const KINDS: readonly CrashKind[] = ["power", "kill-writer", "kill-reader"];
const kinds = (values.kinds ?? KINDS.join(",")).split(",") as CrashKind[];
for (const k of kinds) if (!KINDS.includes(k)) fail(`--kinds takes ${KINDS.join(", ")}`);
const workloadText =
  `workload seed ${seed} (${steps} steps, sync ${sync}${snapshots ? ", snapshots" : ""}` +
  `${readers > 0 ? `, ${readers} readers` : ""})`;

const started = performance.now();
let lastReport = started;
let result: CampaignResult;
try {
  result = runCampaign({
    seed,
    steps,
    sync,
    pageSize: int("page-size", values["page-size"], 512),
    debug: values.debug === true,
    snapshots,
    readers,
    kinds,
    points,
    pointList,
    variants: int("variants", values.variants, 3),
    onlyCrashSeed,
    onProgress: (done, total, failures) => {
      const now = performance.now();
      if (now - lastReport < 1000 && done < total) return;
      lastReport = now;
      process.stdout.write(`  ${done}/${total} crash points, ${failures} failure(s)\n`);
    },
  });
} catch (e) {
  // The reference run (no crash) failed, or the workload did not replay deterministically.
  const pageSize = values["page-size"] === undefined ? "" : ` --page-size ${values["page-size"]}`;
  process.stdout.write(
    `FAIL ${workloadText}: ${String(e)}\n  replay: npm run crash -- --seed ${seed} ` +
      `--steps ${steps} --sync ${sync}${pageSize}${snapshots ? " --snapshots" : ""}` +
      `${readers > 0 ? ` --readers ${readers}` : ""} --points 0\n`,
  );
  process.exit(1);
}

const w = result.workload;
const s = result.reference.stats;
const snapshotText = snapshots
  ? `  snapshots: ${s.snapshotsOpened} opened, ${s.snapshotReads} pages read through them, ` +
    `${s.checkpointsRefused} explicit checkpoints returned false, ` +
    `${s.checkpointsWithSnapshots} returned true with snapshots open, ` +
    `${s.autoCheckpointsHeld} commits left the log past its automatic checkpoint limit\n`
  : "";
const sitesText = (sites: Record<string, number>) =>
  Object.entries(sites)
    .filter(([, v]) => v > 0)
    .map(([k, v]) => `${k} ${v}`)
    .join(", ");
const readerText =
  readers > 0
    ? `  readers: ${readers} processes, ${s.readerRefreshes} refreshes, ${s.readerPageReads} ` +
      `pages read, ${s.readerSnapshotsOpened} snapshots, ${s.readerReopens} reopens, ` +
      `${s.readerKills} scripted kills, ${s.readerTears} torn marks, ${s.checkpointsHeldByReaders} explicit checkpoints ` +
      `held back by a reader alone, ${s.checkpointsDoneWithReaders} done beside them\n` +
      `  kills: writer ${result.writerKills} (${sitesText(result.writerKillSites)}), ` +
      `reader ${result.readerKills} (${sitesText(result.readerKillSites)})\n`
    : "";
process.stdout.write(
  `workload seed ${seed}: ${steps} steps, sync ${sync}, pageSize ${w.pageSize}, ` +
    `cacheFrames ${w.cacheFrames}, walAutoCheckpointPages ${w.walAutoCheckpointPages}\n` +
    `  reference run: T=${s.totalOps} mutating calls, ${s.commits} commits, ` +
    `${s.rollbacks} rollbacks, ${s.writebacks} spills, ${s.autoCheckpoints} automatic and ` +
    `${s.explicitCheckpoints} explicit checkpoints, ${s.implicitCommits} implicit ` +
    `transactions committed by checkpoint or close, ${s.reopens} reopens, ` +
    `up to ${s.pageCountMax} pages\n${snapshotText}${readerText}` +
    `  crash sites: ${Object.entries(result.sites)
      .map(([k, v]) => `${k} ${v}`)
      .join(", ")}\n`,
);
for (const f of result.failures) process.stdout.write(`FAIL ${formatFailure(f)}\n`);
const seconds = ((performance.now() - started) / 1000).toFixed(1);
process.stdout.write(
  `${result.checked} crash points checked (${result.recoveryCrashes} with a crash during ` +
    `recovery), ${result.failures.length} failure(s), ${seconds} s\n`,
);
process.exitCode = result.failures.length > 0 ? 1 : 0;
