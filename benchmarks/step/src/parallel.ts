import { once } from 'node:events';
import { Worker } from 'node:worker_threads';
import * as tf from '@tensorflow/tfjs-core';
import { parameterGroups, type GroupName } from './network.js';
import { LEARNING_RATE, MOMENTUM, Replica, speedTerms, usesBookkeeping, type Mode, type StepRunner } from './step.js';

/** What the main thread hands each worker (see worker.ts). */
export interface WorkerSetup {
  mode: Mode;
  batch: number;
  shard: number;
  shards: number;
  /** Current parameters, written by the main thread after every update. */
  weights: SharedArrayBuffer;
  /** One gradient slot per worker, `parameterCount` floats each. */
  gradients: SharedArrayBuffer;
}

export type WorkerMessage = { type: 'ready' } | { type: 'done'; loss: number } | { type: 'error'; message: string };

/**
 * Data-parallel training step over `shards` threads (this one plus shards − 1 worker threads,
 * each with its own wasm instance, since tfjs-wasm cannot use threads in Node). Every replica
 * computes the gradient of its slice of the batch; the main thread averages them (a plain
 * mean of equal-sized slices is the full-batch gradient, except that batch-norm statistics
 * are per slice, as in PyTorch's DistributedDataParallel without SyncBatchNorm), does the
 * bookkeeping and the SGD update, and publishes the new weights through shared memory.
 */
export async function createParallelStepRunner(mode: Mode, batch: number, shards: number): Promise<StepRunner> {
  if (batch % shards !== 0) throw new Error(`--workers ${shards} must divide the batch (${batch})`);
  const replica = new Replica(mode, batch, 0, shards);
  const variables = replica.trainable;
  const offsets: number[] = [];
  let total = 0;
  for (const v of variables) {
    offsets.push(total);
    total += v.size;
  }
  const weights = new SharedArrayBuffer(total * 4);
  const gradients = new SharedArrayBuffer(total * 4 * (shards - 1));
  const weightView = new Float32Array(weights);
  const publishWeights = () => variables.forEach((v, i) => weightView.set(v.dataSync() as Float32Array, offsets[i]));
  publishWeights();

  const workers = Array.from({ length: shards - 1 }, (_, w) => {
    const setup: WorkerSetup = { mode, batch, shard: w + 1, shards, weights, gradients };
    // Worker entry points bypass tsx's loader, so the worker registers it before importing worker.ts.
    const bootstrap = `import(${JSON.stringify(import.meta.resolve('tsx/esm/api'))})
      .then(({ register }) => { register(); return import(${JSON.stringify(new URL('./worker.ts', import.meta.url).href)}); })`;
    return new Worker(bootstrap, { eval: true, workerData: setup, execArgv: process.execArgv });
  });
  const next = async (worker: Worker): Promise<WorkerMessage> => {
    const [message] = (await once(worker, 'message')) as [WorkerMessage];
    if (message.type === 'error') throw new Error(`bench:step worker failed: ${message.message}`);
    return message;
  };
  await Promise.all(workers.map(next));

  const optimizer = tf.train.momentum(LEARNING_RATE, MOMENTUM);
  const groups = parameterGroups(replica.model);
  let terms: Partial<Record<GroupName, number>> = {};
  const slots = workers.map((_, w) => new Float32Array(gradients, w * total * 4, total));

  const step = async (): Promise<number> => {
    const replies = workers.map(next);
    workers.forEach((worker) => worker.postMessage('step'));
    // This thread's share runs while the workers compute theirs.
    const local = tf.tidy(() => {
      const { value, grads } = replica.gradients();
      // Weights off the graph (re-balanced excitations) get no gradient: count them as 0.
      const arrays = variables.map((v) => (grads[v.name] ? (grads[v.name].dataSync() as Float32Array) : new Float32Array(v.size)));
      return { loss: value.dataSync()[0], grads: arrays };
    });
    const done = (await Promise.all(replies)) as Extract<WorkerMessage, { type: 'done' }>[];
    const loss = tf.tidy(() => {
      const averaged: tf.NamedTensorMap = {};
      variables.forEach((v, i) => {
        const sum = Float32Array.from(local.grads[i]);
        for (const slot of slots) {
          const part = slot.subarray(offsets[i], offsets[i] + v.size);
          for (let j = 0; j < sum.length; j++) sum[j] += part[j];
        }
        for (let j = 0; j < sum.length; j++) sum[j] /= shards;
        averaged[v.name] = tf.tensor(sum, v.shape);
      });
      if (usesBookkeeping(mode)) terms = speedTerms(groups, averaged);
      optimizer.applyGradients(variables.map((v) => ({ name: v.name, tensor: averaged[v.name] })));
      return (local.loss + done.reduce((a, m) => a + m.loss, 0)) / shards;
    });
    publishWeights();
    return loss;
  };

  return {
    mode,
    step,
    lastSpeedTerms: () => terms,
    parameterCount: replica.trainable.reduce((n, v) => n + v.size, 0),
    dispose: async () => {
      await Promise.all(workers.map((worker) => worker.terminate()));
      optimizer.dispose();
      replica.dispose();
    },
  };
}
