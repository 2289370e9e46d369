import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, describe, expect, it } from 'vitest';
import { watchCheckpointWrites } from './kill-resume.js';

const root = mkdtempSync(join(tmpdir(), 'mm-watch-writes-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

async function until(condition: () => boolean): Promise<void> {
  for (let i = 0; i < 200 && !condition(); i++) await sleep(50);
}

describe('watchCheckpointWrites', () => {
  it('sees the writes of one process, survives folders that vanish before they are scanned, and logs other watch errors', async () => {
    const dir = join(root, 'run');
    mkdirSync(join(dir, 'runs', 'vanilla-seed1'), { recursive: true });
    const logged: string[] = [];
    let writes = 0;
    const watcher = watchCheckpointWrites(dir, 4242, (line) => logged.push(line), () => writes++);
    try {
      // Folders that live for no time, like a writer's .old-* (Node 20 reports these as ENOENT errors).
      for (let i = 0; i < 50; i++) {
        const old = join(dir, 'runs', 'vanilla-seed1', `checkpoint.old-${i}`, 'inner');
        mkdirSync(old, { recursive: true });
        rmSync(join(old, '..'), { recursive: true });
      }
      watcher.emit('error', Object.assign(new Error('ENOENT: no such file or directory, scandir'), { code: 'ENOENT' }));
      mkdirSync(join(dir, 'runs', 'vanilla-seed1', 'checkpoint.tmp-1111'));
      mkdirSync(join(dir, 'runs', 'vanilla-seed1', 'checkpoint.tmp-4242'));
      await until(() => writes > 0);
      expect(writes).toBe(1);
      expect(logged).toEqual([]);
      watcher.emit('error', Object.assign(new Error('EMFILE: too many open files'), { code: 'EMFILE' }));
      expect(logged).toEqual([`watching ${dir}: EMFILE: too many open files`]);
    } finally {
      watcher.close();
    }
  });
});
