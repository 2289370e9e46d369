import { describe, expect, it } from 'vitest';
import { defaultSettings } from '@mm/example-colored-mnist/config';
import { exampleArgs, JobBenchUsageError, parseJobBenchArgs } from './options.js';
import { formatReport, median, methodAccuracies, parseJobReport, restSeconds, summarize, type JobReport, type Round, type SideTiming } from './report.js';
import { torchJobArgs } from './sides.js';

describe('parseJobBenchArgs', () => {
  it("defaults to 2 rounds of the example plan with PyTorch's default threads", () => {
    expect(parseJobBenchArgs([])).toEqual({ rounds: 2, methods: undefined, seeds: undefined, contend: false, torchThreads: undefined, python: '/usr/bin/python3', keep: undefined, json: false, help: false });
  });

  it('reads every option, after a leading --', () => {
    const o = parseJobBenchArgs(['--', '--rounds', '3', '--methods', 'vanilla,guided,vanilla', '--seeds', '1', '--contend', '--torch-threads', '1', '--python', '/opt/py', '--keep', 'out', '--json', '-h']);
    expect(o).toEqual({ rounds: 3, methods: ['vanilla', 'guided'], seeds: 1, contend: true, torchThreads: 1, python: '/opt/py', keep: 'out', json: true, help: true });
    expect(exampleArgs(o)).toEqual(['--methods', 'vanilla,guided', '--seeds', '1']);
    expect(exampleArgs({ methods: undefined, seeds: undefined })).toEqual([]);
  });

  it('names the option and the problem on bad input', () => {
    expect(() => parseJobBenchArgs(['--rounds', '0'])).toThrow(/--rounds needs an integer ≥ 1, got 0/);
    expect(() => parseJobBenchArgs(['--seeds', 'two'])).toThrow(/--seeds needs an integer ≥ 1, got two/);
    expect(() => parseJobBenchArgs(['--methods', 'vanilla,ogm'])).toThrow(/--methods: unknown method ogm; choose from unimodal-colored/);
    expect(() => parseJobBenchArgs(['--python'])).toThrow(/--python needs a value/);
    expect(() => parseJobBenchArgs(['--fast'])).toThrow(JobBenchUsageError);
  });
});

describe('torchJobArgs', () => {
  it("passes the example's reduced settings and plan, 0 for 'all'", () => {
    const args = torchJobArgs({ ...defaultSettings(), plan: [{ method: 'vanilla', seeds: [1, 2] }, { method: 'guided', seeds: [1] }], squeezeRecordingSamples: undefined });
    const flag = (name: string) => args[args.indexOf(name) + 1];
    expect(flag('--runs')).toBe('vanilla:1,vanilla:2,guided:1');
    expect(flag('--widths')).toBe('8,16,32,64');
    expect(flag('--train-size')).toBe('6000');
    expect(flag('--test-size')).toBe('2000');
    expect(flag('--squeeze-samples')).toBe('0');
    expect(flag('--epochs')).toBe('3');
    expect(flag('--batch')).toBe('64');
  });

  it('refuses settings the PyTorch job does not implement', () => {
    expect(() => torchJobArgs({ ...defaultSettings(), pair: ['gray', 'gray'] })).toThrow(/fuses \(colored, gray\), the settings ask for \(gray, gray\)/);
    expect(() => torchJobArgs({ ...defaultSettings(), stopAtTrainAccuracy: 1 })).toThrow(/no stopping rule/);
  });
});

const run = (method: string, seed: number, testAccuracy: number, dUtil: number | null = null) => ({ method, seed, testAccuracy, testHeadAccuracy: [testAccuracy / 2, testAccuracy], dUtil, dSpeed: null, seconds: 1 });

function side(report: Partial<JobReport> & Pick<JobReport, 'side'>, wall: number, startup: number, load: number): SideTiming {
  return { runtime: report.side, jobStartedAtMs: 0, jobSeconds: wall - startup, dataSeconds: 1, cpuSeconds: 2 * wall, runs: [run('vanilla', 1, 0.25, 0.1), run('vanilla', 2, 0.35, 0.3)], ...report, wallSeconds: wall, startupSeconds: startup, load: { before: load, after: load, mean: load } };
}

describe('reports', () => {
  it('median of odd and even counts', () => {
    expect(median([3, 1, 2])).toBe(2);
    expect(median([4, 1, 3, 2])).toBe(2.5);
    expect(() => median([])).toThrow(/no values/);
  });

  it('reads the last JSON line of a job and says what is missing', () => {
    const report = { side: 'torch', runtime: 'torch', jobStartedAtMs: 5, jobSeconds: 3, dataSeconds: 1, cpuSeconds: 4, runs: [run('vanilla', 1, 0.3)] };
    expect(parseJobReport(`noise\n${JSON.stringify(report)}\n`, 'torch').jobSeconds).toBe(3);
    expect(() => parseJobReport('Traceback …', 'torch')).toThrow(/torch printed no JSON report on stdout/);
    expect(() => parseJobReport('{"jobSeconds": 3}', 'js')).toThrow(/js's report has no number jobStartedAtMs/);
    expect(() => parseJobReport(JSON.stringify({ ...report, runs: [] }), 'js')).toThrow(/lists no runs/);
  });

  it('averages each method over its seeds', () => {
    const [vanilla] = methodAccuracies([run('vanilla', 1, 0.2, 0.1), run('vanilla', 2, 0.4, null)]);
    expect(vanilla).toMatchObject({ method: 'vanilla', runs: 2, dUtil: 0.1, dSpeed: null });
    expect(vanilla.testAccuracy).toBeCloseTo(0.3);
    expect(vanilla.headAccuracy[0]).toBeCloseTo(0.15);
  });

  it('summarizes rounds as median ratios and prints both sides per method', () => {
    const rounds: Round[] = [
      { round: 1, order: ['js', 'torch'], busyCore: false, js: side({ side: 'js' }, 100, 4, 3), torch: side({ side: 'torch', runs: [run('vanilla', 1, 0.24, 0.2)] }, 50, 2, 3.5) },
      { round: 2, order: ['torch', 'js'], busyCore: false, js: side({ side: 'js' }, 120, 4, 4), torch: side({ side: 'torch' }, 40, 2, 4.5) },
    ];
    const s = summarize(rounds);
    expect(s.jsMedianSeconds).toBe(110);
    expect(s.torchMedianSeconds).toBe(45);
    expect(s.ratio).toBeCloseTo(110 / 45);
    expect(s.jobRatio).toBeCloseTo(106 / 43);
    expect(s.meanLoad).toBeCloseTo(3.75);
    // job 96 s (100 − 4 start-up) − data 1 s − 2 runs of 1 s.
    expect(restSeconds(rounds[0].js)).toBe(93);
    const text = formatReport(rounds, 'title');
    expect(text).toMatch(/^title/);
    expect(text).toMatch(/\n2\s+torch → js\s+120\.0\s+4\.0\s+40\.0\s+2\.0\s+3\.00\s+4\.0 \/ 4\.5\s+no\n/);
    expect(text).toMatch(/\nmedian\s+110\.0\s+4\.0\s+45\.0\s+2\.0\s+2\.44\s+3\.8/);
    // Round 1's accuracies: JS 2 runs of vanilla (mean 30%), torch 1 run (24%).
    expect(text).toMatch(/\nvanilla\s+2\s+30\.00\s+24\.00\s+15\.00 \/ 30\.00\s+12\.00 \/ 24\.00\s+\+0\.200\s+\+0\.200/);
  });
});
