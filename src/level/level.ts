// PagekvLevel: the abstract-level 3 database over one pagekv file. It owns the mapping from
// abstract-level's private API (_open, _get, _put, _batch, _iterator, _clear, ...) to the
// engine: writes go through its asynchronous calls (group commit:
// docs/design/group-commit.md), reads, snapshots and clear through its synchronous ones. It
// also owns the manifest that says what of abstract-level is supported. It never reaches
// below the public Database API and never encodes or decodes values itself: the private
// API takes and returns Uint8Array ('view'), abstract-level transcodes the rest.
//
// Invariants:
//   - `engine` is a live Database while abstract-level's status is 'open' or 'closing'
//     (abstract-level calls no private read or write method in any other state), and null
//     once _close has begun, even if the engine's close then fails (a Database whose
//     close threw is unusable): a call then is LEVEL_DATABASE_NOT_OPEN;
//   - every write (_put, _del, _batch) is one engine asynchronous call (putAsync,
//     deleteAsync, batchAsync): all or nothing, applied in call order with every other
//     write of the database, and sharing one log append and one sync with the writes made
//     in the same event turn or during the previous group's sync; its promise resolves
//     when it is durable as the `sync` option says, and rejects alone if it failed (a
//     failed sync rejects its whole group). _clear is one synchronous transaction per
//     CLEAR_BATCH_KEYS keys (abstract-level does not require clear() to be atomic; see
//     _clear for why it is synchronous);
//   - _close waits for every pending write (the engine's closeAsync), since
//     abstract-level's close() does not wait for the promises of earlier writes;
//   - an iterator reads the engine snapshot taken when it was created (implicit) or the
//     one named by `options.snapshot` (explicit), never the live tree; get, getMany, has,
//     hasMany and getSync read the latest commit at the call (the engine's reads are
//     synchronous, so that is a snapshot taken synchronously, as abstract-level requires)
//     unless they name a snapshot. With `sync: "full"` the latest commit a read sees is
//     the latest durable one: a write whose promise has not resolved is not seen yet;
//   - a read names only a PagekvSnapshot made by this database's _snapshot(): any other
//     value is refused (LEVEL_INVALID_VALUE), never read from; the engine snapshot behind
//     it is closed by its _close() or by the engine's close(), whichever comes first;
//   - the engine's options (ENGINE_OPTIONS) are checked in the constructor, each for type
//     and range, and a name that differs from one of them only in case is refused: a typo
//     must not silently open with other durability or access. Every other option is
//     abstract-level's to judge (it accepts arbitrary ones), and left alone.

import { type AbstractDatabaseOptions, AbstractLevel, type AbstractSnapshot } from "abstract-level";
import {
  type BatchOp,
  type Database,
  type DbOpenOptions,
  openDatabase,
  type Snapshot,
} from "../db/db.js";
import { assert, PagekvError } from "../errors.js";
import { isValidPageSize, PAGE_SIZE_MAX, PAGE_SIZE_MIN } from "../format/page.js";
import { describe, optionalBoolean, optionalChoice, optionalInteger } from "../options.js";
import { WAL_AUTO_CHECKPOINT_PAGES_MAX } from "../pager/pager.js";
import { NodeFS } from "../vfs/node/nodefs.js";
import type { VFS } from "../vfs/vfs.js";
import { PagekvLevelError, toLevelError, toSnapshotError } from "./errors.js";
import {
  Cursor,
  engineRange,
  PagekvIterator,
  PagekvKeyIterator,
  PagekvValueIterator,
  type PrivateIteratorOptions,
  type PrivateRangeOptions,
  type PrivateValueIteratorOptions,
  toBytes,
} from "./iterator.js";
import { PagekvSnapshot, type PrivateSnapshotOptions } from "./snapshot.js";

/** _clear deletes in transactions of at most this many keys, bounding one commit's size. */
export const CLEAR_BATCH_KEYS = 1024;

/** Options of the PagekvLevel constructor: abstract-level's plus the engine's open options. */
export interface PagekvLevelOptions<K, V> extends AbstractDatabaseOptions<K, V> {
  /** Page size of a new file (default 4096); an existing file keeps its own. */
  pageSize?: number;
  /** Buffer pool bytes (default 256 MiB, CACHE_BYTES_DEFAULT). */
  cacheBytes?: number;
  /**
   * The engine's durability for every write of this database: "full" (default: a write
   * whose promise resolved survives power loss), "normal" (the log is synced only at
   * checkpoint; power loss may lose recent writes, never tear one) or "off" (never syncs;
   * safe against a process crash only). abstract-level's per-call `sync` option, which
   * some stores honour, is ignored: durability is a property of the open database.
   */
  sync?: DbOpenOptions["sync"];
  /** Open for reading only: every write rejects with LEVEL_READONLY. */
  readOnly?: boolean;
  /** Checkpoint after a commit leaves this many pages in the log (see open()). */
  autoCheckpointPages?: number;
  /** "strict" (default) or "truncate": what open does with damaged synced log frames. */
  recover?: DbOpenOptions["recover"];
  /** The file system (default NodeFS; MemFS keeps the database in memory, for tests). */
  vfs?: VFS;
}

/** The options the engine takes; the rest of a PagekvLevel's options are abstract-level's. */
const ENGINE_OPTIONS = [
  "pageSize",
  "cacheBytes",
  "sync",
  "readOnly",
  "autoCheckpointPages",
  "recover",
  "vfs",
] as const;

const SYNC_MODES = ["full", "normal", "off"] as const;
/** Where option errors say they come from. */
const SITE = "PagekvLevel";

/** abstract-level's private open options (always both present). */
interface PrivateOpenOptions {
  createIfMissing: boolean;
  errorIfExists: boolean;
}

/** A batch operation as abstract-level hands it over: encoded, type checked. */
type PrivateBatchOp =
  | { type: "put"; key: ArrayBufferView; value: ArrayBufferView }
  | { type: "del"; key: ArrayBufferView };

/** The options of a private read: abstract-level passes an explicit snapshot here. */
interface PrivateReadOptions {
  snapshot?: AbstractSnapshot;
}

/** What a read goes to: the database (the latest commit) or an engine snapshot. */
interface Reader {
  get(key: Uint8Array): Uint8Array | undefined;
  has(key: Uint8Array): boolean;
}

/**
 * What this adapter supports, declared to abstract-level (and so to its test suite, which
 * skips what is not claimed). Both kinds of snapshot are claimed: an iterator reads an
 * engine snapshot (its own, or an explicit one), and db.snapshot() is an engine snapshot
 * that get, getMany, has, hasMany, getSync, iterators and clear read through. `snapshots`
 * is abstract-level's older name for implicitSnapshots.
 */
const MANIFEST = {
  encodings: { view: true },
  implicitSnapshots: true,
  explicitSnapshots: true,
  snapshots: true,
  permanence: true,
  seek: true,
  createIfMissing: true,
  errorIfExists: true,
  has: true,
  getSync: true,
};

interface EngineOptions {
  pageSize: number | undefined;
  cacheBytes: number | undefined;
  sync: DbOpenOptions["sync"] | undefined;
  readOnly: boolean | undefined;
  autoCheckpointPages: number | undefined;
  recover: DbOpenOptions["recover"] | undefined;
  vfs: VFS | undefined;
}

/**
 * The location and the engine's options of `options`, checked (see the constructor); a
 * failure is LEVEL_INVALID_VALUE with the engine's ERR_ARG as cause.
 */
function checkEngineOptions(location: unknown, options: object): EngineOptions {
  try {
    if (typeof location !== "string" || location === "") {
      throw new PagekvError(
        "ERR_ARG",
        `${SITE}: location must be a non-empty string, got ${describe(location)}`,
      );
    }
    const site = `${location}: ${SITE}`;
    const known: readonly string[] = ENGINE_OPTIONS;
    for (const key of Object.keys(options)) {
      if (known.includes(key)) continue;
      const meant = known.find((k) => k.toLowerCase() === key.toLowerCase());
      if (meant !== undefined) {
        throw new PagekvError(
          "ERR_ARG",
          `${site}: unknown option "${key}" (did you mean "${meant}"?)`,
          { path: location },
        );
      }
    }
    const o = options as Record<string, unknown>;
    const pageSize = optionalInteger(
      o.pageSize,
      "pageSize",
      PAGE_SIZE_MIN,
      PAGE_SIZE_MAX,
      site,
      location,
    );
    if (pageSize !== undefined && !isValidPageSize(pageSize)) {
      throw new PagekvError(
        "ERR_ARG",
        `${site}: option "pageSize" must be a power of two in ${PAGE_SIZE_MIN}..${PAGE_SIZE_MAX}, got ${pageSize}`,
        { path: location },
      );
    }
    const cacheBytes = optionalInteger(
      o.cacheBytes,
      "cacheBytes",
      0,
      Number.MAX_SAFE_INTEGER,
      site,
      location,
    );
    const sync = optionalChoice(o.sync, "sync", SYNC_MODES, site, location);
    const readOnly = optionalBoolean(o.readOnly, "readOnly", site, location);
    const autoCheckpointPages = optionalInteger(
      o.autoCheckpointPages,
      "autoCheckpointPages",
      0,
      WAL_AUTO_CHECKPOINT_PAGES_MAX,
      site,
      location,
    );
    const recover = optionalChoice(o.recover, "recover", ["strict", "truncate"], site, location);
    const vfs = o.vfs;
    if (vfs !== undefined && !isVfs(vfs)) {
      throw new PagekvError(
        "ERR_ARG",
        `${site}: option "vfs" must be a VFS (an object with open, delete, exists and lock), got ${describe(vfs)}`,
        { path: location },
      );
    }
    return { pageSize, cacheBytes, sync, readOnly, autoCheckpointPages, recover, vfs };
  } catch (e) {
    if (e instanceof PagekvError) throw new PagekvLevelError("LEVEL_INVALID_VALUE", e);
    throw e;
  }
}

function isVfs(v: unknown): v is VFS {
  if (typeof v !== "object" || v === null) return false;
  const f = v as Record<string, unknown>;
  return (
    typeof f.open === "function" &&
    typeof f.delete === "function" &&
    typeof f.exists === "function" &&
    typeof f.lock === "function"
  );
}

/**
 * An abstract-level database stored in the pagekv file at `location`:
 * `new PagekvLevel("app.pkv", { valueEncoding: "json" })`. Opens itself (deferred open)
 * like every abstract-level database; `close()` checkpoints the file.
 */
export class PagekvLevel<KDefault = string, VDefault = string> extends AbstractLevel<
  Uint8Array,
  KDefault,
  VDefault
> {
  /** The database file's path in `vfs`. */
  readonly location: string;
  private readonly vfs: VFS;
  private readonly engineOptions: Omit<DbOpenOptions, "vfs" | "create">;
  private engine: Database | null = null;

  /**
   * A bad engine option (wrong type or range, or a name differing from one only in case)
   * throws here, before anything is opened: a PagekvLevelError LEVEL_INVALID_VALUE whose
   * cause is the engine's ERR_ARG, as abstract-level itself throws from its constructor for
   * an unknown encoding (a deferred open would hide the mistake behind
   * LEVEL_DATABASE_NOT_OPEN at the first call).
   */
  constructor(location: string, options: PagekvLevelOptions<KDefault, VDefault> = {}) {
    // abstract-level reads a non-object as no options; so do we.
    const given: PagekvLevelOptions<KDefault, VDefault> =
      typeof options === "object" && options !== null ? options : {};
    const engine = checkEngineOptions(location, given);
    const {
      pageSize,
      cacheBytes,
      sync,
      readOnly,
      autoCheckpointPages,
      recover,
      vfs,
      ...levelOptions
    } = given;
    super(MANIFEST, levelOptions);
    this.location = location;
    this.vfs = engine.vfs ?? new NodeFS();
    this.engineOptions = {
      pageSize: engine.pageSize,
      cacheBytes: engine.cacheBytes,
      sync: engine.sync,
      readOnly: engine.readOnly,
      autoCheckpointPages: engine.autoCheckpointPages,
      recover: engine.recover,
    };
  }

  /** Open (or create) the file; errors name the file, abstract-level wraps them. */
  async _open(options: PrivateOpenOptions): Promise<void> {
    assert(this.engine === null, "PagekvLevel: _open while open");
    const path = this.location;
    const readOnly = this.engineOptions.readOnly === true;
    // These checks give abstract-level's messages. openDatabase decides again under
    // `create`, so a file removed in between is still ERR_NOT_FOUND when createIfMissing
    // is false; but a file created by another process in between is opened despite
    // errorIfExists (the engine has no exclusive create at this level).
    const exists = this.vfs.exists(path);
    if (exists && options.errorIfExists) {
      throw new PagekvError("ERR_EXISTS", `${path}: database exists (errorIfExists)`, { path });
    }
    if (!exists && (!options.createIfMissing || readOnly)) {
      const why = readOnly ? "readOnly" : "createIfMissing: false";
      throw new PagekvError("ERR_NOT_FOUND", `${path}: database does not exist (${why})`, {
        path,
      });
    }
    try {
      this.engine = openDatabase(path, {
        ...this.engineOptions,
        create: options.createIfMissing,
        vfs: this.vfs,
      });
    } catch (e) {
      throw toLevelError(e);
    }
  }

  /**
   * Close the file (checkpointing it), once every pending write settled (their promises
   * resolve or reject first). A failed close leaves the handle unusable.
   */
  async _close(): Promise<void> {
    const db = this.engine;
    this.engine = null;
    if (db !== null) await this.callAsync(() => db.closeAsync());
  }

  async _get(key: ArrayBufferView, options: PrivateReadOptions): Promise<Uint8Array | undefined> {
    return this.read(options, (r) => r.get(toBytes(key)));
  }

  _getSync(key: ArrayBufferView, options: PrivateReadOptions): Uint8Array | undefined {
    return this.read(options, (r) => r.get(toBytes(key)));
  }

  async _getMany(
    keys: ArrayBufferView[],
    options: PrivateReadOptions,
  ): Promise<(Uint8Array | undefined)[]> {
    return this.read(options, (r) => keys.map((k) => r.get(toBytes(k))));
  }

  async _has(key: ArrayBufferView, options: PrivateReadOptions): Promise<boolean> {
    return this.read(options, (r) => r.has(toBytes(key)));
  }

  async _hasMany(keys: ArrayBufferView[], options: PrivateReadOptions): Promise<boolean[]> {
    return this.read(options, (r) => keys.map((k) => r.has(toBytes(k))));
  }

  async _put(key: ArrayBufferView, value: ArrayBufferView): Promise<void> {
    await this.runAsync((db) => db.putAsync(toBytes(key), toBytes(value)));
  }

  async _del(key: ArrayBufferView): Promise<void> {
    await this.runAsync((db) => db.deleteAsync(toBytes(key)));
  }

  /** All operations in one transaction, in array order. */
  async _batch(operations: PrivateBatchOp[]): Promise<void> {
    const ops: BatchOp[] = operations.map((op) =>
      op.type === "put"
        ? { type: "put", key: toBytes(op.key), value: toBytes(op.value) }
        : { type: "del", key: toBytes(op.key) },
    );
    await this.runAsync((db) => db.batchAsync(ops));
  }

  /**
   * Delete the range (with reverse and limit), CLEAR_BATCH_KEYS keys per transaction, each
   * a synchronous engine transaction. With an explicit snapshot, only the keys in the
   * snapshot (abstract-level's rule); without one, the keys each transaction function
   * finds in the newest state (`tx.range`, which reads its own deletes).
   *
   * Synchronous on purpose, unlike the other writes: a synchronous transaction first
   * applies every pending asynchronous write (call order, group-commit.md), so the clear
   * deletes what was written before it, even what is still syncing (which a read through
   * the database would not see yet with `sync: "full"`); and no other write can come
   * between its transactions, so a write called after the clear is never deleted by it.
   * Through the asynchronous path its batches would be separate calls, and writes called
   * after the clear could be applied between them. Holding no snapshot across batches (in
   * the case without one) lets an automatic checkpoint between them reset the log.
   */
  async _clear(options: PrivateRangeOptions): Promise<void> {
    const range = engineRange(options);
    let left = options.limit >= 0 ? options.limit : Number.POSITIVE_INFINITY;
    const snapshot = this.snapshotOf(options);
    if (snapshot !== null && left !== Number.POSITIVE_INFINITY) range.limit = left;
    this.run((db) => {
      const entries = snapshot === null ? null : this.onSnapshot(() => snapshot.range(range));
      while (left > 0) {
        const want = Math.min(CLEAR_BATCH_KEYS, left);
        const deleted = db.transaction((tx) => {
          const keys: Uint8Array[] = [];
          if (entries === null) {
            // The keys go first, the deletes after: tx.range is not read across writes.
            for (const [k] of tx.range({ ...range, limit: want })) keys.push(k);
          } else {
            while (keys.length < want) {
              const r = this.onSnapshot(() => entries.next());
              if (r.done === true) break;
              keys.push(r.value[0]);
            }
          }
          for (const k of keys) tx.delete(k);
          return keys.length;
        });
        left -= deleted;
        if (deleted < want) return;
      }
    });
  }

  _iterator(options: PrivateIteratorOptions): PagekvIterator<this> {
    return new PagekvIterator(this, options, this.cursor(options));
  }

  _keys(options: PrivateRangeOptions): PagekvKeyIterator<this> {
    return new PagekvKeyIterator(this, options, this.cursor(options));
  }

  _values(options: PrivateValueIteratorOptions): PagekvValueIterator<this> {
    return new PagekvValueIterator(this, options, this.cursor(options));
  }

  /**
   * An explicit snapshot: the engine's, of the last commit, taken now (abstract-level
   * requires it synchronous). More than the engine's SNAPSHOTS_MAX open at once (iterators'
   * own included) throws the engine's ERR_LIMIT, which abstract-level has no code for.
   */
  _snapshot(options: PrivateSnapshotOptions): PagekvSnapshot {
    const engine = this.run((db) => db.snapshot());
    try {
      return new PagekvSnapshot(options, this, engine);
    } catch (e) {
      engine.close();
      throw e;
    }
  }

  // ---- internals ----

  /**
   * The cursor of a new iterator: over the explicit snapshot `options` names, or over one
   * of its own taken now (implicit), which the cursor closes when the iterator closes.
   */
  private cursor(options: PrivateRangeOptions): Cursor {
    const range = engineRange(options);
    const explicit = this.snapshotOf(options);
    if (explicit !== null) return new Cursor(explicit, range, false);
    return new Cursor(
      this.run((db) => db.snapshot()),
      range,
      true,
    );
  }

  /** Run `fn` on what `options` says to read: its explicit snapshot, else the database. */
  private read<T>(options: PrivateReadOptions, fn: (r: Reader) => T): T {
    const snapshot = this.snapshotOf(options);
    if (snapshot === null) return this.run(fn);
    return this.run(() => this.onSnapshot(() => fn(snapshot)));
  }

  /**
   * The engine snapshot `options.snapshot` names, or null for none. abstract-level has
   * checked that it is open (snapshot.ref()); this checks that it is one of ours.
   */
  private snapshotOf(options: PrivateReadOptions): Snapshot | null {
    const s = options.snapshot;
    if (s === undefined || s === null) return null;
    if (s instanceof PagekvSnapshot && s.level === this) return s.engine;
    const path = this.location;
    throw new PagekvLevelError(
      "LEVEL_INVALID_VALUE",
      new PagekvError(
        "ERR_ARG",
        `${path}: option "snapshot" must be a snapshot of this database (db.snapshot()), got ${describe(s)}`,
        { path },
      ),
    );
  }

  /** Run `fn`, a read through an explicit snapshot: its ERR_CLOSED is the snapshot's. */
  private onSnapshot<T>(fn: () => T): T {
    try {
      return fn();
    } catch (e) {
      throw toSnapshotError(e);
    }
  }

  /** Run `fn` on the open engine, renaming engine errors for abstract-level. */
  private run<T>(fn: (db: Database) => T): T {
    const db = this.live();
    return this.call(() => fn(db));
  }

  /** The open engine, else LEVEL_DATABASE_NOT_OPEN. */
  private live(): Database {
    const db = this.engine;
    if (db === null) {
      const path = this.location;
      const closed = new PagekvError("ERR_CLOSED", `${path}: the database is closed`, { path });
      throw new PagekvLevelError("LEVEL_DATABASE_NOT_OPEN", closed);
    }
    return db;
  }

  /** run for an asynchronous engine call: its rejection is renamed as run renames a throw. */
  private async runAsync<T>(fn: (db: Database) => Promise<T>): Promise<T> {
    const db = this.live();
    return this.callAsync(() => fn(db));
  }

  private async callAsync<T>(fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (e) {
      throw toLevelError(e);
    }
  }

  private call<T>(fn: () => T): T {
    try {
      return fn();
    } catch (e) {
      throw toLevelError(e);
    }
  }
}
