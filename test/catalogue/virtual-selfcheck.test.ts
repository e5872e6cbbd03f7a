// Self-check of the third catalogue (test/fixtures/buggy3/): the correct VirtualIommu conforms,
// judged call by call by ReferenceIommu.check, on every demo and on random call sequences
// (generator.ts: short ones, long ones, and short ones under narrowed capabilities), with a
// shadow IOTLB of 16 and of 2 entries; each bug's demo gets a non-conforming verdict with both.
// (Was the hand-run script buggy3/selfcheck.ts, with 3000 short, 300 long and 1000 narrowed
// sequences per cache size; fewer here keep the suite to a few seconds.)
import { describe, expect, it } from 'vitest';
import type { Capabilities } from '../../model/types.ts';
import { DEMOS3 } from '../fixtures/buggy3/demos.ts';
import { generate } from '../fixtures/buggy3/generator.ts';
import { BUGS3, VirtualIommu, type Bug3Name } from '../fixtures/buggy3/viommu.ts';
import { describeFailure, firstFailureAsync } from '../helpers/judge.ts';
import { K4, M2 } from '../helpers/sizes.ts';

const SEQUENCES = 600; // of LENGTH calls
const LONG = 60; // of 10 x LENGTH calls
const NARROWED = 200; // of LENGTH calls, under NARROW
const LENGTH = 60;
const NARROW: Capabilities = { deviceIdBits: 2, pasidBits: 2, maxDomains: 3, levels: [3, 5], pageSizes: [K4, M2], canonicalAddresses: true };

/** The first failures (at most 3) of the correct VirtualIommu over these seeds, as text. */
async function failures(seeds: number[], length: number, cacheSize: number, capabilities?: Capabilities): Promise<string[]> {
  const found: string[] = [];
  for (const seed of seeds) {
    const f = await firstFailureAsync(new VirtualIommu(undefined, { cacheSize, capabilities }), generate(seed, length), capabilities);
    if (f !== undefined && found.push(`seed ${seed}: ${describeFailure(f)}`) >= 3) break;
  }
  return found;
}

const range = (from: number, count: number): number[] => Array.from({ length: count }, (_, i) => from + i);

describe('the correct VirtualIommu conforms', () => {
  for (const cacheSize of [16, 2]) {
    it.each(Object.entries(DEMOS3))(`on the demo of %s (cache ${cacheSize})`, async (_name, demo) => {
      const failure = await firstFailureAsync(new VirtualIommu(undefined, { cacheSize }), demo);
      expect(failure && describeFailure(failure)).toBeUndefined();
    });
    it(`on ${SEQUENCES} random sequences of ${LENGTH} calls (cache ${cacheSize})`, async () => {
      expect(await failures(range(1, SEQUENCES), LENGTH, cacheSize)).toEqual([]);
    });
    it(`on ${LONG} random sequences of ${10 * LENGTH} calls (cache ${cacheSize})`, async () => {
      expect(await failures(range(200_001, LONG), 10 * LENGTH, cacheSize)).toEqual([]);
    });
    it(`on ${NARROWED} random sequences under narrowed capabilities (cache ${cacheSize})`, async () => {
      expect(await failures(range(100_001, NARROWED), LENGTH, cacheSize, NARROW)).toEqual([]);
    });
  }
});

describe('each bug of VirtualIommu is exposed by its demo', () => {
  for (const cacheSize of [16, 2]) {
    it.each(BUGS3.map((b) => b.name as Bug3Name))(`%s (cache ${cacheSize})`, async (bug) => {
      expect(await firstFailureAsync(new VirtualIommu(bug, { cacheSize }), DEMOS3[bug]), 'the demo conforms').toBeDefined();
    });
  }
});
