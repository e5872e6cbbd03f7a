// The reference model: the executable statement of the contract (CONTRACT.md).
export * from './types.ts';
export { ReferenceIommu, describeResult, describeTranslation } from './reference.ts';
export type { AllowedErrors, AttachmentView, DomainView, Verdict } from './reference.ts';
export type { Extent } from './address-space.ts';
export { resolveCapabilities, parseDomainOptions, maxAperture } from './validate.ts';
export type { DomainConfig, ResolvedCapabilities } from './validate.ts';
