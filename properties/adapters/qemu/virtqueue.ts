// A virtio-pci (modern) device driven through qtest: capability walk, feature negotiation and
// split virtqueues in guest RAM. Under TCG a request is handled inside the notify write, so a
// request and the read of its status byte can be pipelined in one qtest batch.
import { pciConfig, type PciFunction } from './machine.ts';
import { QemuError, type Qtest } from './qtest.ts';

const h = (x: bigint | number): string => '0x' + x.toString(16);
export const le = (value: bigint | number, bytes: number): string => {
  const v = BigInt(value);
  let s = '';
  for (let i = 0; i < bytes; i++) s += Number((v >> BigInt(8 * i)) & 0xffn).toString(16).padStart(2, '0');
  return s;
};
export const fromLe = (hex: string, offset: number, bytes: number): bigint => {
  const s = hex.startsWith('0x') ? hex.slice(2) : hex;
  let v = 0n;
  for (let i = bytes - 1; i >= 0; i--) v = (v << 8n) | BigInt(parseInt(s.slice(2 * (offset + i), 2 * (offset + i) + 2), 16));
  return v;
};

const COMMON = 1;
const NOTIFY = 2;
const DEVICE = 4;
const VIRTIO_F_VERSION_1 = 32n;
const STATUS_ACKNOWLEDGE = 1;
const STATUS_DRIVER = 2;
const STATUS_DRIVER_OK = 4;
const STATUS_FEATURES_OK = 8;
const DESC_F_NEXT = 1;
const DESC_F_WRITE = 2;

/** A split virtqueue at fixed guest addresses. */
export interface Queue {
  readonly index: number;
  readonly size: number;
  readonly desc: bigint;
  readonly avail: bigint;
  readonly used: bigint;
  readonly notify: bigint;
  /** The driver's next avail index. */
  availIdx: number;
}

/** Guest memory of one queue: descriptor table, avail ring, used ring, 4 KiB each. */
export const queueLayout = (base: bigint) => ({ desc: base, avail: base + 0x1000n, used: base + 0x2000n });

export class VirtioPci {
  private constructor(
    private readonly qtest: Qtest,
    private readonly common: bigint,
    private readonly notifyBase: bigint,
    private readonly notifyMultiplier: bigint,
    /** The device-specific configuration structure's address. */
    readonly deviceConfig: bigint,
    /** The features both sides agreed on. */
    readonly features: bigint,
  ) {}

  /** Resets the device, negotiates VERSION_1 plus `wanted` (those offered), returns the driver. */
  static async open(qtest: Qtest, fn: PciFunction, wanted: bigint): Promise<VirtioPci> {
    const cfg = async (reg: number) => Number(BigInt((await qtest.batch(pciConfig.read32(fn.rid, reg)))[1]!));
    const caps = new Map<number, { bar: number; offset: number; extra: number }>();
    for (let ptr = (await cfg(0x34)) & 0xff; ptr !== 0; ) {
      const head = await cfg(ptr);
      if ((head & 0xff) === 0x09) {
        const type = (head >>> 24) & 0xff;
        const bar = (await cfg(ptr + 4)) & 0xff;
        if (!caps.has(type)) caps.set(type, { bar, offset: await cfg(ptr + 8), extra: type === NOTIFY ? await cfg(ptr + 16) : 0 });
      }
      ptr = (head >>> 8) & 0xfc;
    }
    const at = (type: number): bigint => {
      const c = caps.get(type);
      if (!c) throw new QemuError(`virtio device ${fn.rid.toString(16)}: no capability of type ${type}`);
      return fn.bars[c.bar]! + BigInt(c.offset >>> 0);
    };
    const common = at(COMMON);
    await qtest.batch([`writeb ${h(common + 0x14n)} 0`, `writeb ${h(common + 0x14n)} ${STATUS_ACKNOWLEDGE | STATUS_DRIVER}`]);
    const [, lo, , hi] = await qtest.batch([`writel ${h(common)} 0`, `readl ${h(common + 4n)}`, `writel ${h(common)} 1`, `readl ${h(common + 4n)}`]);
    const offered = BigInt(lo!) | (BigInt(hi!) << 32n);
    const features = offered & (wanted | (1n << VIRTIO_F_VERSION_1));
    const [, , , , , , status] = await qtest.batch([
      `writel ${h(common + 8n)} 0`, `writel ${h(common + 0xcn)} ${h(features & 0xffffffffn)}`,
      `writel ${h(common + 8n)} 1`, `writel ${h(common + 0xcn)} ${h(features >> 32n)}`,
      `writeb ${h(common + 0x14n)} ${STATUS_ACKNOWLEDGE | STATUS_DRIVER | STATUS_FEATURES_OK}`,
      `readb ${h(common + 0x14n)}`, `readb ${h(common + 0x14n)}`,
    ]);
    if ((Number(BigInt(status!)) & STATUS_FEATURES_OK) === 0) throw new QemuError('virtio device refused the features');
    return new VirtioPci(qtest, common, at(NOTIFY), BigInt(caps.get(NOTIFY)!.extra >>> 0), at(DEVICE), features);
  }

  /** Sets up queue `index` with `size` entries at `base` (see queueLayout). */
  async setupQueue(index: number, size: number, base: bigint): Promise<Queue> {
    const c = this.common;
    const { desc, avail, used } = queueLayout(base);
    const answers = await this.qtest.batch([
      `memset ${h(base)} ${0x3000} 0`,
      `writew ${h(c + 0x16n)} ${index}`,
      `writew ${h(c + 0x18n)} ${size}`,
      `writeq ${h(c + 0x20n)} ${h(desc)}`, `writeq ${h(c + 0x28n)} ${h(avail)}`, `writeq ${h(c + 0x30n)} ${h(used)}`,
      `readw ${h(c + 0x1en)}`,
      `writew ${h(c + 0x1cn)} 1`,
    ]);
    const notifyOff = BigInt(answers[6]!);
    return { index, size, desc, avail, used, notify: this.notifyBase + notifyOff * this.notifyMultiplier, availIdx: 0 };
  }

  async driverOk(): Promise<void> {
    await this.qtest.batch([`writeb ${h(this.common + 0x14n)} ${STATUS_ACKNOWLEDGE | STATUS_DRIVER | STATUS_FEATURES_OK | STATUS_DRIVER_OK}`]);
  }
}

/** A descriptor table entry's 16 bytes as hex. */
export const descriptor = (addr: bigint, len: number, write: boolean, next?: number): string =>
  le(addr, 8) + le(len, 4) + le((write ? DESC_F_WRITE : 0) | (next !== undefined ? DESC_F_NEXT : 0), 2) + le(next ?? 0, 2);

/** Commands that make descriptor `head` available on `q` and notify the device. */
export function offer(q: Queue, head: number): string[] {
  const slot = q.availIdx % q.size;
  q.availIdx = (q.availIdx + 1) & 0xffff;
  return [`writew ${h(q.avail + 4n + 2n * BigInt(slot))} ${head}`, `writew ${h(q.avail + 2n)} ${q.availIdx}`, `writew ${h(q.notify)} ${q.index}`];
}
