import { connect } from "@nats-io/transport-node";
import pg from "pg";
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

/** Raw NATS: publish → subscribe latency on loopback, two connections, one message at a time. */
export async function natsLatency(messages: number): Promise<Summary> {
  const publisher = await connect({ servers: NATS_URL });
  const subscriber = await connect({ servers: NATS_URL });
  const subject = `bench.latency.${process.pid}`;
  const samples: number[] = [];
  const subscription = subscriber.subscribe(subject);
  await subscriber.flush();
  const received = (async () => {
    for await (const message of subscription) {
      const sentAt = Number(new TextDecoder().decode(message.data));
      samples.push(performance.now() - sentAt);
      if (samples.length >= messages) break;
    }
  })();
  for (let index = 0; index < messages; index++) {
    publisher.publish(subject, String(performance.now()));
    await publisher.flush();
    await new Promise((resolve) => setTimeout(resolve, 1));
  }
  await received;
  await Promise.all([publisher.close(), subscriber.close()]);
  return summarize(samples);
}
