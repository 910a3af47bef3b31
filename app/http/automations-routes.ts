import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import {
  AutomationExistsError,
  createAutomation,
  deleteAutomation,
  InvalidScheduleError,
  listAutomations,
} from "../runs/automations.js";
import { ApiError } from "./api-error.js";
import { Automation, AutomationList, CreateAutomationBody, errorResponses, idParam } from "./api-schemas.js";
import { requireJsonBody, validationHook } from "./validation.js";

const tags = ["automations"];

const createAutomationRoute = createRoute({
  operationId: "createAutomation",
  method: "post",
  path: "/automations",
  tags,
  summary: "Schedule runs with a cron expression",
  middleware: [requireJsonBody] as const,
  request: { body: { required: true, content: { "application/json": { schema: CreateAutomationBody } } } },
  responses: {
    201: { description: "Created", content: { "application/json": { schema: Automation } } },
    ...errorResponses({
      400: "Invalid body, cron expression or time zone",
      409: "An automation with this name exists",
      415: "The body is not JSON",
    }),
  },
});

const listAutomationsRoute = createRoute({
  operationId: "listAutomations",
  method: "get",
  path: "/automations",
  tags,
  summary: "Every automation",
  responses: {
    200: { description: "Automations", content: { "application/json": { schema: AutomationList } } },
    ...errorResponses({}),
  },
});

const deleteAutomationRoute = createRoute({
  operationId: "deleteAutomation",
  method: "delete",
  path: "/automations/{name}",
  tags,
  summary: "Delete an automation",
  request: { params: z.object({ name: idParam("name", "nightly-report") }) },
  responses: {
    204: { description: "Deleted" },
    ...errorResponses({ 400: "Invalid name", 404: "No automation with this name" }),
  },
});

export function automationsRoutes(): OpenAPIHono {
  const routes = new OpenAPIHono({ defaultHook: validationHook });

  routes.openapi(createAutomationRoute, async (c) => {
    try {
      return c.json(await createAutomation(c.req.valid("json")), 201);
    } catch (error) {
      if (error instanceof AutomationExistsError) throw new ApiError(409, "automation_exists", error.message);
      if (error instanceof InvalidScheduleError) throw new ApiError(400, "invalid_schedule", error.message);
      // DBOS validates the cron expression and time zone; its messages name the problem.
      const message = (error as Error).message ?? "";
      if (/cron|timezone|time zone|schedule/i.test(message))
        throw new ApiError(400, "invalid_schedule", message);
      throw error;
    }
  });

  routes.openapi(listAutomationsRoute, async (c) => c.json({ automations: await listAutomations() }, 200));

  routes.openapi(deleteAutomationRoute, async (c) => {
    if (!(await deleteAutomation(c.req.valid("param").name)))
      throw new ApiError(404, "automation_not_found", "no automation with this name");
    return c.body(null, 204);
  });

  return routes;
}
