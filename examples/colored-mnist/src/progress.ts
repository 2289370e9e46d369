import type { Progress } from './train-run.js';

/**
 * One status line per run: redrawn in place on a terminal, printed every `every` steps
 * otherwise (logs, CI) or with --quiet.
 */
export function createProgressPrinter(options: { tty: boolean; quiet: boolean; every?: number }): (p: Progress) => void {
  const every = options.every ?? 25;
  let lastLine = '';
  return (p) => {
    const total = p.stepsPerEpoch;
    const d = p.dSpeed === null ? '   n/a' : `${p.dSpeed >= 0 ? '+' : ''}${p.dSpeed.toFixed(3)}`;
    const label = `${p.method} seed ${p.seed}`;
    let line: string;
    if (p.phase === 'evaluate') {
      line = `${label}  epoch ${Math.min(p.epoch + 1, p.epochs)}/${p.epochs}  evaluating…`;
    } else {
      const width = 20;
      const filled = Math.round((width * (p.step + 1)) / total);
      const bar = options.tty && !options.quiet ? `[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ` : '';
      line = `${label}  epoch ${p.epoch + 1}/${p.epochs}  ${bar}step ${p.step + 1}/${total}  loss ${p.loss.toFixed(4)}  ${p.kind === 'R' ? 'regular ' : `rebalance m${p.kind.slice(1)}`}  d_speed ${d}`;
    }
    if (options.tty && !options.quiet) {
      process.stderr.write(`\r${line.padEnd(lastLine.length)}`);
      lastLine = line;
    } else if (p.phase === 'evaluate' || (p.step + 1) % every === 0) {
      process.stderr.write(`${line}\n`);
    }
  };
}

export function endProgressLine(tty: boolean): void {
  if (tty) process.stderr.write('\n');
}
