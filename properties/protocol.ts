// The subprocess protocol (CONTRACT.md, "Subprocess protocol"): JSON Lines over stdin/stdout.
// This module is the codec only: calls to request lines, response lines to answers. It never
// throws on a response; it says precisely what is wrong with it instead.
//
// What the protocol cannot express: a `bigint` argument that is not a u64 (negative, >= 2^64),
// a `number` where a `bigint` is due, a `bigint` where a `number` is due, a non-finite number,
// `undefined` for a required argument (e.g. a `Pasid`), or `pageSizes` entries that are not u64
// bigints. Every such call is out of range by the contract and must be answered with EINVAL, so
// `encodeRequest` throws an `InexpressibleCall` for it and the subprocess adapter answers EINVAL
// itself without asking the process. Everything that JSON can express is sent as is (negative or
// fractional numbers, strings in number fields, unknown option keys...) and the implementation
// must answer it with EINVAL.
import {
  ALL_PAGE_SIZES,
  U64_LIMIT,
  type AnswerOf,
  type Call,
  type Capabilities,
  type Errno,
  type Fault,
  type Levels,
} from '../model/types.ts';
import { resolveCapabilities } from '../model/validate.ts';

export const ERRNOS: readonly Errno[] = ['EINVAL', 'ENOENT', 'EEXIST', 'EBUSY', 'ERANGE', 'ENOSPC'];
export const FAULTS: readonly Fault[] = ['blocked', 'not-mapped', 'permission'];

/** A call whose arguments the protocol cannot carry; by the contract its answer is EINVAL. */
export class InexpressibleCall extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'InexpressibleCall';
  }
}

/** A u64 as the protocol spells it: lowercase hex with `0x`. */
export const hex = (x: bigint): string => '0x' + x.toString(16);

const HEX_RE = /^0x[0-9a-fA-F]{1,16}$/;
const HEX_ANY_RE = /^0x[0-9a-fA-F]+$/;

/** Parses a protocol hex string into a u64; `undefined` if it is not one. */
export function parseHex(x: unknown): bigint | undefined {
  if (typeof x !== 'string') return undefined;
  if (!HEX_ANY_RE.test(x)) return undefined;
  // Leading zeros are tolerated; the value must fit in 64 bits.
  const v = BigInt(x);
  return v < U64_LIMIT ? v : undefined;
}

const hexOrThrow = (name: string, x: unknown): string => {
  if (typeof x !== 'bigint') throw new InexpressibleCall(`${name} is a ${describeType(x)}, not a bigint`);
  if (x < 0n || x >= U64_LIMIT) throw new InexpressibleCall(`${name} = ${x} is not a u64`);
  return hex(x);
};

function describeType(x: unknown): string {
  if (x === null) return 'null';
  if (Array.isArray(x)) return 'array';
  return typeof x;
}

/** A JSON value for a `number` parameter: numbers and anything else JSON can carry verbatim. */
function jsonScalar(name: string, x: unknown): unknown {
  if (typeof x === 'number') {
    if (!Number.isFinite(x)) throw new InexpressibleCall(`${name} = ${x} cannot be written in JSON`);
    return x;
  }
  if (x === null || typeof x === 'string' || typeof x === 'boolean') return x;
  throw new InexpressibleCall(`${name} is a ${describeType(x)}, which the protocol cannot carry`);
}

/** Any JSON-able value with bigints as hex strings; for unknown option keys. */
function jsonAny(name: string, x: unknown): unknown {
  if (typeof x === 'bigint') return hexOrThrow(name, x);
  if (Array.isArray(x)) return x.map((e, i) => jsonAny(`${name}[${i}]`, e));
  if (typeof x === 'object' && x !== null) {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(x)) if (v !== undefined) out[k] = jsonAny(`${name}.${k}`, v);
    return out;
  }
  return jsonScalar(name, x);
}

function encodeOptions(options: unknown): Record<string, unknown> {
  if (typeof options !== 'object' || options === null || Array.isArray(options))
    throw new InexpressibleCall(`options is a ${describeType(options)}, not an object`);
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(options as Record<string, unknown>)) {
    if (v === undefined) continue; // an undefined key counts as absent
    if (k === 'aperture') out[k] = hexOrThrow('options.aperture', v);
    else if (k === 'pageSizes') {
      if (!Array.isArray(v)) throw new InexpressibleCall(`options.pageSizes is a ${describeType(v)}, not an array`);
      out[k] = v.map((s, i) => hexOrThrow(`options.pageSizes[${i}]`, s));
    } else if (k === 'type' || k === 'levels' || k === 'invalidation' || k === 'unmap') out[k] = jsonScalar(`options.${k}`, v);
    else out[k] = jsonAny(`options.${k}`, v);
  }
  return out;
}

/** The request line (no newline) for a call. Throws `InexpressibleCall`, see the module comment. */
export function encodeRequest(call: Call): string {
  const c = call as Record<string, unknown> & { op: Call['op'] };
  const num = (name: string) => jsonScalar(name, c[name]);
  const u64 = (name: string) => hexOrThrow(name, c[name]);
  let req: Record<string, unknown>;
  switch (c.op) {
    case 'createDomain':
      req = { op: c.op, id: num('id') };
      if ('options' in c && c.options !== undefined) req.options = encodeOptions(c.options);
      break;
    case 'destroyDomain':
      req = { op: c.op, id: num('id') };
      break;
    case 'attachDevice':
      req = { op: c.op, device: num('device'), domain: num('domain') };
      break;
    case 'detachDevice':
      req = { op: c.op, device: num('device') };
      break;
    case 'attachPasid':
      req = { op: c.op, device: num('device'), pasid: num('pasid'), domain: num('domain') };
      break;
    case 'detachPasid':
      req = { op: c.op, device: num('device'), pasid: num('pasid') };
      break;
    case 'map':
      req = { op: c.op, domain: num('domain'), iova: u64('iova'), pa: u64('pa'), size: u64('size'), prot: num('prot') };
      break;
    case 'unmap':
      req = { op: c.op, domain: num('domain'), iova: u64('iova'), size: u64('size') };
      break;
    case 'flush':
      req = { op: c.op, domain: num('domain') };
      break;
    case 'translate':
      req = { op: c.op, device: num('device'), pasid: num('pasid'), iova: u64('iova'), access: num('access') };
      break;
    default:
      throw new InexpressibleCall(`unknown op ${JSON.stringify((c as { op: unknown }).op)}`);
  }
  return JSON.stringify(req);
}

export type Decoded<T> = { ok: true; answer: T } | { ok: false; problem: string };

const bad = <T>(problem: string): Decoded<T> => ({ ok: false, problem });

function parseObject(line: string): { ok: true; obj: Record<string, unknown> } | { ok: false; problem: string } {
  let v: unknown;
  try {
    v = JSON.parse(line);
  } catch (e) {
    return { ok: false, problem: `not valid JSON (${(e as Error).message})` };
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v))
    return { ok: false, problem: `not a JSON object but ${describeType(v)}` };
  return { ok: true, obj: v as Record<string, unknown> };
}

function keysProblem(obj: Record<string, unknown>, allowed: readonly string[]): string | undefined {
  const extra = Object.keys(obj).filter((k) => !allowed.includes(k));
  return extra.length ? `unexpected key${extra.length > 1 ? 's' : ''} ${extra.map((k) => JSON.stringify(k)).join(', ')}` : undefined;
}

const shapesOf = (op: Call['op']): string => {
  switch (op) {
    case 'translate':
      return '{"ok":true,"pa":"0x..."}, {"ok":false,"fault":"blocked|not-mapped|permission"} or {"ok":false,"error":"EINVAL"}';
    case 'unmap':
      return '{"ok":true,"value":"0x..."} or {"ok":false,"error":"<Errno>"}';
    default:
      return '{"ok":true} or {"ok":false,"error":"<Errno>"}';
  }
};

/**
 * Decodes the response line to `call`, accepting exactly the shapes the contract gives for its op.
 * Decisions where the contract is silent: hex digits may be upper or lower case and have leading
 * zeros (at most 64 bits of value); a `value` key on a void success is ignored, as `Result<void>`
 * says; surrounding whitespace is allowed; any other extra key is a problem.
 */
export function decodeResponse<C extends Call>(call: C, line: string): Decoded<AnswerOf<C>> {
  const parsed = parseObject(line);
  if (!parsed.ok) return bad(parsed.problem);
  const o = parsed.obj;
  const op = call.op;
  const wrong = (what: string): Decoded<AnswerOf<C>> => bad(`${what}; expected ${shapesOf(op)}`);
  if (typeof o.ok !== 'boolean') return wrong('"ok" is missing or not a boolean');
  if (o.ok) {
    if (op === 'translate') {
      const extra = keysProblem(o, ['ok', 'pa']);
      if (extra) return wrong(extra);
      if (!('pa' in o)) return wrong('"pa" is missing');
      const pa = parseHex(o.pa);
      if (pa === undefined) return bad(`"pa" is ${JSON.stringify(o.pa)}, not a hex string of a u64 like "0x1000"`);
      return { ok: true, answer: { ok: true, pa } as AnswerOf<C> };
    }
    if (op === 'unmap') {
      const extra = keysProblem(o, ['ok', 'value']);
      if (extra) return wrong(extra);
      if (!('value' in o)) return wrong('"value" (bytes unmapped) is missing');
      const value = parseHex(o.value);
      if (value === undefined) return bad(`"value" is ${JSON.stringify(o.value)}, not a hex string of a u64 like "0x1000"`);
      return { ok: true, answer: { ok: true, value } as AnswerOf<C> };
    }
    const extra = keysProblem(o, ['ok', 'value']);
    if (extra) return wrong(extra);
    return { ok: true, answer: { ok: true } as AnswerOf<C> };
  }
  // ok: false
  if (op === 'translate' && 'fault' in o) {
    const extra = keysProblem(o, ['ok', 'fault']);
    if (extra) return wrong(extra);
    if (!FAULTS.includes(o.fault as Fault)) return bad(`unknown fault ${JSON.stringify(o.fault)}; expected one of ${FAULTS.join(', ')}`);
    return { ok: true, answer: { ok: false, fault: o.fault as Fault } as AnswerOf<C> };
  }
  const extra = keysProblem(o, ['ok', 'error']);
  if (extra) return wrong(extra);
  if (!('error' in o)) return wrong(op === 'translate' ? '"fault" or "error" is missing' : '"error" is missing');
  if (!ERRNOS.includes(o.error as Errno)) return bad(`unknown errno ${JSON.stringify(o.error)}; expected one of ${ERRNOS.join(', ')}`);
  if (op === 'translate' && o.error !== 'EINVAL')
    return bad(`translate may only answer the error EINVAL, not ${JSON.stringify(o.error)}; a failed translation is a "fault"`);
  return { ok: true, answer: { ok: false, error: o.error as Errno } as AnswerOf<C> };
}

export const CAPABILITIES_REQUEST = '{"op":"capabilities"}';
export const RESET_REQUEST = '{"op":"reset"}';

/**
 * Decodes the answer to `{"op":"capabilities"}`: `capabilities` is undefined (all defaults) for
 * any error answer. The value is checked as the model checks capabilities (resolveCapabilities).
 */
export function decodeCapabilities(line: string): Decoded<Capabilities | undefined> {
  const parsed = parseObject(line);
  if (!parsed.ok) return bad(parsed.problem);
  const o = parsed.obj;
  if (o.ok === false) {
    if (!('error' in o)) return bad('"error" is missing in an ok:false answer to capabilities');
    return { ok: true, answer: undefined };
  }
  if (o.ok !== true) return bad('"ok" is missing or not a boolean');
  const extra = keysProblem(o, ['ok', 'value']);
  if (extra) return bad(extra);
  const v = o.value;
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return bad(`"value" is ${describeType(v)}, expected an object of capabilities`);
  const raw = v as Record<string, unknown>;
  const extraCaps = keysProblem(raw, ['deviceIdBits', 'pasidBits', 'maxDomains', 'levels', 'pageSizes', 'canonicalAddresses']);
  if (extraCaps) return bad(`capabilities: ${extraCaps}`);
  const caps: Capabilities = {};
  for (const k of ['deviceIdBits', 'pasidBits', 'maxDomains'] as const) {
    if (raw[k] === undefined || raw[k] === null) continue;
    if (typeof raw[k] !== 'number') return bad(`capabilities.${k} is ${JSON.stringify(raw[k])}, not a number`);
    caps[k] = raw[k] as number;
  }
  if (raw.levels !== undefined && raw.levels !== null) {
    if (!Array.isArray(raw.levels)) return bad(`capabilities.levels is ${JSON.stringify(raw.levels)}, not an array`);
    caps.levels = raw.levels as Levels[];
  }
  if (raw.pageSizes !== undefined && raw.pageSizes !== null) {
    if (!Array.isArray(raw.pageSizes)) return bad(`capabilities.pageSizes is ${JSON.stringify(raw.pageSizes)}, not an array`);
    const sizes: bigint[] = [];
    for (const s of raw.pageSizes) {
      const b = parseHex(s);
      if (b === undefined || !ALL_PAGE_SIZES.includes(b))
        return bad(`capabilities.pageSizes holds ${JSON.stringify(s)}; expected hex strings among "0x1000", "0x200000", "0x40000000"`);
      sizes.push(b);
    }
    caps.pageSizes = sizes;
  }
  if (raw.canonicalAddresses !== undefined && raw.canonicalAddresses !== null) {
    if (typeof raw.canonicalAddresses !== 'boolean') return bad(`capabilities.canonicalAddresses is ${JSON.stringify(raw.canonicalAddresses)}, not a boolean`);
    caps.canonicalAddresses = raw.canonicalAddresses;
  }
  try {
    resolveCapabilities(caps);
  } catch (e) {
    return bad((e as Error).message);
  }
  return { ok: true, answer: caps };
}

// ---- Calls as data, for traces on disk (counterexample.json) ------------------------------------
// JSON with tagged values for what JSON lacks: {"$bigint":"-0x1"}, {"$undefined":true},
// {"$number":"NaN"}. Unlike the protocol this round-trips every call the harness can make.

export function toTraceJson(value: unknown): unknown {
  if (typeof value === 'bigint') return { $bigint: (value < 0n ? '-0x' + (-value).toString(16) : hex(value)) };
  if (value === undefined) return { $undefined: true };
  if (typeof value === 'number' && !Number.isFinite(value)) return { $number: String(value) };
  if (Array.isArray(value)) return value.map(toTraceJson);
  if (typeof value === 'object' && value !== null) {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = toTraceJson(v);
    return out;
  }
  return value;
}

export function fromTraceJson(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(fromTraceJson);
  if (typeof value === 'object' && value !== null) {
    const o = value as Record<string, unknown>;
    const keys = Object.keys(o);
    if (keys.length === 1 && typeof o.$bigint === 'string') {
      const s = o.$bigint;
      return s.startsWith('-') ? -BigInt(s.slice(1)) : BigInt(s);
    }
    if (keys.length === 1 && o.$undefined === true) return undefined;
    if (keys.length === 1 && typeof o.$number === 'string') return Number(o.$number);
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(o)) out[k] = fromTraceJson(v);
    return out;
  }
  return value;
}

/** A call in the TypeScript spelling, for messages: `map(1, 0x1000n, 0x200000n, 0x1000n, 3)`. */
export function formatCall(call: Call): string {
  const f = (x: unknown): string => {
    if (typeof x === 'bigint') return (x < 0n ? '-0x' + (-x).toString(16) : hex(x)) + 'n';
    if (x === undefined) return 'undefined';
    if (typeof x === 'number') return Number.isFinite(x) ? String(x) : String(x);
    if (Array.isArray(x)) return '[' + x.map(f).join(', ') + ']';
    if (typeof x === 'object' && x !== null)
      return '{ ' + Object.entries(x).map(([k, v]) => `${k}: ${f(v)}`).join(', ') + ' }';
    return JSON.stringify(x);
  };
  const c = call as Record<string, unknown>;
  const args: Record<Call['op'], string[]> = {
    createDomain: ['id', 'options'],
    destroyDomain: ['id'],
    attachDevice: ['device', 'domain'],
    detachDevice: ['device'],
    attachPasid: ['device', 'pasid', 'domain'],
    detachPasid: ['device', 'pasid'],
    map: ['domain', 'iova', 'pa', 'size', 'prot'],
    unmap: ['domain', 'iova', 'size'],
    flush: ['domain'],
    translate: ['device', 'pasid', 'iova', 'access'],
  };
  let names = args[call.op] ?? Object.keys(c).filter((k) => k !== 'op');
  if (call.op === 'createDomain' && !('options' in c)) names = ['id'];
  return `${call.op}(${names.map((n) => f(c[n])).join(', ')})`;
}

/** An answer in the TypeScript spelling: `{ ok: true, pa: 0x201000n }`. */
export function formatAnswer(answer: unknown): string {
  if (typeof answer !== 'object' || answer === null) return String(answer);
  return '{ ' + Object.entries(answer).map(([k, v]) => `${k}: ${typeof v === 'bigint' ? hex(v) + 'n' : JSON.stringify(v)}`).join(', ') + ' }';
}
