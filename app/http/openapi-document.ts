import type { OpenAPIHono } from "@hono/zod-openapi";
/**
 * The OpenAPI 3.1 document of the routes registered on `app` (their zod schemas are the ones that
 * validate requests). The same for every process and configuration, so docs/openapi.json is this text.
 */
export function openApiDocument(app: OpenAPIHono) {
  app.openAPIRegistry.registerComponent("securitySchemes", "bearer", {
    type: "http",
    scheme: "bearer",
    description:
      "MESH_API_TOKEN (in Kubernetes, the stack secret apiToken). Required on every /v1 operation when the token is set; a stream also opens with a stream ticket instead.",
  });
  return app.getOpenAPI31Document({
    openapi: "3.1.0",
    info: {
      title: "mesh",
      // The version of this contract (the /v1 API), not of the workflow code.
      version: "1.0.0",
      // Internal software: no open-source licence is granted. (`identifier` is OpenAPI 3.1's; the
      // generator's types stop at 3.0.)
      license: { name: "Proprietary", identifier: "LicenseRef-Proprietary" } as { name: string },
      description:
        "Durable agent runs: start a run on a thread, read its status, stream its output as Server-Sent Events.",
    },
    servers: [{ url: "/" }],
    security: [{ bearer: [] }],
    tags: [
      { name: "runs", description: "Agent runs and their streams" },
      { name: "automations", description: "Runs fired on a schedule" },
      { name: "operations", description: "Queues and executors, for operators" },
      { name: "health", description: "Probes and metrics, served by every role" },
    ],
  });
}
