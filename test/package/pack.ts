// Helpers for the package tests (no tests here: imported only): where the repository is,
// running npm and tsc as child processes, and reading an npm tarball without a `tar`
// binary. They never change the repository: anything they build goes to a temp directory.

import { execFile } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import { gunzipSync } from "node:zlib";

/** The repository root (this file runs as build/test/package/pack.js). */
export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../..");

/** The repository's installed dependencies, symlinks followed (CI: a fresh clone's). */
export const nodeModules = fs.realpathSync(path.join(repoRoot, "node_modules"));

export interface Run {
  status: number;
  stdout: string;
  stderr: string;
}

/** Run `file args` in `cwd` to the end; never throws for a non-zero exit status. */
export function run(file: string, args: string[], cwd: string): Promise<Run> {
  return new Promise((resolve, reject) => {
    execFile(file, args, { cwd, maxBuffer: 64 * 2 ** 20 }, (error, stdout, stderr) => {
      if (error !== null && typeof error.code !== "number") {
        reject(error); // could not start (ENOENT, ...), or killed
        return;
      }
      resolve({ status: error === null ? 0 : Number(error.code), stdout, stderr });
    });
  });
}

/**
 * npm, offline: the npm that runs `npm test` when there is one (npm_execpath), else the
 * `npm` on PATH.
 */
export function npm(args: string[], cwd: string): Promise<Run> {
  const cli = process.env.npm_execpath;
  const all = [...args, "--offline", "--no-audit", "--no-fund"];
  if (cli?.endsWith(".js")) return run(process.execPath, [cli, ...all], cwd);
  return run(process.platform === "win32" ? "npm.cmd" : "npm", all, cwd);
}

/** The TypeScript compiler of the repository's devDependencies. */
export function tsc(args: string[], cwd: string): Promise<Run> {
  return run(process.execPath, [path.join(nodeModules, "typescript", "bin", "tsc"), ...args], cwd);
}

/** A fresh temp directory; the caller removes it (see removeDir). */
export function makeTempDir(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), "pagekv-package-test-"));
}

export function removeDir(dir: string): void {
  fs.rmSync(dir, { recursive: true, force: true });
}

/** Names never copied into a clone-like copy: what a fresh clone does not have. */
const NOT_IN_A_CLONE = new Set([".git", "node_modules", "dist", "build"]);

/**
 * Copy the repository into `dir` as a fresh clone has it (no dist/, build/ or
 * node_modules/, at any depth; no database files), and link its node_modules to ours.
 */
export function copyAsClone(dir: string): void {
  fs.cpSync(repoRoot, dir, {
    recursive: true,
    filter: (src) => {
      const name = path.basename(src);
      return !NOT_IN_A_CLONE.has(name) && !/\.pkv(-wal|-lock.*)?$/.test(name);
    },
  });
  fs.symlinkSync(nodeModules, path.join(dir, "node_modules"), "dir");
}

export interface TarEntry {
  path: string;
  data: Uint8Array;
}

/**
 * The regular files of a gzipped tar archive (ustar, with pax `path` records), in archive
 * order. Anything else a tarball of npm's could hold (links, devices) is an error.
 */
export function readTarball(file: string): TarEntry[] {
  const tar = gunzipSync(fs.readFileSync(file));
  const text = (at: number, n: number) => {
    const field = tar.subarray(at, at + n);
    const end = field.indexOf(0);
    return field.subarray(0, end < 0 ? n : end).toString("utf8");
  };
  const entries: TarEntry[] = [];
  let paxPath: string | undefined;
  let at = 0;
  while (at + 512 <= tar.length && tar[at] !== 0) {
    const size = Number.parseInt(text(at + 124, 12).trim() || "0", 8);
    const type = text(at + 156, 1) || "0";
    const prefix = text(at + 345, 155);
    const name = prefix === "" ? text(at, 100) : `${prefix}/${text(at, 100)}`;
    const data = tar.subarray(at + 512, at + 512 + size);
    if (type === "x") {
      const record = /(?:^|\n)\d+ path=([^\n]*)\n/.exec(data.toString("utf8"));
      paxPath = record?.[1];
    } else if (type === "0") {
      entries.push({ path: paxPath ?? name, data: new Uint8Array(data) });
      paxPath = undefined;
    } else if (type !== "5" && type !== "g") {
      throw new Error(`${file}: tar entry ${name} has type ${type}`);
    }
    at += 512 + Math.ceil(size / 512) * 512;
  }
  return entries;
}

/** Write `entries` under `dir`, each path stripped of its first component ("package/"). */
export function extractTo(entries: readonly TarEntry[], dir: string): void {
  for (const entry of entries) {
    const rel = entry.path.split("/").slice(1).join("/");
    const target = path.join(dir, rel);
    if (!target.startsWith(dir + path.sep)) throw new Error(`tar entry ${entry.path} escapes`);
    fs.mkdirSync(path.dirname(target), { recursive: true });
    fs.writeFileSync(target, entry.data);
  }
}
