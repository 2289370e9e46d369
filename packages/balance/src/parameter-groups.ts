import type { LayersModel, LayerVariable } from '@tensorflow/tfjs-layers';
import { fusionLayersOf, type FusionLayer } from '@mm/mmtm';

/** Selects layers by exact name, name prefix, or a predicate on the layer name. */
export type LayerSelector = { names?: string[]; prefixes?: string[]; predicate?: (layerName: string) => boolean };

export interface ParameterGroupDeclaration {
  /** θ_k: the layers of modality k's branch (head included). Default: layer names starting with `m{k}_`. */
  branches?: LayerSelector[];
  /**
   * θ'_k: fusion weights on the way to head k. Default: asked from every fusion layer
   * (`fusionWeightNames(k)`; for MMTM the shared squeeze Dense and modality k's excite Dense).
   */
  fusion?: LayerSelector[];
  /** Throw instead of reporting when a trainable weight is unassigned or assigned twice. Default false. */
  strict?: boolean;
}

export interface ParameterGroups {
  numModalities: number;
  /** θ_k per modality. */
  branch: LayerVariable[][];
  /** θ'_k per modality (a shared fusion weight appears in several). */
  fusion: LayerVariable[][];
  /** Trainable weights in no group: they are trained but do not enter the learning speed. */
  unassigned: string[];
  /** Trainable weights claimed by two branches, or by a branch and a fusion group. */
  conflicts: string[];
}

function matches(selector: LayerSelector, layerName: string): boolean {
  return (
    (selector.names?.includes(layerName) ?? false) ||
    (selector.prefixes?.some((p) => layerName.startsWith(p)) ?? false) ||
    (selector.predicate?.(layerName) ?? false)
  );
}

interface OwnedWeight {
  layerName: string;
  variable: LayerVariable;
}

function trainableWeightsByLayer(model: LayersModel): OwnedWeight[] {
  const out: OwnedWeight[] = [];
  const seen = new Set<LayerVariable>();
  const visit = (layers: readonly { name: string; trainableWeights: LayerVariable[]; layers?: unknown }[]) => {
    for (const layer of layers) {
      const nested = (layer as { layers?: unknown }).layers;
      if (Array.isArray(nested)) {
        visit(nested);
        continue;
      }
      for (const v of layer.trainableWeights) {
        if (seen.has(v)) continue;
        seen.add(v);
        out.push({ layerName: layer.name, variable: v });
      }
    }
  };
  visit(model.layers as never);
  return out;
}

/**
 * Splits a model's trainable weights into θ_k and θ'_k (§5.1). Works for the `@mm/models`
 * networks without a declaration (their layers follow the `m{k}_…` naming), and for any
 * model given explicit selectors. Weights that fall in no group, or in conflicting groups,
 * are listed (or thrown, with `strict`) — never silently dropped.
 */
export function resolveParameterGroups(model: LayersModel, declaration: ParameterGroupDeclaration = {}): ParameterGroups {
  const fusionLayers: FusionLayer[] = fusionLayersOf(model);
  const numModalities =
    declaration.branches?.length ?? (fusionLayers.length > 0 ? fusionLayers[0].numModalities : model.outputs.length);
  if (numModalities < 2) {
    throw new Error(
      `parameter groups need at least two modalities; the model has ${model.outputs.length} output(s) and ${fusionLayers.length} fusion layer(s). Declare branches explicitly.`,
    );
  }
  const branchSelectors = declaration.branches ?? Array.from({ length: numModalities }, (_, k) => ({ prefixes: [`m${k}_`] }));
  const weights = trainableWeightsByLayer(model);

  const fusionNames: Set<string>[] = Array.from({ length: numModalities }, () => new Set());
  if (declaration.fusion) {
    if (declaration.fusion.length !== numModalities) {
      throw new Error(`declared ${declaration.fusion.length} fusion groups for ${numModalities} modalities`);
    }
    for (const w of weights) {
      declaration.fusion.forEach((sel, k) => {
        if (matches(sel, w.layerName)) fusionNames[k].add(w.variable.name);
      });
    }
  } else {
    for (const layer of fusionLayers) {
      if (layer.numModalities !== numModalities) {
        throw new Error(`fusion layer ${layer.name} fuses ${layer.numModalities} modalities, the groups expect ${numModalities}`);
      }
      for (let k = 0; k < numModalities; k++) for (const n of layer.fusionWeightNames(k)) fusionNames[k].add(n);
    }
  }

  const branch: LayerVariable[][] = Array.from({ length: numModalities }, () => []);
  const fusion: LayerVariable[][] = Array.from({ length: numModalities }, () => []);
  const unassigned: string[] = [];
  const conflicts: string[] = [];
  for (const { layerName, variable } of weights) {
    const inBranches = branchSelectors.flatMap((sel, k) => (matches(sel, layerName) ? [k] : []));
    const inFusion = fusionNames.flatMap((names, k) => (names.has(variable.name) ? [k] : []));
    inBranches.forEach((k) => branch[k].push(variable));
    inFusion.forEach((k) => fusion[k].push(variable));
    if (inBranches.length === 0 && inFusion.length === 0) unassigned.push(variable.name);
    if (inBranches.length > 1 || (inBranches.length > 0 && inFusion.length > 0)) {
      conflicts.push(`${variable.name} (branches ${inBranches.join(',') || '-'}, fusion ${inFusion.join(',') || '-'})`);
    }
  }
  const emptyGroups = [
    ...branch.flatMap((g, k) => (g.length === 0 ? [`θ_${k} (branch ${k})`] : [])),
    ...fusion.flatMap((g, k) => (g.length === 0 ? [`θ'_${k} (fusion toward head ${k})`] : [])),
  ];
  if (emptyGroups.length > 0) {
    throw new Error(
      `empty parameter group(s): ${emptyGroups.join(', ')}. Name branch layers m{k}_… or declare selectors, and make sure the model contains fusion layers.`,
    );
  }
  if (declaration.strict && (unassigned.length > 0 || conflicts.length > 0)) {
    throw new Error(
      `parameter groups are not a clean partition:${unassigned.length ? `\n  unassigned: ${unassigned.join(', ')}` : ''}${conflicts.length ? `\n  assigned twice: ${conflicts.join('; ')}` : ''}`,
    );
  }
  return { numModalities, branch, fusion, unassigned, conflicts };
}
