// Rule coverage (issue 12, item 5): the model names the rules that decided each answer, a campaign
// counts them, and a rule never exercised is named.
import { describe, expect, it } from 'vitest';
import { FastIommu } from '../../impl/index.ts';
import { ReferenceIommu } from '../../model/reference.ts';
import { RULE_IDS, RULES, ruleApplies } from '../../model/rules.ts';
import { resolveCapabilities } from '../../model/validate.ts';
import { checkConformance } from '../../properties/index.ts';
import { formatRuleCoverageLine, formatRuleTable, ruleCoverage } from '../../properties/report/rules.ts';

const K4 = 0x1000n;
const rulesOf = (verdict: ReturnType<ReferenceIommu['check']>) => (verdict.conforming ? verdict.rules : []);

describe('the model names the rules that decide its answers', () => {
  it('each error condition that holds, in the contract order', () => {
    const m = new ReferenceIommu();
    m.createDomain(1);
    m.map(1, 0n, 0n, K4, 3);
    expect(rulesOf(m.check({ op: 'map', domain: 1, iova: 0n, pa: 0n, size: K4, prot: 3 }, { ok: false, error: 'EEXIST' }))).toEqual(['map: already mapped']);
    expect(rulesOf(m.check({ op: 'unmap', domain: 9, iova: 0x800n, size: 0n }, { ok: false, error: 'ENOENT' }))).toEqual(['unmap: unknown domain', 'unmap: size 0', 'unmap: unaligned']);
    expect(rulesOf(m.check({ op: 'flush', domain: -1 }, { ok: false, error: 'EINVAL' }))).toEqual(['flush: argument out of range']);
  });

  it('the success of each kind and mode, and what decided a translation', () => {
    const m = new ReferenceIommu();
    expect(rulesOf(m.check({ op: 'createDomain', id: 1, options: { invalidation: 'deferred', unmap: 'whole' } }, { ok: true }))).toEqual([
      'createDomain: paging',
      'createDomain: deferred',
      'createDomain: whole unmap',
    ]);
    m.attachDevice(0, 1);
    m.map(1, 0n, 0x5000n, K4, 1);
    const read = { op: 'translate', device: 0, pasid: null, iova: 0n, access: 'read' } as const;
    expect(rulesOf(m.check({ ...read, access: 'write' }, { ok: false, fault: 'permission' }))).toEqual(['translate: write without WRITE']);
    expect(rulesOf(m.check({ op: 'unmap', domain: 1, iova: 0n, size: K4 }, { ok: true, value: K4 }))).toEqual(['unmap: opens a window']);
    expect(rulesOf(m.check(read, { ok: true, pa: 0x5000n }))).toEqual(['translate: not mapped', 'translate: stale window', 'translate: stale answer']);
    expect(rulesOf(m.check({ op: 'flush', domain: 1 }, { ok: true }))).toEqual(['flush: closes a window']);
    expect(rulesOf(m.check({ ...read, pasid: 3 }, { ok: false, fault: 'blocked' }))).toEqual(['translate: on a PASID', 'translate: PASID without domain']);
  });

  it('every rule has a sentence, and the capabilities decide which can arise', () => {
    for (const id of RULE_IDS) expect(RULES[id].text.length).toBeGreaterThan(10);
    const v1 = resolveCapabilities({});
    expect(RULE_IDS.filter((id) => !ruleApplies(id, v1))).toContain('createDomain: nested');
    expect(ruleApplies('translate: coarse fault', resolveCapabilities({ coarseFaults: true }))).toBe(true);
    expect(ruleApplies('attachPasid: same domain', resolveCapabilities({ pasidBits: 0 }))).toBe(false);
  });
});

describe('rule coverage of a campaign', () => {
  it('a default campaign (v2 FastIommu, 200 runs) exercises every rule the capabilities allow', async () => {
    const report = await checkConformance(() => new FastIommu(), { seed: 2, numRuns: 200, database: false });
    expect(report.ok).toBe(true);
    const coverage = ruleCoverage(report.statistics);
    expect(coverage.never).toEqual([]);
    expect(coverage.applicable).toBe(RULE_IDS.filter((id) => ruleApplies(id, resolveCapabilities(new FastIommu().capabilities))).length);
    expect(formatRuleCoverageLine(report.statistics)).toBe(`${coverage.applicable}/${coverage.applicable} exercised`);
  });

  it('declared maxDomains and coarse faults bring their rules, and the campaign reaches them', async () => {
    const capabilities = { maxDomains: 3, coarseFaults: true };
    const report = await checkConformance(() => new FastIommu({ capabilities }), { seed: 1, numRuns: 60, database: false });
    expect(report.statistics['rule:createDomain: maxDomains']).toBeGreaterThan(0);
    expect(report.statistics['rule:translate: coarse fault']).toBeGreaterThan(0);
  });

  it('names the rules a restricted campaign never reached, and marks the ones not declared', async () => {
    const report = await checkConformance(() => new FastIommu({ capabilities: {} }), { seed: 1, numRuns: 30, database: false, domains: [{}] });
    const { never } = ruleCoverage(report.statistics);
    expect(never).toEqual(expect.arrayContaining(['createDomain: identity', 'createDomain: blocked', 'translate: identity', 'translate: stale window']));
    const table = formatRuleTable(report.statistics);
    expect(table).toMatch(/createDomain: identity\s+0 {2}NEVER/);
    expect(table).toMatch(/createDomain: nested\s+n\/a/);
    expect(table).toContain(`never: ${never.join('; ')}`);
  });
});
