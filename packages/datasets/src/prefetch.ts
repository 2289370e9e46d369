/**
 * Runs a source ahead of its consumer: keeps up to `depth` items in production while the
 * consumer works on the current one, and yields them in source order.
 *
 * - An `Iterable` of promises (e.g. a generator that starts one decode per `next()`) gets up to
 *   `depth` items produced in parallel: this is how the loaders overlap decoding with training.
 * - An `AsyncIterable` is asked for up to `depth` items ahead; an async generator still produces
 *   them one at a time, but while the consumer is busy.
 *
 * A failed item rejects when its turn comes, never earlier (no unhandled rejections). When the
 * consumer stops (break, error, or a failed item), the items still in production are awaited
 * before the generator returns, so no work of this epoch runs on into the next.
 */
export async function* prefetch<T>(source: Iterable<T | PromiseLike<T>> | AsyncIterable<T>, depth: number): AsyncGenerator<T, void, undefined> {
  if (!(Number.isInteger(depth) && depth >= 1)) throw new RangeError(`prefetch depth must be an integer ≥ 1, got ${depth}`);
  const pull = puller(source);
  const pending: Promise<IteratorResult<T>>[] = [];
  let exhausted = false;
  const fill = () => {
    while (!exhausted && pending.length < depth) {
      const next = pull.next();
      if (next === undefined) {
        exhausted = true;
        break;
      }
      // Rejections are handled when the item's turn comes; this keeps an early failure from being "unhandled".
      next.catch(() => undefined);
      pending.push(next);
    }
  };
  try {
    fill();
    while (pending.length > 0) {
      const result = await (pending.shift() as Promise<IteratorResult<T>>);
      if (result.done) break;
      fill();
      yield result.value;
    }
  } finally {
    await Promise.allSettled(pending);
    await pull.close();
  }
}

interface Puller<T> {
  /** The next item, or undefined when a synchronous source is known to be exhausted. */
  next(): Promise<IteratorResult<T>> | undefined;
  close(): Promise<unknown>;
}

function puller<T>(source: Iterable<T | PromiseLike<T>> | AsyncIterable<T>): Puller<T> {
  if (Symbol.asyncIterator in source) {
    const iterator = source[Symbol.asyncIterator]();
    return { next: () => iterator.next(), close: async () => iterator.return?.() };
  }
  const iterator = source[Symbol.iterator]();
  return {
    next: () => {
      const step = iterator.next();
      return step.done ? undefined : Promise.resolve(step.value).then((value) => ({ done: false, value }));
    },
    close: async () => iterator.return?.(),
  };
}
