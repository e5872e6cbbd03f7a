// The harness on v2 (CONTRACT.md, "Version 2 additions"): it generates nested domains, PASID
// replace and v2 bad input only for implementations that declare them, judges with the declared
// capabilities (pasidBits 0, coarse faults), reaches the v2 shapes, and names the stage that broke.
import { describe, expect, it } from 'vitest';
import { ReferenceIommu } from '../../model/index.ts';
import type { Capabilities } from '../../model/types.ts';
import { checkConformance } from '../../properties/index.ts';
import { CachedModel, CoarseModel } from '../fixtures/v2-wrappers.ts';

const DIRTY: Capabilities = { dirtyTracking: true, nesting: true, pasidReplace: true };
const V2_SHAPES = ['nested-on-pasid', 'parent-change-under-nested', 'parent-also-attached', 'nested-beside-nested', 'nested-over-deferred', 'destroy-parent-with-nested', 'replace-under-traffic'];

describe('the harness on a v2 implementation', () => {
  it.each<[string, Capabilities]>([
    ['nesting and replace', { nesting: true, pasidReplace: true }],
    ['no PASIDs', { pasidBits: 0 }],
    ['coarse faults', { coarseFaults: true }],
    ['dirty tracking', { dirtyTracking: true }],
    ['all of it', { nesting: true, pasidReplace: true, coarseFaults: true, pasidBits: 0, dirtyTracking: true }],
  ])('raises no false alarm on the model declaring %s', async (_name, capabilities) => {
    const report = await checkConformance(() => new ReferenceIommu(capabilities), { seed: 7, numRuns: 150 });
    expect(report.error).toBeUndefined();
    expect(report.ok).toBe(true);
  });

  it('reaches every v2 shape with nesting and replace declared', async () => {
    const report = await checkConformance(() => new ReferenceIommu({ nesting: true, pasidReplace: true }), { seed: 3, numRuns: 200 });
    for (const shape of V2_SHAPES) expect(report.statistics[`shape:${shape}`] ?? 0, shape).toBeGreaterThan(0);
    expect(report.statistics['ok:replacePasid']).toBeGreaterThan(0);
  });

  it('generates none of v2 for an implementation that declares nothing', async () => {
    const report = await checkConformance(() => new ReferenceIommu(), { seed: 3, numRuns: 100 });
    expect(report.ok).toBe(true);
    for (const shape of V2_SHAPES) expect(report.statistics[`shape:${shape}`], shape).toBeUndefined();
    expect(report.statistics['command:replacePasid']).toBeUndefined();
  });

  it('sends no PASID traffic but bad input when pasidBits is 0', async () => {
    const report = await checkConformance(() => new ReferenceIommu({ pasidBits: 0 }), { seed: 5, numRuns: 100 });
    expect(report.ok).toBe(true);
    expect(report.statistics['ok:attachPasid']).toBeUndefined();
    expect(report.statistics['command:attachDevice']).toBeGreaterThan(0);
  });

  it('refuses nested kinds for an implementation without nesting', async () => {
    const report = await checkConformance(() => new ReferenceIommu(), { domains: [{ type: 'nested' }] });
    expect(report.error).toMatch(/nested domains need an implementation that declares capabilities.nesting/);
  });
});

describe('v2 failures', () => {
  it('a parent unmap that leaves combined entries cached: COHERENCY, naming stage 2 of the parent', async () => {
    const report = await checkConformance(() => new CachedModel('parent-unmap-keeps-combined'), { seed: 1 });
    expect(report.counterexample?.property).toBe('COHERENCY');
    expect(report.counterexample?.message).toMatch(/stage 2 of parent \d+, through nested domain \d+/);
    expect(report.counterexample!.steps.length).toBeLessThanOrEqual(10);
  });

  it('a replace that keeps the old translations cached: COHERENCY', async () => {
    const report = await checkConformance(() => new CachedModel('replace-keeps-cache'), { seed: 1 });
    expect(report.counterexample?.property).toBe('COHERENCY');
    expect(report.counterexample?.message).toMatch(/replacePasid|replaced/);
  });

  it('the cache without a bug conforms, dirty tracking included', async () => {
    const report = await checkConformance(() => new CachedModel('none', DIRTY), { seed: 1, numRuns: 100 });
    expect(report.ok).toBe(true);
    expect(report.statistics['dirty:required']).toBeGreaterThan(0);
  });

  it('a clear that leaves "already dirty" entries cached loses the next write: DIRTY, naming the page and the step that wrote it', async () => {
    const report = await checkConformance(() => new CachedModel('clear-keeps-dirty-cache', DIRTY), { seed: 1 });
    expect(report.counterexample?.property).toBe('DIRTY');
    expect(report.counterexample?.message).toMatch(/lost the dirty page 0x[0-9a-f]+, written by step \d+ \(a write of device/);
    expect(report.counterexample!.steps.length).toBeLessThanOrEqual(10);
  });

  it('one fault cause for missing and forbidden pages conforms only when coarseFaults is declared', async () => {
    expect((await checkConformance(() => new CoarseModel({ coarseFaults: true }), { seed: 2, numRuns: 100 })).ok).toBe(true);
    const strict = await checkConformance(() => new CoarseModel({}), { seed: 2 });
    expect(strict.counterexample?.property).toBe('TRANSLATION');
  });
});
