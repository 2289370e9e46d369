import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { initBackend } from '@mm/backend';
import { beforeAll, describe, expect, it } from 'vitest';
import { countParams } from '../count-params.js';
import { CG_MNIST_DEFAULT_WIDTHS, cgMnistFusedNet, cgMnistUnimodalNet } from './cg-mnist.js';

beforeAll(async () => {
  await initBackend({ backend: 'wasm', log: false });
});

/**
 * `params=` printed by `/usr/bin/python3 benchmarks/step/torch/torch_twin.py --steps 1 --warmup 0`
 * (torch 1.13, default widths 16/32/64/128, two branches, three MMTMs with ratio 4).
 */
const TORCH_TWIN_PARAMS = 284_820;

/** Trainable parameters of the layers whose names start with `prefix`. */
function paramsWithPrefix(model: tfl.LayersModel, prefix: string): number {
  return model.layers
    .filter((l) => l.name.startsWith(prefix))
    .flatMap((l) => l.trainableWeights)
    .reduce((sum, w) => sum + w.shape.reduce((a: number, b) => a * (b ?? 1), 1), 0);
}

/** One branch from the architecture: 4 × (conv3×3 with bias + BN γ, β) + Dense head. */
function branchParams(inChannels: number, widths: readonly number[], numClasses: number): number {
  let total = 0;
  let c = inChannels;
  for (const w of widths) {
    total += c * 9 * w + w + 2 * w;
    c = w;
  }
  return total + c * numClasses + numClasses;
}
/** MMTM over channel counts `cs`: Dense(Σc → h) + Dense(h → c_k) each, h = int(2·Σc/ratio). */
function mmtmParams(cs: number[], ratio: number): number {
  const sum = cs.reduce((a, b) => a + b, 0);
  const hidden = Math.floor((2 * sum) / ratio);
  return sum * hidden + hidden + cs.reduce((acc, c) => acc + hidden * c + c, 0);
}

describe('cgMnistFusedNet', () => {
  it('matches the PyTorch twin: same parameter count, inputs, outputs, names', () => {
    const model = cgMnistFusedNet();
    expect(countParams(model)).toBe(TORCH_TWIN_PARAMS);
    expect(model.inputNames).toEqual(['x_m0', 'x_m1']);
    expect(model.inputs.map((t) => t.shape)).toEqual([
      [null, 28, 28, 3],
      [null, 28, 28, 1],
    ]);
    expect(model.outputNames).toEqual(['m0_head', 'm1_head']);
    expect(model.outputs.map((t) => t.shape)).toEqual([
      [null, 10],
      [null, 10],
    ]);
    const weighted = model.layers.filter((l) => l.weights.length > 0).map((l) => l.name);
    expect(weighted.filter((n) => n.startsWith('mmtm_'))).toEqual(['mmtm_block2', 'mmtm_block3', 'mmtm_block4']);
    expect(weighted.every((n) => /^(m[01]_|mmtm_block[234]$)/.test(n))).toBe(true);
    // Block 4 keeps 7×7 (pools after blocks 1 and 2 only).
    expect(model.getLayer('m1_block4_relu').outputShape).toEqual([null, 7, 7, 128]);
    model.dispose();
  });

  it('counts parameters as the architecture says for other widths, channels and classes', () => {
    const widths = [8, 12, 16, 24] as const;
    const numClasses = 5;
    const ratio = 2;
    const model = cgMnistFusedNet({ widths, numClasses, ratio, inputChannels: [1, 1] });
    const branch = branchParams(1, widths, numClasses);
    expect(paramsWithPrefix(model, 'm0_')).toBe(branch);
    expect(paramsWithPrefix(model, 'm1_')).toBe(branch);
    const fusion = [widths[1], widths[2], widths[3]].reduce((s, c) => s + mmtmParams([c, c], ratio), 0);
    expect(paramsWithPrefix(model, 'mmtm_')).toBe(fusion);
    expect(countParams(model)).toBe(2 * branch + fusion);
    const late = cgMnistFusedNet({ widths, numClasses, fusion: 'none' });
    expect(countParams(late)).toBe(branchParams(3, widths, numClasses) + branchParams(1, widths, numClasses));
    // Late fusion: the branches without their heads, plus one head on the merged features.
    const headParams = (fanIn: number) => fanIn * numClasses + numClasses;
    const bare = (channels: number) => branchParams(channels, widths, numClasses) - headParams(widths[3]);
    const concat = cgMnistFusedNet({ widths, numClasses, fusion: 'concat' });
    expect(concat.outputs).toHaveLength(1);
    expect(countParams(concat)).toBe(bare(3) + bare(1) + headParams(2 * widths[3]));
    const sum = cgMnistFusedNet({ widths, numClasses, fusion: 'sum' });
    expect(countParams(sum)).toBe(bare(3) + bare(1) + headParams(widths[3]));
    const shared = cgMnistFusedNet({ widths, numClasses, fusion: 'shared-head' });
    expect(shared.outputs).toHaveLength(2);
    expect(countParams(shared)).toBe(bare(3) + bare(1) + headParams(widths[3]));
    expect(() => cgMnistFusedNet({ fusion: 'film' as never })).toThrow(/fusion must be one of mmtm, none, concat, sum, shared-head/);
    for (const m of [model, late, concat, sum, shared]) m.dispose();
  });

  it('starts identical for the same seed and different for another', () => {
    const weightsOf = (seed: number) => {
      const model = cgMnistFusedNet({ widths: [4, 4, 8, 8], seed });
      const values = model.getWeights().map((w) => Array.from(w.dataSync()));
      model.dispose();
      return values;
    };
    const a = weightsOf(1);
    expect(weightsOf(1)).toEqual(a);
    expect(weightsOf(2)).not.toEqual(a);
  });

  it('saves and loads (MMTM registered as a serializable class) with the same outputs', async () => {
    const model = cgMnistFusedNet({ widths: [4, 8, 8, 16], seed: 5 });
    let artifacts: tf.io.ModelArtifacts | undefined;
    await model.save(
      tf.io.withSaveHandler(async (a) => {
        artifacts = a;
        return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
      }),
    );
    const loaded = await tfl.loadLayersModel(tf.io.fromMemory(artifacts as tf.io.ModelArtifacts));
    expect(loaded.layers.map((l) => l.name)).toEqual(model.layers.map((l) => l.name));
    const [difference] = tf.tidy(() => {
      const x0 = tf.randomUniform([2, 28, 28, 3], 0, 1, 'float32', 1);
      const x1 = tf.randomUniform([2, 28, 28, 1], 0, 1, 'float32', 2);
      const a = model.predict([x0, x1]) as tf.Tensor[];
      const b = loaded.predict([x0, x1]) as tf.Tensor[];
      return [tf.max(tf.abs(tf.sub(tf.concat(a, 1), tf.concat(b, 1)))).dataSync()[0]];
    });
    expect(difference).toBe(0);
    model.dispose();
    loaded.dispose();
  });

  it('rejects bad options with a message naming the option', () => {
    expect(() => cgMnistFusedNet({ widths: [16, 32, 64] as never })).toThrow(/widths must be four positive integers/);
    expect(() => cgMnistFusedNet({ fusion: 'gated' as never })).toThrow(/fusion must be one of mmtm, none, concat, sum, shared-head/);
    expect(() => cgMnistUnimodalNet({ modality: 2 as never })).toThrow(/modality must be 0 .* or 1/);
  });

  it('trains on wasm: loss falls over a few SGD steps and no tensors leak', () => {
    const batchSize = 16;
    const numClasses = 10;
    const model = cgMnistFusedNet({ seed: 3 });
    // A fixed random batch: the net must be able to fit it.
    const colored = tf.randomUniform([batchSize, 28, 28, 3], 0, 1, 'float32', 7) as tf.Tensor4D;
    const gray = tf.tidy(() => tf.mean(colored, -1, true)) as tf.Tensor4D;
    const inputs = [colored, gray];
    const oneHot = tf.tidy(() => tf.cast(tf.oneHot(tf.tensor1d(Array.from({ length: batchSize }, (_, i) => i % numClasses), 'int32'), numClasses), 'float32')) as tf.Tensor2D;
    const optimizer = tf.train.momentum(0.01, 0.9);
    const step = () => {
      const cost = optimizer.minimize(() => {
        const [logits0, logits1] = model.apply(inputs, { training: true }) as tf.Tensor[];
        return tf.add(tf.losses.softmaxCrossEntropy(oneHot, logits0), tf.losses.softmaxCrossEntropy(oneHot, logits1)) as tf.Scalar;
      }, true) as tf.Scalar;
      const value = cost.dataSync()[0];
      cost.dispose();
      return value;
    };
    const losses = [step(), step()];
    const tensorsAfterWarmup = tf.memory().numTensors;
    for (let i = 0; i < 6; i++) losses.push(step());
    console.log(`cgMnistFusedNet on wasm, batch ${batchSize}: losses ${losses.map((l) => l.toFixed(3)).join(' ')}`);
    expect(tf.memory().numTensors).toBe(tensorsAfterWarmup);
    expect(losses.every(Number.isFinite)).toBe(true);
    expect(losses[losses.length - 1]).toBeLessThan(losses[0]);
    optimizer.dispose();
    tf.dispose([...inputs, oneHot]);
    model.dispose();
  });
});

describe('cgMnistUnimodalNet', () => {
  it('is one branch with SE blocks after blocks 2, 3, 4, every layer named m0_', () => {
    const ratio = 4;
    const seParams = [CG_MNIST_DEFAULT_WIDTHS[1], CG_MNIST_DEFAULT_WIDTHS[2], CG_MNIST_DEFAULT_WIDTHS[3]].reduce(
      (s, c) => s + mmtmParams([c], ratio),
      0,
    );
    for (const modality of [0, 1] as const) {
      const model = cgMnistUnimodalNet({ modality });
      const channels = modality === 0 ? 3 : 1;
      expect(model.inputNames).toEqual(['x_m0']);
      expect(model.inputs[0].shape).toEqual([null, 28, 28, channels]);
      expect(model.outputNames).toEqual(['m0_head']);
      expect(model.layers.filter((l) => l.name !== 'x_m0').every((l) => l.name.startsWith('m0_'))).toBe(true);
      expect(model.layers.filter((l) => l.getClassName() === 'SqueezeExcite').map((l) => l.name)).toEqual([
        'm0_se_block2',
        'm0_se_block3',
        'm0_se_block4',
      ]);
      expect(countParams(model)).toBe(branchParams(channels, CG_MNIST_DEFAULT_WIDTHS, 10) + seParams);
      const plain = cgMnistUnimodalNet({ modality, squeezeExcite: false });
      expect(countParams(plain)).toBe(branchParams(channels, CG_MNIST_DEFAULT_WIDTHS, 10));
      const out = tf.tidy(() => (model.predict(tf.zeros([2, 28, 28, channels])) as tf.Tensor).shape);
      expect(out).toEqual([2, 10]);
      model.dispose();
      plain.dispose();
    }
  });
});
