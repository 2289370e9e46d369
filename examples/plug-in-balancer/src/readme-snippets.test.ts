import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';

// Docs must run as written: every ```ts block of these READMEs is executed as a module from
// inside this workspace package (which depends on the packages the snippets import).
const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, '../../..');
const scratch = join(here, '..', '.readme-snippets');
const READMES = ['packages/mmtm/README.md', 'packages/metrics/README.md', 'packages/balance/README.md'];

function tsBlocks(markdown: string): string[] {
  return [...markdown.matchAll(/```ts\n([\s\S]*?)```/g)].map((m) => m[1]);
}

describe('README snippets run as written', () => {
  mkdirSync(scratch, { recursive: true });
  afterAll(() => rmSync(scratch, { recursive: true, force: true }));

  for (const readme of READMES) {
    const blocks = tsBlocks(readFileSync(join(root, readme), 'utf8'));
    it(`${readme} has runnable TypeScript snippets`, () => {
      expect(blocks.length).toBeGreaterThan(0);
      blocks.forEach((code, i) => {
        const file = join(scratch, `${readme.replace(/[/.]/g, '_')}_${i}.ts`);
        writeFileSync(file, code);
        try {
          execFileSync(process.execPath, ['--conditions=@mm/source', '--import', 'tsx', file], {
            cwd: join(here, '..'),
            env: { ...process.env, MM_BACKEND: process.env.MM_BACKEND ?? 'wasm' },
            stdio: 'pipe',
            timeout: 120_000,
          });
        } catch (error) {
          const e = error as { stderr?: Buffer; message: string };
          throw new Error(`${readme} snippet ${i + 1} failed:\n${e.stderr?.toString() ?? e.message}`);
        }
      });
    });
  }
});
