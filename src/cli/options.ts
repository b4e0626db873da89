// Every command's options in one table: the commands parse with it, and the tests check
// that usage.ts names exactly these (a flag added here is added to the help texts too).

import type { ParseArgsConfig } from "node:util";

export type Options = NonNullable<ParseArgsConfig["options"]>;

/** On every command that opens a database: what to do with damaged synced log frames. */
const RECOVER: Options = { recover: { type: "string" } };

export type CommandName =
  | "put"
  | "get"
  | "del"
  | "scan"
  | "load"
  | "stats"
  | "check"
  | "dump"
  | "compact"
  | "backup"
  | "salvage"
  | "demo";

export const OPTIONS: Record<CommandName, Options> = {
  put: { ...RECOVER },
  get: { json: { type: "boolean" }, ...RECOVER },
  del: { ...RECOVER },
  scan: {
    gt: { type: "string" },
    gte: { type: "string" },
    lt: { type: "string" },
    lte: { type: "string" },
    prefix: { type: "string" },
    reverse: { type: "boolean" },
    limit: { type: "string" },
    json: { type: "boolean" },
    ...RECOVER,
  },
  load: { batch: { type: "string" }, ...RECOVER },
  stats: { ...RECOVER },
  check: { ...RECOVER },
  dump: { ...RECOVER },
  compact: { json: { type: "boolean" }, ...RECOVER },
  backup: { ...RECOVER },
  salvage: {},
  demo: { keys: { type: "string" }, file: { type: "string" } },
};
