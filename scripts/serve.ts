// The static server behind `npm run web`, the browser tests and bench:browser: serves the
// demo page (web/), the built package (dist/) and the browser fixtures of the tests and the
// benchmark, from the repository, on loopback only. Read-only; never lists a directory.

import * as fs from "node:fs";
import * as http from "node:http";
import type { AddressInfo } from "node:net";
import * as path from "node:path";

/** Only these top folders of the repository are served. */
const SERVED_PREFIXES = [
  "/web/",
  "/dist/",
  "/src/",
  "/test/browser/fixtures/",
  "/scripts/browser/",
];

const TYPES: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".map": "application/json; charset=utf-8",
  ".json": "application/json; charset=utf-8",
  ".ts": "text/plain; charset=utf-8",
  ".png": "image/png",
  ".svg": "image/svg+xml",
};

export interface StaticServer {
  /** http://localhost:<port> (localhost is a secure context: OPFS needs one). */
  readonly origin: string;
  close(): Promise<void>;
}

/** Serve `root` (the repository) on 127.0.0.1:`port` (0: any free port). */
export function serveStatic(root: string, port = 0): Promise<StaticServer> {
  const base = path.resolve(root);
  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? "/", "http://localhost");
    let pathname = decodeURIComponent(url.pathname);
    if (pathname === "/" || pathname === "/web") {
      res.writeHead(302, { location: "/web/" });
      res.end();
      return;
    }
    if (pathname.endsWith("/")) pathname += "index.html";
    const file = path.resolve(base, `.${pathname}`);
    const allowed =
      req.method === "GET" &&
      file.startsWith(base + path.sep) &&
      SERVED_PREFIXES.some((p) => pathname.startsWith(p));
    if (!allowed) {
      res.writeHead(404, { "content-type": "text/plain" });
      res.end("not found\n");
      return;
    }
    fs.readFile(file, (err, data) => {
      if (err !== null) {
        res.writeHead(404, { "content-type": "text/plain" });
        res.end("not found\n");
        return;
      }
      res.writeHead(200, {
        "content-type": TYPES[path.extname(file)] ?? "application/octet-stream",
        "cache-control": "no-store",
      });
      res.end(data);
    });
  });
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, "127.0.0.1", () => {
      const { port: bound } = server.address() as AddressInfo;
      resolve({
        origin: `http://localhost:${bound}`,
        close: () =>
          new Promise<void>((done) => {
            server.closeAllConnections();
            server.close(() => done());
          }),
      });
    });
  });
}
