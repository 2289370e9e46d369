import { spawnSync } from 'node:child_process';
import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';

/** A Python interpreter that can `import torch`: $MM_PYTHON, then the usual names (pyenv shims may hide Debian's python3-torch). */
function findTorchPython(): { python?: string; reason: string } {
  const candidates = [process.env.MM_PYTHON, 'python3', '/usr/bin/python3', 'python'].filter((c): c is string => Boolean(c));
  const tried: string[] = [];
  for (const candidate of candidates) {
    const probe = spawnSync(candidate, ['-c', 'import torch'], { encoding: 'utf8' });
    if (probe.status === 0) return { python: candidate, reason: '' };
    tried.push(`${candidate}: ${probe.error ? probe.error.message : (probe.stderr.trim().split('\n').pop() ?? `exit ${probe.status}`)}`);
  }
  return { reason: `no Python with PyTorch (apt-get install -y python3-torch); tried ${tried.join('; ')}` };
}

/**
 * The interpreter the PyTorch logit comparisons run with. CI installs python3-torch
 * (.ci/run), so there a missing PyTorch is a failure, not a skip.
 */
export const torchPython = findTorchPython();
if (!torchPython.python) {
  if (process.env.CI) throw new Error(`PyTorch comparison cannot run in CI: ${torchPython.reason}`);
  console.warn(`skipping the PyTorch logit comparison: ${torchPython.reason}`);
}

export function predictArray(model: tfl.LayersModel, input: tf.Tensor): Float32Array {
  return tf.tidy(() => (model.predict(input) as tf.Tensor).dataSync() as Float32Array);
}
