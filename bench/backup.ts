// bench:backup: db.backup() throughput next to a raw copy of the same bytes (fs.copyFileSync
// and a read/write loop with the backup's chunk size, each followed by an fsync), and the
// rate of a writer's commits (putAsync, same thread) during backupAsync() against without
// one, in one run, with the ratios. docs/design/backup.md.

import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { BACKUP_CHUNK_BYTES, type Database, open } from "../src/index.js";
import { fmt, keyOf, printTable, valueOfKey } from "./harness.js";

const KEYS = Number(process.env.PAGEKV_BENCH_KEYS ?? 300_000);
const WRITER_MS = 1500;

function ms(): number {
  return performance.now();
}

function rawCopy(src: string, dest: string): void {
  fs.copyFileSync(src, dest);
  const fd = fs.openSync(dest, "r+");
  fs.fsyncSync(fd);
  fs.closeSync(fd);
}

function loopCopy(src: string, dest: string): void {
  const buf = Buffer.alloc(BACKUP_CHUNK_BYTES);
  const a = fs.openSync(src, "r");
  const b = fs.openSync(dest, "w");
  for (let at = 0; ; ) {
    const n = fs.readSync(a, buf, 0, buf.length, at);
    if (n === 0) break;
    fs.writeSync(b, buf, 0, n, at);
    at += n;
  }
  fs.fsyncSync(b);
  fs.closeSync(a);
  fs.closeSync(b);
}

async function commitsFor(db: Database, msMax: number, stop: () => boolean): Promise<number> {
  const t0 = ms();
  let n = 0;
  while (ms() - t0 < msMax && !stop()) {
    await db.putAsync(keyOf(n % KEYS), valueOfKey(n, 2));
    n++;
  }
  return n / ((ms() - t0) / 1000);
}

async function main(): Promise<void> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "pagekv-bench-backup-"));
  try {
    const file = path.join(dir, "src.pkv");
    const db = open(file);
    for (let i = 0; i < KEYS; i += 10_000) {
      db.batch(
        Array.from({ length: Math.min(10_000, KEYS - i) }, (_, j) => ({
          type: "put" as const,
          key: keyOf(i + j),
          value: valueOfKey(i + j, 1),
        })),
      );
    }
    db.checkpoint();
    const bytes = fs.statSync(file).size;
    const mb = bytes / 2 ** 20;
    const rows: string[][] = [];
    const t0 = ms();
    db.backup(path.join(dir, "b1.pkv"));
    const backupS = (ms() - t0) / 1000;
    const t1 = ms();
    rawCopy(file, path.join(dir, "c1.pkv"));
    const copyS = (ms() - t1) / 1000;
    const t2 = ms();
    loopCopy(file, path.join(dir, "c2.pkv"));
    const loopS = (ms() - t2) / 1000;
    rows.push(["db.backup()", fmt(mb / backupS), "1.00"]);
    rows.push(["fs.copyFileSync + fsync", fmt(mb / copyS), fmt(backupS / copyS, 2)]);
    rows.push(["read/write loop (1 MiB) + fsync", fmt(mb / loopS), fmt(backupS / loopS, 2)]);
    console.log(`bench:backup: ${KEYS} keys, ${fmt(mb)} MiB file, ${os.cpus().length} CPUs`);
    printTable(["copy", "MB/s", "raw MB/s ÷ backup MB/s (time ratio)"], rows);

    // The writer's commit rate (putAsync, same thread), alone and beside backupAsync().
    const alone = await commitsFor(db, WRITER_MS, () => false);
    let done = false;
    let backups = 0;
    const loop = (async () => {
      while (!done) {
        const dest = path.join(dir, `b-async-${backups}.pkv`);
        await db.backupAsync(dest);
        fs.rmSync(dest);
        backups++;
      }
    })();
    const rate = await commitsFor(db, WRITER_MS, () => false);
    done = true;
    await loop;
    printTable(
      ["writer (putAsync, sync full)", "commits/s", "÷ alone"],
      [
        ["alone", fmt(alone), "1.00"],
        [`beside backupAsync (${backups} backups in the window)`, fmt(rate), fmt(rate / alone, 2)],
      ],
    );
    db.close();
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

await main();
