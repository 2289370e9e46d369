// Small synthetic datasets in the exact on-disk layouts, for tests and CI smoke runs.
// The ModelNet40 fixture needs sharp, the NVGesture fixture ffmpeg (see the README).
export { writeModelNet40Fixture, type ModelNet40FixtureOptions } from './modelnet40/fixture.js';
export { writeNvGestureFixture, fixtureRgb, fixtureDepth, type FixtureSampleSpec, type FixtureOptions } from './nvgesture/fixture.js';
