// The optimized implementation of the contract: `FastIommu`.
export { DEFAULT_CAPABILITIES, FastIommu, type FastIommuOptions, type FastIommuStats } from './fast-iommu.ts';
