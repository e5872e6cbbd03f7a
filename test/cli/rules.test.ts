// `check --rules`: the coverage of the contract's rules at the end of a campaign (issue 12, item 5).
import { describe, expect, it } from 'vitest';
import { runCli } from '../../properties/cli/program.ts';

async function cli(...argv: string[]): Promise<{ code: number; out: string }> {
  let out = '';
  const code = await runCli(argv, { out: (t) => void (out += t), err: () => undefined, isTTY: false });
  return { code, out };
}

describe('check --rules', () => {
  it('the summary names the rules never exercised; --rules adds the whole table', async () => {
    const plain = await cli('check', '--runs', '5', '--seed', '3', '--max-commands', '10', '--domains', 'paging', '--no-db', '--quiet');
    expect(plain.code).toBe(0);
    expect(plain.out).toMatch(/rules\s+\d+\/\d+ exercised; never: .*; and \d+ more \(--rules: the table\)/);
    expect(plain.out).not.toContain('Rules of the contract');
    const table = await cli('check', '--runs', '5', '--seed', '3', '--max-commands', '10', '--domains', 'paging', '--no-db', '--quiet', '--rules');
    expect(table.out).toContain('Rules of the contract');
    expect(table.out).toMatch(/createDomain: identity\s+0 {2}NEVER/);
    expect(table.out).toMatch(/map: already mapped\s+\d+/);
  });

  it('the JSON report carries every rule counter', async () => {
    const r = await cli('check', '--runs', '3', '--seed', '1', '--max-commands', '8', '--no-db', '--quiet', '--json');
    const statistics = (JSON.parse(r.out) as { statistics: Record<string, number> }).statistics;
    expect(statistics['rule:createDomain: paging']).toBeGreaterThan(0);
    expect(Object.keys(statistics).filter((k) => k.startsWith('rule:')).length).toBeGreaterThan(80);
  });
});
