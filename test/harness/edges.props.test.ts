// Property suites only: what the harness's generator does not reach (see docs/ORACLE-STRENGTH.md).
// - map/unmap with a size of 0, misaligned IOVAs, PAs and sizes, out-of-range domain ids and
//   IOVAs: FastIommu answers exactly what the model's face answers, and the judge agrees.
// - createDomain at maxDomains: the contract lets an implementation succeed there, or answer
//   ENOSPC before any other error; implementations doing either conform.
// - Deferred invalidation bookkeeping, through FastIommu's stats(): adjacent unmaps coalesce into
//   one pending range, separate ones do not, unmaps that remove nothing queue nothing.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { FastIommu } from '../../impl/index.ts';
import { ReferenceIommu } from '../../model/index.ts';
import type { Call, Capabilities, DomainOptions, Iommu } from '../../model/types.ts';
import { checkConformance } from '../../properties/index.ts';
import { K4, M2, G1, U64_LIMIT as U64 } from '../helpers/sizes.ts';
import { show as text } from '../helpers/text.ts';


type Callable = Record<string, (...a: unknown[]) => unknown>;
const invoke = (io: object, c: Call): unknown => (io as Callable)[c.op]!(...Object.values(c).slice(1));

/** FastIommu and the model side by side: every answer must equal the model's face and conform. */
function pair(): { io: FastIommu; run: (c: Call) => unknown } {
  const io = new FastIommu({ iotlbSize: 8 });
  const model = new ReferenceIommu();
  return {
    io,
    run(c) {
      const expected = model.perform(c);
      const answer = invoke(io, c);
      expect(text(answer), text(c)).toBe(text(expected));
      return answer;
    },
  };
}

const offset = fc.oneof(fc.constant(0n), fc.bigInt({ min: 1n, max: K4 - 1n }));
const base = fc.constantFrom(0n, K4, 16n * K4, M2, 1n << 39n, 1n << 48n, (1n << 52n) - K4);
const size = fc.oneof(fc.constant(0n), fc.constantFrom(K4, 2n * K4, M2), fc.bigInt({ min: 1n, max: 3n * K4 }));
const domain = fc.oneof(fc.constantFrom<unknown>(1, 2, 3, 9), fc.constantFrom<unknown>(-1, 1.5, 2 ** 32, Number.NaN, '1', 1n, undefined));
const address = fc.oneof(
  fc.tuple(base, offset).map(([b, o]) => b + o),
  fc.constantFrom<unknown>(-K4, U64, U64 + K4, 4096, '0x1000', undefined),
);
const aligned = fc.tuple(base, fc.nat(15)).map(([b, k]) => b + BigInt(k) * K4);
const edgeCall: fc.Arbitrary<Call> = fc.oneof(
  fc.record({ op: fc.constant('map'), domain, iova: address, pa: address, size, prot: fc.constantFrom<unknown>(1, 2, 3, 0, 4) }),
  fc.record({ op: fc.constant('unmap'), domain, iova: address, size }),
  // Valid arguments on the paging domain, with one thing wrong: a size of 0 or one misalignment.
  fc.record({ op: fc.constant('map'), domain: fc.constant(1), iova: aligned, pa: aligned, size: fc.constantFrom(0n, K4), prot: fc.constant(3), skew: fc.constantFrom(0, 1, 2, 3) }).map(
    ({ skew, ...c }) => ({ ...c, iova: c.iova + (skew === 1 ? 0x800n : 0n), pa: c.pa + (skew === 2 ? 0x10n : 0n), size: c.size + (skew === 3 ? 0x200n : 0n) }),
  ),
  fc.record({ op: fc.constant('unmap'), domain: fc.constant(1), iova: aligned, size: fc.constantFrom(0n, K4, 0x1800n) }),
) as fc.Arbitrary<Call>;

describe('argument edges the harness does not generate', () => {
  it('map and unmap with sizes of 0, misalignment and out-of-range values answer as the model does', () => {
    fc.assert(
      fc.property(fc.constantFrom<DomainOptions>({}, { unmap: 'whole', invalidation: 'deferred' }), fc.array(edgeCall, { minLength: 1, maxLength: 30 }), (options, calls) => {
        const p = pair();
        p.run({ op: 'createDomain', id: 1, options });
        p.run({ op: 'createDomain', id: 2, options: { type: 'identity' } });
        p.run({ op: 'createDomain', id: 3, options: { type: 'blocked' } });
        p.run({ op: 'map', domain: 1, iova: 16n * K4, pa: 16n * K4, size: M2, prot: 3 });
        for (const c of calls) p.run(c);
      }),
      { seed: 0xed9e, numRuns: 150 },
    );
  });
});

/** A FastIommu without a domain limit behind declared capabilities that state one. */
function declaring(capabilities: Capabilities, createFirst: boolean): Iommu {
  const inner = new FastIommu({ capabilities: { ...capabilities, maxDomains: undefined } });
  let domains = 0;
  const limit = capabilities.maxDomains ?? Infinity;
  const wrapper: Iommu = {
    capabilities,
    createDomain(id, options) {
      // createFirst: succeeds beyond the limit (allowed: "may answer ENOSPC");
      // otherwise: ENOSPC at the limit before any other error (allowed: "alongside any other error").
      if (!createFirst && domains >= limit && Number.isInteger(id) && (id as number) >= 0 && (id as number) < 2 ** 32) return { ok: false, error: 'ENOSPC' };
      const r = inner.createDomain(id, options);
      if (r.ok) domains++;
      return r;
    },
    destroyDomain(id) {
      const r = inner.destroyDomain(id);
      if (r.ok) domains--;
      return r;
    },
    attachDevice: (d, id) => inner.attachDevice(d, id),
    detachDevice: (d) => inner.detachDevice(d),
    attachPasid: (d, p, id) => inner.attachPasid(d, p, id),
    detachPasid: (d, p) => inner.detachPasid(d, p),
    map: (id, i, p, s, r) => inner.map(id, i, p, s, r),
    unmap: (id, i, s) => inner.unmap(id, i, s),
    flush: (id) => inner.flush(id),
    translate: (d, p, i, a) => inner.translate(d, p, i, a),
  };
  return wrapper;
}

describe('maxDomains: the latitude the contract gives', () => {
  for (const createFirst of [true, false]) {
    it(createFirst ? 'an implementation that creates beyond its declared limit conforms' : 'one that answers ENOSPC before any other error at the limit conforms', async () => {
      await fc.assert(
        fc.asyncProperty(fc.integer({ min: 0, max: 3 }), fc.integer({ min: 1, max: 1000 }), async (maxDomains, seed) => {
          const report = await checkConformance(() => declaring({ maxDomains }, createFirst), { numRuns: 3, seed, maxCommands: 30 });
          expect(report.counterexample?.steps.join('\n')).toBeUndefined();
          expect(report.ok).toBe(true);
        }),
        { seed: 0xd0d0 + Number(createFirst), numRuns: 12 },
      );
    });
  }
});

describe('deferred invalidation bookkeeping (FastIommu stats)', () => {
  it('adjacent unmaps coalesce into one pending range, separate ones do not, empty ones queue nothing', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 2, max: 40 }),
        fc.boolean(),
        fc.boolean(),
        fc.constantFrom<'split' | 'whole'>('split', 'whole'),
        (pages, adjacent, descending, unmap) => {
          const io = new FastIommu({ iotlbSize: Number.POSITIVE_INFINITY });
          const model = new ReferenceIommu();
          const run = (c: Call): unknown => {
            const answer = invoke(io, c);
            expect(model.check(c, answer).conforming, text(c)).toBe(true);
            return answer;
          };
          run({ op: 'createDomain', id: 1, options: { invalidation: 'deferred', unmap } });
          run({ op: 'attachDevice', device: 0, domain: 1 });
          const at = (i: number): bigint => BigInt(i * (adjacent ? 1 : 3)) * K4;
          const order = [...Array(pages).keys()];
          if (descending) order.reverse();
          for (const i of order) run({ op: 'map', domain: 1, iova: at(i), pa: M2 + at(i), size: K4, prot: 3 });
          for (const i of order) run({ op: 'translate', device: 0, pasid: null, iova: at(i), access: 'read' });
          // Unmaps of ranges with nothing mapped: nothing to invalidate.
          run({ op: 'unmap', domain: 1, iova: 1n << 40n, size: K4 });
          run({ op: 'unmap', domain: 1, iova: at(pages) + 4n * K4, size: 2n * K4 });
          expect(io.stats().pendingInvalidations).toBe(0);
          for (const i of order) run({ op: 'unmap', domain: 1, iova: at(i), size: K4 });
          expect(io.stats().pendingInvalidations).toBe(adjacent ? 1 : pages);
          expect(io.stats().flushQueueOverflows).toBe(0);
          expect(io.checkInvariants()).toEqual([]);
          run({ op: 'flush', domain: 1 });
          expect(io.stats().pendingInvalidations).toBe(0);
          for (const i of order) expect(run({ op: 'translate', device: 0, pasid: null, iova: at(i), access: 'read' })).toEqual({ ok: false, fault: 'not-mapped' });
        },
      ),
      { seed: 0xf10, numRuns: 60 },
    );
  });
});

describe('1G leaves in the IOTLB', () => {
  it('a strict domain forgets a cached 1G translation at unmap, whatever else is cached', () => {
    const step = fc.oneof(
      fc.record({ op: fc.constant('map' as const), k: fc.nat(3), n: fc.constantFrom(1n, 2n) }),
      fc.record({ op: fc.constant('unmap' as const), k: fc.nat(3), at: fc.constantFrom(0n, K4, M2, G1 / 2n), size: fc.constantFrom(K4, M2, G1) }),
      fc.record({ op: fc.constant('translate' as const), k: fc.nat(3), at: fc.constantFrom(0n, K4, M2 + K4, G1 - K4), write: fc.boolean() }),
    );
    fc.assert(
      fc.property(fc.constantFrom(1, 8, Number.POSITIVE_INFINITY), fc.array(step, { minLength: 1, maxLength: 30 }), (iotlbSize, steps) => {
        const io = new FastIommu({ iotlbSize });
        const model = new ReferenceIommu();
        const run = (c: Call): void => {
          const answer = invoke(io, c);
          expect(model.check(c, answer).conforming, text(c) + ' answered ' + text(answer)).toBe(true);
        };
        run({ op: 'createDomain', id: 1 });
        run({ op: 'attachDevice', device: 0, domain: 1 });
        for (const s of steps) {
          const iova = BigInt(s.k) * G1;
          if (s.op === 'map') run({ op: 'map', domain: 1, iova, pa: iova + 8n * G1, size: s.n * G1, prot: 3 });
          else if (s.op === 'unmap') run({ op: 'unmap', domain: 1, iova: iova + s.at, size: s.size });
          else run({ op: 'translate', device: 0, pasid: null, iova: iova + s.at, access: s.write ? 'write' : 'read' });
        }
        expect(io.checkInvariants()).toEqual([]);
      }),
      { seed: 0x1e9, numRuns: 150 },
    );
  });
});

describe('ranges of 512 GiB and more', () => {
  // No leaf is larger than 1G, even where a level-3 entry's whole 512G span is mapped and its PA
  // aligned: the walk, the IOTLB and the self-check know leaves of levels 0..2 only.
  it('map as 1G leaves: every page translates as the model says, before and after a split unmap', () => {
    const G512 = 512n * G1;
    fc.assert(
      fc.property(
        fc.constantFrom<3 | 4 | 5>(4, 5),
        fc.nat(3),
        fc.constantFrom(1n, 2n),
        fc.array(fc.bigInt({ min: 0n, max: 2n * G512 - 1n }), { minLength: 1, maxLength: 12 }),
        fc.bigInt({ min: 0n, max: 1n << 20n }),
        (levels, k, n, offsets, cut) => {
          const { io, run } = pair();
          const iova = BigInt(k) * G512;
          const size = n * G512;
          run({ op: 'createDomain', id: 1, options: { levels } });
          run({ op: 'attachDevice', device: 0, domain: 1 });
          run({ op: 'map', domain: 1, iova, pa: 4n * G512, size, prot: 3 });
          const probe = (): void => {
            for (const o of [0n, size - 1n, ...offsets.map((x) => x % size)])
              run({ op: 'translate', device: 0, pasid: null, iova: iova + o, access: 'write' });
          };
          probe();
          run({ op: 'unmap', domain: 1, iova: iova + (cut % (size / M2)) * M2, size: M2 });
          probe();
          expect(io.checkInvariants()).toEqual([]);
          // 1G leaves, and one of them split: a handful of table pages.
          expect(io.stats().tablePages).toBeLessThan(16);
        },
      ),
      { seed: 0x512, numRuns: 40 },
    );
  });
});

describe('a range of 256 TiB', () => {
  it('maps as 1G leaves in a 5-level domain (no level-4 leaf), whatever its first and last pages', () => {
    const T48 = 1n << 48n;
    fc.assert(
      fc.property(fc.bigInt({ min: 0n, max: T48 / K4 - 1n }), (page) => {
        const { io, run } = pair();
        run({ op: 'createDomain', id: 1, options: { levels: 5 } });
        run({ op: 'attachDevice', device: 0, domain: 1 });
        run({ op: 'map', domain: 1, iova: T48, pa: T48, size: T48, prot: 1 });
        for (const iova of [T48, 2n * T48 - K4, T48 + page * K4]) run({ op: 'translate', device: 0, pasid: null, iova: iova + 5n, access: 'read' });
        expect(io.stats().tablePages).toBe(2 + 512); // root, one level-3 table, 512 tables of 1G leaves
      }),
      { seed: 0x2560, numRuns: 4 },
    );
  });
});

describe('translate: arguments only the slow path may take', () => {
  // translate's fast path takes valid arguments with IOVAs below 2^53 only; everything else must
  // reach the full checks: negative IOVAs, PASIDs that are fractional, bigint or 0, and IOVAs at
  // or above 2^53, which a Number rounds (2^53 + 1 is 2^53 as a Number).
  it('answers exactly as the model for such arguments, around mappings above 2^53', () => {
    const T53 = 1n << 53n;
    const edges = [-K4, -1n, 0n, 1n, K4, T53 - K4, T53 - 1n, T53, T53 + 1n, T53 + K4 + 1n, T53 + M2 + 7n, T53 + 2n * M2 - 1n, (1n << 57n) - 1n, 1n << 57n];
    const iova = fc.oneof(fc.constantFrom(...edges), fc.bigInt({ min: T53 - M2, max: T53 + 3n * M2 }));
    const pasid = fc.constantFrom<unknown>(null, 1, 2, 1.5, 1n, 0, -1, 2 ** 20, undefined);
    const call = fc.record({ op: fc.constant('translate'), device: fc.constantFrom<unknown>(0, 1, 1.5, -1), pasid, iova, access: fc.constantFrom<unknown>('read', 'write', 'exec') }) as fc.Arbitrary<Call>;
    fc.assert(
      fc.property(fc.array(call, { minLength: 1, maxLength: 40 }), (calls) => {
        const { run } = pair();
        run({ op: 'createDomain', id: 1, options: { levels: 5 } });
        run({ op: 'createDomain', id: 2, options: { type: 'identity' } });
        // Above 2^53: a read-write page and a read-only 2M range, with PAs unlike their IOVAs.
        run({ op: 'map', domain: 1, iova: T53, pa: 0x10_0000n, size: K4, prot: 3 });
        run({ op: 'map', domain: 1, iova: T53 + M2, pa: 4n * M2, size: M2, prot: 1 });
        run({ op: 'map', domain: 1, iova: 0n, pa: M2, size: K4, prot: 2 });
        run({ op: 'attachDevice', device: 0, domain: 1 });
        run({ op: 'attachPasid', device: 0, pasid: 1, domain: 2 });
        run({ op: 'attachDevice', device: 1, domain: 2 });
        run({ op: 'attachPasid', device: 1, pasid: 2, domain: 1 });
        // Every edge IOVA through every attachment, then the generated calls.
        for (const x of edges)
          for (const [device, p] of [[0, null], [0, 1], [1, null], [1, 2]] as const)
            for (const access of ['read', 'write'] as const) run({ op: 'translate', device, pasid: p, iova: x, access });
        for (const c of calls) run(c);
      }),
      { seed: 0x7a53, numRuns: 60 },
    );
  });
});
