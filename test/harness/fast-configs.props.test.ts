// Property suites only: FastIommu through the harness (checkConformance, judged by the reference
// model) in configurations the default suites do not try: no IOTLB, a tiny one, an unbounded one;
// one domain kind at a time (deferred, 'whole', 3 and 5 levels, small apertures, 4K-only); and
// narrowed capabilities. Every run has an explicit seed, so mutation runs are reproducible.
import { describe, expect, it } from 'vitest';
import { FastIommu, type FastIommuOptions } from '../../impl/index.ts';
import type { DomainOptions } from '../../model/types.ts';
import { checkConformance, type CheckOptions } from '../../properties/index.ts';
import { K4, M2 } from '../helpers/sizes.ts';


async function conforms(options: FastIommuOptions, check: CheckOptions): Promise<Record<string, number>> {
  const report = await checkConformance(() => new FastIommu(options), check);
  expect(report.error).toBeUndefined();
  expect(report.counterexample?.steps.join('\n')).toBeUndefined();
  expect(report.ok).toBe(true);
  return report.statistics;
}

describe('FastIommu: IOTLB sizes', () => {
  for (const iotlbSize of [0, 1, 8, Number.POSITIVE_INFINITY]) {
    it(`iotlbSize ${iotlbSize}`, async () => {
      await conforms({ iotlbSize }, { numRuns: 40, seed: 61 + Math.min(iotlbSize, 1000) });
    });
  }
});

describe('FastIommu: one domain kind at a time', () => {
  const kinds: [string, Partial<DomainOptions>[]][] = [
    ['deferred', [{ invalidation: 'deferred' }]],
    ['deferred, 4K pages only', [{ invalidation: 'deferred', pageSizes: [K4] }]],
    ['whole', [{ unmap: 'whole' }]],
    ['deferred and whole, 3 levels', [{ invalidation: 'deferred', unmap: 'whole', levels: 3 }]],
    ['3 levels', [{ levels: 3 }]],
    ['5 levels', [{ levels: 5 }, { levels: 5, invalidation: 'deferred' }]],
    ['small apertures', [{ aperture: 1n << 21n }, { aperture: 1n << 31n, invalidation: 'deferred' }]],
    ['identity and blocked', [{ type: 'identity' }, { type: 'blocked' }]],
  ];
  for (const [name, domains] of kinds) {
    it(name, async () => {
      await conforms({ iotlbSize: 4 }, { numRuns: 40, seed: 7 + name.length, domains, maxCommands: 60 });
    });
  }
});

describe('FastIommu: declared capabilities', () => {
  it('narrow ids, 2M pages only up to 5 levels, a domain limit, canonical addresses', async () => {
    const capabilities = { deviceIdBits: 4, pasidBits: 2, maxDomains: 2, levels: [5 as const], pageSizes: [K4, M2], canonicalAddresses: true };
    const s = await conforms({ iotlbSize: 8, capabilities }, { numRuns: 40, seed: 404 });
    expect(s['error:ENOSPC']).toBeGreaterThan(0);
  });
  it('one level (3), 4K pages only, a single device id bit', async () => {
    await conforms({ capabilities: { deviceIdBits: 1, pasidBits: 1, levels: [3], pageSizes: [K4] } }, { numRuns: 30, seed: 405 });
  });
  it('no domain at all (maxDomains 0), protocol-representable arguments only', async () => {
    const s = await conforms({ capabilities: { maxDomains: 0 } }, { numRuns: 20, seed: 406, invalidArguments: 'representable' });
    expect(s['ok:createDomain'] ?? 0).toBe(0);
  });
});
