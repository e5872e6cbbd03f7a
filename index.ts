// iommu-conformance: the reference model, the optimized implementation and the harness.
export * from './model/index.ts';
export { FastIommu } from './impl/index.ts';
export * from './properties/index.ts';
export { describeConformance } from './properties/vitest.ts';
