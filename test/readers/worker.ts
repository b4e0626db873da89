// A worker thread of the reader tests (no tests here): started with a job as workerData,
// it runs the writer or a reader of it (writer.ts, reader.ts), messages through
// parentPort. Run as a main thread (as the test runner does with every file under
// build/test) it does nothing.

import { isMainThread, type MessagePort, parentPort, workerData } from "node:worker_threads";
import { runReader } from "./reader.js";
import type { Job, Port } from "./workload.js";
import { runWriter } from "./writer.js";

function threadPort<In, Out>(port: MessagePort): Port<In, Out> {
  return {
    send(message: Out) {
      port.postMessage(message);
    },
    onMessage(handler: (message: In) => void) {
      port.on("message", (m: In) => handler(m));
    },
  };
}

if (!isMainThread && parentPort !== null) {
  const port = parentPort;
  const job = workerData as Job;
  // Ending: stop listening, so the thread ends once its last callback returns (a message
  // posted before is still delivered; process.exit() in a worker could drop it).
  // Deno's parentPort has no close(): its worker ends at the global close() instead.
  const exit = (_code: number) => {
    if (typeof port.close === "function") port.close();
    else (globalThis as { close?: () => void }).close?.();
  };
  if (job.role === "writer") runWriter(job, threadPort(port), exit);
  else runReader(job, threadPort(port), exit);
}
