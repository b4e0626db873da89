// The reader stress run (`npm run stress:readers`): one writer and four reader processes
// of the bank workload (test/readers/), SIGKILLed at seeded instants and restarted, every
// read checked (docs/design/readers.md). Prints the seed first; exits 1 on any failure.
// A test-side tool: it lives outside test/ so node --test never runs it.
//
//   PAGEKV_READERS_SEED=<n>   replay a seed (default: a random one, printed)
//   PAGEKV_READERS_KILLS=<n>  kills (default 100)

import { randomInt } from "node:crypto";
import { Prng } from "../src/vfs/prng.js";
import { Cluster, inTempDir, KILLS_MAX } from "../test/readers/cluster.js";

const KILLS_DEFAULT = 100;
const AUTO_CHECKPOINT_PAGES = 32;

function intFromEnv(name: string, fallback: () => number, max: number): number {
  const text = process.env[name];
  if (text === undefined || text === "") return fallback();
  const n = Number(text);
  if (!Number.isSafeInteger(n) || n < 0 || n > max) {
    process.stderr.write(`${name} must be an integer in 0..${max}, got ${text}\n`);
    process.exit(2);
  }
  return n;
}

const seed = intFromEnv("PAGEKV_READERS_SEED", () => randomInt(2 ** 31), Number.MAX_SAFE_INTEGER);
const kills = intFromEnv("PAGEKV_READERS_KILLS", () => KILLS_DEFAULT, KILLS_MAX);
console.log(`stress:readers seed ${seed} kills ${kills} (replay: PAGEKV_READERS_SEED=${seed})`);

const started = Date.now();
const ok = await inTempDir(async (dir) => {
  const cluster = new Cluster({
    dir,
    mode: "process",
    readers: 4,
    seed,
    autoCheckpointPages: AUTO_CHECKPOINT_PAGES,
    log: (line) => {
      if (line.startsWith("FAIL") || /^kill \d*0\//.test(line)) console.log(line);
    },
  });
  try {
    await cluster.start();
    await cluster.runKills(kills, new Prng(seed));
    await cluster.commits(200);
    await cluster.finish();
  } catch (e) {
    console.log(e instanceof Error ? e.message : String(e));
  } finally {
    await cluster.dispose();
  }
  console.log(`${cluster.failures.length === 0 ? "ok" : "FAILED"}: ${cluster.summary()}`);
  console.log(
    `readers alive across the last writer's death, final read checked: ${cluster.totalsNow.readersAcrossWriterDeath}`,
  );
  return cluster.failures.length === 0;
});
console.log(`${((Date.now() - started) / 1000).toFixed(1)} s, seed ${seed}`);
process.exit(ok ? 0 : 1);
