/**
 * The SSE streams this process is serving. On drain they are all ended cleanly (a complete chunked
 * response, no `done` event), so clients reconnect to another pod with Last-Event-ID.
 */
export class OpenStreams {
  #controllers = new Set<AbortController>();
  #emptied: Array<() => void> = [];

  /** Registers a stream; its signal aborts on drain. Call the returned function when it has ended. */
  open(): { signal: AbortSignal; close: () => void } {
    const controller = new AbortController();
    this.#controllers.add(controller);
    return {
      signal: controller.signal,
      close: () => {
        this.#controllers.delete(controller);
        if (this.#controllers.size === 0) for (const resolve of this.#emptied.splice(0)) resolve();
      },
    };
  }

  get size(): number {
    return this.#controllers.size;
  }

  /** Ends every open stream and waits until they have been written out, at most `timeoutMs`. */
  async endAll(timeoutMs: number): Promise<void> {
    if (this.#controllers.size === 0) return;
    const emptied = new Promise<void>((resolve) => this.#emptied.push(resolve));
    for (const controller of this.#controllers) controller.abort();
    await Promise.race([emptied, new Promise((resolve) => setTimeout(resolve, timeoutMs))]);
  }
}
