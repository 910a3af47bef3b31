import { pino } from "pino";

/** The process logger: JSON lines on stdout, one per event. */
export const log = pino({
  level: process.env.LOG_LEVEL?.trim() || "info",
  base: { service: "mesh" },
  redact: { paths: ["databaseUrl", "natsUrl", "apiToken", "*.authorization"], censor: "<redacted>" },
});
