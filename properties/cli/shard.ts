// `check --shard K/N`: which campaign a report belongs to and which share of it, as its --json
// report records them, so that `merge` can tell the shards of one campaign from a mix.
import { InvalidArgumentError } from 'commander';
import type { Report } from '../check.ts';
import { shardProblem, type Shard } from '../generate/shard.ts';
import type { TargetSpec } from './target.ts';

/** `K/N` of --shard: 1 <= K <= N. */
export function parseShard(value: string): Shard {
  const m = /^\s*(\d+)\s*\/\s*(\d+)\s*$/.exec(value);
  const shard = m ? { index: Number(m[1]), count: Number(m[2]) } : undefined;
  const problem = shard ? shardProblem(shard) : 'it is not K/N';
  if (problem !== undefined) throw new InvalidArgumentError(`--shard must be K/N with 1 <= K <= N (e.g. 2/4), not ${JSON.stringify(value)}: ${problem}`);
  return shard!;
}

/**
 * What makes two reports parts of the same campaign: the target and every option that decides
 * which runs are generated, how long and how they are shrunk (not --workers: the workers of a
 * campaign execute the runs one thread would, generate/shard.ts).
 */
export interface CampaignRecord {
  target: TargetSpec;
  seed: number;
  /** The runs of the whole campaign (1e9 under --time alone: the time decides). */
  runs: number;
  /** --time, per shard. */
  timeSeconds?: number;
  maxCommands?: number;
  /** --domains as given. */
  domains?: string;
  shrinkTimeSeconds?: number;
}

/** A check --json report: the report with its campaign, its shard and how long it took. */
export interface CampaignReport extends Report {
  campaign: CampaignRecord;
  shard: Shard;
  elapsedMs: number;
  /** The command that replays the counterexample (as check prints it). */
  replay?: string;
}
