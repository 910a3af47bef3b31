export const IDLE = Symbol("idle");

/**
 * Re-yields `source`, inserting IDLE whenever nothing arrived for `idleMs`. The pending `next()` is
 * kept across ticks, so no item is lost or reordered.
 */
export async function* withIdleTicks<T>(
  source: AsyncIterable<T>,
  idleMs: number,
): AsyncGenerator<T | typeof IDLE> {
  const iterator = source[Symbol.asyncIterator]();
  let pending: Promise<IteratorResult<T>> | undefined;
  try {
    while (true) {
      pending ??= iterator.next();
      let timer: NodeJS.Timeout | undefined;
      const tick = new Promise<typeof IDLE>((resolve) => {
        timer = setTimeout(() => resolve(IDLE), idleMs);
      });
      const winner = await Promise.race([pending, tick]);
      clearTimeout(timer);
      if (winner === IDLE) {
        yield IDLE;
        continue;
      }
      pending = undefined;
      if (winner.done) return;
      yield winner.value;
    }
  } finally {
    // Not awaited: the source may be suspended in an await that only ends when its owner aborts it,
    // which the owner does after this generator has finished (awaiting here would deadlock).
    void iterator.return?.();
  }
}
