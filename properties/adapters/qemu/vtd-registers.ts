// VT-d remapping-hardware registers, as a driver programs them (Intel VT-d specification,
// chapter 11; checked against QEMU 7.2's hw/i386/intel_iommu.c): the encodings as pure functions
// (tested without QEMU) and `VtdRegisters`, which writes them through any MMIO access.
//
// Register-based invalidation only (no invalidation queue): a write of CCMD with ICC set, or of
// the IOTLB register with IVT set, runs the invalidation; QEMU completes it inside the MMIO write,
// and the driver reads the register back to see ICC/IVT clear, as the specification asks.

/** The DMAR unit's MMIO base on QEMU's q35 (the ACPI DMAR table QEMU builds says so too). */
export const DMAR_BASE = 0xfed9_0000n;

/** Register offsets (VT-d 11.4). */
export const REG = {
  VER: 0x00n,
  CAP: 0x08n,
  ECAP: 0x10n,
  GCMD: 0x18n,
  GSTS: 0x1cn,
  RTADDR: 0x20n,
  CCMD: 0x28n,
  FSTS: 0x34n,
  FECTL: 0x38n,
} as const;

const bit = (n: number): bigint => 1n << BigInt(n);
const field = (value: bigint, low: number, width: number): number => Number((value >> BigInt(low)) & ((1n << BigInt(width)) - 1n));

// ---------------------------------------------------------------- CAP and ECAP

/** What a driver reads from CAP (11.4.2) and ECAP (11.4.3). */
export interface VtdCapabilities {
  /** Domain ids supported: 2^(4 + 2*ND). */
  readonly domainIds: number;
  /** Second-level table depths supported (SAGAW bit 1: 3 levels / 39 bits, bit 2: 4 levels / 48 bits, bit 3: 5 levels). */
  readonly levels: readonly (3 | 4 | 5)[];
  /** Maximum guest address width, bits. */
  readonly mgaw: number;
  /** Second-level large pages: 2M (SLLPS bit 0) and 1G (bit 1). */
  readonly pages2M: boolean;
  readonly pages1G: boolean;
  /** Page-selective invalidation and its largest address mask (MAMV). */
  readonly pageSelective: boolean;
  readonly maxAddressMask: number;
  /** Caching mode: not-present entries may be cached (then every map needs an invalidation too). */
  readonly cachingMode: boolean;
  /** Fault recording registers: offset from the base (FRO*16) and how many (NFR+1). */
  readonly faultRecordingOffset: bigint;
  readonly faultRecords: number;
  /** IOTLB registers: offset from the base (IRO*16); the invalidate register is at +8. */
  readonly iotlbOffset: bigint;
  /** Pass-through context entries (ECAP.PT) and queued invalidation (ECAP.QI). */
  readonly passThrough: boolean;
  readonly queuedInvalidation: boolean;
}

export function decodeCapabilities(cap: bigint, ecap: bigint): VtdCapabilities {
  const sagaw = field(cap, 8, 5);
  const levels = ([[1, 3], [2, 4], [3, 5]] as const).filter(([b]) => (sagaw & (1 << b)) !== 0).map(([, l]) => l);
  const sllps = field(cap, 34, 4);
  return {
    domainIds: 2 ** (4 + 2 * field(cap, 0, 3)),
    levels,
    mgaw: field(cap, 16, 6) + 1,
    pages2M: (sllps & 1) !== 0,
    pages1G: (sllps & 2) !== 0,
    pageSelective: (cap & bit(39)) !== 0n,
    maxAddressMask: field(cap, 48, 6),
    cachingMode: (cap & bit(7)) !== 0n,
    faultRecordingOffset: BigInt(field(cap, 24, 10)) * 16n,
    faultRecords: field(cap, 40, 8) + 1,
    iotlbOffset: BigInt(field(ecap, 8, 10)) * 16n,
    passThrough: (ecap & bit(6)) !== 0n,
    queuedInvalidation: (ecap & bit(1)) !== 0n,
  };
}

// ---------------------------------------------------------------- GCMD / GSTS

/** GCMD/GSTS bits (11.4.4, 11.4.5). */
export const GLOBAL = {
  /** Translation enable / enabled. */
  TE: 1 << 31,
  /** Set root table pointer / root table pointer set. */
  SRTP: 1 << 30,
  /** One-shot commands: written as 1, never kept in the written value. */
  ONE_SHOT: (1 << 30) | (1 << 29) | (1 << 27) | (1 << 24) | (1 << 23),
} as const;

/**
 * The GCMD value that issues `command` on top of the current status: the persistent bits of GSTS
 * (TE, QIE, IRE, CFI) kept, one-shot bits dropped (VT-d 11.4.4's recommended read-modify-write).
 */
export function globalCommand(status: number, command: number): number {
  return ((status & ~GLOBAL.ONE_SHOT) | command) >>> 0;
}

// ---------------------------------------------------------------- CCMD

const CCMD_ICC = bit(63);
/** Granularities (CIRG, bits 62:61): 1 global, 2 domain-selective, 3 device-selective. */
export type ContextGranularity = 'global' | 'domain' | 'device';
const CIRG: Record<ContextGranularity, bigint> = { global: 1n, domain: 2n, device: 3n };

/** A context-cache invalidation (11.4.6): DID for 'domain', source id (bus<<8 | devfn) for 'device', function mask 0. */
export function contextCommand(granularity: ContextGranularity, id = 0): bigint {
  const did = granularity === 'domain' ? BigInt(id & 0xffff) : 0n;
  const sid = granularity === 'device' ? BigInt(id & 0xffff) << 16n : 0n;
  return CCMD_ICC | (CIRG[granularity] << 61n) | sid | did;
}

/** Whether a CCMD read-back still shows the invalidation in progress. */
export const contextBusy = (ccmd: bigint): boolean => (ccmd & CCMD_ICC) !== 0n;
/** The actual granularity QEMU answers (CAIG, bits 60:59): 0 when the request was refused. */
export const contextActualGranularity = (ccmd: bigint): number => field(ccmd, 59, 2);

// ---------------------------------------------------------------- IOTLB

const IOTLB_IVT = bit(63);
/** Granularities (IIRG, bits 61:60): 1 global, 2 domain-selective, 3 page-selective. */
export type IotlbGranularity = 'global' | 'domain' | 'page';
const IIRG: Record<IotlbGranularity, bigint> = { global: 1n, domain: 2n, page: 3n };

/** The IOTLB invalidate register's value (11.4.8.1): DID in bits 47:32 for 'domain' and 'page'. */
export function iotlbCommand(granularity: IotlbGranularity, domainId = 0): bigint {
  const did = granularity === 'global' ? 0n : BigInt(domainId & 0xffff) << 32n;
  return IOTLB_IVT | (IIRG[granularity] << 60n) | did;
}

export const iotlbBusy = (value: bigint): boolean => (value & IOTLB_IVT) !== 0n;
/** The actual granularity (IAIG, bits 58:57): 0 when the request was refused. */
export const iotlbActualGranularity = (value: bigint): number => field(value, 57, 2);

/**
 * The invalidate address register (11.4.8.2) for 2^mask pages at `iova`: the address must be
 * aligned to the 2^mask pages it names (IH, the hint that only leaves changed, stays 0: a split
 * changes a non-leaf entry).
 */
export function invalidateAddress(iova: bigint, mask: number): bigint {
  if (mask < 0 || mask > 63) throw new RangeError(`address mask ${mask} out of 0..63`);
  const span = 0x1000n << BigInt(mask);
  if (iova % span !== 0n) throw new RangeError(`iova 0x${iova.toString(16)} not aligned to 2^${mask} pages`);
  return iova | BigInt(mask);
}

/**
 * The page-selective invalidations that cover [iova, iova + size) (page aligned), each an aligned
 * block of 2^mask pages with mask <= maxMask: the largest aligned blocks first, as Linux's
 * iommu_flush_iotlb_psi would if it did not round up to one block.
 */
export function pageSelectiveBlocks(iova: bigint, size: bigint, maxMask: number): { iova: bigint; mask: number }[] {
  const blocks: { iova: bigint; mask: number }[] = [];
  let at = iova;
  const end = iova + size;
  while (at < end) {
    let mask = 0;
    while (mask < maxMask) {
      const span = 0x1000n << BigInt(mask + 1);
      if (at % span !== 0n || at + span > end) break;
      mask++;
    }
    blocks.push({ iova: at, mask });
    at += 0x1000n << BigInt(mask);
  }
  return blocks;
}

// ---------------------------------------------------------------- faults

/** FSTS bits (11.4.9): primary fault overflow (write 1 to clear) and primary pending fault. */
export const FSTS = { PFO: 1, PPF: 1 << 1 } as const;

/** One fault recording register (11.4.14), its two 64-bit halves decoded. */
export interface FaultRecord {
  /** F: the register holds a fault. */
  readonly pending: boolean;
  /** The faulting address, page aligned (FI). */
  readonly address: bigint;
  /** The requester (bus<<8 | devfn). */
  readonly sourceId: number;
  /** The fault reason (Appendix A), e.g. 2 context entry not present, 5 write, 6 read. */
  readonly reason: number;
  /** T: 1 for a read request (QEMU sets it for reads only). */
  readonly read: boolean;
}

export function decodeFaultRecord(low: bigint, high: bigint): FaultRecord {
  return {
    pending: (high & bit(63)) !== 0n,
    address: low & ~0xfffn,
    sourceId: field(high, 0, 16),
    reason: field(high, 32, 8),
    read: (high & bit(62)) !== 0n,
  };
}

/** The value written to a record's high half to clear it: F is write-1-to-clear. */
export const FAULT_CLEAR = bit(63);

/** Fault reasons (VT-d Appendix A) the adapter tells apart. */
export const FAULT_REASON = {
  ROOT_NOT_PRESENT: 0x1,
  CONTEXT_NOT_PRESENT: 0x2,
  CONTEXT_INVALID: 0x3,
  BEYOND_MGAW: 0x4,
  WRITE: 0x5,
  READ: 0x6,
  PAGING_ENTRY_INVALID: 0x7,
  ROOT_TABLE_INVALID: 0x8,
  CONTEXT_TABLE_INVALID: 0x9,
  ROOT_RESERVED: 0xa,
  CONTEXT_RESERVED: 0xb,
  PAGING_ENTRY_RESERVED: 0xc,
  CONTEXT_TT: 0xd,
} as const;

// ---------------------------------------------------------------- programming

/** 32- and 64-bit MMIO at guest-physical addresses (a qtest channel gives them). */
export interface Mmio {
  readl(address: bigint): Promise<number>;
  readq(address: bigint): Promise<bigint>;
  writel(address: bigint, value: number): Promise<void>;
  writeq(address: bigint, value: bigint): Promise<void>;
}

/** A register that did not reach the state a command asks for: QEMU refused it. */
export class VtdError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'VtdError';
  }
}

/**
 * The registers of one DMAR unit: enable with a root table, context-cache and IOTLB invalidations,
 * the fault record. Every command is written, then read back (the writes and reads of one command
 * go out together, pipelined, when the Mmio pipelines).
 */
export class VtdRegisters {
  private constructor(
    private readonly mmio: Mmio,
    private readonly base: bigint,
    readonly caps: VtdCapabilities,
  ) {}

  static async open(mmio: Mmio, base = DMAR_BASE): Promise<VtdRegisters> {
    const [cap, ecap] = await Promise.all([mmio.readq(base + REG.CAP), mmio.readq(base + REG.ECAP)]);
    if (cap === 0n || cap === 0xffff_ffff_ffff_ffffn) throw new VtdError(`no VT-d unit at 0x${base.toString(16)} (CAP 0x${cap.toString(16)})`);
    return new VtdRegisters(mmio, base, decodeCapabilities(cap, ecap));
  }

  /** Points the unit at a root table (legacy format) and turns translation on. */
  async enable(rootTable: bigint): Promise<void> {
    if ((rootTable & 0xfffn) !== 0n) throw new VtdError('root table not page aligned');
    const status = await this.mmio.readl(this.base + REG.GSTS);
    await this.mmio.writeq(this.base + REG.RTADDR, rootTable);
    await this.command(status, GLOBAL.SRTP, GLOBAL.SRTP, 'set root table pointer');
    // The specification asks for global context-cache and IOTLB invalidations after SRTP.
    await this.invalidateContext('global');
    await this.invalidateIotlb('global');
    const after = await this.mmio.readl(this.base + REG.GSTS);
    await this.command(after, GLOBAL.TE, GLOBAL.TE, 'translation enable');
  }

  private async command(status: number, command: number, expect: number, what: string): Promise<void> {
    const [, now] = await Promise.all([
      this.mmio.writel(this.base + REG.GCMD, globalCommand(status, command)),
      this.mmio.readl(this.base + REG.GSTS),
    ]);
    if ((now & expect) !== expect) throw new VtdError(`${what}: GSTS 0x${now.toString(16)} lacks 0x${(expect >>> 0).toString(16)}`);
  }

  async invalidateContext(granularity: ContextGranularity, id = 0): Promise<void> {
    const [, back] = await Promise.all([
      this.mmio.writeq(this.base + REG.CCMD, contextCommand(granularity, id)),
      this.mmio.readq(this.base + REG.CCMD),
    ]);
    if (contextBusy(back) || contextActualGranularity(back) === 0)
      throw new VtdError(`context-cache invalidation (${granularity} ${id}) not completed: CCMD 0x${back.toString(16)}`);
  }

  /** A global, domain-selective or page-selective IOTLB invalidation (for 'page': 2^mask pages at iova). */
  async invalidateIotlb(granularity: IotlbGranularity, domainId = 0, iova = 0n, mask = 0): Promise<void> {
    const register = this.base + this.caps.iotlbOffset + 8n;
    const writes: Promise<unknown>[] = [];
    if (granularity === 'page') writes.push(this.mmio.writeq(this.base + this.caps.iotlbOffset, invalidateAddress(iova, mask)));
    writes.push(this.mmio.writeq(register, iotlbCommand(granularity, domainId)));
    const back = this.mmio.readq(register);
    await Promise.all(writes);
    const value = await back;
    if (iotlbBusy(value) || iotlbActualGranularity(value) === 0)
      throw new VtdError(`IOTLB invalidation (${granularity}, domain ${domainId}) not completed: 0x${value.toString(16)}`);
  }

  /** The first fault recording register (QEMU 7.2 has one). */
  async readFault(index = 0): Promise<FaultRecord> {
    const at = this.base + this.caps.faultRecordingOffset + BigInt(index) * 16n;
    const [low, high] = await Promise.all([this.mmio.readq(at), this.mmio.readq(at + 8n)]);
    return decodeFaultRecord(low, high);
  }

  /** Clears a recorded fault (F) and an overflow (PFO), so the next fault is recorded. */
  async clearFault(index = 0): Promise<void> {
    const at = this.base + this.caps.faultRecordingOffset + BigInt(index) * 16n;
    await Promise.all([this.mmio.writeq(at + 8n, FAULT_CLEAR), this.mmio.writel(this.base + REG.FSTS, FSTS.PFO)]);
  }

  async faultStatus(): Promise<number> {
    return this.mmio.readl(this.base + REG.FSTS);
  }
}
