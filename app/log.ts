import { pino } from "pino";

export const LOG_LEVELS = ["trace", "debug", "info", "warn", "error", "fatal"] as const;
const requested = process.env.LOG_LEVEL?.trim() ?? "";

/**
 * The process logger: JSON lines on stdout, one per event. It exists before the configuration is
 * validated, so an invalid LOG_LEVEL falls back to info here and is reported by loadConfig, with the
 * other configuration errors, instead of crashing inside pino.
 */
export const log = pino({
  level: (LOG_LEVELS as readonly string[]).includes(requested) ? requested : "info",
  base: { service: "mesh" },
  redact: { paths: ["databaseUrl", "natsUrl", "apiToken", "*.authorization"], censor: "<redacted>" },
});
