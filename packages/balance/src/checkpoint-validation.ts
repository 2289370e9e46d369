import { CheckpointError } from './errors.js';

/** The trainer's checkpoint as restore() receives it: anything, until checked. */
export interface CheckedCheckpoint {
  json: {
    step: number;
    epoch: number;
    stepInEpoch: number;
    stepsPerEpoch: number | null;
    skippedSteps: number;
    balancer: { name: string; state: Record<string, unknown> };
    optimizer: { className: string; iterations: number; slots: number };
    layers?: Record<string, unknown> | null;
  };
  tensors: Record<string, { shape: number[]; dtype: 'float32' | 'int32'; data: Float32Array | Int32Array }>;
}

const isRecord = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);
const isCount = (v: unknown): v is number => Number.isSafeInteger(v) && (v as number) >= 0;
const show = (v: unknown) => JSON.stringify(v)?.slice(0, 80) ?? String(v);

/**
 * Checks everything about a checkpoint that does not depend on the trainer: its format, the
 * counters (integers ≥ 0), the balancer and optimizer entries, and that every tensor is a
 * well-formed shape, dtype and array of that many values.
 */
export function checkCheckpoint(checkpoint: unknown, expectedFormat: string): CheckedCheckpoint {
  if (!isRecord(checkpoint)) throw new CheckpointError(`not a trainer checkpoint: ${show(checkpoint)}`);
  if (checkpoint.format !== expectedFormat) {
    throw new CheckpointError(`not a trainer checkpoint of this version (format ${show(checkpoint.format)}, expected ${expectedFormat})`);
  }
  const { json, tensors } = checkpoint;
  if (!isRecord(json)) throw new CheckpointError(`the checkpoint's json is ${show(json)}, not an object`);
  if (!isRecord(tensors)) throw new CheckpointError(`the checkpoint's tensors are ${show(tensors)}, not an object`);
  for (const key of ['step', 'epoch', 'stepInEpoch', 'skippedSteps']) {
    if (!isCount(json[key])) throw new CheckpointError(`the checkpoint's ${key} must be an integer ≥ 0, got ${show(json[key])}`);
  }
  if (json.stepsPerEpoch !== null && !(isCount(json.stepsPerEpoch) && json.stepsPerEpoch > 0)) {
    throw new CheckpointError(`the checkpoint's stepsPerEpoch must be a positive integer or null, got ${show(json.stepsPerEpoch)}`);
  }
  const { balancer, optimizer } = json;
  if (!isRecord(balancer) || typeof balancer.name !== 'string' || !isRecord(balancer.state)) {
    throw new CheckpointError(`the checkpoint's balancer must be { name, state }, got ${show(balancer)}`);
  }
  if (!isRecord(optimizer) || typeof optimizer.className !== 'string' || !isCount(optimizer.iterations) || !isCount(optimizer.slots)) {
    throw new CheckpointError(`the checkpoint's optimizer must be { className, iterations ≥ 0, slots ≥ 0 }, got ${show(optimizer)}`);
  }
  if (json.layers !== undefined && json.layers !== null && !isRecord(json.layers)) throw new CheckpointError(`the checkpoint's layers must be an object, got ${show(json.layers)}`);
  for (const [name, t] of Object.entries(tensors)) checkStoredTensor(name, t);
  return checkpoint as unknown as CheckedCheckpoint;
}

function checkStoredTensor(name: string, t: unknown): void {
  if (!isRecord(t)) throw new CheckpointError(`checkpoint tensor ${name} is ${show(t)}, not { shape, dtype, data }`);
  const { shape, dtype, data } = t;
  if (!Array.isArray(shape) || !Array.from(shape).every(isCount)) throw new CheckpointError(`checkpoint tensor ${name} has an invalid shape ${show(shape)}`);
  const expectedArray = dtype === 'float32' ? Float32Array : dtype === 'int32' ? Int32Array : undefined;
  if (!expectedArray) throw new CheckpointError(`checkpoint tensor ${name} has dtype ${show(dtype)}; float32 or int32 expected`);
  if (!(data instanceof expectedArray)) throw new CheckpointError(`checkpoint tensor ${name} is ${dtype} but its values are not a ${expectedArray.name}`);
  const size = (shape as number[]).reduce((a, b) => a * b, 1);
  if (data.length !== size) throw new CheckpointError(`checkpoint tensor ${name}: shape [${shape}] needs ${size} values, it holds ${data.length}`);
}

/** A stored tensor must fit the variable it is written to: same shape and dtype, every value finite. */
export function checkFits(name: string, stored: CheckedCheckpoint['tensors'][string], target: { shape: readonly (number | null)[]; dtype: string }, what: string): void {
  if (stored.shape.length !== target.shape.length || stored.shape.some((d, i) => d !== target.shape[i])) {
    throw new CheckpointError(`checkpoint tensor ${name} has shape [${stored.shape}], ${what} has [${target.shape}]`);
  }
  if (stored.dtype !== target.dtype) throw new CheckpointError(`checkpoint tensor ${name} is ${stored.dtype}, ${what} is ${target.dtype}`);
  checkFinite(name, stored);
}

/** The trainer never applies a non-finite step, so a checkpoint it wrote holds no NaN or ±Infinity. */
export function checkFinite(name: string, stored: CheckedCheckpoint['tensors'][string]): void {
  const bad = stored.data.findIndex((v) => !Number.isFinite(v));
  if (bad >= 0) throw new CheckpointError(`checkpoint tensor ${name} holds ${stored.data[bad]} at index ${bad}; a checkpoint of this trainer holds finite values only`);
}
