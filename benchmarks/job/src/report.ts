/** One (method, seed) of a job, as both sides report it. */
export interface JobRun {
  method: string;
  seed: number;
  testAccuracy: number;
  testHeadAccuracy: number[];
  dUtil: number | null;
  dSpeed: number | null;
  /** Training and evaluation of this run. */
  seconds: number;
}

/** What a job process prints as its last stdout line. */
export interface JobReport {
  side: 'js' | 'torch';
  /** e.g. 'tfjs wasm', 'torch 1.13.0 (2 threads)'. */
  runtime: string;
  /** Wall-clock time (ms since the epoch) when the process was ready to start the job. */
  jobStartedAtMs: number;
  /** From ready to the results written. */
  jobSeconds: number;
  /** Generating the data set (part of jobSeconds); null when the side could not tell. */
  dataSeconds: number | null;
  /** User + system CPU seconds of the whole process, all threads. */
  cpuSeconds: number;
  runs: JobRun[];
}

/** One side of one round, as the driver measured it. */
export interface SideTiming extends JobReport {
  /** Spawn to exit. */
  wallSeconds: number;
  /** Spawn to ready (interpreter, imports, backend). */
  startupSeconds: number;
  /** 1-minute load average before, after, and the mean of samples taken while it ran. */
  load: { before: number; after: number; mean: number };
}

export interface Round {
  round: number;
  order: ('js' | 'torch')[];
  busyCore: boolean;
  js: SideTiming;
  torch: SideTiming;
}

/** Median (mean of the two middle values for an even count). */
export function median(values: readonly number[]): number {
  if (values.length === 0) throw new Error('median of no values');
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

/** Reads a job's report: the last line of its stdout that is a JSON object. */
export function parseJobReport(stdout: string, who: string): JobReport {
  const line = stdout.trim().split('\n').reverse().find((l) => l.trim().startsWith('{'));
  if (line === undefined) throw new Error(`${who} printed no JSON report on stdout; its output was:\n${stdout.slice(-2000)}`);
  let report: JobReport;
  try {
    report = JSON.parse(line) as JobReport;
  } catch (error) {
    throw new Error(`${who} printed a report that is not JSON (${(error as Error).message}): ${line.slice(0, 500)}`);
  }
  for (const key of ['jobStartedAtMs', 'jobSeconds', 'cpuSeconds'] as const) {
    if (typeof report[key] !== 'number' || !Number.isFinite(report[key])) throw new Error(`${who}'s report has no number ${key}: ${line.slice(0, 500)}`);
  }
  if (!Array.isArray(report.runs) || report.runs.length === 0) throw new Error(`${who}'s report lists no runs: ${line.slice(0, 500)}`);
  return report;
}

export interface MethodAccuracy {
  method: string;
  runs: number;
  testAccuracy: number;
  headAccuracy: number[];
  dUtil: number | null;
  dSpeed: number | null;
}

const mean = (values: number[]) => values.reduce((a, b) => a + b, 0) / values.length;
const meanOrNull = (values: (number | null)[]) => {
  const present = values.filter((v): v is number => v !== null);
  return present.length ? mean(present) : null;
};

/** Means over the seeds of each method, in the order the methods first appear. */
export function methodAccuracies(runs: readonly JobRun[]): MethodAccuracy[] {
  const methods = [...new Set(runs.map((r) => r.method))];
  return methods.map((method) => {
    const of = runs.filter((r) => r.method === method);
    const heads = of[0].testHeadAccuracy.length;
    return {
      method,
      runs: of.length,
      testAccuracy: mean(of.map((r) => r.testAccuracy)),
      headAccuracy: Array.from({ length: heads }, (_, k) => mean(of.map((r) => r.testHeadAccuracy[k] ?? 0))),
      dUtil: meanOrNull(of.map((r) => r.dUtil)),
      dSpeed: meanOrNull(of.map((r) => r.dSpeed)),
    };
  });
}

export interface Summary {
  jsMedianSeconds: number;
  torchMedianSeconds: number;
  /** Median JS job ÷ median torch job (spawn to exit). */
  ratio: number;
  jsMedianStartupSeconds: number;
  torchMedianStartupSeconds: number;
  /** The same ratio without start-up and exit. */
  jobRatio: number;
  /** JS CPU seconds ÷ torch CPU seconds (medians). */
  cpuRatio: number;
  meanLoad: number;
}

export function summarize(rounds: readonly Round[]): Summary {
  const m = (f: (r: Round) => number) => median(rounds.map(f));
  const js = m((r) => r.js.wallSeconds);
  const torch = m((r) => r.torch.wallSeconds);
  return {
    jsMedianSeconds: js,
    torchMedianSeconds: torch,
    ratio: js / torch,
    jsMedianStartupSeconds: m((r) => r.js.startupSeconds),
    torchMedianStartupSeconds: m((r) => r.torch.startupSeconds),
    jobRatio: m((r) => r.js.jobSeconds) / m((r) => r.torch.jobSeconds),
    cpuRatio: m((r) => r.js.cpuSeconds) / m((r) => r.torch.cpuSeconds),
    meanLoad: mean(rounds.flatMap((r) => [r.js.load.mean, r.torch.load.mean])),
  };
}

const runSeconds = (side: JobReport) => side.runs.reduce((sum, r) => sum + r.seconds, 0);

/** What the job spent outside generating the data and the runs. */
export function restSeconds(side: JobReport): number {
  return side.jobSeconds - (side.dataSeconds ?? 0) - runSeconds(side);
}

const PHASES: { name: string; of: (side: JobReport) => number }[] = [
  { name: 'data generation', of: (side) => side.dataSeconds ?? Number.NaN },
  { name: 'training and evaluation of the runs', of: runSeconds },
  { name: 'the rest (the JS job also writes sample grids, figures, report.html)', of: restSeconds },
];

const pad = (cells: string[], widths: number[]) => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ');

function table(header: string[], rows: string[][]): string[] {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  return [pad(header, widths), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map((r) => pad(r, widths))];
}

const seconds = (s: number) => s.toFixed(1);
const percent = (a: number) => (100 * a).toFixed(2);
const signed = (v: number | null) => (v === null ? '—' : `${v >= 0 ? '+' : ''}${v.toFixed(3)}`);

/** The printed report: one line per round, the medians and ratios, then each method's accuracies on both sides. */
export function formatReport(rounds: readonly Round[], title: string): string {
  const s = summarize(rounds);
  const roundRows = rounds.map((r) => [
    String(r.round),
    r.order.join(' → '),
    seconds(r.js.wallSeconds),
    seconds(r.js.startupSeconds),
    seconds(r.torch.wallSeconds),
    seconds(r.torch.startupSeconds),
    (r.js.wallSeconds / r.torch.wallSeconds).toFixed(2),
    `${r.js.load.mean.toFixed(1)} / ${r.torch.load.mean.toFixed(1)}`,
    r.busyCore ? 'yes' : 'no',
  ]);
  roundRows.push(['median', '', seconds(s.jsMedianSeconds), seconds(s.jsMedianStartupSeconds), seconds(s.torchMedianSeconds), seconds(s.torchMedianStartupSeconds), s.ratio.toFixed(2), s.meanLoad.toFixed(1), '']);
  const lines = [
    title,
    `  JS:    ${rounds[0].js.runtime}   torch: ${rounds[0].torch.runtime}`,
    '',
    ...table(['round', 'order', 'JS s', 'start-up', 'torch s', 'start-up', 'JS/torch', 'load JS / torch', 'busy core'], roundRows),
    '',
    `JS/torch without start-up and exit: ${s.jobRatio.toFixed(2)}; CPU seconds (all threads) JS/torch: ${s.cpuRatio.toFixed(2)}`,
    'phases, medians in seconds:',
    ...PHASES.map(({ name, of }) => `  ${name}: JS ${seconds(median(rounds.map((r) => of(r.js))))}, torch ${seconds(median(rounds.map((r) => of(r.torch))))}`),
    '',
    'Same job on both sides (round 1, mean over seeds; the data and initial weights come from different RNGs):',
  ];
  const js = methodAccuracies(rounds[0].js.runs);
  const torch = new Map(methodAccuracies(rounds[0].torch.runs).map((a) => [a.method, a]));
  const heads = (a: MethodAccuracy | undefined) => (a ? a.headAccuracy.map(percent).join(' / ') : '—');
  const accuracyRows = js.map((a) => {
    const t = torch.get(a.method);
    return [a.method, String(a.runs), percent(a.testAccuracy), t ? percent(t.testAccuracy) : '—', heads(a), heads(t), signed(a.dUtil), signed(t?.dUtil ?? null), signed(a.dSpeed), signed(t?.dSpeed ?? null)];
  });
  lines.push(...table(['method', 'runs', 'JS test %', 'torch test %', 'JS heads %', 'torch heads %', 'JS d_util', 'torch d_util', 'JS d_speed', 'torch d_speed'], accuracyRows));
  return lines.join('\n');
}

