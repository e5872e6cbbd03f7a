// Rule coverage: how often a campaign exercised each rule of the contract (model/rules.ts), read
// from its statistics (`rule:<id>` counters; a rule the capabilities rule out has none).
import { RULE_IDS, RULES, type RuleId } from '../../model/rules.ts';
import type { Statistics } from '../verdict/statistics.ts';

export interface RuleCount {
  readonly id: RuleId;
  readonly text: string;
  /** How many calls it decided; undefined when the capabilities make it unreachable. */
  readonly count: number | undefined;
}

export interface RuleCoverage {
  /** Rules the declared capabilities let arise. */
  readonly applicable: number;
  readonly exercised: number;
  /** Applicable rules the campaign never exercised, in the contract's order. */
  readonly never: readonly RuleId[];
}

export const ruleCounts = (stats: Statistics): RuleCount[] => RULE_IDS.map((id) => ({ id, text: RULES[id].text, count: stats[`rule:${id}`] }));

export function ruleCoverage(stats: Statistics): RuleCoverage {
  const applicable = ruleCounts(stats).filter((r) => r.count !== undefined);
  const never = applicable.filter((r) => r.count === 0).map((r) => r.id);
  return { applicable: applicable.length, exercised: applicable.length - never.length, never };
}

/** One line: "84/86 exercised; never: a; b" (at most `named` rules named, then how many more). */
export function formatRuleCoverageLine(stats: Statistics, named = Number.POSITIVE_INFINITY): string {
  const { applicable, exercised, never } = ruleCoverage(stats);
  if (applicable === 0) return '-';
  const more = never.length > named ? `; and ${never.length - named} more` : '';
  return `${exercised}/${applicable} exercised` + (never.length > 0 ? `; never: ${never.slice(0, named).join('; ')}${more}` : '');
}

/** The table of every rule with its count ("n/a" where the capabilities rule it out), never-exercised rules marked. */
export function formatRuleTable(stats: Statistics): string {
  const rows = ruleCounts(stats);
  const width = Math.max(...rows.map((r) => r.id.length));
  const countText = (r: RuleCount): string => (r.count === undefined ? 'n/a' : r.count === 0 ? '0  NEVER' : String(r.count));
  const lines = rows.map((r) => `  ${r.id.padEnd(width)}  ${countText(r).padStart(9)}`);
  return `Rules of the contract (calls that exercised each; n/a: not declared)\n${lines.join('\n')}\n  ${formatRuleCoverageLine(stats)}\n`;
}
