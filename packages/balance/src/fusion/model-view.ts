import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { fusionLayersOf, type FusionLayer } from '@mm/mmtm';
import { resolveParameterGroups, type ParameterGroupDeclaration, type ParameterGroups } from '../parameter-groups.js';
import { crossEntropy } from '../losses.js';

/**
 * How a model joins its modalities, which decides what a balancing method can read from it:
 * - `mmtm`: fusion layers (MMTM or another `FusionLayer`) between the branches and one head per
 *   modality; the prediction is the mean of the heads (the paper's setting).
 * - `late`: per-modality features joined by concatenation, sum or average into one head (the
 *   common case: two encoders, `concatenate`, a classifier).
 * - `shared-head`: one head layer applied to every modality's features; one output per modality,
 *   the prediction is their mean.
 * - `heads`: one separate head per modality and no fusion layer (an ensemble trained jointly).
 * - `unimodal`: one input, one output (the uni-modal baselines; only plain training applies).
 */
export type FusionKind = 'mmtm' | 'late' | 'shared-head' | 'heads' | 'unimodal';

/** What a model offers to balancing methods. */
export type Capability =
  /** Fusion layers whose modes cut or re-balance the cross-modal flow. */
  | 'fusion-layers'
  /** Per-modality logits: the model's own heads, or slices of a linear head on merged features. */
  | 'modality-logits'
  /** Per-modality features h_m (the head's inputs). */
  | 'features'
  /** One head layer shared by all modalities. */
  | 'shared-head'
  /** Feature m depends on input m only, so one modality can run without the others. */
  | 'separable-branches';

export interface FusionDeclaration {
  /** Default: detected from the model (fusion layers → mmtm; one output on merged features → late; …). */
  kind?: FusionKind;
  /**
   * Names of the layers whose outputs are the features h_m, in modality order. Default: the
   * inputs of the merge layer (late), or the inputs of the head layers (mmtm, shared-head, heads).
   */
  features?: string[];
  /** MMTM models: θ_k / θ'_k for the learning speed (default: the `m{k}_` naming and the fusion layers). */
  groups?: ParameterGroupDeclaration | ParameterGroups;
}

/** One forward pass as the balancing methods see it. */
export interface ForwardOutputs {
  /** Logits of the model's prediction [B, C]: its single output (late), or the mean of its heads. */
  prediction: tf.Tensor2D;
  /** The model's own per-modality logits (mmtm, shared-head, heads); undefined for late fusion. */
  heads?: tf.Tensor2D[];
  /** Per-modality features h_m [B, d_m], when the view knows them. */
  features?: tf.Tensor2D[];
}

type Merge = 'concat' | 'sum' | 'average';

const MERGES: Record<string, Merge> = { Concatenate: 'concat', Add: 'sum', Average: 'average' };

function layerClass(layer: tfl.layers.Layer): string {
  return layer.getClassName();
}

/** Every symbolic tensor a tensor is computed from, itself included, each once. */
function upstreamTensors(tensor: tfl.SymbolicTensor): Set<tfl.SymbolicTensor> {
  const visited = new Set<tfl.SymbolicTensor>();
  const stack = [tensor];
  while (stack.length > 0) {
    const t = stack.pop()!;
    if (visited.has(t)) continue;
    visited.add(t);
    stack.push(...t.inputs);
  }
  return visited;
}

/** The layers a symbolic tensor is computed from (its own source layer included, input layers excluded). */
function ancestorLayers(tensor: tfl.SymbolicTensor): Set<tfl.layers.Layer> {
  const seen = new Set<tfl.layers.Layer>();
  for (const t of upstreamTensors(tensor)) if (layerClass(t.sourceLayer) !== 'InputLayer') seen.add(t.sourceLayer);
  return seen;
}

/** Which of the model's inputs a symbolic tensor depends on. */
function inputIndicesOf(model: tfl.LayersModel, tensor: tfl.SymbolicTensor): number[] {
  const found = new Set<number>();
  for (const t of upstreamTensors(tensor)) {
    const k = model.inputs.indexOf(t);
    if (k >= 0) found.add(k);
  }
  return [...found].sort((a, b) => a - b);
}

function variablesOf(layers: Iterable<tfl.layers.Layer>): tf.Variable[] {
  const out: tf.Variable[] = [];
  for (const layer of layers) for (const w of layer.trainableWeights) out.push(w.read() as tf.Variable);
  return out;
}

function outputOfLayer(model: tfl.LayersModel, name: string): tfl.SymbolicTensor {
  let layer: tfl.layers.Layer;
  try {
    layer = model.getLayer(name);
  } catch {
    throw new Error(`fusion declaration: the model has no layer named '${name}' (its layers: ${model.layers.map((l) => l.name).join(', ')})`);
  }
  const out = layer.output;
  if (Array.isArray(out)) throw new Error(`fusion declaration: layer '${name}' has ${out.length} outputs; name a layer with one output per modality feature`);
  return out as tfl.SymbolicTensor;
}

/**
 * A model as the trainer and the balancing methods see it: its fusion kind, what it offers
 * (capabilities), one forward pass that also returns the per-modality features, per-modality
 * logits, and the trainable variables of each modality's encoder.
 *
 * Everything is derived from the model's graph: for a late-fusion model the merge layer's
 * inputs are the features and each feature's ancestors form that modality's encoder, so a
 * user's own `concatenate` model needs no declaration.
 */
export class ModelView {
  readonly kind: FusionKind;
  readonly numModalities: number;
  readonly numClasses: number;
  readonly capabilities: ReadonlySet<Capability>;
  readonly fusionLayers: FusionLayer[];
  /** Trainable variables of each modality's encoder (up to its feature; MMTM models: θ_k without head k). */
  readonly encoders: tf.Variable[][];
  /** The trainable variables that belong to no encoder and no fusion layer (the head or heads). */
  readonly headVariables: tf.Variable[];
  /** θ_k / θ'_k of an MMTM model (undefined for the other kinds). */
  readonly groups?: ParameterGroups;
  /** Width of each feature h_m, when known. */
  readonly featureSizes?: number[];

  private readonly probe: tfl.LayersModel;
  private readonly featureCount: number;
  private readonly merge?: Merge;
  /** The Dense head of a late model when it sits directly on the merge (its weights give per-modality logits). */
  private readonly linearHead?: tfl.layers.Layer;
  private readonly sharedHead?: tfl.layers.Layer;
  private readonly featureTensors: tfl.SymbolicTensor[];
  private branchModels: (tfl.LayersModel | undefined)[] = [];

  constructor(
    readonly model: tfl.LayersModel,
    declaration: FusionDeclaration = {},
  ) {
    this.fusionLayers = fusionLayersOf(model);
    const outputs = model.outputs;
    const kind = declaration.kind ?? this.detectKind();
    this.kind = kind;
    this.numModalities = model.inputs.length;
    if (kind === 'unimodal' && (this.numModalities !== 1 || outputs.length !== 1)) {
      throw new Error(`a unimodal model has one input and one output; this one has ${this.numModalities} and ${outputs.length}`);
    }
    const lastShape = outputs[0].shape;
    this.numClasses = lastShape[lastShape.length - 1] ?? 0;
    if (outputs.some((o) => o.shape.length !== 2)) {
      throw new Error(`every model output must be logits of shape [batch, classes]; got ${outputs.map((o) => JSON.stringify(o.shape)).join(', ')}`);
    }
    for (const o of outputs) {
      const activation = (o.sourceLayer.getConfig() as { activation?: string }).activation;
      if (activation !== undefined && activation !== 'linear') {
        throw new Error(`output layer '${o.sourceLayer.name}' applies '${activation}': the trainer needs logits; build the head with activation 'linear' and apply softmax when predicting`);
      }
    }

    let features: tfl.SymbolicTensor[] = declaration.features ? declaration.features.map((n) => outputOfLayer(model, n)) : [];
    if (kind === 'late') {
      if (outputs.length !== 1) throw new Error(`a late-fusion model has one output (the fused head); this one has ${outputs.length}`);
      const found = this.findMerge(outputs[0]);
      if (!declaration.features) {
        if (!found) {
          throw new Error(
            `cannot find the merge of the modalities: no Concatenate, Add or Average layer with ${this.numModalities} inputs feeds the output '${outputs[0].sourceLayer.name}'. Name the feature layers with fusion.features.`,
          );
        }
        features = found.inputs;
      }
      if (found && found.inputs.every((t, k) => t === features[k])) {
        this.merge = found.merge;
        // Per-modality logits are defined when the head is one Dense applied directly to the merge.
        const head = outputs[0].sourceLayer;
        if (layerClass(head) === 'Dense' && outputs[0].inputs[0] === found.output) this.linearHead = head;
      }
    } else if (kind === 'unimodal') {
      if (!declaration.features && layerClass(outputs[0].sourceLayer) === 'Dense' && outputs[0].inputs.length === 1) features = [outputs[0].inputs[0]];
    } else if (kind === 'mmtm' || kind === 'shared-head' || kind === 'heads') {
      if (outputs.length !== this.numModalities) {
        throw new Error(`a ${kind} model has one output (head) per modality: ${this.numModalities} inputs but ${outputs.length} outputs`);
      }
      if (!declaration.features) {
        // The input of each Dense head is its modality's feature (not known for other head types).
        const dense = outputs.every((o) => layerClass(o.sourceLayer) === 'Dense' && o.inputs.length === 1);
        if (dense) features = outputs.map((o) => o.inputs[0]);
        else if (kind !== 'mmtm') throw new Error(`the heads of a ${kind} model must be Dense layers, or name the feature layers with fusion.features`);
      }
      if (kind === 'shared-head') {
        const head = outputs[0].sourceLayer;
        if (outputs.some((o) => o.sourceLayer !== head)) throw new Error('a shared-head model applies one head layer to every modality; its outputs come from different layers');
        this.sharedHead = head;
      }
    }
    if (kind === 'mmtm' && this.fusionLayers.length === 0) {
      throw new Error('fusion kind mmtm needs fusion layers (MMTM or another FusionLayer) between the branches; this model has none');
    }
    if (features.length > 0 && features.length !== this.numModalities) {
      throw new Error(`expected ${this.numModalities} features (one per modality), got ${features.length}`);
    }
    this.featureTensors = features;
    this.featureCount = features.length;
    if (features.length > 0) {
      features.forEach((f, k) => {
        if (f.shape.length !== 2) throw new Error(`feature ${k} ('${f.sourceLayer.name}') must be a vector per sample [batch, d]; got ${JSON.stringify(f.shape)}`);
      });
      this.featureSizes = features.map((f) => f.shape[1] as number);
    }

    // Which input each feature depends on decides separability and the modality order.
    const separable =
      features.length > 0 &&
      features.every((f, k) => {
        const deps = inputIndicesOf(model, f);
        return deps.length === 1 && deps[0] === k;
      });
    if (kind !== 'mmtm' && features.length > 0 && !separable) {
      const deps = features.map((f, m) => `feature ${m} ('${f.sourceLayer.name}') depends on input(s) ${inputIndicesOf(model, f).join(',')}`);
      throw new Error(`feature m must depend on input m only (modality order = input order): ${deps.join('; ')}`);
    }

    const fusionVariables = new Set(variablesOf(this.fusionLayers as unknown as tfl.layers.Layer[]));
    if (kind === 'mmtm') {
      this.groups = declaration.groups && isResolved(declaration.groups) ? declaration.groups : resolveParameterGroups(model, declaration.groups as ParameterGroupDeclaration | undefined);
      const headLayers = new Set(outputs.map((o) => o.sourceLayer));
      const headVars = new Set(variablesOf(headLayers));
      this.encoders = this.groups.branch.map((g) => g.map((v) => v.read() as tf.Variable).filter((v) => !headVars.has(v)));
    } else if (kind === 'unimodal' && features.length === 0) {
      this.encoders = [model.trainableWeights.map((w) => w.read() as tf.Variable)];
    } else {
      if (features.length === 0) throw new Error(`a ${kind} model needs its per-modality features; name them with fusion.features`);
      this.encoders = features.map((f) => variablesOf(ancestorLayers(f)).filter((v) => !fusionVariables.has(v)));
    }
    const inEncoder = new Set(this.encoders.flat());
    this.headVariables = model.trainableWeights.map((w) => w.read() as tf.Variable).filter((v) => !inEncoder.has(v) && !fusionVariables.has(v));

    const caps = new Set<Capability>();
    if (this.fusionLayers.length > 0) caps.add('fusion-layers');
    if (kind !== 'late' || this.linearHead) caps.add('modality-logits');
    if (features.length > 0) caps.add('features');
    if (kind === 'shared-head') caps.add('shared-head');
    if (separable) caps.add('separable-branches');
    this.capabilities = caps;

    this.probe = features.length > 0 ? tfl.model({ inputs: model.inputs, outputs: [...features, ...outputs], name: `${model.name}_balance_view` }) : model;
  }

  private detectKind(): FusionKind {
    if (this.fusionLayers.length > 0) return 'mmtm';
    if (this.model.inputs.length === 1) return 'unimodal';
    const outputs = this.model.outputs;
    if (outputs.length === 1) return 'late';
    const first = outputs[0].sourceLayer;
    return outputs.every((o) => o.sourceLayer === first) ? 'shared-head' : 'heads';
  }

  /** The merge layer on the way to the output: walks back through single-input layers. */
  private findMerge(output: tfl.SymbolicTensor): { merge: Merge; inputs: tfl.SymbolicTensor[]; output: tfl.SymbolicTensor } | undefined {
    let t: tfl.SymbolicTensor | undefined = output;
    while (t) {
      const merge = MERGES[layerClass(t.sourceLayer)];
      if (merge && t.inputs.length === this.model.inputs.length) {
        if (merge === 'concat') {
          const axis = (t.sourceLayer.getConfig() as { axis?: number }).axis ?? -1;
          if (axis !== -1 && axis !== 1) return undefined;
        }
        return { merge, inputs: [...t.inputs], output: t };
      }
      t = t.inputs.length === 1 ? t.inputs[0] : undefined;
    }
    return undefined;
  }

  has(capability: Capability): boolean {
    return this.capabilities.has(capability);
  }

  /** One forward pass: prediction logits, the model's heads, and the features when known. */
  forward(inputs: tf.Tensor[], training: boolean): ForwardOutputs {
    const raw = this.probe.apply(inputs.length === 1 ? inputs[0] : inputs, { training });
    const all = (Array.isArray(raw) ? raw : [raw]) as tf.Tensor2D[];
    const features = this.featureCount > 0 ? all.slice(0, this.featureCount) : undefined;
    const outputs = all.slice(this.featureCount);
    if (this.kind === 'late') return { prediction: outputs[0], features };
    const prediction = outputs.length === 1 ? outputs[0] : (tf.div(tf.addN(outputs), outputs.length) as tf.Tensor2D);
    return { prediction, heads: outputs, features };
  }

  /**
   * Per-modality logits z_m: the model's heads, or for a late model with a Dense head on the
   * merged features the head's slice for modality m, z_m = h_m·W_m + b/M (concatenation), as
   * OGM-GE and BalanceBenchmark compute them, so that Σ_m z_m is the fused logit.
   */
  modalityLogits(out: ForwardOutputs): tf.Tensor2D[] {
    if (out.heads) return out.heads;
    if (!this.linearHead || !out.features) {
      throw new Error('this late-fusion model has no per-modality logits: its head is not one Dense layer on the merged features (use auxiliary heads)');
    }
    const [kernel, bias] = this.linearHeadWeights();
    const m = this.numModalities;
    let offset = 0;
    return out.features.map((h) => {
      const d = h.shape[1];
      let z: tf.Tensor2D;
      if (this.merge === 'concat') {
        z = tf.matMul(h, tf.slice(kernel, [offset, 0], [d, -1]) as tf.Tensor2D);
        offset += d;
      } else {
        z = tf.matMul(this.merge === 'average' ? (tf.div(h, m) as tf.Tensor2D) : h, kernel);
      }
      return (bias ? tf.add(z, tf.div(bias, m)) : z) as tf.Tensor2D;
    });
  }

  private linearHeadWeights(): [tf.Tensor2D, tf.Tensor1D | undefined] {
    const weights = this.linearHead!.trainableWeights.map((w) => w.read());
    return [weights[0] as tf.Tensor2D, weights[1] as tf.Tensor1D | undefined];
  }

  /** The model's own training loss: Σ_k CE(y, ŷ_k) over its heads (Eq. 4), or CE of a late model's output. */
  baseLoss(out: ForwardOutputs, labels: tf.Tensor2D): tf.Scalar {
    if (out.heads) return tf.addN(out.heads.map((h) => crossEntropy(labels, h))) as tf.Scalar;
    return crossEntropy(labels, out.prediction);
  }

  /** Feature h_m from input m alone (models with separable branches). */
  branchFeature(modality: number, input: tf.Tensor, training: boolean): tf.Tensor2D {
    if (!this.has('separable-branches')) throw new Error(`modality ${modality} cannot run alone: the model's branches are not separable`);
    let branch = this.branchModels[modality];
    if (!branch) {
      branch = tfl.model({ inputs: this.model.inputs[modality], outputs: this.featureTensors[modality], name: `${this.model.name}_branch_${modality}` });
      this.branchModels[modality] = branch;
    }
    return branch.apply(input, { training }) as tf.Tensor2D;
  }

  /** The shared head applied to one modality's features (shared-head models). */
  applySharedHead(features: tf.Tensor2D): tf.Tensor2D {
    if (!this.sharedHead) throw new Error(`this ${this.kind} model has no shared head`);
    return this.sharedHead.apply(features) as tf.Tensor2D;
  }

  /** Trainable variables of the shared head (shared-head models). */
  sharedHeadVariables(): tf.Variable[] {
    if (!this.sharedHead) throw new Error(`this ${this.kind} model has no shared head`);
    return variablesOf([this.sharedHead]);
  }
}

function isResolved(groups: ParameterGroupDeclaration | ParameterGroups): groups is ParameterGroups {
  return Array.isArray((groups as ParameterGroups).branch) && Array.isArray((groups as ParameterGroups).fusion);
}
