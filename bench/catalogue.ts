// The catalogues of injected bugs, measured: for each bug, over several seeds and with default
// options, how often it is caught, the time to catch it (search and shrinking) and the length
// of the shrunk counterexample. Times are wall-clock and CPU (this process's user + system time:
// on a shared machine the CPU time is the figure that does not depend on the other load). Prints Markdown tables (`npm run catalogue [-- SEEDS [BUG,BUG...]]`:
// the bugs named only, when a list is given; a `*` in a name matches any text, so that a family
// is named at once: `npm run catalogue -- 3 'index-l2-*,pa-bit5*'`).
import { checkConformance } from '../properties/index.ts';
import { CATALOGUES as catalogues } from '../test/catalogue/catalogues.ts';

const seeds = Number(process.argv[2] ?? 10);
if (!(Number.isInteger(seeds) && seeds > 0)) throw new Error(`SEEDS must be a positive integer, not ${process.argv[2]}`);
/** A name of the list as a pattern: `*` matches any text, everything else itself. */
const pattern = (name: string): RegExp => new RegExp(`^${name.split('*').map((part) => part.replace(/[.+?^${}()|[\]\\]/g, '\\$&')).join('.*')}$`);
const patterns = process.argv[3]?.split(',').map((name) => ({ name, re: pattern(name) }));
const known = catalogues.flatMap((c) => c.bugs.map((b) => b.name));
for (const { name, re } of patterns ?? []) if (!known.some((k) => re.test(k))) throw new Error(`no bug named ${name} in the catalogues`);
const chosen = (name: string): boolean => patterns === undefined || patterns.some(({ re }) => re.test(name));
const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length === 0 ? Number.NaN : s[Math.floor((s.length - 1) / 2)];
};

for (const catalogue of catalogues) {
  const rows: string[] = [];
  for (const bug of catalogue.bugs.filter((b) => chosen(b.name))) {
    const times: number[] = [];
    const cpuTimes: number[] = [];
    const lengths: number[] = [];
    const properties = new Set<string>();
    let cutShort = 0; // shrinking stopped at its time budget
    for (let seed = 1; seed <= seeds; seed++) {
      const started = performance.now();
      const cpu = process.cpuUsage();
      const report = await checkConformance(() => catalogue.create(bug.name), { seed });
      if (report.ok || !report.counterexample) continue;
      times.push(performance.now() - started);
      const used = process.cpuUsage(cpu);
      cpuTimes.push((used.user + used.system) / 1000);
      lengths.push(report.counterexample.steps.length);
      if (report.statistics['shrink:stopped-at-budget']) cutShort++;
      properties.add(report.counterexample.property);
    }
    const ms = (xs: number[], f: (xs: number[]) => number): string => (xs.length === 0 ? '-' : `${f(xs).toFixed(0)} ms`);
    const worst = (xs: number[]): number => Math.max(...xs);
    const row = `| \`${bug.name}\` | ${bug.class} | ${times.length}/${seeds} | ${ms(cpuTimes, median)} | ${ms(cpuTimes, worst)} | ${ms(times, median)} | ${ms(times, worst)} | ${times.length === 0 ? '-' : median(lengths)}${cutShort > 0 ? ` (${cutShort} cut short)` : ''} | ${[...properties].join(', ')} |`;
    rows.push(row);
    process.stderr.write(`${row}\n`);
  }
  if (rows.length === 0) continue;
  console.log(`\n${catalogue.title}\n`);
  console.log('| bug | class | caught | median CPU | worst CPU | median wall | worst wall | median shrunk steps | property named |');
  console.log('| --- | --- | --- | --- | --- | --- | --- | --- | --- |');
  for (const row of rows) console.log(row);
}
