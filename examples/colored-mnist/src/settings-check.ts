import type { CgMnistModality } from '@mm/datasets/colored-mnist';
import type { ExperimentSettings, RunSettings } from './config.js';

type Check = (value: unknown, name: string) => unknown;

const MODALITIES: readonly CgMnistModality[] = ['colored', 'gray'];

const number =
  (o: { integer?: boolean; min?: number; max?: number; above?: number; below?: number }): Check =>
  (v, name) => {
    const bounds = [o.min !== undefined ? `≥ ${o.min}` : '', o.above !== undefined ? `> ${o.above}` : '', o.max !== undefined ? `≤ ${o.max}` : '', o.below !== undefined ? `< ${o.below}` : ''].filter(Boolean).join(' and ');
    const ok = typeof v === 'number' && Number.isFinite(v) && (!o.integer || Number.isInteger(v)) && (o.min === undefined || v >= o.min) && (o.max === undefined || v <= o.max) && (o.above === undefined || v > o.above) && (o.below === undefined || v < o.below);
    if (!ok) throw new Error(`${name} must be ${o.integer ? 'an integer' : 'a number'}${bounds ? ` ${bounds}` : ''}, got ${JSON.stringify(v)}`);
    return v;
  };

const optional =
  (check: Check): Check =>
  (v, name) =>
    v === undefined ? undefined : check(v, name);

const tuple =
  (length: number, item: Check): Check =>
  (v, name) => {
    if (!Array.isArray(v) || v.length !== length) throw new Error(`${name} must be a list of ${length}, got ${JSON.stringify(v)}`);
    return v.map((x, i) => item(x, `${name}[${i}]`));
  };

const oneOf =
  (choices: readonly string[]): Check =>
  (v, name) => {
    if (typeof v !== 'string' || !choices.includes(v)) throw new Error(`${name} must be one of ${choices.join(', ')}, got ${JSON.stringify(v)}`);
    return v;
  };

const RUN_SETTINGS: Record<keyof RunSettings, Check> = {
  trainSize: number({ integer: true, min: 1, max: 60000 }),
  testSize: optional(number({ integer: true, min: 1, max: 10000 })),
  validationFraction: number({ min: 0, below: 1 }),
  variance: number({ min: 0 }),
  testColoring: optional(oneOf(['class-means', 'uniform'])),
  dataSeed: number({ integer: true, min: 0 }),
  batchSize: number({ integer: true, min: 1 }),
  learningRate: number({ above: 0 }),
  momentum: number({ min: 0, below: 1 }),
  epochs: number({ integer: true, min: 1 }),
  stopAtTrainAccuracy: optional(number({ above: 0, max: 1 })),
  trainAccuracySamples: number({ integer: true, min: 1 }),
  squeezeRecordingSamples: optional(number({ integer: true, min: 1 })),
  alpha: number({ min: 0 }),
  windowSize: number({ integer: true, min: 1 }),
  logBase: number({ above: 1 }),
  gateScale: number({ above: 0 }),
  widths: tuple(4, number({ integer: true, min: 1 })),
  pair: tuple(2, oneOf(MODALITIES)),
};

/**
 * Checks a run's settings as they arrive from outside (a sweep submission, a JSON file): every
 * field present with a value in range, nothing unknown (a misspelt field would otherwise be
 * silently ignored). Errors name the field, e.g. `settings.widths must be a list of 4, got [8,16]`.
 */
export function checkRunSettings(value: unknown, where = 'settings'): RunSettings {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) throw new Error(`${where} must be an object, got ${JSON.stringify(value)}`);
  const input = value as Record<string, unknown>;
  const unknown = Object.keys(input).filter((k) => !(k in RUN_SETTINGS));
  if (unknown.length) throw new Error(`${where} has unknown field${unknown.length > 1 ? 's' : ''} ${unknown.join(', ')}; known: ${Object.keys(RUN_SETTINGS).join(', ')}`);
  const out: Record<string, unknown> = {};
  for (const [key, check] of Object.entries(RUN_SETTINGS)) {
    const checked = check(input[key], `${where}.${key}`);
    if (checked !== undefined) out[key] = checked;
  }
  const settings = out as unknown as RunSettings;
  if (settings.batchSize > settings.trainSize) throw new Error(`${where}.batchSize (${settings.batchSize}) is larger than ${where}.trainSize (${settings.trainSize}): no full batch to train on`);
  return settings;
}

/** The settings of one run of an invocation's config (its plan, mode and preset are not part of a run). */
export function runSettingsOf(config: ExperimentSettings): RunSettings {
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(RUN_SETTINGS)) if ((config as unknown as Record<string, unknown>)[key] !== undefined) out[key] = (config as unknown as Record<string, unknown>)[key];
  return out as unknown as RunSettings;
}
