import { describe, expect, it } from 'vitest';
import { helpText, parseCli, UsageError } from './cli.js';

const spec = {
  usage: 'demo [options]',
  summary: 'A demo.',
  options: {
    quiet: { kind: 'flag', help: 'less output' },
    out: { kind: 'string', value: 'DIR', help: 'output folder' },
    epochs: { kind: 'int', value: 'N', min: 1, help: 'epochs' },
    lr: { kind: 'number', value: 'X', positive: true, help: 'learning rate' },
    backend: { kind: 'choice', choices: ['wasm', 'cpu'], help: 'backend' },
    methods: { kind: 'list', value: 'LIST', of: ['a', 'b'], help: 'methods' },
    widths: { kind: 'ints', value: '1,2', count: 2, min: 1, help: 'widths' },
  },
} as const;

describe('parseCli', () => {
  it('reads every kind of option and accepts pnpm’s -- separator', () => {
    const { help, values } = parseCli(spec, ['--', '--quiet', '--out', 'x', '--epochs', '3', '--lr', '0.5', '--backend', 'cpu', '--methods', 'b,a', '--widths', '4,8']);
    expect(help).toBe(false);
    expect(values).toEqual({ quiet: true, out: 'x', epochs: 3, lr: 0.5, backend: 'cpu', methods: ['b', 'a'], widths: [4, 8] });
    expect(parseCli(spec, []).values).toEqual({ quiet: false, out: undefined, epochs: undefined, lr: undefined, backend: undefined, methods: undefined, widths: undefined });
    expect(parseCli(spec, ['-h']).help).toBe(true);
  });

  it.each([
    [['--epochs', '0'], /--epochs needs an integer ≥ 1, got '0'/],
    [['--epochs', '1.5'], /--epochs needs an integer/],
    [['--lr=-1'], /--lr needs a number > 0/],
    [['--lr', 'fast'], /--lr needs a number > 0, got 'fast'/],
    [['--backend', 'bogus'], /--backend must be one of wasm, cpu, got 'bogus'/],
    [['--methods', 'a,z'], /--methods: unknown z; choose from a, b/],
    [['--widths', '1,2,3'], /--widths needs 2 integers ≥ 1/],
    [['--bogus'], /Unknown option '--bogus'/],
    [['stray'], /Unexpected argument 'stray'/],
  ])('%j is a usage error naming the problem', (argv, message) => {
    expect(() => parseCli(spec, argv)).toThrow(UsageError);
    expect(() => parseCli(spec, argv)).toThrow(message);
  });

  it('lists every option in the help text', () => {
    const text = helpText(spec);
    for (const name of Object.keys(spec.options)) expect(text).toContain(`--${name}`);
    expect(text).toContain('--backend wasm|cpu');
    expect(text).toContain('--help, -h');
  });
});
