// A progress bar on stderr, drawn only when stderr is a terminal: output meant for pipes
// and files never contains carriage returns. Redraws at most every 100 ms.

import type { Io } from "./io.js";

const WIDTH = 30;
const REDRAW_MS = 100;

export class Progress {
  private readonly io: Io;
  private readonly label: string;
  private readonly total: number;
  private lastDrawMs = 0;
  private drawn = false;

  /** `total` 0 means unknown: the bar shows a count instead of a share. */
  constructor(io: Io, label: string, total: number) {
    this.io = io;
    this.label = label;
    this.total = total;
  }

  update(done: number, force = false): void {
    if (!this.io.isTTY) return;
    const now = performance.now();
    if (!force && now - this.lastDrawMs < REDRAW_MS) return;
    this.lastDrawMs = now;
    this.drawn = true;
    if (this.total > 0) {
      const share = Math.min(1, done / this.total);
      const full = Math.round(share * WIDTH);
      const bar = "#".repeat(full) + "-".repeat(WIDTH - full);
      this.io.err(`\r${this.label} [${bar}] ${(share * 100).toFixed(0).padStart(3)}%`);
    } else {
      this.io.err(`\r${this.label} ${done.toLocaleString("en-US")}`);
    }
  }

  /** Erase the bar, leaving the line clean for what follows. */
  done(): void {
    if (this.drawn) this.io.err(`\r${" ".repeat(this.label.length + WIDTH + 8)}\r`);
    this.drawn = false;
  }
}
