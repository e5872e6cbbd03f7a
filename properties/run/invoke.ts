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
export function forEachInOrder<T>(items: readonly T[], each: (item: T, index: number) => Maybe<void>, from = 0): Maybe<void> {
  for (let i = from; i < items.length; i++) {
    const done = each(items[i]!, i);
    if (isPromiseLike(done)) return Promise.resolve(done).then(() => forEachInOrder(items, each, i + 1));
  }
}

/**
 * Marks an implementation whose calls may be made before earlier ones have answered: it answers
 * them in the order made, each as if the earlier ones had completed (the subprocess adapter,
 * first in, first out over a pipe). The harness then pipelines the probe translations of a step.
 * An in-process asynchronous implementation is never pipelined: interleaved async calls could
 * change what it answers.
 */
export const PIPELINED: unique symbol = Symbol.for('iommu-conformance.pipelined');

export const isPipelined = (iommu: Iommu): boolean => (iommu as { [PIPELINED]?: unknown })[PIPELINED] === true;

/** Calls the method named by `call.op`; a throw (or a rejected promise) becomes `{ threw }`. */
export function invoke(iommu: Iommu, call: Call, timeoutMs: number): Maybe<Outcome> {
  return awaitOutcome(issue(iommu, call), timeoutMs);
}

/**
 * Makes the call without waiting for its answer: the outcome, or a promise of it (which never
 * rejects) when the answer is a promise. `awaitOutcome` then applies the time limit.
 */
export function issue(iommu: Iommu, call: Call): Outcome | Promise<Outcome> {
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
  return Promise.resolve(answer).then(
    (value): Outcome => ({ answer: value }),
    (threw: unknown): Outcome => ({ threw }),
  );
}

/** The outcome of an issued call; a promise not settled within `timeoutMs` from now is a throw. */
export function awaitOutcome(issued: Outcome | Promise<Outcome>, timeoutMs: number): Maybe<Outcome> {
  if (!(issued instanceof Promise)) return issued;
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<Outcome>((resolve) => {
    timer = setTimeout(() => resolve({ threw: new Error(`no answer within ${timeoutMs} ms`) }), timeoutMs);
  });
  return Promise.race([issued, timeout]).finally(() => clearTimeout(timer));
}
