// The help texts: one summary for `pagekv --help` and one per command. The text is the
// documentation of the CLI's surface: a flag added to OPTIONS (options.ts) is added here
// too, in the command's help and its summary entry (the tests check both).

import type { CommandName } from "./options.js";

const PLAIN_FORM = `Keys and values (arguments, TSV input, plain output) are written as text, except
that bytes that are not printable UTF-8 (control characters, U+2028, U+2029, invalid
UTF-8) and text that starts with 0x are written as 0x followed by two hex digits per
byte (lowercase in output). So 0x0102 is the two bytes 01 02, the text 0x12 prints as
0x30783132, and an argument that starts with 0x must be such hex. --json shows UTF-8
as a JSON string and other bytes as {"hex": "..."}.`;

const RECOVER = `  --recover truncate   when the log holds damaged frames that had been synced, open
                       at the last good commit instead of failing with ERR_CORRUPT,
                       and say on stderr how many transactions were dropped (get, scan,
                       stats, check and dump recover in memory only; put, del and load
                       repair the file)`;

export const SUMMARY = `usage: pagekv <command> <file> [args]
       pagekv --help | --version

commands:
  put <file> <key> <value>        store a value (creates the file if missing)
  get <file> <key> [--json]       print a value (exit 1 if the key is missing)
  del <file> <key>                delete a key (exit 1 if the key is missing)
  scan <file> [--gt K] [--gte K] [--lt K] [--lte K] [--prefix P] [--reverse]
       [--limit N] [--json]       print key<TAB>value lines in key order
  load <file> <input> [--batch N] load JSON lines or TSV (creates the file if missing)
  stats <file>                    pool and tree figures, file and log size
  check <file>                    verify the file's structure (exit 1 on any problem)
  dump <file> <page>              decode one page
  compact <file> [--json]         give free pages back to the file system
  backup <file> <dest>            copy the last commit into a new database file
  salvage <damaged> <dest>        copy what can still be read into a new database
  demo [--keys N] [--file PATH]   load, read and scan a demo database (pagekv-demo.pkv)

options of every command that opens a database (all but salvage and demo):
${RECOVER}

get, scan, stats, check, dump and backup open the database read-only: they run while a writer
(another process) holds it, and each reads one committed state, the last commit when it
starts; put, del, load and compact need the writer's lock (ERR_LOCKED while another
holds it).

Run 'pagekv <command> --help' for a command's options.
${PLAIN_FORM}
Failures print 'pagekv: <code>: <message>' on stderr.
Exit status: 0 success, 1 missing key / failed check / runtime error, 2 bad usage.
`;

export const HELP: Record<CommandName, string> = {
  put: `usage: pagekv put <file> <key> <value> [--recover truncate]

Store <value> under <key> in one durable transaction. Creates <file> if missing.
Use -- before a key that starts with '-'. A key or value that starts with 0x is hex:
put db k 0x0102 stores the two bytes 01 02; for the text 0x12 write 0x30783132.

options:
${RECOVER}
`,
  get: `usage: pagekv get <file> <key> [--json] [--recover truncate]

Print the value stored under <key>: as text, or as 0x and hex when it is not printable
UTF-8 or starts with 0x (a <key> that starts with 0x is hex too).
Exit 1 with ERR_KEY_NOT_FOUND if there is none.

options:
  --json               print {"key": ..., "value": ...} as scan --json does: UTF-8 as
                       a string, other bytes as {"hex": "..."}
${RECOVER}
`,
  del: `usage: pagekv del <file> <key> [--recover truncate]

Delete <key> (0x and hex for bytes). Exit 1 with ERR_KEY_NOT_FOUND if it did not exist.

options:
${RECOVER}
`,
  scan: `usage: pagekv scan <file> [options]

Print key<TAB>value lines in key order, each key and value as text, or as 0x and hex
when it is not printable UTF-8 or starts with 0x (bounds take the same form).
All given bounds and the prefix intersect.

options:
  --gt <key>           keys greater than <key>
  --gte <key>          keys greater than or equal to <key>
  --lt <key>           keys less than <key>
  --lte <key>          keys less than or equal to <key>
  --prefix <p>         keys starting with <p>
  --reverse            descending order
  --limit <n>          at most <n> entries (after --reverse: the highest keys)
  --json               JSON lines {"key": ..., "value": ...}; bytes that are not UTF-8
                       appear as {"hex": "..."}
${RECOVER}
`,
  load: `usage: pagekv load <file> <input> [--batch N] [--recover truncate]

Load entries from <input> ('-' for stdin): JSON lines {"key": ..., "value": ...} (a
string, or {"hex": "..."}) when the first non-space character is '{', else TSV lines
key<TAB>value (the value is everything after the first tab; a key or value that starts
with 0x is hex, as scan prints it). Blank lines are skipped. Creates <file> if missing.
Shows a progress bar when stderr is a terminal.

A bad line stops the load with its line number and the count of entries committed
before it, which stay. A load that committed nothing to a file it created removes it.

options:
  --batch <n>          keys per transaction (default 10000)
${RECOVER}
`,
  stats: `usage: pagekv stats <file> [--recover truncate]

Print the file and log size, page counts, the tree's depth, node counts and fill, and
the buffer pool's figures (hit ratio, evictions) for one walk of the tree. The page
and tree figures are those of the last commit (one snapshot), also beside a writer.

options:
${RECOVER}
`,
  check: `usage: pagekv check <file> [--recover truncate]

Verify ordering, separators, the leaf chain and page accounting of the last commit:
every page is read from one snapshot, so a writer committing meanwhile (another process)
is not damage. Prints each problem and exits 1 (ERR_VERIFY) if there is any.

options:
${RECOVER}
`,
  dump: `usage: pagekv dump <file> <page> [--recover truncate]

Decode page <page> as of the last commit: its kind, cell count, keys, children or
right sibling and free bytes. Page 1 is the header; 'stats' prints the tree's root page.

options:
${RECOVER}
`,
  compact: `usage: pagekv compact <file> [--json] [--recover truncate]

Give disk space back: pack the leaves full, move the live pages at the end of the file
into free pages lower down, and cut the file where its live data ends (no data changes;
a crash at any point leaves the database as it was or compacted). Needs the writer's
lock. Prints the page counts, pages moved and the file size before and after. While a
reader (another process) reads an older commit, the file is cut later, at the first
checkpoint after it moved on; the output says so.

options:
  --json               print the figures as one JSON object
${RECOVER}
`,
  backup: `usage: pagekv backup <file> <dest> [--recover truncate]

Copy the last commit into a new database at <dest>: one file, no log, synced and
renamed into place whole, so <dest> is never a partial copy. Runs beside a writer
(another process), which goes on committing; the copy is the state when it started.
Refuses an existing <dest> (or <dest>-wal) with ERR_EXISTS. Shows a progress bar when
stderr is a terminal. Copying the .pkv file by hand is not a backup: see the README.

options:
${RECOVER}
`,
  salvage: `usage: pagekv salvage <damaged> <dest>

Copy every key and value that can still be read with verified checksums from the
damaged database <damaged> (and its log) into a new database at <dest>, reading leaves
even where the tree above them is damaged, and list what could not be read: each
damaged page (which file, why, the key range it held when known), each value lost in a
damaged overflow chain. <damaged> is only read. Exit 0 when nothing was damaged, 1
(ERR_VERIFY) when something was lost; <dest> holds what was saved either way.
`,
  demo: `usage: pagekv demo [--keys N] [--file PATH]

Load N keys (16-byte keys, 100-byte values, random order, 10000 per transaction) into
PATH, read them back uniformly and with a Zipf skew, run range scans of 100 keys, print
a table, then reopen and verify a sample of 1000 keys.

The demo's database holds a marker key (!pagekv-demo). A missing PATH is created; an
existing one is reused only if it is a demo database (its keys are deleted first, under
its writer lock); any other file is refused with ERR_EXISTS and left as it was.

options:
  --keys <n>           keys to load (default 200000)
  --file <path>        the database (default pagekv-demo.pkv in the working directory)
`,
};
