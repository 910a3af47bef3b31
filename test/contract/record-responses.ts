import assert from "node:assert/strict";
import { describeHttpApi } from "../../app/http/create-http-app.js";
import { type RecordedResponse, ResponseContract } from "./response-contract.js";

/**
 * A mocha root-hook plugin (.mocharc.json `require`): every response the app suite receives from a mesh
 * API path through fetch is recorded, and after the whole suite each one is checked against the OpenAPI
 * document the routes generate. A renamed field, an undocumented status or error shape fails the suite,
 * naming the request.
 */
const recorded: RecordedResponse[] = [];
const pending: Array<Promise<void>> = [];
/** mesh's API paths. (Not /healthz: NATS's monitoring port answers it on 127.0.0.1 too.) */
const API_PATH = /^\/(v1\/|openapi\.json$)/;

const originalFetch = globalThis.fetch;
globalThis.fetch = async (input, init) => {
  const response = await originalFetch(input, init);
  const request = input instanceof Request ? input : undefined;
  const url = new URL(request?.url ?? String(input));
  if ((url.hostname === "127.0.0.1" || url.hostname === "localhost") && API_PATH.test(url.pathname)) {
    const contentType = response.headers.get("content-type") ?? undefined;
    const entry: RecordedResponse = {
      method: (init?.method ?? request?.method ?? "GET").toUpperCase(),
      path: url.pathname,
      status: response.status,
      contentType,
    };
    recorded.push(entry);
    // Streams are checked by status and content type only; reading a copy would hold the whole stream.
    if (contentType?.startsWith("application/json"))
      pending.push(
        response
          .clone()
          .text()
          .then((body) => {
            entry.body = body;
          })
          .catch(() => undefined),
      );
  }
  return response;
};

/** The recorded responses so far (the contract test reads them too). */
export function recordedResponses(): readonly RecordedResponse[] {
  return recorded;
}

export const mochaHooks = {
  async afterAll(this: Mocha.Context) {
    this.timeout(30_000);
    await Promise.all(pending);
    // Only a run of the whole app suite promises coverage; a single file may touch no API at all.
    if (recorded.length === 0) return;
    const contract = new ResponseContract((await describeHttpApi()) as never);
    const violations = [...new Set(recorded.map((response) => contract.violation(response)).filter(Boolean))];
    console.log(
      `  API contract: ${recorded.length} responses checked against the OpenAPI document, ${violations.length} violations`,
    );
    assert.deepEqual(violations, [], "every response the suite received keeps the OpenAPI contract");
  },
};
