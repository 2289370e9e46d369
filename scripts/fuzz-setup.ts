import fc from 'fast-check';

/**
 * Case counts of the property-based (fast-check) suites, set once for every test file through
 * fast-check's global configuration: `FUZZ_RUNS` (default 100) cases per in-memory property;
 * properties that write files or start decoders take a fixed fraction of it
 * (`fc.readConfigureGlobal().numRuns`). `FUZZ_SEED` replays a failure's seed.
 */
const runs = Number(process.env.FUZZ_RUNS ?? 100);
if (!(Number.isInteger(runs) && runs >= 1)) throw new Error(`FUZZ_RUNS must be a positive integer, got ${process.env.FUZZ_RUNS}`);
const seed = process.env.FUZZ_SEED === undefined ? undefined : Number(process.env.FUZZ_SEED);
fc.configureGlobal({ numRuns: runs, ...(seed === undefined ? {} : { seed }) });
