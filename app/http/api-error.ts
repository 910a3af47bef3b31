import type { Context } from "hono";
import type { ContentfulStatusCode } from "hono/utils/http-status";

/** A client-facing error: rendered as `{ "error": { "code", "message" } }` with its HTTP status. */
export class ApiError extends Error {
  constructor(
    readonly status: ContentfulStatusCode,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

export function errorResponse(
  c: Context,
  status: ContentfulStatusCode,
  code: string,
  message: string,
): Response {
  return c.json({ error: { code, message } }, status);
}
