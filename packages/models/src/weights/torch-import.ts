import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import type { SafetensorsFile, SafetensorsTensor } from './safetensors.js';
import { tfjsToTorch, torchShapeOf, torchToTfjs, type TorchLayout } from './layout.js';

/**
 * Loading a PyTorch `state_dict` into a tfjs-layers model.
 *
 * A *binding* ties one tfjs weight to one PyTorch tensor name and a layout. Bindings are derived
 * from the model's layers: a module-name function turns a tfjs layer name into the PyTorch
 * module path (`layer2_0_downsample_0` → `layer2.0.downsample.0`), and the layer's class says
 * which parameters it has and how they are laid out:
 *
 * | tfjs layer | tfjs weight | PyTorch parameter | layout |
 * |---|---|---|---|
 * | Conv1D/2D/3D | kernel, bias | weight, bias | OI… → …IO |
 * | Dense | kernel, bias | weight, bias | transpose |
 * | BatchNormalization | gamma, beta, moving_mean, moving_variance | weight, bias, running_mean, running_var | as is |
 *
 * A Dense layer that follows a `flatten` of a feature map would also need its input rows
 * reordered (PyTorch flattens C,H,W, tfjs H,W,C); ResNet18 and I3D pool before their heads so
 * none of that applies here, and such a layer should get a custom binding.
 */

export interface TorchWeightBinding {
  /** Full name in the state dict, e.g. `layer1.0.conv1.weight`. */
  readonly torchName: string;
  /** The tfjs weight it fills. */
  readonly variable: tfl.LayerVariable;
  readonly layout: TorchLayout;
}

/** Parameters of one tfjs layer class, by the tfjs weight's own name. */
type ParameterTable = Readonly<Record<string, { torch: string; layout: TorchLayout }>>;

const CONV_TABLES: Readonly<Record<string, ParameterTable>> = {
  Conv1D: { kernel: { torch: 'weight', layout: 'conv1d' }, bias: { torch: 'bias', layout: 'identity' } },
  Conv2D: { kernel: { torch: 'weight', layout: 'conv2d' }, bias: { torch: 'bias', layout: 'identity' } },
  Conv3D: { kernel: { torch: 'weight', layout: 'conv3d' }, bias: { torch: 'bias', layout: 'identity' } },
  Dense: { kernel: { torch: 'weight', layout: 'linear' }, bias: { torch: 'bias', layout: 'identity' } },
  BatchNormalization: {
    gamma: { torch: 'weight', layout: 'identity' },
    beta: { torch: 'bias', layout: 'identity' },
    moving_mean: { torch: 'running_mean', layout: 'identity' },
    moving_variance: { torch: 'running_var', layout: 'identity' },
  },
};

/** PyTorch state-dict entries that carry no weight for tfjs (BatchNorm's step counter). */
export const TORCH_BOOKKEEPING_SUFFIXES: readonly string[] = ['.num_batches_tracked'];

export interface TorchBindingOptions {
  /** Only layers whose name starts with this are bound, and it is removed before mapping (e.g. `m1_`). Default ''. */
  namePrefix?: string;
  /**
   * PyTorch module path of a tfjs layer (its name without `namePrefix`), or `null` to leave the
   * layer out (it is then neither imported nor reported). Default: every `_` becomes `.`.
   */
  moduleName?: (layerName: string) => string | null;
  /** Prepended to every PyTorch name, e.g. `module.` (DataParallel) or `net_view_0.`. Default ''. */
  torchPrefix?: string;
}

/** The default module-name rule: torchvision paths with `.` written as `_`. */
export const underscoreToDot = (layerName: string): string => layerName.replaceAll('_', '.');

/** Short name of a weight inside its layer (`kernel`, `gamma`, …), without the layer scope or uniquifying suffix. */
function weightShortName(variable: tfl.LayerVariable): string {
  const full = variable.originalName;
  return full.slice(full.lastIndexOf('/') + 1);
}

/** Derives the bindings of every weight of every selected layer. Layers whose class it does not know are errors. */
export function torchBindingsFromLayers(model: tfl.LayersModel, options: TorchBindingOptions = {}): TorchWeightBinding[] {
  const prefix = options.namePrefix ?? '';
  const moduleName = options.moduleName ?? underscoreToDot;
  const torchPrefix = options.torchPrefix ?? '';
  const bindings: TorchWeightBinding[] = [];
  const unsupported: string[] = [];
  for (const layer of model.layers) {
    if (!layer.name.startsWith(prefix) || layer.weights.length === 0) continue;
    const module = moduleName(layer.name.slice(prefix.length));
    if (module === null) continue;
    const className = layer.getClassName();
    const table = CONV_TABLES[className];
    for (const variable of layer.weights) {
      const entry = table?.[weightShortName(variable)];
      if (!entry) {
        unsupported.push(`${variable.name} (layer class ${className})`);
        continue;
      }
      bindings.push({ torchName: `${torchPrefix}${module}.${entry.torch}`, variable, layout: entry.layout });
    }
  }
  if (unsupported.length > 0) {
    throw new Error(
      `no PyTorch mapping for these weights: ${unsupported.join(', ')}. Pass a moduleName that returns null for their layers, or bind them yourself.`,
    );
  }
  return bindings;
}

export interface ImportTorchOptions {
  /** State-dict names that no binding claims but are not errors (besides `num_batches_tracked`). */
  ignoreUnexpected?: (torchName: string) => boolean;
  /**
   * Only state-dict names under this prefix count as unexpected when unclaimed (importing one
   * branch from a file that holds several). Default: every name.
   */
  scope?: string;
  /** Where the state dict came from, for messages. */
  source?: string;
}

export interface ImportTorchReport {
  /** State-dict names that were loaded. */
  readonly loaded: string[];
  /** State-dict names that were present and deliberately not loaded. */
  readonly ignored: string[];
}

/** All mismatches between a model and a state dict, reported in one error. */
export class TorchWeightImportError extends Error {
  constructor(
    readonly source: string,
    readonly missing: readonly string[],
    readonly unexpected: readonly string[],
    readonly misshaped: readonly { name: string; expected: readonly number[]; actual: readonly number[] }[],
  ) {
    const lines = [`cannot load PyTorch weights from ${source}; nothing was changed:`];
    if (missing.length > 0) lines.push(`  missing (${missing.length}): ${missing.join(', ')}`);
    if (unexpected.length > 0) lines.push(`  unexpected (${unexpected.length}): ${unexpected.join(', ')}`);
    if (misshaped.length > 0) {
      lines.push(`  wrong shape (${misshaped.length}):`);
      for (const m of misshaped) lines.push(`    ${m.name}: file has [${m.actual.join(', ')}], model needs [${m.expected.join(', ')}]`);
    }
    lines.push(
      '  (names are PyTorch state_dict keys; check the architecture options such as numClasses and channels, the namePrefix/torchPrefix, or skip modules such as the head)',
    );
    super(lines.join('\n'));
    this.name = 'TorchWeightImportError';
  }
}

function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

/**
 * Checks every binding against the state dict, then writes all of them, or none when anything
 * is missing, unexpected or mis-shaped (one error lists every problem).
 */
export function importTorchStateDict(
  stateDict: SafetensorsFile | ReadonlyMap<string, SafetensorsTensor>,
  bindings: readonly TorchWeightBinding[],
  options: ImportTorchOptions = {},
): ImportTorchReport {
  const tensors = 'tensors' in stateDict ? (stateDict as SafetensorsFile).tensors : (stateDict as ReadonlyMap<string, SafetensorsTensor>);
  const source = options.source ?? 'state dict';
  const missing: string[] = [];
  const misshaped: { name: string; expected: number[]; actual: number[] }[] = [];
  const claimed = new Set<string>();
  for (const binding of bindings) {
    claimed.add(binding.torchName);
    const tensor = tensors.get(binding.torchName);
    if (!tensor) {
      missing.push(binding.torchName);
      continue;
    }
    const expected = torchShapeOf(binding.variable.shape as number[], binding.layout);
    if (!sameShape(expected, tensor.shape)) misshaped.push({ name: binding.torchName, expected, actual: [...tensor.shape] });
  }
  const unexpected: string[] = [];
  const ignored: string[] = [];
  for (const name of tensors.keys()) {
    if (claimed.has(name)) continue;
    const inScope = options.scope === undefined || name.startsWith(options.scope);
    if (!inScope) continue;
    if (TORCH_BOOKKEEPING_SUFFIXES.some((s) => name.endsWith(s)) || options.ignoreUnexpected?.(name)) {
      ignored.push(name);
    } else {
      unexpected.push(name);
    }
  }
  if (missing.length + unexpected.length + misshaped.length > 0) {
    throw new TorchWeightImportError(source, missing, unexpected, misshaped);
  }
  const loaded: string[] = [];
  for (const binding of bindings) {
    const stored = tensors.get(binding.torchName) as SafetensorsTensor;
    const converted = torchToTfjs({ shape: stored.shape, data: stored.toFloat32() }, binding.layout);
    const value = tf.tensor(converted.data, converted.shape as number[], 'float32');
    binding.variable.write(value);
    value.dispose();
    loaded.push(binding.torchName);
  }
  return { loaded, ignored };
}

/** The bound weights in PyTorch layout under their state-dict names (write them with `encodeSafetensors`). */
export function exportTorchStateDict(
  bindings: readonly TorchWeightBinding[],
): Record<string, { shape: number[]; data: Float32Array }> {
  const out: Record<string, { shape: number[]; data: Float32Array }> = {};
  for (const binding of bindings) {
    const data = binding.variable.read().dataSync() as Float32Array;
    const torch = tfjsToTorch({ shape: binding.variable.shape as number[], data: Float32Array.from(data) }, binding.layout);
    out[binding.torchName] = { shape: [...torch.shape], data: torch.data };
  }
  return out;
}
