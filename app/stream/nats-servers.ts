/**
 * NATS_URL as the client library wants it: the server URLs without credentials, and the user and
 * password that one of them carries (`nats://user:password@host:4222`), so a Secret holds one value
 * per workload — the same shape for mesh's own NATS and an external one.
 */
export interface NatsConnectOptions {
  servers: string[];
  user?: string;
  pass?: string;
}

export function natsConnectOptions(natsUrl: string): NatsConnectOptions {
  let user: string | undefined;
  let pass: string | undefined;
  const servers = natsUrl.split(",").map((part) => {
    const url = new URL(part.trim());
    if (url.username !== "" && user === undefined) {
      user = decodeURIComponent(url.username);
      pass = decodeURIComponent(url.password);
    }
    return `${url.protocol}//${url.host}`;
  });
  return { servers, ...(user === undefined ? {} : { user, pass }) };
}
