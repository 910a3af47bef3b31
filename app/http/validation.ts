import type { Context } from "hono";
import type { z } from "zod";
import { ApiError } from "./api-error.js";

/** Parses a JSON request body against a schema, turning every failure into a 4xx ApiError. */
export async function parseJsonBody<T>(c: Context, schema: z.ZodType<T>): Promise<T> {
  const contentType = c.req.header("content-type") ?? "";
  if (!/^application\/(.+\+)?json\b/i.test(contentType)) {
    throw new ApiError(
      415,
      "unsupported_media_type",
      "request body must be JSON (Content-Type: application/json)",
    );
  }
  let body: unknown;
  try {
    body = JSON.parse(await c.req.text());
  } catch {
    throw new ApiError(400, "invalid_json", "request body is not valid JSON");
  }
  const parsed = schema.safeParse(body);
  if (!parsed.success) {
    const message = parsed.error.issues
      .map((issue) => `${issue.path.length > 0 ? issue.path.join(".") : "body"}: ${issue.message}`)
      .join("; ");
    throw new ApiError(400, "invalid_request", message);
  }
  return parsed.data;
}

/** Validates a path parameter (IDs end up in NATS subjects and DBOS keys, so keep them plain). */
export function pathId(c: Context, name: string): string {
  const value = c.req.param(name) ?? "";
  if (!/^[A-Za-z0-9_.:-]{1,200}$/.test(value)) {
    throw new ApiError(
      400,
      "invalid_path",
      `${name} must be 1-200 characters of A-Z, a-z, 0-9, "_", ".", ":" or "-"`,
    );
  }
  return value;
}
