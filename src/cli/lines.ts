// Lines of an input read in fixed chunks, in time and copies linear in the input: a line
// inside one chunk is decoded in place; a line that spans chunks is kept as a list of its
// pieces (each copied once out of the reused chunk buffer) and joined once at its end.
// It never re-scans or re-concatenates what it already holds. Never touches a database.

import { CliError } from "./io.js";

/** Bytes per read. */
export const CHUNK_BYTES = 1 << 16;
/** Longest input line (a 64 MiB value in hex JSON, with room to spare). */
export const LINE_BYTES_MAX = 160 * 2 ** 20;

const NEWLINE = 0x0a;
const BOM = [0xef, 0xbb, 0xbf];

/** Fills `buf` from the start; returns the bytes read, 0 at the end of the input. */
export type ReadChunk = (buf: Uint8Array) => number;

/** What splitting cost: copies made of input bytes (tests check it stays linear). */
export interface LineWork {
  copies: number;
  bytesCopied: number;
}

export interface LineOptions {
  chunkBytes?: number;
  lineBytesMax?: number;
  /** Counted into when given. */
  work?: LineWork;
}

/**
 * The lines of the input `read` delivers (without their "\n"; a final line without one
 * too), decoded as UTF-8 (invalid bytes become U+FFFD; a BOM at the very start is dropped),
 * each with the input bytes read so far. A line longer than lineBytesMax is ERR_ARG.
 * "\n" is one byte that never occurs inside a UTF-8 sequence, so splitting bytes is safe.
 */
export function* lines(read: ReadChunk, options: LineOptions = {}): Generator<[string, number]> {
  const chunkBytes = options.chunkBytes ?? CHUNK_BYTES;
  const lineBytesMax = options.lineBytesMax ?? LINE_BYTES_MAX;
  const work = options.work ?? { copies: 0, bytesCopied: 0 };
  const decoder = new TextDecoder("utf-8", { ignoreBOM: true });
  const buf = new Uint8Array(chunkBytes);
  // The current line's pieces from earlier chunks (copies), and their total length.
  let pieces: Uint8Array[] = [];
  let pieceBytes = 0;
  let bytesRead = 0;
  let first = true;

  const copy = (from: Uint8Array): Uint8Array => {
    work.copies++;
    work.bytesCopied += from.length;
    return from.slice();
  };
  const tooLong = (n: number) => {
    if (n > lineBytesMax) {
      throw new CliError("ERR_ARG", `line longer than ${lineBytesMax} bytes`);
    }
  };
  /** The line whose last piece is `tail` (a view of buf), decoded. */
  const finish = (tail: Uint8Array): string => {
    tooLong(pieceBytes + tail.length);
    let bytes = tail;
    if (pieces.length > 0) {
      bytes = new Uint8Array(pieceBytes + tail.length);
      let at = 0;
      for (const p of pieces) {
        bytes.set(p, at);
        at += p.length;
      }
      bytes.set(tail, at);
      work.copies++;
      work.bytesCopied += bytes.length;
      pieces = [];
      pieceBytes = 0;
    }
    if (first) {
      first = false;
      if (bytes.length >= 3 && bytes[0] === BOM[0] && bytes[1] === BOM[1] && bytes[2] === BOM[2]) {
        bytes = bytes.subarray(3);
      }
    }
    return decoder.decode(bytes);
  };

  for (;;) {
    const n = read(buf);
    if (n === 0) break;
    bytesRead += n;
    const chunk = buf.subarray(0, n);
    let start = 0;
    let nl = chunk.indexOf(NEWLINE, start);
    while (nl !== -1) {
      yield [finish(chunk.subarray(start, nl)), bytesRead];
      start = nl + 1;
      nl = chunk.indexOf(NEWLINE, start);
    }
    if (start < n) {
      tooLong(pieceBytes + (n - start));
      pieces.push(copy(chunk.subarray(start)));
      pieceBytes += n - start;
    }
  }
  if (pieceBytes > 0) yield [finish(new Uint8Array(0)), bytesRead];
}
