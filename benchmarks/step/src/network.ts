import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';

/**
 * The CG-MNIST MMTM network of `../shared/bench/torch_twin.py`, layer for layer, so that the
 * two step times can be compared. Both branches are identical but for their input channels
 * (colored image: 3, gray image: 1):
 *
 *   block1: conv3x3(16)  → BN → ReLU → maxpool2   (28 → 14)
 *   block2: conv3x3(32)  → BN → ReLU → maxpool2   (14 → 7)  → MMTM
 *   block3: conv3x3(64)  → BN → ReLU              (7)       → MMTM
 *   block4: conv3x3(128) → BN → ReLU              (7)       → MMTM
 *   global average pool → dense(10) per branch
 *
 * MMTM (ratio 4): z = relu(dense(concat(GAP(a0), GAP(a1)))), gate_k = 2·sigmoid(dense_k(z)),
 * a_k ← a_k · gate_k channel-wise. Layer names follow the project convention (`m{k}_…` for
 * branch k, `mmtm_<where>_…` for the fusion modules), which is what the parameter groups use.
 *
 * This is a benchmark-local copy: the MMTM here is built from stock dense layers plus a
 * weightless gating layer, which keeps the parameters and the arithmetic identical to the
 * PyTorch twin.
 */

export const IMAGE_SIZE = 28;
export const CLASSES = 10;
export const WIDTHS = [16, 32, 64, 128] as const;
export const MMTM_RATIO = 4;
export const GATE_SCALE = 2;
/** Blocks (1-based) after which MMTM fuses the branches. */
export const FUSED_BLOCKS = [2, 3, 4] as const;
export const INPUT_CHANNELS = [3, 1] as const;

/**
 * Run-time switch shared by the gating layers of one network: which modality's gate, if any,
 * is replaced by its batch mean (detached), as the re-balancing step of the paper does.
 */
export interface GateControl {
  rebalanceModality: number | null;
}

interface ChannelGateArgs {
  name: string;
  modality: number;
  control: GateControl;
}

/** Replaces the gate by its batch mean and passes no gradient back (PyTorch's `.detach()`). */
const detachedBatchMean = tf.customGrad(((gate: tf.Tensor) => ({
  value: tf.mean(gate, 0, true),
  gradFunc: () => tf.zerosLike(gate),
})) as unknown as Parameters<typeof tf.customGrad>[0]);

/**
 * a · (GATE_SCALE · sigmoid(logits)) channel-wise, for channels-last `a` of any rank ≥ 2.
 * Inputs: [a, logits] with logits of shape [batch, channels].
 */
class ChannelGate extends tfl.layers.Layer {
  static className = 'BenchChannelGate';
  private readonly modality: number;
  private readonly control: GateControl;

  constructor(args: ChannelGateArgs) {
    super({ name: args.name });
    this.modality = args.modality;
    this.control = args.control;
  }

  override computeOutputShape(inputShape: tfl.Shape | tfl.Shape[]): tfl.Shape {
    return (inputShape as tfl.Shape[])[0];
  }

  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    return tf.tidy(() => {
      const [a, logits] = inputs as tf.Tensor[];
      let gate = tf.mul(tf.sigmoid(logits), GATE_SCALE);
      if (this.control.rebalanceModality === this.modality) gate = detachedBatchMean(gate) as tf.Tensor;
      const broadcastShape = [gate.shape[0], ...new Array(a.rank - 2).fill(1), gate.shape[1]];
      return tf.mul(a, tf.reshape(gate, broadcastShape));
    });
  }

  override getConfig(): tf.serialization.ConfigDict {
    return { ...super.getConfig(), modality: this.modality };
  }
}

function block(x: tfl.SymbolicTensor, modality: number, index: number, pool: boolean): tfl.SymbolicTensor {
  const prefix = `m${modality}_block${index}`;
  let y = tfl.layers
    .conv2d({ filters: WIDTHS[index - 1], kernelSize: 3, padding: 'same', name: `${prefix}_conv` })
    .apply(x) as tfl.SymbolicTensor;
  // PyTorch's BatchNorm2d defaults: eps 1e-5, running-average momentum 0.1 (= Keras 0.9).
  y = tfl.layers.batchNormalization({ epsilon: 1e-5, momentum: 0.9, name: `${prefix}_bn` }).apply(y) as tfl.SymbolicTensor;
  y = tfl.layers.reLU({ name: `${prefix}_relu` }).apply(y) as tfl.SymbolicTensor;
  if (pool) y = tfl.layers.maxPooling2d({ poolSize: 2, strides: 2, name: `${prefix}_pool` }).apply(y) as tfl.SymbolicTensor;
  return y;
}

function mmtm(
  a0: tfl.SymbolicTensor,
  a1: tfl.SymbolicTensor,
  where: string,
  control: GateControl,
): [tfl.SymbolicTensor, tfl.SymbolicTensor] {
  const c0 = a0.shape[a0.shape.length - 1] as number;
  const c1 = a1.shape[a1.shape.length - 1] as number;
  const prefix = `mmtm_${where}`;
  const s0 = tfl.layers.globalAveragePooling2d({ name: `${prefix}_gap0` }).apply(a0) as tfl.SymbolicTensor;
  const s1 = tfl.layers.globalAveragePooling2d({ name: `${prefix}_gap1` }).apply(a1) as tfl.SymbolicTensor;
  const joint = tfl.layers.concatenate({ name: `${prefix}_concat` }).apply([s0, s1]) as tfl.SymbolicTensor;
  const hidden = Math.floor((2 * (c0 + c1)) / MMTM_RATIO);
  const z = tfl.layers
    .dense({ units: hidden, activation: 'relu', name: `${prefix}_squeeze` })
    .apply(joint) as tfl.SymbolicTensor;
  const logits0 = tfl.layers.dense({ units: c0, name: `${prefix}_excite0` }).apply(z) as tfl.SymbolicTensor;
  const logits1 = tfl.layers.dense({ units: c1, name: `${prefix}_excite1` }).apply(z) as tfl.SymbolicTensor;
  const y0 = new ChannelGate({ name: `${prefix}_gate0`, modality: 0, control }).apply([a0, logits0]) as tfl.SymbolicTensor;
  const y1 = new ChannelGate({ name: `${prefix}_gate1`, modality: 1, control }).apply([a1, logits1]) as tfl.SymbolicTensor;
  return [y0, y1];
}

export interface BenchNetwork {
  model: tfl.LayersModel;
  control: GateControl;
  fused: boolean;
}

/** Builds the two-branch network; `fused: false` drops the MMTM modules (torch_twin's unimodal mode). */
export function buildNetwork(fused = true): BenchNetwork {
  const control: GateControl = { rebalanceModality: null };
  const inputs = INPUT_CHANNELS.map((channels, k) =>
    tfl.input({ shape: [IMAGE_SIZE, IMAGE_SIZE, channels], name: `x_m${k}` }),
  );
  let a = inputs.map((x, k) => block(x, k, 1, true));
  for (let index = 2; index <= WIDTHS.length; index++) {
    a = a.map((x, k) => block(x, k, index, index === 2));
    if (fused && (FUSED_BLOCKS as readonly number[]).includes(index)) a = mmtm(a[0], a[1], `block${index}`, control);
  }
  const outputs = a.map((x, k) => {
    const pooled = tfl.layers.globalAveragePooling2d({ name: `m${k}_gap` }).apply(x) as tfl.SymbolicTensor;
    return tfl.layers.dense({ units: CLASSES, name: `m${k}_head` }).apply(pooled) as tfl.SymbolicTensor;
  });
  const model = tfl.model({ inputs, outputs, name: fused ? 'cgmnist_mmtm' : 'cgmnist_late' });
  return { model, control, fused };
}

/** Parameter groups of the learning-speed bookkeeping, as torch_twin's `speed_terms`. */
export type GroupName = 'theta0' | 'theta1' | 'fusion0' | 'fusion1';

export function parameterGroups(model: tfl.LayersModel): Record<GroupName, tf.Variable[]> {
  const groups: Record<GroupName, tf.Variable[]> = { theta0: [], theta1: [], fusion0: [], fusion1: [] };
  for (const layer of model.layers) {
    const variables = layer.trainableWeights.map((w) => w.read() as tf.Variable);
    if (layer.name.startsWith('m0_')) groups.theta0.push(...variables);
    else if (layer.name.startsWith('m1_')) groups.theta1.push(...variables);
    else if (layer.name.startsWith('mmtm_')) {
      // The shared squeeze belongs to both fusion groups; each excite to its own modality.
      if (layer.name.endsWith('_squeeze')) {
        groups.fusion0.push(...variables);
        groups.fusion1.push(...variables);
      } else if (layer.name.endsWith('_excite0')) groups.fusion0.push(...variables);
      else if (layer.name.endsWith('_excite1')) groups.fusion1.push(...variables);
    }
  }
  return groups;
}
