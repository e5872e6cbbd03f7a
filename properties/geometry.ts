// Facts of page-table geometry that both the generators and the probe aim at.
import { SIZE_1G, SIZE_2M } from '../model/types.ts';

/** Where page tables change level: 0, 2M, 1G, 512G, 256T. */
export const BOUNDARIES = [0n, SIZE_2M, SIZE_1G, 1n << 39n, 1n << 48n];
/** Steps from an IOVA to the IOVAs that share its index at every level but one. */
export const LEVEL_STRIDES = [1n << 21n, 1n << 30n, 1n << 39n, 1n << 48n];
