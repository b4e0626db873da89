// A private temporary directory for tests that touch the real file system (no tests here:
// imported only). It is removed afterwards whatever the test did.

import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";

export function withTempDir<T>(fn: (dir: string) => T): T {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "pagekv-test-"));
  try {
    return fn(dir);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
