/** What the epoch loop reports while it works. */
export interface ProgressEvent {
  /** Which run, e.g. 'guided seed 1'. */
  label: string;
  epoch: number;
  epochs: number;
  phase: 'train' | 'evaluate';
  /** 0-based step within the epoch (train phase). */
  step: number;
  stepsPerEpoch: number;
  loss: number;
  /** The method's state in a few words, e.g. 'rebalance m1  d_speed -0.123'. */
  detail: string;
}

/**
 * One status line per run: redrawn in place on a terminal, printed every `every` steps otherwise
 * (logs, CI) or with `quiet`.
 */
export function createProgressPrinter(options: { tty?: boolean; quiet?: boolean; every?: number; write?: (text: string) => void } = {}): {
  update: (p: ProgressEvent) => void;
  /** Ends the live line so normal output can follow. */
  end: () => void;
} {
  const tty = options.tty ?? Boolean(process.stderr.isTTY);
  const live = tty && !options.quiet;
  const every = options.every ?? 25;
  const write = options.write ?? ((text: string) => process.stderr.write(text));
  let lastLine = '';
  return {
    update: (p) => {
      let line: string;
      if (p.phase === 'evaluate') {
        line = `${p.label}  epoch ${Math.min(p.epoch + 1, p.epochs)}/${p.epochs}  evaluating…`;
      } else {
        const width = 20;
        const filled = Math.round((width * (p.step + 1)) / p.stepsPerEpoch);
        const bar = live ? `[${'#'.repeat(filled)}${'.'.repeat(Math.max(0, width - filled))}] ` : '';
        line = `${p.label}  epoch ${p.epoch + 1}/${p.epochs}  ${bar}step ${p.step + 1}/${p.stepsPerEpoch}  loss ${p.loss.toFixed(4)}${p.detail ? `  ${p.detail}` : ''}`;
      }
      if (live) {
        write(`\r${line.padEnd(lastLine.length)}`);
        lastLine = line;
      } else if (p.phase === 'evaluate' || (p.step + 1) % every === 0) {
        write(`${line}\n`);
      }
    },
    end: () => {
      if (live && lastLine) write('\n');
      lastLine = '';
    },
  };
}
