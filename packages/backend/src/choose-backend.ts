/**
 * The part of `initBackend` that Node and the browser share: try backends in order of
 * preference, keep the reason each one was skipped, log the choice in one line.
 */

export interface BackendAttempt<C extends string = string> {
  backend: C;
  ok: boolean;
  reason?: string;
}

/** The first line of an error, "not installed" for a missing package, at most 200 characters. */
export function describeError(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  const firstLine = message.split('\n')[0] ?? message;
  if (/Cannot find (module|package)|ERR_MODULE_NOT_FOUND/.test(message)) return 'not installed';
  return firstLine.length > 200 ? `${firstLine.slice(0, 200)}…` : firstLine;
}

/**
 * The backend forced by `options.backend` (checked, for JavaScript callers and casts from CLI
 * strings) or else by an environment variable; undefined when neither forces one.
 */
export function forcedBackend<C extends string>(
  preference: readonly C[],
  option: unknown,
  fromEnv?: { name: string; value: string | undefined },
): C | undefined {
  const isChoice = (value: unknown): value is C => (preference as readonly unknown[]).includes(value);
  if (option !== undefined && !isChoice(option)) {
    throw new Error(
      `initBackend: options.backend ${JSON.stringify(option)} is not a backend; use one of ${preference.join(', ')} or leave it out to pick the best available.`,
    );
  }
  const value = fromEnv?.value?.trim();
  if (fromEnv && value && !isChoice(value)) {
    throw new Error(`${fromEnv.name}=${value} is not a backend; use one of ${preference.join(', ')} or unset it.`);
  }
  return (option as C | undefined) ?? (value ? (value as C) : undefined);
}

export interface ChooseBackendOptions<C extends string> {
  order: readonly C[];
  /** How the order came about, for the log line: 'best available', 'forced by option', … */
  how: string;
  /** Loads and selects one backend: undefined when it is in use, else why not. May add notes for the log line. */
  attempt: (choice: C, notes: string[]) => Promise<string | undefined>;
  log: (message: string) => void;
  /** The error to throw when none loads, given every attempt. */
  failure: (attempts: readonly BackendAttempt<C>[]) => Error;
}

/** Tries `order` in turn and returns the first backend that loads; every attempt is appended to `attempts`. */
export async function chooseBackend<C extends string>(options: ChooseBackendOptions<C>, attempts: BackendAttempt<C>[]): Promise<C> {
  for (const choice of options.order) {
    const notes: string[] = [];
    const reason = await options.attempt(choice, notes);
    attempts.push(reason === undefined ? { backend: choice, ok: true } : { backend: choice, ok: false, reason });
    if (reason === undefined) {
      const skipped = attempts.filter((a) => !a.ok).map((a) => `${a.backend} (${a.reason})`);
      options.log(`[@mm/backend] using ${choice} (${[options.how, ...notes].join(', ')})${skipped.length ? `; skipped: ${skipped.join('; ')}` : ''}`);
      return choice;
    }
  }
  throw options.failure(attempts);
}

/** The `log` option of `initBackend` as a function: `false` silences it, undefined means `fallback`. */
export function resolveLog(log: ((message: string) => void) | false | undefined, fallback: (message: string) => void): (message: string) => void {
  if (log === false) return () => {};
  return log ?? fallback;
}
