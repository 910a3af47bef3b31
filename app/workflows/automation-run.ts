import { DBOS } from "@dbos-inc/dbos-sdk";
import { AUTOMATIONS_QUEUE } from "../queue-names.js";
import { executeAgentRun } from "./execute-agent-run.js";
import type { RunResult } from "./run-types.js";

export const AUTOMATION_RUN_WORKFLOW = "automationRun";

/** What an automation schedule stores and hands to every tick. */
export interface AutomationContext {
  name: string;
  input: string;
}

/** One tick of an automation schedule: an agent run on the automations queue (thread `automation:<name>`). */
export const automationRun = DBOS.registerWorkflow(
  async (scheduledAt: Date, context: AutomationContext): Promise<RunResult> => {
    const runId = DBOS.workflowID;
    if (!runId) throw new Error("automationRun must run as a workflow");
    return executeAgentRun(runId, AUTOMATIONS_QUEUE, context.input, new Date(scheduledAt).getTime());
  },
  { name: AUTOMATION_RUN_WORKFLOW },
);

export function automationThreadId(name: string): string {
  return `automation:${name}`;
}
