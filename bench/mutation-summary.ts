// Summarizes one or more StrykerJS JSON reports (mutation-testing-report-schema): the mutation
// score per folder and per file, and every surviving or uncovered mutant with its line, so that a
// review can go through them. Several reports (e.g. of runs over separate files) are merged; a
// mutant reported twice (same file, place and replacement) counts once, the last report winning.
//   npm run mutation:summary [-- report.json ...] [--survivors]
import { readFileSync } from 'node:fs';

interface Mutant {
  mutatorName: string;
  replacement?: string;
  status: string;
  location: { start: { line: number; column: number }; end: { line: number; column: number } };
}
interface MutationReport { files: Record<string, { mutants: Mutant[]; source: string }> }

interface Tally { killed: number; timeout: number; survived: number; noCoverage: number; errors: number; ignored: number }

const UNDETECTED = new Set(['Survived', 'NoCoverage']);

function emptyTally(): Tally {
  return { killed: 0, timeout: 0, survived: 0, noCoverage: 0, errors: 0, ignored: 0 };
}

function count(tally: Tally, status: string): void {
  if (status === 'Killed') tally.killed++;
  else if (status === 'Timeout') tally.timeout++;
  else if (status === 'Survived') tally.survived++;
  else if (status === 'NoCoverage') tally.noCoverage++;
  else if (status === 'Ignored') tally.ignored++;
  else tally.errors++; // CompileError, RuntimeError, Pending: not part of the score
}

/** Stryker's "total" score: detected / (detected + undetected); errors and ignored excluded. */
function score(t: Tally): string {
  const detected = t.killed + t.timeout;
  const valid = detected + t.survived + t.noCoverage;
  return valid === 0 ? 'n/a' : `${((100 * detected) / valid).toFixed(2)}% (${detected}/${valid})`;
}

function row(name: string, t: Tally): string {
  return `| ${name} | ${score(t)} | ${t.killed} | ${t.timeout} | ${t.survived} | ${t.noCoverage} | ${t.errors} | ${t.ignored} |`;
}

function load(paths: string[]): Map<string, { mutants: Map<string, Mutant>; source: string }> {
  const files = new Map<string, { mutants: Map<string, Mutant>; source: string }>();
  for (const path of paths) {
    let report: MutationReport;
    try {
      report = JSON.parse(readFileSync(path, 'utf8')) as MutationReport;
    } catch (error) {
      throw new Error(`cannot read the mutation report ${path}: ${(error as Error).message}`);
    }
    if (typeof report.files !== 'object' || report.files === null) {
      throw new Error(`${path} is not a StrykerJS JSON report (no "files")`);
    }
    for (const [file, { mutants, source }] of Object.entries(report.files)) {
      const entry = files.get(file) ?? { mutants: new Map<string, Mutant>(), source };
      for (const mutant of mutants) {
        const { start, end } = mutant.location;
        entry.mutants.set(`${start.line}:${start.column}-${end.line}:${end.column} ${mutant.mutatorName} ${mutant.replacement ?? ''}`, mutant);
      }
      entry.source = source;
      files.set(file, entry);
    }
  }
  return files;
}

function main(argv: string[]): void {
  const listSurvivors = argv.includes('--survivors');
  const paths = argv.filter((a) => !a.startsWith('--'));
  const files = load(paths.length > 0 ? paths : ['reports/mutation/mutation.json']);
  const folders = new Map<string, Tally>();
  const perFile: [string, Tally][] = [];
  const total = emptyTally();
  const undetected: string[] = [];
  for (const [file, { mutants, source }] of [...files].sort(([a], [b]) => a.localeCompare(b))) {
    const tally = emptyTally();
    const folder = file.includes('/') ? file.slice(0, file.indexOf('/') + 1) : './';
    const folderTally = folders.get(folder) ?? emptyTally();
    folders.set(folder, folderTally);
    const lines = source.split('\n');
    for (const mutant of mutants.values()) {
      for (const t of [tally, folderTally, total]) count(t, mutant.status);
      if (UNDETECTED.has(mutant.status)) {
        const { line, column } = mutant.location.start;
        const code = (lines[line - 1] ?? '').trim();
        undetected.push(`${file}:${line}:${column} ${mutant.status} ${mutant.mutatorName} -> ${JSON.stringify(mutant.replacement ?? '')}\n    ${code}`);
      }
    }
    perFile.push([file, tally]);
  }
  console.log('| | score | killed | timeout | survived | no coverage | errors | ignored |');
  console.log('| --- | --- | --- | --- | --- | --- | --- | --- |');
  console.log(row('all', total));
  for (const [folder, t] of folders) console.log(row(`\`${folder}\``, t));
  for (const [file, t] of perFile) console.log(row(`\`${file}\``, t));
  if (listSurvivors) {
    console.log(`\n${undetected.length} undetected mutants:`);
    for (const text of undetected) console.log(text);
  }
}

try {
  main(process.argv.slice(2));
} catch (error) {
  console.error((error as Error).message);
  process.exitCode = 2;
}
