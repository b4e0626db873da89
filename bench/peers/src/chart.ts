// A hand-written SVG bar chart of pagekv's ratio to each peer per workload (no chart
// library): horizontal bars on a log2 axis from the 1x line, right of it where pagekv is
// faster, left (and labelled in red) where it loses.

import { fmt } from "./env.js";
import { LOSS_BELOW, ratioTo, type WorkloadResult } from "./report.js";

const COLORS = ["#4c78a8", "#f58518", "#54a24b", "#b279a2"];
const LOG2_MAX = 4; // the axis spans 1/16x .. 16x; longer bars are clipped and say so
const LABEL_W = 230;
const PLOT_W = 520;
const RIGHT_W = 110;
const BAR_H = 13;
const GROUP_GAP = 14;
const TOP = 58;

const esc = (s: string): string =>
  s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");

/** The x coordinate of a ratio on the log2 axis. */
function xOf(ratio: number): number {
  const l = Math.max(-LOG2_MAX, Math.min(LOG2_MAX, Math.log2(ratio)));
  return LABEL_W + ((l + LOG2_MAX) / (2 * LOG2_MAX)) * PLOT_W;
}

export function ratioChart(
  title: string,
  results: readonly WorkloadResult[],
  peers: readonly string[],
): string {
  const groupH = peers.length * BAR_H + GROUP_GAP;
  const height = TOP + results.length * groupH + 40;
  const width = LABEL_W + PLOT_W + RIGHT_W;
  const s: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" ` +
      `viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="12" role="img">`,
    `<title>${esc(title)}</title>`,
    `<rect width="${width}" height="${height}" fill="white"/>`,
    `<text x="10" y="18" font-size="14" font-weight="bold">${esc(title)}</text>`,
  ];
  // Legend.
  peers.forEach((p, i) => {
    const x = 10 + i * 170;
    s.push(`<rect x="${x}" y="28" width="12" height="12" fill="${COLORS[i % COLORS.length]}"/>`);
    s.push(`<text x="${x + 16}" y="38">pagekv / ${esc(p)}</text>`);
  });
  // Grid: one line per power of two, the 1x line bold.
  const bottom = TOP + results.length * groupH;
  for (let l = -LOG2_MAX; l <= LOG2_MAX; l++) {
    const x = xOf(2 ** l);
    const label = l >= 0 ? `${2 ** l}x` : `1/${2 ** -l}x`;
    s.push(
      `<line x1="${x}" y1="${TOP - 6}" x2="${x}" y2="${bottom}" stroke="${l === 0 ? "#000" : "#ddd"}"` +
        `${l === 0 ? ' stroke-width="1.5"' : ""}/>`,
    );
    s.push(`<text x="${x}" y="${bottom + 14}" text-anchor="middle" fill="#555">${label}</text>`);
  }
  s.push(
    `<text x="${xOf(1)}" y="${bottom + 30}" text-anchor="middle" fill="#555">` +
      "log scale; right of 1x: pagekv faster; red label: pagekv loses</text>",
  );
  results.forEach((r, g) => {
    const y0 = TOP + g * groupH;
    s.push(
      `<text x="${LABEL_W - 8}" y="${y0 + (peers.length * BAR_H) / 2 + 4}" text-anchor="end">` +
        `${esc(r.label)}</text>`,
    );
    peers.forEach((p, i) => {
      const ratio = ratioTo(r, p);
      const y = y0 + i * BAR_H;
      if (ratio === undefined) return;
      const x1 = xOf(1);
      const x2 = xOf(ratio);
      const loses = ratio < LOSS_BELOW;
      s.push(
        `<rect x="${Math.min(x1, x2)}" y="${y + 1}" width="${Math.max(1, Math.abs(x2 - x1))}" ` +
          `height="${BAR_H - 2}" fill="${COLORS[i % COLORS.length]}"/>`,
      );
      const clipped = Math.abs(Math.log2(ratio)) > LOG2_MAX ? " (clipped)" : "";
      const tx = loses ? x1 + 4 : x2 + 4;
      s.push(
        `<text x="${tx}" y="${y + BAR_H - 2}" font-size="10"${loses ? ' fill="#c00" font-weight="bold"' : ""}>` +
          `${fmt(ratio, 2)}x${loses ? " loses" : ""}${clipped}</text>`,
      );
    });
  });
  s.push("</svg>", "");
  return s.join("\n");
}
