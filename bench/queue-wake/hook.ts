// The queue-wake experiment's worker side, preloaded with --import into worker processes by the
// benchmark only (never by mesh itself). It stands in for a change inside DBOS that its public API has no
// room for: when Postgres reports that a queue gained a startable run (the trigger in trigger.ts), poll
// that queue now instead of at the next tick of its polling interval. The interval can then be long
// (an idle worker costs little) while a run still starts within milliseconds. See
// docs/dbos-queue-wake.md for the upstream proposal this measures.
//
// It reaches DBOS's dispatcher through the package's `internal/*` export and wraps three of its methods
// by name, so it is tied to DBOS 5.3.0's wfqueue.js; it copies none of DBOS's code.
import { createRequire } from "node:module";
import pg from "pg";
import { WAKE_CHANNEL } from "./trigger.js";

interface QueueState {
  queue: { name: string };
  nextPollAt: number;
}

type Wake = () => void;

interface DispatcherInternals {
  states: Map<string, QueueState>;
  scheduleDueQueues(exec: unknown, now: number, lanes: number, inFlight: unknown, wake: Wake): void;
  runQueuePoll(exec: unknown, state: QueueState, inFlight: unknown, wake: Wake): Promise<void>;
  adjustInterval(exec: unknown, state: QueueState, contentionDetected: boolean): void;
}

const require = createRequire(import.meta.url);
const { wfQueueRunner: dispatcher } = require("@dbos-inc/dbos-sdk/internal/wfqueue") as {
  wfQueueRunner: DispatcherInternals;
};

/** The dispatcher's scheduler wake-up, passed into every scheduling pass; undefined until the first. */
let wakeScheduler: Wake | undefined;
/** Queues woken since their last poll started: a poll already running may have missed the new run. */
const wokenSinceLastPoll = new Set<string>();

const scheduleDueQueues = dispatcher.scheduleDueQueues;
dispatcher.scheduleDueQueues = function (this: DispatcherInternals, exec, now, lanes, inFlight, wake) {
  wakeScheduler = wake;
  scheduleDueQueues.call(this, exec, now, lanes, inFlight, wake);
};

const runQueuePoll = dispatcher.runQueuePoll;
dispatcher.runQueuePoll = function (this: DispatcherInternals, exec, state, inFlight, wake) {
  wokenSinceLastPoll.delete(state.queue.name);
  return runQueuePoll.call(this, exec, state, inFlight, wake);
};

const adjustInterval = dispatcher.adjustInterval;
dispatcher.adjustInterval = function (this: DispatcherInternals, exec, state, contentionDetected) {
  adjustInterval.call(this, exec, state, contentionDetected);
  // A wake that arrived during this poll: poll again at once rather than one interval from now.
  if (wokenSinceLastPoll.has(state.queue.name)) state.nextPollAt = Date.now();
};

function wakeQueue(name: string): void {
  const state = dispatcher.states.get(name);
  if (!state) return; // a queue this process does not dispatch
  wokenSinceLastPoll.add(name);
  state.nextPollAt = Date.now();
  wakeScheduler?.();
}

const databaseUrl = process.env.DATABASE_URL;
if (!databaseUrl) throw new Error("queue-wake hook: DATABASE_URL is not set");
const listener = new pg.Client({ connectionString: databaseUrl });
listener.on("notification", (message) => {
  if (message.payload) wakeQueue(message.payload);
});
listener.on("error", (error) => process.stderr.write(`queue-wake hook: listener failed: ${error.message}\n`));
await listener.connect();
await listener.query(`LISTEN ${WAKE_CHANNEL}`);
