// A child process that stays alive until killed, on every runtime the tests run on:
// coreutils' sleep. (`process.execPath -e ...` is no idle child under Deno, whose binary
// takes no `-e`: it exited at once, and a test passed or failed on how fast.)

import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import * as fs from "node:fs";

/** The sleep binary, as a path (a symlink to it gives a process another command name). */
export const SLEEP = ["/usr/bin/sleep", "/bin/sleep"].find((p) => fs.existsSync(p)) ?? "sleep";

/** A child that sleeps `seconds`, once it has started (so its pid is live); `exe`: SLEEP. */
export async function idleChild(
  exe = SLEEP,
  seconds = 60,
): Promise<ChildProcess & { pid: number }> {
  const child = spawn(exe, [String(seconds)], { stdio: "ignore" });
  await once(child, "spawn");
  const pid = child.pid;
  if (pid === undefined) throw new Error("the idle child has no pid");
  return Object.assign(child, { pid });
}
