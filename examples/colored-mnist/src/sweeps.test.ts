import { parseCli } from '@mm/example-kit';
import { planSweep } from '@mm/sweep';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { balancerConfigFromCli } from './balancers-config.js';
import { CLI, configFromCli, defaultSettings } from './config.js';
import { checkRunSettings, runSettingsOf } from './settings-check.js';
import { balancerSweep, COLORED_MNIST_RUNNER, coloredMnistSweep, SWEEP_KINDS } from './sweeps.js';

const registry = { [COLORED_MNIST_RUNNER]: fileURLToPath(new URL('./sweep-runner.ts', import.meta.url)) };

describe('colored-mnist sweeps', () => {
  it('Table 1 is one run per planned (method, seed), with the main job\'s settings', async () => {
    const config = configFromCli(parseCli(CLI, ['--methods', 'vanilla,guided', '--seeds', '2']).values);
    const plan = await planSweep(registry, coloredMnistSweep(config));
    expect(plan.kind).toBe(SWEEP_KINDS.table);
    expect(plan.runs.map((r) => r.label)).toEqual(['vanilla seed 1 (colored+gray, lr 0.0100)', 'vanilla seed 2 (colored+gray, lr 0.0100)', 'guided seed 1 (colored+gray, lr 0.0100)', 'guided seed 2 (colored+gray, lr 0.0100)']);
    expect(plan.runs.every((r) => /^colored-mnist\/(vanilla|guided)-seed[12]-[0-9a-f]{12}$/.test(r.folder))).toBe(true);
    expect(plan.meta).toEqual(config);
  });

  it('§6.2 is the vanilla net over log-uniform learning rates for each modality pair', async () => {
    const config = configFromCli(parseCli(CLI, ['--sweep', '--sweep-runs', '2']).values);
    const plan = await planSweep(registry, coloredMnistSweep(config));
    expect(plan.kind).toBe(SWEEP_KINDS.sweep);
    expect(plan.runs.map((r) => r.label)).toEqual([
      'vanilla seed 1 (colored+gray, lr 0.00316)',
      'vanilla seed 2 (colored+gray, lr 0.0316)',
      'vanilla seed 1 (gray+gray, lr 0.00316)',
      'vanilla seed 2 (gray+gray, lr 0.0316)',
      'vanilla seed 1 (colored+colored, lr 0.00316)',
      'vanilla seed 2 (colored+colored, lr 0.0316)',
    ]);
  });

  it('the balancer benchmark runs UMT after the uni-modal runs of its seed, as their parent', async () => {
    const plan = await planSweep(registry, balancerSweep(balancerConfigFromCli({ methods: ['umt', 'ogm-ge'], seeds: 1 })));
    expect(plan.runs.map((r) => r.label.split(' (')[0])).toEqual(['unimodal-colored seed 1', 'unimodal-gray seed 1', 'ogm-ge seed 1', 'umt seed 1']);
    const umt = plan.runs[3];
    expect(umt.needs).toEqual([plan.runs[0].id, plan.runs[1].id]);
  });

  it('checks a run config field by field, naming what is wrong', async () => {
    const settings = runSettingsOf(defaultSettings());
    expect(checkRunSettings(settings)).toEqual(settings);
    expect(() => checkRunSettings({ ...settings, widths: [8, 16] })).toThrow(/settings\.widths must be a list of 4, got \[8,16\]/);
    expect(() => checkRunSettings({ ...settings, pair: ['colored', 'depth'] })).toThrow(/settings\.pair\[1\] must be one of colored, gray, got "depth"/);
    expect(() => checkRunSettings({ ...settings, learningRate: 0 })).toThrow(/settings\.learningRate must be a number > 0, got 0/);
    expect(() => checkRunSettings({ ...settings, lr: 0.1 })).toThrow(/settings has unknown field lr; known: trainSize/);
    expect(() => checkRunSettings({ ...settings, batchSize: 7000 })).toThrow(/settings\.batchSize \(7000\) is larger than settings\.trainSize \(6000\)/);
    await expect(planSweep(registry, { kind: 'x', runs: [{ runner: COLORED_MNIST_RUNNER, config: { method: 'greedy', seed: 1, settings } }] })).rejects.toThrow(
      /run #1 \(runner 'colored-mnist'\): invalid config: method must be one of unimodal-colored, unimodal-gray, vanilla, guided/,
    );
  });
});
