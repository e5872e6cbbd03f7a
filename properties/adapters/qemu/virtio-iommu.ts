// QEMU's virtio-iommu as an Iommu: the adapter is the driver. It keeps what a driver keeps (its
// domains, which devices it attached where, its own mapping records for unmap byte counts, the
// 'split' remainders and the argument checks) and nothing more: every `translate` is a real DMA
// of an edu device behind the IOMMU, its fault read from the event queue and the page it reached
// read from the tags (tags.ts). Domains exist in QEMU only while an endpoint is attached, so each
// paging or identity domain owns a holder (a pci-testdev that never DMAs) attached while no edu
// is. Blocked domains are the driver's alone: a device attached to one is detached in QEMU
// (bypass off), so its DMA faults as an unknown or unattached endpoint.
import { installMethods, type AnswerOf, type Call, type Methods } from '../../../model/ops.ts';
import { argumentsInRange, hasTable, parseDomainOptions, resolveCapabilities, type DomainConfig, type ResolvedCapabilities } from '../../../model/validate.ts';
import { PA_LIMIT, type Capabilities, type Errno, type Fault, type Iommu, type Translation } from '../../../model/types.ts';
import { Edu } from './edu.ts';
import { Machine, type PciFunction } from './machine.ts';
import { QemuError } from './qtest.ts';
import { decodeTag, PaRelocator, tagCommand } from './tags.ts';
import { descriptor, fromLe, le, offer, VirtioPci, type Queue } from './virtqueue.ts';

export interface VirtioIommuOptions {
  /** The QEMU binary (default qemu-system-x86_64). */
  binary?: string;
  /** Skip what Linux's IOMMU core never sends: an attach to the domain already attached. */
  asLinux?: boolean;
  /** edu DMA devices: a power of two (deviceIdBits = log2); default 4. */
  devices?: number;
  /** Holders, hence `maxDomains` (blocked domains need none); default 8. */
  holders?: number;
}

// virtio-iommu wire constants (the virtio specification, "IOMMU device").
const F_INPUT_RANGE = 1n << 0n;
const F_DOMAIN_RANGE = 1n << 1n;
const F_MAP_UNMAP = 1n << 2n;
const F_BYPASS_CONFIG = 1n << 6n;
const T_ATTACH = 1;
const T_DETACH = 2;
const T_MAP = 3;
const T_UNMAP = 4;
const ATTACH_F_BYPASS = 1;
const STATUS_NAMES = ['OK', 'IOERR', 'UNSUPP', 'DEVERR', 'INVAL', 'RANGE', 'NOENT', 'FAULT', 'NOMEM'];
const S_OK = 0;
const S_INVAL = 4;
const S_RANGE = 5;
const S_NOENT = 6;
const FAULT_R_MAPPING = 2;
const FAULT_F_READ = 1;
const FAULT_F_WRITE = 2;
const FAULT_BYTES = 24;
const CONFIG_BYPASS = 36n;

// Guest memory the driver owns, in low RAM, away from the addresses the harness favours.
const CONTROL_BASE = 0x7f30_0000n;
const CONTROL_END = 0x7f34_0000n;
const REQUEST_QUEUE = CONTROL_BASE;
const REQUEST_BUFFER = CONTROL_BASE + 0x3000n;
const EVENT_QUEUE = CONTROL_BASE + 0x10000n;
const EVENT_BUFFERS = CONTROL_BASE + 0x13000n;
const EVENT_STRIDE = 32n;
const EVENT_COUNT = 64;
/** Where a read DMA's 16 bytes are written out to be read with qtest. */
const SCRATCH = CONTROL_BASE + 0x20000n;
/** The write marker's source page (copied into edu's buffer at WRITE_OFFSET at start). */
const MARKER_PAGE = CONTROL_BASE + 0x21000n;
const WRITE_OFFSET = 0x800n;
const MARKER = Buffer.from('IOMC-write-mark!').toString('hex');
/**
 * The read-back window: mapped in the device's domain only for the DMA that copies edu's buffer
 * out, then unmapped. It lies above every aperture the adapter accepts (at most 2^57), so no
 * harness mapping can overlap it and no harness translate can see it.
 */
const WINDOW = 1n << 63n;
/** The answer when a DMA did not fault but reached no page the adapter tagged. */
export const UNKNOWN_PAGE = 0xffff_ffff_ffff_f000n;
const PROBE_BYTES = 16n;
const K4 = 0x1000n;

const h = (x: bigint | number): string => '0x' + x.toString(16);

interface Mapping {
  iova: bigint;
  size: bigint;
  pa: bigint;
  guest: bigint;
  prot: number;
}
interface Domain {
  config: DomainConfig;
  holder?: PciFunction;
  holderAttached: boolean;
  devices: Set<number>;
  mappings: Mapping[];
}

const ERRNO_OF: Partial<Record<number, Errno>> = { [S_INVAL]: 'EINVAL', [S_RANGE]: 'ERANGE', [S_NOENT]: 'ENOENT' };

export interface VirtioIommu extends Methods<'async'> {}
export class VirtioIommu implements Iommu {
  readonly capabilities: Capabilities;
  private readonly caps: ResolvedCapabilities;
  private readonly edus: Edu[];
  private readonly domains = new Map<number, Domain>();
  private readonly attached = new Map<number, number>();
  private freeHolders: PciFunction[];
  private readonly relocator: PaRelocator;
  private queue: Promise<unknown> = Promise.resolve();
  private eventsSeen = 0;

  private constructor(
    private readonly machine: Machine,
    private readonly requestQ: Queue,
    private readonly eventQ: Queue,
    private readonly asLinux: boolean,
  ) {
    const bits = Math.log2(machine.edus.length);
    this.capabilities = { deviceIdBits: bits, pasidBits: 0, maxDomains: machine.holders.length, levels: [3, 4, 5] };
    this.caps = resolveCapabilities(this.capabilities);
    this.edus = machine.edus.map((e) => new Edu(machine.qtest, e.bars[0]!));
    this.freeHolders = [...machine.holders];
    this.relocator = PaRelocator.forMachine(machine);
  }

  /** Starts QEMU with virtio-iommu, N edus and M holders, and sets the device up as a driver. */
  static async start(opts: VirtioIommuOptions = {}): Promise<VirtioIommu> {
    const devices = opts.devices ?? 4;
    if (!Number.isInteger(Math.log2(devices)) || devices < 2) throw new RangeError('devices must be a power of two, at least 2');
    const machine = await Machine.start({ iommuDevice: 'virtio-iommu-pci,addr=01.0', eduCount: devices, holderCount: opts.holders ?? 8, binary: opts.binary });
    try {
      const q = machine.qtest;
      const virtio = await VirtioPci.open(q, machine.iommu!, F_INPUT_RANGE | F_DOMAIN_RANGE | F_MAP_UNMAP | F_BYPASS_CONFIG);
      if ((virtio.features & (F_MAP_UNMAP | F_BYPASS_CONFIG)) !== (F_MAP_UNMAP | F_BYPASS_CONFIG)) throw new QemuError('virtio-iommu does not offer MAP_UNMAP and BYPASS_CONFIG');
      const requestQ = await virtio.setupQueue(0, 8, REQUEST_QUEUE);
      const eventQ = await virtio.setupQueue(1, EVENT_COUNT, EVENT_QUEUE);
      await virtio.driverOk();
      // Every event buffer offered at once.
      let table = '';
      for (let i = 0; i < EVENT_COUNT; i++) table += descriptor(EVENT_BUFFERS + EVENT_STRIDE * BigInt(i), FAULT_BYTES, true);
      const post: string[] = [`write ${h(eventQ.desc)} ${EVENT_COUNT * 16} 0x${table}`];
      for (let i = 0; i < EVENT_COUNT; i++) post.push(...offer(eventQ, i));
      await q.batch(post);
      // While endpoints still bypass the IOMMU, load the write marker into every edu's buffer.
      await q.command(`write ${h(MARKER_PAGE)} 16 0x${MARKER}`);
      for (const e of machine.edus) await new Edu(q, e.bars[0]!).dma(MARKER_PAGE, PROBE_BYTES, true, WRITE_OFFSET);
      await q.command(`writeb ${h(virtio.deviceConfig + CONFIG_BYPASS)} 0`);
      return new VirtioIommu(machine, requestQ, eventQ, opts.asLinux ?? false);
    } catch (e) {
      await machine.close();
      throw e;
    }
  }

  /** The QEMU process id (tests check none is left behind). */
  get pid(): number | undefined {
    return this.machine.qtest.pid;
  }

  close(): Promise<void> {
    return this.machine.close();
  }

  /** The interface's methods (installed from the registry) all come here, one at a time. */
  perform<C extends Call>(call: C): Promise<AnswerOf<C>> {
    const run = this.queue.then(() => this.dispatch(call));
    this.queue = run.catch(() => undefined);
    return run as Promise<AnswerOf<C>>;
  }

  private async dispatch(call: Call): Promise<unknown> {
    if (!argumentsInRange(call, this.caps)) return { ok: false, error: 'EINVAL' };
    switch (call.op) {
      case 'createDomain':
        return this.createDomain_(call.id, call.options);
      case 'destroyDomain':
        return this.destroyDomain_(call.id);
      case 'attachDevice':
        return this.attach(call.device, call.domain);
      case 'detachDevice':
        return this.detach(call.device);
      case 'map':
        return this.map_(call.domain, call.iova, call.pa, call.size, call.prot);
      case 'unmap':
        return this.unmap_(call.domain, call.iova, call.size);
      case 'flush':
        return this.domains.has(call.domain) ? { ok: true } : { ok: false, error: 'ENOENT' };
      case 'translate':
        return this.translate_(call.device, call.iova, call.access);
      default:
        return { ok: false, error: 'EINVAL' }; // PASID calls (pasidBits 0) and undeclared v2 ones
    }
  }

  // ---- requests ----

  private static attachBody = (domain: number, endpoint: number, flags: number): string => le(T_ATTACH, 4) + le(domain, 4) + le(endpoint, 4) + le(flags, 4) + le(0, 4);
  private static detachBody = (domain: number, endpoint: number): string => le(T_DETACH, 4) + le(domain, 4) + le(endpoint, 4) + le(0, 8);
  private static mapBody = (domain: number, iova: bigint, size: bigint, guest: bigint, prot: number): string =>
    le(T_MAP, 4) + le(domain, 4) + le(iova, 8) + le(iova + size - 1n, 8) + le(guest, 8) + le(prot, 4);
  private static unmapBody = (domain: number, start: bigint, end: bigint): string => le(T_UNMAP, 4) + le(domain, 4) + le(start, 8) + le(end, 8) + le(0, 4);

  /** The commands of one request and the index (in them) of the answer holding its status. */
  private requestCommands(body: string): { commands: string[]; status: number } {
    const len = body.length / 2;
    const commands = [
      `write ${h(this.requestQ.desc)} 32 0x${descriptor(REQUEST_BUFFER, len, false, 1)}${descriptor(REQUEST_BUFFER + BigInt(len), 4, true)}`,
      `write ${h(REQUEST_BUFFER)} ${len + 4} 0x${body}ff000000`,
      ...offer(this.requestQ, 0),
      `readb ${h(REQUEST_BUFFER + BigInt(len))}`,
    ];
    return { commands, status: commands.length - 1 };
  }

  /** Sends requests in one batch (each completes inside its notify) and returns their statuses. */
  private async requests(bodies: readonly string[]): Promise<number[]> {
    const all: string[] = [];
    const at: number[] = [];
    for (const b of bodies) {
      const r = this.requestCommands(b);
      at.push(all.length + r.status);
      all.push(...r.commands);
    }
    const answers = await this.machine.qtest.batch(all);
    return at.map((i) => {
      const s = Number(BigInt(answers[i]!));
      if (s === 0xff) throw new QemuError('virtio-iommu did not complete a request');
      return s;
    });
  }

  private static errno(status: number, request: string): Errno {
    const e = ERRNO_OF[status];
    if (e === undefined) throw new QemuError(`virtio-iommu answered ${STATUS_NAMES[status] ?? status} to ${request}`);
    return e;
  }

  // ---- domains and attachment ----

  private createDomain_(id: number, options: unknown): Promise<unknown> | unknown {
    const config = parseDomainOptions(options, this.caps);
    if (config === undefined) return { ok: false, error: 'EINVAL' };
    if (config.type === 'nested') return { ok: false, error: 'EINVAL' };
    if (this.domains.has(id)) return { ok: false, error: 'EEXIST' };
    if (config.type === 'blocked') {
      this.domains.set(id, { config, holderAttached: false, devices: new Set(), mappings: [] });
      return { ok: true };
    }
    const holder = this.freeHolders.shift();
    if (holder === undefined) return { ok: false, error: 'ENOSPC' };
    return this.requests([VirtioIommu.attachBody(id, holder.rid, config.type === 'identity' ? ATTACH_F_BYPASS : 0)]).then(([s]) => {
      if (s !== S_OK) {
        this.freeHolders.unshift(holder);
        return { ok: false, error: VirtioIommu.errno(s!, 'the holder ATTACH of createDomain') };
      }
      this.domains.set(id, { config, holder, holderAttached: true, devices: new Set(), mappings: [] });
      return { ok: true };
    });
  }

  private async destroyDomain_(id: number): Promise<unknown> {
    const d = this.domains.get(id);
    if (!d) return { ok: false, error: 'ENOENT' };
    if (d.devices.size > 0) return { ok: false, error: 'EBUSY' };
    if (d.holder && d.holderAttached) {
      const [s] = await this.requests([VirtioIommu.detachBody(id, d.holder.rid)]);
      if (s !== S_OK) return { ok: false, error: VirtioIommu.errno(s!, 'the holder DETACH of destroyDomain') };
    }
    if (d.holder) this.freeHolders.push(d.holder);
    this.domains.delete(id);
    return { ok: true };
  }

  /** The request that keeps domain `id` alive when `device` leaves it: its holder re-attached. */
  private keepAlive(id: number, device: number): string[] {
    const d = this.domains.get(id)!;
    if (d.holder === undefined || d.holderAttached || d.devices.size !== 1 || !d.devices.has(device)) return [];
    return [VirtioIommu.attachBody(id, d.holder.rid, d.config.type === 'identity' ? ATTACH_F_BYPASS : 0)];
  }

  private async attach(device: number, id: number): Promise<unknown> {
    const target = this.domains.get(id);
    if (!target) return { ok: false, error: 'ENOENT' };
    const current = this.attached.get(device);
    if (current === id && this.asLinux) return { ok: true }; // Linux's core returns early
    const rid = this.machine.edus[device]!.rid;
    const before: string[] = current !== undefined && current !== id ? this.keepAlive(current, device) : [];
    const leavingQemuDomain = current !== undefined && this.domains.get(current)!.config.type !== 'blocked';
    if (target.config.type === 'blocked') {
      const bodies = leavingQemuDomain ? [...before, VirtioIommu.detachBody(current!, rid)] : [];
      const statuses = await this.requests(bodies);
      if (statuses.some((s) => s !== S_OK)) return { ok: false, error: VirtioIommu.errno(statuses.find((s) => s !== S_OK)!, 'DETACH') };
      this.move(device, current, id, before.length > 0);
      return { ok: true };
    }
    const bodies = [...before, VirtioIommu.attachBody(id, rid, target.config.type === 'identity' ? ATTACH_F_BYPASS : 0)];
    const dropHolder = target.holderAttached;
    if (dropHolder) bodies.push(VirtioIommu.detachBody(id, target.holder!.rid));
    const statuses = await this.requests(bodies);
    const main = statuses[before.length]!;
    if (before.length && statuses[0] !== S_OK) throw new QemuError(`virtio-iommu answered ${STATUS_NAMES[statuses[0]!]} to a holder ATTACH`);
    if (main !== S_OK) return { ok: false, error: VirtioIommu.errno(main, 'ATTACH') };
    if (dropHolder && statuses[statuses.length - 1] !== S_OK) throw new QemuError('virtio-iommu refused a holder DETACH');
    if (dropHolder) target.holderAttached = false;
    this.move(device, current, id, before.length > 0);
    return { ok: true };
  }

  private move(device: number, from: number | undefined, to: number | undefined, holderBack: boolean): void {
    if (from !== undefined) {
      const d = this.domains.get(from)!;
      d.devices.delete(device);
      if (holderBack) d.holderAttached = true;
    }
    if (to === undefined) this.attached.delete(device);
    else {
      this.attached.set(device, to);
      this.domains.get(to)!.devices.add(device);
    }
  }

  private async detach(device: number): Promise<unknown> {
    const current = this.attached.get(device);
    if (current === undefined) return { ok: false, error: 'ENOENT' };
    const d = this.domains.get(current)!;
    if (d.config.type !== 'blocked') {
      const before = this.keepAlive(current, device);
      const statuses = await this.requests([...before, VirtioIommu.detachBody(current, this.machine.edus[device]!.rid)]);
      if (statuses.some((s) => s !== S_OK)) return { ok: false, error: VirtioIommu.errno(statuses.find((s) => s !== S_OK)!, 'DETACH') };
      this.move(device, current, undefined, before.length > 0);
    } else this.move(device, current, undefined, false);
    return { ok: true };
  }

  // ---- map and unmap ----

  /** The driver's checks of map and unmap (CONTRACT.md, map/unmap), before any request. */
  private tableOf(id: number, iova: bigint, size: bigint): { d: Domain; aperture: bigint } | Errno {
    const d = this.domains.get(id);
    if (!d) return 'ENOENT';
    if (!hasTable(d.config) || size === 0n || iova % K4 !== 0n || size % K4 !== 0n) return 'EINVAL';
    if (iova + size > d.config.aperture) return 'ERANGE';
    return { d, aperture: d.config.aperture };
  }

  private async map_(id: number, iova: bigint, pa: bigint, size: bigint, prot: number): Promise<unknown> {
    const t = this.tableOf(id, iova, size);
    if (typeof t === 'string') return { ok: false, error: t };
    if (pa % K4 !== 0n) return { ok: false, error: 'EINVAL' };
    if (pa + size > PA_LIMIT) return { ok: false, error: 'ERANGE' };
    const guest = this.relocator.place(pa, size);
    if (guest === undefined) throw new QemuError('the guest RAM that backs mapped PAs is exhausted in this run');
    const [s] = await this.requests([VirtioIommu.mapBody(id, iova, size, guest, prot)]);
    // QEMU answers INVAL for a MAP that overlaps a mapping: the contract's EEXIST.
    if (s === S_INVAL) return { ok: false, error: 'EEXIST' };
    if (s !== S_OK) return { ok: false, error: VirtioIommu.errno(s!, 'MAP') };
    t.d.mappings.push({ iova, size, pa, guest, prot });
    return { ok: true };
  }

  private async unmap_(id: number, iova: bigint, size: bigint): Promise<unknown> {
    const t = this.tableOf(id, iova, size);
    if (typeof t === 'string') return { ok: false, error: t };
    const d = t.d;
    const end = iova + size;
    const config = d.config as Extract<DomainConfig, { unmap: unknown }>;
    if (config.unmap === 'whole') {
      const [s] = await this.requests([VirtioIommu.unmapBody(id, iova, end - 1n)]);
      // RANGE: the range cuts a mapping (virtio: "SHOULD NOT remove any mapping"): EINVAL.
      if (s === S_RANGE) return { ok: false, error: 'EINVAL' };
      if (s !== S_OK) return { ok: false, error: VirtioIommu.errno(s!, 'UNMAP') };
      const inside = d.mappings.filter((m) => m.iova >= iova && m.iova + m.size <= end);
      d.mappings = d.mappings.filter((m) => !inside.includes(m));
      return { ok: true, value: inside.reduce((n, m) => n + m.size, 0n) };
    }
    // 'split', as a driver does it: unmap every mapping the range touches, map the remainders back.
    const touched = d.mappings.filter((m) => m.iova < end && iova < m.iova + m.size);
    if (touched.length === 0) return { ok: true, value: 0n };
    const low = touched.reduce((x, m) => (m.iova < x ? m.iova : x), iova);
    const high = touched.reduce((x, m) => (m.iova + m.size > x ? m.iova + m.size : x), end);
    const rest: Mapping[] = [];
    for (const m of touched) {
      if (m.iova < iova) rest.push({ ...m, size: iova - m.iova });
      if (m.iova + m.size > end) rest.push({ iova: end, size: m.iova + m.size - end, pa: m.pa + (end - m.iova), guest: m.guest + (end - m.iova), prot: m.prot });
    }
    const statuses = await this.requests([VirtioIommu.unmapBody(id, low, high - 1n), ...rest.map((r) => VirtioIommu.mapBody(id, r.iova, r.size, r.guest, r.prot))]);
    if (statuses[0] !== S_OK) return { ok: false, error: VirtioIommu.errno(statuses[0]!, 'UNMAP') };
    if (statuses.some((s) => s !== S_OK)) throw new QemuError('virtio-iommu refused to map back the remainder of a split mapping');
    const bytes = touched.reduce((n, m) => n + ((m.iova + m.size < end ? m.iova + m.size : end) - (m.iova > iova ? m.iova : iova)), 0n);
    d.mappings = [...d.mappings.filter((m) => !touched.includes(m)), ...rest];
    return { ok: true, value: bytes };
  }

  // ---- translate: a real DMA ----

  /** Where the driver's records say the 16 probe bytes at `at` are: guest address and harness PA. */
  private expected(device: number, at: bigint): { guest: bigint; pa: bigint } | undefined {
    const id = this.attached.get(device);
    const d = id === undefined ? undefined : this.domains.get(id);
    if (!d) return undefined;
    if (d.config.type === 'identity') return this.taggable(at) ? { guest: at, pa: at } : undefined;
    const m = d.mappings.find((x) => at >= x.iova && at < x.iova + x.size);
    return m && { guest: m.guest + (at - m.iova), pa: m.pa + (at - m.iova) };
  }

  /** RAM that qtest can tag: not ROM or the legacy holes, not the driver's own memory. */
  private taggable(pa: bigint): boolean {
    if (!this.machine.isRam(pa, PROBE_BYTES)) return false;
    if (pa >= 0xa_0000n && pa < 0x10_0000n) return false;
    return !(pa + PROBE_BYTES > CONTROL_BASE && pa < CONTROL_END);
  }

  /** Runs a DMA (its start already in `first`), polling until it completes; returns the answers of `first`. */
  private async dma(edu: Edu, first: string[]): Promise<string[]> {
    const answers = await this.machine.qtest.batch([...first, edu.pollCommand()]);
    if (!Edu.done(answers[answers.length - 1]!)) await edu.wait();
    return answers;
  }

  /** The faults reported since the last look, their buffers offered again. */
  private async faults(usedIdxAnswer: string): Promise<{ reason: number; flags: number }[]> {
    const idx = Number(BigInt(usedIdxAnswer));
    const count = (idx - this.eventsSeen) & 0xffff;
    if (count === 0) return [];
    const [ring, buffers] = await this.machine.qtest.batch([`read ${h(this.eventQ.used + 4n)} ${8 * EVENT_COUNT}`, `read ${h(EVENT_BUFFERS)} ${Number(EVENT_STRIDE) * EVENT_COUNT}`]);
    const out: { reason: number; flags: number }[] = [];
    const repost: string[] = [];
    for (let k = 0; k < count; k++) {
      const slot = (this.eventsSeen + k) % EVENT_COUNT;
      const id = Number(fromLe(ring!, 8 * slot, 4));
      const at = Number(EVENT_STRIDE) * id;
      out.push({ reason: Number(fromLe(buffers!, at, 1)), flags: Number(fromLe(buffers!, at + 4, 4)) });
      repost.push(...offer(this.eventQ, id));
    }
    this.eventsSeen = idx;
    await this.machine.qtest.batch(repost);
    return out;
  }

  private static faultOf(events: { reason: number; flags: number }[]): Fault {
    const e = events[0]!;
    if (e.reason !== FAULT_R_MAPPING) return 'blocked'; // an unknown or unattached endpoint
    return e.flags & (FAULT_F_READ | FAULT_F_WRITE) ? 'permission' : 'not-mapped';
  }

  private async translate_(device: number, iova: bigint, access: 'read' | 'write'): Promise<Translation> {
    const edu = this.edus[device]!;
    const q = this.machine.qtest;
    const at = iova & ~(PROBE_BYTES - 1n); // 16 bytes that hold the whole probe, in one page
    const offset = iova - at;
    const expected = this.expected(device, at);
    const epoch = this.relocator.epoch;
    const tag = expected ? [tagCommand(expected.guest, expected.pa, epoch)] : [];
    const read = access === 'read';
    await this.dma(edu, [...tag, ...edu.startCommands(at, PROBE_BYTES, read, read ? 0n : WRITE_OFFSET)]);
    const [usedIdx, landed] = await q.batch([`readw ${h(this.eventQ.used + 2n)}`, ...(expected && !read ? [`read ${h(expected.guest)} 16`] : [])]);
    const events = await this.faults(usedIdx!);
    if (events.length > 0) return { ok: false, fault: VirtioIommu.faultOf(events) };
    const id = this.attached.get(device);
    const type = id === undefined ? 'blocked' : this.domains.get(id)!.config.type;
    if (!read) {
      if (landed !== undefined && landed.slice(2) === MARKER) return { ok: true, pa: expected!.pa + offset };
      // Identity DMA beyond taggable RAM: no memory to check; the IOMMU passed it untranslated.
      if (type === 'identity' && !expected) return { ok: true, pa: iova };
      return { ok: true, pa: UNKNOWN_PAGE };
    }
    if (type === 'identity' && !expected) return { ok: true, pa: iova };
    if (type === 'blocked') return { ok: true, pa: UNKNOWN_PAGE }; // no way to read back: flagged
    const bytes = await this.readBack(edu, id!, type === 'paging');
    const found = decodeTag(bytes, epoch);
    return { ok: true, pa: found === undefined ? UNKNOWN_PAGE : found + offset };
  }

  /** Copies edu's 16 fetched bytes out to SCRATCH (through the window when paging) and reads them. */
  private async readBack(edu: Edu, id: number, paging: boolean): Promise<string> {
    const q = this.machine.qtest;
    if (!paging) {
      await this.dma(edu, edu.startCommands(SCRATCH, PROBE_BYTES, false));
      return (await q.batch([`read ${h(SCRATCH)} 16`]))[0]!;
    }
    const map = this.requestCommands(VirtioIommu.mapBody(id, WINDOW, K4, SCRATCH, 3));
    const first = await this.dma(edu, [...map.commands, ...edu.startCommands(WINDOW, PROBE_BYTES, false)]);
    if (Number(BigInt(first[map.status]!)) !== S_OK) throw new QemuError('virtio-iommu refused the read-back window MAP');
    const unmap = this.requestCommands(VirtioIommu.unmapBody(id, WINDOW, WINDOW + K4 - 1n));
    const answers = await q.batch([...unmap.commands, `read ${h(SCRATCH)} 16`, `readw ${h(this.eventQ.used + 2n)}`]);
    if (Number(BigInt(answers[unmap.status]!)) !== S_OK) throw new QemuError('virtio-iommu refused the read-back window UNMAP');
    if ((await this.faults(answers[answers.length - 1]!)).length > 0) throw new QemuError('the read-back DMA faulted');
    return answers[answers.length - 2]!;
  }

  /** Starts a new run on the same QEMU: not used (each run gets a fresh QEMU, see open.ts). */
  get epoch(): number {
    return this.relocator.epoch;
  }
}

installMethods(VirtioIommu.prototype);
