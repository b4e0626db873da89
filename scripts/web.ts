// npm run web: serve the demo page (web/) and the built package on http://localhost:8080
// (or PORT); the page runs pagekv in a dedicated worker over OPFS.

import * as path from "node:path";
import { fileURLToPath } from "node:url";
import { serveStatic } from "./serve.js";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..");
const port = Number(process.env.PORT ?? 8080);
const server = await serveStatic(root, port);
console.log(`pagekv demo: ${server.origin}/web/  (Ctrl-C to stop)`);
process.on("SIGINT", () => {
  void server.close().then(() => process.exit(0));
});
