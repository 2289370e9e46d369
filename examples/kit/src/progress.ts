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

/** 'guided seed 1  epoch 2/3  step 40/93  loss 0.5123  rebalance m1', with a bar when asked. */
export function progressLine(p: ProgressEvent, o: { bar?: boolean } = {}): string {
  if (p.phase === 'evaluate') return `${p.label}  epoch ${Math.min(p.epoch + 1, p.epochs)}/${p.epochs}  evaluating…`;
  const width = 20;
  const filled = Math.round((width * (p.step + 1)) / p.stepsPerEpoch);
  const bar = o.bar ? `[${'#'.repeat(filled)}${'.'.repeat(Math.max(0, width - filled))}] ` : '';
  return `${p.label}  epoch ${p.epoch + 1}/${p.epochs}  ${bar}step ${p.step + 1}/${p.stepsPerEpoch}  loss ${p.loss.toFixed(4)}${p.detail ? `  ${p.detail}` : ''}`;
}

/** How much of a run is done at this event: steps taken over all planned steps (0…1). */
export function progressFraction(p: ProgressEvent): number {
  const steps = p.epochs * p.stepsPerEpoch;
  if (steps <= 0) return 0;
  const done = p.phase === 'evaluate' ? Math.min(p.epoch + 1, p.epochs) * p.stepsPerEpoch : p.epoch * p.stepsPerEpoch + p.step + 1;
  return Math.min(1, done / steps);
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
      const line = progressLine(p, { bar: live });
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
