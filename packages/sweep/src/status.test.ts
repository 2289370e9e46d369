import { describe, expect, it } from 'vitest';
import { formatStatus, type SweepStatus } from './status.js';

describe('formatStatus', () => {
  it('prints one line per run with its state, attempts, worker and what it is doing', () => {
    const t0 = Date.UTC(2026, 0, 1, 12, 0, 0);
    const base = { runner: 'r', folder: 'f' };
    const status: SweepStatus = {
      id: 'table-0123',
      kind: 'table',
      state: 'waiting-children',
      submittedAt: t0,
      runs: [
        { ...base, id: 'a', label: 'vanilla seed 1', state: 'completed', attempts: 1, worker: 'w1', startedAt: t0, finishedAt: t0 + 41_000 },
        { ...base, id: 'b', label: 'guided seed 1', state: 'active', attempts: 2, worker: 'w2', startedAt: t0 + 5_000, progress: { fraction: 0.42, text: 'epoch 2/3 step 10/93' } },
        { ...base, id: 'c', label: 'random seed 1', state: 'delayed', attempts: 1, worker: 'w1', failedReason: 'disk full' },
        { ...base, id: 'd', label: 'umt seed 1', state: 'waiting-children', attempts: 0 },
        { ...base, id: 'e', label: 'rubi seed 1', state: 'waiting', attempts: 0 },
      ],
    };
    const lines = formatStatus(status, t0 + 60_000).split('\n');
    expect(lines[0]).toBe('sweep table-0123 (table): waiting-children; 1/5 runs finished, 1 active, 1 delayed, 1 waiting-children, 1 waiting');
    expect(lines[1]).toMatch(/^run\s+state\s+attempts\s+worker$/);
    expect(lines[2]).toMatch(/^vanilla seed 1\s+completed\s+1\s+w1\s+done in 41 s$/);
    expect(lines[3]).toMatch(/^guided seed 1\s+active\s+2\s+w2\s+42% epoch 2\/3 step 10\/93 \(since 12:00:05\)$/);
    expect(lines[4]).toMatch(/^random seed 1\s+delayed\s+1\s+w1\s+retrying after: disk full$/);
    expect(lines[5]).toMatch(/^umt seed 1\s+waiting-children\s+0\s+—\s+waiting for the runs it needs$/);
    expect(lines[6]).toMatch(/^rubi seed 1\s+waiting\s+0\s+—$/);
  });
});
