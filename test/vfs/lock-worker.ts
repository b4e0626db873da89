// A worker thread for the locking tests (no tests here). locking.test.ts starts it with
// workerData { path, readOnly, hold }; run as a main thread (as the test runner does with
// every file under build/test) it does nothing.
// It opens the database and posts {ok: true, threadId} or {ok: false, code, message}. With
// hold it keeps the database open until it is sent "close", then closes it, posts
// "closed" and ends; with hold "leak" it ends without closing the database.

import { isMainThread, parentPort, threadId, workerData } from "node:worker_threads";
import { type Database, isPagekvError, open } from "../../src/index.js";

interface Job {
  path: string;
  readOnly: boolean;
  hold: boolean | "leak";
}

function run(port: NonNullable<typeof parentPort>, job: Job): void {
  let db: Database;
  try {
    db = open(job.path, { readOnly: job.readOnly });
  } catch (e) {
    if (isPagekvError(e)) port.postMessage({ ok: false, code: e.code, message: e.message });
    else port.postMessage({ ok: false, code: "NOT_PAGEKV", message: String(e) });
    return;
  }
  if (!job.readOnly) db.put("k", `from thread ${threadId}`);
  port.postMessage({ ok: true, threadId });
  if (job.hold === true) {
    port.once("message", () => {
      db.close();
      port.postMessage("closed");
    });
  } else if (job.hold === false) {
    db.close();
  }
  // "leak": end with the database open.
}

if (!isMainThread && parentPort !== null) run(parentPort, workerData as Job);
