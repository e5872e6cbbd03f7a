// Builders of the calls the directed tests and the catalogues' demos write out.
import type { Access, Call, DomainOptions } from '../../model/types.ts';

export const create = (id: number, options?: DomainOptions): Call =>
  options === undefined ? { op: 'createDomain', id } : { op: 'createDomain', id, options };
export const destroy = (id: number): Call => ({ op: 'destroyDomain', id });
export const attach = (device: number, domain: number): Call => ({ op: 'attachDevice', device, domain });
export const detach = (device: number): Call => ({ op: 'detachDevice', device });
export const attachPasid = (device: number, pasid: number, domain: number): Call => ({ op: 'attachPasid', device, pasid, domain });
export const detachPasid = (device: number, pasid: number): Call => ({ op: 'detachPasid', device, pasid });
export const map = (domain: number, iova: bigint, pa: bigint, size: bigint, prot = 3): Call => ({ op: 'map', domain, iova, pa, size, prot });
export const unmap = (domain: number, iova: bigint, size: bigint): Call => ({ op: 'unmap', domain, iova, size });
export const flush = (domain: number): Call => ({ op: 'flush', domain });
export const tr = (device: number, pasid: number | null, iova: bigint, access: Access = 'read'): Call => ({ op: 'translate', device, pasid, iova, access });
/** A read (or write) through the device's RID, or through a PASID. */
export const read = (device: number, iova: bigint, pasid: number | null = null): Call => tr(device, pasid, iova, 'read');
export const write = (device: number, iova: bigint, pasid: number | null = null): Call => tr(device, pasid, iova, 'write');
