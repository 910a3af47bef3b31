import assert from "node:assert/strict";
import { type Browser, chromium, type Page } from "playwright-core";
import { ApiClient } from "./support/api-client.js";
import { CuttingProxy } from "./support/cutting-proxy.js";
import { type MeshProcess, startMesh, stopAll } from "./support/mesh-process.js";
import { expectedOutput } from "./support/run-checks.js";
import { createTestDatabase, dropTestDatabase, NATS_URL } from "./support/services.js";

// Fixture: split topology (1 api + 1 worker) with an API token and the console on; a 40-token run that
// streams for ≈ 3 s; Debian's Chromium (scripts/ensure-browser.sh) driven by playwright-core, loading the
// console through a TCP proxy that cuts its connections mid-stream.
const TOKEN = "test-token-console";
const TOKENS = 40;
const env = {
  MESH_API_TOKEN: TOKEN,
  MESH_CONSOLE: "true",
  MESH_BUILTIN_TOKENS: String(TOKENS),
  MESH_BUILTIN_TOKEN_DELAY_MS: "80",
  MESH_CHECKPOINT_EVERY: "8",
  MESH_SSE_RETRY_MS: "300",
};
/** What the page functions below use of the browser's globals (this file is typed for Node). */
interface PageGlobals {
  document: { getElementById(id: string): { textContent: string | null } | null };
}

const CHROMIUM = process.env.MESH_CHROMIUM ?? "/usr/bin/chromium";

describe("the run console, in a real browser", () => {
  let databaseUrl: string;
  let api: MeshProcess;
  let worker: MeshProcess;
  let proxy: CuttingProxy;
  let browser: Browser;
  let page: Page;
  const requestUrls: string[] = [];
  const streamRequests: Array<{ url: string; lastEventId?: string }> = [];

  before(async () => {
    databaseUrl = await createTestDatabase("console");
    api = await startMesh({ role: "api", databaseUrl, natsUrl: NATS_URL, env });
    worker = await startMesh({ role: "worker", databaseUrl, natsUrl: NATS_URL, env });
    const { hostname, port } = new URL(api.url);
    proxy = await CuttingProxy.start({ host: hostname, port: Number(port) });
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      // As root Chromium needs --no-sandbox; the rest keep it from calling out of this closed machine.
      args: [
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
      ],
    });
    page = await browser.newPage();
    page.on("request", async (request) => {
      requestUrls.push(request.url());
      if (/\/v1\/runs\/[^/]+\/stream(\?|$)/.test(request.url())) {
        const entry: { url: string; lastEventId?: string } = { url: request.url() };
        streamRequests.push(entry);
        // Headers the network stack adds (Last-Event-ID on an EventSource's reconnect) are in allHeaders.
        entry.lastEventId = ((await request.allHeaders().catch(() => ({}))) as Record<string, string>)[
          "last-event-id"
        ];
      }
    });
  });

  after(async () => {
    await browser?.close();
    await proxy?.stop();
    await stopAll([api, worker]);
    await dropTestDatabase(databaseUrl);
  });

  it("refuses to work without the API token", async () => {
    await page.goto(`${proxy.url}/console`);
    await page.getByTestId("token-form").waitFor({ state: "visible" });
    assert.equal(await page.locator("#console").isVisible(), false, "nothing is shown before a token");
    await page.fill("#token", "not-the-token");
    await page.click("#token-form button[type=submit]");
    await page.getByTestId("token-error").filter({ hasText: "refused" }).waitFor();
    assert.equal(await page.locator("#console").isVisible(), false, "a wrong token shows nothing either");
  });

  it("submits a run and streams it through cut connections to the stored output", async function () {
    this.timeout(120_000);
    await page.fill("#token", TOKEN);
    await page.click("#token-form button[type=submit]");
    await page.locator("#console").waitFor({ state: "visible" });

    const input = "a run from the console";
    const started = performance.now();
    await page.fill("#input", input);
    await page.click("#run-form button[type=submit]");
    const chunks = async () => Number(await page.getByTestId("stream-chunks").textContent());
    // Runs in the page (the console's CSP forbids evaluating strings there).
    const chunksAtLeast = (count: number) =>
      page.waitForFunction(
        (least) =>
          Number(
            (globalThis as unknown as PageGlobals).document.getElementById("stream-chunks")?.textContent,
          ) >= least,
        count,
      );
    await chunksAtLeast(1);
    const firstChunkMs = performance.now() - started;
    await chunksAtLeast(10);
    assert.ok(proxy.cutAll() >= 1, "the browser's connections were cut");
    const cutAt = performance.now();
    const atCut = await chunks();
    await chunksAtLeast(atCut + 1);
    const resumedMs = performance.now() - cutAt;
    await chunksAtLeast(25);
    proxy.cutAll();
    await page
      .getByTestId("stream-status")
      .filter({ hasText: /^SUCCESS$/ })
      .waitFor({ timeout: 60_000 });
    const totalMs = performance.now() - started;

    const runId = (await page.getByTestId("stream-run").textContent()) ?? "";
    const run = await new ApiClient(api.url, TOKEN).getRun(runId);
    assert.equal(run.status, "SUCCESS");
    assert.equal(run.output, expectedOutput(input, TOKENS));
    assert.equal(
      await page.getByTestId("stream-output").textContent(),
      run.output,
      "the page shows the stored output",
    );
    assert.equal(await chunks(), TOKENS);
    assert.ok(
      streamRequests.some((request) => request.lastEventId !== undefined),
      `the browser's EventSource resumed with Last-Event-ID: ${JSON.stringify(streamRequests)}`,
    );
    assert.ok(
      requestUrls.every((url) => !url.includes(TOKEN)),
      "the API token never appears in a URL (streams open with a ticket)",
    );
    assert.ok(streamRequests.every((request) => request.url.includes("ticket=")));
    console.log(
      `      browser: first chunk ${firstChunkMs.toFixed(0)} ms after submit, stream resumed ${resumedMs.toFixed(0)} ms after the cut, SUCCESS ${totalMs.toFixed(0)} ms after submit; ${streamRequests.length} stream requests`,
    );
  });

  it("shows queues, the live executors with their role and workflow version, and recent runs", async () => {
    const executors = page.getByTestId("executors");
    await executors.filter({ hasText: worker.executorId }).waitFor();
    const rows = await executors.locator("tbody tr").allTextContents();
    const workerRow = rows.find((row) => row.includes(worker.executorId)) ?? "";
    const apiRow = rows.find((row) => row.includes(api.executorId)) ?? "";
    assert.match(workerRow, /worker/);
    assert.match(workerRow, /mesh-wf-1/);
    assert.match(apiRow, /api/);
    assert.match((await page.getByTestId("queues").textContent()) ?? "", /thread-gate/);
    // The table refreshes every 2 s; the run is SUCCESS by now.
    await page.getByTestId("recent-runs").filter({ hasText: "SUCCESS" }).waitFor();
  });
});
