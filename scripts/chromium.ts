// Debian's Chromium driven by playwright-core, for the browser tests and bench:browser.
// Never downloads a browser: it runs /usr/bin/chromium with the flags this machine needs
// as root without a network, in a fresh user-data dir that close() removes.

import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { type BrowserContext, chromium } from "playwright-core";

/** Debian's Chromium; PAGEKV_CHROMIUM names another binary (a missing one shows the skip). */
export const CHROMIUM_PATH = process.env.PAGEKV_CHROMIUM ?? "/usr/bin/chromium";

/** Flags for headless Chromium as root on a machine with no network but loopback. */
export const CHROMIUM_FLAGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

/** Why Chromium cannot run here, or null when it can. */
export function chromiumMissing(): string | null {
  if (!fs.existsSync(CHROMIUM_PATH)) {
    return `${CHROMIUM_PATH} is missing (apt-get install -y chromium: .ci/run installs it)`;
  }
  return null;
}

export interface Chromium {
  readonly context: BrowserContext;
  readonly userDataDir: string;
  close(): Promise<void>;
}

/** A persistent context (OPFS survives reloads) in a new, empty user-data dir. */
export async function launchChromium(): Promise<Chromium> {
  const userDataDir = fs.mkdtempSync(path.join(os.tmpdir(), "pagekv-chromium-"));
  let context: BrowserContext;
  try {
    context = await chromium.launchPersistentContext(userDataDir, {
      executablePath: CHROMIUM_PATH,
      headless: true,
      args: CHROMIUM_FLAGS,
      timeout: 60_000,
    });
  } catch (e) {
    fs.rmSync(userDataDir, { recursive: true, force: true });
    throw e;
  }
  return {
    context,
    userDataDir,
    close: async () => {
      await context.close();
      fs.rmSync(userDataDir, { recursive: true, force: true });
    },
  };
}
