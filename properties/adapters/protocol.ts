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
import { ALL_PAGE_SIZES, ERRNOS, FAULTS, U64_LIMIT, type Capabilities, type Errno, type Fault } from '../../model/types.ts';
import {
  CAPABILITY_FIELDS,
  OPTION_FIELDS,
  answerShapeOf,
  hasParam,
  isOp,
  paramsOf,
  type AnswerOf,
  type AnswerShape,
  type Call,
  type ParamKind,
} from '../../model/ops.ts';
import { resolveCapabilities } from '../../model/validate.ts';


/** A call whose arguments the protocol cannot carry; by the contract its answer is EINVAL. */
export class InexpressibleCall extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'InexpressibleCall';
  }
}

/** A u64 as the protocol spells it: lowercase hex with `0x`. */
export const hex = (x: bigint): string => '0x' + x.toString(16);

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
    const name = `options.${k}`;
    const field = Object.prototype.hasOwnProperty.call(OPTION_FIELDS, k) ? OPTION_FIELDS[k as keyof typeof OPTION_FIELDS] : undefined;
    if (field === undefined) out[k] = jsonAny(name, v); // unknown keys are sent for the implementation to refuse
    else if (field.wire === 'u64') out[k] = hexOrThrow(name, v);
    else if (field.wire === 'u64List') {
      if (!Array.isArray(v)) throw new InexpressibleCall(`${name} is a ${describeType(v)}, not an array`);
      out[k] = v.map((s, i) => hexOrThrow(`${name}[${i}]`, s));
    } else out[k] = jsonScalar(name, v);
  }
  return out;
}

/** Each parameter kind's wire form: u64s as hex strings, options as an object, the rest as JSON scalars. */
function encodeArgument(kind: ParamKind, name: string, value: unknown): unknown {
  if (kind === 'u64') return hexOrThrow(name, value);
  if (kind === 'options') return encodeOptions(value);
  return jsonScalar(name, value);
}

/** The request line (no newline) for a call. Throws `InexpressibleCall`, see the module comment. */
export function encodeRequest(call: Call): string {
  const op: unknown = (call as { op?: unknown }).op;
  if (!isOp(op)) throw new InexpressibleCall(`unknown op ${JSON.stringify(op)}`);
  const fields = call as unknown as Record<string, unknown>;
  const req: Record<string, unknown> = { op };
  for (const p of paramsOf(op)) if (hasParam(call, p)) req[p.name] = encodeArgument(p.kind, p.name, fields[p.name]);
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

const SHAPES: Record<AnswerShape, string> = {
  translation: '{"ok":true,"pa":"0x..."}, {"ok":false,"fault":"blocked|not-mapped|permission"} or {"ok":false,"error":"EINVAL"}',
  bytes: '{"ok":true,"value":"0x..."} or {"ok":false,"error":"<Errno>"}',
  void: '{"ok":true} or {"ok":false,"error":"<Errno>"}',
  pages: '{"ok":true,"value":["0x...", ...]} or {"ok":false,"error":"<Errno>"}',
};

/** A u64 field of a success: present and a hex string. */
function u64Field<T>(o: Record<string, unknown>, key: string, what: string, wrong: (w: string) => Decoded<T>, make: (v: bigint) => T): Decoded<T> {
  const extra = keysProblem(o, ['ok', key]);
  if (extra) return wrong(extra);
  if (!(key in o)) return wrong(`"${key}"${what} is missing`);
  const v = parseHex(o[key]);
  if (v === undefined) return bad(`"${key}" is ${JSON.stringify(o[key])}, not a hex string of a u64 like "0x1000"`);
  return { ok: true, answer: make(v) };
}

/** The success answer of each shape. */
const SUCCESS_DECODERS: Record<AnswerShape, (o: Record<string, unknown>, wrong: (w: string) => Decoded<unknown>) => Decoded<unknown>> = {
  translation: (o, wrong) => u64Field(o, 'pa', '', wrong, (pa) => ({ ok: true, pa })),
  bytes: (o, wrong) => u64Field(o, 'value', ' (bytes unmapped)', wrong, (value) => ({ ok: true, value })),
  void: (o, wrong) => {
    const extra = keysProblem(o, ['ok', 'value']);
    return extra ? wrong(extra) : { ok: true, answer: { ok: true } };
  },
  pages: (o, wrong) => {
    const extra = keysProblem(o, ['ok', 'value']);
    if (extra) return wrong(extra);
    if (!Array.isArray(o.value)) return wrong('"value" (the dirty pages) is missing or not an array');
    const pages: bigint[] = [];
    for (const [i, x] of o.value.entries()) {
      const page = parseHex(x);
      if (page === undefined) return bad(`"value"[${i}] is ${JSON.stringify(x)}, not a hex string of a u64 like "0x1000"`);
      pages.push(page);
    }
    return { ok: true, answer: { ok: true, value: pages } };
  },
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
  const shape = answerShapeOf(call.op);
  const wrong = (what: string): Decoded<AnswerOf<C>> => bad(`${what}; expected ${SHAPES[shape]}`);
  if (typeof o.ok !== 'boolean') return wrong('"ok" is missing or not a boolean');
  if (o.ok) return SUCCESS_DECODERS[shape](o, wrong as (w: string) => Decoded<unknown>) as Decoded<AnswerOf<C>>;
  // ok: false
  if (shape === 'translation' && 'fault' in o) {
    const extra = keysProblem(o, ['ok', 'fault']);
    if (extra) return wrong(extra);
    if (!(FAULTS as readonly unknown[]).includes(o.fault)) return bad(`unknown fault ${JSON.stringify(o.fault)}; expected one of ${FAULTS.join(', ')}`);
    return { ok: true, answer: { ok: false, fault: o.fault as Fault } as AnswerOf<C> };
  }
  const extra = keysProblem(o, ['ok', 'error']);
  if (extra) return wrong(extra);
  if (!('error' in o)) return wrong(shape === 'translation' ? '"fault" or "error" is missing' : '"error" is missing');
  if (!(ERRNOS as readonly unknown[]).includes(o.error)) return bad(`unknown errno ${JSON.stringify(o.error)}; expected one of ${ERRNOS.join(', ')}`);
  if (shape === 'translation' && o.error !== 'EINVAL')
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
  const extraCaps = keysProblem(raw, Object.keys(CAPABILITY_FIELDS));
  if (extraCaps) return bad(`capabilities: ${extraCaps}`);
  const caps: Record<string, unknown> = {};
  for (const [k, type] of Object.entries(CAPABILITY_FIELDS)) {
    const v = raw[k];
    if (v === undefined || v === null) continue;
    if (type === 'u64List') {
      if (!Array.isArray(v)) return bad(`capabilities.${k} is ${JSON.stringify(v)}, not an array`);
      const sizes: bigint[] = [];
      for (const s of v) {
        const b = parseHex(s);
        if (b === undefined || !ALL_PAGE_SIZES.includes(b))
          return bad(`capabilities.${k} holds ${JSON.stringify(s)}; expected hex strings among "0x1000", "0x200000", "0x40000000"`);
        sizes.push(b);
      }
      caps[k] = sizes;
    } else if (type === 'numberList') {
      if (!Array.isArray(v)) return bad(`capabilities.${k} is ${JSON.stringify(v)}, not an array`);
      caps[k] = v;
    } else {
      if (typeof v !== type) return bad(`capabilities.${k} is ${JSON.stringify(v)}, not a ${type}`);
      caps[k] = v;
    }
  }
  try {
    resolveCapabilities(caps);
  } catch (e) {
    return bad((e as Error).message);
  }
  return { ok: true, answer: caps as Capabilities };
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
