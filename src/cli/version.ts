// The package's version for `pagekv --version`, read at run time from the package.json
// above this module: dist/cli/ in an installed package or a checkout, build/src/cli/ in
// the tests. Never embedded at build time, so it cannot drift from package.json.

import * as fs from "node:fs";
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import { CliError } from "./io.js";

/** Directories searched above this module's: cli -> dist -> the package root, with room. */
const PACKAGE_SEARCH_LEVELS_MAX = 4;
const PACKAGE_NAME = "pagekv";

let cached: string | undefined;

/** The version in pagekv's package.json; ERR_INTERNAL if it cannot be found. */
export function packageVersion(): string {
  if (cached !== undefined) return cached;
  // import.meta.url is the real path (node resolves the bin's symlink), so this finds the
  // package the module belongs to, wherever the bin was called from.
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (let level = 0; level <= PACKAGE_SEARCH_LEVELS_MAX; level++) {
    const version = versionIn(path.join(dir, "package.json"));
    if (version !== undefined) {
      cached = version;
      return version;
    }
    const parent = path.dirname(dir);
    if (parent === dir) break;
    dir = parent;
  }
  throw new CliError(
    "ERR_INTERNAL",
    `no package.json of ${PACKAGE_NAME} above ${path.dirname(fileURLToPath(import.meta.url))}`,
  );
}

/** The version of the package.json at `file` if it is pagekv's, else undefined. */
function versionIn(file: string): string | undefined {
  let text: string;
  try {
    text = fs.readFileSync(file, "utf8");
  } catch {
    return undefined; // no package.json at this level: look further up
  }
  try {
    const pkg = JSON.parse(text) as { name?: unknown; version?: unknown };
    return pkg.name === PACKAGE_NAME && typeof pkg.version === "string" ? pkg.version : undefined;
  } catch {
    return undefined;
  }
}
