import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '@mm/backend';
import { buildColoredGrayMnist } from '@mm/datasets/colored-mnist';
import { headAccuracies, toLabeledBatch, tryConditionalUtilization } from '@mm/metrics';
import { cgMnistFusedNet } from '@mm/models';
import { readFileSync } from 'node:fs';
await initBackend({ log: false });
const dir = process.argv[2];
const state = JSON.parse(readFileSync(`${dir}/checkpoint/state.json`, 'utf8'));
const bytes = readFileSync(`${dir}/checkpoint/best.bin`);
const model = cgMnistFusedNet({ widths: [16, 32, 64, 128], seed: 1 });
let offset = 0;
const byName = new Map<string, tf.Tensor>();
for (const e of state.manifests.best) {
  const n = e.shape.reduce((a: number, b: number) => a * b, 1);
  byName.set(e.name, tf.tensor(new Float32Array(new Uint8Array(bytes.subarray(offset, offset + 4 * n)).buffer), e.shape));
  offset += 4 * n;
}
for (const w of model.weights) w.write(byName.get(w.originalName)!);
for (const testColoring of ['class-means', 'uniform'] as const) {
  const data = buildColoredGrayMnist({ trainSize: 60000, validationFraction: 0.2, variance: 0.02, seed: 1, testColoring });
  const batches = (split: typeof data.test, limit?: number) => function* () { let seen = 0; for (const b of split.batches({ batchSize: 500 })) { if (limit && seen >= limit) return; seen += b.size; yield toLabeledBatch(b); } };
  const acc = await headAccuracies(model, batches(data.test)());
  const u = await tryConditionalUtilization(model, { train: batches(data.train), test: batches(data.test) });
  console.log(testColoring, 'test', acc.fused, 'heads', acc.heads, 'd_util', u.report?.dUtil, u.report?.utilization);
}
