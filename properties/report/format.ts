// Calls and answers as TypeScript source text: for counterexample steps and runnable repros.
import { callArguments, type Call } from '../../model/ops.ts';

/**
 * A value as a TypeScript literal: bigints in hex with `n`, objects and arrays recursively. Never
 * throws: an object met again inside itself is `<circular>`, one whose reading throws (a getter, a
 * Proxy) is `<unreadable: why>`.
 */
export function literal(value: unknown, seen: Set<object> = new Set()): string {
  if (typeof value === 'bigint') return `${value < 0n ? '-' : ''}0x${(value < 0n ? -value : value).toString(16)}n`;
  if (typeof value === 'string') return `'${value.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
  if (value === undefined) return 'undefined';
  if (typeof value === 'number') return Object.is(value, -0) ? '-0' : String(value);
  if (typeof value === 'symbol') return value.toString();
  if (value === null || (typeof value !== 'object' && typeof value !== 'function')) return String(value);
  if (typeof value === 'function') return `<function>`;
  if (seen.has(value)) return '<circular>';
  seen.add(value);
  try {
    if (Array.isArray(value)) return `[${Array.from(value, (v) => literal(v, seen)).join(', ')}]`;
    const entries = Object.entries(value).map(([k, v]) => `${/^[A-Za-z_$][\w$]*$/.test(k) ? k : `'${k}'`}: ${literal(v, seen)}`);
    return entries.length === 0 ? '{}' : `{ ${entries.join(', ')} }`;
  } catch (e) {
    let why: string;
    try {
      why = e instanceof Error ? e.message : String(e);
    } catch {
      why = 'it threw';
    }
    return `<unreadable: ${why}>`;
  } finally {
    seen.delete(value);
  }
}

/** `iommu.map(1, 0x1000n, 0x200000n, 0x1000n, 3)` */
export function formatCall(call: Call, receiver = 'iommu'): string {
  return `${receiver}.${call.op}(${callArguments(call).map((v) => literal(v)).join(', ')})`;
}
