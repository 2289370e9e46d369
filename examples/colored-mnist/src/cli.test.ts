import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { openRunDir, parseCli } from '@mm/example-kit';
import { afterAll, describe, expect, it } from 'vitest';
import { CLI, configFromCli } from './config.js';

const packageDir = join(dirname(fileURLToPath(import.meta.url)), '..');
const out = mkdtempSync(join(tmpdir(), 'cgm-cli-'));
const run = (...args: string[]) =>
  execFileSync(process.execPath, ['--conditions=@mm/source', '--import', 'tsx', 'src/main.ts', ...args], {
    cwd: packageDir,
    env: { ...process.env, MM_BACKEND: 'wasm' },
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
    timeout: 300_000,
  });

describe('colored-mnist CLI', () => {
  afterAll(() => rmSync(out, { recursive: true, force: true }));

  it('prints help and exits 0; a bad option exits 2 with what to do', () => {
    expect(run('--help')).toMatch(/--full[\s\S]*--sweep[\s\S]*--resume DIR/);
    let error: { status?: number; stderr?: string } = {};
    try {
      run('--backend', 'bogus');
    } catch (e) {
      error = e as typeof error;
    }
    expect(error.status).toBe(2);
    expect(error.stderr).toMatch(/--backend must be one of node-gpu, node, wasm, cpu/);
  });

  it.each([
    [['--', '--widths', '1,2'], /--widths needs 4 integers ≥ 1/],
    [['--methods', 'vanilla,bogus'], /--methods: unknown bogus; choose from/],
    [['--train-size', '70000'], /--train-size is at most 60000/],
  ])('rejects %j with a message that says what to do', (argv, message) => {
    expect(() => configFromCli(parseCli(CLI, argv).values)).toThrow(message);
  });

  it('--resume needs a folder with a saved run', () => {
    expect(() => openRunDir({ resume: join(out, 'nothing-here'), name: 'x', config: () => ({}) })).toThrow(/no config.json there/);
  });

  it('runs a tiny table end to end (pnpm-style "--" accepted), writes results and report, and resumes a finished run', () => {
    const dir = join(out, 'tiny');
    const stdout = run('--', '--out', dir, '--quiet', '--train-size', '128', '--epochs', '1', '--batch-size', '32', '--widths', '4,4,8,8', '--methods', 'unimodal-gray,vanilla,guided', '--seeds', '1');
    expect(stdout).toMatch(/method\s+runs\s+test acc\. %/);
    expect(stdout).toMatch(/^guided\s+1\s+/m);
    const results = JSON.parse(readFileSync(join(dir, 'results.json'), 'utf8'));
    expect(Object.keys(results.methods)).toEqual(['unimodal-gray', 'vanilla', 'guided']);
    expect(results.methods.vanilla.testAccuracy.mean).toBeGreaterThanOrEqual(0);
    expect(results.backend).toBe('wasm');
    for (const f of ['report.html', 'table1-comparison.svg', 'table1-comparison.png', 'd-speed-guided.png', 'validation-accuracy.svg', 'samples-train.png']) {
      expect(existsSync(join(dir, f))).toBe(true);
    }
    // Every run is finished, so resuming only re-reads the results and prints the same table.
    const again = run('--resume', dir, '--quiet');
    const table = (s: string) => s.slice(s.indexOf('method'), s.indexOf('results:'));
    expect(table(again)).toBe(table(stdout));
  });
});
