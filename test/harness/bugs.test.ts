// Proof that the properties can fail: every injected bug of the catalogue is caught by
// checkConformance with default options, named by the property it breaks, and shrunk short.
import { describe, expect, it } from 'vitest';
import { checkConformance, type Counterexample } from '../../properties/index.ts';
import { catalogue, CATALOGUES, type Catalogue } from '../catalogue/catalogues.ts';

const SEED = 20261124;

/** What is asserted of a catalogue beyond "every bug is caught". */
interface CatalogueCheck {
  readonly maxSteps: number;
  /** Bugs whose shortest counterexample is long by nature, with their own bound. */
  readonly longer?: Readonly<Record<string, number>>;
  readonly alsoCheck?: (c: Counterexample) => void;
  /** Only these bugs (a family too large for `npm test`: `npm run catalogue` measures them all). */
  readonly sample?: readonly string[];
}

/** The bug-free implementation passes; every bug is caught, shrunk short. */
function describeCatalogue(title: string, of: Catalogue, check: CatalogueCheck): void {
  describe(title, () => {
    it(`passes the bug-free ${of.name} (no false alarm)`, async () => {
      const report = await checkConformance(() => of.create(), { seed: SEED });
      expect(report.counterexample?.message).toBeUndefined();
      expect(report.ok).toBe(true);
    });

    for (const bug of of.bugs.filter((b) => check.sample === undefined || check.sample.includes(b.name))) {
      it(`${bug.name}: ${bug.description}`, async () => {
        const report = await checkConformance(() => of.create(bug.name), { seed: SEED });
        expect(report.ok, 'the bug was not caught').toBe(false);
        expect(report.error).toBeUndefined();
        // Shrinking has a time budget (6 s): on a loaded machine it may stop early, and says so.
        // Short is asserted when it completed (speed is measured by `npm run catalogue`).
        if (report.statistics['shrink:stopped-at-budget'] === undefined)
          expect(report.counterexample!.steps.length).toBeLessThanOrEqual(check.longer?.[bug.name] ?? check.maxSteps);
        check.alsoCheck?.(report.counterexample!);
      });
    }
  });
}

describeCatalogue('the harness catches every injected bug with default options', catalogue('CachedIommu'), {
  maxSteps: 12,
  // An 8-bit tag comes back after 256 domains: 257 rounds of create, attach, translate, detach, destroy.
  longer: { 'tag-wraps': 1300 },
  alsoCheck: (c) => {
    expect(c.repro).toContain(`test('iommu-conformance counterexample: ${c.property}'`);
    expect(c.message).toMatch(/^(ISOLATION|COHERENCY|PERMISSION|TRANSLATION|RESULT) violated/);
  },
});

// A second catalogue by an independent author, on a radix-table design with a per-device TLB,
// DID recycling and per-domain flush queues.
describeCatalogue('the harness catches every bug of the second, independent catalogue', catalogue('RadixIommu'), {
  maxSteps: 20,
});

// A third catalogue by another independent author: an asynchronous virtual IOMMU (extents, a
// shadow IOTLB of whole extents, generations, a shared invalidation queue).
describeCatalogue('the harness catches the bugs of the third, asynchronous catalogue', catalogue('VirtualIommu'), {
  maxSteps: 40,
  // A 4-bit generation comes back after 16 domain-wide invalidations.
  longer: { 'gen-wraps': 60 },
});

// A fourth, written for contract v2 by an independent author: nested domains over a combined
// stage-1+stage-2 IOTLB, PASID replace, pasidBits 0, coarse faults.
describeCatalogue('the harness catches the bugs of the v2 catalogue (nesting, replace)', catalogue('NestedIommu'), {
  maxSteps: 12,
  // The whole stack is built, used, torn down and built again with the same ids: 15 calls at least.
  longer: { 's2-cache-survives-id-reuse': 16 },
});

// A fifth, for v2's dirty tracking, by another independent author: a lost dirty page is DIRTY.
// report-whole-1g answers 262144 pages per read: caught, but in about two minutes (npm run catalogue).
describeCatalogue('the harness catches the bugs of the dirty-tracking catalogue', catalogue('DirtyIommu'), {
  maxSteps: 12,
  sample: catalogue('DirtyIommu').bugs.map((b) => b.name).filter((n) => n !== 'report-whole-1g'),
});

// Families of bugs in the bit arithmetic of the hardware (99 bugs): a sample of each family,
// the edge bits and every level, level 4 included (5-level domains only). All: `npm run catalogue`.
const BITS_SAMPLE = [
  'index-l0-bit8',
  'index-l1-bit0',
  'index-l2-bit8',
  'index-l3-bit4',
  'index-l4-bit0',
  'index-l4-bit8',
  'pa-bit32',
  'pa-bit44',
  'pa-bit51',
  'devid-width1',
  'devid-width15',
  'pasid-width8',
  'pasid-width19',
];
describeCatalogue('the harness catches a sample of the bit families (table index, PA width, id widths)', catalogue('BitsIommu'), {
  maxSteps: 12,
  sample: BITS_SAMPLE,
});
it('samples bugs of the BitsIommu catalogue', () => {
  const names = catalogue('BitsIommu').bugs.map((b) => b.name);
  for (const name of BITS_SAMPLE) expect(names).toContain(name);
});

// Every catalogue of the registry is checked above (a new one needs its bounds here).
it('checks every catalogue of the registry', () => {
  expect(CATALOGUES.map((c) => c.name)).toEqual(['CachedIommu', 'RadixIommu', 'VirtualIommu', 'NestedIommu', 'BitsIommu', 'DirtyIommu']);
});
