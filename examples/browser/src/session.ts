// One training run, as the worker drives it: Colored-and-gray-MNIST fetched from the page's
// folder, the chosen net and method, SGD with momentum, evaluation on the test split (color
// independent of the label) every few steps. Nothing here touches the DOM.
import * as tf from '@tensorflow/tfjs-core';
import { BalancedTrainer, type Balancer } from '@mm/balance';
import { deriveSeed, shuffledIndices } from '@mm/datasets';
import { fetchColoredGrayMnist, renderSampleGrid, type CgMnistSplit, type ColoredGrayMnist } from '@mm/datasets/colored-mnist';
import { lateFusionBalancer } from '@mm/example-kit/late-fusion-methods';
import { paperBalancer } from '@mm/example-kit/paper-methods';
import { toLabeledBatch, type LabeledBatch } from '@mm/metrics';
import { cgMnistFusedNet, countParams } from '@mm/models';
import { METHODS, SCALES, VALIDATION_FRACTION, type EvaluationEvent, type MethodName, type RunSettings, type SampleGrid, type StepEvent } from './protocol.js';

/** Epochs before a run stops by itself (a tab should not train forever unattended). */
export const MAX_EPOCHS = 20;
/** Steps the steps-per-second figure averages over. */
const RATE_WINDOW = 10;
const EVALUATION_BATCH = 200;
/** Gradient Blending estimates its weights on held-out training samples, as in the balancer benchmark. */
const HELD_OUT_FRACTION = 0.1;

function balancerFor(method: MethodName, settings: RunSettings, stepsPerEpoch: number): Balancer {
  switch (method) {
    case 'vanilla':
    case 'guided':
    case 'random':
    case 'rubi':
      return paperBalancer(method, {
        alpha: settings.alpha,
        windowSize: settings.windowSize,
        warmupSteps: stepsPerEpoch,
        numModalities: 2,
        seed: settings.seed * 7 + 1,
      });
    default:
      return lateFusionBalancer(method, settings.seed);
  }
}

/** Batches of the given positions of a split, as tensors (the consumer disposes them). */
function* batchesOf(split: CgMnistSplit, positions: Int32Array, batchSize: number, dropRemainder: boolean): Generator<LabeledBatch> {
  const count = dropRemainder ? Math.floor(positions.length / batchSize) : Math.ceil(positions.length / batchSize);
  for (let k = 0; k < count; k++) yield toLabeledBatch(split.batch(positions.subarray(k * batchSize, Math.min((k + 1) * batchSize, positions.length))));
}

const allPositions = (split: CgMnistSplit) => Int32Array.from({ length: split.size }, (_, i) => i);

export class TrainingSession {
  readonly stepsPerEpoch: number;
  readonly parameters: number;
  private readonly trainer: BalancedTrainer;
  private readonly model: ReturnType<typeof cgMnistFusedNet>;
  private readonly trained: Int32Array;
  private readonly heldOut: Int32Array | undefined;
  private readonly finishTimes: number[] = [];

  private constructor(
    private readonly data: ColoredGrayMnist,
    private readonly settings: RunSettings,
  ) {
    const scale = SCALES[settings.scale];
    const heldOutCount = settings.method === 'gradient-blending' ? Math.round(HELD_OUT_FRACTION * data.train.size) : 0;
    const order = shuffledIndices(data.train.size, deriveSeed(settings.seed, 7));
    this.heldOut = heldOutCount > 0 ? order.slice(0, heldOutCount) : undefined;
    this.trained = heldOutCount > 0 ? order.slice(heldOutCount) : allPositions(data.train);
    this.stepsPerEpoch = Math.floor(this.trained.length / scale.batchSize);
    this.model = cgMnistFusedNet({ widths: scale.widths, fusion: METHODS[settings.method].fusion, seed: settings.seed });
    this.parameters = countParams(this.model);
    this.trainer = new BalancedTrainer({
      model: this.model,
      optimizer: tf.train.momentum(settings.learningRate, 0.9),
      balancer: balancerFor(settings.method, settings, this.stepsPerEpoch),
      seed: settings.seed,
    });
  }

  /** Fetches the data (MNIST files under `mnistUrl`) and builds the net and the trainer on the current tfjs backend. */
  static async create(settings: RunSettings, mnistUrl: string): Promise<TrainingSession> {
    const scale = SCALES[settings.scale];
    const data = await fetchColoredGrayMnist({
      baseUrl: mnistUrl,
      seed: settings.seed,
      trainSize: scale.trainSize,
      testSize: scale.testSize,
      validationFraction: VALIDATION_FRACTION,
    });
    return new TrainingSession(data, settings);
  }

  /** The run's events: an evaluation before training, then every step, and an evaluation every few steps; ends after MAX_EPOCHS. */
  async *run(): AsyncGenerator<StepEvent | EvaluationEvent> {
    const scale = SCALES[this.settings.scale];
    yield await this.evaluate(0);
    for (let epoch = 0; epoch < MAX_EPOCHS; epoch++) {
      const order = shuffledIndices(this.trained.length, deriveSeed(this.settings.seed, 1000 + epoch));
      const positions = Int32Array.from(order, (i) => this.trained[i]);
      await this.trainer.startEpoch({
        epoch,
        stepsPerEpoch: this.stepsPerEpoch,
        train: () => batchesOf(this.data.train, positions, scale.batchSize, true),
        validation: this.heldOut ? () => batchesOf(this.data.train, this.heldOut!, EVALUATION_BATCH, false) : undefined,
      });
      for (const batch of batchesOf(this.data.train, positions, scale.batchSize, true)) {
        let result;
        try {
          result = this.trainer.step(batch);
        } finally {
          tf.dispose([...batch.inputs, batch.labels]);
        }
        yield {
          type: 'step',
          step: result.step + 1,
          epoch,
          loss: result.loss,
          metrics: result.metrics,
          stepsPerSecond: this.rate(),
          tensors: tf.memory().numTensors,
        };
        if ((result.step + 1) % scale.evaluateEvery === 0) yield await this.evaluate(result.step + 1);
      }
    }
  }

  /** The first samples of the training and test splits as RGB pictures: each colored image (m0) beside its gray one (m1). */
  sampleGrids(count = 6): { train: SampleGrid; test: SampleGrid } {
    const grid = (split: CgMnistSplit): SampleGrid => {
      const { pixels, layout } = renderSampleGrid(split, { count, columns: count, scale: 1, gap: 2 });
      return { pixels, width: layout.width, height: layout.height };
    };
    return { train: grid(this.data.train), test: grid(this.data.test) };
  }

  private async evaluate(step: number): Promise<EvaluationEvent> {
    const evaluation = await this.trainer.evaluate(batchesOf(this.data.test, allPositions(this.data.test), EVALUATION_BATCH, false));
    // Evaluation time is not training time: restart the rate's clock.
    this.finishTimes.length = 0;
    this.finishTimes.push(performance.now());
    return { type: 'evaluation', step, accuracy: evaluation.accuracy, heads: evaluation.modalityAccuracy };
  }

  private rate(): number {
    this.finishTimes.push(performance.now());
    if (this.finishTimes.length > RATE_WINDOW + 1) this.finishTimes.shift();
    const spans = this.finishTimes.length - 1;
    return spans === 0 ? Number.NaN : (1000 * spans) / (this.finishTimes[spans] - this.finishTimes[0]);
  }

  dispose(): void {
    this.trainer.dispose();
    this.model.dispose();
  }
}
