#!/usr/bin/env node
// The `pagekv` bin: binds the CLI to the process (argv, stdout, stderr, the environment,
// the exit code). Everything else is in run.ts, so it can be tested in-process.
//
// Output is written synchronously to the file descriptors, so a failed write surfaces in
// the call that made it: a reader that closed the pipe (EPIPE) becomes OutputClosed and
// the command stops quietly, instead of an 'error' event thrown after run() returned.

import * as fs from "node:fs";
import { isatty } from "node:tty";
import { fromSystemError, OutputClosed } from "./io.js";
import { run } from "./run.js";

const STDOUT_FD = 1;
const STDERR_FD = 2;
/** How long to wait before retrying a write to a non-blocking descriptor that is full. */
const RETRY_WAIT_MS = 1;
const waitCell = new Int32Array(new SharedArrayBuffer(4));

/** Write all of `s` to `fd`, waiting out EAGAIN (an inherited non-blocking descriptor). */
function writeAll(fd: number, s: string): void {
  const bytes = Buffer.from(s, "utf8");
  let done = 0;
  while (done < bytes.length) {
    try {
      done += fs.writeSync(fd, bytes, done, bytes.length - done);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "EAGAIN") throw e;
      Atomics.wait(waitCell, 0, 0, RETRY_WAIT_MS);
    }
  }
}

const code = run(process.argv.slice(2), {
  out: (s) => {
    try {
      writeAll(STDOUT_FD, s);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === "EPIPE") throw new OutputClosed();
      throw fromSystemError(e, "stdout");
    }
  },
  err: (s) => {
    try {
      writeAll(STDERR_FD, s);
    } catch {
      // Standard error is gone too: there is nowhere left to say anything.
    }
  },
  isTTY: isatty(STDERR_FD),
  debug: process.env.PAGEKV_DEBUG === "1",
});
// Not process.exit(): let anything still pending finish before the process ends.
process.exitCode = code;
