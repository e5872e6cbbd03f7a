// Self-check of the second catalogue (test/fixtures/buggy2/): the correct RadixIommu conforms,
// judged call by call by ReferenceIommu.check, on every demo and on random call sequences (the
// general and the cache-focused generators of generator.ts, IOTLB of 32 and of 2 entries); each
// bug's demo gets a non-conforming verdict. (Was the hand-run script buggy2/selfcheck.ts, with
// 3000 sequences per generator and size; 300 here keep the suite to a few seconds.)
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DEMOS2 } from '../fixtures/buggy2/demos.ts';
import { cacheSequence, sequence } from '../fixtures/buggy2/generator.ts';
import { BUGS2, RadixIommu, type Bug2Name } from '../fixtures/buggy2/radix-iommu.ts';
import { describeFailure, firstFailure } from '../helpers/judge.ts';

const SEQUENCES = 300;

describe('the correct RadixIommu conforms', () => {
  for (const iotlbSize of [32, 2]) {
    it.each(Object.entries(DEMOS2))(`on the demo of %s (IOTLB ${iotlbSize})`, (_name, demo) => {
      const failure = firstFailure(new RadixIommu(undefined, { iotlbSize }), demo);
      expect(failure && describeFailure(failure)).toBeUndefined();
    });

    for (const [label, gen] of [['general', sequence], ['cache-focused', cacheSequence]] as const) {
      it(`on ${SEQUENCES} random ${label} sequences (IOTLB ${iotlbSize})`, () => {
        fc.assert(
          fc.property(gen, (calls) => {
            const failure = firstFailure(new RadixIommu(undefined, { iotlbSize }), calls);
            if (failure !== undefined) throw new Error(describeFailure(failure));
          }),
          { numRuns: SEQUENCES, seed: 42 + iotlbSize },
        );
      });
    }
  }
});

describe('each bug of RadixIommu is exposed by its demo', () => {
  it('one demo per bug', () => {
    expect(Object.keys(DEMOS2).sort()).toEqual(BUGS2.map((b) => b.name).sort());
  });
  it.each(BUGS2.map((b) => b.name as Bug2Name))('%s', (bug) => {
    expect(firstFailure(new RadixIommu(bug), DEMOS2[bug]), 'the demo conforms').toBeDefined();
  });
});
