import { DBOS } from "@dbos-inc/dbos-sdk";
import type pg from "pg";
import { log } from "../log.js";
import { movedRuns, reapedWorkflows } from "../metrics.js";
import { requeuePendingRunsOf } from "./requeue-own-runs.js";
import { moveVersionFreeRuns, readVersionLoad } from "./workflow-versions.js";

/** Advisory lock key of the reaper ("mesh-rea" in ASCII): one reaper at a time across all processes. */
const REAPER_LOCK_KEY = 0x6d6573682d726561n;

export interface ReaperOptions {
  /** This process's executor ID; never reaped by itself. */
  selfId: string;
  /** Heartbeat age after which an executor is dead. */
  executorTimeoutMs: number;
  /** How often to look for dead executors. */
  intervalMs: number;
}

/**
 * Self-hosted replacement for DBOS Conductor's recovery: finds executors whose heartbeat is older than
 * MESH_EXECUTOR_TIMEOUT_MS and puts their PENDING runs back on their original queues with DBOS's public
 * API (listWorkflows + resumeWorkflows with queueName). A live worker then continues each run from its
 * last checkpoint; if the "dead" executor was only frozen, DBOS fences it at its next checkpoint.
 * The same pass moves version-free runs to the dispatch version and logs stranded runs (workflow-versions.ts).
 */
export class Reaper {
  #timer: NodeJS.Timeout | undefined;
  #running = false;

  constructor(
    private readonly pool: pg.Pool,
    private readonly options: ReaperOptions,
  ) {}

  start(): void {
    this.#timer = setInterval(() => void this.reapOnce(), this.options.intervalMs);
    this.#timer.unref();
  }

  stop(): void {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = undefined;
  }

  /** One pass; returns how many runs it put back (0 when another process holds the reaper lock). */
  async reapOnce(): Promise<number> {
    if (this.#running) return 0;
    this.#running = true;
    let client: pg.PoolClient | undefined;
    // A checked-out client has no 'error' listener of the pool's: a connection that dies between two of
    // this pass's queries (Postgres restarting) would emit an unhandled 'error' and take the process down.
    let lost: Error | undefined;
    const onLost = (error: Error) => {
      lost = error;
    };
    try {
      client = await this.pool.connect();
      client.on("error", onLost);
      // The lock is the transaction's, not the session's: a process stopped in the middle of a pass (frozen,
      // paused, its node stalled) would otherwise hold it for as long as it is stopped, and no process could
      // take over the runs of dead executors. Postgres ends a transaction left idle longer than the executor
      // timeout, and the lock goes with it.
      await client.query("BEGIN");
      await client.query(
        `SET LOCAL idle_in_transaction_session_timeout = ${Math.max(1_000, Math.round(this.options.executorTimeoutMs))}`,
      );
      const { rows } = await client.query<{ locked: boolean }>(
        "SELECT pg_try_advisory_xact_lock($1) AS locked",
        [REAPER_LOCK_KEY.toString()],
      );
      if (!rows[0]?.locked) {
        await client.query("ROLLBACK");
        return 0;
      }
      const reaped = await this.#reapDeadExecutors(client);
      await this.#moveVersionFreeRuns(client);
      await this.#reportStrandedRuns();
      await client.query("COMMIT");
      return reaped;
    } catch (error) {
      log.warn({ err: (error as Error).message }, "reaper pass failed; retrying next interval");
      if (!lost) await client?.query("ROLLBACK").catch(() => undefined);
      return 0;
    } finally {
      client?.off("error", onLost);
      // A lost connection is destroyed instead of going back to the pool.
      client?.release(lost);
      this.#running = false;
    }
  }

  /** Version-free runs queued at a version other than the dispatch version go to it (workflow-versions.ts). */
  async #moveVersionFreeRuns(client: pg.PoolClient): Promise<void> {
    const moved = await moveVersionFreeRuns(client, this.options.executorTimeoutMs);
    if (moved.length === 0) return;
    movedRuns.inc(moved.length);
    const byMove = new Map<string, string[]>();
    for (const run of moved) {
      const key = `${run.from || "(none)"} → ${run.to}`;
      byMove.set(key, [...(byMove.get(key) ?? []), run.runId]);
    }
    for (const [move, runs] of byMove)
      log.info(
        { move, runs: runs.length, runIds: runs.slice(0, 20) },
        "moved version-free runs to the dispatch version",
      );
  }

  /** Runs waiting for a version no live executor runs: logged at every pass until one of its version comes. */
  async #reportStrandedRuns(): Promise<void> {
    const load = await readVersionLoad(this.pool, this.options.executorTimeoutMs);
    for (const [queue, versions] of Object.entries(load))
      for (const entry of versions)
        if (entry.stranded > 0)
          log.error(
            { queue, version: entry.version, runs: entry.stranded },
            "runs are stranded: no live executor runs their workflow version (keep or bring back its workers)",
          );
  }

  async #reapDeadExecutors(client: pg.PoolClient): Promise<number> {
    const timeoutSeconds = this.options.executorTimeoutMs / 1000;
    const dead = await client.query<{ executor_id: string; role: string; last_seen: Date }>(
      `SELECT executor_id, role, last_seen FROM mesh.executors
        WHERE reaped_at IS NULL AND executor_id <> $1
          AND last_seen < now() - make_interval(secs => $2::double precision)`,
      [this.options.selfId, timeoutSeconds],
    );
    let total = 0;
    for (const executor of dead.rows) {
      const runs = await requeuePendingRunsOf(DBOS, executor.executor_id);
      // Only if it is still silent: an executor that came back in the meantime keeps its row live.
      await client.query(
        `UPDATE mesh.executors SET reaped_at = now()
          WHERE executor_id = $1 AND last_seen < now() - make_interval(secs => $2::double precision)`,
        [executor.executor_id, timeoutSeconds],
      );
      total += runs.length;
      reapedWorkflows.inc(runs.length);
      log.warn(
        {
          executorId: executor.executor_id,
          role: executor.role,
          lastSeen: executor.last_seen,
          runs,
        },
        runs.length > 0 ? "reaped a dead executor: its runs are back on their queues" : "executor is gone",
      );
    }
    return total;
  }
}
