import { parentPort, workerData } from 'node:worker_threads';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-layers';
import { initBackend } from '@mm/backend';
import type { WorkerMessage, WorkerSetup } from './parallel.js';
import { Replica } from './step.js';

/** One data-parallel replica: on every 'step' message, load the shared weights, write this slice's gradients. */
const setup = workerData as WorkerSetup;
const port = parentPort;
if (port === null) throw new Error('worker.ts runs as a worker thread of bench:step (parallel.ts), not on its own');
const send = (message: WorkerMessage) => port.postMessage(message);

try {
  await initBackend({ backend: 'wasm', log: false, threads: 1 });
  const replica = new Replica(setup.mode, setup.batch, setup.shard, setup.shards);
  const variables = replica.trainable;
  const total = variables.reduce((n, v) => n + v.size, 0);
  const weights = new Float32Array(setup.weights);
  const slot = new Float32Array(setup.gradients, (setup.shard - 1) * total * 4, total);

  port.on('message', () => {
    try {
      const loss = tf.tidy(() => {
        let offset = 0;
        for (const v of variables) {
          v.assign(tf.tensor(weights.slice(offset, offset + v.size), v.shape));
          offset += v.size;
        }
        const { value, grads } = replica.gradients();
        offset = 0;
        for (const v of variables) {
          if (grads[v.name]) slot.set(grads[v.name].dataSync() as Float32Array, offset);
          else slot.fill(0, offset, offset + v.size);
          offset += v.size;
        }
        return value.dataSync()[0];
      });
      send({ type: 'done', loss });
    } catch (error) {
      send({ type: 'error', message: error instanceof Error ? error.message : String(error) });
    }
  });
  send({ type: 'ready' });
} catch (error) {
  send({ type: 'error', message: error instanceof Error ? error.message : String(error) });
}
