// `pagekv backup <file> <dest>`: db.backup() of a read-only open, so it runs beside a writer
// in another process (docs/design/backup.md), with a progress bar on a terminal. The copy
// is one committed state, the last commit when the command starts.

import * as fs from "node:fs";
import { parse, positionals, recoverMode } from "./args.js";
import { sizeOf } from "./bytes.js";
import { CliError, EXIT_OK, type Io } from "./io.js";
import { withDb } from "./open.js";
import { Progress } from "./progress.js";

export function backup(args: string[], io: Io): number {
  const { values: v, positionals: p } = parse("backup", args);
  const [file, dest] = positionals("backup", p, ["file", "dest"]);
  if (!fs.existsSync(file)) throw new CliError("ERR_NOT_FOUND", `${file}: no such database`);
  const result = withDb(file, "read", recoverMode("backup", v.recover), io, (db) => {
    let bar: Progress | null = null;
    try {
      return db.backup(dest, {
        onProgress: (at) => {
          bar ??= new Progress(io, `backing up ${file}`, at.pagesTotal);
          bar.update(at.pagesDone, at.pagesDone === at.pagesTotal);
        },
      });
    } finally {
      (bar as Progress | null)?.done();
    }
  });
  io.out(
    `${dest}: ${result.pages} pages, ${sizeOf(result.bytes)} (${result.bytes} bytes), ` +
      `the commit of LSN ${result.lsn}\n`,
  );
  return EXIT_OK;
}
