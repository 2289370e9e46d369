import { spawnSync } from 'node:child_process';
import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';

const found = new Map<string, string>();

/**
 * A Python interpreter that can import `modules` ($MM_PYTHON, then the usual names: a pyenv
 * shim may hide Debian's packages, which install for /usr/bin/python3). Throws, with what to
 * install, when there is none: the comparisons with PyTorch are part of the test suite, not
 * optional (`.ci/run` installs python3-torch and python3-torchvision when they are missing).
 */
export function torchPython(modules: readonly string[] = ['torch']): string {
  const key = modules.join(',');
  const cached = found.get(key);
  if (cached) return cached;
  const candidates = [process.env.MM_PYTHON, 'python3', '/usr/bin/python3', 'python'].filter((c): c is string => Boolean(c));
  const tried: string[] = [];
  for (const candidate of candidates) {
    const probe = spawnSync(candidate, ['-c', `import ${key}`], { encoding: 'utf8' });
    if (probe.status === 0) {
      found.set(key, candidate);
      return candidate;
    }
    tried.push(`${candidate}: ${probe.error ? probe.error.message : (probe.stderr.trim().split('\n').pop() ?? `exit ${probe.status}`)}`);
  }
  const packages = modules.map((m) => `python3-${m}`).join(' ');
  throw new Error(
    `the PyTorch comparison needs a Python that can import ${modules.join(' and ')}: on Debian run ` +
      `apt-get install -y ${packages} (or point MM_PYTHON at such an interpreter); tried ${tried.join('; ')}`,
  );
}

/** Runs a reference script with the interpreter from `torchPython(modules)`; returns its stdout. */
export function runReferenceScript(script: string, args: readonly (string | number)[], modules: readonly string[] = ['torch']): string {
  const run = spawnSync(torchPython(modules), [script, ...args.map(String)], {
    encoding: 'utf8',
    // No __pycache__ next to the scripts (they import reference_tools.py).
    env: { ...process.env, OMP_NUM_THREADS: '1', PYTHONDONTWRITEBYTECODE: '1' },
  });
  if (run.status !== 0) throw new Error(`${script} failed (exit ${run.status}): ${run.stderr || run.error?.message}`);
  return run.stdout;
}

export function predictArray(model: tfl.LayersModel, input: tf.Tensor): Float32Array {
  return tf.tidy(() => (model.predict(input) as tf.Tensor).dataSync() as Float32Array);
}

export function maxAbsDifference(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`maxAbsDifference: lengths differ (${a.length} vs ${b.length})`);
  let worst = 0;
  for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i] - b[i]));
  return worst;
}

/**
 * The smallest, over pairs of samples, of the largest logit difference between the two: how far
 * apart the outputs for different inputs are. A comparison whose tolerance is not far below this
 * could pass with the input ignored.
 */
export function closestSamplePair(logits: ArrayLike<number>, batch: number): number {
  const perSample = logits.length / batch;
  let closest = Infinity;
  for (let i = 0; i < batch; i++) {
    for (let j = i + 1; j < batch; j++) {
      let far = 0;
      for (let k = 0; k < perSample; k++) far = Math.max(far, Math.abs(logits[i * perSample + k] - logits[j * perSample + k]));
      closest = Math.min(closest, far);
    }
  }
  return closest;
}
