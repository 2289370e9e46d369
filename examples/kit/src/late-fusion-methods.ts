import { Agm, GradientBlending, Mla, MmPareto, ModalityDropout, OgmGe, Pmr, Ume, Vanilla, type Balancer } from '@mm/balance';

/**
 * The field's methods that need nothing but the model (no teachers, no data of their own), as
 * the benchmark and the browser page train them: each with @mm/balance's defaults, seeded where
 * it draws at random. UMT is left out: its teachers are trained models the caller must supply.
 */
export const LATE_FUSION_METHODS = ['vanilla-concat', 'ogm-ge', 'agm', 'pmr', 'mmpareto', 'gradient-blending', 'ume', 'modality-dropout', 'mla'] as const;
export type LateFusionMethod = (typeof LATE_FUSION_METHODS)[number];

export function lateFusionBalancer(method: LateFusionMethod, seed: number): Balancer {
  switch (method) {
    case 'vanilla-concat':
      return new Vanilla();
    case 'ogm-ge':
      return new OgmGe({ seed });
    case 'agm':
      return new Agm();
    case 'pmr':
      return new Pmr();
    case 'mmpareto':
      return new MmPareto();
    case 'gradient-blending':
      return new GradientBlending();
    case 'ume':
      return new Ume();
    case 'modality-dropout':
      return new ModalityDropout({ seed });
    case 'mla':
      return new Mla();
  }
}
