// check --shard K/N: the partition of a campaign's runs, and N shards equal to the whole campaign.
import { describe, expect, it } from 'vitest';
import { FastIommu } from '../../impl/index.ts';
import { checkConformance } from '../../properties/index.ts';
import { ownsRun, runsOwned, workerShard } from '../../properties/generate/shard.ts';
import { mergeReports } from '../../properties/report/merge.ts';
import { runCli } from '../../properties/cli/program.ts';

const noTimes = (s: Record<string, number>) => Object.fromEntries(Object.entries(s).filter(([k]) => !k.startsWith('time:')));

describe('shards', () => {
  it('give every run to exactly one shard, and a shard split over workers keeps its runs', () => {
    for (let count = 1; count <= 5; count++)
      for (let run = 0; run < 40; run++) {
        const owners = Array.from({ length: count }, (_, i) => i + 1).filter((index) => ownsRun({ index, count }, run));
        expect(owners).toEqual([(run % count) + 1]);
        const shard = { index: owners[0]!, count };
        const workers = [0, 1, 2].filter((w) => ownsRun(workerShard(shard, w, 3), run));
        expect(workers.length).toBe(1);
      }
    for (let count = 1; count <= 5; count++)
      for (let runs = 0; runs < 23; runs++)
        expect(Array.from({ length: count }, (_, i) => runsOwned({ index: i + 1, count }, runs)).reduce((a, b) => a + b)).toBe(runs);
  });

  it('of one campaign, merged, have the statistics of the whole campaign', async () => {
    const options = { numRuns: 13, seed: 42, maxCommands: 12 };
    const whole = await checkConformance(() => new FastIommu(), options);
    const parts = [];
    for (let index = 1; index <= 3; index++) parts.push(await checkConformance(() => new FastIommu(), { ...options, shard: { index, count: 3 } }));
    expect(parts.map((p) => p.numRuns)).toEqual([5, 4, 4]);
    const merged = mergeReports(parts);
    expect(merged.ok).toBe(true);
    expect(noTimes(merged.statistics)).toEqual(noTimes(whole.statistics));
  });

  it('refuses a bad --shard with one line and exit 2', async () => {
    for (const argv of [['--shard', '4/3', '--seed', '1'], ['--shard', '0/2', '--seed', '1'], ['--shard', 'x', '--seed', '1'], ['--shard', '1/2'], ['--shard', '1/2', '--seed', '1', '--path', '0']]) {
      let err = '';
      const code = await runCli(['check', '--runs', '1', ...argv], { out: () => {}, err: (t) => void (err += t), isTTY: false });
      expect(code, argv.join(' ')).toBe(2);
      expect(err.trim().split('\n')).toHaveLength(1);
    }
  });
});
