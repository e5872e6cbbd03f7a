// The buggy4 fixture: NestedIommu (test/fixtures/buggy4), an independent hardware-shaped v2 IOMMU
// (nesting, PASID replace, pasidBits 0, coarse faults) with injected bugs from real history.
// (a) With no bug it conforms, judged by the reference model on every answer, on every demo and on
//     random call sequences of this file's own generator; (b) each bug's demo gives at least one
//     non-conforming verdict, with an IOTLB of 16 and of 2 entries.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ReferenceIommu } from '../../model/index.ts';
import type { Call, DomainOptions, Verdict } from '../../model/index.ts';
import { dispatch } from '../../model/ops.ts';
import { BUGS4, NestedIommu } from '../fixtures/buggy4/nested-iommu.ts';
import type { Bug4Name, NestedIommuOptions } from '../fixtures/buggy4/nested-iommu.ts';
import { DEMOS4 } from '../fixtures/buggy4/demos.ts';

const show = (x: unknown): string => JSON.stringify(x, (_, v: unknown) => (typeof v === 'bigint' ? `0x${v.toString(16)}` : v));

interface Step {
  call: Call;
  answer: unknown;
  verdict: Verdict;
}

function run(bug: Bug4Name | undefined, options: NestedIommuOptions, calls: readonly Call[]): Step[] {
  const iommu = new NestedIommu(bug, options);
  const judge = new ReferenceIommu(iommu.capabilities);
  return calls.map((call) => {
    let answer: unknown;
    try {
      answer = dispatch(iommu, call);
    } catch (e) {
      answer = `threw ${String(e)}`;
    }
    return { call, answer, verdict: judge.check(call, answer) };
  });
}

const firstFailure = (steps: Step[]): string | undefined => {
  const i = steps.findIndex((s) => !s.verdict.conforming);
  if (i < 0) return undefined;
  const s = steps[i] as Step;
  return `step ${i} ${show(s.call)} answered ${show(s.answer)}: ${show(s.verdict)}\n  after ${steps
    .slice(0, i)
    .map((t) => show(t.call))
    .join('\n        ')}`;
};

const SIZES = [16, 2];

// ---- The random generator: small pools, so that ids, addresses and stages collide. ----
const domainId = fc.oneof({ weight: 30, arbitrary: fc.integer({ min: 0, max: 3 }) }, { weight: 3, arbitrary: fc.constant(4) }, { weight: 1, arbitrary: fc.constantFrom(-1, 2 ** 32, 1.5) });
const device = fc.oneof({ weight: 20, arbitrary: fc.integer({ min: 0, max: 2 }) }, { weight: 1, arbitrary: fc.constantFrom(-1, 2 ** 32) });
const pasid = fc.oneof({ weight: 20, arbitrary: fc.integer({ min: 1, max: 2 }) }, { weight: 1, arbitrary: fc.constantFrom(0, 2 ** 20) });
const address = fc.oneof(
  { weight: 20, arbitrary: fc.constantFrom(0n, 0x1000n, 0x2000n, 0x3000n, 0x200000n, 0x201000n, 0x40000000n) },
  { weight: 2, arbitrary: fc.constantFrom(1n << 39n, (1n << 39n) - 0x1000n, (1n << 48n) - 0x1000n, (1n << 52n) - 0x1000n, 1n << 52n) },
  { weight: 1, arbitrary: fc.constantFrom(0x800n, (1n << 64n) - 0x1000n, 1n << 64n, -0x1000n) },
);
const size = fc.oneof({ weight: 20, arbitrary: fc.constantFrom(0x1000n, 0x2000n, 0x3000n, 0x200000n) }, { weight: 1, arbitrary: fc.constantFrom(0n, 0x800n, 1n << 39n) });
/** Paging options, mostly valid: each key present or not, a bad value now and then. */
const paging: fc.Arbitrary<DomainOptions> = fc
  .record({
    levels: fc.option(fc.constantFrom(3 as const, 4 as const, 5 as const), { freq: 2, nil: undefined }),
    invalidation: fc.option(fc.constantFrom('strict' as const, 'deferred' as const), { freq: 3, nil: undefined }),
    unmap: fc.option(fc.constantFrom('split' as const, 'whole' as const), { freq: 2, nil: undefined }),
    pageSizes: fc.option(fc.constantFrom([0x1000n], [0x1000n, 0x200000n, 0x1000n], [0x200000n]), { freq: 8, nil: undefined }),
    aperture: fc.option(fc.constantFrom(1n << 21n, 1n << 30n, 1n << 39n, 1n << 48n, 3n << 30n), { freq: 8, nil: undefined }),
  })
  .map((o) => Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as DomainOptions);
/** Valid paging options, for the setup. */
const goodPaging: fc.Arbitrary<DomainOptions> = fc
  .record({
    levels: fc.option(fc.constantFrom(3 as const, 4 as const, 5 as const), { freq: 2, nil: undefined }),
    invalidation: fc.option(fc.constantFrom('strict' as const, 'deferred' as const), { freq: 3, nil: undefined }),
    unmap: fc.option(fc.constantFrom('split' as const, 'whole' as const), { freq: 2, nil: undefined }),
    aperture: fc.option(fc.constantFrom(1n << 30n, 1n << 39n), { freq: 5, nil: undefined }),
  })
  .map((o) => Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as DomainOptions);
const nestedOptions = (parent: fc.Arbitrary<number>, base = paging): fc.Arbitrary<DomainOptions> =>
  fc.tuple(parent, base).map(([p, o]): DomainOptions => ({ ...o, type: 'nested', parent: p }));
const options: fc.Arbitrary<DomainOptions | undefined> = fc.oneof(
  { weight: 4, arbitrary: fc.constant(undefined) },
  { weight: 6, arbitrary: paging },
  { weight: 8, arbitrary: nestedOptions(fc.integer({ min: 0, max: 4 })) },
  { weight: 2, arbitrary: fc.constantFrom<DomainOptions>({ type: 'identity' }, { type: 'blocked' }, { type: 'paging' }) },
  {
    weight: 1,
    arbitrary: fc.constantFrom<DomainOptions>(
      { type: 'nested' },
      { parent: 1 },
      { type: 'identity', parent: 1 },
      { type: 'blocked', levels: 3 },
      { type: 'nested', parent: 1, dirtyTracking: true } as DomainOptions,
      { colour: 'red' } as DomainOptions,
      null as unknown as DomainOptions,
      { type: 'nested', parent: 1.5 },
      { type: 'nested', parent: -1 },
      { type: 'paging', parent: 0 },
      { type: 'nested', parent: 0, levels: 3, aperture: 1n << 48n },
      { pageSizes: [0x1000n, , 0x200000n] as bigint[] },
      {
        get levels(): 3 {
          throw new Error('a throwing option');
        },
      },
    ),
  },
);
const pageAddress = fc.constantFrom(0n, 0x1000n, 0x2000n, 0x3000n, 0x200000n, 0x201000n);
const goodSize = fc.constantFrom(0x1000n, 0x1000n, 0x2000n, 0x3000n);
const goodProt = fc.constantFrom(1, 2, 3, 3);
/** A setup: paging parents 0 and 1, nested domains 2 and 3 over them with a chain of mappings
 * (nested IOVA -> IPA mapped in its parent), more mappings, attachments. */
const chain = (nested: number, parent: number): fc.Arbitrary<Call[]> =>
  fc.tuple(pageAddress, pageAddress, pageAddress, goodSize, goodProt, goodProt).map(([iova, ipa, pa, size, p1, p2]): Call[] => [
    { op: 'map', domain: nested, iova, pa: ipa, size, prot: p1 },
    { op: 'map', domain: parent, iova: ipa, pa: pa + 0x100000n, size, prot: p2 },
  ]);
const setup: fc.Arbitrary<Call[]> = fc
  .tuple(fc.constantFrom(0, 1), fc.constantFrom(0, 1), goodPaging, goodPaging, goodPaging, goodPaging)
  .chain(([parent2, parent3, p0, p1, n2, n3]) =>
    fc.tuple(
      fc.constant<Call[]>([
        { op: 'createDomain', id: 0, options: p0 },
        { op: 'createDomain', id: 1, options: p1 },
        { op: 'createDomain', id: 2, options: { ...n2, type: 'nested', parent: parent2 } },
        { op: 'createDomain', id: 3, options: { ...n3, type: 'nested', parent: parent3 } },
      ]),
      chain(2, parent2),
      chain(3, parent3),
      fc.array(fc.record({ op: fc.constant('map' as const), domain: fc.integer({ min: 0, max: 3 }), iova: pageAddress, pa: pageAddress, size: goodSize, prot: goodProt }), { maxLength: 6 }),
      fc.array(
        fc.oneof(
          fc.record({ op: fc.constant('attachDevice' as const), device: fc.integer({ min: 0, max: 2 }), domain: fc.integer({ min: 0, max: 3 }) }),
          fc.record({ op: fc.constant('attachPasid' as const), device: fc.integer({ min: 0, max: 2 }), pasid: fc.integer({ min: 1, max: 2 }), domain: fc.integer({ min: 0, max: 3 }) }),
        ),
        { minLength: 1, maxLength: 4 },
      ),
    ),
  )
  .map(([creates, c2, c3, maps, attaches]): Call[] => [
    ...creates,
    ...c2,
    ...c3,
    ...maps,
    { op: 'attachDevice', device: 0, domain: 2 },
    { op: 'attachPasid', device: 1, pasid: 1, domain: 3 },
    ...attaches,
  ]);
const call: fc.Arbitrary<Call> = fc.oneof(
  { weight: 5, arbitrary: fc.record({ op: fc.constant('createDomain' as const), id: domainId, options }).map((c): Call => (c.options === undefined ? { op: 'createDomain', id: c.id } : c)) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('destroyDomain' as const), id: domainId }) },
  { weight: 3, arbitrary: fc.record({ op: fc.constant('attachDevice' as const), device, domain: domainId }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('detachDevice' as const), device }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('attachPasid' as const), device, pasid, domain: domainId }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('detachPasid' as const), device, pasid }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('replacePasid' as const), device, pasid, domain: domainId }) },
  {
    weight: 8,
    arbitrary: fc.record({ op: fc.constant('map' as const), domain: domainId, iova: address, pa: address, size, prot: fc.oneof({ weight: 10, arbitrary: fc.constantFrom(1, 2, 3) }, { weight: 1, arbitrary: fc.constant(0) }) }),
  },
  { weight: 4, arbitrary: fc.record({ op: fc.constant('unmap' as const), domain: domainId, iova: address, size }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('flush' as const), domain: domainId }) },
  {
    weight: 25,
    arbitrary: fc.record({
      op: fc.constant('translate' as const),
      device,
      pasid: fc.oneof({ weight: 2, arbitrary: fc.constant(null) }, { weight: 1, arbitrary: pasid }),
      iova: fc.oneof({ weight: 6, arbitrary: pageAddress.map((a) => a + 0x10n) }, { weight: 1, arbitrary: address }),
      access: fc.constantFrom('read' as const, 'write' as const),
    }),
  },
);


describe('buggy4: the bug catalogue', () => {
  it('has at least 10 distinct bugs, each with history and one demo', () => {
    expect(BUGS4.length).toBeGreaterThanOrEqual(10);
    expect(new Set(BUGS4.map((b) => b.name)).size).toBe(BUGS4.length);
    for (const b of BUGS4) expect(b.history.length).toBeGreaterThan(10);
    expect(DEMOS4.map((d) => d.bug).sort()).toEqual(BUGS4.map((b) => b.name).sort());
  });
});

describe('buggy4: the correct NestedIommu conforms', () => {
  for (const demo of DEMOS4) {
    for (const iotlbSize of SIZES) {
      it(`on the demo of ${demo.bug} (IOTLB ${iotlbSize})`, () => {
        expect(firstFailure(run(undefined, { ...demo.options, iotlbSize }, demo.calls))).toBeUndefined();
      });
    }
  }

  const CONFIGS: NestedIommuOptions[] = [{}, { iotlbSize: 2 }, { coarseFaults: true, iotlbSize: 4 }, { pasidBits: 0 }, { pasidBits: 1, iotlbSize: 1 }];
  for (const config of CONFIGS) {
    it(`on random call sequences (${show(config)})`, () => {
      fc.assert(
        fc.property(setup, fc.array(call, { minLength: 10, maxLength: 50, size: 'max' }), (prefix, body) => {
          const calls = [...prefix, ...body];
          const failure = firstFailure(run(undefined, config, calls));
          if (failure !== undefined) throw new Error(failure);
        }),
        { numRuns: 150, seed: 4 },
      );
    });
  }
});

describe('buggy4: each bug is exposed by its demo', () => {
  for (const demo of DEMOS4) {
    for (const iotlbSize of SIZES) {
      it(`${demo.bug} (IOTLB ${iotlbSize}): ${demo.shows}`, () => {
        const steps = run(demo.bug, { ...demo.options, iotlbSize }, demo.calls);
        expect(steps.some((s) => !s.verdict.conforming)).toBe(true);
        expect(steps.findIndex((s) => !s.verdict.conforming)).toBe(demo.step);
      });
    }
  }
});
