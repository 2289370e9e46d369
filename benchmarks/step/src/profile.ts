import type * as tf from '@tensorflow/tfjs-core';
import { median } from './torch-runs.js';

export interface KernelTotal {
  name: string;
  calls: number;
  totalMs: number;
}

type ProfileInfo = Awaited<ReturnType<typeof tf.profile>>;

/**
 * Sums a tf.profile() result per kernel name, slowest first. `isKernel` tells registered kernels
 * from the wrappers tfjs also records: `<op>__op` and "unnamed scope" entries are tf.customGrad
 * forward functions whose time already includes the kernels they ran (recorded separately),
 * so counting them would count those kernels twice.
 */
export async function summarizeProfile(info: ProfileInfo, isKernel: (name: string) => boolean): Promise<KernelTotal[]> {
  const totals = new Map<string, KernelTotal>();
  for (const kernel of info.kernels) {
    if (!isKernel(kernel.name)) continue;
    const time = await kernel.kernelTimeMs;
    const ms = typeof time === 'number' ? time : 0;
    const entry = totals.get(kernel.name) ?? { name: kernel.name, calls: 0, totalMs: 0 };
    entry.calls += 1;
    entry.totalMs += ms;
    totals.set(kernel.name, entry);
  }
  return [...totals.values()].sort((a, b) => b.totalMs - a.totalMs);
}

/** One profiled step: its wall time (profiler included) and its kernels. */
export interface ProfiledStep {
  wallMs: number;
  kernels: KernelTotal[];
}

export interface StepBreakdown {
  profiledSteps: number;
  /** Per kernel: its calls per step and the median over the profiled steps of its total ms, slowest first. */
  kernels: KernelTotal[];
  /** Kernel calls per step. */
  kernelCalls: number;
  /** Medians over the profiled steps: wall time, Σ kernel ms, and wall − Σ kernel ms (JS, tfjs dispatch and the profiler itself). */
  profiledStepMs: number;
  kernelMs: number;
  outsideKernelsMs: number;
}

/**
 * Medians over several profiled steps, since on a shared machine one step can be disturbed. Every
 * step runs the same graph, so a kernel whose call count differs between steps means the steps
 * were not alike and their medians would mix different work.
 */
export function combineProfiledSteps(steps: readonly ProfiledStep[]): StepBreakdown {
  if (steps.length === 0) throw new Error('combineProfiledSteps: no profiled steps');
  const names = new Set(steps.flatMap((s) => s.kernels.map((k) => k.name)));
  const kernels: KernelTotal[] = [];
  for (const name of names) {
    const perStep = steps.map((s) => s.kernels.find((k) => k.name === name));
    const calls = perStep.map((k) => k?.calls ?? 0);
    if (calls.some((c) => c !== calls[0])) throw new Error(`combineProfiledSteps: kernel ${name} ran ${calls.join(', ')} times in the profiled steps; they should be alike`);
    kernels.push({ name, calls: calls[0], totalMs: median(perStep.map((k) => k?.totalMs ?? 0)) });
  }
  kernels.sort((a, b) => b.totalMs - a.totalMs);
  const kernelMsOf = (s: ProfiledStep) => s.kernels.reduce((sum, k) => sum + k.totalMs, 0);
  return {
    profiledSteps: steps.length,
    kernels,
    kernelCalls: kernels.reduce((sum, k) => sum + k.calls, 0),
    profiledStepMs: median(steps.map((s) => s.wallMs)),
    kernelMs: median(steps.map(kernelMsOf)),
    outsideKernelsMs: median(steps.map((s) => s.wallMs - kernelMsOf(s))),
  };
}
