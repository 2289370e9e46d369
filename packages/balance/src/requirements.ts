import type { Balancer, ModalityLogitSource, Requirements } from './balancer.js';
import { IncompatibleModelError } from './errors.js';
import type { Capability, ModelView } from './fusion/model-view.js';
import { METHODS } from './methods/index.js';

const CAPABILITY_TEXT: Record<Capability, string> = {
  'fusion-layers': 'fusion layers (MMTM) between the branches',
  'modality-logits': 'per-modality logits (one head per modality, or one Dense head directly on the merged features)',
  features: 'per-modality features (the inputs of the head; name them with fusion.features)',
  'shared-head': 'one head layer applied to every modality',
  'separable-branches': 'branches that each depend on one input only',
};

/** The first source in `wanted` this model can give per-modality logits from. */
export function chooseLogitSource(wanted: readonly ModalityLogitSource[], view: ModelView): ModalityLogitSource | undefined {
  return wanted.find((source) => {
    if (source === 'heads') return view.kind !== 'late';
    if (source === 'slices') return view.kind === 'late' && view.has('modality-logits');
    return view.has('features');
  });
}

/** Why a method with these requirements cannot train the model (empty when it can). */
export function unmetRequirements(requirements: Requirements, view: ModelView): string[] {
  const reasons: string[] = [];
  for (const cap of requirements.capabilities ?? []) if (!view.has(cap)) reasons.push(`it needs ${CAPABILITY_TEXT[cap]}`);
  if (requirements.modalityLogits && !chooseLogitSource(requirements.modalityLogits, view)) {
    const from = requirements.modalityLogits.map((s) => ({ heads: "the model's per-modality heads", slices: 'slices of a linear head on the merged features', aux: 'auxiliary heads on the per-modality features' })[s]);
    reasons.push(`it needs per-modality logits from ${from.join(' or ')}`);
  }
  // Balancing is between modalities: two at least, unless a method says otherwise (plain training).
  const { min = 2, max, why } = requirements.modalities ?? {};
  const m = view.numModalities;
  if ((min !== undefined && m < min) || (max !== undefined && m > max)) {
    reasons.push(`it is defined for ${min === max ? min : max === undefined ? `${min} or more` : `${min}–${max}`} modalities, the model has ${m}${why ? ` (${why})` : ''}`);
  }
  return reasons;
}

/** Names of the registered methods that can train this model. */
export function methodsFor(view: ModelView): string[] {
  return METHODS.filter((m) => unmetRequirements(m.requirements, view).length === 0).map((m) => m.name);
}

/** Throws IncompatibleModelError naming what is missing and which methods fit; returns the logit source to use. */
export function checkRequirements(balancer: Balancer, view: ModelView): ModalityLogitSource | undefined {
  const reasons = unmetRequirements(balancer.requirements, view);
  if (reasons.length > 0) {
    throw new IncompatibleModelError(balancer.name, reasons, methodsFor(view), `${reasons.join('; ')} (this is a ${view.kind} model with ${view.numModalities} modalities).`);
  }
  return balancer.requirements.modalityLogits ? chooseLogitSource(balancer.requirements.modalityLogits, view) : undefined;
}
