import { describe, expect, it } from 'vitest';
import { CompareUsageError, parseCompareArgs } from './compare-args.js';
import { formatTable } from './table.js';
import { sideBySideKernels } from './breakdown.js';
import { parseWidths } from './network.js';
import { combineProfiledSteps, summarizeProfile } from './profile.js';
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

  it('passes --widths to the CG-MNIST comparisons, full widths unless given', () => {
    expect(parseCompareArgs(['--scaling']).widths).toBeUndefined();
    const reduced = parseCompareArgs(['--scaling', '--widths', '8,16,32,64', '--batches', '64']);
    expect(reduced).toMatchObject({ kind: 'scaling', widths: [8, 16, 32, 64], batches: [64] });
    expect(parseCompareArgs(['--widths', '4,8,8,16']).widths).toEqual([4, 8, 8, 16]);
    expect(parseWidths('16,32,64,128')).toEqual([16, 32, 64, 128]);
  });

  it('reads --breakdown: one batch, thread counts, profiled steps', () => {
    const o = parseCompareArgs(['--breakdown', '--widths', '8,16,32,64', '--batch', '64', '--profile-steps', '3']);
    expect(o).toMatchObject({ kind: 'breakdown', widths: [8, 16, 32, 64], batch: 64, threads: [1, 2], profileSteps: 3 });
    expect(parseCompareArgs(['--breakdown']).profileSteps).toBe(5);
    expect(parseCompareArgs(['--breakdown', '--threads', '2']).threads).toEqual([2]);
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
    rejects(['--scaling', '--widths', '8,16,32'], /--widths needs four positive integers .*got 8,16,32$/);
    rejects(['--scaling', '--widths', '8,16,0,64'], /--widths needs four positive integers/);
    rejects(['--scaling', '--widths', '8,16,,64'], /--widths needs four positive integers/);
    rejects(['--scaling', '--widths', '8,16,32.5,64'], /--widths needs four positive integers/);
    rejects(['--scaling', '--widths'], /--widths needs four positive integers .*got nothing/);
    rejects(['--models', '--widths', '8,16,32,64'], /--widths applies to the default comparison or --scaling or --breakdown only/);
    rejects(['--scaling', '--profile-steps', '3'], /--profile-steps applies to --breakdown only/);
    rejects(['--breakdown', '--batches', '64'], /--batches applies to --scaling only/);
    rejects(['--breakdown', '--models'], /separate runs/);
    rejects(['--breakdown', '--profile-steps', '0'], /--profile-steps needs a positive integer/);
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

describe('the per-kernel profile', () => {
  type Info = Parameters<typeof summarizeProfile>[0];
  const entry = (name: string, ms: number) => ({ name, kernelTimeMs: Promise.resolve(ms) });
  const fakeProfile = (entries: ReturnType<typeof entry>[]) => ({ kernels: entries }) as unknown as Info;

  it('sums registered kernels per name and leaves out the customGrad wrappers that contain them', async () => {
    const registered = new Set(['Conv2D', 'Relu']);
    const info = fakeProfile([entry('Conv2D', 3), entry('unnamed scope', 4), entry('Relu', 1), entry('Conv2D', 2), entry('batchNorm__op', 9)]);
    expect(await summarizeProfile(info, (name) => registered.has(name))).toEqual([
      { name: 'Conv2D', calls: 2, totalMs: 5 },
      { name: 'Relu', calls: 1, totalMs: 1 },
    ]);
  });

  it('takes medians over the profiled steps, and the time outside kernels per step', () => {
    const step = (wallMs: number, conv: number, relu: number) => ({ wallMs, kernels: [{ name: 'Conv2D', calls: 2, totalMs: conv }, { name: 'Relu', calls: 1, totalMs: relu }] });
    const breakdown = combineProfiledSteps([step(20, 10, 2), step(40, 30, 1), step(22, 11, 3)]);
    expect(breakdown.kernels).toEqual([
      { name: 'Conv2D', calls: 2, totalMs: 11 },
      { name: 'Relu', calls: 1, totalMs: 2 },
    ]);
    expect(breakdown).toMatchObject({ profiledSteps: 3, kernelCalls: 3, profiledStepMs: 22, kernelMs: 14 });
    // wall − Σ kernels per step: 8, 9, 8.
    expect(breakdown.outsideKernelsMs).toBe(8);
    expect(() => combineProfiledSteps([])).toThrow(/no profiled steps/);
    const unlike = { wallMs: 5, kernels: [{ name: 'Conv2D', calls: 3, totalMs: 1 }] };
    expect(() => combineProfiledSteps([step(20, 10, 2), unlike])).toThrow(/Conv2D ran 2, 3 times/);
  });

  it('lays profiles side by side, slowest at the most threads first, with what the threads gained', () => {
    const one = { threads: 1, outsideKernelsMs: 30, kernels: [{ name: 'Conv2D', calls: 8, totalMs: 100 }, { name: 'Mul', calls: 150, totalMs: 12 }, { name: 'Sum', calls: 50, totalMs: 4 }] };
    const two = { threads: 2, outsideKernelsMs: 31, kernels: [{ name: 'Conv2D', calls: 8, totalMs: 50 }, { name: 'Mul', calls: 150, totalMs: 12 }, { name: 'Sum', calls: 50, totalMs: 4 }] };
    const { headers, rows } = sideBySideKernels([one, two], 2);
    expect(headers).toEqual(['kernel', 'calls', 'ms @1t', 'ms @2t', '@1t ÷ @2t']);
    expect(rows).toEqual([
      ['Conv2D', 8, 100, 50, 2],
      ['Mul', 150, 12, 12, 1],
      ['(other 1 kernels)', 50, 4, 4, 1],
      ['(Σ kernels)', 208, 116, 66, 1.76],
      ['(outside kernels)', null, 30, 31, 0.97],
    ]);
    expect(sideBySideKernels([one], 5).headers).toEqual(['kernel', 'calls', 'ms @1t']);
    expect(() => sideBySideKernels([], 5)).toThrow(/no profiles/);
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
