import type * as tf from '@tensorflow/tfjs-core';

export interface KernelTotal {
  name: string;
  calls: number;
  totalMs: number;
}

type ProfileInfo = Awaited<ReturnType<typeof tf.profile>>;

/** Sums a tf.profile() result per kernel name, slowest first. */
export async function summarizeProfile(info: ProfileInfo): Promise<KernelTotal[]> {
  const totals = new Map<string, KernelTotal>();
  for (const kernel of info.kernels) {
    // `<op>__op` entries are customGrad wrappers whose time already includes their inner kernels.
    if (kernel.name.endsWith('__op')) continue;
    const time = await kernel.kernelTimeMs;
    const ms = typeof time === 'number' ? time : 0;
    const entry = totals.get(kernel.name) ?? { name: kernel.name, calls: 0, totalMs: 0 };
    entry.calls += 1;
    entry.totalMs += ms;
    totals.set(kernel.name, entry);
  }
  return [...totals.values()].sort((a, b) => b.totalMs - a.totalMs);
}
