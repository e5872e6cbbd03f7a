// The registry of the catalogues of injected bugs: each implementation with its list of bugs and
// how to build it with one of them (or none: the correct version). The harness's catalogue test
// (test/harness/bugs.test.ts) and the measurements (`npm run catalogue`, bench/catalogue.ts) both
// read the catalogues from here; a new catalogue is added here once.
import type { Capabilities, Iommu } from '../../model/types.ts';
import { BUGS, CachedIommu, type BugName } from '../fixtures/buggy/cached-iommu.ts';
import { BUGS2, RadixIommu, type Bug2Name } from '../fixtures/buggy2/radix-iommu.ts';
import { BUGS3, VirtualIommu, type Bug3Name } from '../fixtures/buggy3/viommu.ts';
import { DEMOS4 } from '../fixtures/buggy4/demos.ts';
import { BUGS4, NestedIommu, type Bug4Name } from '../fixtures/buggy4/nested-iommu.ts';
import { BUGS5, DirtyIommu, type Bug5Name } from '../fixtures/buggy5/dirty-iommu.ts';
import { BITS_BUGS, create as createBits, DEFAULT_CAPABILITIES as BITS_CAPABILITIES } from '../fixtures/bits/bits-iommu.ts';

export interface CatalogueBug {
  readonly name: string;
  readonly class: string;
  readonly description: string;
}

export interface Catalogue {
  /** The implementation's class name. */
  readonly name: string;
  /** One line: the implementation and its design (the heading of `npm run catalogue`'s table). */
  readonly title: string;
  readonly bugs: readonly CatalogueBug[];
  /** The implementation with this bug, or with none (the correct version). */
  readonly create: (bug?: string) => Iommu;
  /** The capabilities the implementation declares when create() builds it, if any (default: none). */
  readonly capabilities?: Capabilities;
}

export const CATALOGUES: readonly Catalogue[] = [
  {
    name: 'CachedIommu',
    title: 'CachedIommu (page table of leaves, context cache, 16-entry IOTLB, global flush queue)',
    bugs: BUGS,
    create: (bug) => new CachedIommu(bug as BugName | undefined),
  },
  {
    name: 'RadixIommu',
    title: 'RadixIommu (radix tables, per-device TLB, DID pool, per-domain flush queues; independent author)',
    bugs: BUGS2,
    create: (bug) => new RadixIommu(bug as Bug2Name | undefined),
  },
  {
    name: 'VirtualIommu',
    title: 'VirtualIommu (asynchronous vIOMMU: extents, shadow IOTLB of whole extents, generations; independent author)',
    bugs: BUGS3,
    create: (bug) => new VirtualIommu(bug as Bug3Name | undefined),
  },
  {
    name: 'NestedIommu',
    title: 'NestedIommu (v2: nesting and PASID replace; combined stage-1+stage-2 IOTLB, stage-2 walk cache, context cache; independent author)',
    bugs: BUGS4.map((b) => ({ name: b.name, class: b.class, description: b.history })),
    // A bug that shows only under declared options (pasidBits 0) is built with them, as its demo is.
    create: (bug) => new NestedIommu(bug as Bug4Name | undefined, DEMOS4.find((d) => d.bug === bug)?.options ?? {}),
    capabilities: { nesting: true, pasidReplace: true },
  },
  {
    name: 'BitsIommu',
    title:
      'BitsIommu (radix tables indexed by shift and mask, 52-bit PTE address fields, context and PASID tables indexed by masked ids, 16-entry IOTLB; bug families: one per index bit and level, PA bit, id width)',
    bugs: BITS_BUGS,
    create: (bug) => createBits(bug),
    capabilities: BITS_CAPABILITIES,
  },
  {
    name: 'DirtyIommu',
    title: 'DirtyIommu (v2: dirty tracking; one dirty bit per 4K/2M/1G leaf, IOTLB entries that remember "already dirty", nested writes marking the parent; independent author)',
    bugs: BUGS5.map((b) => ({ name: b.name, class: b.class, description: b.history })),
    create: (bug) => new DirtyIommu(bug as Bug5Name | undefined),
    capabilities: { dirtyTracking: true, nesting: true },
  },
];

/** The catalogue of this implementation (by class name). */
export function catalogue(name: string): Catalogue {
  const found = CATALOGUES.find((c) => c.name === name);
  if (found === undefined) throw new Error(`no catalogue of ${name}`);
  return found;
}
