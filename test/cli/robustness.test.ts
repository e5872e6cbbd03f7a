// Bad CLI input (issue 17): one clear line and exit 2, before any campaign.
import { describe, expect, it } from 'vitest';
import { runCli } from '../../properties/cli/program.ts';

async function cli(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await runCli(argv, { out: (t) => void (out += t), err: (t) => void (err += t), isTTY: false });
  return { code, out, err };
}

describe('iommu-conformance: bounds of numeric flags', () => {
  it('refuses a --step-timeout above 2^31-1 ms (it would fire at once)', async () => {
    const r = await cli('check', '--exec', 'true', '--step-timeout', String(2 ** 31), '--runs', '1');
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/--step-timeout must be an integer from 1 to 2147483647/);
    expect(r.err).not.toMatch(/TimeoutOverflowWarning/);
    expect(r.out).toBe('');
  });

  it('refuses more --workers than 16', async () => {
    const r = await cli('check', '--workers', '100', '--runs', '1');
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/--workers must be an integer from 1 to 16, not "100"/);
    expect(r.out).toBe('');
  });
});
