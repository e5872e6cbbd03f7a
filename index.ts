// iommu-conformance: the reference model, the optimized implementation and the harness.
// describeConformance is in 'iommu-conformance/vitest', so that importing this needs no vitest.
export * from './model/index.ts';
export { FastIommu } from './impl/index.ts';
export * from './properties/index.ts';
