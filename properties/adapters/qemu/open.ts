// QEMU as a target of checkConformance: one fresh QEMU per run (the next one started while the
// current run goes on, so a run does not wait for QEMU to boot), dispatched on the IOMMU device.
import type { Iommu } from '../../../model/types.ts';
import { QemuError } from './qtest.ts';
import { VirtioIommu } from './virtio-iommu.ts';

/** The vIOMMUs the adapters drive. */
export const QEMU_DEVICES = ['virtio-iommu', 'intel-iommu'] as const;
export type QemuDevice = (typeof QEMU_DEVICES)[number];

export interface QemuTargetOptions {
  device: QemuDevice;
  /** Skip what Linux's IOMMU core never sends (an attach to the domain already attached). */
  asLinux?: boolean;
  /** The QEMU binary (default qemu-system-x86_64 on the PATH). */
  binary?: string;
}

/** A QEMU-backed Iommu: it owns a QEMU process until `close`. */
export interface QemuIommu extends Iommu {
  close(): Promise<void>;
  readonly pid: number | undefined;
}

type Starter = (options: QemuTargetOptions) => Promise<QemuIommu>;

/**
 * The constructor of each device's adapter. The intel-iommu adapter plugs in here:
 * `'intel-iommu': (o) => IntelIommu.start(o)` (until then, a clear error).
 */
const STARTERS: Partial<Record<QemuDevice, Starter>> = {
  'virtio-iommu': (o) => VirtioIommu.start({ binary: o.binary, asLinux: o.asLinux }),
};

/** Starts one QEMU with the chosen vIOMMU; rejects with QemuError if it cannot. */
export async function startQemuIommu(options: QemuTargetOptions): Promise<QemuIommu> {
  const start = STARTERS[options.device];
  if (start === undefined)
    throw new QemuError(QEMU_DEVICES.includes(options.device) ? `the ${options.device} adapter is not available yet` : `unknown QEMU IOMMU device ${JSON.stringify(options.device)} (one of ${QEMU_DEVICES.join(', ')})`);
  return start(options);
}

export interface QemuTarget {
  /** A fresh QEMU per call (the harness calls it once per run); the previous one is closed. */
  factory(): Promise<QemuIommu>;
  /** Ends every QEMU this target started. */
  close(): Promise<void>;
  /** The first QEMU failure (death, hang, protocol): every later factory call rejects with it. */
  readonly failure: string | undefined;
}

/**
 * Opens a QEMU target for `checkConformance(target.factory, ...)`. The first QEMU is started at
 * once, so a QEMU that cannot start rejects here (QemuError).
 */
export async function openQemu(options: QemuTargetOptions): Promise<QemuTarget> {
  let current: QemuIommu | undefined;
  let next: Promise<QemuIommu> | undefined = startQemuIommu(options);
  let failure: string | undefined;
  let closed = false;
  await next; // fails fast when QEMU cannot start
  const watch = (iommu: QemuIommu): QemuIommu => {
    // A method that rejects with a QemuError means this QEMU is unusable: remember why.
    for (const op of ['createDomain', 'destroyDomain', 'attachDevice', 'detachDevice', 'map', 'unmap', 'flush', 'translate'] as const) {
      const method = (iommu[op] as (...a: unknown[]) => unknown).bind(iommu);
      Object.defineProperty(iommu, op, {
        value: (...args: unknown[]) =>
          Promise.resolve(method(...args)).catch((e: unknown) => {
            if (e instanceof QemuError) failure ??= e.message;
            throw e;
          }),
      });
    }
    return iommu;
  };
  return {
    async factory() {
      if (closed) throw new QemuError('the QEMU target is closed');
      if (failure !== undefined) throw new QemuError(`QEMU failed: ${failure}`);
      const old = current;
      current = undefined;
      const ready = next ?? startQemuIommu(options);
      next = undefined;
      await old?.close();
      try {
        current = watch(await ready);
      } catch (e) {
        failure ??= (e as Error).message;
        throw e;
      }
      next = startQemuIommu(options);
      next.catch(() => undefined); // reported when taken
      return current;
    },
    async close() {
      closed = true;
      await current?.close();
      const pending = next;
      next = undefined;
      await pending?.then((q) => q.close(), () => undefined);
    },
    get failure() {
      return failure;
    },
  };
}
