// The help texts: one summary for `pagekv --help` and one per command. The text is the
// documentation of the CLI's surface, so a flag added to a command is added here too.

export const SUMMARY = `usage: pagekv <command> <file> [args]

commands:
  put <file> <key> <value>   store a value (creates the file if missing)
  get <file> <key>           print a value (exit 1 if the key is missing)
  del <file> <key>           delete a key (exit 1 if the key is missing)
  scan <file> [options]      print key<TAB>value lines in key order
  load <file> <input>        load JSON lines or TSV (creates the file if missing)
  stats <file>               pool and tree figures, file and log size
  check <file>               verify the file's structure (exit 1 on any problem)
  dump <file> <page>         decode one page
  demo [--keys N]            load, read and scan a demo database (pagekv-demo.pkv)

Run 'pagekv <command> --help' for a command's options.
Keys and values are UTF-8 text; output shows bytes that are not printable UTF-8 as 0x-hex.
Exit status: 0 success, 1 missing key / failed check / runtime error, 2 bad usage.
`;

export const HELP: Record<string, string> = {
  put: `usage: pagekv put <file> <key> <value>

Store <value> under <key> in one durable transaction. Creates <file> if missing.
Use -- before a key that starts with '-'.
`,
  get: `usage: pagekv get <file> <key>

Print the value stored under <key> (0x-hex if not printable UTF-8).
Exit 1 with ERR_KEY_NOT_FOUND if there is none.
`,
  del: `usage: pagekv del <file> <key>

Delete <key>. Exit 1 with ERR_KEY_NOT_FOUND if it did not exist.
`,
  scan: `usage: pagekv scan <file> [options]

Print key<TAB>value lines in key order (0x-hex for bytes that are not printable UTF-8).
All given bounds and the prefix intersect.

options:
  --gt <key>      keys greater than <key>
  --gte <key>     keys greater than or equal to <key>
  --lt <key>      keys less than <key>
  --lte <key>     keys less than or equal to <key>
  --prefix <p>    keys starting with <p>
  --reverse       descending order
  --limit <n>     at most <n> entries (after --reverse: the highest keys)
  --json          JSON lines {"key": ..., "value": ...}; bytes that are not UTF-8
                  appear as {"hex": "..."}
`,
  load: `usage: pagekv load <file> <input> [--batch N]

Load entries from <input> ('-' for stdin): JSON lines {"key": ..., "value": ...} (a
string, or {"hex": "..."}) when the first non-space character is '{', else TSV lines
key<TAB>value (the value is everything after the first tab). Blank lines are skipped.
Creates <file> if missing. Shows a progress bar when stderr is a terminal.

options:
  --batch <n>     keys per transaction (default 10000)
`,
  stats: `usage: pagekv stats <file>

Print the file and log size, page counts, the tree's depth, node counts and fill, and
the buffer pool's figures (hit ratio, evictions) for one walk of the tree.
`,
  check: `usage: pagekv check <file>

Verify ordering, separators, the leaf chain and page accounting. Prints each problem
and exits 1 if there is any.
`,
  dump: `usage: pagekv dump <file> <page>

Decode page <page>: its kind, cell count, keys, children or right sibling and free
bytes. Page 1 is the header; 'stats' prints the tree's root page.
`,
  demo: `usage: pagekv demo [--keys N] [--file PATH]

Load N keys (default 200000; 16-byte keys, 100-byte values, random order, 10000 per
transaction) into PATH (default pagekv-demo.pkv in the working directory), read them
back uniformly and with a Zipf skew, run range scans of 100 keys, print a table, then
reopen and verify a sample of 1000 keys.

The demo's database holds a marker key (!pagekv-demo). A missing PATH is created; an
existing one is reused only if it is a demo database (its keys are deleted first, under
its writer lock); any other file is refused with ERR_EXISTS and left as it was.
`,
};
