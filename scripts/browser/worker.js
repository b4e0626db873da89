// bench:browser's worker: the shared workload on pagekv over OPFS.

import { closeBrowser, openBrowser } from "/dist/browser.js";
import { runWorkload, WORKLOAD } from "./workload.js";

const NAME = "bench.pkv";

self.addEventListener("message", async () => {
  try {
    const root = await navigator.storage.getDirectory();
    for (const n of [NAME, `${NAME}-wal`]) await root.removeEntry(n).catch(() => {});
    const db = await openBrowser(NAME, { cacheBytes: WORKLOAD.cacheBytes, sync: "full" });
    const result = runWorkload(db, () => performance.now());
    await closeBrowser(db);
    await root.removeEntry(NAME).catch(() => {});
    postMessage({ ok: true, result });
  } catch (e) {
    postMessage({ ok: false, error: `${e?.code ?? e?.name}: ${e?.message}` });
  }
});
