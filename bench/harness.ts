// In-process harness speed: calls checked per second (each call run on the implementation and
// judged against the model's allowed set: generated commands plus the invariant probes), for
// ReferenceIommu and FastIommu (whose checkInvariants() the harness also runs after every step).
// `npm run bench:harness [-- --json]`.
import { FastIommu } from '../impl/index.ts';
import { ReferenceIommu } from '../model/index.ts';
import { checkConformance } from '../properties/index.ts';
import type { Iommu } from '../model/types.ts';

const targets: [string, () => Iommu][] = [
  ['ReferenceIommu', () => new ReferenceIommu()],
  ['FastIommu (IOTLB 1024)', () => new FastIommu()],
  ['FastIommu, self-check off', () => Object.assign(new FastIommu(), { checkInvariants: undefined })],
];

const rows = [];
for (const [name, factory] of targets) {
  await checkConformance(factory, { numRuns: 100, seed: 1 }); // warm-up
  const started = performance.now();
  const report = await checkConformance(factory, { numRuns: 1000, seed: 2 });
  const seconds = (performance.now() - started) / 1000;
  const commands = report.statistics.steps ?? 0;
  const calls = commands + (report.statistics.probes ?? 0);
  rows.push({ target: name, ok: report.ok, runs: report.numRuns, commands, calls, seconds: +seconds.toFixed(2), commandsPerSecond: Math.round(commands / seconds), callsCheckedPerSecond: Math.round(calls / seconds) });
}
if (process.argv.includes('--json')) console.log(JSON.stringify(rows, null, 2));
else console.table(rows);
