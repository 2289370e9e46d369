#!/usr/bin/env node
// `pnpm test:browser`: the browser tests (vitest.browser.config.ts) in headless Chromium, with
// the same one-line summary as `pnpm test`. Without a Chromium at CHROMIUM_PATH they are
// skipped with a message, unless MM_REQUIRE_BROWSER=1 (CI sets it: there they must run).
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { CHROMIUM_PATH } from './browser-env.mjs';

if (!existsSync(CHROMIUM_PATH)) {
  const how = `no Chromium at ${CHROMIUM_PATH}: install it (Debian/Ubuntu: apt-get install -y chromium) or point MM_CHROMIUM at a Chromium or Chrome binary`;
  if (process.env.MM_REQUIRE_BROWSER === '1') {
    console.error(`browser tests: cannot run, ${how}`);
    process.exit(1);
  }
  console.log(`browser tests: SKIPPED, ${how}`);
  process.exit(0);
}
const result = spawnSync('node', ['scripts/run-tests.mjs', '--config', 'vitest.browser.config.ts', ...process.argv.slice(2)], { stdio: 'inherit' });
process.exit(result.status ?? 1);
