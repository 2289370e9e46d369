import { EventEmitter } from 'node:events';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { redactedUrl, reportConnectionErrors } from './queues.js';

describe('reportConnectionErrors', () => {
  afterEach(() => void vi.useRealTimers());

  it('logs a message that repeats (ioredis retries about every second) at most once a minute, across clients', () => {
    vi.useFakeTimers();
    const [a, b] = [new EventEmitter(), new EventEmitter()];
    const lines: string[] = [];
    reportConnectionErrors([a, b], (line) => lines.push(line));
    const refused = new Error('connect ECONNREFUSED 10.0.0.5:6379');
    for (let second = 0; second < 30; second++) {
      a.emit('error', refused);
      b.emit('error', refused);
      vi.advanceTimersByTime(1000);
    }
    b.emit('error', new Error('READONLY You can\'t write against a read only replica.'));
    expect(lines).toEqual(['connect ECONNREFUSED 10.0.0.5:6379', "READONLY You can't write against a read only replica."]);
    vi.advanceTimersByTime(30_000);
    a.emit('error', refused);
    expect(lines).toHaveLength(3);
  });
});

describe('redactedUrl', () => {
  it('hides the password and leaves URLs without one alone', () => {
    expect(redactedUrl('redis://:hunter2@10.0.0.5:6379/0')).toBe('redis://:***@10.0.0.5:6379/0');
    expect(redactedUrl('redis://user:hunter2@host:6379')).toBe('redis://user:***@host:6379');
    expect(redactedUrl('redis://10.0.0.5:6379')).toBe('redis://10.0.0.5:6379');
  });
});
