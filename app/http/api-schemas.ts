import { z } from "@hono/zod-openapi";

/**
 * The shapes of mesh's HTTP API, shared by the routes (which validate requests with them) and the
 * OpenAPI document (/openapi.json) generated from those routes: one source of truth.
 */

const ID_PATTERN = /^[A-Za-z0-9_.:-]{1,200}$/;

/** A path parameter that ends up in NATS subjects and DBOS keys, so kept plain. */
export function idParam(name: string, example: string) {
  return z
    .string()
    .regex(ID_PATTERN, `${name} must be 1-200 characters of A-Z, a-z, 0-9, "_", ".", ":" or "-"`)
    .openapi({ param: { name, in: "path" }, example });
}

export const ErrorBody = z
  .object({
    error: z.object({
      code: z.string().openapi({ description: "Stable, machine-readable reason", example: "run_not_found" }),
      message: z.string().openapi({ description: "What was wrong, for a human" }),
    }),
  })
  .openapi("Error");

const errorContent = { "application/json": { schema: ErrorBody } };

/** Error answers as the document declares them: status → description, each with the error body. */
export function errorAnswers(answers: Record<number, string>) {
  return Object.fromEntries(
    Object.entries(answers).map(([status, description]) => [status, { description, content: errorContent }]),
  );
}

/** The error answers every /v1 route can give (malformed request, no token, body too large), plus the route's own. */
export function errorResponses(own: Record<number, string>) {
  return errorAnswers({
    400: "Malformed request",
    401: "Missing or invalid bearer token (when the API requires one)",
    404: "No such route here (a worker answers 404 to every /v1 path)",
    413: "Request body larger than 256 KiB",
    500: "Internal error",
    ...own,
  });
}

const MAX_INPUT_CHARS = 32_768;

export const CreateRunBody = z
  .strictObject({
    input: z
      .string()
      .min(1, "must not be empty")
      .max(MAX_INPUT_CHARS, `must be at most ${MAX_INPUT_CHARS} characters`),
    idempotencyKey: z
      .string()
      .min(1)
      .max(200)
      .optional()
      .openapi({ description: "The same key on the same thread returns the same run" }),
  })
  .openapi("CreateRun");

const RunStatus = z.string().openapi({
  description: "DBOS's workflow status: ENQUEUED, PENDING, SUCCESS, ERROR, CANCELLED, ...",
  example: "ENQUEUED",
});

export const RunCreated = z
  .object({
    runId: z.string(),
    threadId: z.string(),
    status: RunStatus,
    links: z.object({ self: z.string(), stream: z.string() }),
  })
  .openapi("RunCreated");

export const Run = z
  .object({
    runId: z.string(),
    threadId: z.string(),
    status: RunStatus,
    output: z.string().optional(),
    error: z.string().optional(),
    executorId: z.string().optional(),
    createdAt: z.string().openapi({ format: "date-time" }),
    startedAt: z.string().optional().openapi({ format: "date-time" }),
    completedAt: z.string().optional().openapi({ format: "date-time" }),
  })
  .openapi("Run");

export const RunList = z.object({ runs: z.array(Run) }).openapi("RunList");

export const RunCancelled = z.object({ runId: z.string(), status: RunStatus }).openapi("RunCancelled");

export const StreamTicket = z
  .object({
    stream: z.string().openapi({
      description:
        "The run's stream URL with a ticket that authorizes reading this one run's stream until expiresAt (for clients that cannot send an Authorization header, such as a browser's EventSource)",
    }),
    expiresAt: z.string().openapi({ format: "date-time" }),
  })
  .openapi("StreamTicket");

export const CreateAutomationBody = z
  .strictObject({
    // Starts with a letter or digit: "." and ".." would be normalised away in DELETE /v1/automations/{name},
    // so an automation named so could never be deleted again.
    name: z
      .string()
      .regex(
        /^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$/,
        'must be 1-100 characters of A-Z, a-z, 0-9, "_", "." or "-", starting with a letter or digit',
      ),
    cron: z.string().min(1).max(200).openapi({ description: "5 fields, or 6 with seconds first" }),
    input: z.string().min(1, "must not be empty").max(MAX_INPUT_CHARS),
    timezone: z.string().min(1).max(100).optional().openapi({ example: "Europe/Paris" }),
  })
  .openapi("CreateAutomation");

export const Automation = z
  .object({
    name: z.string(),
    cron: z.string(),
    input: z.string(),
    timezone: z.string().optional(),
    status: z.string(),
    lastFiredAt: z.string().optional().openapi({ format: "date-time" }),
  })
  .openapi("Automation");

export const AutomationList = z.object({ automations: z.array(Automation) }).openapi("AutomationList");

const VersionQueueLoad = z.object({
  version: z.string(),
  enqueued: z.number().int(),
  pending: z.number().int(),
  listeners: z.number().int(),
  stranded: z
    .number()
    .int()
    .openapi({ description: "Waiting runs no live executor of their version can take" }),
});

export const QueueList = z
  .object({
    queues: z.array(
      z.object({
        name: z.string(),
        enqueued: z.number().int(),
        pending: z.number().int(),
        listeners: z.number().int(),
        listenerIds: z.array(z.string()),
        versions: z.array(VersionQueueLoad),
      }),
    ),
  })
  .openapi("QueueList");

export const ExecutorList = z
  .object({
    executors: z.array(
      z.object({
        executorId: z.string(),
        role: z.string().openapi({ example: "worker" }),
        version: z.string().openapi({ description: "The workflow version it runs" }),
        listenQueues: z.array(z.string()).nullable().openapi({ description: "null: every queue (role all)" }),
        lastSeen: z.string().openapi({ format: "date-time" }),
      }),
    ),
  })
  .openapi("ExecutorList");
