// The harness never raises a false alarm on the reference model itself, whatever the domain kinds
// and capabilities; its statistics show that the generator reaches the interesting states.
import { describe, expect, it } from 'vitest';
import { ReferenceIommu } from '../../model/index.ts';
import { checkConformance } from '../../properties/index.ts';
import { describeConformance } from '../../properties/vitest.ts';

describe('the harness on ReferenceIommu', () => {
  it('passes 1000 runs with no false alarm', async () => {
    const report = await checkConformance(() => new ReferenceIommu(), { numRuns: 1000, seed: 20261124 });
    expect(report.error).toBeUndefined();
    expect(report.counterexample?.message).toBeUndefined();
    expect(report.ok).toBe(true);
    expect(report.numRuns).toBe(1000);
  });

  it('reaches the states where IOMMUs break', async () => {
    const { statistics: s } = await checkConformance(() => new ReferenceIommu(), { numRuns: 200, seed: 5 });
    for (const key of [
      'command:createDomain', 'command:destroyDomain', 'command:attachDevice', 'command:detachDevice',
      'command:attachPasid', 'command:detachPasid', 'command:map', 'command:unmap', 'command:flush', 'command:translate',
      'error:EINVAL', 'error:ENOENT', 'error:EEXIST', 'error:EBUSY', 'error:ERANGE',
      'fault:blocked', 'fault:not-mapped', 'fault:permission', 'translate:ok', 'probes',
      'shape:map-superpage-candidate', 'shape:unmap-cuts-mapping', 'shape:remap-before-flush',
      'shape:map-shared-pa', 'shape:domain-id-reuse', 'shape:pasid-beside-rid', 'shape:invalid-arguments',
    ]) expect(s[key], key).toBeGreaterThan(0);
    // Most steps are meaningful: successes and faults outnumber "unknown domain" errors.
    expect(s['error:ENOENT']).toBeLessThan(s.steps / 4);
  });

  it('judges with the capabilities the implementation declares', async () => {
    const capabilities = { deviceIdBits: 8, pasidBits: 4, levels: [3 as const], pageSizes: [0x1000n, 0x20_0000n], maxDomains: 2, canonicalAddresses: true };
    const report = await checkConformance(() => new ReferenceIommu(capabilities), { numRuns: 150, seed: 3 });
    expect(report.ok, report.counterexample?.message).toBe(true);
    expect(report.statistics['error:ENOSPC']).toBeGreaterThan(0);
  });

  it('follows an implementation that may succeed at maxDomains, and catches ENOSPC below it', async () => {
    // Declares maxDomains 2 but never runs out: success at the limit is conforming (CONTRACT 7c).
    const generous = () => Object.assign(new ReferenceIommu(), { capabilities: { maxDomains: 2 } });
    const followed = await checkConformance(generous, { numRuns: 100, seed: 8 });
    expect(followed.ok, followed.counterexample?.message).toBe(true);
    expect(followed.statistics['ok:createDomain']).toBeGreaterThan(0);
    // Declares maxDomains 3 but runs out at 2: ENOSPC below the limit is not conforming.
    const stingy = () => Object.assign(new ReferenceIommu({ maxDomains: 2 }), { capabilities: { maxDomains: 3 } });
    const caught = await checkConformance(stingy, { numRuns: 100, seed: 8 });
    expect(caught.ok).toBe(false);
    expect(caught.counterexample?.message).toMatch(/RESULT violated[\s\S]*answered: error ENOSPC/);
  });

  it('generates only the domain kinds asked for', async () => {
    const report = await checkConformance(() => new ReferenceIommu(), { numRuns: 50, seed: 9, domains: [{ type: 'identity' }] });
    expect(report.ok).toBe(true);
    expect(report.statistics['translate:ok']).toBeGreaterThan(0);
    expect(report.statistics['ok:map'] ?? 0).toBe(0); // identity domains cannot be mapped
    expect(report.statistics['error:EINVAL']).toBeGreaterThan(0);
  });

  it('reports bad options and a factory that does not give an Iommu as errors, not throws', async () => {
    expect((await checkConformance(() => new ReferenceIommu(), { numRuns: 0 })).error).toMatch(/numRuns/);
    expect((await checkConformance(() => new ReferenceIommu(), { path: 'x' })).error).toMatch(/path/);
    const notAnIommu = await checkConformance(() => ({}) as unknown as ReferenceIommu, { numRuns: 1 });
    expect(notAnIommu.ok).toBe(false);
    expect(notAnIommu.error).toMatch(/missing createDomain/);
  });

  it('accepts asynchronous implementations', async () => {
    const asyncFactory = async () => {
      const model = new ReferenceIommu();
      return new Proxy(model, {
        get: (target, key) => {
          const value = Reflect.get(target, key) as unknown;
          return typeof value === 'function' ? async (...args: unknown[]) => (value as (...a: unknown[]) => unknown).apply(target, args) : value;
        },
      });
    };
    const report = await checkConformance(asyncFactory, { numRuns: 30, seed: 4 });
    expect(report.ok, report.counterexample?.message).toBe(true);
  });
});

describeConformance('describeConformance on ReferenceIommu', () => new ReferenceIommu(), { numRuns: 50, seed: 1 });
