// VT-d translation structures in guest memory, legacy mode (Intel VT-d specification, chapter 9;
// checked against QEMU 7.2's intel_iommu.c): the root table, context entries and second-level
// page tables of 3 (39-bit) and 4 (48-bit) levels with 2M and 1G leaves, and a small allocator of
// the guest-physical pages that hold them.
//
// The adapter is the driver: it keeps its own copy of every table it wrote (as a driver keeps its
// page tables in its own memory) and turns each change into the 64-bit guest-memory writes that
// make it, in an order that never shows a half-built table to the hardware: a new table page is
// filled before the entry that points to it is written.

export const PAGE = 0x1000n;
const ENTRIES = 512;

/** One 64-bit little-endian store to guest memory. */
export interface QwordWrite {
  readonly address: bigint;
  readonly value: bigint;
}

// ---------------------------------------------------------------- entries

/** Root entry (9.1): present, context-table pointer; the high half is reserved (0). */
export function rootEntry(contextTable: bigint): [bigint, bigint] {
  checkPage(contextTable, 'context table');
  return [contextTable | 1n, 0n];
}

/** Translation types of a legacy context entry (TT, bits 3:2). */
export const TT = { multiLevel: 0n, deviceTlb: 1n, passThrough: 2n } as const;

export interface ContextEntryFields {
  /** 'paging': second-level tables at `table`; 'pass-through': DMA addresses are guest-physical. */
  readonly type: 'paging' | 'pass-through';
  /** The second-level table's top page (ignored, and 0, for pass-through). */
  readonly table?: bigint;
  /** Table depth: AW is levels - 2 (1: 39-bit, 2: 48-bit). QEMU checks it even for pass-through. */
  readonly levels: 3 | 4 | 5;
  /** The domain id the IOTLB tags this device's translations with (16 bits). */
  readonly domainId: number;
}

/** Context entry (9.3), present, fault processing enabled. */
export function contextEntry(f: ContextEntryFields): [bigint, bigint] {
  if (!Number.isInteger(f.domainId) || f.domainId < 0 || f.domainId > 0xffff) throw new RangeError(`domain id ${f.domainId} is not 16 bits`);
  const table = f.type === 'paging' ? (f.table ?? -1n) : 0n;
  checkPage(table, 'second-level table');
  const tt = f.type === 'paging' ? TT.multiLevel : TT.passThrough;
  const low = table | (tt << 2n) | 1n;
  const high = BigInt(f.levels - 2) | (BigInt(f.domainId) << 8n);
  return [low, high];
}

/** Second-level entry bits (9.8): read, write, page size (a leaf above the last level). */
export const SL = { R: 1n, W: 2n, PS: 1n << 7n } as const;
/** Address bits of an entry: 51:12 (QEMU masks them further to its address width). */
const ADDRESS_MASK = ((1n << 52n) - 1n) & ~0xfffn;

/** A leaf at `level` (1: 4K, 2: 2M, 3: 1G) mapping `pa` with prot (READ 1 | WRITE 2). */
export function leafEntry(pa: bigint, prot: number, level: number): bigint {
  const size = levelSize(level);
  if (pa % size !== 0n || pa < 0n || pa >= 1n << 52n) throw new RangeError(`pa 0x${pa.toString(16)} not aligned to a level-${level} leaf`);
  if (prot !== 1 && prot !== 2 && prot !== 3) throw new RangeError(`prot ${prot}`);
  return pa | BigInt(prot) | (level > 1 ? SL.PS : 0n);
}

/** A non-leaf entry: R and W both set, since VT-d checks each level's permission bits. */
export function tableEntry(table: bigint): bigint {
  checkPage(table, 'page table');
  return table | SL.R | SL.W;
}

export const entryAddress = (entry: bigint): bigint => entry & ADDRESS_MASK;
const isPresent = (entry: bigint): boolean => (entry & (SL.R | SL.W)) !== 0n;
const isLeaf = (entry: bigint, level: number): boolean => level === 1 || (entry & SL.PS) !== 0n;

/** The bytes one entry at `level` spans: 4K, 2M, 1G, 512G. */
export const levelSize = (level: number): bigint => PAGE << BigInt(9 * (level - 1));
/** The entry index of `iova` in a table at `level`. */
export const levelIndex = (iova: bigint, level: number): number => Number((iova >> BigInt(12 + 9 * (level - 1))) & 511n);

function checkPage(address: bigint, what: string): void {
  if (address < 0n || address % PAGE !== 0n || address >= 1n << 52n) throw new RangeError(`${what} 0x${address.toString(16)} is not a page address`);
}

// ---------------------------------------------------------------- page allocator

/**
 * Guest-physical 4K pages for tables, from a fixed range, reused after `free`. A freed page is
 * handed out again only after it was zeroed: `allocate` says whether the page needs zeroing
 * (a page never handed out is zero in fresh guest RAM).
 */
export class PageAllocator {
  private next: bigint;
  private readonly freed: bigint[] = [];

  constructor(
    readonly start: bigint,
    readonly end: bigint,
  ) {
    checkPage(start, 'allocator start');
    this.next = start;
  }

  allocate(): { address: bigint; dirty: boolean } {
    const reused = this.freed.pop();
    if (reused !== undefined) return { address: reused, dirty: true };
    if (this.next >= this.end) throw new RangeError(`table pages exhausted (0x${this.start.toString(16)}..0x${this.end.toString(16)})`);
    const address = this.next;
    this.next += PAGE;
    return { address, dirty: false };
  }

  free(address: bigint): void {
    this.freed.push(address);
  }

  /** Pages handed out and not freed. */
  get inUse(): number {
    return Number((this.next - this.start) / PAGE) - this.freed.length;
  }
}

// ---------------------------------------------------------------- second-level tables

/** What a table change needs from guest memory: pages to zero first, then qword stores in order. */
export interface TableChange {
  readonly zero: bigint[];
  readonly writes: QwordWrite[];
}

/**
 * One domain's second-level page table, mirrored: `map` and `unmap` change the mirror and return
 * the guest-memory writes that make the same change. Table pages are never freed while the
 * domain lives (a freed table could be reused while the hardware may still walk it); `destroy`
 * gives them back once the caller has invalidated the domain.
 */
export class SecondLevelTable {
  readonly root: bigint;
  private readonly tables = new Map<bigint, bigint[]>();

  constructor(
    readonly levels: 3 | 4 | 5,
    private readonly allocator: PageAllocator,
    private readonly pending: TableChange = { zero: [], writes: [] },
  ) {
    this.root = this.newTable();
  }

  /** The changes made since the last call (a new table's zeroing included), in order. */
  take(): TableChange {
    const change = { zero: this.pending.zero.splice(0), writes: this.pending.writes.splice(0) };
    return change;
  }

  /**
   * Maps [iova, iova + size) to [pa, pa + size) with `prot`, using the largest leaf of
   * `leafLevels` (1: 4K, 2: 2M, 3: 1G) that is aligned in both and fits, where no smaller
   * mapping's table is in the way. The range must be unmapped (the caller checks).
   */
  map(iova: bigint, pa: bigint, size: bigint, prot: number, leafLevels: readonly number[]): void {
    let at = 0n;
    while (at < size) {
      const level = this.leafLevelFor(iova + at, pa + at, size - at, leafLevels);
      this.setLeaf(iova + at, leafEntry(pa + at, prot, level), level);
      at += levelSize(level);
    }
  }

  /** Removes every leaf in [iova, iova + size), splitting larger leaves that cross its ends. */
  unmap(iova: bigint, size: bigint): void {
    const end = iova + size;
    let at = iova;
    while (at < end) {
      const { table, index, level, leaf } = this.walk(at);
      const span = levelSize(level);
      const base = at - (at % span);
      if (!leaf) {
        // Nothing mapped under this entry: skip all of it.
        at = base + span;
        continue;
      }
      if (base < iova || base + span > end) {
        this.split(table, index, level);
        continue;
      }
      this.store(table, index, 0n);
      at = base + span;
    }
  }

  /** The leaf that translates `iova`, with its level, or undefined (what the hardware would walk). */
  lookup(iova: bigint): { entry: bigint; level: number } | undefined {
    const found = this.walk(iova);
    if (!found.leaf) return undefined;
    return { entry: this.tables.get(found.table)![found.index]!, level: found.level };
  }

  /** Every table page, for `destroy`. */
  pages(): bigint[] {
    return [...this.tables.keys()];
  }

  /** Gives the table pages back (after the caller invalidated everything the domain cached). */
  destroy(): void {
    for (const page of this.tables.keys()) this.allocator.free(page);
    this.tables.clear();
  }

  private newTable(): bigint {
    const { address, dirty } = this.allocator.allocate();
    if (dirty) this.pending.zero.push(address);
    this.tables.set(address, new Array<bigint>(ENTRIES).fill(0n));
    return address;
  }

  private store(table: bigint, index: number, value: bigint): void {
    this.tables.get(table)![index] = value;
    this.pending.writes.push({ address: table + BigInt(index) * 8n, value });
  }

  private leafLevelFor(iova: bigint, pa: bigint, remaining: bigint, leafLevels: readonly number[]): number {
    for (const level of [...leafLevels].sort((a, b) => b - a)) {
      const span = levelSize(level);
      if (level > this.levels || iova % span !== 0n || pa % span !== 0n || remaining < span) continue;
      if (this.slotFree(iova, level)) return level;
    }
    return 1;
  }

  /** Whether the entry for `iova` at `level` is empty (no leaf and no table under it). */
  private slotFree(iova: bigint, level: number): boolean {
    let table = this.root;
    for (let l = this.levels; l > level; l--) {
      const entry = this.tables.get(table)![levelIndex(iova, l)]!;
      if (!isPresent(entry)) return true;
      if (isLeaf(entry, l)) return false;
      table = entryAddress(entry);
    }
    return !isPresent(this.tables.get(table)![levelIndex(iova, level)]!);
  }

  private setLeaf(iova: bigint, leaf: bigint, level: number): void {
    let table = this.root;
    for (let l = this.levels; l > level; l--) {
      const index = levelIndex(iova, l);
      const entry = this.tables.get(table)![index]!;
      if (isPresent(entry)) {
        if (isLeaf(entry, l)) throw new Error(`map over a level-${l} leaf at 0x${iova.toString(16)}`);
        table = entryAddress(entry);
        continue;
      }
      const next = this.newTable();
      this.store(table, index, tableEntry(next));
      table = next;
    }
    this.store(table, levelIndex(iova, level), leaf);
  }

  /** Where the walk for `iova` ends: at a leaf, or at the empty entry of the level it stops at. */
  private walk(iova: bigint): { table: bigint; index: number; level: number; leaf: boolean } {
    let table = this.root;
    for (let l = this.levels; ; l--) {
      const index = levelIndex(iova, l);
      const entry = this.tables.get(table)![index]!;
      if (!isPresent(entry)) return { table, index, level: l, leaf: false };
      if (isLeaf(entry, l)) return { table, index, level: l, leaf: true };
      table = entryAddress(entry);
    }
  }

  /** Replaces the leaf at (table, index, level) by a table of the 512 leaves one level down. */
  private split(table: bigint, index: number, level: number): void {
    const leaf = this.tables.get(table)![index]!;
    const prot = Number(leaf & 3n);
    const pa = entryAddress(leaf);
    const next = this.newTable();
    const step = levelSize(level - 1);
    // The new table is filled before the entry points to it.
    for (let i = 0; i < ENTRIES; i++) this.store(next, i, leafEntry(pa + BigInt(i) * step, prot, level - 1));
    this.store(table, index, tableEntry(next));
  }
}

// ---------------------------------------------------------------- root and context tables

/**
 * The root table and one context table per bus in use: 256 root entries of 16 bytes, 256 context
 * entries of 16 bytes per bus (9.1, 9.3). Clearing a context entry (blocked) writes 0 to both halves,
 * the low half (present bit) first.
 */
export class ContextTables {
  readonly root: bigint;
  private readonly contextTables = new Map<number, bigint>();
  private readonly pending: TableChange = { zero: [], writes: [] };

  constructor(private readonly allocator: PageAllocator) {
    this.root = this.page();
  }

  take(): TableChange {
    return { zero: this.pending.zero.splice(0), writes: this.pending.writes.splice(0) };
  }

  /** Sets the context entry of `sourceId` (bus << 8 | devfn): present with `fields`, or not present. */
  set(sourceId: number, fields: ContextEntryFields | undefined): void {
    const at = this.entryAddress(sourceId);
    if (fields === undefined) {
      this.pending.writes.push({ address: at, value: 0n }, { address: at + 8n, value: 0n });
      return;
    }
    const [low, high] = contextEntry(fields);
    // Not present while it changes: the high half first, then the low half with P.
    this.pending.writes.push({ address: at, value: 0n }, { address: at + 8n, value: high }, { address: at, value: low });
  }

  /** The guest address of `sourceId`'s context entry (its bus's context table made on first use). */
  entryAddress(sourceId: number): bigint {
    const bus = (sourceId >> 8) & 0xff;
    let table = this.contextTables.get(bus);
    if (table === undefined) {
      table = this.page();
      this.contextTables.set(bus, table);
      const [low, high] = rootEntry(table);
      this.pending.writes.push({ address: this.root + BigInt(bus) * 16n + 8n, value: high }, { address: this.root + BigInt(bus) * 16n, value: low });
    }
    return table + BigInt(sourceId & 0xff) * 16n;
  }

  private page(): bigint {
    const { address, dirty } = this.allocator.allocate();
    if (dirty) this.pending.zero.push(address);
    return address;
  }
}
