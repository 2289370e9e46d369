// Names shared by the sweep definitions and the programs that register the runner; a module of
// its own so that registering it does not load the training code.

/** The name a worker's registry gives the runner of sweep-runner.ts. */
export const COLORED_MNIST_RUNNER = 'colored-mnist';

/** The kinds of sweep sweeps.ts makes (and writes results for). */
export const SWEEP_KINDS = { table: 'colored-mnist-table', sweep: 'colored-mnist-sweep', balancers: 'colored-mnist-balancers' } as const;
