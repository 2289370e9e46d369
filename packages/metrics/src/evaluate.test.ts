import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import '@tensorflow/tfjs-backend-cpu';
import { MMTM } from '@mm/mmtm';
import { beforeAll, describe, expect, it } from 'vitest';
import type { LabeledBatch } from './batches.js';
import { conditionalUtilization, headAccuracies, recordSqueezeMeans, tryConditionalUtilization } from './evaluate.js';
import { UndefinedUtilizationError } from './utilization.js';

/**
 * A constructed two-modality model whose heads are the MMTM outputs themselves (2 channels =
 * 2 classes). m0 is constant (uninformative); m1 = 3·onehot(y). Head 0 reads the label only
 * through its gate, which is driven by m1's squeeze; head 1's gate is constant, so head 1
 * reads m1 directly and ignores m0.
 */
function constructedModel(): tfl.LayersModel {
  const in0 = tfl.input({ shape: [2] });
  const in1 = tfl.input({ shape: [2] });
  const mmtm = new MMTM({ name: 'mmtm_constructed', ratio: 4 });
  const [out0, out1] = mmtm.apply([in0, in1]) as tfl.SymbolicTensor[];
  const model = tfl.model({ inputs: [in0, in1], outputs: [out0, out1] });
  const w = mmtm.getWeights();
  const values = [
    tf.tensor2d([[0, 0], [0, 0], [1, 0], [0, 1]]), // squeeze kernel: hidden = relu(m1)
    tf.zeros([2]),
    tf.tensor2d([[5, 0], [0, 5]]), // excite0: w0 = 5·hidden
    tf.zeros([2]),
    tf.zeros([2, 2]), // excite1: w1 = 0, gate 1
    tf.zeros([2]),
    ...w.slice(6),
  ];
  mmtm.setWeights(values);
  tf.dispose(values.slice(0, 6));
  return model;
}

function* batches(labels: number[], batchSize: number): Generator<LabeledBatch> {
  for (let i = 0; i < labels.length; i += batchSize) {
    const y = labels.slice(i, i + batchSize);
    yield {
      inputs: [tf.ones([y.length, 2]), tf.tensor2d(y.map((c) => (c === 0 ? [3, 0] : [0, 3])))],
      labels: tf.tensor1d(y, 'int32'),
    };
  }
}

describe('conditional utilization rate on a constructed model', () => {
  beforeAll(async () => {
    await tf.setBackend('cpu');
  });

  const labels = Array.from({ length: 40 }, (_, i) => (i * 7) % 2);

  it('finds that head 0 relies on m1 and head 1 ignores m0', async () => {
    const model = constructedModel();
    const before = tf.memory().numTensors;
    const report = await conditionalUtilization(model, { train: () => batches(labels, 16), test: () => batches(labels, 16) });
    expect(tf.memory().numTensors).toBe(before);
    expect(report.samples).toBe(40);
    expect(report.headAccuracy).toEqual([1, 1]);
    // Cut: head 0's gate sees h̄1 = (1.5, 1.5) for every sample → ties → always class 0 → 50%.
    expect(report.cutHeadAccuracy).toEqual([0.5, 1]);
    expect(report.utilization).toEqual([0.5, 0]);
    expect(report.dUtil).toBe(0.5);
    expect(report.accuracy).toBe(1);
  });

  it('records h̄ as the mean squeeze over the training data', async () => {
    const model = constructedModel();
    expect(await recordSqueezeMeans(model, batches([0, 0, 0, 1], 3))).toBe(4);
    const mmtm = model.getLayer('mmtm_constructed');
    const mean1 = mmtm.weights.find((v) => v.name.includes('squeeze_mean1'))!.read();
    expect(Array.from(mean1.dataSync())).toEqual([2.25, 0.75]);
  });

  it('gives clear errors for empty data and zero accuracy instead of NaN', async () => {
    const model = constructedModel();
    await expect(headAccuracies(model, [])).rejects.toThrow(/empty data source/);
    await expect(recordSqueezeMeans(model, [])).rejects.toThrow(/saw no samples/);
    // Labels flipped: both heads are always wrong → A(f_k) = 0.
    const flipped = labels.map((y) => 1 - y);
    const wrongBatches = function* () {
      for (const b of batches(labels, 20)) {
        const y = tf.tensor1d(flipped.slice(0, b.labels.shape[0]), 'int32');
        b.labels.dispose();
        yield { inputs: b.inputs, labels: y };
      }
    };
    const failure = conditionalUtilization(model, { train: () => batches(labels, 20), test: wrongBatches });
    await expect(failure).rejects.toThrow(/head 0: .*zero accuracy/);
    // Typed, so an application can finish a run without the rate yet still surface real bugs.
    await expect(failure).rejects.toBeInstanceOf(UndefinedUtilizationError);
    // The application form reports that case instead of throwing, and still throws the others.
    const tried = await tryConditionalUtilization(model, { train: () => batches(labels, 20), test: wrongBatches });
    expect(tried.report).toBeNull();
    expect(tried.problem).toMatch(/head 0: .*zero accuracy/);
    await expect(tryConditionalUtilization(model, { train: () => [], test: () => batches(labels, 20) })).rejects.toThrow(/saw no samples/);
  });
});
