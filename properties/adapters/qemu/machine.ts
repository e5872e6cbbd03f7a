// A q35 machine with no guest OS: an IOMMU, N edu DMA devices and M holder devices (pci-testdev,
// which never DMA: they only keep virtio-iommu domains alive), and sparse RAM. PCI is set up
// through configuration mechanism #1: every BAR sized and assigned, memory decode and bus
// mastering enabled.
import { biosFile } from './bios.ts';
import { Qtest, type QtestOptions } from './qtest.ts';

/** One PCI function on bus 0. */
export interface PciFunction {
  readonly slot: number;
  /** Requester ID (bus << 8 | slot << 3 | function): the endpoint id the IOMMU sees. */
  readonly rid: number;
  readonly vendorId: number;
  readonly deviceId: number;
  /** Each BAR's assigned address (0n for an absent BAR or the upper half of a 64-bit one). */
  readonly bars: readonly bigint[];
}

export interface MachineOptions extends QtestOptions {
  /** `-device` arguments of the IOMMU, e.g. `virtio-iommu-pci,addr=01.0` or `intel-iommu`. */
  readonly iommuDevice: string;
  /** Extra `-machine` properties (intel-iommu may need some). */
  readonly machineProperties?: string;
  /** edu devices behind the IOMMU (slots 2, 3, ...). */
  readonly eduCount: number;
  /** pci-testdev devices after the edus. */
  readonly holderCount: number;
  /** Guest RAM in GiB, sparse (reserve=off: only pages written cost host memory); default 64. */
  readonly ramGiB?: number;
}

export const FIRST_DEVICE_SLOT = 2;
/** Below 4 GiB, q35 maps RAM up to 2 GiB when RAM is that large; the rest starts at 4 GiB. */
export const LOW_RAM_END = 0x8000_0000n;
export const HIGH_RAM_BASE = 0x1_0000_0000n;
/** Where BARs are assigned: above q35's ECAM (0xb0000000, 256 MiB), below the IOAPIC. */
const MMIO_BASE = 0xc000_0000n;
const MMIO_END = 0xfe00_0000n;

const CONFIG_ADDRESS = 0xcf8;
const CONFIG_DATA = 0xcfc;
const configAddress = (rid: number, reg: number): string => '0x' + ((0x8000_0000 | (rid << 8) | (reg & 0xfc)) >>> 0).toString(16);

/** Configuration-space accesses of one function, as qtest commands (mechanism #1). */
export const pciConfig = {
  read32: (rid: number, reg: number): string[] => [`outl ${CONFIG_ADDRESS} ${configAddress(rid, reg)}`, `inl ${CONFIG_DATA}`],
  write32: (rid: number, reg: number, value: number): string[] => [`outl ${CONFIG_ADDRESS} ${configAddress(rid, reg)}`, `outl ${CONFIG_DATA} 0x${(value >>> 0).toString(16)}`],
  write16: (rid: number, reg: number, value: number): string[] => [`outl ${CONFIG_ADDRESS} ${configAddress(rid, reg)}`, `outw ${CONFIG_DATA + (reg & 2)} 0x${value.toString(16)}`],
};

/** A running machine: its qtest channel and its devices. */
export class Machine {
  private constructor(
    readonly qtest: Qtest,
    readonly iommu: PciFunction | undefined,
    readonly edus: readonly PciFunction[],
    readonly holders: readonly PciFunction[],
    /** The end of guest RAM above 4 GiB. */
    readonly highRamEnd: bigint,
  ) {}

  /** Starts QEMU and enumerates its devices; rejects with QemuError if it cannot. */
  static async start(opts: MachineOptions): Promise<Machine> {
    const ramGiB = opts.ramGiB ?? 64;
    const args = [
      '-M', `q35,memory-backend=ram${opts.machineProperties ? ',' + opts.machineProperties : ''}`,
      '-object', `memory-backend-ram,id=ram,size=${ramGiB}G,reserve=off`,
      '-m', `${ramGiB}G`,
      '-nodefaults', '-display', 'none', '-nographic', '-monitor', 'none', '-serial', 'none',
      '-bios', biosFile(),
      '-icount', 'shift=0,sleep=off',
      '-device', opts.iommuDevice,
    ];
    const slots: number[] = [];
    for (let i = 0; i < opts.eduCount + opts.holderCount; i++) slots.push(FIRST_DEVICE_SLOT + i);
    if (slots.length && slots[slots.length - 1]! > 31) throw new RangeError('at most 30 edu and holder devices fit on bus 0');
    slots.forEach((slot, i) => {
      const hex = slot.toString(16).padStart(2, '0');
      args.push('-device', i < opts.eduCount ? `edu,addr=${hex}.0,dma_mask=0xffffffffffffffff` : `pci-testdev,addr=${hex}.0`);
    });
    const qtest = new Qtest(args, opts);
    try {
      await qtest.ready();
      const mmio = { next: MMIO_BASE };
      const iommuSlot = /addr=([0-9a-f]+)\.0/i.exec(opts.iommuDevice);
      const iommu = iommuSlot ? await enumerate(qtest, parseInt(iommuSlot[1]!, 16) << 3, mmio) : undefined;
      const devices: PciFunction[] = [];
      for (const slot of slots) devices.push(await enumerate(qtest, slot << 3, mmio));
      const highRamEnd = HIGH_RAM_BASE + (BigInt(ramGiB) << 30n) - LOW_RAM_END;
      return new Machine(qtest, iommu, devices.slice(0, opts.eduCount), devices.slice(opts.eduCount), highRamEnd);
    } catch (e) {
      await qtest.close();
      throw e;
    }
  }

  /** Whether guest RAM backs this whole page (DMA to anything else reaches no memory). */
  isRam(pa: bigint, size = 0x1000n): boolean {
    return pa + size <= LOW_RAM_END || (pa >= HIGH_RAM_BASE && pa + size <= this.highRamEnd);
  }

  close(): Promise<void> {
    return this.qtest.close();
  }
}

/** Reads a function's ids, sizes and assigns its memory BARs, enables decode and bus mastering. */
async function enumerate(qtest: Qtest, rid: number, mmio: { next: bigint }): Promise<PciFunction> {
  const [, id] = await qtest.batch(pciConfig.read32(rid, 0));
  const ids = Number(BigInt(id!));
  if (ids === 0xffffffff) throw new Error(`no PCI function at ${rid.toString(16)}`);
  const sizing: string[] = [];
  for (let bar = 0; bar < 6; bar++) sizing.push(...pciConfig.read32(rid, 0x10 + 4 * bar), ...pciConfig.write32(rid, 0x10 + 4 * bar, 0xffffffff), ...pciConfig.read32(rid, 0x10 + 4 * bar));
  const answers = await qtest.batch(sizing);
  const bars: bigint[] = [0n, 0n, 0n, 0n, 0n, 0n];
  const assign: string[] = [];
  for (let bar = 0; bar < 6; bar++) {
    const original = Number(BigInt(answers[bar * 6 + 1]!));
    const mask = Number(BigInt(answers[bar * 6 + 5]!));
    if ((original & 1) !== 0 || mask === 0) {
      assign.push(...pciConfig.write32(rid, 0x10 + 4 * bar, original)); // I/O or absent: left as it was
      continue;
    }
    const is64 = ((original >> 1) & 3) === 2;
    const size = BigInt(((~(mask & ~0xf) >>> 0) + 1) >>> 0 || 0x1_0000_0000);
    const base = (mmio.next + size - 1n) & ~(size - 1n);
    if (base + size > MMIO_END) throw new Error('PCI BARs do not fit the MMIO window');
    mmio.next = base + size;
    bars[bar] = base;
    assign.push(...pciConfig.write32(rid, 0x10 + 4 * bar, Number(base & 0xffffffffn)));
    if (is64) {
      assign.push(...pciConfig.write32(rid, 0x10 + 4 * (bar + 1), 0));
      bar++;
    }
  }
  assign.push(...pciConfig.write16(rid, 0x04, 0x6)); // memory decode, bus master
  await qtest.batch(assign);
  return { slot: rid >> 3, rid, vendorId: ids & 0xffff, deviceId: ids >>> 16, bars };
}
