// Printing for failure messages: JSON with bigints in hex, and sorted copies of lists.

/** JSON with bigints as 0x... (e.g. a call or an answer). */
export const show = (x: unknown): string => JSON.stringify(x, (_k, v: unknown) => (typeof v === 'bigint' ? `0x${v.toString(16)}` : v));
/** A sorted copy. */
export const sorted = (xs: readonly string[]): string[] => [...xs].sort();
