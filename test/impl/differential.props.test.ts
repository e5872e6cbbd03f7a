// Differential random test: FastIommu against a naive page map (a JS Map from page number to
// { pa, prot }), on two domains of random kinds, three devices and a PASID, with small IOTLBs.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { FastIommu } from '../../impl/index.ts';
import type { DomainOptions, Translation } from '../../model/types.ts';

const PAGES = 2048; // the window of IOVA pages the commands use (8 MiB)

type Cmd =
  | { op: 'map'; dom: number; page: number; n: number; paPage: number; prot: number }
  | { op: 'unmap'; dom: number; page: number; n: number; ref: number | null }
  | { op: 'translate'; dev: number; pasid: number | null; page: number; off: number; write: boolean; ref: number | null }
  | { op: 'attach'; dev: number; dom: number }
  | { op: 'detach'; dev: number }
  | { op: 'attachPasid'; dom: number }
  | { op: 'detachPasid' }
  | { op: 'flush'; dom: number };

// Pages cluster near 2M boundaries, where leaves are made, split and cached.
// A `ref` (when not null) redirects a translate or unmap to an earlier map call's range (the
// `page` picks where), so that commands meet the mappings.
const page = fc.oneof(
  { weight: 1, arbitrary: fc.integer({ min: 0, max: PAGES + 64 }) },
  { weight: 3, arbitrary: fc.tuple(fc.integer({ min: 0, max: PAGES / 512 }), fc.integer({ min: -3, max: 3 })).map(([k, o]) => Math.max(0, k * 512 + o)) },
);
const count = fc.oneof(fc.integer({ min: 1, max: 4 }), fc.constantFrom(512, 1024, 1536), fc.integer({ min: 1, max: 1100 }));
const paPage = fc.oneof(fc.integer({ min: 0, max: 1 << 20 }), fc.integer({ min: 0, max: 2048 }).map((k) => k * 512));
const dom = fc.constantFrom(1, 2);
const dev = fc.constantFrom(0, 1, 2);

const cmd: fc.Arbitrary<Cmd> = fc.oneof(
  { weight: 4, arbitrary: fc.record({ op: fc.constant('map' as const), dom, page, n: count, paPage, prot: fc.constantFrom(1, 2, 3) }) },
  {
    weight: 3,
    arbitrary: fc.record({ op: fc.constant('unmap' as const), dom, page, n: count, ref: fc.option(fc.nat(), { freq: 2 }) }),
  },
  {
    weight: 8,
    arbitrary: fc.record({
      op: fc.constant('translate' as const),
      dev,
      pasid: fc.constantFrom(null, null, 7),
      page,
      off: fc.integer({ min: 0, max: 4095 }),
      write: fc.boolean(),
      ref: fc.option(fc.nat(), { freq: 4 }),
    }),
  },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('attach' as const), dev, dom }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('detach' as const), dev }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('attachPasid' as const), dom }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('detachPasid' as const) }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('flush' as const), dom }) },
);

const domainOptions: fc.Arbitrary<DomainOptions> = fc.record(
  {
    levels: fc.constantFrom(3 as const, 4 as const),
    pageSizes: fc.constantFrom([0x1000n], [0x1000n, 0x20_0000n]),
    invalidation: fc.constantFrom('strict' as const, 'deferred' as const),
    unmap: fc.constantFrom('split' as const, 'whole' as const),
    aperture: fc.constantFrom(1n << 22n, 1n << 23n, 1n << 24n),
  },
  { requiredKeys: [] },
);

interface Mapping {
  pa: number;
  prot: number;
}
interface NaiveDomain {
  options: DomainOptions;
  aperturePages: number;
  pages: Map<number, Mapping>;
  /** Extents of map calls ('whole'), start -> end. */
  extents: Map<number, number>;
  /** Mappings removed from each page since the last flush (deferred only). */
  stale: Map<number, Mapping[]>;
}

function run(opts: [DomainOptions, DomainOptions], cmds: Cmd[], iotlbSize: number): void {
  const io = new FastIommu({ iotlbSize });
  const doms = new Map<number, NaiveDomain>();
  opts.forEach((options, i) => {
    expect(io.createDomain(i + 1, options)).toEqual({ ok: true });
    const aperture = options.aperture ?? 1n << BigInt(12 + 9 * (options.levels ?? 4));
    doms.set(i + 1, { options, aperturePages: Number(aperture >> 12n), pages: new Map(), extents: new Map(), stale: new Map() });
  });
  const rid = new Map<number, number>([[0, 1], [1, 2]]);
  let pasid7: number | undefined = 2;
  expect(io.attachDevice(0, 1)).toEqual({ ok: true });
  expect(io.attachDevice(1, 2)).toEqual({ ok: true });
  expect(io.attachPasid(0, 7, 2)).toEqual({ ok: true });

  const earlier: [number, number, number][] = []; // [page, n, dom] of every map command so far
  for (const c0 of cmds) {
    let c = c0;
    if (c.op === 'map') earlier.push([c.page, c.n, c.dom]);
    if (c.op === 'translate' && c.ref !== null && earlier.length > 0) {
      const [start, n, id] = earlier[c.ref % earlier.length]!;
      c = { ...c, ref: null, page: start + (c.page % (n + 1)) };
      // Mostly through an attachment of that map's domain, if there is one.
      if (c.dev !== 2) {
        if (pasid7 === id) c = { ...c, dev: 0, pasid: 7 };
        for (const [dv, x] of rid) if (x === id && (pasid7 !== id || c.pasid === null)) c = { ...c, dev: dv, pasid: null };
      }
    }
    if (c.op === 'unmap' && c.ref !== null && earlier.length > 0) {
      const [start, n] = earlier[c.ref % earlier.length]!;
      c = c.page % 2 === 0 ? { ...c, ref: null, page: start, n } : { ...c, ref: null, page: start + (c.page % n) };
    }
    const step = JSON.stringify(c);
    switch (c.op) {
      case 'map': {
        const d = doms.get(c.dom)!;
        const r = io.map(c.dom, BigInt(c.page) * 4096n, BigInt(c.paPage) * 4096n, BigInt(c.n) * 4096n, c.prot);
        let want: unknown = { ok: true };
        if (c.page + c.n > d.aperturePages) want = { ok: false, error: 'ERANGE' };
        else {
          for (let p = c.page; p < c.page + c.n; p++) if (d.pages.has(p)) want = { ok: false, error: 'EEXIST' };
        }
        expect(r, step).toEqual(want);
        if (r.ok) {
          for (let k = 0; k < c.n; k++) d.pages.set(c.page + k, { pa: c.paPage + k, prot: c.prot });
          d.extents.set(c.page, c.page + c.n);
        }
        break;
      }
      case 'unmap': {
        const d = doms.get(c.dom)!;
        const r = io.unmap(c.dom, BigInt(c.page) * 4096n, BigInt(c.n) * 4096n);
        const a = c.page;
        const b = c.page + c.n;
        if (b > d.aperturePages) {
          expect(r, step).toEqual({ ok: false, error: 'ERANGE' });
          break;
        }
        let remove: [number, number][] = [[a, b]];
        if (d.options.unmap === 'whole') {
          const cut = [...d.extents].some(([s, e]) => s < b && e > a && (s < a || e > b));
          if (cut) {
            expect(r, step).toEqual({ ok: false, error: 'EINVAL' });
            break;
          }
          remove = [...d.extents].filter(([s]) => s >= a && s < b);
          for (const [s] of remove) d.extents.delete(s);
        }
        let removed = 0;
        for (const [s, e] of remove)
          for (let p = s; p < e; p++) {
            const m = d.pages.get(p);
            if (m === undefined) continue;
            removed++;
            d.pages.delete(p);
            if (d.options.invalidation === 'deferred') d.stale.set(p, [...(d.stale.get(p) ?? []), m]);
          }
        expect(r, step).toEqual({ ok: true, value: BigInt(removed) * 4096n });
        break;
      }
      case 'translate': {
        const iova = BigInt(c.page) * 4096n + BigInt(c.off);
        const r = io.translate(c.dev, c.pasid, iova, c.write ? 'write' : 'read');
        const id = c.pasid === null ? rid.get(c.dev) : c.dev === 0 ? pasid7 : undefined;
        const answer = (m: Mapping | undefined): Translation =>
          m === undefined
            ? { ok: false, fault: 'not-mapped' }
            : (m.prot & (c.write ? 2 : 1)) === 0
              ? { ok: false, fault: 'permission' }
              : { ok: true, pa: BigInt(m.pa) * 4096n + BigInt(c.off) };
        if (id === undefined) {
          expect(r, step).toEqual({ ok: false, fault: 'blocked' });
          break;
        }
        const d = doms.get(id)!;
        const allowed = [answer(d.pages.get(c.page)), ...(d.stale.get(c.page) ?? []).map(answer)];
        expect(allowed, `${step} answered ${JSON.stringify(r, (_, v) => (typeof v === 'bigint' ? v.toString(16) : v))}`).toContainEqual(r);
        break;
      }
      case 'attach':
        expect(io.attachDevice(c.dev, c.dom)).toEqual({ ok: true });
        rid.set(c.dev, c.dom);
        break;
      case 'detach':
        expect(io.detachDevice(c.dev)).toEqual(rid.has(c.dev) ? { ok: true } : { ok: false, error: 'ENOENT' });
        rid.delete(c.dev);
        break;
      case 'attachPasid':
        expect(io.attachPasid(0, 7, c.dom)).toEqual(pasid7 === undefined ? { ok: true } : { ok: false, error: 'EBUSY' });
        pasid7 ??= c.dom;
        break;
      case 'detachPasid':
        expect(io.detachPasid(0, 7)).toEqual(pasid7 !== undefined ? { ok: true } : { ok: false, error: 'ENOENT' });
        pasid7 = undefined;
        break;
      case 'flush':
        expect(io.flush(c.dom)).toEqual({ ok: true });
        doms.get(c.dom)!.stale.clear();
        break;
    }
    expect(io.checkInvariants(), step).toEqual([]);
  }
  // Unmapping everything leaves only the two roots.
  for (const id of [1, 2]) {
    const d = doms.get(id)!;
    // The whole aperture holds every extent, so 'whole' domains accept it too.
    expect(io.unmap(id, 0n, BigInt(d.aperturePages) * 4096n)).toEqual({ ok: true, value: BigInt(d.pages.size) * 4096n });
  }
  expect(io.stats().tablePages).toBe(2);
  expect(io.checkInvariants()).toEqual([]);
}

describe('FastIommu: differential against a naive page map', () => {
  it('agrees on every answer (stale answers only in deferred windows)', () => {
    fc.assert(
      fc.property(
        fc.tuple(domainOptions, domainOptions),
        fc.array(cmd, { minLength: 10, maxLength: 80, size: 'max' }),
        fc.constantFrom(0, 2, 8, 64, Number.POSITIVE_INFINITY),
        (opts, cmds, size) => run(opts, cmds, size),
      ),
      { numRuns: 100 },
    );
  });
});
