// A child process of the reader tests (no tests here): `node child.js '<job json>'` runs
// the writer or a reader of the job (writer.ts, reader.ts), messages as JSON lines: the
// parent's on stdin, its own on stdout. Run with no arguments (as the test runner does
// with every file under build/test) it does nothing.

import * as readline from "node:readline";
import { runReader } from "./reader.js";
import type { Job, Port } from "./workload.js";
import { runWriter } from "./writer.js";

/**
 * Messages over the process's stdio. stdout writes to a pipe are synchronous on Linux (and
 * a line is far below PIPE_BUF, so one write(2)): a message sent is in the pipe before the
 * next statement runs, so a SIGKILL right after an ack cannot lose it.
 */
function stdioPort<In, Out>(): Port<In, Out> {
  return {
    send(message: Out) {
      process.stdout.write(`${JSON.stringify(message)}\n`);
    },
    onMessage(handler: (message: In) => void) {
      const lines = readline.createInterface({ input: process.stdin });
      lines.on("line", (line) => handler(JSON.parse(line) as In));
      // The parent is gone: nothing would read our messages.
      lines.on("close", () => process.exit(0));
    },
  };
}

const [jobText] = process.argv.slice(2);
if (jobText !== undefined) {
  const job = JSON.parse(jobText) as Job;
  const exit = (code: number) => process.exit(code);
  if (job.role === "writer") runWriter(job, stdioPort(), exit);
  else runReader(job, stdioPort(), exit);
}
