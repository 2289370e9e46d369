import { describe, expect, it } from 'vitest';
import { prefetch } from './prefetch.js';

const delay = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** A source of tasks that records how many run at once and how many finished. */
function tracked(durations: number[], fail?: number) {
  const state = { running: 0, maxRunning: 0, started: 0, finished: 0, closed: false };
  function* tasks() {
    try {
      for (const [i, ms] of durations.entries()) {
        state.started++;
        state.running++;
        state.maxRunning = Math.max(state.maxRunning, state.running);
        yield delay(ms).then(() => {
          state.running--;
          state.finished++;
          if (i === fail) throw new Error(`task ${i} failed`);
          return i;
        });
      }
    } finally {
      state.closed = true;
    }
  }
  return { state, tasks };
}

describe('prefetch', () => {
  it('yields in source order with at most `depth` items in production', async () => {
    // Later items finish first: order must still be the source's.
    const { state, tasks } = tracked([30, 5, 20, 1, 10, 1]);
    const seen: number[] = [];
    for await (const value of prefetch(tasks(), 3)) {
      seen.push(value);
      await delay(2);
    }
    expect(seen).toEqual([0, 1, 2, 3, 4, 5]);
    expect(state.maxRunning).toBe(3);
    expect(state.closed).toBe(true);
  });

  it('pulls an async iterable ahead of the consumer', async () => {
    let produced = 0;
    async function* source() {
      for (let i = 0; i < 5; i++) {
        produced++;
        yield i * 10;
      }
    }
    const seen: number[] = [];
    const producedWhenSeen: number[] = [];
    for await (const value of prefetch(source(), 2)) {
      seen.push(value);
      producedWhenSeen.push(produced);
    }
    expect(seen).toEqual([0, 10, 20, 30, 40]);
    // While the consumer holds item 0, items 1 and 2 have been asked for.
    expect(producedWhenSeen[0]).toBe(3);
  });

  it('rejects when the failed item is reached, after the earlier ones, once the rest has settled', async () => {
    const { state, tasks } = tracked([1, 1, 5, 30, 30], 2);
    const seen: number[] = [];
    await expect(async () => {
      for await (const value of prefetch(tasks(), 3)) seen.push(value);
    }).rejects.toThrow('task 2 failed');
    expect(seen).toEqual([0, 1]);
    // Items 3 and 4 were in production: they finished before the error reached the consumer.
    expect(state.finished).toBe(state.started);
    expect(state.running).toBe(0);
    expect(state.closed).toBe(true);
  });

  it('a consumer that stops early waits for the items in production and closes the source', async () => {
    const { state, tasks } = tracked([1, 20, 20, 20, 20, 20]);
    for await (const value of prefetch(tasks(), 3)) {
      expect(value).toBe(0);
      break;
    }
    expect(state.started).toBe(4);
    expect(state.finished).toBe(4);
    expect(state.closed).toBe(true);
  });

  it('accepts plain values and rejects a bad depth', async () => {
    const seen: string[] = [];
    for await (const value of prefetch(['a', 'b'], 1)) seen.push(value);
    expect(seen).toEqual(['a', 'b']);
    await expect(prefetch([1], 0).next()).rejects.toThrow(/depth must be an integer ≥ 1, got 0/);
  });
});
