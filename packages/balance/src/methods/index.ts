import type { Balancer, Requirements } from '../balancer.js';
import { rubiLoss } from '../losses.js';
import { GuidedScheduler, RandomScheduler } from '../schedulers.js';
import { Greedy } from './greedy.js';
import { OgmGe } from './ogm-ge.js';
import { Mla } from './mla.js';
import { Vanilla } from './vanilla.js';

/** A balancing method as the registry lists it: what it needs, and how to make one with defaults. */
export interface MethodEntry {
  /** Registry name (kebab-case), e.g. 'ogm-ge'. */
  readonly name: string;
  /** The paper the method comes from. */
  readonly paper: string;
  /** What the method needs from a model with its default options. */
  readonly requirements: Requirements;
  /**
   * A balancer with the method's defaults. `stepsPerEpoch` sizes warm-ups that the papers
   * state in epochs; `numModalities` sizes per-modality state; `seed` fixes its randomness.
   */
  create(context: MethodContext): Balancer;
}

export interface MethodContext {
  stepsPerEpoch: number;
  numModalities: number;
  seed?: number;
}

const GREEDY_PAPER = 'Wu et al., Characterizing and Overcoming the Greedy Nature of Learning in Multi-modal Deep Neural Networks, ICML 2022';

function entry(name: string, paper: string, create: (c: MethodContext) => Balancer): MethodEntry {
  const sample = create({ stepsPerEpoch: 1, numModalities: 2 });
  return { name, paper, requirements: sample.requirements, create };
}

/** Every method of the library, in the order the documentation lists them. */
export const METHODS: readonly MethodEntry[] = [
  entry('vanilla', 'no balancing', () => new Vanilla()),
  entry('guided', GREEDY_PAPER, (c) => new Greedy({ scheduler: new GuidedScheduler({ alpha: 0.1, windowSize: 5, warmupSteps: c.stepsPerEpoch }) })),
  entry('random', GREEDY_PAPER, (c) => new Greedy({ scheduler: new RandomScheduler({ warmupSteps: c.stepsPerEpoch, numModalities: c.numModalities, seed: c.seed }) })),
  entry('ogm-ge', 'Peng et al., Balanced Multimodal Learning via On-the-fly Gradient Modulation, CVPR 2022', () => new OgmGe()),
  entry('rubi', 'Cadene et al., RUBi: Reducing Unimodal Biases for Visual Question Answering, NeurIPS 2019', () => new Greedy({ loss: rubiLoss(), learningSpeed: false })),
  entry('mla', 'Zhang et al., Multimodal Representation Learning by Alternating Unimodal Adaptation, CVPR 2024', () => new Mla()),
];

export function methodEntry(name: string): MethodEntry {
  const found = METHODS.find((m) => m.name === name);
  if (!found) throw new Error(`unknown balancing method '${name}'; choose from ${METHODS.map((m) => m.name).join(', ')}`);
  return found;
}
