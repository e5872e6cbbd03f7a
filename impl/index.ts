// The optimized implementation of the contract: `FastIommu`.
export { FastIommu, type FastIommuOptions, type FastIommuStats } from './fast-iommu.ts';
