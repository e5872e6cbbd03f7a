// FastIommu v2, dirty tracking (CONTRACT.md "Dirty tracking"): directed tests of each rule, every
// answer judged by the reference model and the self-check empty after every step; then a
// differential property of random call sequences (paging domains with a dirty record, nested
// domains over one, strict and deferred, 4K/2M leaves made, split and cut), with IOTLBs of 0, 2, 16
// and Infinity entries.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DEFAULT_CAPABILITIES, FastIommu } from '../../impl/index.ts';
import { ReferenceIommu } from '../../model/index.ts';
import { dispatch, type Call } from '../../model/ops.ts';
import type { Capabilities, DomainOptions } from '../../model/types.ts';

const CAPS: Capabilities = { dirtyTracking: true, nesting: true };
const K4 = 0x1000n;
const M2 = 0x20_0000n;
const G1 = 0x4000_0000n;
const OK = { ok: true };
const err = (error: string) => ({ ok: false, error });
const pages = (first: bigint, n: number): bigint[] => Array.from({ length: n }, (_, i) => first + BigInt(i) * K4);
const show = (x: unknown): string => JSON.stringify(x, (_k, v: unknown) => (typeof v === 'bigint' ? `0x${v.toString(16)}` : v));

/** A FastIommu and its judge: every call's answer checked by the model, the self-check after it. */
class Judged {
  readonly io: FastIommu;
  readonly model = new ReferenceIommu(CAPS);
  constructor(iotlbSize = 16) {
    this.io = new FastIommu({ capabilities: CAPS, iotlbSize });
  }
  do(call: Call): unknown {
    const answer = dispatch(this.io, call);
    const verdict = this.model.check(call, answer);
    expect(verdict, `${show(call)} -> ${show(answer)}`).toMatchObject({ conforming: true });
    expect(this.io.checkInvariants(), show(call)).toEqual([]);
    return answer;
  }
  create(id: number, options?: DomainOptions): void {
    expect(this.do({ op: 'createDomain', id, options })).toEqual(OK);
  }
  map(domain: number, iova: bigint, pa: bigint, size: bigint, prot = 3): void {
    expect(this.do({ op: 'map', domain, iova, pa, size, prot })).toEqual(OK);
  }
  unmap(domain: number, iova: bigint, size: bigint): unknown {
    return this.do({ op: 'unmap', domain, iova, size });
  }
  attach(device: number, domain: number): void {
    expect(this.do({ op: 'attachDevice', device, domain })).toEqual(OK);
  }
  track(domain: number, enabled = true): void {
    expect(this.do({ op: 'setDirtyTracking', domain, enabled })).toEqual(OK);
  }
  write(device: number, iova: bigint): unknown {
    return this.do({ op: 'translate', device, pasid: null, iova, access: 'write' });
  }
  read(device: number, iova: bigint): unknown {
    return this.do({ op: 'translate', device, pasid: null, iova, access: 'read' });
  }
  dirty(domain: number, iova: bigint, size: bigint, clear = false): bigint[] {
    const a = this.do({ op: 'readDirty', domain, iova, size, clear }) as { ok: boolean; value: bigint[] };
    expect(a.ok).toBe(true);
    return a.value;
  }
}

/** Domain 1 with a dirty record (options added), 2M mapped read-write at IOVA 0 -> PA 4M, device 0 on it, tracking on. */
function tracked(options: DomainOptions = {}, iotlbSize = 16): Judged {
  const j = new Judged(iotlbSize);
  j.create(1, { dirtyTracking: true, ...options });
  j.map(1, 0n, 2n * M2, M2);
  j.attach(0, 1);
  j.track(1);
  return j;
}

describe('FastIommu v2 dirty tracking: capability, options and arguments', () => {
  it('declares dirtyTracking by default; { capabilities: {} } stays the v1 IOMMU', () => {
    expect(DEFAULT_CAPABILITIES).toEqual({ nesting: true, pasidReplace: true, dirtyTracking: true });
    expect(new FastIommu().capabilities).toBe(DEFAULT_CAPABILITIES);
    for (const caps of [{}, { nesting: true, pasidReplace: true }] as Capabilities[]) {
      const v1 = new FastIommu({ capabilities: caps });
      for (const value of [true, false]) expect(v1.createDomain(1, { dirtyTracking: value })).toEqual(err('EINVAL')); // an unknown key
      expect(v1.createDomain(1)).toEqual(OK);
      expect(v1.setDirtyTracking(1, true)).toEqual(err('EINVAL'));
      expect(v1.readDirty(1, 0n, K4, false)).toEqual(err('EINVAL'));
      expect(v1.readDirty(9, 0n, 0n, 'x' as never)).toEqual(err('EINVAL'));
    }
    expect(() => new FastIommu({ capabilities: { dirtyTracking: 'yes' as never } })).toThrow(/dirtyTracking must be a boolean/);
  });

  it('the dirtyTracking option: paging only; false means absent', () => {
    const j = new Judged();
    j.create(1, { dirtyTracking: true });
    for (const options of [
      { type: 'nested', parent: 1, dirtyTracking: true },
      { type: 'nested', parent: 1, dirtyTracking: false },
      { type: 'identity', dirtyTracking: true },
      { type: 'blocked', dirtyTracking: false },
      { dirtyTracking: 1 },
      { dirtyTracking: null },
    ] as DomainOptions[])
      expect(j.do({ op: 'createDomain', id: 2, options })).toEqual(err('EINVAL'));
    j.create(2, { dirtyTracking: false });
    j.create(3, { dirtyTracking: undefined });
    for (const d of [2, 3]) {
      expect(j.do({ op: 'setDirtyTracking', domain: d, enabled: true })).toEqual(err('EINVAL'));
      expect(j.do({ op: 'readDirty', domain: d, iova: 0n, size: K4, clear: false })).toEqual(err('EINVAL'));
    }
    j.create(4, { type: 'nested', parent: 1 });
    expect(j.do({ op: 'setDirtyTracking', domain: 4, enabled: true })).toEqual(err('EINVAL')); // its parent records its writes
    expect(j.do({ op: 'readDirty', domain: 4, iova: 0n, size: K4, clear: false })).toEqual(err('EINVAL'));
  });

  it('setDirtyTracking and readDirty: ENOENT, EINVAL, ERANGE', () => {
    const j = new Judged();
    j.create(1, { dirtyTracking: true, aperture: 1n << 30n });
    expect(j.do({ op: 'setDirtyTracking', domain: 7, enabled: true })).toEqual(err('ENOENT'));
    for (const enabled of [1, 'true', null, undefined]) expect(j.do({ op: 'setDirtyTracking', domain: 1, enabled: enabled as never })).toEqual(err('EINVAL'));
    const rd = (iova: bigint, size: bigint, clear: unknown = false, domain = 1) => j.do({ op: 'readDirty', domain, iova, size, clear: clear as boolean });
    expect(rd(0n, K4, false, 7)).toEqual(err('ENOENT'));
    expect(rd(0n, 0n)).toEqual(err('EINVAL'));
    expect(rd(0x800n, K4)).toEqual(err('EINVAL'));
    expect(rd(0n, 0x1800n)).toEqual(err('EINVAL'));
    expect(rd(0n, K4, 1)).toEqual(err('EINVAL'));
    expect(rd(-K4, K4)).toEqual(err('EINVAL'));
    expect(rd(1n << 30n, K4)).toEqual(err('ERANGE'));
    expect(rd((1n << 30n) - K4, 2n * K4)).toEqual(err('ERANGE'));
    expect(rd(0n, 1n << 30n)).toEqual({ ok: true, value: [] });
  });
});

describe('FastIommu v2 dirty tracking: the rules', () => {
  it('tracking starts disabled; while off nothing is recorded; disabling keeps the record', () => {
    const j = new Judged();
    j.create(1, { dirtyTracking: true, pageSizes: [K4] });
    j.map(1, 0n, 0n, 4n * K4);
    j.attach(0, 1);
    j.write(0, 0n);
    expect(j.dirty(1, 0n, 4n * K4)).toEqual([]);
    j.track(1);
    j.write(0, K4);
    j.track(1, false);
    j.write(0, 2n * K4);
    expect(j.dirty(1, 0n, 4n * K4)).toEqual([K4]);
  });

  it('the cached-dirty-entry case: write, readDirty with clear, write again through the same page, reported again', () => {
    const j = tracked({ pageSizes: [K4] });
    j.write(0, 0n); // miss: the walk sets the bit, the entry remembers it
    j.write(0, 0n); // hit on the marked entry: nothing more
    expect(j.io.stats().dirtyHitUpdates).toBe(0);
    expect(j.dirty(1, 0n, M2, true)).toEqual([0n]);
    expect(j.dirty(1, 0n, M2)).toEqual([]);
    const { iotlbMisses } = j.io.stats();
    j.write(0, 0x10n);
    expect(j.io.stats().iotlbMisses).toBe(iotlbMisses + 1); // the clear invalidated the marked entry
    expect(j.dirty(1, 0n, M2, true)).toEqual([0n]);
    // Many rounds through one page: each clear is followed by a recorded write.
    for (let round = 0; round < 5; round++) {
      j.write(0, 0n);
      j.write(0, 0n);
      expect(j.dirty(1, 0n, K4, true)).toEqual([0n]);
    }
  });

  it('a write hit on an entry filled clean goes to the table and marks the entry', () => {
    const j = tracked({ pageSizes: [K4] });
    j.track(1, false);
    j.write(0, K4); // filled while tracking is off: the leaf stays clean, the entry unmarked
    j.track(1);
    j.read(0, 0n); // filled clean
    j.write(0, 0n); // hit on a clean entry: to the table
    j.write(0, K4);
    expect(j.io.stats().dirtyHitUpdates).toBe(2);
    j.write(0, 0n); // now marked
    expect(j.io.stats().dirtyHitUpdates).toBe(2);
    expect(j.dirty(1, 0n, M2)).toEqual([0n, K4]);
  });

  it('one write dirties a whole 2M leaf: every 4K page of it in the range is reported', () => {
    const j = tracked();
    j.write(0, 5n * K4);
    expect(j.dirty(1, 0n, M2)).toEqual(pages(0n, 512));
    expect(j.dirty(1, 8n * K4, 3n * K4)).toEqual(pages(8n * K4, 3));
    expect(j.dirty(1, M2, M2)).toEqual([]); // not mapped, not written
  });

  it('a clear that cuts a 2M leaf clears the whole leaf (the rest of a cut block may be cleared)', () => {
    const j = tracked();
    j.write(0, 5n * K4);
    expect(j.dirty(1, 4n * K4, 2n * K4, true)).toEqual([4n * K4, 5n * K4]);
    expect(j.dirty(1, 0n, M2)).toEqual([]);
    j.write(0, 7n * K4);
    expect(j.dirty(1, 0n, M2)).toEqual(pages(0n, 512));
  });

  it('splitting a dirty 2M leaf leaves every piece dirty; a clear that cuts the 2M block clears the pieces', () => {
    const j = tracked();
    j.write(0, 5n * K4);
    expect(j.unmap(1, 100n * K4, K4)).toEqual({ ok: true, value: K4 });
    const all = pages(0n, 512).filter((p) => p !== 100n * K4);
    expect(j.dirty(1, 0n, M2)).toEqual(all);
    // Clearing the written page's 4K leaf clears its siblings from the same 2M leaf too: without a
    // page of their block written since, they may no longer be reported.
    expect(j.dirty(1, 5n * K4, K4, true)).toEqual([5n * K4]);
    expect(j.dirty(1, 0n, M2)).toEqual([]);
    // A 4K piece written afterwards is its own block: a clear elsewhere in the 2M leaves it.
    j.write(0, 9n * K4);
    j.write(0, 11n * K4);
    expect(j.dirty(1, 9n * K4, K4, true)).toEqual([9n * K4]);
    expect(j.dirty(1, 0n, M2)).toEqual([11n * K4]);
  });

  it('a 1G leaf: one write dirties it, readDirty reports its 262144 pages, a 2^40 range stays fast', () => {
    const io = new FastIommu({ capabilities: CAPS });
    expect(io.createDomain(1, { dirtyTracking: true, levels: 4 })).toEqual(OK);
    expect(io.map(1, 3n * G1, G1, G1, 3)).toEqual(OK);
    expect(io.attachDevice(0, 1)).toEqual(OK);
    expect(io.setDirtyTracking(1, true)).toEqual(OK);
    expect(io.translate(0, null, 3n * G1 + 0x12345n, 'write')).toEqual({ ok: true, pa: G1 + 0x12345n });
    const t0 = performance.now();
    const r = io.readDirty(1, 0n, 1n << 40n, false);
    expect(performance.now() - t0).toBeLessThan(1000);
    expect(r.ok && r.value.length).toBe(262144);
    expect(r.ok && r.value[0]).toBe(3n * G1);
    expect(r.ok && r.value[262143]).toBe(4n * G1 - K4);
    // A 2M-aligned clear inside the 1G leaf clears all of it (the leaf is cut).
    expect(io.readDirty(1, 3n * G1 + M2, M2, true)).toMatchObject({ ok: true, value: { length: 512 } });
    expect(io.readDirty(1, 0n, 1n << 40n, false)).toEqual({ ok: true, value: [] });
    expect(io.checkInvariants()).toEqual([]);
    // 2^40 of mostly nothing.
    const t1 = performance.now();
    for (let i = 0; i < 100; i++) io.readDirty(1, 0n, 1n << 40n, true);
    expect(performance.now() - t1).toBeLessThan(1000);
  });

  it('unmap removes the leaf and its dirty state; a remap is clean', () => {
    const j = tracked({ pageSizes: [K4] });
    j.write(0, 0n);
    j.write(0, K4);
    j.unmap(1, 0n, K4);
    j.map(1, 0n, 0n, K4);
    expect(j.dirty(1, 0n, 2n * K4)).toEqual([K4]);
  });

  it('deferred: a remap of a pending range drops the old marked entry, so the next write is recorded', () => {
    const j = tracked({ pageSizes: [K4], invalidation: 'deferred' });
    j.write(0, 0n); // entry marked dirty
    expect(j.dirty(1, 0n, K4)).toEqual([0n]);
    j.unmap(1, 0n, K4); // pending: the entry stays
    j.map(1, 0n, 2n * M2, K4); // the same PA again: a write through the old entry would look current
    j.write(0, 0n);
    expect(j.dirty(1, 0n, K4)).toEqual([0n]);
  });

  it('writes through a nested domain mark the parent leaf at the IPA; a clear of the parent invalidates the combined entries', () => {
    const j = new Judged();
    j.create(1, { dirtyTracking: true, pageSizes: [K4] });
    j.map(1, 0n, 2n * M2, 16n * K4); // IPA 0..64K -> PA 4M..
    j.create(2, { type: 'nested', parent: 1 });
    j.map(2, M2, 3n * K4, 2n * K4); // IOVA 2M -> IPA 12K
    j.attach(0, 2);
    j.write(0, M2); // tracking off
    expect(j.dirty(1, 0n, 16n * K4)).toEqual([]);
    j.track(1);
    j.write(0, M2 + K4); // miss: marks the parent's IPA page 16K
    expect(j.dirty(1, 0n, 16n * K4, true)).toEqual([4n * K4]);
    j.write(0, M2 + K4 + 8n); // the combined entry was invalidated: recorded again
    j.write(0, M2 + K4 + 16n);
    expect(j.dirty(1, 0n, 16n * K4, true)).toEqual([4n * K4]);
    // A combined entry filled by a read, clean: the write hit goes to the parent's table.
    j.read(0, M2);
    j.write(0, M2);
    expect(j.dirty(1, 0n, 16n * K4)).toEqual([3n * K4]);
  });

  it('a nested domain created over a tracking parent tracks; the parent switching tracking switches it', () => {
    const j = new Judged();
    j.create(1, { dirtyTracking: true, pageSizes: [K4, M2] });
    j.map(1, 0n, 0n, M2); // one 2M stage-2 leaf
    j.track(1);
    j.create(2, { type: 'nested', parent: 1, pageSizes: [K4] });
    j.map(2, 0n, 5n * K4, K4);
    j.attach(0, 2);
    j.write(0, 0n);
    expect(j.dirty(1, 0n, M2)).toEqual(pages(0n, 512)); // the whole 2M stage-2 leaf
    j.track(1, false);
    expect(j.dirty(1, 0n, M2, true)).toHaveLength(512);
    j.write(0, 0n);
    expect(j.dirty(1, 0n, M2)).toEqual([]);
  });
});

describe('FastIommu v2 dirty tracking: the self-check', () => {
  it('an IOTLB entry marked dirty over a clean leaf is a problem (it would hide the next write)', () => {
    const j = tracked({ pageSizes: [K4] });
    j.write(0, 0n);
    const arena = (j.io as unknown as { arena: { pte: Float64Array } }).arena;
    const i = arena.pte.findIndex((e) => e >= 2 ** 44);
    expect(i).toBeGreaterThanOrEqual(0);
    arena.pte[i] = arena.pte[i]! - 2 ** 44; // the leaf's bit cleared behind the IOTLB's back
    expect(j.io.checkInvariants()).toEqual([expect.stringMatching(/marked dirty over the clean leaf at pfn 0x0/)]);
  });

  it('a dirty bit in a domain without a dirty record, and a bad origin, are problems', () => {
    const io = new FastIommu({ capabilities: CAPS });
    expect(io.createDomain(1, { pageSizes: [K4] })).toEqual(OK);
    expect(io.createDomain(2, { dirtyTracking: true, pageSizes: [K4] })).toEqual(OK);
    expect(io.map(1, 0n, 0n, K4, 3)).toEqual(OK);
    expect(io.map(2, 0n, 0n, K4, 3)).toEqual(OK);
    const arena = (io as unknown as { arena: { pte: Float64Array } }).arena;
    const leaves = [...arena.pte.keys()].filter((i) => (arena.pte[i]! & 8) !== 0);
    expect(leaves).toHaveLength(2);
    for (const i of leaves) arena.pte[i] = arena.pte[i]! + 2 ** 44 + 2 ** 45; // dirty, origin 2M
    const problems = io.checkInvariants().join('\n');
    expect(problems).toMatch(/domain 1: .*malformed PTE/);
    expect(problems).toMatch(/domain 2: .*dirty leaf with origin level 1/);
  });
});

// ---------------------------------------------------------------- the differential property

const WINDOW = 1024; // pages: IOVAs and IPAs in 4 MiB, two 2M blocks
const pageIn = fc.oneof(
  { weight: 2, arbitrary: fc.integer({ min: 0, max: WINDOW - 1 }) },
  { weight: 3, arbitrary: fc.tuple(fc.integer({ min: 0, max: 2 }), fc.integer({ min: -3, max: 3 })).map(([k, o]) => Math.min(WINDOW - 1, Math.max(0, k * 512 + o))) },
  { weight: 3, arbitrary: fc.constantFrom(0, 1, 5, 100, 511, 512, 700) }, // hot pages: IOTLB hits
);
const address = pageIn.map((p) => BigInt(p) * K4);
const size = fc.oneof(fc.integer({ min: 1, max: 4 }), fc.constantFrom(512, 1024), fc.integer({ min: 1, max: 600 })).map((n) => BigInt(n) * K4);
const physical = fc.oneof(fc.integer({ min: 0, max: 8 }).map((k) => BigInt(k) * M2), fc.integer({ min: 0, max: 4095 }).map((p) => BigInt(p) * K4));
const dirtyOptions: fc.Arbitrary<DomainOptions> = fc
  .record(
    {
      pageSizes: fc.constantFrom([K4], [K4, M2], [K4, M2, G1]).map((s) => [...s]),
      invalidation: fc.constantFrom('strict' as const, 'deferred' as const),
      unmap: fc.constantFrom('split' as const, 'whole' as const),
      levels: fc.constantFrom(3 as const, 4 as const),
    },
    { requiredKeys: [] },
  )
  .map((o) => ({ dirtyTracking: true, ...o }));
const nestedOptions: fc.Arbitrary<DomainOptions> = fc.record({ invalidation: fc.constantFrom('strict' as const, 'deferred' as const), pageSizes: fc.constantFrom([K4], [K4, M2]).map((s) => [...s]) }, { requiredKeys: [] });
/** Domains: 1 and 4 paging with a dirty record, 2 and 3 nested over 1, 5 created by the calls. */
const domain = fc.constantFrom(1, 1, 1, 2, 3, 4, 5);
const recordDomain = fc.constantFrom(1, 1, 1, 4, 2, 5);
const bool = fc.oneof({ weight: 12, arbitrary: fc.boolean() }, { weight: 1, arbitrary: fc.constantFrom(0, 'yes') as fc.Arbitrary<never> });

const call: fc.Arbitrary<Call> = fc.oneof(
  {
    weight: 1,
    arbitrary: fc.record({
      op: fc.constant('createDomain' as const),
      id: fc.constantFrom(5, 5, 2),
      options: fc.oneof(
        dirtyOptions,
        nestedOptions.map((o): DomainOptions => ({ type: 'nested', parent: 1, ...o })),
        fc.constantFrom<DomainOptions>({ type: 'nested', parent: 4, dirtyTracking: false }, { type: 'identity', dirtyTracking: true }, { dirtyTracking: 'on' as never }, { dirtyTracking: false }),
      ),
    }),
  },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('destroyDomain' as const), id: fc.constantFrom(5, 2) }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('attachDevice' as const), device: fc.constant(3), domain: fc.constantFrom(5, 4, 2) }) },
  { weight: 5, arbitrary: fc.record({ op: fc.constant('map' as const), domain, iova: address, pa: fc.oneof(address, physical), size, prot: fc.constantFrom(1, 2, 3, 3) }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('map' as const), domain: fc.constantFrom(1, 4), iova: fc.constant(0n), pa: physical.map((p) => p - (p % M2)), size: fc.constant(BigInt(WINDOW) * K4), prot: fc.constant(3) }) },
  { weight: 3, arbitrary: fc.record({ op: fc.constant('unmap' as const), domain, iova: address, size }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('flush' as const), domain }) },
  { weight: 3, arbitrary: fc.record({ op: fc.constant('setDirtyTracking' as const), domain: recordDomain, enabled: fc.oneof({ weight: 3, arbitrary: fc.constant(true) }, { weight: 1, arbitrary: bool }) }) },
  {
    weight: 6,
    arbitrary: fc.record({
      op: fc.constant('readDirty' as const),
      domain: recordDomain,
      iova: fc.oneof({ weight: 4, arbitrary: address }, { weight: 1, arbitrary: fc.constantFrom(0x800n, 1n << 40n) }),
      size: fc.oneof({ weight: 4, arbitrary: size }, { weight: 1, arbitrary: fc.constantFrom(0n, 0x800n, 2n * M2) }),
      clear: fc.oneof({ weight: 3, arbitrary: fc.constant(true) }, { weight: 2, arbitrary: bool }),
    }),
  },
  {
    weight: 20,
    arbitrary: fc.record({
      op: fc.constant('translate' as const),
      device: fc.constantFrom(0, 1, 2, 3),
      pasid: fc.constantFrom(null, null, null, 1),
      iova: fc.tuple(address, fc.integer({ min: 0, max: 4095 })).map(([a, off]) => a + BigInt(off)),
      access: fc.constantFrom('read' as const, 'write' as const, 'write' as const),
    }),
  },
);

/** Parent 1 (dirty record, tracking on) with nested 2 (strict) and 3 (deferred) over it; 4 another recording domain. */
const prologue = (o1: DomainOptions, o4: DomainOptions, n2: DomainOptions, n3: DomainOptions): Call[] => [
  { op: 'createDomain', id: 1, options: o1 },
  { op: 'createDomain', id: 2, options: { ...n2, type: 'nested', parent: 1 } },
  { op: 'createDomain', id: 3, options: { ...n3, type: 'nested', parent: 1 } },
  { op: 'createDomain', id: 4, options: o4 },
  { op: 'map', domain: 1, iova: 0n, pa: 0n, size: BigInt(WINDOW) * K4, prot: 3 },
  { op: 'map', domain: 2, iova: 0n, pa: 0n, size: M2, prot: 3 },
  { op: 'map', domain: 3, iova: 0n, pa: M2, size: M2, prot: 3 },
  { op: 'map', domain: 4, iova: 0n, pa: M2, size: M2, prot: 3 },
  { op: 'attachDevice', device: 0, domain: 2 },
  { op: 'attachDevice', device: 1, domain: 1 },
  { op: 'attachDevice', device: 2, domain: 4 },
  { op: 'attachPasid', device: 0, pasid: 1, domain: 3 },
  { op: 'setDirtyTracking', domain: 1, enabled: true },
  { op: 'setDirtyTracking', domain: 4, enabled: true },
];

/** Runs the calls on FastIommu and the judge; the first problem found, or undefined. */
function runDifferential(iotlbSize: number, calls: readonly Call[], make = (n: number) => new FastIommu({ capabilities: CAPS, iotlbSize: n })): string | undefined {
  const io = make(iotlbSize);
  const judge = new ReferenceIommu(CAPS);
  for (let k = 0; k < calls.length; k++) {
    const c = calls[k]!;
    const answer = dispatch(io, c);
    const verdict = judge.check(c, answer);
    if (!verdict.conforming) return `step ${k} ${show(c)}: expected ${verdict.expected}, got ${verdict.actual} ${show(verdict.dirty ?? '')}`;
    const problems = io.checkInvariants();
    if (problems.length !== 0) return `step ${k} ${show(c)}: self-check: ${problems.join('; ')}`;
  }
  return undefined;
}

/**
 * The pattern that a lost write needs: a write, a readDirty with clear over its page (of the
 * domain that records it: 1 for devices 0 and 1 and PASID 1, 4 for device 2), the same write
 * again (through an IOTLB entry, if the clear kept it), and a read of the record.
 */
const writeClearWrite: fc.Arbitrary<Call[]> = fc
  .tuple(fc.constantFrom([0, null, 1], [1, null, 1], [2, null, 4], [0, 1, 1]), address, fc.integer({ min: 0, max: 4095 }), fc.boolean())
  .map(([[device, pasid, record], iova, off, wide]): Call[] => {
    const write: Call = { op: 'translate', device: device!, pasid: pasid as number | null, iova: iova + BigInt(off), access: 'write' };
    const [from, span] = wide ? [0n, BigInt(WINDOW) * K4] : [iova, K4];
    return [write, { op: 'readDirty', domain: record!, iova: from, size: span, clear: true }, write, { op: 'readDirty', domain: record!, iova: 0n, size: BigInt(WINDOW) * K4, clear: false }];
  });

const scenario = fc
  .tuple(dirtyOptions, dirtyOptions, nestedOptions, nestedOptions, fc.array(fc.oneof({ weight: 6, arbitrary: call.map((c) => [c]) }, { weight: 1, arbitrary: writeClearWrite }), { minLength: 10, maxLength: 60 }))
  .map(([o1, o4, n2, n3, calls]) => [...prologue(o1, o4, n2, n3), ...calls.flat()]);

describe('FastIommu v2 dirty tracking: differential property against the reference model', () => {
  for (const iotlbSize of [0, 2, 16, Number.POSITIVE_INFINITY])
    it(`random call sequences conform, self-check clean (IOTLB ${iotlbSize})`, () => {
      fc.assert(
        fc.property(scenario, (calls) => {
          const problem = runDifferential(iotlbSize, calls);
          if (problem !== undefined) throw new Error(problem);
        }),
        { numRuns: 250, seed: 0x5d1e7 + (iotlbSize === Number.POSITIVE_INFINITY ? 99 : iotlbSize) },
      );
    });
});
