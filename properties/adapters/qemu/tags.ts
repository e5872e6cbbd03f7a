// Which page a DMA reached. The harness's physical addresses (any 52-bit PA) are placed in guest
// RAM by a relocator, and each backing page is tagged, before a DMA may reach it, with the
// harness PA it stands for: the 16 bytes a read DMA fetches then name the page, and a write DMA
// that replaced a tag shows where it landed.
import { HIGH_RAM_BASE, type Machine } from './machine.ts';

export const TAG_BYTES = 16n;
const MAGIC = 0x434d_4f49; // "IOMC"

const le = (value: bigint, bytes: number): string => {
  let s = '';
  for (let i = 0; i < bytes; i++) s += Number((value >> BigInt(8 * i)) & 0xffn).toString(16).padStart(2, '0');
  return s;
};
const fromLe = (hex: string, offset: number, bytes: number): bigint => {
  let v = 0n;
  for (let i = bytes - 1; i >= 0; i--) v = (v << 8n) | BigInt(parseInt(hex.slice(2 * (offset + i), 2 * (offset + i) + 2), 16));
  return v;
};

/** The 16 tag bytes as qtest hex (no 0x): magic, epoch, harness PA of the page. */
export const tagBytes = (harnessPa: bigint, epoch: number): string => le(BigInt(MAGIC), 4) + le(BigInt(epoch >>> 0), 4) + le(harnessPa, 8);

/** The qtest command that tags the guest page at `guestPa` as harness page `harnessPa`. */
export const tagCommand = (guestPa: bigint, harnessPa: bigint, epoch: number): string =>
  `write 0x${guestPa.toString(16)} ${TAG_BYTES} 0x${tagBytes(harnessPa, epoch)}`;

/** The harness PA a tag of this epoch names, or undefined for anything else (zeros, old tags). */
export function decodeTag(answer: string, epoch: number): bigint | undefined {
  const hex = answer.startsWith('0x') ? answer.slice(2) : answer;
  if (hex.length < 32) return undefined;
  if (fromLe(hex, 0, 4) !== BigInt(MAGIC) || fromLe(hex, 4, 4) !== BigInt(epoch >>> 0)) return undefined;
  return fromLe(hex, 8, 8);
}

const G1 = 0x4000_0000n;

/**
 * Places harness PA ranges in guest RAM above 4 GiB, linearly (a mapping's pages stay
 * contiguous) and congruent modulo 1 GiB (so 2M and 1G alignment is kept for page tables).
 * A range inside one placed before reuses it; guest space is never given to two harness pages
 * within an epoch, so one tag names one page. `reset` starts a new epoch (a new run).
 */
export class PaRelocator {
  private extents: { pa: bigint; size: bigint; guest: bigint }[] = [];
  private next: bigint;
  epoch = 1;

  constructor(
    private readonly base: bigint,
    private readonly end: bigint,
  ) {
    this.next = base;
  }

  /** Guest RAM from 4 GiB to the machine's end, for `machine`'s relocator. */
  static forMachine(machine: Machine, reserveBelow = HIGH_RAM_BASE): PaRelocator {
    return new PaRelocator(reserveBelow, machine.highRamEnd);
  }

  /** The guest address standing for harness `pa` (for `size` bytes), or undefined when RAM is full. */
  place(pa: bigint, size: bigint): bigint | undefined {
    for (const e of this.extents) if (pa >= e.pa && pa + size <= e.pa + e.size) return e.guest + (pa - e.pa);
    let guest = (this.next & ~(G1 - 1n)) + (pa & (G1 - 1n));
    if (guest < this.next) guest += G1;
    if (guest + size > this.end) return undefined;
    this.next = guest + size;
    this.extents.push({ pa, size, guest });
    return guest;
  }

  /** Forgets every placement; tags written before no longer decode. */
  reset(): void {
    this.extents = [];
    this.next = this.base;
    this.epoch++;
  }
}
