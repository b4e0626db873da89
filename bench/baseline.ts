// Makes the pre-change build that `npm run bench:snapshots` compares against: one commit of
// this repository (BASELINE_COMMIT, main before any snapshot work) extracted with
// `git archive` into a directory outside the checkout, node_modules symlinked to this
// checkout's, and `npm run build` run there. It never touches the checkout or its git state.
//
// Usage: node build/bench/baseline.js [--dir DIR] [--commit REV] [--force]
//   DIR: --dir, else $PAGEKV_BASELINE, else BASELINE_DIR_DEFAULT. An existing build of the
//   same commit is kept (say --force to make it again).

import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";

/** main before the snapshot work: the last commit of docs/design/snapshots.md alone. */
export const BASELINE_COMMIT = "c5cfab7";
export const BASELINE_DIR_DEFAULT = "/tmp/pagekv-baseline";
/** The file in the baseline directory that names the commit built there (full hash). */
export const BASELINE_COMMIT_FILE = "BASELINE_COMMIT";

/** The baseline directory: `flag` if given, else $PAGEKV_BASELINE, else the default. */
export function baselineDir(flag: string | undefined): string {
  return path.resolve(flag ?? process.env.PAGEKV_BASELINE ?? BASELINE_DIR_DEFAULT);
}

/** This checkout's root: build/bench/baseline.js is two levels below it. */
function repoRoot(): string {
  return path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..");
}

function main(): void {
  const { values } = parseArgs({
    options: {
      dir: { type: "string" },
      commit: { type: "string" },
      force: { type: "boolean" },
    },
  });
  const root = repoRoot();
  const dir = baselineDir(values.dir);
  const rev = values.commit ?? BASELINE_COMMIT;
  const commit = execFileSync("git", ["-C", root, "rev-parse", "--verify", `${rev}^{commit}`], {
    encoding: "utf8",
  }).trim();
  const marker = path.join(dir, BASELINE_COMMIT_FILE);
  const built = fs.existsSync(marker) ? fs.readFileSync(marker, "utf8").trim() : "";
  if (built === commit && fs.existsSync(path.join(dir, "dist", "index.js")) && !values.force) {
    console.log(`baseline ${commit.slice(0, 7)} already built in ${dir} (--force to rebuild)`);
    return;
  }
  if (path.relative(root, dir) === "" || !path.relative(root, dir).startsWith("..")) {
    throw new Error(`the baseline directory ${dir} must lie outside the checkout ${root}`);
  }
  fs.rmSync(dir, { recursive: true, force: true });
  fs.mkdirSync(dir, { recursive: true });
  console.log(`extracting ${commit.slice(0, 7)} into ${dir} (git archive)`);
  const tar = execFileSync("git", ["-C", root, "archive", "--format=tar", commit], {
    maxBuffer: 1 << 30,
  });
  execFileSync("tar", ["-x", "-C", dir], { input: tar });
  fs.symlinkSync(fs.realpathSync(path.join(root, "node_modules")), path.join(dir, "node_modules"));
  console.log("npm run build (in the baseline directory)");
  execFileSync("npm", ["run", "build"], { cwd: dir, stdio: "inherit" });
  // Written last: a build that failed halfway leaves no marker and is made again next time.
  fs.writeFileSync(marker, `${commit}\n`);
  console.log(`baseline ${commit.slice(0, 7)} built: ${path.join(dir, "dist", "index.js")}`);
}

// Run only as a script: bench/snapshots.ts imports the constants above.
if (
  process.argv[1] !== undefined &&
  path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)
) {
  main();
}
