export {
  IMAGENET_MEAN,
  IMAGENET_STD,
  MODELNET40_CLASSES,
  MODELNET40_DEFAULT_VIEWS,
  MODELNET40_DOWNLOAD_HINT,
  MODELNET40_NUM_VIEWS,
  ModelNet40Error,
  ModelNet40Split,
  openModelNet40,
  type LoaderThroughput,
  type ModelNet40,
  type ModelNet40BatchOptions,
  type ModelNet40Object,
  type ModelNet40Options,
  type ModelNet40SplitName,
  type SkippedObject,
} from './modelnet40.js';
export { writeModelNet40Fixture, type ModelNet40FixtureOptions } from './fixture.js';
