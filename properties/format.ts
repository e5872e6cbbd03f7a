// Calls and answers as TypeScript source text: for counterexample steps and runnable repros.
import type { Call } from '../model/types.ts';

/** A value as a TypeScript literal: bigints in hex with `n`, objects and arrays recursively. */
export function literal(value: unknown): string {
  if (typeof value === 'bigint') return `0x${value.toString(16)}n`;
  if (typeof value === 'string') return `'${value.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
  if (value === undefined) return 'undefined';
  if (typeof value === 'number') return Object.is(value, -0) ? '-0' : String(value);
  if (value === null || typeof value !== 'object') return String(value);
  if (Array.isArray(value)) return `[${value.map(literal).join(', ')}]`;
  const entries = Object.entries(value).map(([k, v]) => `${/^[A-Za-z_$][\w$]*$/.test(k) ? k : `'${k}'`}: ${literal(v)}`);
  return entries.length === 0 ? '{}' : `{ ${entries.join(', ')} }`;
}

/** The arguments of a call, in the order of the interface's parameters. */
export function callArguments(call: Call): unknown[] {
  switch (call.op) {
    case 'createDomain':
      return 'options' in call ? [call.id, call.options] : [call.id];
    case 'destroyDomain':
      return [call.id];
    case 'attachDevice':
      return [call.device, call.domain];
    case 'detachDevice':
      return [call.device];
    case 'attachPasid':
      return [call.device, call.pasid, call.domain];
    case 'detachPasid':
      return [call.device, call.pasid];
    case 'map':
      return [call.domain, call.iova, call.pa, call.size, call.prot];
    case 'unmap':
      return [call.domain, call.iova, call.size];
    case 'flush':
      return [call.domain];
    case 'translate':
      return [call.device, call.pasid, call.iova, call.access];
  }
}

/** `iommu.map(1, 0x1000n, 0x200000n, 0x1000n, 3)` */
export function formatCall(call: Call, receiver = 'iommu'): string {
  return `${receiver}.${call.op}(${callArguments(call).map(literal).join(', ')})`;
}
