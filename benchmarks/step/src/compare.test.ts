import { describe, expect, it } from 'vitest';
import { CompareUsageError, parseCompareArgs } from './compare-args.js';
import { formatTable } from './table.js';
import { median, parseBenchStepReport, parseTwinOutput, ratio, shouldRunTorch, TORCH_TWIN } from './torch-runs.js';

describe('compare arguments', () => {
  it('defaults to the CG-MNIST rounds with torch_twin.py', () => {
    const o = parseCompareArgs([]);
    expect(o.kind).toBe('rounds');
    expect(o.torchTwin).toBe(TORCH_TWIN);
    expect(o.rounds).toBe(2);
    expect(o.stock).toBe(true);
  });

  it('reads the scaling grid and its step counts', () => {
    const o = parseCompareArgs(['--', '--scaling', '--batches', '32,256', '--threads', '2', '--steps', '4', '--warmup', '1', '--json']);
    expect(o).toMatchObject({ kind: 'scaling', batches: [32, 256], threads: [2], steps: 4, warmup: 1, json: true });
    expect(parseCompareArgs(['--scaling']).batches).toEqual([32, 64, 128, 256]);
    expect(parseCompareArgs(['--scaling']).threads).toEqual([1, 2]);
  });

  it('takes one model and its batch for --models', () => {
    expect(parseCompareArgs(['--models']).models).toEqual(['resnet18', 'i3d']);
    expect(parseCompareArgs(['--models']).threads).toEqual([]);
    expect(parseCompareArgs(['--models', '--threads', '1']).threads).toEqual([1]);
    expect(parseCompareArgs(['--models', '--only', 'i3d', '--batch', '1'])).toMatchObject({ kind: 'models', models: ['i3d'], batch: 1 });
  });

  it('rejects what it cannot honour, naming the option', () => {
    const rejects = (argv: string[], message: RegExp) => {
      expect(() => parseCompareArgs(argv)).toThrow(CompareUsageError);
      expect(() => parseCompareArgs(argv)).toThrow(message);
    };
    rejects(['--scaling', '--models'], /separate runs/);
    rejects(['--models', '--batch', '4'], /--only/);
    rejects(['--models', '--threads', '1,2'], /one thread count for both sides, got 1,2/);
    rejects(['--models', '--only', 'vgg'], /--only takes one of resnet18, i3d, got vgg/);
    rejects(['--scaling', '--batches', '32,x'], /--batches needs a positive integer, got x/);
    rejects(['--scaling', '--batches'], /comma list/);
    rejects(['--rounds', '0'], /--rounds needs a positive integer/);
    rejects(['--batches', '32'], /--batches applies to --scaling only/);
    rejects(['--scaling', '--no-stock'], /applies to the default comparison only/);
    rejects(['--frobnicate'], /unknown argument --frobnicate/);
  });
});

describe("bench:step's PyTorch runs", () => {
  it('follow --torch / --no-torch, else run for --json vanilla timings when torch imports', () => {
    const probed: string[] = [];
    const imports = (answer: boolean) => () => (probed.push('probe'), answer);
    expect(shouldRunTorch({ asked: true, json: false, timesVanilla: true, torchImports: imports(false) })).toBe(true);
    expect(shouldRunTorch({ asked: false, json: true, timesVanilla: true, torchImports: imports(true) })).toBe(false);
    expect(probed).toHaveLength(0);
    expect(shouldRunTorch({ asked: undefined, json: true, timesVanilla: true, torchImports: imports(true) })).toBe(true);
    expect(shouldRunTorch({ asked: undefined, json: true, timesVanilla: true, torchImports: imports(false) })).toBe(false);
    expect(shouldRunTorch({ asked: undefined, json: false, timesVanilla: true, torchImports: imports(true) })).toBe(false);
    expect(shouldRunTorch({ asked: undefined, json: true, timesVanilla: false, torchImports: imports(true) })).toBe(false);
    expect(probed).toHaveLength(2);
  });
});

describe('reading the runs', () => {
  it("reads a twin's median, parameters, threads and batch", () => {
    const out = 'torch 1.13.0a0 model=i3d threads=2 batch=2 params=37538978\nstep ms: median 11991.6  min 8106.2  max 15877.0\n';
    expect(parseTwinOutput(out, 't')).toEqual({ medianStepMs: 11991.6, medianCpuMs: NaN, parameterCount: 37538978, threads: 2, batch: 2 });
    const withCpu = `${out}cpu ms per step (all threads): median 9120.5\n`;
    expect(parseTwinOutput(withCpu, 't').medianCpuMs).toBe(9120.5);
    expect(() => parseTwinOutput('torch 1.13 threads=2 batch=2 params=5\n', 't')).toThrow(/printed no median step time/);
  });

  it("reads bench:step's JSON line after its progress, and says when it is missing", () => {
    const json = JSON.stringify({ medianStepMs: 300.8, medianCpuMs: 238.2, threads: 2, batch: 32, parameterCount: 284820 });
    expect(parseBenchStepReport(`progress\n${json}\n`, 'c')).toMatchObject({ medianStepMs: 300.8, threads: 2 });
    expect(() => parseBenchStepReport('crashed\n', 'c')).toThrow(/not JSON/);
    expect(() => parseBenchStepReport(JSON.stringify({ medianStepMs: null, threads: 1, batch: 1, parameterCount: 1 }), 'c')).toThrow(/no medianStepMs/);
  });

  it('takes medians and two-decimal ratios', () => {
    expect(median([5, 1, 3])).toBe(3);
    expect(median([4, 1, 3, 2])).toBe(2.5);
    expect(() => median([])).toThrow();
    expect(ratio(300, 700)).toBe(0.43);
  });
});

describe('formatTable', () => {
  it('aligns numbers right and text left under a rule, with – for missing cells', () => {
    const table = formatTable(['model', 'ms', 'ratio'], [['resnet18', 1043.5, 0.2], ['i3d', 12000, null]]);
    expect(table.split('\n')).toEqual([
      'model         ms  ratio',
      '--------  ------  -----',
      'resnet18  1043.5    0.2',
      'i3d        12000      –',
    ]);
  });

  it('refuses rows that do not fit the header', () => {
    expect(() => formatTable(['a', 'b'], [[1]])).toThrow(/row 0 has 1 cells for 2 columns/);
  });
});
