import { DBOS, type WorkflowSchedule } from "@dbos-inc/dbos-sdk";
import { AUTOMATIONS_QUEUE } from "../queue-names.js";
import { type AutomationContext, automationRun } from "../workflows/automation-run.js";

export class AutomationExistsError extends Error {
  override name = "AutomationExistsError";
}

export class InvalidScheduleError extends Error {
  override name = "InvalidScheduleError";
}

/** The messages of DBOS's cron parser (scheduler/crontab.js), which it does not export as error types. */
const CRON_PARSE_ERROR =
  /invalid expression|impossible day of month|expected 5 or 6 fields|illegal characters/i;

function assertValidTimezone(timezone: string | undefined): void {
  if (timezone === undefined) return;
  try {
    Intl.DateTimeFormat(undefined, { timeZone: timezone });
  } catch {
    throw new InvalidScheduleError(`timezone ${JSON.stringify(timezone)} is not an IANA time zone`);
  }
}

export interface Automation {
  name: string;
  cron: string;
  input: string;
  timezone?: string;
  status: string;
  lastFiredAt?: string;
}

export interface CreateAutomationRequest {
  name: string;
  cron: string;
  input: string;
  timezone?: string;
}

function toAutomation(schedule: WorkflowSchedule): Automation {
  const context = schedule.context as AutomationContext | undefined;
  return {
    name: schedule.scheduleName,
    cron: schedule.schedule,
    input: context?.input ?? "",
    timezone: schedule.cronTimezone ?? undefined,
    status: schedule.status,
    lastFiredAt: schedule.lastFiredAt ?? undefined,
  };
}

/**
 * Creates a DBOS schedule for an automation. Every schedule names the automations queue: a schedule
 * without one lands on DBOS's internal queue, which every launched process (api pods too) dispatches.
 */
export async function createAutomation(request: CreateAutomationRequest): Promise<Automation> {
  if (await DBOS.getSchedule(request.name)) {
    throw new AutomationExistsError(`automation ${JSON.stringify(request.name)} already exists`);
  }
  assertValidTimezone(request.timezone);
  const context: AutomationContext = { name: request.name, input: request.input };
  try {
    await DBOS.createSchedule({
      scheduleName: request.name,
      // DBOS types scheduled workflows as returning void; ours returns the run's chunks, which DBOS stores.
      workflowFn: automationRun as unknown as (scheduledAt: Date, context: unknown) => Promise<void>,
      schedule: request.cron,
      context,
      options: { queueName: AUTOMATIONS_QUEUE, cronTimezone: request.timezone },
    });
  } catch (error) {
    const message = (error as Error).message ?? "";
    // A concurrent create of the same name won the race between the check above and this insert.
    if (/already exists|duplicate key|unique constraint/i.test(message))
      throw new AutomationExistsError(`automation ${JSON.stringify(request.name)} already exists`);
    if (CRON_PARSE_ERROR.test(message))
      throw new InvalidScheduleError(`cron ${JSON.stringify(request.cron)}: ${message}`);
    throw error;
  }
  const created = await DBOS.getSchedule(request.name);
  if (!created) throw new Error(`automation ${request.name} was not stored`);
  return toAutomation(created);
}

export async function listAutomations(): Promise<Automation[]> {
  return (await DBOS.listSchedules()).map(toAutomation);
}

/** Deletes an automation; false when there was none of that name. */
export async function deleteAutomation(name: string): Promise<boolean> {
  if (!(await DBOS.getSchedule(name))) return false;
  await DBOS.deleteSchedule(name);
  return true;
}
