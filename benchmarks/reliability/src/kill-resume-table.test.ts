import { describe, expect, it } from 'vitest';
import type { AppReport, KillRecord } from './kill-resume.js';
import { killResumeTable, mergeReports, parseReports, replaceBetweenMarkers } from './kill-resume-table.js';

function report(app: string, kills: KillRecord[], extra: Partial<AppReport> = {}): AppReport {
  return {
    app,
    args: [],
    referenceSeconds: 61.5,
    firstCheckpointSeconds: 24.3,
    kills,
    runs: 2,
    checkpointsRead: 9,
    unreadable: [],
    regressions: [],
    failedStarts: [],
    differences: [],
    compared: { steps: 120, epochs: 6, weights: 1234567 },
    leftovers: [],
    ok: true,
    ...extra,
  };
}

const random = (delayMs: number): KillRecord => ({ aim: 'random', delayMs, epochsSaved: 0 });
const aimed = (moment: KillRecord['moment']): KillRecord => ({ aim: 'checkpoint', delayMs: 10, write: 1, moment, epochsSaved: 1 });

describe('kill-resume table', () => {
  it('counts where the aimed kills landed and reads every figure from the report', () => {
    const r = report('balancers', [random(100), aimed('writing the new folder'), random(200), aimed('after the write'), random(300), aimed('after the write'), aimed('deleting the previous folder')], {
      loopSeconds: 1530,
      regressions: ['x'],
      leftovers: ['runs/a/checkpoint.old-7', 'runs/b/checkpoint.tmp-8'],
      ok: false,
    });
    const lines = killResumeTable([r]).split('\n');
    expect(lines).toHaveLength(3);
    expect(lines[2]).toBe('| balancers | 7 | 4: 1 / 0 / 1 / 2 | 2 | 9 | 0 | 1 | 0 | 120, 6, 1,234,567 | 0 | 2 | 62 | 26 | NO |');
  });

  it('says when a loop did not record its own duration', () => {
    expect(killResumeTable([report('colored-mnist', [random(1)])]).split('\n')[2]).toContain('| not recorded | yes |');
  });

  it('merges reports: a rerun replaces the app’s row in place, new apps are appended', () => {
    const first = [report('colored-mnist', []), report('nvgesture', [random(1)])];
    const merged = mergeReports(first, [report('nvgesture', [random(2), random(3)]), report('balancers', [])]);
    expect(merged.map((r) => r.app)).toEqual(['colored-mnist', 'nvgesture', 'balancers']);
    expect(merged[1].kills).toHaveLength(2);
  });

  it('refuses files that are not kill-resume reports, naming the file', () => {
    expect(() => parseReports('{', 'a.json')).toThrow(/a\.json: not JSON/);
    expect(() => parseReports('{"reports":[{"app":"x"}]}', 'b.json')).toThrow(/b\.json: no "reports" list/);
    expect(parseReports(JSON.stringify({ work: '/tmp', reports: [report('x', [])] }), 'c.json')[0].app).toBe('x');
  });

  it('renders between the markers, again and again, and names the document when they are missing', () => {
    const doc = 'before\n<!-- t -->\nold\n<!-- /t -->\nafter\n';
    const once = replaceBetweenMarkers(doc, 't', 'new', 'DOC.md');
    expect(once).toBe('before\n<!-- t -->\nnew\n<!-- /t -->\nafter\n');
    expect(replaceBetweenMarkers(once, 't', 'new', 'DOC.md')).toBe(once);
    expect(() => replaceBetweenMarkers('no markers', 't', 'x', 'DOC.md')).toThrow(/DOC\.md: needs exactly one '<!-- t -->'/);
    expect(() => replaceBetweenMarkers('<!-- /t --> <!-- t -->', 't', 'x', 'DOC.md')).toThrow(/DOC\.md/);
  });
});
