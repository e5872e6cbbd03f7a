// Self-check of the bit-families catalogue (test/fixtures/bits/): the correct BitsIommu conforms,
// judged call by call by ReferenceIommu.check with its capabilities, on random call sequences of
// this file's own generator (IOVAs and PAs built from single bits at every level's edges, ids that
// differ in one high bit) and on every demo; for a sample of the bugs (each family, each level,
// the edge bits), the demo gets a non-conforming verdict.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { Call, DomainOptions } from '../../model/index.ts';
import { BITS_BUG_LIST, BITS_BUGS, BitsIommu, bugName, parseBugName, type BitsCapabilities } from '../fixtures/bits/bits-iommu.ts';
import { demo } from '../fixtures/bits/demos.ts';
import { describeFailure, firstFailure } from '../helpers/judge.ts';
import { show } from '../helpers/text.ts';

const K4 = 0x1000n;
const M2 = 0x20_0000n;
const G1 = 0x4000_0000n;

const failureOf = (iommu: BitsIommu, calls: readonly Call[]): string | undefined => {
  const f = firstFailure(iommu, calls, iommu.capabilities);
  return f && `${describeFailure(f)}\n  after ${calls.slice(0, f.step).map(show).join('\n        ')}`;
};

// ---- The random generator. ----

/** IOVA bits at the low and high edge of every level's index (12..20, 21..29, ...), and beyond. */
const IOVA_BITS = [12, 13, 20, 21, 22, 29, 30, 31, 38, 39, 40, 47, 48, 49, 56, 57];
const bitsOf = (bits: readonly number[], most: number): fc.Arbitrary<bigint> =>
  fc.uniqueArray(fc.constantFrom(...bits), { maxLength: most }).map((bs) => bs.reduce((x, b) => x | (1n << BigInt(b)), 0n));
const iova = fc.oneof({ weight: 12, arbitrary: bitsOf(IOVA_BITS, 2) }, { weight: 1, arbitrary: fc.constantFrom(0x800n, 1n << 63n, 1n << 64n, -K4) });
// 1G is rare: with 4K pages only it is 2^18 leaves.
const size = fc.oneof(
  { weight: 24, arbitrary: fc.constantFrom(K4, 2n * K4, M2, M2 + K4, 2n * M2) },
  { weight: 1, arbitrary: fc.constant(G1) },
  { weight: 2, arbitrary: fc.constantFrom(0n, 0x800n) },
);
/** A PA of single high bits (12..51), aligned like the IOVA half the time so that large leaves happen. */
const pa = (at: bigint): fc.Arbitrary<bigint> =>
  fc.oneof(
    bitsOf([12, 21, 30, 32, 33, 40, 47, 50, 51], 2),
    bitsOf([30, 32, 39, 44, 51], 2).map((high) => high | (at & (G1 - 1n))),
    fc.constant((1n << 52n) - K4),
  );
const domain = fc.oneof({ weight: 8, arbitrary: fc.constantFrom(1, 2, 3) }, { weight: 1, arbitrary: fc.constantFrom(2 ** 32 - 1, -1, 1.5) });
const options: fc.Arbitrary<DomainOptions | undefined> = fc.oneof(
  { weight: 4, arbitrary: fc.constant(undefined) },
  { weight: 6, arbitrary: fc.record({ levels: fc.constantFrom(3, 4, 5) as fc.Arbitrary<3 | 4 | 5> }) },
  {
    weight: 4,
    arbitrary: fc.record(
      {
        levels: fc.constantFrom(3, 4, 5) as fc.Arbitrary<3 | 4 | 5>,
        invalidation: fc.constantFrom('strict', 'deferred') as fc.Arbitrary<'strict' | 'deferred'>,
        unmap: fc.constantFrom('split', 'whole') as fc.Arbitrary<'split' | 'whole'>,
        pageSizes: fc.constantFrom<bigint[]>([K4], [K4, M2], [K4, G1], [K4, M2, G1, K4]),
        aperture: fc.constantFrom(1n << 21n, 1n << 31n, 1n << 39n, 1n << 48n),
      },
      { requiredKeys: [] },
    ),
  },
  { weight: 2, arbitrary: fc.constantFrom({ type: 'identity' }, { type: 'blocked' }) as fc.Arbitrary<DomainOptions> },
  { weight: 1, arbitrary: fc.constantFrom({ levels: 6 }, { pageSizes: [M2] }, { type: 'identity', levels: 4 }, { aperture: 3n << 21n }, { bogus: 1 }) as fc.Arbitrary<DomainOptions> },
);

const calls = (caps: Required<BitsCapabilities>): fc.Arbitrary<Call[]> => {
  const d = caps.deviceIdBits;
  const p = caps.pasidBits;
  const device = fc.oneof({ weight: 10, arbitrary: fc.constantFrom(0, 1, 2 ** (d - 1), 2 ** (d - 1) + 1, 2 ** d - 1) }, { weight: 1, arbitrary: fc.constantFrom(2 ** d, -1) });
  const pasid = fc.oneof({ weight: 10, arbitrary: fc.constantFrom(1, 2, 2 ** (p - 1) + 1, 2 ** p - 1) }, { weight: 1, arbitrary: fc.constantFrom(0, 2 ** p) });
  const call: fc.Arbitrary<Call> = fc.oneof(
    { weight: 3, arbitrary: fc.record({ op: fc.constant('createDomain' as const), id: domain, options }) },
    { weight: 1, arbitrary: fc.record({ op: fc.constant('destroyDomain' as const), id: domain }) },
    { weight: 3, arbitrary: fc.record({ op: fc.constant('attachDevice' as const), device, domain }) },
    { weight: 1, arbitrary: fc.record({ op: fc.constant('detachDevice' as const), device }) },
    { weight: 2, arbitrary: fc.record({ op: fc.constant('attachPasid' as const), device, pasid, domain }) },
    { weight: 1, arbitrary: fc.record({ op: fc.constant('detachPasid' as const), device, pasid }) },
    {
      weight: 8,
      arbitrary: fc
        .tuple(domain, iova, size, fc.constantFrom(1, 2, 3, 3, 3, 0))
        .chain(([dom, at, sz, prot]) => pa(at).map((target): Call => ({ op: 'map', domain: dom, iova: at, pa: target, size: sz, prot }))),
    },
    { weight: 3, arbitrary: fc.record({ op: fc.constant('unmap' as const), domain, iova, size }) },
    { weight: 2, arbitrary: fc.record({ op: fc.constant('flush' as const), domain }) },
    {
      weight: 10,
      arbitrary: fc.record({
        op: fc.constant('translate' as const),
        device,
        pasid: fc.oneof(fc.constant(null), pasid),
        iova: fc.oneof(iova, iova.map((x) => x + K4)),
        access: fc.constantFrom('read', 'write') as fc.Arbitrary<'read' | 'write'>,
      }),
    },
  );
  // A domain and attachments to start with, so that most sequences translate something.
  const start = (second: DomainOptions | undefined): Call[] => [
    { op: 'createDomain', id: 1, options: { levels: 5 } },
    { op: 'attachDevice', device: 0, domain: 1 },
    { op: 'createDomain', id: 2, options: second },
    { op: 'attachDevice', device: 2 ** (d - 1), domain: 2 },
    { op: 'attachPasid', device: 0, pasid: 2 ** (p - 1) + 1, domain: 2 },
  ];
  // Half the translates and unmaps are aimed at a page of an earlier map (its domain, for unmap).
  const aimed = (cs: [Call, number, boolean][]): Call[] => {
    const maps: Extract<Call, { op: 'map' }>[] = [];
    return cs.map(([c, n, aim]) => {
      if (c.op === 'map') maps.push(c);
      const m = maps[n % Math.max(maps.length, 1)];
      if (!aim || m === undefined || typeof m.size !== 'bigint' || m.size < K4) return c;
      const iova = m.iova + (BigInt(n) % (m.size / K4)) * K4;
      if (c.op === 'translate' && m.domain === 1) return { ...c, device: 0, pasid: null, iova };
      if (c.op === 'translate' && m.domain === 2) return { ...c, ...(n % 2 === 0 ? { device: 2 ** (d - 1), pasid: null } : { device: 0, pasid: 2 ** (p - 1) + 1 }), iova };
      if (c.op === 'translate') return { ...c, iova };
      if (c.op === 'unmap') return { ...c, domain: m.domain, iova: m.iova, size: n % 2 === 0 ? m.size : K4 };
      return c;
    });
  };
  return fc
    .tuple(options, fc.array(fc.tuple(call, fc.nat(), fc.boolean()), { minLength: 1, maxLength: 40, size: 'medium' }))
    .map(([second, cs]) => [...start(second), ...aimed(cs)]);
};

describe('the correct BitsIommu conforms', () => {
  const configurations: Required<BitsCapabilities>[] = [
    { deviceIdBits: 16, pasidBits: 20 },
    { deviceIdBits: 32, pasidBits: 8 },
  ];
  for (const caps of configurations) {
    it(`on random call sequences (deviceIdBits ${caps.deviceIdBits}, pasidBits ${caps.pasidBits})`, () => {
      fc.assert(
        fc.property(calls(caps), (cs) => {
          const failure = failureOf(new BitsIommu(undefined, caps), cs);
          if (failure !== undefined) throw new Error(failure);
        }),
        { numRuns: 500, seed: 7 + caps.pasidBits },
      );
    });
  }

  it('on the demo of every bug', () => {
    for (const bug of BITS_BUG_LIST) expect(failureOf(new BitsIommu(), demo(bug)), bugName(bug)).toBeUndefined();
  });
});

describe('the bug families', () => {
  it('cover every level and index bit, every PA bit from 32 to 51, every id width below the declared one', () => {
    const names = BITS_BUGS.map((b) => b.name);
    expect(names.filter((n) => n.startsWith('index-'))).toHaveLength(5 * 9);
    expect(names.filter((n) => n.startsWith('pa-'))).toHaveLength(20);
    expect(names.filter((n) => n.startsWith('devid-'))).toHaveLength(15);
    expect(names.filter((n) => n.startsWith('pasid-'))).toHaveLength(19);
    expect(new Set(names).size).toBe(names.length);
    for (const name of names) expect(bugName(parseBugName(name)!)).toBe(name);
  });

  it('refuse a bug the capabilities cannot have', () => {
    expect(() => new BitsIommu(parseBugName('devid-width16'))).toThrow(RangeError);
    expect(() => new BitsIommu(parseBugName('pasid-width8'), { pasidBits: 8 })).toThrow(RangeError);
    expect(() => new BitsIommu(parseBugName('pa-bit52'))).toThrow(RangeError);
  });

  // One per family and level, with the edge bits and widths.
  const SAMPLE = [
    'index-l0-bit0', 'index-l0-bit8', 'index-l1-bit4', 'index-l2-bit7', 'index-l3-bit8', 'index-l4-bit0', 'index-l4-bit8',
    'pa-bit32', 'pa-bit40', 'pa-bit51',
    'devid-width1', 'devid-width8', 'devid-width15',
    'pasid-width1', 'pasid-width10', 'pasid-width19',
  ];
  it.each(SAMPLE)('%s: its demo gets a non-conforming verdict', (name) => {
    expect(failureOf(new BitsIommu(parseBugName(name)), demo(parseBugName(name)!)), 'the demo conforms').toBeDefined();
  });
});
