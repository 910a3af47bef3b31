import { spawn } from "node:child_process";
import { once } from "node:events";
import { fileURLToPath } from "node:url";
import { connect } from "@nats-io/transport-node";
import pg from "pg";
import type { RunStreamNames } from "../app/stream/run-stream-settings.js";
import { NATS_URL } from "../test/support/services.js";
import { type Summary, summarize } from "./stats.js";

/** Raw Postgres: single-row INSERT commits per second over several connections (autocommit). */
export async function postgresCommitRate(
  databaseUrl: string,
  connections: number,
  durationMs: number,
): Promise<number> {
  const setup = new pg.Client({ connectionString: databaseUrl });
  await setup.connect();
  await setup.query(
    "CREATE TABLE IF NOT EXISTS bench_commits (id bigserial PRIMARY KEY, payload text NOT NULL)",
  );
  await setup.end();
  const clients = await Promise.all(
    Array.from({ length: connections }, async () => {
      const client = new pg.Client({ connectionString: databaseUrl });
      await client.connect();
      return client;
    }),
  );
  let commits = 0;
  const deadline = Date.now() + durationMs;
  const started = Date.now();
  await Promise.all(
    clients.map(async (client) => {
      while (Date.now() < deadline) {
        await client.query("INSERT INTO bench_commits (payload) VALUES ($1)", ["x"]);
        commits++;
      }
    }),
  );
  const elapsed = Date.now() - started;
  await Promise.all(clients.map((client) => client.end()));
  return (commits / elapsed) * 1000;
}

/**
 * Raw NATS, measured the way mesh's streaming is: a publisher process (bench/nats-publisher.ts) publishes
 * chunk-shaped messages to a run subject exactly as a worker does (plain publish with a Nats-Msg-Id,
 * captured by the deployment's run stream, which `names` says), stamped with the wall clock;
 * this process subscribes with a core subscription and stamps arrivals with the same clock source.
 * Two processes, one clock: the same hop as worker → api, without the api and SSE.
 */
export async function natsLatency(messages: number, names: RunStreamNames): Promise<Summary> {
  const subscriber = await connect({ servers: NATS_URL });
  const subject = names.subject(`bench-baseline-${process.pid}-${Date.now()}`);
  const samples: number[] = [];
  const subscription = subscriber.subscribe(subject);
  await subscriber.flush();
  const received = (async () => {
    for await (const message of subscription) {
      const arrivedAt = performance.timeOrigin + performance.now();
      const { at } = JSON.parse(new TextDecoder().decode(message.data)) as { at: number };
      samples.push(arrivedAt - at);
      if (samples.length >= messages) break;
    }
  })();
  const publisher = spawn(
    process.execPath,
    [
      "--import",
      "tsx",
      fileURLToPath(new URL("./nats-publisher.ts", import.meta.url)),
      NATS_URL,
      subject,
      String(messages),
      "2",
    ],
    { stdio: ["ignore", "ignore", "inherit"] },
  );
  const [code] = await once(publisher, "exit");
  if (code !== 0) throw new Error(`the NATS baseline's publisher exited with ${code}`);
  await Promise.race([received, new Promise((resolve) => setTimeout(resolve, 5_000))]);
  await subscriber.close();
  if (samples.length < messages)
    throw new Error(`NATS baseline: ${samples.length} of ${messages} messages arrived`);
  return summarize(samples);
}
