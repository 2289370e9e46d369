import fc from 'fast-check';

/**
 * Case counts of the property-based (fast-check) suites, set once for every test file through
 * fast-check's global configuration: `FUZZ_RUNS` (default 100) cases per in-memory property;
 * properties that write files or start decoders take a fixed fraction of it
 * (`fc.readConfigureGlobal().numRuns`). The seed is fixed by default, so `pnpm test` and CI
 * check the same cases every time (main stays green or red for a reason); `FUZZ_SEED=random`
 * explores new cases, `FUZZ_SEED=S` replays a failure's seed (fast-check prints it).
 */
const runs = Number(process.env.FUZZ_RUNS ?? 100);
if (!(Number.isInteger(runs) && runs >= 1)) throw new Error(`FUZZ_RUNS must be a positive integer, got ${process.env.FUZZ_RUNS}`);
const DEFAULT_SEED = 20261129;
const seedSetting = process.env.FUZZ_SEED ?? String(DEFAULT_SEED);
const seed = seedSetting === 'random' ? undefined : Number(seedSetting);
if (seed !== undefined && !Number.isInteger(seed)) throw new Error(`FUZZ_SEED must be an integer or 'random', got ${seedSetting}`);
fc.configureGlobal({ numRuns: runs, ...(seed === undefined ? {} : { seed }) });
