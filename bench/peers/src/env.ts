// The machine the figures were taken on, and small measuring helpers: the file system
// type of the temp dir, a directory's size, medians, garbage collection between runs.

import { execFileSync } from "node:child_process";
import { readdirSync, readFileSync, statfsSync, statSync } from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { fileURLToPath } from "node:url";

/** bench/peers, from its build/ directory. */
const PEERS_DIR = fileURLToPath(new URL("../", import.meta.url));

/** The version in a package.json, by path relative to bench/peers (package exports may
 * not list package.json, so it is read as a file). */
export function packageVersion(relative: string): string {
  const pkg: unknown = JSON.parse(readFileSync(path.join(PEERS_DIR, relative), "utf8"));
  return (pkg as { version?: string }).version ?? "unknown";
}

/** statfs magic numbers of the file systems a temp dir is likely to sit on. */
const FS_TYPES = new Map<number, string>([
  [0xef53, "ext4"],
  [0x01021994, "tmpfs"],
  [0x794c7630, "overlayfs"],
  [0x58465342, "xfs"],
  [0x9123683e, "btrfs"],
]);

export function fsTypeName(dir: string): string {
  const type = statfsSync(dir).type;
  return FS_TYPES.get(type) ?? `statfs type 0x${type.toString(16)}`;
}

/** Apparent bytes (st_size) and allocated bytes (st_blocks) of every file under `dir`. */
export function dirBytes(dir: string): { bytes: number; allocatedBytes: number } {
  let bytes = 0;
  let allocatedBytes = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) {
      const sub = dirBytes(p);
      bytes += sub.bytes;
      allocatedBytes += sub.allocatedBytes;
    } else {
      const st = statSync(p);
      bytes += st.size;
      allocatedBytes += st.blocks * 512;
    }
  }
  return { bytes, allocatedBytes };
}

/** The commit of the work tree, read-only; "unknown" outside git. */
function gitCommit(root: string): string {
  try {
    return execFileSync("git", ["-C", root, "rev-parse", "--short", "HEAD"], {
      encoding: "utf8",
      stdio: ["ignore", "pipe", "ignore"],
    }).trim();
  } catch {
    return "unknown";
  }
}

/** One line per fact about the machine and the run. */
export function environment(root: string, tmpDir: string): string[] {
  const cpus = os.cpus();
  return [
    `CPU: ${cpus[0]?.model ?? "unknown"}, ${cpus.length} logical cores; ` +
      `memory ${Math.round(os.totalmem() / 2 ** 30)} GiB`,
    `OS: ${os.type()} ${os.release()} ${os.arch()}; Node ${process.version}`,
    `temp dir: ${tmpDir} (${fsTypeName(tmpDir)})`,
    `pagekv commit: ${gitCommit(root)}`,
  ];
}

export function median(xs: readonly number[]): number {
  if (xs.length === 0) throw new Error("median of an empty list");
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 === 1 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
}

/** A full collection between timed runs, when node runs with --expose-gc. */
export function collectGarbage(): void {
  (globalThis as { gc?: () => void }).gc?.();
}

/** A number with `digits` decimals and thousands separators. */
export function fmt(x: number, digits = 0): string {
  return x.toLocaleString("en-US", {
    minimumFractionDigits: digits,
    maximumFractionDigits: digits,
  });
}
