// The operation registry: for each method of the interface, its parameters in order with their
// kinds, and the shape of its answer. It is the one definition that everything else derives
// from: the `Call` type, argument validation, the protocol's encoding and decoding, formatting,
// the method lists, the wrappers and the dispatchers. It holds no semantics (those are the
// model's, in reference.ts): a new operation is an entry here, its rules in the model, its code
// in FastIommu and its generator.
import type { Access, Answer, Capabilities, DeviceId, DomainId, DomainOptions, Iommu, Pasid, Prot, Result, Translation, VoidResult } from './types.ts';

/** What an argument is; each kind has one range rule (validate.ts) and one wire form (protocol). */
export type ParamKind =
  | 'domain' // DomainId: integer 0 <= id < 2^32
  | 'device' // DeviceId: integer 0 <= d < 2^deviceIdBits
  | 'pasid' // a PASID proper: integer 1 <= p < 2^pasidBits
  | 'pasidOrRid' // translate's pasid: a PASID, or null for RID traffic
  | 'u64' // an address or a size: bigint, u64
  | 'prot' // 1, 2 or 3
  | 'access' // 'read' or 'write'
  | 'boolean'
  | 'options'; // createDomain's DomainOptions, checked by the semantics (bad options: EINVAL)

/** What an answer is: a void Result, a byte count, a translation, a list of page IOVAs (v2). */
export type AnswerShape = 'void' | 'bytes' | 'translation' | 'pages';

export interface ParamSpec {
  readonly name: string;
  readonly kind: ParamKind;
  /** May be left out (then the call has no such key); only a trailing parameter. */
  readonly optional?: boolean;
}

/** The capabilities that add an operation (v2): without it declared, every call of it is EINVAL. */
export type OpCapability = 'pasidReplace' | 'dirtyTracking';

export interface OpSpec {
  readonly params: readonly ParamSpec[];
  readonly answer: AnswerShape;
  /** Only for implementations that declare this capability (the method is then required). */
  readonly capability?: OpCapability;
}

const param = <N extends string, K extends ParamKind>(name: N, kind: K) => ({ name, kind }) as const;

export const OPS = {
  createDomain: { params: [param('id', 'domain'), { name: 'options', kind: 'options', optional: true }], answer: 'void' },
  destroyDomain: { params: [param('id', 'domain')], answer: 'void' },
  attachDevice: { params: [param('device', 'device'), param('domain', 'domain')], answer: 'void' },
  detachDevice: { params: [param('device', 'device')], answer: 'void' },
  attachPasid: { params: [param('device', 'device'), param('pasid', 'pasid'), param('domain', 'domain')], answer: 'void' },
  detachPasid: { params: [param('device', 'device'), param('pasid', 'pasid')], answer: 'void' },
  map: {
    params: [param('domain', 'domain'), param('iova', 'u64'), param('pa', 'u64'), param('size', 'u64'), param('prot', 'prot')],
    answer: 'void',
  },
  unmap: { params: [param('domain', 'domain'), param('iova', 'u64'), param('size', 'u64')], answer: 'bytes' },
  flush: { params: [param('domain', 'domain')], answer: 'void' },
  translate: {
    params: [param('device', 'device'), param('pasid', 'pasidOrRid'), param('iova', 'u64'), param('access', 'access')],
    answer: 'translation',
  },
  replacePasid: {
    params: [param('device', 'device'), param('pasid', 'pasid'), param('domain', 'domain')],
    answer: 'void',
    capability: 'pasidReplace',
  },
  setDirtyTracking: { params: [param('domain', 'domain'), param('enabled', 'boolean')], answer: 'void', capability: 'dirtyTracking' },
  readDirty: {
    params: [param('domain', 'domain'), param('iova', 'u64'), param('size', 'u64'), param('clear', 'boolean')],
    answer: 'pages',
    capability: 'dirtyTracking',
  },
} as const satisfies Record<string, OpSpec>;

export type Op = keyof typeof OPS;

/** Every operation, in the interface's order. */
export const OP_NAMES = Object.keys(OPS) as Op[];

// ---- Types derived from the registry. ----

/** The TypeScript type of each parameter kind. */
interface KindTypes {
  domain: DomainId;
  device: DeviceId;
  pasid: number;
  pasidOrRid: Pasid;
  u64: bigint;
  prot: Prot;
  access: Access;
  boolean: boolean;
  options: DomainOptions;
}

/** The TypeScript type of each answer shape. */
export interface AnswerTypes {
  void: VoidResult;
  bytes: Result<bigint>;
  translation: Translation;
  pages: Result<bigint[]>;
}

type Params<O extends Op> = (typeof OPS)[O]['params'][number];
type Required<O extends Op> = Exclude<Params<O>, { optional: true }>;
type Optional<O extends Op> = Extract<Params<O>, { optional: true }>;

/** One call of the interface, as data: what the harness generates, prints and replays. */
export type CallOf<O extends Op> = { op: O } & { [P in Required<O> as P['name']]: KindTypes[P['kind']] } & {
  [P in Optional<O> as P['name']]?: KindTypes[P['kind']];
};
export type Call = { [O in Op]: CallOf<O> }[Op];

/** What each call answers. */
export type AnswerOf<C extends Call> = AnswerTypes[(typeof OPS)[C['op']]['answer']];

/** The arguments of an operation, as a tuple (an optional trailing parameter may be left out). */
type ArgsFrom<Ps> = Ps extends readonly [infer P, ...infer Rest]
  ? P extends { kind: infer K extends ParamKind; optional: true }
    ? [KindTypes[K]?, ...ArgsFrom<Rest>]
    : P extends { kind: infer K extends ParamKind }
      ? [KindTypes[K], ...ArgsFrom<Rest>]
      : never
  : [];
export type ArgsOf<O extends Op> = ArgsFrom<(typeof OPS)[O]['params']>;

/** The methods of the interface, derived: what a wrapper over `perform(call)` offers. */
export type Methods<Wrap extends 'sync' | 'async' | 'either'> = {
  [O in Op]: (
    ...args: ArgsOf<O>
  ) => Wrap extends 'sync' ? AnswerTypes[(typeof OPS)[O]['answer']] : Wrap extends 'async' ? Promise<AnswerTypes[(typeof OPS)[O]['answer']]> : Answer<AnswerTypes[(typeof OPS)[O]['answer']]>;
};

// ---- Values derived from the registry. ----

export const isOp = (x: unknown): x is Op => typeof x === 'string' && Object.prototype.hasOwnProperty.call(OPS, x);

/** The parameters of a call's operation. */
export const paramsOf = (op: Op): readonly ParamSpec[] => OPS[op].params;

/** The capability an operation needs, if any. */
export const capabilityOf = (op: Op): OpCapability | undefined => (OPS[op] as OpSpec).capability;

/** The answer shape of a call's operation. */
export const answerShapeOf = (op: Op): AnswerShape => OPS[op].answer;

/** Whether the call gives this parameter (an optional one may be absent). */
export const hasParam = (call: Call, p: ParamSpec): boolean => !p.optional || (p.name in call && (call as Record<string, unknown>)[p.name] !== undefined);

/** The arguments of a call, in the order of the interface's parameters (absent optional ones left out). */
export function callArguments(call: Call): unknown[] {
  const fields = call as unknown as Record<string, unknown>;
  return paramsOf(call.op)
    .filter((p) => hasParam(call, p))
    .map((p) => fields[p.name]);
}

/** The call that `iommu[op](...args)` makes (an optional parameter given as undefined is left out). */
export function callFromArguments<O extends Op>(op: O, args: readonly unknown[]): CallOf<O> {
  const call: Record<string, unknown> = { op };
  paramsOf(op).forEach((p, i) => {
    if (!(p.optional && args[i] === undefined)) call[p.name] = args[i];
  });
  return call as CallOf<O>;
}

/** Calls the method a call names on any object with the interface's methods. */
export function dispatch(target: object, call: Call): unknown {
  const method = (target as Record<string, unknown>)[call.op];
  if (typeof method !== 'function') throw new TypeError(`${call.op} is not a method of this implementation`);
  return (method as (...args: unknown[]) => unknown).apply(target, callArguments(call));
}

/** The operations an implementation with these capabilities offers: v1's, and those it declares. */
export const offeredOps = (capabilities: Capabilities | undefined): Op[] =>
  OP_NAMES.filter((op) => {
    const needs = capabilityOf(op);
    return needs === undefined || capabilities?.[needs] === true;
  });

/** The names of the methods that `x` lacks: every v1 method, and each method of a capability it declares. */
export const missingMethods = (x: unknown): Op[] => {
  const target = x as (Record<string, unknown> & { capabilities?: Capabilities }) | null | undefined;
  let capabilities: Capabilities | undefined;
  try {
    capabilities = target?.capabilities;
  } catch {
    capabilities = undefined; // a throwing getter: judged by the harness, not here
  }
  return offeredOps(typeof capabilities === 'object' && capabilities !== null ? capabilities : undefined).filter((m) => typeof target?.[m] !== 'function');
};

/**
 * Gives a class the interface's methods, each turning its arguments into a call for `perform`
 * (the model's face, the subprocess adapter). Declare them with `interface X extends Methods<...>`.
 */
export function installMethods(prototype: { perform(call: Call): unknown }): void {
  for (const op of OP_NAMES) {
    Object.defineProperty(prototype, op, {
      value: function (this: { perform(call: Call): unknown }, ...args: unknown[]) {
        return this.perform(callFromArguments(op, args) as Call);
      },
      writable: true,
      configurable: true,
    });
  }
}

// ---- The hand-written interface (types.ts, the contract's text) agrees with the registry. ----

type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
type AssertAllTrue<T extends true> = T;
export type InterfaceMatchesRegistry = AssertAllTrue<
  | { [O in Op]: Same<Parameters<NonNullable<Iommu[O]>>, ArgsOf<O>> }[Op]
  | { [O in Op]: Same<Awaited<ReturnType<NonNullable<Iommu[O]>>>, AnswerTypes[(typeof OPS)[O]['answer']]> }[Op]
>;

// ---- The fields of createDomain's options and of the capabilities, with their wire forms. ----

/** How a field travels in the protocol: as is, a u64 as a hex string, or a list of them. */
export type WireForm = 'scalar' | 'u64' | 'u64List';

/**
 * DomainOptions' keys. `pagingOnly` ones are EINVAL on an identity or blocked domain (they mean
 * the same on a nested domain); a key of a `capability` is an unknown key without it.
 */
export const OPTION_FIELDS = {
  type: { wire: 'scalar', pagingOnly: false },
  levels: { wire: 'scalar', pagingOnly: true },
  pageSizes: { wire: 'u64List', pagingOnly: true },
  invalidation: { wire: 'scalar', pagingOnly: true },
  unmap: { wire: 'scalar', pagingOnly: true },
  aperture: { wire: 'u64', pagingOnly: true },
  parent: { wire: 'scalar', pagingOnly: false, capability: 'nesting' },
  dirtyTracking: { wire: 'scalar', pagingOnly: true, capability: 'dirtyTracking' },
} as const satisfies Record<keyof DomainOptions, { wire: WireForm; pagingOnly: boolean; capability?: keyof Capabilities }>;

/** Capabilities' keys, with the JSON type each has in the protocol's capabilities answer. */
export const CAPABILITY_FIELDS = {
  deviceIdBits: 'number',
  pasidBits: 'number',
  maxDomains: 'number',
  levels: 'numberList',
  pageSizes: 'u64List',
  canonicalAddresses: 'boolean',
  nesting: 'boolean',
  pasidReplace: 'boolean',
  coarseFaults: 'boolean',
  dirtyTracking: 'boolean',
} as const satisfies Record<keyof Capabilities, 'number' | 'numberList' | 'u64List' | 'boolean'>;
