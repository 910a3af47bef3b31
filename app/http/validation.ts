import type { Hook } from "@hono/zod-openapi";
import type { MiddlewareHandler } from "hono";
import type { z } from "zod";
import { ApiError } from "./api-error.js";

/**
 * Runs before a route's schema validation: a body that is not JSON at all gets its own answer
 * (415 for another media type, 400 for broken JSON), so the schema's errors are only about content.
 */
export const requireJsonBody: MiddlewareHandler = async (c, next) => {
  const contentType = c.req.header("content-type") ?? "";
  if (!/^application\/(.+\+)?json\b/i.test(contentType)) {
    throw new ApiError(
      415,
      "unsupported_media_type",
      "request body must be JSON (Content-Type: application/json)",
    );
  }
  try {
    // Hono caches the parsed body; the schema validator after this reads the same one.
    await c.req.json();
  } catch {
    throw new ApiError(400, "invalid_json", "request body is not valid JSON");
  }
  await next();
};

function describeIssues(error: z.ZodError, where: string): string {
  return error.issues
    .map((issue) => `${issue.path.length > 0 ? issue.path.join(".") : where}: ${issue.message}`)
    .join("; ");
}

/** Turns a failed schema validation of any part of a request into a 400 ApiError naming what was wrong. */
// biome-ignore lint/suspicious/noExplicitAny: the hook serves every route, whatever its input types
export const validationHook: Hook<any, any, any, any> = (result) => {
  if (result.success) return;
  const error = result.error as z.ZodError;
  switch (result.target) {
    case "param":
      // Each path parameter's message names the parameter itself.
      throw new ApiError(400, "invalid_path", error.issues.map((issue) => issue.message).join("; "));
    case "header":
    case "query":
      throw new ApiError(400, `invalid_${result.target}`, describeIssues(error, result.target));
    default:
      throw new ApiError(400, "invalid_request", describeIssues(error, "body"));
  }
};
