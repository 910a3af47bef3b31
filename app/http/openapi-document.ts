import type { OpenAPIHono } from "@hono/zod-openapi";
/**
 * The OpenAPI 3.1 document of the routes registered on `app` (their zod schemas are the ones that
 * validate requests). The bearer scheme applies to every /v1 operation when the API requires a token.
 */
export function openApiDocument(app: OpenAPIHono, requiresToken: boolean) {
  app.openAPIRegistry.registerComponent("securitySchemes", "bearer", {
    type: "http",
    scheme: "bearer",
    description: "MESH_API_TOKEN (stack secret apiToken)",
  });
  return app.getOpenAPI31Document({
    openapi: "3.1.0",
    info: {
      title: "mesh",
      // The version of this contract (the /v1 API), not of the workflow code.
      version: "1.0.0",
      description:
        "Durable agent runs: start a run on a thread, read its status, stream its output as Server-Sent Events.",
    },
    servers: [{ url: "/" }],
    security: requiresToken ? [{ bearer: [] }] : [],
    tags: [
      { name: "runs", description: "Agent runs and their streams" },
      { name: "automations", description: "Runs fired on a schedule" },
      { name: "operations", description: "Queues and executors, for operators" },
    ],
  });
}
