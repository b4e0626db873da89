// The CLI's dispatcher: `pagekv <command> ...` to a command, and every failure to one
// line on stderr (`pagekv: <code>: <message>`) and an exit code. It returns the exit code
// and never exits the process, so tests call it in-process.
//
// Failures the user can act on (a CliError, a PagekvError, a Node system error) print one
// line and never a stack. Anything else is a bug: ERR_INTERNAL, its message and a second
// line asking for a report; the stack only when Io.debug is set (PAGEKV_DEBUG=1).

import { isPagekvError } from "../errors.js";
import { backup } from "./backup.js";
import * as commands from "./commands.js";
import { demo } from "./demo.js";
import {
  CliError,
  EXIT_FAILURE,
  EXIT_OK,
  EXIT_USAGE,
  fromSystemError,
  type Io,
  OutputClosed,
} from "./io.js";
import { load } from "./load.js";
import { messageOf } from "./open.js";
import type { CommandName } from "./options.js";
import { salvage } from "./salvage.js";
import { HELP, SUMMARY } from "./usage.js";
import { packageVersion } from "./version.js";

type Command = (args: string[], io: Io) => number;

const COMMANDS: Record<CommandName, Command> = {
  put: commands.put,
  get: commands.get,
  del: commands.del,
  scan: commands.scan,
  load,
  stats: commands.stats,
  check: commands.check,
  dump: commands.dump,
  compact: commands.compact,
  backup,
  salvage,
  demo,
};

/** Run the CLI on `argv` (without node and the script); returns the exit code. */
export function run(argv: string[], io: Io): number {
  const [name] = argv;
  try {
    return dispatch(argv, io);
  } catch (e) {
    return report(e, name, io);
  }
}

function dispatch(argv: string[], io: Io): number {
  const [name, ...args] = argv;
  if (name === undefined) {
    io.err(SUMMARY);
    return EXIT_USAGE;
  }
  if (name === "--help" || name === "-h" || name === "help") {
    io.out(SUMMARY);
    return EXIT_OK;
  }
  if (name === "--version") {
    io.out(`${packageVersion()}\n`);
    return EXIT_OK;
  }
  const command = Object.hasOwn(COMMANDS, name) ? COMMANDS[name as CommandName] : undefined;
  if (command === undefined) {
    io.err(`pagekv: ERR_USAGE: unknown command '${name}' (try 'pagekv --help')\n`);
    return EXIT_USAGE;
  }
  // Help wins over every other argument (before a `--`), before anything is opened.
  const dashdash = args.indexOf("--");
  const flags = dashdash === -1 ? args : args.slice(0, dashdash);
  if (flags.includes("--help") || flags.includes("-h")) {
    io.out(HELP[name as CommandName]);
    return EXIT_OK;
  }
  return command(args, io);
}

/** One line on stderr for `e` (two for a bug), and its exit code. */
function report(e: unknown, name: string | undefined, io: Io): number {
  if (e instanceof OutputClosed) return EXIT_OK; // the reader has all it wanted
  const known = fromSystemError(e);
  if (known instanceof CliError) {
    io.err(`pagekv: ${known.code}: ${known.message}\n`);
    if (known.exitCode === EXIT_USAGE) io.err(`usage: see 'pagekv ${name} --help'\n`);
    return known.exitCode;
  }
  if (isPagekvError(e)) {
    io.err(`pagekv: ${e.code}: ${messageOf(e)}\n`);
    return EXIT_FAILURE;
  }
  const what = e instanceof Error ? `${e.name}: ${e.message}` : String(e);
  io.err(`pagekv: ERR_INTERNAL: ${oneLine(what)}\n`);
  io.err(
    `pagekv: this is a bug in pagekv ${versionOrUnknown()}; please report it with the command ` +
      "line and its output with PAGEKV_DEBUG=1 set (which adds the stack)\n",
  );
  if (io.debug === true && e instanceof Error && e.stack !== undefined) io.err(`${e.stack}\n`);
  return EXIT_FAILURE;
}

function oneLine(s: string): string {
  return s.replace(/\s*\n\s*/g, " ");
}

function versionOrUnknown(): string {
  try {
    return packageVersion();
  } catch {
    return "(version unknown)";
  }
}
