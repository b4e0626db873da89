// The CLI's dispatcher: `pagekv <command> ...` to a command, and every failure to one
// line on stderr (`pagekv: <code>: <message>`) and an exit code. It returns the exit code
// and never exits the process, so tests call it in-process.

import { isPagekvError } from "../errors.js";
import * as commands from "./commands.js";
import { demo } from "./demo.js";
import { CliError, EXIT_FAILURE, EXIT_OK, EXIT_USAGE, type Io } from "./io.js";
import { load } from "./load.js";
import { HELP, SUMMARY } from "./usage.js";

type Command = (args: string[], io: Io) => number;

const COMMANDS: Record<string, Command> = {
  put: commands.put,
  get: commands.get,
  del: commands.del,
  scan: commands.scan,
  load,
  stats: commands.stats,
  check: commands.check,
  dump: commands.dump,
  demo,
};

/** Run the CLI on `argv` (without node and the script); returns the exit code. */
export function run(argv: string[], io: Io): number {
  const [name, ...args] = argv;
  if (name === undefined || name === "--help" || name === "-h" || name === "help") {
    if (name === undefined) {
      io.err(SUMMARY);
      return EXIT_USAGE;
    }
    io.out(SUMMARY);
    return EXIT_OK;
  }
  const command = Object.hasOwn(COMMANDS, name) ? COMMANDS[name] : undefined;
  if (command === undefined) {
    io.err(`pagekv: ERR_USAGE: unknown command '${name}' (try 'pagekv --help')\n`);
    return EXIT_USAGE;
  }
  // Help wins over every other argument (before a `--`), before anything is opened.
  const dashdash = args.indexOf("--");
  const flags = dashdash === -1 ? args : args.slice(0, dashdash);
  if (flags.includes("--help") || flags.includes("-h")) {
    io.out(HELP[name]);
    return EXIT_OK;
  }
  try {
    return command(args, io);
  } catch (e) {
    return report(e, name, io);
  }
}

/** One line on stderr for `e`, and its exit code. Unexpected errors keep their stack. */
function report(e: unknown, name: string, io: Io): number {
  if (e instanceof CliError) {
    io.err(`pagekv: ${e.code}: ${e.message}\n`);
    if (e.exitCode === EXIT_USAGE) io.err(`usage: see 'pagekv ${name} --help'\n`);
    return e.exitCode;
  }
  if (isPagekvError(e)) {
    // The engine's messages already start with their code.
    const message = e.message.startsWith(`${e.code}: `)
      ? e.message.slice(e.code.length + 2)
      : e.message;
    io.err(`pagekv: ${e.code}: ${message}\n`);
    return EXIT_FAILURE;
  }
  const code = (e as { code?: unknown })?.code;
  io.err(
    `pagekv: ${typeof code === "string" ? code : "ERR_INTERNAL"}: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`,
  );
  return EXIT_FAILURE;
}
