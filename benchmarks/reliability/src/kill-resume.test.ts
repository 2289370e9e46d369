import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { APPS } from './apps.js';
import { killAndResume } from './kill-resume.js';

const work = mkdtempSync(join(tmpdir(), 'mm-kill-resume-test-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

describe('kill and resume (small instance of `pnpm --filter @mm/bench-reliability kill-resume`)', () => {
  it('the colored-mnist CLI killed 3 times (at random and while writing a checkpoint) resumes to an uninterrupted run’s numbers', async () => {
    const app = { ...APPS['colored-mnist'], args: ['--methods', 'vanilla', '--seeds', '1', '--epochs', '3', '--train-size', '320', '--batch-size', '32', '--widths', '4,4,8,8'] };
    const report = await killAndResume(app, { kills: 3, seed: 7, work, log: () => {} });
    expect(report.failedStarts).toEqual([]);
    expect(report.unreadable).toEqual([]);
    expect(report.regressions).toEqual([]);
    expect(report.differences).toEqual([]);
    expect(report.kills.length).toBeGreaterThanOrEqual(3);
    expect(report.kills.some((k) => k.aim === 'checkpoint')).toBe(true);
    expect(report.compared.steps).toBeGreaterThan(0);
    expect(report.ok).toBe(true);
  }, 900_000);
});
