// The catalogue of injected bugs, measured: for each bug, over several seeds and with default
// options, how often it is caught, the time to catch it (search and shrinking) and the length
// of the shrunk counterexample. Prints a Markdown table (`npm run catalogue [-- SEEDS]`).
import { checkConformance } from '../properties/index.ts';
import { BUGS, CachedIommu } from '../test/fixtures/buggy/cached-iommu.ts';

const seeds = Number(process.argv[2] ?? 10);
const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length === 0 ? Number.NaN : s[Math.floor((s.length - 1) / 2)];
};

const rows: string[] = [];
for (const bug of BUGS) {
  const times: number[] = [];
  const lengths: number[] = [];
  const properties = new Set<string>();
  for (let seed = 1; seed <= seeds; seed++) {
    const started = performance.now();
    const report = await checkConformance(() => new CachedIommu(bug.name), { seed });
    if (report.ok || !report.counterexample) continue;
    times.push(performance.now() - started);
    lengths.push(report.counterexample.steps.length);
    properties.add(report.counterexample.property);
  }
  const row = `| \`${bug.name}\` | ${bug.class} | ${times.length}/${seeds} | ${median(times).toFixed(0)} ms | ${Math.max(...times).toFixed(0)} ms | ${median(lengths)} | ${[...properties].join(', ')} |`;
  rows.push(row);
  process.stderr.write(`${row}\n`);
}
console.log('| bug | class | caught | median time | worst time | median shrunk steps | property named |');
console.log('| --- | --- | --- | --- | --- | --- | --- |');
for (const row of rows) console.log(row);
