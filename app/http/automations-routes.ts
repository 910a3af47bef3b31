import { Hono } from "hono";
import { z } from "zod";
import {
  AutomationExistsError,
  createAutomation,
  deleteAutomation,
  InvalidScheduleError,
  listAutomations,
} from "../runs/automations.js";
import { ApiError } from "./api-error.js";
import { parseJsonBody, pathId } from "./validation.js";

const createAutomationBody = z.strictObject({
  // Starts with a letter or digit: "." and ".." would be normalised away in DELETE /v1/automations/{name},
  // so an automation named so could never be deleted again.
  name: z
    .string()
    .regex(
      /^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$/,
      'must be 1-100 characters of A-Z, a-z, 0-9, "_", "." or "-", starting with a letter or digit',
    ),
  cron: z.string().min(1).max(200),
  input: z.string().min(1, "must not be empty").max(32_768),
  timezone: z.string().min(1).max(100).optional(),
});

export function automationsRoutes(): Hono {
  const routes = new Hono();

  routes.post("/automations", async (c) => {
    const body = await parseJsonBody(c, createAutomationBody);
    try {
      return c.json(await createAutomation(body), 201);
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

  routes.get("/automations", async (c) => c.json({ automations: await listAutomations() }));

  routes.delete("/automations/:name", async (c) => {
    const name = pathId(c, "name");
    if (!(await deleteAutomation(name)))
      throw new ApiError(404, "automation_not_found", "no automation with this name");
    return c.body(null, 204);
  });

  return routes;
}
