import { readFileSync } from "node:fs";
import { Hono } from "hono";

/** The console's files, beside this module (copied into dist/ by `npm run build`). */
const ASSETS: Record<string, { file: string; type: string }> = {
  "/console": { file: "index.html", type: "text/html; charset=utf-8" },
  "/console/console.js": { file: "console.js", type: "text/javascript; charset=utf-8" },
  "/console/console.css": { file: "console.css", type: "text/css; charset=utf-8" },
};

/** Scripts and styles from this origin only, no inline script, no framing, nothing sent elsewhere. */
const CONTENT_SECURITY_POLICY =
  "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/**
 * The run console (MESH_CONSOLE=true): one page to submit a run, watch it stream, and see queues, live
 * executors and recent runs. It is only a client of /v1: it holds no privilege of its own, and every
 * call it makes needs the API token like any other client's.
 */
export function consoleRoutes(): Hono {
  const routes = new Hono();
  const directory = new URL("./console/", import.meta.url);
  const bodies = Object.fromEntries(
    Object.entries(ASSETS).map(([path, asset]) => [
      path,
      readFileSync(new URL(asset.file, directory), "utf8"),
    ]),
  );
  for (const [path, asset] of Object.entries(ASSETS)) {
    routes.get(path, (c) =>
      c.body(bodies[path] ?? "", 200, {
        "content-type": asset.type,
        "content-security-policy": CONTENT_SECURITY_POLICY,
        "x-content-type-options": "nosniff",
        "referrer-policy": "no-referrer",
        "cache-control": "no-store",
      }),
    );
  }
  return routes;
}
