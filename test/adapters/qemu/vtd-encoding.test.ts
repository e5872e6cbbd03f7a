// The VT-d encodings the intel-iommu adapter writes, checked against the specification's layouts
// (and the values QEMU 7.2's intel-iommu reports), with no QEMU.
import { describe, expect, test } from 'vitest';
import {
  contextCommand,
  decodeCapabilities,
  decodeFaultRecord,
  globalCommand,
  GLOBAL,
  invalidateAddress,
  iotlbCommand,
  pageSelectiveBlocks,
} from '../../../properties/adapters/qemu/vtd-registers.ts';
import {
  ContextTables,
  PageAllocator,
  SecondLevelTable,
  contextEntry,
  entryAddress,
  leafEntry,
  levelIndex,
  rootEntry,
  tableEntry,
} from '../../../properties/adapters/qemu/vtd-tables.ts';

// CAP and ECAP as QEMU 7.2 reports them with aw-bits=48 (read from a running instance).
const QEMU_CAP = 0x00d2008c222f0606n;
const QEMU_ECAP = 0x0000000000f00f4an;

describe('CAP/ECAP decoding', () => {
  test("QEMU 7.2's registers", () => {
    const caps = decodeCapabilities(QEMU_CAP, QEMU_ECAP);
    expect(caps.levels).toEqual([3, 4]);
    expect(caps.mgaw).toBe(48);
    expect(caps.pages2M).toBe(true);
    expect(caps.pages1G).toBe(true);
    expect(caps.faultRecordingOffset).toBe(0x220n);
    expect(caps.faultRecords).toBe(1);
    expect(caps.iotlbOffset).toBe(0xf0n);
    expect(caps.pageSelective).toBe(true);
    expect(caps.maxAddressMask).toBe(18);
    expect(caps.domainIds).toBe(65536);
    expect(caps.passThrough).toBe(true);
    expect(caps.cachingMode).toBe(false);
  });
  test('fields one by one', () => {
    expect(decodeCapabilities(2n, 0n).domainIds).toBe(256);
    expect(decodeCapabilities(0x2n << 8n, 0n).levels).toEqual([3]);
    expect(decodeCapabilities(1n << 34n, 0n).pages1G).toBe(false);
    expect(decodeCapabilities(1n << 7n, 0n).cachingMode).toBe(true);
    expect(decodeCapabilities(0n, 0x10n << 8n).iotlbOffset).toBe(0x100n);
  });
});

describe('commands', () => {
  test('GCMD keeps persistent status bits and drops one-shot ones', () => {
    expect(globalCommand(0, GLOBAL.SRTP)).toBe(0x4000_0000);
    // After SRTP, GSTS shows RTPS: enabling translation must not write SRTP again.
    expect(globalCommand(0x4000_0000, GLOBAL.TE)).toBe(0x8000_0000);
    expect(globalCommand(0x8000_0000 | 0x0400_0000, GLOBAL.SRTP)).toBe(0xc400_0000);
  });
  test('CCMD', () => {
    expect(contextCommand('global')).toBe(0xa000_0000_0000_0000n);
    // Device-selective: CIRG 3, SID in bits 31:16, FM 0.
    expect(contextCommand('device', 0x10)).toBe(0xe000_0000_0010_0000n);
    expect(contextCommand('domain', 7)).toBe(0xc000_0000_0000_0007n);
  });
  test('IOTLB invalidate register and address', () => {
    expect(iotlbCommand('global')).toBe(0x9000_0000_0000_0000n);
    expect(iotlbCommand('domain', 5)).toBe(0xa000_0005_0000_0000n);
    expect(iotlbCommand('page', 0xffff)).toBe(0xb000_ffff_0000_0000n);
    expect(invalidateAddress(0x20_0000n, 9)).toBe(0x20_0009n);
    expect(() => invalidateAddress(0x1000n, 1)).toThrow(RangeError);
  });
  test('page-selective blocks are aligned, cover the range exactly, and respect MAMV', () => {
    expect(pageSelectiveBlocks(0x1000n, 0x3000n, 18)).toEqual([
      { iova: 0x1000n, mask: 0 },
      { iova: 0x2000n, mask: 1 },
    ]);
    expect(pageSelectiveBlocks(0x4000_0000n, 0x4000_0000n, 18)).toEqual([{ iova: 0x4000_0000n, mask: 18 }]);
    expect(pageSelectiveBlocks(0x4000_0000n, 0x4000_0000n, 17)).toEqual([
      { iova: 0x4000_0000n, mask: 17 },
      { iova: 0x6000_0000n, mask: 17 },
    ]);
  });
  test('fault record', () => {
    // A read fault (T=1) of 00:03.0 at 0x5000 with reason 6, as QEMU records it.
    const high = (1n << 63n) | (1n << 62n) | (6n << 32n) | 0x18n;
    expect(decodeFaultRecord(0x5000n, high)).toEqual({ pending: true, address: 0x5000n, sourceId: 0x18, reason: 6, read: true });
    expect(decodeFaultRecord(0n, 5n << 32n).pending).toBe(false);
  });
});

describe('entries', () => {
  test('root and context entries', () => {
    expect(rootEntry(0x3000n)).toEqual([0x3001n, 0n]);
    // Paging, 4 levels (AW 2), domain 0x12: TT 0 at bits 3:2, DID at bits 23:8.
    expect(contextEntry({ type: 'paging', table: 0x7000n, levels: 4, domainId: 0x12 })).toEqual([0x7001n, 0x1202n]);
    expect(contextEntry({ type: 'pass-through', levels: 3, domainId: 1 })).toEqual([0x9n, 0x101n]);
    expect(() => contextEntry({ type: 'paging', table: 0x7000n, levels: 4, domainId: 0x10000 })).toThrow(RangeError);
  });
  test('second-level entries', () => {
    expect(leafEntry(0x5000n, 3, 1)).toBe(0x5003n);
    expect(leafEntry(0x20_0000n, 1, 2)).toBe(0x20_0081n);
    expect(leafEntry(0x4000_0000n, 2, 3)).toBe(0x4000_0082n);
    expect(() => leafEntry(0x1000n, 3, 2)).toThrow(RangeError);
    expect(tableEntry(0x9000n)).toBe(0x9003n);
    expect(levelIndex(0x7f_c000_0000n, 3)).toBe(511);
    expect(levelIndex(0x80_0000_0000n, 4)).toBe(1);
  });
});

/** The entries of a table change applied to a plain memory image. */
function apply(memory: Map<bigint, bigint>, change: { zero: bigint[]; writes: { address: bigint; value: bigint }[] }): void {
  for (const page of change.zero) for (let i = 0n; i < 0x1000n; i += 8n) memory.delete(page + i);
  for (const w of change.writes) memory.set(w.address, w.value);
}

/** A second-level walk over the memory image, as the hardware does it. */
function walk(memory: Map<bigint, bigint>, root: bigint, levels: number, iova: bigint): { pa: bigint; prot: number; level: number } | undefined {
  let table = root;
  for (let level = levels; level >= 1; level--) {
    const entry = memory.get(table + BigInt(levelIndex(iova, level)) * 8n) ?? 0n;
    if ((entry & 3n) === 0n) return undefined;
    if (level === 1 || (entry & 0x80n) !== 0n) {
      const span = 0x1000n << BigInt(9 * (level - 1));
      return { pa: entryAddress(entry) + (iova % span), prot: Number(entry & 3n), level };
    }
    table = entryAddress(entry);
  }
  return undefined;
}

describe('second-level tables in memory', () => {
  test.each([3, 4] as const)('%i levels: 4K, 2M and 1G leaves, split on partial unmap', (levels) => {
    const memory = new Map<bigint, bigint>();
    const table = new SecondLevelTable(levels, new PageAllocator(0x10_0000n, 0x20_0000n));
    table.map(0x4000_0000n, 0x8000_0000n, 0x4000_0000n, 3, [1, 2, 3]);
    table.map(0x20_0000n, 0x60_0000n, 0x20_0000n, 1, [1, 2, 3]);
    table.map(0x1000n, 0x9000n, 0x2000n, 2, [1, 2, 3]);
    apply(memory, table.take());
    expect(walk(memory, table.root, levels, 0x4000_0000n + 0x12_3000n)).toEqual({ pa: 0x8012_3000n, prot: 3, level: 3 });
    expect(walk(memory, table.root, levels, 0x21_0000n)).toEqual({ pa: 0x61_0000n, prot: 1, level: 2 });
    expect(walk(memory, table.root, levels, 0x2000n)).toEqual({ pa: 0xa000n, prot: 2, level: 1 });
    expect(walk(memory, table.root, levels, 0x3000n)).toBeUndefined();

    // Cut one page out of the 1G leaf: the rest keeps translating, through 2M and 4K leaves.
    table.unmap(0x4000_0000n + 0x20_1000n, 0x1000n);
    apply(memory, table.take());
    expect(walk(memory, table.root, levels, 0x4000_0000n + 0x20_1000n)).toBeUndefined();
    expect(walk(memory, table.root, levels, 0x4000_0000n + 0x20_2000n)).toEqual({ pa: 0x8020_2000n, prot: 3, level: 1 });
    expect(walk(memory, table.root, levels, 0x4000_0000n + 0x40_0000n)).toEqual({ pa: 0x8040_0000n, prot: 3, level: 2 });
    expect(walk(memory, table.root, levels, 0x4000_0000n + 0x20_0000n)).toEqual({ pa: 0x8020_0000n, prot: 3, level: 1 });

    // A whole unmap of everything leaves nothing.
    table.unmap(0n, 0x8000_0000n);
    apply(memory, table.take());
    for (const iova of [0x1000n, 0x2000n, 0x20_0000n, 0x4000_0000n, 0x7fff_f000n]) expect(walk(memory, table.root, levels, iova)).toBeUndefined();
  });

  test('only the leaf sizes asked for, and a large leaf only where the slot is empty', () => {
    const memory = new Map<bigint, bigint>();
    const table = new SecondLevelTable(4, new PageAllocator(0x10_0000n, 0x20_0000n));
    table.map(0x20_0000n, 0x20_0000n, 0x20_0000n, 3, [1]);
    table.map(0x40_0000n, 0x40_0000n, 0x20_0000n, 3, [1, 2]);
    apply(memory, table.take());
    expect(walk(memory, table.root, 4, 0x20_0000n)!.level).toBe(1);
    expect(walk(memory, table.root, 4, 0x40_0000n)!.level).toBe(2);
    // After unmapping the 4K-leaf range, its last-level table stays: a new 2M map there uses 4K leaves.
    table.unmap(0x20_0000n, 0x20_0000n);
    table.map(0x20_0000n, 0x80_0000n, 0x20_0000n, 3, [1, 2]);
    apply(memory, table.take());
    expect(walk(memory, table.root, 4, 0x3f_f000n)).toEqual({ pa: 0x9f_f000n, prot: 3, level: 1 });
  });

  test('a new table is filled before the entry that points to it', () => {
    const table = new SecondLevelTable(3, new PageAllocator(0x10_0000n, 0x20_0000n));
    table.map(0n, 0n, 0x20_0000n, 3, [1, 2]);
    table.take();
    table.unmap(0x1000n, 0x1000n);
    const { writes } = table.take();
    const pointer = writes.findIndex((w) => (w.value & 0x80n) === 0n && w.value === tableEntry(entryAddress(w.value)) && w.address < 0x10_2000n);
    const filled = writes.filter((w) => entryAddress(w.address) === entryAddress(writes[pointer]!.value));
    expect(filled.length).toBeGreaterThanOrEqual(512);
    // The 512 entries of the split, then the pointer, then the unmapped page cleared in the new table.
    expect(writes.indexOf(filled[511]!)).toBeLessThan(pointer);
    expect(writes.indexOf(filled[512]!)).toBeGreaterThan(pointer);
  });

  test('context tables: a root entry per bus, the context entry written with P last, cleared for blocked', () => {
    const memory = new Map<bigint, bigint>();
    const ctx = new ContextTables(new PageAllocator(0x10_0000n, 0x20_0000n));
    ctx.set(0x10, { type: 'paging', table: 0x50_0000n, levels: 3, domainId: 4 });
    const change = ctx.take();
    apply(memory, change);
    expect(memory.get(ctx.root)).toBe(0x10_1001n);
    expect(memory.get(0x10_1000n + 0x10n * 16n)).toBe(0x50_0001n);
    expect(memory.get(0x10_1000n + 0x10n * 16n + 8n)).toBe(0x401n);
    expect(change.writes.at(-1)).toEqual({ address: 0x10_1100n, value: 0x50_0001n });
    ctx.set(0x10, undefined);
    apply(memory, ctx.take());
    expect(memory.get(0x10_1100n)).toBe(0n);
  });
});
