// Queue names, readable before DBOS is configured. This module must stay free of side effects and of
// imports of DBOS or workflow code: app/main.ts reads it to compute `listenQueues` before setConfig.

/** Agent runs from the HTTP API, partitioned by thread: one active run per thread. */
export const THREAD_GATE_QUEUE = "thread-gate";

/** Runs fired by automation schedules. */
export const AUTOMATIONS_QUEUE = "automations";

/** Every queue that carries agent runs; worker processes dequeue exactly these. */
export const RUN_QUEUES: readonly string[] = [THREAD_GATE_QUEUE, AUTOMATIONS_QUEUE];
