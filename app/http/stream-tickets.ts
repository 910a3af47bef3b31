import { createHmac, randomBytes, timingSafeEqual } from "node:crypto";

/** How long a ticket lets a client (re)open one run's stream. */
export const STREAM_TICKET_TTL_MS = 5 * 60_000;

/**
 * Tickets for reading one run's stream without an Authorization header — a browser's native EventSource
 * cannot send one, and the API token must never travel in a URL. An authenticated call hands out
 * `<expiry>.<HMAC(runId, expiry)>`; the stream route accepts it for that run only, until it expires. The
 * key derives from the API token, so every api replica accepts the tickets of the others (a reconnect
 * may land anywhere), and rotating the token revokes them all.
 */
export class StreamTickets {
  readonly #key: Buffer;

  constructor(apiToken: string | undefined) {
    this.#key = apiToken
      ? createHmac("sha256", apiToken).update("mesh stream tickets v1").digest()
      : randomBytes(32);
  }

  issue(runId: string, now = Date.now()): { ticket: string; expiresAt: Date } {
    const expiresAt = new Date(now + STREAM_TICKET_TTL_MS);
    const expiry = Math.floor(expiresAt.getTime() / 1000);
    return { ticket: `${expiry}.${this.#sign(runId, expiry).toString("base64url")}`, expiresAt };
  }

  /** Whether `ticket` was issued for `runId` and has not expired. */
  verify(runId: string, ticket: string, now = Date.now()): boolean {
    const match = /^(\d{1,12})\.([A-Za-z0-9_-]{43})$/.exec(ticket);
    if (!match) return false;
    const expiry = Number(match[1]);
    if (expiry * 1000 <= now) return false;
    const given = Buffer.from(match[2] ?? "", "base64url");
    const expected = this.#sign(runId, expiry);
    return given.length === expected.length && timingSafeEqual(given, expected);
  }

  #sign(runId: string, expiry: number): Buffer {
    return createHmac("sha256", this.#key).update(`${runId}\n${expiry}`).digest();
  }
}
