// What fast-check generates: intents, i.e. a command kind plus raw choices. fast-check's
// generation is blind to the model, so the choices are resolved into a concrete call at run time
// against the model's state (resolve.ts), picking by index: most steps then hit live mappings,
// attached devices and fresh stale windows instead of empty space.
import fc from 'fast-check';
import type { ResolvedCapabilities } from '../../model/validate.ts';

const pick = fc.nat({ max: 0xffff });

export type Intent =
  | { readonly kind: 'createDomain'; readonly id: number; readonly shape: number; readonly invalid: number }
  | { readonly kind: 'destroyDomain'; readonly pick: number }
  | { readonly kind: 'attachDevice'; readonly target: number; readonly pick: number }
  | { readonly kind: 'detachDevice'; readonly target: number }
  | { readonly kind: 'attachPasid'; readonly target: number; readonly pick: number }
  | { readonly kind: 'detachPasid'; readonly target: number }
  | { readonly kind: 'map'; readonly pick: number; readonly place: number; readonly size: number; readonly pa: number; readonly prot: number }
  | { readonly kind: 'unmap'; readonly pick: number; readonly range: number }
  | { readonly kind: 'flush'; readonly pick: number }
  | { readonly kind: 'dma'; readonly target: number; readonly place: number; readonly write: boolean; readonly pages: number; readonly offset: number }
  | { readonly kind: 'invalid'; readonly variant: number; readonly pick: number }
  | { readonly kind: 'recycle'; readonly pick: number; readonly shape: number }
  | { readonly kind: 'churn'; readonly pick: number; readonly count: number }
  | { readonly kind: 'storm'; readonly pick: number; readonly rounds: number }
  | { readonly kind: 'mapPieces'; readonly pick: number; readonly count: number; readonly prot: number }
  // v2, generated only when the implementation declares the capability:
  | { readonly kind: 'replacePasid'; readonly target: number; readonly pick: number }
  | { readonly kind: 'nested'; readonly pick: number; readonly variant: number }
  | { readonly kind: 'setDirtyTracking'; readonly pick: number; readonly enabled: boolean }
  | { readonly kind: 'readDirty'; readonly pick: number; readonly range: number; readonly clear: boolean }
  | { readonly kind: 'dirty'; readonly pick: number; readonly variant: number }
  | { readonly kind: 'bits'; readonly pick: number; readonly variant: number };

export type IntentKind = Intent['kind'];

const arbitraries: { [K in IntentKind]: fc.Arbitrary<Extract<Intent, { kind: K }>> } = {
  createDomain: fc.record({ kind: fc.constant('createDomain'), id: pick, shape: pick, invalid: pick }),
  destroyDomain: fc.record({ kind: fc.constant('destroyDomain'), pick }),
  attachDevice: fc.record({ kind: fc.constant('attachDevice'), target: pick, pick }),
  detachDevice: fc.record({ kind: fc.constant('detachDevice'), target: pick }),
  attachPasid: fc.record({ kind: fc.constant('attachPasid'), target: pick, pick }),
  detachPasid: fc.record({ kind: fc.constant('detachPasid'), target: pick }),
  map: fc.record({ kind: fc.constant('map'), pick, place: pick, size: pick, pa: pick, prot: fc.constantFrom(3, 3, 1, 2) }),
  unmap: fc.record({ kind: fc.constant('unmap'), pick, range: pick }),
  flush: fc.record({ kind: fc.constant('flush'), pick }),
  dma: fc.record({
    kind: fc.constant('dma'),
    target: pick,
    place: pick,
    write: fc.boolean(),
    pages: fc.oneof({ arbitrary: fc.constant(1), weight: 4 }, { arbitrary: fc.integer({ min: 2, max: 4 }), weight: 1 }),
    offset: pick,
  }),
  invalid: fc.record({ kind: fc.constant('invalid'), variant: pick, pick }),
  recycle: fc.record({ kind: fc.constant('recycle'), pick, shape: pick }),
  churn: fc.record({ kind: fc.constant('churn'), pick, count: pick }),
  storm: fc.record({ kind: fc.constant('storm'), pick, rounds: pick }),
  mapPieces: fc.record({ kind: fc.constant('mapPieces'), pick, count: pick, prot: fc.constantFrom(3, 1) }),
  replacePasid: fc.record({ kind: fc.constant('replacePasid'), target: pick, pick }),
  nested: fc.record({ kind: fc.constant('nested'), pick, variant: pick }),
  setDirtyTracking: fc.record({ kind: fc.constant('setDirtyTracking'), pick, enabled: fc.boolean() }),
  readDirty: fc.record({ kind: fc.constant('readDirty'), pick, range: pick, clear: fc.boolean() }),
  dirty: fc.record({ kind: fc.constant('dirty'), pick, variant: pick }),
  bits: fc.record({ kind: fc.constant('bits'), pick, variant: pick }),
};

/** How often each kind is generated: mapping, unmapping and DMA dominate, as in a driver's life. */
const WEIGHTS: Record<IntentKind, number> = {
  createDomain: 6,
  destroyDomain: 4,
  attachDevice: 7,
  detachDevice: 3,
  attachPasid: 7,
  detachPasid: 3,
  map: 22,
  unmap: 16,
  flush: 7,
  dma: 16,
  invalid: 3,
  recycle: 3,
  churn: 1,
  storm: 1,
  mapPieces: 3,
  replacePasid: 6,
  nested: 5,
  setDirtyTracking: 4,
  readDirty: 8,
  dirty: 5,
  bits: 6,
};

/** The kinds of v2 that need a capability, and the PASID kinds that need PASIDs. */
const NEEDS: Partial<Record<IntentKind, (caps: ResolvedCapabilities) => boolean>> = {
  replacePasid: (caps) => caps.pasidReplace && caps.pasidBits > 0,
  nested: (caps) => caps.nesting,
  setDirtyTracking: (caps) => caps.dirtyTracking,
  readDirty: (caps) => caps.dirtyTracking,
  dirty: (caps) => caps.dirtyTracking,
  attachPasid: (caps) => caps.pasidBits > 0,
  detachPasid: (caps) => caps.pasidBits > 0,
};

/**
 * A run: a few domains created and attached first (so that the body starts in an interesting
 * state; shrinking may drop them), then the body.
 */
export function runArbitrary(maxCommands: number, invalidArguments: boolean, caps: ResolvedCapabilities): fc.Arbitrary<Intent[]> {
  const offered = (kind: IntentKind): boolean => NEEDS[kind]?.(caps) ?? true;
  const body = fc.oneof(
    ...(Object.keys(WEIGHTS) as IntentKind[])
      .filter((kind) => (invalidArguments || kind !== 'invalid') && offered(kind))
      .map((kind) => ({ arbitrary: arbitraries[kind] as fc.Arbitrary<Intent>, weight: WEIGHTS[kind] })),
  );
  const attach = (offered('attachPasid') ? fc.oneof(arbitraries.attachDevice, arbitraries.attachPasid) : arbitraries.attachDevice) as fc.Arbitrary<Intent>;
  return fc
    .tuple(
      fc.array(arbitraries.createDomain, { minLength: 0, maxLength: 3 }),
      fc.array(attach, { maxLength: 3 }),
      fc.array(body, { maxLength: maxCommands, size: 'max' }),
    )
    .map(([creates, attaches, rest]) => [...creates, ...attaches, ...rest]);
}
