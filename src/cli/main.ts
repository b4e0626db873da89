#!/usr/bin/env node
// The `pagekv` bin: binds the CLI to the process (argv, stdout, stderr, the exit code).
// Everything else is in run.ts, so it can be tested in-process.

import { run } from "./run.js";

const code = run(process.argv.slice(2), {
  out: (s) => {
    process.stdout.write(s);
  },
  err: (s) => {
    process.stderr.write(s);
  },
  isTTY: process.stderr.isTTY === true,
});
// Let piped stdout drain before exiting: process.exit() can cut a pending write short.
process.exitCode = code;
