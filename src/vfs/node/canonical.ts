// NodeFS.canonical(): the one name of a database file, from which its lock, log and lock
// files are derived. Absolute, symlinks resolved as the kernel resolves them; refuses a
// file with more than one hard link. Must never create, change or open a file.

import * as fs from "node:fs";
import * as path from "node:path";
import { PagekvError } from "../../errors.js";

/** Symlinks followed by hand for a name that does not exist yet (Linux's own limit is 40). */
export const SYMLINK_HOPS_MAX = 40;

function errnoCode(e: unknown): string | undefined {
  if (typeof e === "object" && e !== null && "code" in e) {
    const code = (e as { code: unknown }).code;
    if (typeof code === "string") return code;
  }
  return undefined;
}

function resolveError(filePath: string, e: unknown): PagekvError {
  const why = e instanceof Error ? e.message : String(e);
  return new PagekvError("ERR_IO", `NodeFS: cannot resolve the name "${filePath}": ${why}`, {
    cause: e,
    path: filePath,
  });
}

/**
 * The canonical name of the file at `filePath`. An existing file: its realpath. A name
 * with no file yet: the realpath of its directory and its base name, after following a
 * dangling symlink to the name it points at (creating through the link creates that).
 * ERR_NOT_FOUND when the directory does not exist, ERR_LINKED when the file has more than
 * one hard link, ERR_IO for anything else (a loop, a permission, a file as a directory).
 */
export function canonicalName(filePath: string): string {
  if (typeof filePath !== "string" || filePath.length === 0) {
    throw new PagekvError("ERR_ARG", "NodeFS: a file name must be a non-empty string");
  }
  // Not path.resolve: it folds "link/.." lexically, where the kernel follows the link first.
  let name = path.isAbsolute(filePath) ? filePath : `${process.cwd()}${path.sep}${filePath}`;
  for (let hop = 0; hop <= SYMLINK_HOPS_MAX; hop++) {
    let real: string | null = null;
    try {
      real = fs.realpathSync.native(name);
    } catch (e) {
      if (errnoCode(e) !== "ENOENT") throw resolveError(filePath, e);
    }
    if (real !== null) {
      checkOneLink(real, filePath);
      return real;
    }
    let st: fs.Stats;
    try {
      st = fs.lstatSync(name);
    } catch (e) {
      if (errnoCode(e) !== "ENOENT") throw resolveError(filePath, e);
      return path.join(realDirectory(name, filePath), path.basename(name));
    }
    if (!st.isSymbolicLink()) continue; // created since realpath looked: look again
    let target: string;
    try {
      target = fs.readlinkSync(name);
    } catch (e) {
      if (errnoCode(e) === "ENOENT" || errnoCode(e) === "EINVAL") continue; // changed since
      throw resolveError(filePath, e);
    }
    name = path.isAbsolute(target) ? target : `${path.dirname(name)}${path.sep}${target}`;
  }
  throw new PagekvError(
    "ERR_IO",
    `NodeFS: cannot resolve the name "${filePath}": more than ${SYMLINK_HOPS_MAX} symlinks ` +
      "(a loop?) or a name that keeps changing",
    { path: filePath },
  );
}

/** The realpath of the directory `name` would be created in. */
function realDirectory(name: string, filePath: string): string {
  const dir = path.dirname(name);
  try {
    return fs.realpathSync.native(dir);
  } catch (e) {
    if (errnoCode(e) === "ENOENT") {
      throw new PagekvError(
        "ERR_NOT_FOUND",
        `NodeFS: cannot use "${filePath}": the directory "${dir}" does not exist`,
        { cause: e, path: filePath },
      );
    }
    throw resolveError(filePath, e);
  }
}

/** ERR_LINKED when the file `real` has other hard links: each name would be its own database. */
function checkOneLink(real: string, filePath: string): void {
  let st: fs.Stats;
  try {
    st = fs.statSync(real);
  } catch (e) {
    throw resolveError(filePath, e);
  }
  if (!st.isFile() || st.nlink <= 1) return;
  const named = real === filePath ? `"${real}"` : `"${filePath}" (the file "${real}")`;
  throw new PagekvError(
    "ERR_LINKED",
    `NodeFS: ${named} has ${st.nlink} hard links: each name would get its own lock and its ` +
      "own log, so two writers could commit through two names and lose each other's " +
      "commits. Remove the extra links (or copy the file, e.g. `cp`, and use the copy)",
    { path: real },
  );
}
