import { paperBalancer } from '@mm/example-kit';
import { cgMnistFusedNet, cgMnistUnimodalNet } from '@mm/models';
import { isUnimodal, type Method, type RunSettings } from './config.js';
import type { RunSpec } from './train-one.js';

/** A run of the paper's Table 1: the MMTM net (or a uni-modal net) with the paper's method. */
export function paperRunSpec(method: Method, seed: number, settings: RunSettings): RunSpec {
  const common = { widths: settings.widths, gateScale: settings.gateScale, seed };
  const unimodal = isUnimodal(method);
  return {
    method,
    seed,
    modalities: method === 'unimodal-colored' ? ['colored'] : method === 'unimodal-gray' ? ['gray'] : [...settings.pair],
    model: () => {
      if (method === 'unimodal-colored') return cgMnistUnimodalNet({ ...common, modality: 0 });
      if (method === 'unimodal-gray') return cgMnistUnimodalNet({ ...common, modality: 1 });
      return cgMnistFusedNet({ ...common, inputChannels: settings.pair.map((m) => (m === 'colored' ? 3 : 1)) as [number, number] });
    },
    balancer: (stepsPerEpoch) =>
      paperBalancer(unimodal ? 'unimodal' : (method as Exclude<Method, 'unimodal-colored' | 'unimodal-gray'>), {
        alpha: settings.alpha,
        windowSize: settings.windowSize,
        warmupSteps: stepsPerEpoch,
        numModalities: 2,
        seed: seed * 7 + 1,
        logBase: settings.logBase,
      }),
  };
}
