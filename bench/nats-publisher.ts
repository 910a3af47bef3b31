// The publishing half of the like-for-like NATS baseline, run as its own process (bench/baselines.ts):
// publishes `count` messages to a run subject the way a mesh worker publishes a chunk — a plain publish
// with a Nats-Msg-Id header, captured by the MESH_RUNS stream — each stamped with the wall clock
// (performance.timeOrigin + now, the stamp a worker puts on its chunks), one every `spacingMs`.
import { connect, headers } from "@nats-io/transport-node";

const [servers = "", subject = "", count = "0", spacingMs = "1"] = process.argv.slice(2);
const connection = await connect({ servers });
for (let seq = 1; seq <= Number(count); seq++) {
  const msgHeaders = headers();
  msgHeaders.set("Nats-Msg-Id", `${subject}:${seq}`);
  const at = performance.timeOrigin + performance.now();
  connection.publish(subject, JSON.stringify({ type: "chunk", seq, text: "x", at }), { headers: msgHeaders });
  await connection.flush();
  await new Promise((resolve) => setTimeout(resolve, Number(spacingMs)));
}
await connection.drain();
