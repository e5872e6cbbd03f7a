// Calls and answers as TypeScript source text: for counterexample steps and runnable repros.
import { callArguments, type Call } from '../../model/ops.ts';

/** A value as a TypeScript literal: bigints in hex with `n`, objects and arrays recursively. */
export function literal(value: unknown): string {
  if (typeof value === 'bigint') return `${value < 0n ? '-' : ''}0x${(value < 0n ? -value : value).toString(16)}n`;
  if (typeof value === 'string') return `'${value.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
  if (value === undefined) return 'undefined';
  if (typeof value === 'number') return Object.is(value, -0) ? '-0' : String(value);
  if (value === null || typeof value !== 'object') return String(value);
  if (Array.isArray(value)) return `[${value.map(literal).join(', ')}]`;
  const entries = Object.entries(value).map(([k, v]) => `${/^[A-Za-z_$][\w$]*$/.test(k) ? k : `'${k}'`}: ${literal(v)}`);
  return entries.length === 0 ? '{}' : `{ ${entries.join(', ')} }`;
}

/** `iommu.map(1, 0x1000n, 0x200000n, 0x1000n, 3)` */
export function formatCall(call: Call, receiver = 'iommu'): string {
  return `${receiver}.${call.op}(${callArguments(call).map(literal).join(', ')})`;
}
