import { createRequire } from "node:module";

/**
 * The DBOS release patches/@dbos-inc+dbos-sdk+<version>.patch was written for. patch-package refuses to
 * install another (postinstall runs it with --error-on-warn), and this guard refuses at run time a
 * node_modules that skipped the install script, so a moved DBOS is never half-patched.
 */
export const PATCHED_DBOS_VERSION = "5.3.0";

/** What the patch adds to DBOS's queue dispatcher (`wfQueueRunner` in dist/src/wfqueue.js). */
export interface DispatcherWake {
  /** Polls the queue now instead of at its next interval; false when this process does not dispatch it. */
  wakeQueue(queueName: string): boolean;
  /** When set, a run ending in this process polls its queue at once (its slot and partition are free). */
  wakeOnSlotRelease: boolean;
}

export type DispatcherWakeLookup =
  | { available: true; dispatcher: DispatcherWake }
  | { available: false; reason: string };

const require = createRequire(import.meta.url);

/**
 * DBOS's dispatcher with the wake-up, when this node_modules has the patch; otherwise why not. The
 * dispatcher is reached through DBOS's `internal/*` export, the only way to it; the version guard and
 * test/queue-wake.test.ts fail when either side moves.
 */
export function findDispatcherWake(): DispatcherWakeLookup {
  const { globalParams } = require("@dbos-inc/dbos-sdk/internal/utils") as {
    globalParams: { dbosVersion: string };
  };
  if (globalParams.dbosVersion !== PATCHED_DBOS_VERSION)
    return {
      available: false,
      reason: `DBOS ${globalParams.dbosVersion} is installed; the queue wake-up patch is for ${PATCHED_DBOS_VERSION}`,
    };
  const { wfQueueRunner } = require("@dbos-inc/dbos-sdk/internal/wfqueue") as {
    wfQueueRunner: Partial<DispatcherWake>;
  };
  if (typeof wfQueueRunner.wakeQueue !== "function" || typeof wfQueueRunner.wakeOnSlotRelease !== "boolean")
    return {
      available: false,
      reason:
        "DBOS's dispatcher has no wakeQueue: patches/ was not applied (npm ci ran with --ignore-scripts?)",
    };
  return { available: true, dispatcher: wfQueueRunner as DispatcherWake };
}
