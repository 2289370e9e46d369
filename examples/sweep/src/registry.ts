import { COLORED_MNIST_RUNNER } from '@mm/example-colored-mnist/sweep-names';
import { UsageError } from '@mm/example-kit/cli';
import type { RunnerRegistry } from '@mm/sweep';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The project's runners, under the names its sweeps refer to them by. */
export const PROJECT_RUNNERS: RunnerRegistry = {
  [COLORED_MNIST_RUNNER]: fileURLToPath(import.meta.resolve('@mm/example-colored-mnist/sweep-runner')),
};

/** The project's runners plus a user's own, given as `--runner NAME=MODULE,…`. */
export function registryWith(extra: readonly string[] | undefined): RunnerRegistry {
  const registry: Record<string, string> = { ...PROJECT_RUNNERS };
  for (const entry of extra ?? []) {
    const at = entry.indexOf('=');
    if (at <= 0 || at === entry.length - 1) throw new UsageError(`--runner takes NAME=MODULE (a module that exports \`runner\`), got '${entry}'`);
    const name = entry.slice(0, at);
    const module = entry.slice(at + 1);
    // A relative path means a file; a bare name is a package to resolve from here.
    registry[name] = module.startsWith('.') || module.startsWith('/') ? resolve(module) : module;
  }
  return registry;
}
