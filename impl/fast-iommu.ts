// FastIommu: an optimized IOMMU plus its driver, in the shape of real hardware.
//
// - Context tables (device -> RID domain, device -> PASID -> domain), always current.
// - Per paging domain a packed radix page table (3, 4 or 5 levels of 512 entries) in one shared
//   arena of table pages (pagetable.ts), with 4K/2M/1G leaves chosen greedily.
// - An IOTLB (iotlb.ts) of leaf translations tagged by domain, filled by page walks on a miss,
//   invalidated at unmap (strict) or at flush (deferred, through a per-domain flush queue).
// - v2 (declared by default; `{ capabilities: {} }` gives the v1 IOMMU): nested domains, a
//   stage-1 table (IOVA -> IPA) over a paging parent's stage-2 table (IPA -> PA), whose IOTLB
//   entries cache the combined translation, keyed by the nested domain like any entry (so an IOTLB
//   hit costs the same through every domain), and invalidated by IPA when the parent's table
//   changes (iotlb.ts); and replacePasid, a context-table update (IOTLB entries are tagged by
//   domain, not by (device, PASID), so the old domain's entries cannot answer that PASID again).
// - v2, dirty tracking (declared by default): one dirty bit per leaf in the packed PTE
//   (pagetable.ts), set by a successful write while tracking is enabled: in the page walk of a
//   miss, or, on an IOTLB hit, when the entry does not yet remember its leaf as dirty (the write
//   then goes to the table, sets the bit and marks the entry; a write hit on a marked entry costs
//   what a write hit costs with tracking off). A write through a nested domain marks the parent's
//   leaf at the IPA (the combined entry remembers the stage-2 leaf's bit). readDirty walks only
//   the table pages that exist in its range; its clear clears whole leaves (a 2M or 1G leaf that
//   the range cuts too, as the contract allows), the pieces of a split dirty leaf in the cut blocks
//   of their original leaf (see pagetable.ts), and invalidates the marked IOTLB entries of what it
//   cleared, the nested domains' combined entries over those IPAs included.
import {
  PA_LIMIT,
  type Access,
  type Capabilities,
  type DeviceId,
  type DomainId,
  type DomainOptions,
  type Errno,
  type Iommu,
  type Pasid,
  type Prot,
  type Result,
  type Translation,
  type VoidResult,
} from '../model/types.ts';
import {
  parseDomainOptions,
  resolveCapabilities,
  validAccess,
  validDevice,
  validDomainId,
  validPasid,
  validProt,
  validStream,
  validU64,
  type HwCapabilities,
} from './arguments.ts';
import { BLOCKED, Domain, FLUSH_QUEUE_SIZE, PAGING } from './domain.ts';
import { Iotlb } from './iotlb.ts';
import {
  ENTRIES,
  PTE_DIRTY,
  PTE_LEAF,
  PTE_PROT,
  SPAN,
  TableArena,
  anyMapped,
  cleared,
  dirtyPte,
  findLeaf,
  freeTree,
  leafAt,
  leafPte,
  mapRange,
  plainPte,
  scanDirty,
  unmapRange,
} from './pagetable.ts';
import { checkInvariants } from './self-check.ts';

export interface FastIommuOptions {
  /** IOTLB entries: default 1024; 0 disables the IOTLB; Infinity never evicts. */
  iotlbSize?: number;
  /**
   * What the implementation declares. Default (undefined): DEFAULT_CAPABILITIES, v1's defaults
   * plus nesting, PASID replace and dirty tracking. `{}` is the pure v1 IOMMU: it declares
   * nothing, and nested domains, replacePasid, the `dirtyTracking` option, setDirtyTracking and
   * readDirty are EINVAL there, as the contract says of undeclared capabilities.
   */
  capabilities?: Capabilities;
}

/** What `new FastIommu()` declares: every v1 default, and the v2 capabilities it implements. */
export const DEFAULT_CAPABILITIES: Readonly<Capabilities> = Object.freeze({ nesting: true, pasidReplace: true, dirtyTracking: true });

export interface FastIommuStats {
  domains: number;
  /** Table pages in use (allocated minus free) and the arena's size in pages and bytes. */
  tablePages: number;
  arenaPages: number;
  arenaBytes: number;
  /** Bytes of the table pages in use (tablePages * 4096). */
  tableBytes: number;
  mappedPages: number;
  iotlbCapacity: number;
  iotlbEntries: number;
  iotlbHits: number;
  iotlbMisses: number;
  iotlbFills: number;
  iotlbEvictions: number;
  iotlbInvalidated: number;
  pageWalks: number;
  /** Ranges waiting in deferred domains' flush queues, and queue overflows (domain flushes). */
  pendingInvalidations: number;
  flushQueueOverflows: number;
  /** v2: write hits on IOTLB entries not marked dirty that went to the table (tracking enabled). */
  dirtyHitUpdates: number;
}

const DEFAULT_IOTLB_SIZE = 1024;
const TWO53_NUM = 2 ** 53;
const PA_LIMIT_NUM = 2 ** 52;
const LOW27 = 134217728; // 2^27: PFN bits of levels 0..2
/** The PFN bits inside a leaf of level 0, 1, 2 (4K, 2M, 1G). */
const LEAF_MASK: readonly number[] = [0, 511, 262143];
/** A deferred parent's flush invalidates its children's entries by IPA range for at most this many
 * queued ranges (one scan of the IOTLB each); beyond, each child's entries all at once (VT-d's
 * domain-selective invalidation). */
const NESTED_RANGE_FLUSH_LIMIT = 4;

const OK: VoidResult = Object.freeze({ ok: true }) as VoidResult;
const err = <E extends Errno>(error: E): { ok: false; error: E } => Object.freeze({ ok: false as const, error });
const EINVAL = err('EINVAL');
const ENOENT = err('ENOENT');
const EEXIST = err('EEXIST');
const EBUSY = err('EBUSY');
const ERANGE = err('ERANGE');
const ENOSPC = err('ENOSPC');
const F_BLOCKED: Translation = Object.freeze({ ok: false as const, fault: 'blocked' as const });
const F_NOT_MAPPED: Translation = Object.freeze({ ok: false as const, fault: 'not-mapped' as const });
const F_PERMISSION: Translation = Object.freeze({ ok: false as const, fault: 'permission' as const });

export class FastIommu implements Iommu {
  declare readonly capabilities?: Capabilities;
  private readonly caps: HwCapabilities;
  private readonly domains = new Map<number, Domain>();
  /** Context tables: device -> RID domain; device -> PASID -> domain. */
  private readonly rid = new Map<number, Domain>();
  private readonly pasids = new Map<number, Map<number, Domain>>();
  private readonly arena = new TableArena();
  private readonly tlb: Iotlb;
  /** 2^deviceIdBits and 2^pasidBits, for translate's fast path. */
  private readonly deviceLimit: number;
  private readonly pasidLimit: number;
  private nextTag = 1;
  private walks = 0;
  /** The level of the leaf that the last walkTable found. */
  private leafLevel = 0;
  private fqOverflows = 0;
  private dirtyHitUpdates = 0;

  /** Throws a TypeError for bad options (a mistake of the caller, not of a call). */
  constructor(options: FastIommuOptions = {}) {
    if (typeof options !== 'object' || options === null) throw new TypeError('FastIommu options must be an object');
    for (const key of Object.keys(options))
      if (key !== 'iotlbSize' && key !== 'capabilities')
        throw new TypeError(`unknown FastIommu option '${key}' (capabilities go in { capabilities: ... })`);
    const size = options.iotlbSize ?? DEFAULT_IOTLB_SIZE;
    if (typeof size !== 'number' || !(size >= 0) || !(Number.isInteger(size) || size === Number.POSITIVE_INFINITY))
      throw new TypeError('iotlbSize must be a non-negative integer or Infinity');
    const declared = options.capabilities === undefined ? DEFAULT_CAPABILITIES : options.capabilities;
    this.caps = resolveCapabilities(declared);
    this.deviceLimit = this.caps.deviceLimit;
    this.pasidLimit = this.caps.pasidLimit;
    Object.defineProperty(this, 'capabilities', { value: declared, enumerable: true });
    this.tlb = new Iotlb(size);
  }

  // ---------------------------------------------------------------- domains

  createDomain(id: DomainId, options?: DomainOptions): VoidResult {
    if (!validDomainId(id)) return EINVAL;
    const config = parseDomainOptions(options, this.caps);
    if (config === undefined) return EINVAL;
    if (this.domains.has(id)) return EEXIST;
    let parent: Domain | null = null;
    if (config.type === 'nested') {
      // The stage-2 domain must exist and be a paging domain (not nested, identity or blocked).
      const p = this.domains.get(config.parent);
      if (p === undefined) return ENOENT;
      if (p.kind !== PAGING || p.parent !== null) return EINVAL;
      parent = p;
    }
    if (this.domains.size >= this.caps.maxDomains) return ENOSPC;
    const d = new Domain(id, this.nextTag++, config, parent);
    if (d.kind === PAGING) d.root = this.arena.alloc();
    if (parent !== null) {
      parent.children.push(d);
      d.tracks = parent.tracks; // the parent's leaves record the nested domain's writes
    }
    this.domains.set(id, d);
    return OK;
  }

  destroyDomain(id: DomainId): VoidResult {
    if (!validDomainId(id)) return EINVAL;
    const d = this.domains.get(id);
    if (d === undefined) return ENOENT;
    if (d.attached !== 0 || d.children.length !== 0) return EBUSY;
    this.tlb.invalidateDomain(d);
    d.flushQueue.clear();
    if (d.parent !== null) {
      const siblings = d.parent.children;
      siblings.splice(siblings.indexOf(d), 1);
    }
    if (d.kind === PAGING) {
      freeTree(this.arena, d.root, d.levels - 1);
      d.root = -1;
    }
    this.domains.delete(id);
    return OK;
  }

  // ---------------------------------------------------------------- context tables

  attachDevice(device: DeviceId, domain: DomainId): VoidResult {
    if (!validDevice(device, this.caps) || !validDomainId(domain)) return EINVAL;
    const d = this.domains.get(domain);
    if (d === undefined) return ENOENT;
    const old = this.rid.get(device);
    if (old !== undefined) old.attached--;
    this.rid.set(device, d);
    d.attached++;
    return OK;
  }

  detachDevice(device: DeviceId): VoidResult {
    if (!validDevice(device, this.caps)) return EINVAL;
    const old = this.rid.get(device);
    if (old === undefined) return ENOENT;
    old.attached--;
    this.rid.delete(device);
    return OK;
  }

  attachPasid(device: DeviceId, pasid: number, domain: DomainId): VoidResult {
    if (!validDevice(device, this.caps) || !validPasid(pasid, this.caps) || !validDomainId(domain)) return EINVAL;
    const d = this.domains.get(domain);
    if (d === undefined) return ENOENT;
    let table = this.pasids.get(device);
    if (table?.has(pasid) === true) return EBUSY;
    if (table === undefined) {
      table = new Map();
      this.pasids.set(device, table);
    }
    table.set(pasid, d);
    d.attached++;
    return OK;
  }

  /**
   * v2 (with pasidReplace): the PASID's context entry rewritten in place, in one step. No IOTLB
   * invalidation is needed: entries are tagged by domain, and from now on this PASID's traffic
   * looks up the new domain's tag only.
   */
  replacePasid(device: DeviceId, pasid: number, domain: DomainId): VoidResult {
    if (!this.caps.pasidReplace) return EINVAL; // an undeclared capability's call
    if (!validDevice(device, this.caps) || !validPasid(pasid, this.caps) || !validDomainId(domain)) return EINVAL;
    const d = this.domains.get(domain);
    if (d === undefined) return ENOENT;
    const table = this.pasids.get(device);
    const old = table?.get(pasid);
    if (table === undefined || old === undefined) return ENOENT;
    if (old === d) return OK;
    table.set(pasid, d);
    old.attached--;
    d.attached++;
    return OK;
  }

  detachPasid(device: DeviceId, pasid: number): VoidResult {
    if (!validDevice(device, this.caps) || !validPasid(pasid, this.caps)) return EINVAL;
    const table = this.pasids.get(device);
    const old = table?.get(pasid);
    if (table === undefined || old === undefined) return ENOENT;
    old.attached--;
    table.delete(pasid);
    if (table.size === 0) this.pasids.delete(device);
    return OK;
  }

  // ---------------------------------------------------------------- map / unmap / flush

  map(domain: DomainId, iova: bigint, pa: bigint, size: bigint, prot: Prot): VoidResult {
    if (!validDomainId(domain) || !validU64(iova) || !validU64(pa) || !validU64(size) || !validProt(prot)) return EINVAL;
    const d = this.domains.get(domain);
    if (d === undefined) return ENOENT;
    if (d.kind !== PAGING || size === 0n || ((iova | pa | size) & 0xfffn) !== 0n) return EINVAL;
    if (iova + size > d.aperture || pa + size > PA_LIMIT) return ERANGE;
    const a = Number(iova >> 12n);
    const n = Number(size >> 12n);
    const b = a + n;
    const top = d.levels - 1;
    // Check the whole range before writing anything: a failed map leaves nothing behind.
    if (anyMapped(this.arena, d.root, top, 0, a, b)) return EEXIST;
    mapRange(this.arena, d.root, top, 0, a, b, Number(pa >> 12n) - a, prot, d.leafOk);
    d.mappedPages += n;
    if (d.whole) d.extents.insertSorted(a, b);
    if (d.flushQueue.size !== 0) this.dropStaleOverMap(d, a, b);
    return OK;
  }

  /**
   * v2: a map into a range whose old entries may still be cached (a deferred domain with pending
   * invalidations) invalidates them, when the dirty record depends on them: an old entry that
   * remembers "dirty" would let a write through the new mapping, which may give the same PA,
   * escape the record. For a dirty-tracking domain: its own entries and its nested domains'
   * combined entries over these IPAs; for a nested domain over one: its own entries.
   */
  private dropStaleOverMap(d: Domain, a: number, b: number): void {
    if (!(d.dirtyTracking || (d.parent !== null && d.parent.dirtyTracking))) return;
    if (d.tlbN[0] !== 0 || d.tlbN[1] !== 0 || d.tlbN[2] !== 0) this.tlb.invalidateRange(d, a, b);
    if (d.childTlbEntries !== 0) this.tlb.invalidateNestedRange(d, a, b);
  }

  unmap(domain: DomainId, iova: bigint, size: bigint): Result<bigint> {
    if (!validDomainId(domain) || !validU64(iova) || !validU64(size)) return EINVAL;
    const d = this.domains.get(domain);
    if (d === undefined) return ENOENT;
    if (d.kind !== PAGING || size === 0n || ((iova | size) & 0xfffn) !== 0n) return EINVAL;
    if (iova + size > d.aperture) return ERANGE;
    let a = Number(iova >> 12n);
    let b = a + Number(size >> 12n);
    const top = d.levels - 1;
    let pages = 0;
    if (d.whole) {
      // The range may not cut through a map call's extent.
      const ext = d.extents;
      const i = ext.firstEndingAfter(a);
      if (i < ext.size && ext.start(i) < a) return EINVAL;
      const j = ext.firstStartingAtOrAfter(b);
      if (j > i && ext.end(j - 1) > b) return EINVAL;
      if (j > i) {
        // Leaves never straddle extents, so unmapping an extent exactly never splits.
        for (let k = i; k < j; k++) pages += unmapRange(this.arena, d.root, top, 0, ext.start(k), ext.end(k));
        a = ext.start(i);
        b = ext.end(j - 1);
        ext.removeRange(i, j);
      }
    } else {
      pages = unmapRange(this.arena, d.root, top, 0, a, b);
    }
    if (pages !== 0) {
      d.mappedPages -= pages;
      this.invalidateUnmapped(d, a, b);
    }
    return { ok: true, value: BigInt(pages) * 4096n };
  }

  /**
   * After an unmap of [a, b): strict domains invalidate now, deferred ones queue the range. For a
   * parent, [a, b) is an IPA range, and the combined entries of its nested domains that went
   * through it are invalidated (or queued) with its own.
   */
  private invalidateUnmapped(d: Domain, a: number, b: number): void {
    // With nothing of this domain cached, nor through it, no stale entry can ever appear for
    // this range (later fills walk the current tables).
    const own = d.tlbN[0] !== 0 || d.tlbN[1] !== 0 || d.tlbN[2] !== 0;
    const through = d.childTlbEntries !== 0;
    if (!own && !through) return;
    if (!d.deferred) {
      if (own) this.tlb.invalidateRange(d, a, b);
      if (through) this.tlb.invalidateNestedRange(d, a, b);
      return;
    }
    const q = d.flushQueue;
    if (q.mergeLast(a, b)) return;
    if (q.size >= FLUSH_QUEUE_SIZE) {
      // Queue full: complete every pending invalidation of the domain now (this one included).
      this.tlb.invalidateDomain(d);
      this.invalidateChildren(d);
      q.clear();
      this.fqOverflows++;
    } else {
      q.push(a, b);
    }
  }

  /** Every combined entry through parent `d`: a domain-wide invalidation of each child. */
  private invalidateChildren(d: Domain): void {
    if (d.childTlbEntries === 0) return;
    for (const c of d.children) this.tlb.invalidateDomain(c);
  }

  flush(domain: DomainId): VoidResult {
    if (!validDomainId(domain)) return EINVAL;
    const d = this.domains.get(domain);
    if (d === undefined) return ENOENT;
    const q = d.flushQueue;
    for (let i = 0; i < q.size; i++) this.tlb.invalidateRange(d, q.start(i), q.end(i));
    // A parent's flush closes its window for every nested domain over it: the children's
    // combined entries through the queued IPA ranges go too (by range, or all of them).
    if (d.childTlbEntries !== 0 && q.size !== 0) {
      if (q.size <= NESTED_RANGE_FLUSH_LIMIT) for (let i = 0; i < q.size; i++) this.tlb.invalidateNestedRange(d, q.start(i), q.end(i));
      else this.invalidateChildren(d);
    }
    q.clear();
    return OK;
  }

  // ---------------------------------------------------------------- translate

  translate(device: DeviceId, pasid: Pasid, iova: bigint, access: Access): Translation {
    // Fast path. Each test here implies the corresponding check of arguments.ts (an integer
    // number in [0, 2^32) below 2^deviceIdBits; null or an integer in [1, 2^pasidBits); 'read'
    // or 'write'; a bigint whose Number is in [0, 2^53), hence exact and a u64), so only valid
    // arguments take it; everything else goes to `translateSlow`, where those checks decide.
    // BigInt comparisons are runtime calls in V8, so the IOVA is converted once, to a Number.
    let x: number;
    if (
      typeof device === 'number' &&
      device >>> 0 === device &&
      device < this.deviceLimit &&
      (pasid === null || (typeof pasid === 'number' && pasid >>> 0 === pasid && pasid !== 0 && pasid < this.pasidLimit)) &&
      (access === 'read' || access === 'write') &&
      typeof iova === 'bigint' &&
      (x = Number(iova)) >= 0 &&
      x < TWO53_NUM
    ) {
      const d = pasid === null ? this.rid.get(device) : this.pasids.get(device)?.get(pasid);
      if (d === undefined) return F_BLOCKED;
      if (d.kind !== PAGING) {
        if (d.kind === BLOCKED) return F_BLOCKED;
        return x < PA_LIMIT_NUM ? { ok: true, pa: iova } : F_NOT_MAPPED;
      }
      if (x >= d.apertureNum) return F_NOT_MAPPED;
      const pfn = Math.floor(x / 4096);
      return this.lookup(d, pfn, x - pfn * 4096, access === 'write' ? 2 : 1);
    }
    return this.translateSlow(device, pasid, iova, access);
  }

  /** translate for arguments off the fast path: invalid ones, and IOVAs at or above 2^53. */
  private translateSlow(device: DeviceId, pasid: Pasid, iova: bigint, access: Access): Translation {
    const hw = this.caps;
    if (!validDevice(device, hw) || !validStream(pasid, hw) || !validU64(iova) || !validAccess(access)) return EINVAL;
    const d = pasid === null ? this.rid.get(device) : this.pasids.get(device)?.get(pasid);
    if (d === undefined) return F_BLOCKED;
    if (d.kind !== PAGING) {
      if (d.kind === BLOCKED) return F_BLOCKED;
      return iova < PA_LIMIT ? { ok: true, pa: iova } : F_NOT_MAPPED;
    }
    if (iova >= d.aperture) return F_NOT_MAPPED;
    return this.lookup(d, Number(iova >> 12n), Number(iova & 0xfffn), access === 'write' ? 2 : 1);
  }

  /** IOTLB lookup, then page walk on a miss, for page `pfn` of paging domain `d`, inside its aperture. */
  private lookup(d: Domain, pfn: number, off: number, need: number): Translation {
    const hi = Math.floor(pfn / LOW27);
    const lo = pfn - hi * LOW27; // PFN bits 0..26: the indices of levels 0..2
    const tlb = this.tlb;
    const cached = tlb.capacity !== 0;
    if (cached) {
      const tag = d.tag;
      const n = d.tlbN;
      let mask = 0;
      let s = n[0] !== 0 ? tlb.find(tag, 0, pfn) : -1;
      if (s < 0 && n[1] !== 0) {
        mask = 511;
        s = tlb.find(tag, 1, (pfn - (lo & 511)) / 512);
      }
      if (s < 0 && n[2] !== 0) {
        mask = 262143;
        s = tlb.find(tag, 2, (pfn - (lo & 262143)) / 262144);
      }
      if (s >= 0) {
        tlb.hits++;
        const e = tlb.pteAt(s);
        if ((e & need) === 0) return F_PERMISSION;
        // A write while tracking, through an entry that does not remember its leaf as dirty, goes
        // to the table (with tracking off, or on a marked entry, nothing more).
        if (need === 2 && d.tracks && tlb.dirtyAt(s) === 0) this.recordHit(d, s, pfn, lo);
        return { ok: true, pa: BigInt(((e - (e & 15)) / 16 + (lo & mask)) * 4096 + off) };
      }
      tlb.misses++;
    }
    // Page walk.
    this.walks++;
    if (d.parent !== null) return this.walkNested(d, d.parent, pfn, lo, off, need, cached);
    const pte = this.arena.pte;
    let t = d.root;
    for (let l = d.levels - 1; l >= 0; l--) {
      const i = t * ENTRIES + (l >= 3 ? (hi >>> (9 * (l - 3))) & 511 : (lo >>> (9 * l)) & 511);
      let e = pte[i]!;
      if (e === 0) return F_NOT_MAPPED;
      if ((e & PTE_LEAF) !== 0) {
        const mask = l === 0 ? 0 : l === 1 ? 511 : 262143;
        let dirty = false;
        if (e >= PTE_DIRTY) {
          dirty = true;
          e = plainPte(e);
        } else if (need === 2 && (e & 2) !== 0 && d.tracks) {
          // A successful write while tracking sets the leaf's dirty bit in the walk.
          pte[i] = dirtyPte(e, l);
          dirty = true;
        }
        if (cached) tlb.insert(d, l, (pfn - (lo & mask)) / SPAN[l]!, e, -1, dirty);
        if ((e & need) === 0) return F_PERMISSION;
        return { ok: true, pa: BigInt(((e - (e & 15)) / 16 + (lo & mask)) * 4096 + off) };
      }
      t = e >>> 4;
    }
    return F_NOT_MAPPED;
  }

  /**
   * The two-stage walk of a nested domain's IOTLB miss, for IOVA page `pfn` (PFN bits 0..26 in
   * `lo`): stage 1 gives the IPA, the parent's table the PA. A stage-1 fault is the answer, then a
   * stage-2 one. When both stages map the page, the combined leaf is cached: PA and the AND of
   * both permissions, at the smaller of the two leaves' levels, with the IPA it went through.
   */
  private walkNested(d: Domain, p: Domain, pfn: number, lo: number, off: number, need: number, cached: boolean): Translation {
    const e1 = this.walkTable(d.root, d.levels, Math.floor(pfn / LOW27), lo);
    if (e1 === 0) return F_NOT_MAPPED;
    const l1 = this.leafLevel;
    const ipa = (e1 - (e1 & 15)) / 16 + (lo & LEAF_MASK[l1]!); // the IPA page of `pfn`
    const hi2 = Math.floor(ipa / LOW27);
    const lo2 = ipa - hi2 * LOW27;
    let e2 = ipa < p.aperturePfn ? this.walkTable(p.root, p.levels, hi2, lo2) : 0;
    if (e2 === 0) return (e1 & need) === 0 ? F_PERMISSION : F_NOT_MAPPED;
    const l2 = this.leafLevel;
    // Dirty tracking: the parent's leaf records the write (the combined entry remembers its bit).
    let dirty = false;
    if (e2 >= PTE_DIRTY) {
      dirty = true;
      e2 = plainPte(e2);
    } else if (need === 2 && (e1 & e2 & 2) !== 0 && p.tracks) {
      this.arena.pte[leafAt.index] = dirtyPte(e2, l2);
      dirty = true;
    }
    const l = l1 < l2 ? l1 : l2;
    const mask = LEAF_MASK[l]!;
    const pa = (e2 - (e2 & 15)) / 16 + (lo2 & LEAF_MASK[l2]!); // the PA page of `pfn`
    // The level-l block around `pfn` lies inside both leaves, so it maps linearly: cache it.
    const combined = leafPte(pa - (lo & mask), e1 & e2 & PTE_PROT);
    if (cached) this.tlb.insert(d, l, (pfn - (lo & mask)) / SPAN[l]!, combined, ipa - (lo & mask), dirty);
    if ((combined & need) === 0) return F_PERMISSION;
    return { ok: true, pa: BigInt(pa * 4096 + off) };
  }

  /**
   * The leaf PTE (dirty bit included) for page (hi, lo) in the table of `levels` levels at `root`,
   * or 0; its level goes to `leafLevel`, its index in the arena to `leafAt.index`.
   */
  private walkTable(root: number, levels: number, hi: number, lo: number): number {
    const e = findLeaf(this.arena, root, levels, hi, lo);
    this.leafLevel = leafAt.level;
    return e;
  }

  /**
   * v2: a write hit, while tracking, on IOTLB slot `s` of domain `d` whose entry does not remember
   * its leaf as dirty (page `pfn`, PFN bits 0..26 in `lo`): the write goes to the table that
   * records it (the parent's, at the IPA, for a nested domain) and sets the leaf's dirty bit. The
   * entry is marked only if that leaf covers all of it (a leaf split since the fill, in a deferred
   * window, leaves the entry unmarked: its other pieces may be clean).
   */
  private recordHit(d: Domain, s: number, pfn: number, lo: number): void {
    this.dirtyHitUpdates++;
    const tlb = this.tlb;
    const level = tlb.levelAt(s);
    let r = d;
    let page = pfn;
    if (d.parent !== null) {
      r = d.parent;
      page = tlb.ipaAt(s) + (lo & LEAF_MASK[level]!);
      if (page >= r.aperturePfn) return;
    }
    const hi = Math.floor(page / LOW27);
    const e = findLeaf(this.arena, r.root, r.levels, hi, page - hi * LOW27);
    if (e === 0) return; // unmapped since the fill (a pending invalidation): nothing to record
    if (e < PTE_DIRTY) this.arena.pte[leafAt.index] = dirtyPte(e, leafAt.level);
    if (leafAt.level >= level) tlb.markDirty(s);
  }

  // ---------------------------------------------------------------- dirty tracking (v2)

  /** v2 (with dirtyTracking): starts or stops recording writes; the recorded bits stay. */
  setDirtyTracking(domain: DomainId, enabled: boolean): VoidResult {
    if (!this.caps.dirtyTracking) return EINVAL; // an undeclared capability's call
    if (!validDomainId(domain) || typeof enabled !== 'boolean') return EINVAL;
    const d = this.domains.get(domain);
    if (d === undefined) return ENOENT;
    if (!d.dirtyTracking) return EINVAL;
    // No IOTLB invalidation: entries remember their leaf's true dirty bit, so once tracking is on
    // a write through an unmarked entry goes to the table.
    d.tracks = enabled;
    for (const c of d.children) c.tracks = enabled;
    return OK;
  }

  /**
   * v2 (with dirtyTracking): the IOVAs of the 4K pages of [iova, iova + size) in dirty leaves,
   * ascending; with `clear`, those leaves are clean afterwards (see the header) and the IOTLB
   * entries marked dirty over them are invalidated, the nested domains' combined ones included.
   */
  readDirty(domain: DomainId, iova: bigint, size: bigint, clear: boolean): Result<bigint[]> {
    if (!this.caps.dirtyTracking) return EINVAL;
    if (!validDomainId(domain) || !validU64(iova) || !validU64(size) || typeof clear !== 'boolean') return EINVAL;
    const d = this.domains.get(domain);
    if (d === undefined) return ENOENT;
    if (!d.dirtyTracking || size === 0n || ((iova | size) & 0xfffn) !== 0n) return EINVAL;
    if (iova + size > d.aperture) return ERANGE;
    const a = Number(iova >> 12n);
    const b = a + Number(size >> 12n);
    const top = d.levels - 1;
    const out: bigint[] = [];
    cleared.lo = Number.POSITIVE_INFINITY;
    cleared.hi = Number.NEGATIVE_INFINITY;
    scanDirty(this.arena, d.root, top, 0, a, b, out, clear, -1);
    if (!clear) return { ok: true, value: out };
    // The pieces of split dirty leaves whose original leaf (a 2M or 1G block) the range cuts: the
    // clear may clear them, and must (the written page that kept them reportable may be gone).
    for (let l = 1; l <= 2; l++) {
      if (!d.leafOk[l]) continue;
      const span = SPAN[l]!;
      const s0 = Math.floor(a / span) * span;
      if (s0 < a) scanDirty(this.arena, d.root, top, 0, s0, a, null, true, l);
      const e1 = Math.min(Math.ceil(b / span) * span, d.aperturePfn);
      if (e1 > b) scanDirty(this.arena, d.root, top, 0, b, e1, null, true, l);
    }
    if (cleared.lo < cleared.hi) {
      const lo = cleared.lo;
      const hi = cleared.hi;
      if (d.tlbN[0] !== 0 || d.tlbN[1] !== 0 || d.tlbN[2] !== 0) this.tlb.invalidateRange(d, lo, hi, true);
      if (d.childTlbEntries !== 0) this.tlb.invalidateNestedRange(d, lo, hi, true);
    }
    return { ok: true, value: out };
  }

  // ---------------------------------------------------------------- stats and self-check

  /** Counters and sizes of the packed structures and the IOTLB. */
  stats(): FastIommuStats {
    let mappedPages = 0;
    let pending = 0;
    for (const d of this.domains.values()) {
      mappedPages += d.mappedPages;
      pending += d.flushQueue.size;
    }
    return {
      domains: this.domains.size,
      tablePages: this.arena.used,
      arenaPages: this.arena.capacityPages,
      arenaBytes: this.arena.pte.byteLength + this.arena.cnt.byteLength,
      tableBytes: this.arena.used * ENTRIES * 8,
      mappedPages,
      iotlbCapacity: this.tlb.capacity,
      iotlbEntries: this.tlb.size,
      iotlbHits: this.tlb.hits,
      iotlbMisses: this.tlb.misses,
      iotlbFills: this.tlb.fills,
      iotlbEvictions: this.tlb.evictions,
      iotlbInvalidated: this.tlb.invalidatedEntries,
      pageWalks: this.walks,
      pendingInvalidations: pending,
      flushQueueOverflows: this.fqOverflows,
      dirtyHitUpdates: this.dirtyHitUpdates,
    };
  }

  /**
   * Verifies the packed structures (self-check.ts); returns the problems found, empty when all
   * is well.
   */
  checkInvariants(): string[] {
    const { domains, rid, pasids, arena, tlb, walks } = this;
    return checkInvariants({ domains, rid, pasids, arena, tlb, walks });
  }
}
