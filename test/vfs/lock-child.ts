// A child process for the locking tests (no tests here). Run by locking.test.ts as
// `node lock-child.js <hold|read> <database path> [key]`; run with no arguments (as the
// test runner does with every file under build/test) it does nothing.
//   hold: opens the database as its writer through the given name, puts "k" = "from child",
//         prints "ready", and closes and exits when its stdin ends.
//   read: opens it read-only, prints one JSON line {ok, value} or {ok: false, code, message}.
//   ops:  `node lock-child.js ops`: reads one LockCommand (lock-worker.ts) per stdin line and
//         prints one LockReply line for each; when stdin ends it exits, leaving its locks to
//         its 'exit' event. A SIGKILL leaves its files behind, as a crash does.

import { createInterface } from "node:readline";
import { isPagekvError, open } from "../../src/index.js";
import { type LockCommand, LockOps } from "./lock-worker.js";

const [mode, dbPath, key] = process.argv.slice(2);

function report(result: object): void {
  process.stdout.write(`${JSON.stringify(result)}\n`);
}

function failure(e: unknown): object {
  if (isPagekvError(e)) return { ok: false, code: e.code, message: e.message };
  return { ok: false, code: "NOT_PAGEKV", message: String(e) };
}

if (mode === "hold" && dbPath !== undefined) {
  try {
    const db = open(dbPath);
    db.put("k", "from child");
    report({ ok: true, ready: true });
    process.stdin.resume();
    process.stdin.on("end", () => db.close());
  } catch (e) {
    report(failure(e));
  }
} else if (mode === "ops") {
  const ops = new LockOps();
  const lines = createInterface({ input: process.stdin });
  lines.on("line", (line) => report(ops.run(JSON.parse(line) as LockCommand)));
  lines.on("close", () => process.exit(0));
} else if (mode === "read" && dbPath !== undefined) {
  try {
    const db = open(dbPath, { readOnly: true });
    const value = db.get(key ?? "k");
    db.close();
    report({ ok: true, value: value === undefined ? null : new TextDecoder().decode(value) });
  } catch (e) {
    report(failure(e));
  }
}
