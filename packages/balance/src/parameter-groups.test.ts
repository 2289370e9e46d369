import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '@mm/backend';
import { beforeAll, describe, expect, it } from 'vitest';
import { resolveParameterGroups } from './parameter-groups.js';
import { tinyMmtmModel } from './testing/fixtures.js';

describe('resolveParameterGroups', () => {
  beforeAll(async () => {
    await initBackend({ backend: 'wasm', log: false });
  });

  it("derives θ_k and θ'_k from the m{k}_ naming and the MMTM layers", () => {
    const model = tinyMmtmModel();
    const g = resolveParameterGroups(model);
    const names = (vs: { name: string }[]) => vs.map((v) => v.name.replace(/_\d+$/, ''));
    expect(g.numModalities).toBe(2);
    expect(g.branch[0].every((v) => /m0_/.test(v.name))).toBe(true);
    expect(g.branch[0]).toHaveLength(4); // conv kernel+bias, head kernel+bias
    expect(names(g.fusion[0]).map((n) => n.split('/').pop())).toEqual(['squeeze_kernel', 'squeeze_bias', 'excite0_kernel', 'excite0_bias']);
    expect(names(g.fusion[1]).map((n) => n.split('/').pop())).toEqual(['squeeze_kernel', 'squeeze_bias', 'excite1_kernel', 'excite1_bias']);
    expect(g.unassigned).toEqual([]);
    expect(g.conflicts).toEqual([]);
    model.dispose();
    expect(tf.memory().numTensors).toBeGreaterThanOrEqual(0);
  });

  it('reports unassigned and doubly assigned weights, and throws when strict', () => {
    const model = tinyMmtmModel();
    const loose = resolveParameterGroups(model, { branches: [{ prefixes: ['m0_conv'] }, { prefixes: ['m1_', 'm0_conv'] }] });
    expect(loose.unassigned.map((n) => n.split('/')[0])).toEqual(['m0_head', 'm0_head']);
    expect(loose.conflicts).toHaveLength(2);
    expect(() => resolveParameterGroups(model, { branches: [{ predicate: (n) => n.startsWith('m0_conv') }, { names: ['m1_conv', 'm1_head'] }], strict: true })).toThrow(
      /unassigned: m0_head/,
    );
    expect(() => resolveParameterGroups(model, { branches: [{ prefixes: ['nope_'] }, { prefixes: ['m1_'] }] })).toThrow(/empty parameter group.*θ_0/);
    model.dispose();
  });
});
