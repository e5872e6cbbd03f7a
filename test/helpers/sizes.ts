// Sizes and address limits the tests write with: the page sizes of model/types.ts under short
// names, and a few derived helpers.
import { PA_LIMIT, SIZE_1G, SIZE_2M, SIZE_4K, U64_LIMIT } from '../../model/types.ts';

export { PA_LIMIT, U64_LIMIT };
export const K4 = SIZE_4K;
export const M2 = SIZE_2M;
export const G1 = SIZE_1G;
/** The largest u64. */
export const U64_MAX = U64_LIMIT - 1n;
/** `n` 4K pages, in bytes. */
export const pages = (n: number | bigint): bigint => BigInt(n) * K4;
/** 2 to the `n`. */
export const p2 = (n: number): bigint => 1n << BigInt(n);
