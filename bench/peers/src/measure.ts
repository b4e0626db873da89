// Timing: stores take turns round by round (rotated order, as bench/harness.ts does), so
// clock and thermal drift and background work hit every store alike; the bulk load,
// which cannot be repeated, is timed once per store. Nothing here asserts a timing.

import * as fs from "node:fs";
import * as zlib from "node:zlib";
import { collectGarbage } from "./env.js";
import { RECORD_BYTES, recordKey, recordValue } from "./records.js";
import type { Store } from "./stores/store.js";

/** One contender of a workload: a store, or the raw floor. */
export interface Side {
  readonly name: string;
  run(round: number): Promise<number>;
}

let sinkValue = 0;

/** Folded results of every timed run (so no work can be optimised away). */
export function sink(): number {
  return sinkValue;
}

async function timed(side: Side, round: number, ops: number): Promise<number> {
  collectGarbage();
  const t0 = process.hrtime.bigint();
  const r = await side.run(round);
  const ns = Number(process.hrtime.bigint() - t0);
  sinkValue = (sinkValue ^ (r | 0)) >>> 0;
  return (ops * 1e9) / ns;
}

/**
 * `rounds` rounds that each run every side once; the order rotates from round to round
 * and turns around after every `sides.length` rounds. Returns ops/s as result[side][round].
 */
export async function rotatedRounds(
  sides: readonly Side[],
  rounds: number,
  opsPerRound: number,
): Promise<number[][]> {
  const k = sides.length;
  const out: number[][] = sides.map(() => []);
  for (let r = 0; r < rounds; r++) {
    const step = Math.floor(r / k) % 2 === 0 ? 1 : k - 1;
    for (let j = 0; j < k; j++) {
      const i = (r + j * step) % k;
      out[i][r] = await timed(sides[i], r, opsPerRound);
    }
  }
  return out;
}

/** The durable floor: per commit, append one record's bytes (key + value), then fdatasync. */
export function rawAppendSide(file: string, opsPerRound: number): Side & { close(): void } {
  const fd = fs.openSync(file, "w");
  const record = Buffer.concat([recordKey(0), recordValue(0, 0)]);
  let offset = 0;
  return {
    name: `raw append ${RECORD_BYTES} B + fdatasync`,
    run: async () => {
      for (let c = 0; c < opsPerRound; c++) {
        offset += fs.writeSync(fd, record, 0, record.length, offset);
        fs.fdatasyncSync(fd);
      }
      return offset;
    },
    close: () => fs.closeSync(fd),
  };
}

/** Frames the overwrite floor cycles through (its file is made and synced before timing). */
const OVERWRITE_SLOTS = 64;

/**
 * The durable floor of a log that reuses its space (as pagekv's does once a checkpoint
 * resets it): per commit, overwrite one frame of `frameBytes` (a page and its frame
 * header) in a file that already holds it, then fdatasync. No size change to sync.
 */
export function rawOverwriteSide(
  file: string,
  frameBytes: number,
  opsPerRound: number,
): Side & { close(): void } {
  const fd = fs.openSync(file, "w+");
  const frame = Buffer.alloc(frameBytes, 0x5a);
  for (let i = 0; i < OVERWRITE_SLOTS; i++) fs.writeSync(fd, frame, 0, frameBytes, i * frameBytes);
  fs.fsyncSync(fd);
  let slot = 0;
  return {
    name: `raw overwrite of a ${frameBytes} B frame + fdatasync`,
    run: async () => {
      let n = 0;
      for (let c = 0; c < opsPerRound; c++) {
        frame[c & 1023] ^= 1; // new bytes each time
        n += fs.writeSync(fd, frame, 0, frameBytes, slot * frameBytes);
        fs.fdatasyncSync(fd);
        slot = slot + 1 === OVERWRITE_SLOTS ? 0 : slot + 1;
      }
      return n;
    },
    close: () => fs.closeSync(fd),
  };
}

/**
 * The floor of a read that misses the cache, beside the small-cache reads: a pread of one
 * random page of pagekv's own file (in the OS page cache, as every store's file is) and a
 * CRC-32 of it, which is what pagekv does for each page it reads in. Per op: one page.
 */
export function rawPageReadSide(
  file: string,
  pageBytes: number,
  opsPerRound: number,
): Side & { close(): void } {
  const fd = fs.openSync(file, "r");
  const pages = Math.floor(fs.fstatSync(fd).size / pageBytes);
  const page = Buffer.alloc(pageBytes);
  let x = 0x9e3779b9;
  return {
    name: `raw pread of a random ${pageBytes} B page + CRC-32`,
    run: async () => {
      let n = 0;
      for (let c = 0; c < opsPerRound; c++) {
        x ^= x << 13;
        x ^= x >>> 17;
        x ^= x << 5;
        fs.readSync(fd, page, 0, pageBytes, ((x >>> 0) % pages) * pageBytes);
        n += zlib.crc32(page) & 1;
      }
      return n;
    },
    close: () => fs.closeSync(fd),
  };
}

/**
 * Loads records 0..records-1 (hashed keys: a random key order) into the open `store` in
 * transactions of `perTxn`, then closes it; returns records/s, the close included (it
 * finishes deferred work: checkpoints, compactions). Generating records is not timed.
 */
export async function bulkLoad(store: Store, records: number, perTxn: number): Promise<number> {
  collectGarbage();
  let ns = 0;
  for (let s = 0; s < records; s += perTxn) {
    const end = Math.min(records, s + perTxn);
    const entries: [Buffer, Buffer][] = [];
    for (let n = s; n < end; n++) entries.push([recordKey(n), recordValue(n, 0)]);
    const t0 = process.hrtime.bigint();
    const r = store.batch(entries);
    if (r !== undefined) await r;
    ns += Number(process.hrtime.bigint() - t0);
  }
  const t0 = process.hrtime.bigint();
  await store.close();
  ns += Number(process.hrtime.bigint() - t0);
  return (records * 1e9) / ns;
}
