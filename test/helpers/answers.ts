// The answers the tests expect, as plain objects to compare with toEqual (or to hand to check()).

export const OK = { ok: true };
/** A failed call with this errno (a string: tests also build answers with unknown errnos). */
export const err = (error: string) => ({ ok: false, error });
export const EINVAL = err('EINVAL');
export const ENOENT = err('ENOENT');
export const EEXIST = err('EEXIST');
export const EBUSY = err('EBUSY');
export const ERANGE = err('ERANGE');
export const ENOSPC = err('ENOSPC');

/** A translation that succeeds with this physical address. */
export const pa = (x: bigint) => ({ ok: true, pa: x });
/** A successful answer carrying a value (e.g. a u64). */
export const bytes = (x: bigint) => ({ ok: true, value: x });
/** A translation that faults. */
export const fault = (f: string) => ({ ok: false, fault: f });
export const BLOCKED = fault('blocked');
export const NOT_MAPPED = fault('not-mapped');
export const PERMISSION = fault('permission');
