// The published package, end to end: `npm pack` (its prepack builds dist/), the tarball installed
// into a fresh temporary project, and there the ways a vendor uses it: a plain Node ESM script,
// CommonJS through `await import()`, vitest with describeConformance, a TypeScript consumer
// type-checked with moduleResolution node16 and bundler, and the CLI (built-in, --impl of a .ts
// module with workers, --exec of a JSON Lines implementation, a repro test written by --out).
//
// The pack runs in a copy of the repository, so that the build never writes the checkout's dist/
// (which bin/iommu-conformance.mjs would pick up) while other test files run. The install is
// offline: the temporary project's lockfile is the repository's, so every dependency comes from
// the npm cache that `npm ci` filled; without that cache the project links the repository's
// node_modules and unpacks the tarball itself.
import { execFile } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const REPO = fileURLToPath(new URL('../../', import.meta.url));
const HERE = fileURLToPath(new URL('./', import.meta.url));
const NODE = process.execPath;

/** What the tarball must offer: every subpath export, with names each must give at run time. */
const EXPORTS: Record<string, string[]> = {
  '.': ['checkConformance', 'formatReport', 'ReferenceIommu', 'FastIommu', 'SubprocessIommu', 'AdapterError', 'ConformanceFailure', 'DEFAULT_DOMAIN_KINDS'],
  './model': ['ReferenceIommu', 'describeResult', 'describeTranslation', 'resolveCapabilities', 'parseDomainOptions', 'maxAperture'],
  './impl': ['FastIommu', 'DEFAULT_CAPABILITIES'],
  './properties': ['checkConformance', 'formatReport', 'formatCall', 'literal', 'SubprocessIommu', 'encodeRequest', 'decodeResponse', 'decodeCapabilities'],
  './vitest': ['describeConformance'],
};
/** Files the tarball must hold besides dist/. */
const FILES = ['package.json', 'README.md', 'CONTRACT.md', 'CHANGELOG.md', 'LICENSE', 'docs/PROTOCOL.md', 'bin/iommu-conformance.mjs'];

interface Ran {
  code: number;
  stdout: string;
  stderr: string;
}

/** The environment of a child: without the variables of this vitest run and of `npm test`. */
function childEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env))
    if (!/^(VITEST|TINYPOOL|npm_package_|npm_lifecycle_)/i.test(k) && k !== 'NODE_OPTIONS') env[k] = v;
  return { ...env, FORCE_COLOR: '0', NO_COLOR: '1', ...extra };
}

function run(file: string, args: string[], cwd: string, extra: Record<string, string> = {}): Promise<Ran> {
  return new Promise((done) => {
    execFile(file, args, { cwd, env: childEnv(extra), maxBuffer: 64 << 20, timeout: 120_000 }, (error, stdout, stderr) => {
      const code = error ? (typeof error.code === 'number' ? error.code : 99) : 0;
      done({ code, stdout, stderr });
    });
  });
}
const show = (r: Ran): string => `exit ${r.code}\n--- stdout\n${r.stdout.slice(-3000)}\n--- stderr\n${r.stderr.slice(-3000)}`;
const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';

let work: string; // the temporary directory of everything below
let project: string; // the consumer project
let tarballFiles: string[]; // paths inside the tarball
let packed: { size: number; unpackedSize: number };
let installMode = '';
/** The installed package's bin, run with node. */
let bin: string;
/** `node --import` of forbid-imports.mjs: the packages named in IOMMU_E2E_FORBID fail to import. */
const forbid = (names: string) => ({ NODE_OPTIONS: `--import=${new URL('./forbid-imports.mjs', import.meta.url).href}`, IOMMU_E2E_FORBID: names });

/** A copy of the repository without what is not part of a checkout (node_modules linked). */
function stage(into: string): void {
  const skip = new Set(['node_modules', '.git', 'dist', 'coverage', 'reports', '.stryker-tmp', 'out', 'scratch']);
  cpSync(REPO, into, {
    recursive: true,
    filter: (src) => {
      const rel = relative(REPO, src);
      return rel === '' || !(skip.has(rel.split(/[\\/]/)[0]!) || rel.startsWith(join('examples', 'c', 'build')));
    },
  });
  symlinkSync(join(REPO, 'node_modules'), join(into, 'node_modules'), 'dir');
}

/** The consumer project: the repository's lockfile, so that the offline install finds every version in the cache. */
function writeProject(dir: string): void {
  const version = (name: string): string => JSON.parse(readFileSync(join(REPO, 'node_modules', name, 'package.json'), 'utf8')).version;
  const devDependencies = { vitest: version('vitest'), typescript: version('typescript'), '@types/node': version('@types/node') };
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'vendor-project', version: '1.0.0', private: true, type: 'module', devDependencies }, null, 2));
  const lock = JSON.parse(readFileSync(join(REPO, 'package-lock.json'), 'utf8'));
  lock.name = 'vendor-project';
  lock.version = '1.0.0';
  lock.packages[''] = { name: 'vendor-project', version: '1.0.0', devDependencies };
  writeFileSync(join(dir, 'package-lock.json'), JSON.stringify(lock, null, 2));
}

/** Without the npm cache: the repository's node_modules linked, the tarball unpacked by hand. */
async function linkInstead(dir: string, tarball: string): Promise<void> {
  rmSync(join(dir, 'node_modules'), { recursive: true, force: true });
  mkdirSync(join(dir, 'node_modules', '.bin'), { recursive: true });
  for (const name of readdirSync(join(REPO, 'node_modules'))) {
    if (name.startsWith('.') || name === 'iommu-conformance') continue;
    symlinkSync(join(REPO, 'node_modules', name), join(dir, 'node_modules', name), 'dir');
  }
  const target = join(dir, 'node_modules', 'iommu-conformance');
  mkdirSync(target);
  const untar = await run('tar', ['-xzf', tarball, '-C', target, '--strip-components=1'], dir);
  if (untar.code !== 0) throw new Error(`tar: ${show(untar)}`);
  symlinkSync(join('..', 'iommu-conformance', 'bin', 'iommu-conformance.mjs'), join(dir, 'node_modules', '.bin', 'iommu-conformance'));
}

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'iommu-e2e-'));
  const staged = join(work, 'repo');
  const packDir = join(work, 'pack');
  mkdirSync(packDir);
  stage(staged);
  const pack = await run(npm, ['pack', '--json', '--pack-destination', packDir], staged);
  if (pack.code !== 0) throw new Error(`npm pack failed: ${show(pack)}`);
  const info = JSON.parse(pack.stdout.slice(pack.stdout.indexOf('[')))[0];
  tarballFiles = info.files.map((f: { path: string }) => f.path);
  packed = { size: info.size, unpackedSize: info.unpackedSize };
  const tarball = join(packDir, info.filename);

  project = join(work, 'project');
  writeProject(project);
  const install = await run(npm, ['install', '--offline', '--no-audit', '--no-fund', tarball], project);
  installMode = install.code === 0 ? 'npm install --offline' : `linked (npm install --offline failed: ${install.stderr.split('\n')[0]})`;
  if (install.code !== 0) await linkInstead(project, tarball);
  bin = join(project, 'node_modules', 'iommu-conformance', 'bin', 'iommu-conformance.mjs');
  cpSync(join(HERE, 'jsonl-iommu.mjs'), join(project, 'jsonl-iommu.mjs'));
}, 180_000);

afterAll(() => {
  if (work && !process.env.IOMMU_E2E_KEEP) rmSync(work, { recursive: true, force: true });
});

describe('the packed package', () => {
  it('holds dist/ (JavaScript, .d.ts, maps), the docs, the license and the bin; no tests, no bench, no sources', () => {
    console.log(`tarball: ${tarballFiles.length} files, ${packed.size} B packed, ${packed.unpackedSize} B unpacked; installed by ${installMode}`);
    const files = new Set(tarballFiles);
    const missing = FILES.filter((f) => !files.has(f));
    expect(missing, 'files missing from the tarball').toEqual([]);
    const pkg = JSON.parse(readFileSync(join(project, 'node_modules', 'iommu-conformance', 'package.json'), 'utf8'));
    expect(Object.keys(pkg.exports).filter((k) => k !== './package.json').sort(), 'the subpath exports').toEqual(Object.keys(EXPORTS).sort());
    for (const [subpath, entry] of Object.entries(pkg.exports as Record<string, { types: string; import: string }>)) {
      if (subpath === './package.json') continue;
      expect(Object.keys(entry), `conditions of ${subpath}`).toEqual(['types', 'import']);
      for (const file of [entry.types, entry.import]) expect(files.has(file.replace(/^\.\//, '')), `${subpath}: ${file} in the tarball`).toBe(true);
    }
    const js = tarballFiles.filter((f) => f.endsWith('.js'));
    expect(js.length).toBeGreaterThan(20);
    for (const f of js) {
      expect(f.startsWith('dist/'), f).toBe(true);
      expect(files.has(f + '.map') && files.has(f.replace(/\.js$/, '.d.ts')), `${f}: its map and .d.ts`).toBe(true);
    }
    const unwanted = tarballFiles.filter(
      (f) => /(^|\/)(test|tests|bench|fixtures|examples|coverage|reports)\//.test(f) || /\.(test|spec|props)\./.test(f) || (/\.[cm]?ts$/.test(f) && !/\.d\.[cm]?ts$/.test(f)) || f.endsWith('.tsbuildinfo'),
    );
    expect(unwanted, 'files that do not belong in the tarball').toEqual([]);
    expect(pkg.bin['iommu-conformance']).toBe('./bin/iommu-conformance.mjs');
  });

  it('imports from a plain Node ESM script, needing neither vitest nor tsx', async () => {
    const lines = Object.entries(EXPORTS).map(
      ([subpath, names], i) =>
        `const m${i} = await import(${JSON.stringify(subpath === '.' ? 'iommu-conformance' : 'iommu-conformance' + subpath.slice(1))});\n` +
        `for (const n of ${JSON.stringify(names)}) if (m${i}[n] === undefined) throw new Error(${JSON.stringify(subpath)} + ' lacks ' + n);`,
    );
    const script = [
      `import { checkConformance, formatReport, FastIommu, ReferenceIommu } from 'iommu-conformance';`,
      `import { ReferenceIommu as Model } from 'iommu-conformance/model';`,
      `if (Model !== ReferenceIommu) throw new Error('two ReferenceIommu classes');`,
      ...lines.filter((_, i) => Object.keys(EXPORTS)[i] !== './vitest'),
      `const report = await checkConformance(() => new FastIommu(), { numRuns: 15, seed: 7 });`,
      `if (!report.ok) throw new Error(formatReport(report));`,
      `console.log('plain ok', report.numRuns);`,
    ].join('\n');
    writeFileSync(join(project, 'plain.mjs'), script);
    const r = await run(NODE, ['plain.mjs'], project, forbid('vitest,tsx'));
    expect(r.code, show(r)).toBe(0);
    expect(r.stdout).toContain('plain ok 15');
    // The vitest entry loads where vitest is installed (it is here).
    const v = await run(NODE, ['--input-type=module', '-e', `const m = await import('iommu-conformance/vitest'); console.log(typeof m.describeConformance);`], project);
    expect(v.stdout.trim(), show(v)).toBe('function');
  });

  it('imports from CommonJS through await import() (require() is refused: the package is ESM only)', async () => {
    writeFileSync(
      join(project, 'consumer.cjs'),
      [
        `'use strict';`,
        `(async () => {`,
        `  const { checkConformance, FastIommu } = await import('iommu-conformance');`,
        `  const { ReferenceIommu } = await import('iommu-conformance/model');`,
        `  const report = await checkConformance(() => new ReferenceIommu(), { numRuns: 5, seed: 3 });`,
        `  console.log('cjs', typeof FastIommu, report.ok);`,
        `})().catch((e) => { console.error(e); process.exit(1); });`,
      ].join('\n'),
    );
    const r = await run(NODE, ['consumer.cjs'], project, forbid('vitest,tsx'));
    expect(r.code, show(r)).toBe(0);
    expect(r.stdout).toContain('cjs function true');
  });

  it('runs describeConformance under vitest in the project', async () => {
    mkdirSync(join(project, 'tests'), { recursive: true });
    writeFileSync(
      join(project, 'tests', 'conformance.test.ts'),
      [
        `import { describeConformance } from 'iommu-conformance/vitest';`,
        `import { FastIommu } from 'iommu-conformance/impl';`,
        `describeConformance('FastIommu from the tarball', () => new FastIommu(), { numRuns: 15, seed: 11 });`,
      ].join('\n'),
    );
    const r = await run(NODE, [join(project, 'node_modules', 'vitest', 'vitest.mjs'), 'run', 'tests/'], project);
    expect(r.code, show(r)).toBe(0);
    expect(r.stdout).toMatch(/1 passed/);
  });

  // node16 checks the package's .d.ts files too (skipLibCheck off, the slow part); bundler
  // checks how they resolve and what they give.
  it.each(['node16', 'bundler'])('type-checks a TypeScript consumer with moduleResolution %s', async (resolution) => {
    writeFileSync(
      join(project, 'consumer.ts'),
      [
        `import { checkConformance, formatReport, FastIommu, ReferenceIommu, type CheckOptions, type Iommu, type Report } from 'iommu-conformance';`,
        `import { ReferenceIommu as Model, type Result, type Translation, type DomainOptions } from 'iommu-conformance/model';`,
        `import { FastIommu as Fast, type FastIommuOptions } from 'iommu-conformance/impl';`,
        `import { SubprocessIommu, type TraceEntry, type Statistics } from 'iommu-conformance/properties';`,
        `import { describeConformance } from 'iommu-conformance/vitest';`,
        `const make = (): Iommu => new FastIommu({ iotlbSize: 8 } satisfies FastIommuOptions);`,
        `const options: CheckOptions = { numRuns: 1, seed: 1 };`,
        `const report: Report = await checkConformance(make, options);`,
        `const text: string = formatReport(report);`,
        `const answer: Result<bigint> = { ok: true, value: 4096n };`,
        `const t: Translation = await new Model().translate(1, null, 0n, 'read');`,
        `const d: DomainOptions = { levels: 4 };`,
        `// @ts-expect-error the types are real: numRuns is a number`,
        `const wrong: CheckOptions = { numRuns: 'many' };`,
        `// @ts-expect-error the types are real: FastIommu is an Iommu, not a string`,
        `const notString: string = new Fast();`,
        `const exec: Promise<SubprocessIommu> = SubprocessIommu.start('./my-iommu');`,
        `export const used = [text, answer, t, d, wrong, notString, exec, ReferenceIommu, describeConformance];`,
        `export type Used = [TraceEntry, Statistics];`,
      ].join('\n'),
    );
    const module = resolution === 'node16' ? 'node16' : 'esnext';
    const config = {
      compilerOptions: { target: 'ES2022', lib: ['ES2022'], module, moduleResolution: resolution, strict: true, noEmit: true, skipLibCheck: resolution !== 'node16', types: ['node'] },
      files: ['consumer.ts'],
    };
    writeFileSync(join(project, `tsconfig.${resolution}.json`), JSON.stringify(config, null, 2));
    const r = await run(NODE, [join(project, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', `tsconfig.${resolution}.json`], project);
    expect(r.code, show(r)).toBe(0);
  });

  it('npx iommu-conformance check: the built-in FastIommu for a few seconds, from compiled JavaScript without tsx', async () => {
    const r = await run(npm, ['exec', '--no', '--', 'iommu-conformance', 'check', '--time', '3', '--quiet'], project, forbid('tsx'));
    expect(r.code, show(r)).toBe(0);
    expect(r.stdout).toMatch(/result\s+CONFORMING/);
  });

  it('check --impl of a TypeScript module, in worker threads (tsx loaded for it only)', async () => {
    writeFileSync(
      join(project, 'my-iommu.ts'),
      [
        `import { FastIommu } from 'iommu-conformance/impl';`,
        `import type { Iommu } from 'iommu-conformance';`,
        `export class MyIommu extends FastIommu implements Iommu {`,
        `  readonly label: string = 'mine';`,
        `}`,
      ].join('\n'),
    );
    const r = await run(NODE, [bin, 'check', '--impl', './my-iommu.ts#MyIommu', '--workers', '2', '--runs', '40', '--quiet'], project);
    expect(r.code, show(r)).toBe(0);
    expect(r.stdout).toMatch(/result\s+CONFORMING/);
  });

  it('check --exec of a JSON Lines implementation; on a bug, --out writes a repro test that runs in the project', async () => {
    const ok = await run(NODE, [bin, 'check', '--exec', `"${NODE}" jsonl-iommu.mjs`, '--runs', '30', '--quiet'], project, forbid('tsx'));
    expect(ok.code, show(ok)).toBe(0);
    expect(ok.stdout).toMatch(/result\s+CONFORMING/);

    const bad = await run(NODE, [bin, 'check', '--exec', `"${NODE}" jsonl-iommu.mjs bug`, '--runs', '50', '--seed', '1', '--quiet', '--out', 'out'], project);
    expect(bad.code, show(bad)).toBe(1);
    const repro = readFileSync(join(project, 'out', 'counterexample.test.ts'), 'utf8');
    const from = /import \{ SubprocessIommu \} from '([^']+)'/.exec(repro)?.[1];
    expect(from, repro).toMatch(/node_modules\/iommu-conformance\/dist\/properties\/adapters\/subprocess\.js$/);
    expect(existsSync(join(project, 'out', from!))).toBe(true);
    // The repro fails by its expectation (not by a missing import): the bug is still there.
    const rerun = await run(NODE, [join(project, 'node_modules', 'vitest', 'vitest.mjs'), 'run', 'out/counterexample.test.ts'], project);
    expect(rerun.code, show(rerun)).toBe(1);
    expect(rerun.stdout + rerun.stderr).toMatch(/AssertionError/);
    expect(rerun.stdout + rerun.stderr).not.toMatch(/Failed to load|Cannot find|ERR_MODULE_NOT_FOUND/);
  });
});
