// Calling an implementation under test: any answer, a thrown error, or a promise of either.
import { dispatch, type Call } from '../../model/ops.ts';
import type { Iommu } from '../../model/types.ts';

export type Outcome = { readonly answer: unknown } | { readonly threw: unknown };
export type Maybe<T> = T | Promise<T>;

export const isPromiseLike = (x: unknown): x is PromiseLike<unknown> =>
  typeof x === 'object' && x !== null && typeof (x as { then?: unknown }).then === 'function';

/** Applies `next` now when `value` is plain, later when it is a promise: sync stays sync. */
export function andThen<T, U>(value: Maybe<T>, next: (v: T) => Maybe<U>): Maybe<U> {
  return isPromiseLike(value) ? Promise.resolve(value).then(next) : next(value);
}

/** Runs `each` over `items` in order, staying synchronous while every step is. */
export function forEachInOrder<T>(items: readonly T[], each: (item: T) => Maybe<void>, from = 0): Maybe<void> {
  for (let i = from; i < items.length; i++) {
    const done = each(items[i]);
    if (isPromiseLike(done)) return Promise.resolve(done).then(() => forEachInOrder(items, each, i + 1));
  }
}

/** Calls the method named by `call.op`; a throw (or a rejected promise) becomes `{ threw }`. */
export function invoke(iommu: Iommu, call: Call, timeoutMs: number): Maybe<Outcome> {
  let answer: unknown;
  try {
    answer = dispatch(iommu, call);
  } catch (threw) {
    return { threw };
  }
  let promise: boolean;
  try {
    promise = isPromiseLike(answer); // reads `then`: a Proxy or getter may throw
  } catch (threw) {
    return { threw };
  }
  if (!promise) return { answer };
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<Outcome>((resolve) => {
    timer = setTimeout(() => resolve({ threw: new Error(`no answer within ${timeoutMs} ms`) }), timeoutMs);
  });
  const settled = Promise.resolve(answer).then(
    (value): Outcome => ({ answer: value }),
    (threw: unknown): Outcome => ({ threw }),
  );
  return Promise.race([settled, timeout]).finally(() => clearTimeout(timer));
}
