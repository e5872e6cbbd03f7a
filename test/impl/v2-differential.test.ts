// FastIommu v2, differential property: random call sequences over paging and nested domains,
// identity and blocked ones, RID and PASID attachments, replacePasid and translations (traffic
// mostly through nested domains and their parents, at addresses that meet the mappings), run on
// FastIommu({ capabilities: { nesting, pasidReplace } }) with IOTLBs of several sizes; every answer
// judged by the reference model with the same capabilities (ReferenceIommu.check), and the
// self-check empty after every step.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { FastIommu } from '../../impl/index.ts';
import { ReferenceIommu, type Extent } from '../../model/index.ts';
import { dispatch, type Call } from '../../model/ops.ts';
import type { Capabilities, DomainOptions } from '../../model/types.ts';

const CAPS: Capabilities = { nesting: true, pasidReplace: true };
const K4 = 0x1000n;
const M2 = 0x20_0000n;
/** IOVAs and IPAs stay in a window of 1024 pages (4 MiB, two 2M blocks), so that calls meet. */
const WINDOW = 1024;

const domainId = fc.constantFrom(1, 2, 3, 4, 5);
/** Maps go mostly to the prologue's parent and nested domains. */
const mapDomain = fc.constantFrom(1, 1, 1, 2, 2, 3, 4, 5);
const device = fc.constantFrom(0, 1, 2);
const pasid = fc.constantFrom(1, 2);
/** Pages cluster near the 2M boundaries, where leaves are made, split and combined. */
const pageIn = (limit: number): fc.Arbitrary<number> =>
  fc.oneof(
    { weight: 1, arbitrary: fc.integer({ min: 0, max: limit - 1 }) },
    { weight: 2, arbitrary: fc.tuple(fc.integer({ min: 0, max: limit / 512 }), fc.integer({ min: -3, max: 3 })).map(([k, o]) => Math.min(limit - 1, Math.max(0, k * 512 + o))) },
  );
const address = pageIn(WINDOW).map((p) => BigInt(p) * K4);
const pageCount = fc.oneof(fc.integer({ min: 1, max: 4 }), fc.constantFrom(512, 1024), fc.integer({ min: 1, max: 600 }));
const size = pageCount.map((n) => BigInt(n) * K4);
/** PAs of the parents: a 2M-aligned base or anywhere in 16 MiB, so that 2M leaves can be made. */
const physical = fc.oneof(fc.integer({ min: 0, max: 8 }).map((k) => BigInt(k) * M2), fc.integer({ min: 0, max: 4095 }).map((p) => BigInt(p) * K4));

const tableOptions: fc.Arbitrary<Omit<DomainOptions, 'type' | 'parent'>> = fc.record(
  {
    levels: fc.constantFrom(3 as const, 4 as const),
    pageSizes: fc.constantFrom([K4], [K4, M2], [K4, M2, 0x4000_0000n]).map((s) => [...s]),
    invalidation: fc.constantFrom('strict' as const, 'deferred' as const),
    unmap: fc.constantFrom('split' as const, 'whole' as const),
    aperture: fc.constantFrom(1n << 22n, 1n << 30n),
  },
  { requiredKeys: [] },
);
const options: fc.Arbitrary<DomainOptions | undefined> = fc.oneof(
  { weight: 3, arbitrary: tableOptions },
  { weight: 4, arbitrary: fc.tuple(tableOptions, domainId).map(([t, parent]): DomainOptions => ({ type: 'nested', parent, ...t })) },
  { weight: 1, arbitrary: fc.constantFrom<DomainOptions | undefined>(undefined, { type: 'identity' }, { type: 'blocked' }) },
  // Bad ones: a missing or misplaced parent, a paging-only option on identity.
  { weight: 1, arbitrary: fc.constantFrom<DomainOptions>({ type: 'nested' }, { parent: 1 }, { type: 'identity', parent: 1 }, { type: 'blocked', levels: 3 }) },
);

const call: fc.Arbitrary<Call> = fc.oneof(
  { weight: 2, arbitrary: fc.record({ op: fc.constant('createDomain' as const), id: domainId, options }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('destroyDomain' as const), id: domainId }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('attachDevice' as const), device, domain: domainId }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('detachDevice' as const), device }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('attachPasid' as const), device, pasid, domain: domainId }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('detachPasid' as const), device, pasid }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('replacePasid' as const), device, pasid, domain: domainId }) },
  // Stage-1 maps (IPAs in the window) and stage-2 maps (PAs anywhere): any domain may get either.
  {
    weight: 4,
    arbitrary: fc.record({ op: fc.constant('map' as const), domain: mapDomain, iova: address, pa: fc.oneof({ weight: 3, arbitrary: address }, { weight: 1, arbitrary: physical }), size, prot: fc.constantFrom(1, 2, 3) }),
  },
  // A parent's stage 2 over the whole window (where the stage-1 IPAs mostly are), read-write.
  { weight: 1, arbitrary: fc.record({ op: fc.constant('map' as const), domain: fc.constant(1), iova: fc.constant(0n), pa: physical, size: fc.constant(BigInt(WINDOW) * K4), prot: fc.constant(3) }) },
  { weight: 3, arbitrary: fc.record({ op: fc.constant('unmap' as const), domain: domainId, iova: address, size }) },
  { weight: 3, arbitrary: fc.record({ op: fc.constant('flush' as const), domain: mapDomain }) },
  {
    weight: 14,
    arbitrary: fc.record({
      op: fc.constant('translate' as const),
      device,
      pasid: fc.constantFrom(null, null, 1, 2),
      iova: fc.tuple(address, fc.integer({ min: 0, max: 4095 })).map(([a, off]) => a + BigInt(off)),
      access: fc.constantFrom('read' as const, 'write' as const),
    }),
  },
);

/**
 * A call, and for a translate or an unmap a `ref` that (when not null) redirects it into the
 * range of an earlier successful map (the n-th modulo their number), so that calls meet mappings;
 * a redirected translate goes through a device attached to that map's domain, or to a nested
 * domain whose stage 1 reaches it, when there is one.
 */
interface Step {
  readonly call: Call;
  readonly ref: number | null;
}
const step: fc.Arbitrary<Step> = fc.tuple(call, fc.option(fc.nat(), { freq: 3 })).map(([c, ref]) => ({ call: c, ref: c.op === 'translate' || c.op === 'unmap' ? ref : null }));

/** Parent 1 (paging), nested 2 over it and nested 3 over it (deferred), attached: the usual scene. */
const PROLOGUE: Call[] = [
  { op: 'createDomain', id: 1 },
  { op: 'createDomain', id: 2, options: { type: 'nested', parent: 1 } },
  { op: 'createDomain', id: 3, options: { type: 'nested', parent: 1, invalidation: 'deferred' } },
  { op: 'attachDevice', device: 0, domain: 2 },
  { op: 'attachDevice', device: 1, domain: 1 },
  { op: 'attachPasid', device: 0, pasid: 1, domain: 3 },
];

/** The prologue as steps, the parent created with `parentOptions`. */
const prologueSteps = (parentOptions: DomainOptions): Step[] =>
  [{ op: 'createDomain', id: 1, options: parentOptions } as Call, ...PROLOGUE.slice(1)].map((c) => ({ call: c, ref: null }));

const show = (c: Call): string => JSON.stringify(c, (_k, v: unknown) => (typeof v === 'bigint' ? `0x${v.toString(16)}` : v));

type MapCall = Extract<Call, { op: 'map' }>;

/**
 * The IPA ranges [lo, hi) where a nested domain's current stage-1 mapping `s1` meets its parent's
 * stage 2: a current mapping of the parent, or (with `history`) an earlier map call on it, which
 * may be unmapped since (then translations there test the invalidation of combined entries).
 */
function stagePairs(model: ReferenceIommu, maps: readonly Call[], history: boolean): { id: number; parent: number; s1: Extent; lo: bigint; hi: bigint }[] {
  const views = model.domainViews();
  const pairs: { id: number; parent: number; s1: Extent; lo: bigint; hi: bigint }[] = [];
  for (const v of views) {
    if (v.config.type !== 'nested') continue;
    const parent = v.config.parent;
    const stage2: { iova: bigint; size: bigint }[] = [...views.find((d) => d.id === parent)!.mappings];
    if (history) stage2.push(...(maps as MapCall[]).filter((m) => m.domain === parent));
    for (const s1 of v.mappings)
      for (const s2 of stage2) {
        const lo = s1.pa > s2.iova ? s1.pa : s2.iova;
        const hi = s1.pa + s1.size < s2.iova + s2.size ? s1.pa + s1.size : s2.iova + s2.size;
        if (lo < hi) pairs.push({ id: v.id, parent, s1, lo, hi });
      }
  }
  return pairs;
}

/** Resolves a step's `ref` against the maps so far and the model's state (see Step). */
function resolve(st: Step, maps: readonly Call[], model: ReferenceIommu): Call {
  const c = st.call;
  if (st.ref === null || maps.length === 0 || (c.op !== 'translate' && c.op !== 'unmap')) return c;
  const m = maps[st.ref % maps.length] as MapCall;
  const pages = m.size / K4;
  const off = c.iova % K4;
  // Mostly at an IPA where a nested domain's stage 1 meets its parent's stage 2: a translate goes
  // through the nested domain at that IOVA, an unmap takes a few pages of that IPA range from the
  // parent (where combined entries may be cached).
  const pairs = st.ref % 4 === 0 ? [] : stagePairs(model, maps, c.op === 'translate');
  if (pairs.length !== 0) {
    const { id, parent, s1, lo, hi } = pairs[st.ref % pairs.length]!;
    const ipa = lo + ((c.iova / K4) % ((hi - lo) / K4)) * K4;
    if (c.op === 'unmap') return { ...c, domain: parent, iova: ipa, size: c.size < hi - ipa ? c.size : hi - ipa };
    const at = model.attachments().find((a) => a.domain === id);
    if (at !== undefined) return { ...c, device: at.device, pasid: at.pasid, iova: s1.iova + (ipa - s1.pa) + off };
  }
  // Else an earlier map's range, which may have been unmapped since (stale answers).
  if (c.op === 'unmap') return st.ref % 2 === 0 ? { ...c, domain: m.domain, iova: m.iova, size: m.size } : { ...c, domain: m.domain, iova: m.iova + ((c.iova / K4) % pages) * K4 };
  const at = model.attachments().find((a) => a.domain === m.domain);
  return at === undefined ? c : { ...c, device: at.device, pasid: at.pasid, iova: m.iova + ((c.iova / K4) % pages) * K4 + off };
}

/** Runs the steps on both; the first non-conforming answer or self-check problem, or undefined. */
function firstFailure(steps: readonly Step[], iotlbSize: number, parentOptions: DomainOptions = {}): string | undefined {
  const io = new FastIommu({ capabilities: CAPS, iotlbSize });
  const model = new ReferenceIommu(CAPS);
  const all: Step[] = [...prologueSteps(parentOptions), ...steps];
  const maps: Call[] = [];
  for (let i = 0; i < all.length; i++) {
    const c = resolve(all[i]!, maps, model);
    const answer = dispatch(io, c);
    const verdict = model.check(c, answer);
    if (!verdict.conforming) return `step ${i} ${show(c)}: expected ${verdict.expected}, got ${verdict.actual}`;
    const problems = io.checkInvariants();
    if (problems.length !== 0) return `step ${i} ${show(c)}: self-check: ${problems.join('; ')}`;
    if (c.op === 'map' && (answer as { ok: boolean }).ok) maps.push(c);
  }
  return undefined;
}

/** The property: random steps, an IOTLB size, the parent's options. */
const v2Property = (): fc.IPropertyWithHooks<[Step[], number, Omit<DomainOptions, 'type' | 'parent'>]> =>
  fc.property(
    fc.array(step, { minLength: 1, maxLength: 120, size: 'max' }),
    fc.constantFrom(0, 1, 8, 64, 1024, Number.POSITIVE_INFINITY),
    tableOptions,
    (steps, iotlbSize, parentOptions) => {
      expect(firstFailure(steps, iotlbSize, parentOptions)).toBeUndefined();
    },
  );

// The property was seen to fail (then the bug was reverted) with each of two coherency bugs
// injected in impl/fast-iommu.ts: a strict parent's unmap that skips its children's combined
// entries, and a deferred parent's flush that does; each caught by the self-check, and by the
// model's judgement alone with the self-check turned off (a stale translation through the nested
// domain after the unmap or flush).
describe('FastIommu v2: differential against the reference model', () => {
  it('random v2 call sequences: every answer conforms, the self-check stays empty', () => {
    fc.assert(v2Property(), { numRuns: 500, seed: 0x2_2e57 });
  });

  it('the generated sequences reach what they are for: combined hits, stale answers, parent invalidations, replacements', () => {
    // What the property's inputs exercise, counted over a fixed sample.
    const sample = fc.sample(fc.tuple(fc.array(step, { minLength: 60, maxLength: 120, size: 'max' }), tableOptions), { numRuns: 60, seed: 7 });
    let nestedHits = 0;
    let nestedOk = 0;
    let stale = 0;
    let replaced = 0;
    let parentUnmaps = 0;
    for (const [steps, parentOptions] of sample) {
      const io = new FastIommu({ capabilities: CAPS, iotlbSize: 64 });
      const model = new ReferenceIommu(CAPS);
      const maps: Call[] = [];
      for (const st of [...prologueSteps(parentOptions), ...steps]) {
        const c = resolve(st, maps, model);
        const through = c.op === 'translate' ? model.domainViews().find((d) => d.id === model.attachments().find((a) => a.device === c.device && a.pasid === c.pasid)?.domain) : undefined;
        const hitsBefore = io.stats().iotlbHits;
        const answer = dispatch(io, c) as { ok: boolean };
        const verdict = model.check(c, answer);
        if (verdict.conforming && verdict.stale) stale++;
        if (c.op === 'map' && answer.ok) maps.push(c);
        if (c.op === 'replacePasid' && answer.ok) replaced++;
        if (c.op === 'unmap' && answer.ok && model.domainViews().some((d) => d.config.type === 'nested' && d.config.parent === c.domain)) parentUnmaps++;
        if (through?.config.type === 'nested') {
          if (answer.ok) nestedOk++;
          nestedHits += io.stats().iotlbHits - hitsBefore;
        }
      }
    }
    if (process.env.V2_COVERAGE) console.log({ nestedHits, nestedOk, stale, replaced, parentUnmaps });
    expect({ nestedHits: nestedHits > 50, nestedOk: nestedOk > 100, stale: stale > 3, replaced: replaced > 20, parentUnmaps: parentUnmaps > 50 }).toEqual({
      nestedHits: true,
      nestedOk: true,
      stale: true,
      replaced: true,
      parentUnmaps: true,
    });
  });
});
