// FastIommu's self-check: every invariant of its packed structures, verified from the outside of
// the hot paths (the harness calls it after every step). It reads the state it is given and
// changes nothing.
import type { Domain } from './domain.ts';
import { FLUSH_QUEUE_SIZE, PAGING } from './domain.ts';
import type { IntervalSet } from './interval-set.ts';
import type { Iotlb } from './iotlb.ts';
import { ENTRIES, PA_PFN_LIMIT, PTE_DIRTY, PTE_LEAF, PTE_PROT, PTE_VALID, SPAN, type TableArena, forEachLeaf, plainPte, pteHigh } from './pagetable.ts';

/** What the self-check reads of a FastIommu. */
export interface SelfCheckState {
  readonly domains: ReadonlyMap<number, Domain>;
  /** Context tables: device -> RID domain; device -> PASID -> domain. */
  readonly rid: ReadonlyMap<number, Domain>;
  readonly pasids: ReadonlyMap<number, ReadonlyMap<number, Domain>>;
  readonly arena: TableArena;
  readonly tlb: Iotlb;
  /** Page walks done. */
  readonly walks: number;
}

const entryProblem = (name: string, l: number, i: number, pfn: number, what: string): string =>
  `${name}: level ${l} entry ${i} (pfn 0x${pfn.toString(16)}): ${what}`;

/**
 * The valid entries of a last-level table page whose every non-zero entry is a well-formed 4K
 * leaf (valid, leaf, some permission, an integer below 2^44, so its PFN is below 2^40); -1 if
 * any entry is not, for the detailed check to say what is wrong.
 */
function checkLastLevel(pte: Float64Array, base: number, dirtyOk: boolean): number {
  let valid = 0;
  for (let i = base; i < base + ENTRIES; i++) {
    let e = pte[i]!;
    if (e === 0) continue;
    // v2: a dirty 4K leaf of a dirty-tracking domain: bit 44 and an origin of 0, 1 or 2 (whether
    // that origin is a size the domain uses is the detailed check's).
    if (e >= PTE_DIRTY) {
      if (!dirtyOk) return -1;
      const h = pteHigh(e) / PTE_DIRTY;
      if (h !== 1 && h !== 3 && h !== 5) return -1;
      e -= h * PTE_DIRTY;
    }
    const flags = e & 15;
    if ((flags & 12) !== 12 || (flags & 3) === 0 || !(e > 0 && e < 17592186044416) || Math.floor(e) !== e) return -1;
    valid++;
  }
  return valid;
}

/**
 * Verifies the packed structures; returns the problems found (empty when all is well):
 * every table page reachable once and counted right, no empty table left behind, leaves
 * aligned, allowed and inside the aperture, the arena's pages in use equal to the pages
 * reachable, 'whole' extents covering exactly the mapped pages, context tables and
 * attachment counts agreeing, and each IOTLB entry agreeing with the current mapping of every
 * page it covers, except pages in a pending (queued, unflushed) invalidation of its domain.
 * v2: every nested domain's parent exists, is a paging domain and lists it once among its
 * children (and every child listed points back), each parent counts its children's IOTLB entries
 * right, and each combined entry agrees with a fresh two-stage walk, except IOVA pages pending in
 * the nested domain's queue and IPA pages pending in the parent's.
 * v2, dirty tracking: dirty bits only in the leaves of dirty-tracking domains, each with an origin
 * (its dirty block) at or above its level and of a size the domain uses; no table entry with them;
 * `tracks` set only on a dirty-tracking domain and mirrored on its nested domains; and every IOTLB
 * entry that remembers its leaf as dirty belongs to a domain whose writes such a domain records,
 * and covers only leaves that are dirty and that it agrees with (no pending invalidation excuses
 * it: an entry marked dirty over a clean or replaced leaf would hide the next write).
 */
export function checkInvariants(state: SelfCheckState): string[] {
  const problems: string[] = [];
  const ar = state.arena;
  const freeSet = new Set(ar.free);
  if (freeSet.size !== ar.free.length) problems.push('arena: a page is twice in the free list');
  for (const t of freeSet) {
    if (!(Number.isInteger(t) && t >= 0 && t < ar.top)) {
      problems.push(`arena: free page ${t} out of range`);
      continue;
    }
    if (ar.cnt[t] !== 0) problems.push(`arena: free page ${t} has count ${ar.cnt[t]}`);
    for (let i = 0; i < ENTRIES; i++)
      if (ar.pte[t * ENTRIES + i] !== 0) {
        problems.push(`arena: free page ${t} is not zero`);
        break;
      }
  }
  const seen = new Set<number>();
  for (const [id, d] of state.domains) {
    const name = `domain ${id}`;
    if (d.id !== id) problems.push(`${name}: recorded under id ${d.id}`);
    checkNesting(state, d, problems, name);
    if (d.dirtyTracking !== (d.config.type === 'paging' && d.config.dirtyTracking === true)) problems.push(`${name}: dirtyTracking disagrees with its options`);
    if (d.parent !== null ? d.tracks !== d.parent.tracks : d.tracks && !d.dirtyTracking)
      problems.push(`${name}: tracks writes (${d.tracks}) but ${d.parent !== null ? `its parent ${d.tracks ? 'does not' : 'does'}` : 'was not created with dirtyTracking'}`);
    if (d.kind !== PAGING) {
      if (d.root !== -1) problems.push(`${name}: non-paging domain has a table`);
      if (d.tlbN[0] + d.tlbN[1] + d.tlbN[2] !== 0) problems.push(`${name}: non-paging domain has IOTLB entries`);
      if (d.flushQueue.size !== 0) problems.push(`${name}: non-paging domain has queued invalidations`);
      continue;
    }
    const leaves: number[] | null = d.whole ? [] : null; // pairs: level, first pfn (in IOVA order)
    const mapped = checkTable(ar, d, d.root, d.levels - 1, 0, true, seen, freeSet, leaves, problems, name);
    if (mapped !== d.mappedPages) problems.push(`${name}: ${mapped} pages mapped, ${d.mappedPages} counted`);
    const q = d.flushQueue;
    if (!d.deferred && q.size !== 0) problems.push(`${name}: strict domain has queued invalidations`);
    if (q.size > FLUSH_QUEUE_SIZE) problems.push(`${name}: flush queue over its size`);
    for (let i = 0; i < q.size; i++)
      if (!(q.start(i) < q.end(i) && q.start(i) >= 0 && q.end(i) <= d.aperturePfn))
        problems.push(`${name}: bad queued range [${q.start(i)}, ${q.end(i)})`);
    if (leaves !== null) checkExtents(d.extents, leaves, mapped, problems, name);
    else if (d.extents.size !== 0) problems.push(`${name}: 'split' domain records extents`);
  }
  if (seen.size !== ar.used)
    problems.push(`arena: ${ar.used} table pages in use but ${seen.size} reachable (leak or double use)`);

  // Context tables and attachment counts.
  const attached = new Map<Domain, number>();
  const use = (d: Domain, where: string): void => {
    if (state.domains.get(d.id) !== d) problems.push(`context: ${where} points to a destroyed domain ${d.id}`);
    attached.set(d, (attached.get(d) ?? 0) + 1);
  };
  for (const [dev, d] of state.rid) use(d, `device ${dev}`);
  for (const [dev, table] of state.pasids) {
    if (table.size === 0) problems.push(`context: device ${dev} has an empty PASID table`);
    for (const [pasid, d] of table) use(d, `device ${dev} PASID ${pasid}`);
  }
  for (const d of state.domains.values())
    if ((attached.get(d) ?? 0) !== d.attached)
      problems.push(`domain ${d.id}: attached ${attached.get(d) ?? 0} times, counted ${d.attached}`);

  checkIotlb(state, problems);
  return problems;
}

/** Checks one table page and its subtree; returns the pages mapped below it. */
function checkTable(
  ar: TableArena,
  d: Domain,
  t: number,
  l: number,
  tb: number,
  isRoot: boolean,
  seen: Set<number>,
  freeSet: Set<number>,
  leaves: number[] | null,
  problems: string[],
  name: string,
): number {
  if (!(Number.isInteger(t) && t >= 0 && t < ar.top)) {
    problems.push(`${name}: table page ${t} out of the arena`);
    return 0;
  }
  if (freeSet.has(t)) problems.push(`${name}: table page ${t} is in use and free`);
  if (seen.has(t)) {
    problems.push(`${name}: table page ${t} reached twice`);
    return 0;
  }
  seen.add(t);
  const span = SPAN[l]!;
  const pte = ar.pte;
  const base = t * ENTRIES;
  const leafOk = d.leafOk[l] === true; // false for levels 3 and 4
  const end = d.aperturePfn;
  if (l === 0 && leaves === null && tb + ENTRIES <= end) {
    // The bulk of a large table: a last-level page checked in one tight loop.
    const valid = checkLastLevel(pte, base, d.dirtyTracking && d.leafOk[1] === true && d.leafOk[2] === true);
    if (valid >= 0) {
      if (ar.cnt[t] !== valid) problems.push(`${name}: table page ${t} counts ${ar.cnt[t]} entries, holds ${valid}`);
      if (!isRoot && valid === 0) problems.push(`${name}: empty table page ${t} not freed`);
      return valid;
    }
  }
  let valid = 0;
  let mapped = 0;
  for (let i = 0; i < ENTRIES; i++) {
    let e = pte[base + i]!;
    if (e === 0) continue;
    valid++;
    const eb = tb + i * span;
    // v2: the dirty bit and origin (dirty-tracking domains only; elsewhere a PTE of 2^44 or more is
    // malformed, as in v1), checked here, then the rest of the PTE as a v1 one.
    if (d.dirtyTracking && e >= PTE_DIRTY && Number.isFinite(e)) {
      const h = pteHigh(e) / PTE_DIRTY;
      const origin = h >> 1;
      if ((h & 1) === 0) problems.push(entryProblem(name, l, i, eb, 'origin bits without the dirty bit'));
      else if ((plainPte(e) & PTE_LEAF) === 0) problems.push(entryProblem(name, l, i, eb, 'table entry with the dirty bit'));
      else if (origin < l || origin > 2 || d.leafOk[origin] !== true) problems.push(entryProblem(name, l, i, eb, `dirty leaf with origin level ${origin}`));
      e = plainPte(e);
    }
    const flags = e & 15;
    const pfn = (e - flags) / 16;
    // The common case in one test; the details only when it fails. No PA limit to check: an
    // integer below 2^44 holds a PFN below 2^40, so an aligned leaf ends at or below 2^52.
    if (
      (flags & (PTE_LEAF | PTE_VALID)) === (PTE_LEAF | PTE_VALID) &&
      (flags & PTE_PROT) !== 0 &&
      leafOk &&
      e > 0 &&
      e < 2 ** 44 &&
      Math.floor(e) === e &&
      (span === 1 || Math.floor(pfn / span) * span === pfn) &&
      eb + span <= end
    ) {
      if (leaves !== null) leaves.push(l, eb);
      mapped += span;
      continue;
    }
    if (!(e > 0 && e < 2 ** 44 && Math.floor(e) === e)) {
      problems.push(entryProblem(name, l, i, eb, `malformed PTE ${e}`));
      continue;
    }
    if ((flags & PTE_VALID) === 0) problems.push(entryProblem(name, l, i, eb, 'non-zero PTE without the valid flag'));
    if (eb >= end) problems.push(entryProblem(name, l, i, eb, 'beyond the aperture'));
    if ((flags & PTE_LEAF) !== 0) {
      if (eb + span > end) problems.push(entryProblem(name, l, i, eb, 'leaf crosses the aperture'));
      if (!leafOk) problems.push(entryProblem(name, l, i, eb, 'leaf of a size the domain does not use'));
      if ((flags & PTE_PROT) === 0) problems.push(entryProblem(name, l, i, eb, 'leaf without permissions'));
      if (pfn % span !== 0) problems.push(entryProblem(name, l, i, eb, 'leaf PA not aligned to its size'));
      if (leaves !== null) leaves.push(l, eb);
      mapped += span;
    } else {
      if ((flags & PTE_PROT) !== 0) problems.push(entryProblem(name, l, i, eb, 'table entry with permission bits'));
      if (l === 0) {
        problems.push(entryProblem(name, l, i, eb, 'table below the last level'));
        continue;
      }
      mapped += checkTable(ar, d, e >>> 4, l - 1, eb, false, seen, freeSet, leaves, problems, name);
    }
  }
  if (ar.cnt[t] !== valid) problems.push(`${name}: table page ${t} counts ${ar.cnt[t]} entries, holds ${valid}`);
  if (!isRoot && valid === 0) problems.push(`${name}: empty table page ${t} not freed`);
  return mapped;
}

function checkExtents(ext: IntervalSet, leaves: readonly number[], mapped: number, problems: string[], name: string): void {
  let sum = 0;
  for (let i = 0; i < ext.size; i++) {
    if (!(ext.start(i) < ext.end(i))) problems.push(`${name}: empty extent ${i}`);
    if (i > 0 && ext.start(i) < ext.end(i - 1)) problems.push(`${name}: extents ${i - 1} and ${i} overlap or are unsorted`);
    sum += ext.end(i) - ext.start(i);
  }
  if (sum !== mapped) problems.push(`${name}: extents hold ${sum} pages, the table ${mapped}`);
  // Leaves come in IOVA order: walk them along the extents.
  let x = 0;
  for (let k = 0; k < leaves.length; k += 2) {
    const first = leaves[k + 1]!;
    const last = first + SPAN[leaves[k]!]!;
    while (x < ext.size && ext.end(x) <= first) x++;
    if (!(x < ext.size && ext.start(x) <= first && last <= ext.end(x)))
      problems.push(`${name}: leaf at pfn 0x${first.toString(16)} not inside one map extent`);
  }
}

/**
 * v2: a nested domain's parent exists, is a paging domain (not nested) and lists it once among its
 * children; every child listed has this domain as its parent and exists; the children's IOTLB
 * entries are counted right on the parent; the config's type agrees with the parent link.
 */
function checkNesting(state: SelfCheckState, d: Domain, problems: string[], name: string): void {
  const p = d.parent;
  if ((d.config.type === 'nested') !== (p !== null)) problems.push(`${name}: type ${d.config.type} but ${p === null ? 'no parent' : `parent ${p.id}`}`);
  if (p !== null) {
    if (d.config.type === 'nested' && d.config.parent !== p.id) problems.push(`${name}: created over ${d.config.parent}, linked to ${p.id}`);
    if (d.kind !== PAGING) problems.push(`${name}: nested domain without a table`);
    if (state.domains.get(p.id) !== p) problems.push(`${name}: parent ${p.id} is destroyed`);
    if (p.kind !== PAGING || p.parent !== null) problems.push(`${name}: parent ${p.id} is not a paging domain`);
    const times = p.children.filter((c) => c === d).length;
    if (times !== 1) problems.push(`${name}: listed ${times} times among parent ${p.id}'s children`);
  }
  if (d.children.length !== 0 && (d.kind !== PAGING || p !== null)) problems.push(`${name}: has children but is not a paging domain`);
  let through = 0;
  for (const c of d.children) {
    if (c.parent !== d) problems.push(`${name}: child ${c.id} has parent ${c.parent?.id ?? 'none'}`);
    if (state.domains.get(c.id) !== c) problems.push(`${name}: child ${c.id} is destroyed`);
    through += c.tlbN[0]! + c.tlbN[1]! + c.tlbN[2]!;
  }
  if (d.childTlbEntries !== through) problems.push(`${name}: counts ${d.childTlbEntries} IOTLB entries through it, its children hold ${through}`);
}

function checkIotlb(state: SelfCheckState, problems: string[]): void {
  const tlb = state.tlb;
  tlb.checkStructure(problems);
  // Every lookup is a hit, or a miss then a walk; without a cache, a walk alone.
  const lookups = tlb.capacity === 0 ? tlb.hits + tlb.misses === 0 : state.walks === tlb.misses && tlb.hits >= 0;
  if (!lookups) problems.push(`iotlb: ${tlb.hits} hits, ${tlb.misses} misses and ${state.walks} walks do not add up`);
  const counts = new Map<Domain, number[]>();
  tlb.forEachEntry((s, d, l, frame, pte, ipa, dirty) => {
    if (state.domains.get(d.id) !== d) {
      problems.push(`iotlb: slot ${s} belongs to destroyed domain ${d.id}`);
      return;
    }
    if (l > 2) {
      problems.push(`iotlb: slot ${s} has level ${l}`);
      return;
    }
    const c = counts.get(d) ?? [0, 0, 0];
    c[l]!++;
    counts.set(d, c);
    if (dirty && !(d.parent ?? d).dirtyTracking) problems.push(`iotlb: slot ${s} of domain ${d.id} is marked dirty, but no dirty-tracking domain records its writes`);
    if (pte >= PTE_DIRTY) problems.push(`iotlb: slot ${s} of domain ${d.id} caches a PTE with the dirty bit (the mark is the entry's own)`);
    if (d.parent === null) {
      if (ipa !== -1) problems.push(`iotlb: slot ${s} of domain ${d.id} (not nested) records IPA page 0x${ipa.toString(16)}`);
      checkEntry(state.arena, d, l, frame, pte, dirty, problems);
    } else {
      checkCombinedEntry(state.arena, d, d.parent, l, frame, pte, ipa, dirty, problems);
    }
  });
  for (const d of state.domains.values()) {
    const c = counts.get(d) ?? [0, 0, 0];
    for (let l = 0; l < 3; l++)
      if (c[l] !== d.tlbN[l]) problems.push(`iotlb: domain ${d.id} counts ${d.tlbN[l]} level-${l} entries, holds ${c[l]}`);
  }
}

/**
 * A cached leaf must match the table on every page it covers, but for queued ranges. One marked
 * dirty must cover dirty leaves only, each agreeing with it, queued or not (v2).
 */
function checkEntry(arena: TableArena, d: Domain, l: number, f: number, e: number, dirty: boolean, problems: string[]): void {
  const where = `iotlb: domain ${d.id} level ${l} frame 0x${f.toString(16)}`;
  if (!wellFormedEntry(d, l, f, e, where, problems)) return;
  const r0 = f * SPAN[l]!;
  const r1 = r0 + SPAN[l]!;
  const delta = (e - (e & 15)) / 16 - r0;
  const prot = e & PTE_PROT;
  const bad: number[] = [];
  let at = r0;
  let dirtyProblem: string | undefined;
  forEachLeaf(arena, d.root, d.levels - 1, 0, r0, r1, (lvl, first, full) => {
    const x = plainPte(full);
    const lo = Math.max(first, r0);
    const hi = Math.min(first + SPAN[lvl]!, r1);
    if (lo > at) bad.push(at, lo);
    const agrees = (x & PTE_PROT) === prot && (x - (x & 15)) / 16 - first === delta;
    if (!agrees) bad.push(lo, hi);
    if (dirty && dirtyProblem === undefined && (!agrees || full < PTE_DIRTY))
      dirtyProblem = `${where}: marked dirty over the ${agrees ? 'clean' : 'different'} leaf at pfn 0x${first.toString(16)}`;
    at = hi;
  });
  if (at < r1) bad.push(at, r1);
  if (dirtyProblem !== undefined) problems.push(dirtyProblem);
  reportUncovered(bad, d.flushQueue, where, problems);
}

/** Whether a cached PTE is a leaf inside its domain's aperture; else says why not. */
function wellFormedEntry(d: Domain, l: number, f: number, e: number, where: string, problems: string[]): boolean {
  if ((e & PTE_LEAF) === 0 || (e & PTE_VALID) === 0) {
    problems.push(`${where}: cached PTE is not a leaf`);
    return false;
  }
  if ((f + 1) * SPAN[l]! > d.aperturePfn) {
    problems.push(`${where}: beyond the aperture`);
    return false;
  }
  return true;
}

/** The first of the stale page ranges `bad` (pairs) that no pending invalidation of `queue` covers. */
function reportUncovered(bad: readonly number[], queue: IntervalSet, where: string, problems: string[]): void {
  for (let k = 0; k < bad.length; k += 2) {
    if (!queue.covers(bad[k]!, bad[k + 1]!)) {
      problems.push(`${where}: stale for pfns [0x${bad[k]!.toString(16)}, 0x${bad[k + 1]!.toString(16)}) with no pending invalidation`);
      return;
    }
  }
}

/**
 * A nested domain's combined entry must agree with a fresh two-stage walk on every page it
 * covers: stage 1 maps its IOVA frame to the IPA range it records, stage 2 that IPA range to its
 * PA, with the AND of both permissions. A disagreement is allowed only where an invalidation is
 * pending: the IOVA pages in the nested domain's flush queue, the IPA pages in the parent's.
 */
function checkCombinedEntry(arena: TableArena, d: Domain, p: Domain, l: number, f: number, e: number, ipa: number, dirty: boolean, problems: string[]): void {
  const where = `iotlb: nested domain ${d.id} level ${l} frame 0x${f.toString(16)}`;
  if (!wellFormedEntry(d, l, f, e, where, problems)) return;
  const span = SPAN[l]!;
  const r0 = f * span;
  const r1 = r0 + span;
  const paBase = (e - (e & 15)) / 16;
  if (!(Number.isInteger(ipa) && ipa >= 0 && ipa % span === 0 && ipa + span <= PA_PFN_LIMIT) || paBase % span !== 0) {
    problems.push(`${where}: IPA page 0x${ipa.toString(16)} or PA page 0x${paBase.toString(16)} malformed or not aligned to the entry`);
    return;
  }
  const prot = e & PTE_PROT;
  const d1 = ipa - r0; // IOVA page -> IPA page
  const d2 = paBase - ipa; // IPA page -> PA page
  const bad: number[] = []; // IOVA page ranges, each with the IPA excuse flag: [a, b, ipaOk]
  let at = r0;
  let dirtyProblem: string | undefined;
  forEachLeaf(arena, d.root, d.levels - 1, 0, r0, r1, (lvl, first, x) => {
    const lo = Math.max(first, r0);
    const hi = Math.min(first + SPAN[lvl]!, r1);
    if (lo > at) bad.push(at, lo);
    at = hi;
    if ((x - (x & 15)) / 16 - first !== d1) {
      if (dirty && dirtyProblem === undefined) dirtyProblem = `${where}: marked dirty, but stage 1 maps pfn 0x${lo.toString(16)} to another IPA`;
      bad.push(lo, hi);
      return;
    }
    // Stage 2 for the IPAs of [lo, hi).
    const p1 = x & PTE_PROT;
    let at2 = lo + d1;
    const end2 = hi + d1;
    const stage2Bad = (a2: number, b2: number): void => {
      if (!p.flushQueue.covers(a2, b2)) bad.push(a2 - d1, b2 - d1);
    };
    if (at2 < p.aperturePfn)
      forEachLeaf(arena, p.root, p.levels - 1, 0, at2, Math.min(end2, p.aperturePfn), (lvl2, first2, y) => {
        const lo2 = Math.max(first2, lo + d1);
        const hi2 = Math.min(first2 + SPAN[lvl2]!, end2);
        if (lo2 > at2) stage2Bad(at2, lo2);
        const y0 = plainPte(y);
        if (!((p1 & y0 & PTE_PROT) === prot && (y0 - (y0 & 15)) / 16 - first2 === d2)) stage2Bad(lo2, hi2);
        at2 = hi2;
      });
    if (at2 < end2) stage2Bad(at2, end2);
  });
  if (at < r1) bad.push(at, r1);
  // Marked dirty: every stage-2 leaf over its IPA range is dirty and maps it as the entry does.
  if (dirty && dirtyProblem === undefined && ipa < p.aperturePfn)
    forEachLeaf(arena, p.root, p.levels - 1, 0, ipa, Math.min(ipa + span, p.aperturePfn), (_, first2, y) => {
      const y0 = plainPte(y);
      if (dirtyProblem === undefined && (y < PTE_DIRTY || (y0 - (y0 & 15)) / 16 - first2 !== d2))
        dirtyProblem = `${where}: marked dirty over the ${y < PTE_DIRTY ? 'clean' : 'different'} stage-2 leaf at IPA pfn 0x${first2.toString(16)}`;
    });
  if (dirtyProblem !== undefined) problems.push(dirtyProblem);
  reportUncovered(bad, d.flushQueue, where, problems);
}
