import { parseArgs } from 'node:util';

/** One command-line option: its kind decides how the value is read and checked. */
export type OptionSpec =
  | { kind: 'flag'; help: string; short?: string }
  | { kind: 'string'; help: string; value?: string }
  | { kind: 'int'; help: string; value?: string; min?: number }
  | { kind: 'number'; help: string; value?: string; min?: number; positive?: boolean }
  | { kind: 'choice'; help: string; choices: readonly string[] }
  | { kind: 'list'; help: string; value?: string; of?: readonly string[] }
  | { kind: 'ints'; help: string; value?: string; count?: number; min?: number };

type ValueOf<S extends OptionSpec> = S extends { kind: 'flag' }
  ? boolean
  : S extends { kind: 'choice'; choices: readonly (infer C)[] }
    ? C | undefined
  : S extends { kind: 'int' } | { kind: 'number' }
    ? number | undefined
    : S extends { kind: 'list' }
      ? string[] | undefined
      : S extends { kind: 'ints' }
        ? number[] | undefined
        : string | undefined;

export type CliValues<O extends Record<string, OptionSpec>> = { [K in keyof O]: ValueOf<O[K]> };

export interface CliSpec<O extends Record<string, OptionSpec>> {
  /** How to call it, e.g. `pnpm main -- [options]`. */
  usage: string;
  /** What it does, a few lines. */
  summary: string;
  options: O;
  /** Lines after the options (outputs, examples). */
  epilog?: string;
}

/** A bad command line: the message says what was wrong; the CLI prints it with the usage and exits 2. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

/** The help text: usage, summary, one aligned line per option (plus --help), epilog. */
export function helpText<O extends Record<string, OptionSpec>>(spec: CliSpec<O>): string {
  const rows = Object.entries(spec.options).map(([name, o]) => {
    const value = o.kind === 'flag' ? '' : o.kind === 'choice' ? ` ${o.choices.join('|')}` : ` ${'value' in o && o.value ? o.value : 'X'}`;
    return [`--${name}${value}${o.kind === 'flag' && o.short ? `, -${o.short}` : ''}`, o.help];
  });
  rows.push(['--help, -h', 'this text']);
  const width = Math.max(...rows.map((r) => r[0].length)) + 2;
  const lines = rows.map(([flag, help]) => `  ${flag.padEnd(width)}${help.split('\n').join(`\n  ${' '.repeat(width)}`)}`);
  return [`Usage: ${spec.usage}`, '', spec.summary, '', 'Options', ...lines, ...(spec.epilog ? ['', spec.epilog] : [])].join('\n');
}

function checkNumber(name: string, raw: string, integer: boolean, min: number | undefined, positive = false): number {
  const n = Number(raw);
  if (raw.trim() === '' || !Number.isFinite(n) || (integer && !Number.isInteger(n)) || (min !== undefined && n < min) || (positive && !(n > 0))) {
    const what = integer ? 'an integer' : 'a number';
    const bound = positive ? ' > 0' : min !== undefined ? ` ≥ ${min}` : '';
    throw new UsageError(`--${name} needs ${what}${bound}, got '${raw}'`);
  }
  return n;
}

/**
 * Parses argv (without node and the script) with node's util.parseArgs and checks every value
 * against its spec. `--help` comes back as `help: true`; errors are UsageError. pnpm's `--`
 * separator is accepted.
 */
export function parseCli<O extends Record<string, OptionSpec>>(spec: CliSpec<O>, argv: readonly string[]): { help: boolean; values: CliValues<O> } {
  const args = argv[0] === '--' ? argv.slice(1) : [...argv];
  const options: Record<string, { type: 'string' | 'boolean'; short?: string }> = { help: { type: 'boolean', short: 'h' } };
  for (const [name, o] of Object.entries(spec.options)) options[name] = o.kind === 'flag' ? { type: 'boolean', ...(o.short ? { short: o.short } : {}) } : { type: 'string' };
  let parsed: Record<string, string | boolean | undefined>;
  try {
    parsed = parseArgs({ args, options, allowPositionals: false, strict: true }).values as Record<string, string | boolean | undefined>;
  } catch (error) {
    // Node's messages name the option ("Unknown option '--bogus'"); keep them, drop the code.
    throw new UsageError((error as Error).message.replace(/\. To specify a positional argument.*$/s, ''));
  }
  const values: Record<string, unknown> = {};
  for (const [name, o] of Object.entries(spec.options)) {
    const raw = parsed[name];
    if (o.kind === 'flag') {
      values[name] = raw === true;
      continue;
    }
    if (raw === undefined) {
      values[name] = undefined;
      continue;
    }
    const text = raw as string;
    switch (o.kind) {
      case 'string':
        values[name] = text;
        break;
      case 'int':
        values[name] = checkNumber(name, text, true, o.min);
        break;
      case 'number':
        values[name] = checkNumber(name, text, false, o.min, o.positive);
        break;
      case 'choice':
        if (!o.choices.includes(text)) throw new UsageError(`--${name} must be one of ${o.choices.join(', ')}, got '${text}'`);
        values[name] = text;
        break;
      case 'list': {
        const items = text.split(',').map((s) => s.trim()).filter(Boolean);
        if (items.length === 0) throw new UsageError(`--${name} needs a comma-separated list, got '${text}'`);
        const unknown = o.of ? items.filter((i) => !o.of!.includes(i)) : [];
        if (unknown.length) throw new UsageError(`--${name}: unknown ${unknown.join(', ')}; choose from ${o.of!.join(', ')}`);
        values[name] = items;
        break;
      }
      case 'ints': {
        const items = text.split(',');
        const numbers = items.map((i) => Number(i));
        if ((o.count !== undefined && items.length !== o.count) || numbers.some((n, i) => items[i].trim() === '' || !Number.isInteger(n) || (o.min !== undefined && n < o.min))) {
          throw new UsageError(`--${name} needs ${o.count ?? 'a list of'} integers${o.min !== undefined ? ` ≥ ${o.min}` : ''} separated by commas, like ${o.value ?? '1,2'}, got '${text}'`);
        }
        values[name] = numbers;
        break;
      }
    }
  }
  return { help: parsed.help === true, values: values as CliValues<O> };
}

/**
 * The whole life of an example's command: parse, print help (exit 0), run, and turn errors into
 * a message and an exit code (2 for a bad command line, 1 for anything else). `main` never
 * exits the process itself.
 */
export async function runCli<O extends Record<string, OptionSpec>>(spec: CliSpec<O>, main: (values: CliValues<O>) => Promise<void>, argv = process.argv.slice(2)): Promise<void> {
  let values: CliValues<O>;
  try {
    const parsed = parseCli(spec, argv);
    if (parsed.help) {
      console.log(helpText(spec));
      return;
    }
    values = parsed.values;
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    console.error(`error: ${error.message}\n\n${helpText(spec)}`);
    process.exitCode = 2;
    return;
  }
  try {
    await main(values);
  } catch (error) {
    if (error instanceof UsageError) {
      console.error(`error: ${error.message}\n\nRun with --help for the options.`);
      process.exitCode = 2;
      return;
    }
    console.error(`\nerror: ${error instanceof Error ? error.message : String(error)}`);
    if (process.env.MM_DEBUG) console.error(error);
    process.exitCode = 1;
  }
}

/** The options every run-folder example takes: where it writes, how to continue it, the backend, the progress style. */
export const RUN_OPTIONS = {
  out: { kind: 'string', value: 'DIR', help: 'output folder (default runs/<name>-<time>)' },
  resume: { kind: 'string', value: 'DIR', help: 'continue the run in DIR with its saved settings' },
  backend: { kind: 'choice', choices: ['node-gpu', 'node', 'wasm', 'cpu'], help: 'tfjs backend (default: best available; env MM_BACKEND)' },
  quiet: { kind: 'flag', help: 'log lines instead of a live progress line' },
} as const;
