import type { Balancer, Requirements } from '../balancer.js';
import { rubiLoss } from '../losses.js';
import { GuidedScheduler, RandomScheduler } from '../schedulers.js';
import { Agm } from './agm.js';
import { GradientBlending } from './gradient-blending.js';
import { Greedy } from './greedy.js';
import { ModalityDropout } from './modality-dropout.js';
import { OgmGe } from './ogm-ge.js';
import { Pmr } from './pmr.js';
import { MmPareto } from './mm-pareto.js';
import { Ume } from './ume.js';
import { Umt } from './umt.js';
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
  entry('agm', 'Li et al., Boosting Multi-modal Model Performance with Adaptive Gradient Modulation, ICCV 2023', () => new Agm()),
  entry('modality-dropout', 'generic modality dropout (whole-modality input dropout during training)', (c) => new ModalityDropout({ seed: c.seed })),
  entry('pmr', 'Fan et al., PMR: Prototypical Modal Rebalance for Multimodal Learning, CVPR 2023', () => new Pmr()),
  entry('mmpareto', 'Wei & Hu, MMPareto: Boosting Multimodal Learning with Innocent Unimodal Assistance, ICML 2024', () => new MmPareto()),
  entry('gradient-blending', 'Wang, Tran & Feiszli, What Makes Training Multi-Modal Classification Networks Hard?, CVPR 2020', () => new GradientBlending()),
  // UMT needs the user's pre-trained teachers: the default made here fails at attach, saying so.
  entry('umt', 'Du et al., On Uni-Modal Feature Learning in Supervised Multi-Modal Learning, ICML 2023', () => new Umt()),
  entry('ume', 'Du et al., On Uni-Modal Feature Learning in Supervised Multi-Modal Learning, ICML 2023', () => new Ume()),
  entry('mla', 'Zhang et al., Multimodal Representation Learning by Alternating Unimodal Adaptation, CVPR 2024', () => new Mla()),
];

export function methodEntry(name: string): MethodEntry {
  const found = METHODS.find((m) => m.name === name);
  if (!found) throw new Error(`unknown balancing method '${name}'; choose from ${METHODS.map((m) => m.name).join(', ')}`);
  return found;
}
