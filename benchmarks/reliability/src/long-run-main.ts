#!/usr/bin/env node
import { writeFileSync } from 'node:fs';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '@mm/backend';
import { runCli } from '@mm/example-kit';
import { longRun, longRunMethods, type LongRunReport } from './long-run.js';

const CLI = {
  usage: 'pnpm --filter @mm/bench-reliability long-run -- [options]',
  summary: `Trains every balancer of @mm/balance (and each scheduler of the paper's method) for many steps on
the package's tiny test models, calling startEpoch every epoch as an app does, and records
tf.memory().numTensors and the process RSS after every epoch: the tensor count must
stay constant and RSS bounded (second half at most --rss-slack MB above the first half's peak).`,
  options: {
    steps: { kind: 'int', value: 'N', min: 2, help: 'steps per method (default 1000)' },
    'steps-per-epoch': { kind: 'int', value: 'N', min: 1, help: 'default 50' },
    'rss-slack': { kind: 'number', value: 'MB', min: 0, help: 'allowed RSS growth, MB (default 32)' },
    methods: { kind: 'list', value: 'LIST', help: 'subset of the methods (default all)' },
    report: { kind: 'string', value: 'FILE', help: 'write the reports as JSON' },
  },
} as const;

await runCli(CLI, async (args) => {
  const backend = await initBackend({ backend: 'wasm', log: false });
  const methods = longRunMethods().filter((m) => !args.methods || args.methods.includes(m.name));
  const reports: LongRunReport[] = [];
  const before = tf.memory().numTensors;
  for (const method of methods) {
    const r = await longRun(method, { steps: args.steps ?? 1000, stepsPerEpoch: args['steps-per-epoch'] ?? 50, rssSlackMb: args['rss-slack'] ?? 32 });
    reports.push(r);
    console.error(`${r.method}: ${r.steps} steps in ${r.seconds.toFixed(0)} s, tensors ${r.tensorsPerEpoch[0]}…${r.tensorsPerEpoch.at(-1)}, RSS ${Math.min(...r.rssMbPerEpoch)}–${Math.max(...r.rssMbPerEpoch)} MB, loss ${r.firstLoss.toFixed(3)} → ${r.lastLoss.toFixed(3)}`);
    if (args.report) writeFileSync(args.report, `${JSON.stringify({ backend, node: process.version, reports }, null, 2)}\n`);
  }
  const leftAfterAll = tf.memory().numTensors - before;
  console.log('method                       model                          steps  tensors (min–max)  RSS MB (first half max / second half max)  loss first → last  skipped  left  ok');
  for (const r of reports) {
    const half = Math.floor(r.rssMbPerEpoch.length / 2);
    console.log(
      [
        r.method.padEnd(28),
        r.model.padEnd(30),
        String(r.steps).padStart(5),
        `${Math.min(...r.tensorsPerEpoch)}–${Math.max(...r.tensorsPerEpoch)}`.padStart(18),
        `${Math.max(...r.rssMbPerEpoch.slice(0, half))} / ${Math.max(...r.rssMbPerEpoch.slice(half))}`.padStart(42),
        `${r.firstLoss.toFixed(3)} → ${r.lastLoss.toFixed(3)}`.padStart(18),
        String(r.skippedSteps).padStart(8),
        String(r.tensorsLeft).padStart(5),
        r.tensorsConstant && r.rssBounded && r.finiteLosses && r.tensorsLeft === 0 ? ' yes' : ' NO',
      ].join(' '),
    );
  }
  console.log(`tensors left after every trainer and model was disposed: ${leftAfterAll} (tfjs-layers keeps the shared head of a model that applies it twice)`);
  if (!reports.every((r) => r.tensorsConstant && r.rssBounded && r.finiteLosses && r.tensorsLeft === 0)) process.exitCode = 1;
});
