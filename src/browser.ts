// The package entry for browsers (pagekv/browser): the platform-neutral engine plus the
// OPFS file system, and openBrowser(), which acquires a database's sync access handles
// (asynchronously) and then opens the same synchronous Database on them. Must never
// import node:* or anything under vfs/node/, nor the Node entry (index.ts).

import { type Database, type DbOpenOptions, openDatabase } from "./db/db.js";
import { PagekvError } from "./errors.js";
import { OpfsVFS } from "./vfs/browser/opfs.js";

export * from "./engine.js";
export {
  OPFS_FILE_BYTES_MAX,
  OPFS_NAME_CHARS_MAX,
  OPFS_WAL_SUFFIX,
  OPFS_WRITEV_STAGING_BYTES_MAX,
  type OpfsAcquireOptions,
  OpfsVFS,
} from "./vfs/browser/opfs.js";

export interface BrowserOpenOptions extends Omit<DbOpenOptions, "vfs"> {
  /** The OPFS directory holding the database (default: the origin's root directory). */
  directory?: FileSystemDirectoryHandle;
}

/** The VFS of each database openBrowser() returned, for closeBrowser() and vfsOf(). */
const vfsByDb = new WeakMap<Database, OpfsVFS>();

/**
 * Open (by default creating) the database `name` in the Origin Private File System, in a
 * dedicated worker. ERR_LOCKED when another tab or worker has it open; otherwise the
 * errors of open(). Everything after this promise is the synchronous engine.
 */
export async function openBrowser(
  name: string,
  options: BrowserOpenOptions = {},
): Promise<Database> {
  if (typeof options !== "object" || options === null || Array.isArray(options)) {
    throw new PagekvError("ERR_ARG", `${String(name)}: open: options must be an object`);
  }
  const { directory, ...rest } = options;
  const vfs = await OpfsVFS.acquire(name, {
    ...(directory === undefined ? {} : { directory }),
    readOnly: rest.readOnly === true,
    create: rest.create !== false,
  });
  let db: Database;
  try {
    db = openDatabase(name, { ...rest, vfs });
  } catch (e) {
    // Nothing was opened: give the handles back, and leave no empty file behind.
    await vfs.release(true);
    throw e;
  }
  vfsByDb.set(db, vfs);
  return db;
}

/**
 * db.close(), then wait until its handles are closed and its log's entry removed, so that
 * another tab or worker can open the database at once. db.close() alone does the same,
 * finishing in the background (OpfsVFS.acquire in this worker waits for it).
 */
export async function closeBrowser(db: Database): Promise<void> {
  const vfs = vfsByDb.get(db);
  try {
    db.close();
  } finally {
    if (vfs !== undefined) await vfs.whenReleased();
  }
}

/** The OpfsVFS under a database openBrowser() returned (file sizes for a stats page). */
export function vfsOf(db: Database): OpfsVFS | undefined {
  return vfsByDb.get(db);
}
