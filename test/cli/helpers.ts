// Shared by the CLI tests (no tests here: imported only): run() in-process with captured
// output, and the paths of the built CLI for the tests that run it as a child process.

import * as assert from "node:assert/strict";
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import type { Io } from "../../src/cli/io.js";
import { run } from "../../src/cli/run.js";

export interface Result {
  code: number;
  out: string;
  err: string;
}

/** Run the CLI in-process; `io` overrides parts of the captured Io. */
export function cli(argv: string[], isTTY = false, io: Partial<Io> = {}): Result {
  let out = "";
  let err = "";
  const code = run(argv, {
    out: (s) => {
      out += s;
    },
    err: (s) => {
      err += s;
    },
    isTTY,
    ...io,
  });
  return { code, out, err };
}

/** Run and require exit 0, returning stdout. */
export function ok(argv: string[]): string {
  const r = cli(argv);
  assert.equal(r.code, 0, `pagekv ${argv.join(" ")} failed: ${r.err}`);
  return r.out;
}

/** Run and require exit 1 with one `pagekv: <code>: ...` line on stderr; returns it. */
export function fails(argv: string[], code: string): string {
  const r = cli(argv);
  assert.equal(r.code, 1, `pagekv ${argv.join(" ")}: exit ${r.code}, ${r.err}`);
  assert.equal(r.out, "");
  assert.match(r.err, new RegExp(`^pagekv: ${code}: [^\\n]+\\n$`), `pagekv ${argv.join(" ")}`);
  return r.err;
}

/** The repository root (tests run from build/test/cli). */
export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../..");
/** The CLI as compiled with the tests, and as the package ships it (npm run build). */
export const MAIN_BUILD = path.join(ROOT, "build/src/cli/main.js");
export const DIST = path.join(ROOT, "dist");
