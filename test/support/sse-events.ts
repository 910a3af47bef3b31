/** One Server-Sent Event as a client sees it, stamped when its bytes arrived (epoch ms, sub-ms). */
export interface SseEvent {
  event?: string;
  id?: string;
  data?: string;
  receivedAt: number;
}

/**
 * Splits an SSE response body into events (blank-line separated frames of `field: value` lines).
 * `raw`, when given, keeps the last 4 KiB of the text as received, for a failing test to show.
 */
export async function* sseEvents(
  body: AsyncIterable<Uint8Array>,
  raw?: { tail: string },
): AsyncGenerator<SseEvent> {
  const decoder = new TextDecoder();
  let buffer = "";
  for await (const bytes of body) {
    const receivedAt = performance.timeOrigin + performance.now();
    const text = decoder.decode(bytes, { stream: true });
    if (raw) raw.tail = (raw.tail + text).slice(-4096);
    buffer += text;
    let boundary = buffer.indexOf("\n\n");
    while (boundary >= 0) {
      const frame = buffer.slice(0, boundary);
      buffer = buffer.slice(boundary + 2);
      boundary = buffer.indexOf("\n\n");
      const fields: Record<string, string> = Object.fromEntries(
        frame.split("\n").map((line) => {
          const colon = line.indexOf(":");
          return [line.slice(0, colon), line.slice(colon + 1).trimStart()];
        }),
      );
      yield { event: fields.event, id: fields.id, data: fields.data, receivedAt };
    }
  }
}
