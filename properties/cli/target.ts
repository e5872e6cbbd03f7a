// What the CLI checks: the built-in FastIommu, a TypeScript/JavaScript module, or an executable
// speaking the subprocess protocol. A target is plain data (it goes into counterexample.json and
// to worker threads) and `openTarget` turns it into a factory.
import { existsSync } from 'node:fs';
import { dirname, extname, isAbsolute, relative, resolve, sep } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { Iommu } from '../../model/types.ts';
import { missingMethods } from '../../model/ops.ts';
import { AdapterError, SubprocessIommu } from '../adapters/subprocess.ts';
import { openQemu, QEMU_DEVICES, type QemuDevice } from '../adapters/qemu/open.ts';
import { QemuError } from '../adapters/qemu/qtest.ts';

export type TargetSpec =
  | { kind: 'builtin'; iotlb?: number | 'inf' }
  | { kind: 'impl'; module: string; export?: string }
  | { kind: 'exec'; command: string; stepTimeoutMs?: number; cwd?: string }
  /** QEMU's own vIOMMU, driven through qtest (properties/adapters/qemu/). */
  | { kind: 'qemu'; device: QemuDevice; asLinux?: boolean; binary?: string };

/** A usage problem or a target that cannot be used: the CLI prints it as one line and exits 2. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

export interface OpenTarget {
  readonly factory: () => Iommu | Promise<Iommu>;
  /** How a repro test written in `reproDir` builds the implementation. */
  repro(reproDir: string): { imports: string; create: string };
  /** Only arguments the JSON protocol can carry (subprocesses). */
  readonly representableOnly: boolean;
  readonly description: string;
  close(): Promise<void>;
}


const HERE = fileURLToPath(import.meta.url);
const ROOT = resolve(dirname(HERE), '..', '..');
/** `.ts` when the sources run (tsx, vitest), `.js` in the compiled package (dist/). */
const EXT = extname(HERE);
/** A file of this package by its source path without extension (`impl/index`), as it runs. */
const own = (path: string): string => resolve(ROOT, ...path.split('/')) + EXT;

/** An import specifier for `file` from a test written in `fromDir`. */
function specifier(file: string, fromDir: string): string {
  let rel = relative(fromDir, file).split(sep).join('/');
  if (!rel.startsWith('.')) rel = './' + rel;
  return isAbsolute(rel) ? pathToFileURL(file).href : rel;
}


const isClass = (f: Function): boolean => /^class[\s{]/.test(Function.prototype.toString.call(f));

export function describeTarget(spec: TargetSpec): string {
  switch (spec.kind) {
    case 'builtin':
      return `built-in FastIommu (iotlb ${spec.iotlb ?? 'default'})`;
    case 'impl':
      return `module ${spec.module}${spec.export ? '#' + spec.export : ''}`;
    case 'exec':
      return `executable \`${spec.command}\``;
    case 'qemu':
      return `QEMU ${spec.device}${spec.asLinux ? ' (as Linux drives it)' : ''}${spec.binary ? ` (${spec.binary})` : ''}`;
  }
}

/** `path[#export]` of --impl. */
export function parseImpl(value: string): { module: string; export?: string } {
  const hash = value.lastIndexOf('#');
  if (hash > 0) return { module: value.slice(0, hash), export: value.slice(hash + 1) || undefined };
  return { module: value };
}

export async function openTarget(spec: TargetSpec): Promise<OpenTarget> {
  switch (spec.kind) {
    case 'builtin':
      return openBuiltin(spec.iotlb);
    case 'impl':
      return openModule(spec.module, spec.export);
    case 'exec':
      return openExec(spec.command, spec.stepTimeoutMs, spec.cwd);
    case 'qemu':
      return openQemuTarget(spec);
  }
}

async function openBuiltin(iotlb: number | 'inf' | undefined): Promise<OpenTarget> {
  const { FastIommu } = await import('../../impl/index.ts');
  const size = iotlb === 'inf' ? Number.POSITIVE_INFINITY : iotlb;
  const options = size === undefined ? {} : { iotlbSize: size };
  try {
    new FastIommu(options);
  } catch (e) {
    throw new UsageError(`--iotlb: ${(e as Error).message}`);
  }
  const arg = size === undefined ? '' : `{ iotlbSize: ${size === Number.POSITIVE_INFINITY ? 'Infinity' : size} }`;
  return {
    factory: () => new FastIommu(options),
    repro: (dir) => ({
      imports: `import { FastIommu } from '${specifier(own('impl/index'), dir)}';`,
      create: `new FastIommu(${arg})`,
    }),
    representableOnly: false,
    description: describeTarget({ kind: 'builtin', iotlb }),
    close: async () => {},
  };
}

/**
 * The compiled package runs without tsx; a TypeScript module given to --impl registers it (in
 * this thread: the main one or a worker's), once. Under tsx or vitest `.ts` files load already.
 */
let tsxRegistered = false;
async function loadTypeScriptFor(file: string): Promise<void> {
  if (EXT === '.ts' || tsxRegistered || !/\.[cm]?tsx?$/.test(file)) return;
  const { register } = await import('tsx/esm/api');
  register();
  tsxRegistered = true;
}

async function openModule(modulePath: string, exportName: string | undefined): Promise<OpenTarget> {
  const file = resolve(modulePath);
  if (!existsSync(file)) throw new UsageError(`--impl: cannot find module ${modulePath} (looked at ${file})`);
  let mod: Record<string, unknown>;
  try {
    await loadTypeScriptFor(file);
    mod = (await import(pathToFileURL(file).href)) as Record<string, unknown>;
  } catch (e) {
    throw new UsageError(`--impl: cannot load ${modulePath}: ${(e as Error).message.split('\n')[0]}`);
  }
  let name = exportName;
  if (name === undefined) {
    if (typeof mod.default === 'function') name = 'default';
    else {
      const functions = Object.keys(mod).filter((k) => typeof mod[k] === 'function');
      if (functions.length !== 1)
        throw new UsageError(
          functions.length === 0
            ? `--impl: ${modulePath} exports no class or function; export an Iommu class or factory`
            : `--impl: ${modulePath} exports several functions (${functions.join(', ')}); pick one with ${modulePath}#NAME`,
        );
      name = functions[0]!;
    }
  }
  const exported = mod[name];
  if (typeof exported !== 'function')
    throw new UsageError(`--impl: ${modulePath} has no exported class or function named ${name}`);
  const ctor = exported as (new () => unknown) & (() => unknown);
  const asClass = isClass(ctor);
  const make = async (): Promise<Iommu> => (asClass ? new ctor() : await ctor()) as Iommu;
  let first: unknown;
  try {
    first = await make();
  } catch (e) {
    throw new UsageError(`--impl: ${modulePath}#${name} threw when building an instance: ${(e as Error).message}`);
  }
  const missing = missingMethods(first);
  if (missing.length > 0)
    throw new UsageError(`--impl: ${modulePath}#${name} does not give an Iommu (missing ${missing.join(', ')})`);
  let pending: unknown = first;
  return {
    // The first instance, built to check the export, serves the first run.
    factory: () => {
      if (pending !== undefined) {
        const p = pending as Iommu;
        pending = undefined;
        return p;
      }
      return make();
    },
    repro: (dir) => {
      const spec = specifier(file, dir);
      const local = name === 'default' ? 'Implementation' : name!;
      const imports = name === 'default' ? `import ${local} from '${spec}';` : `import { ${local} } from '${spec}';`;
      return { imports, create: asClass ? `new ${local}()` : `${local}()` };
    },
    representableOnly: false,
    description: describeTarget({ kind: 'impl', module: modulePath, export: exportName }),
    close: async () => {},
  };
}

async function openExec(command: string, stepTimeoutMs: number | undefined, cwd: string | undefined): Promise<OpenTarget> {
  let adapter: SubprocessIommu;
  try {
    adapter = await SubprocessIommu.start(command, { stepTimeoutMs, cwd });
  } catch (e) {
    if (e instanceof AdapterError) throw new UsageError(`--exec: ${e.message.split('\n')[0]}${stderrHint(e.message)}`);
    throw e;
  }
  // The repro runs the command from the same directory, whatever vitest's working directory.
  const where = `{ cwd: ${JSON.stringify(cwd ?? process.cwd())}${stepTimeoutMs === undefined ? '' : `, stepTimeoutMs: ${stepTimeoutMs}`} }`;
  return {
    factory: async () => {
      await adapter.reset();
      return adapter;
    },
    repro: (dir) => ({
      imports: `import { SubprocessIommu } from '${specifier(own('properties/adapters/subprocess'), dir)}';`,
      create: `SubprocessIommu.start(${JSON.stringify(command)}, ${where}).then(async (a) => (await a.reset(), a))`,
    }),
    representableOnly: true,
    description: describeTarget({ kind: 'exec', command }),
    close: () => adapter.close(),
  };
}

async function openQemuTarget(spec: Extract<TargetSpec, { kind: 'qemu' }>): Promise<OpenTarget> {
  if (!(QEMU_DEVICES as readonly string[]).includes(spec.device))
    throw new UsageError(`--qemu: unknown device ${JSON.stringify(spec.device)} (one of ${QEMU_DEVICES.join(', ')})`);
  const options = { device: spec.device, asLinux: spec.asLinux, binary: spec.binary };
  let target: Awaited<ReturnType<typeof openQemu>>;
  try {
    target = await openQemu(options);
  } catch (e) {
    if (e instanceof QemuError) throw new UsageError(`--qemu ${spec.device}: ${e.message.split('\n')[0]}`);
    throw e;
  }
  return {
    factory: () => target.factory(),
    repro: (dir) => ({
      imports: `import { startQemuIommu } from '${specifier(own('properties/adapters/qemu/open'), dir)}';`,
      create: `startQemuIommu(${JSON.stringify(options)})`,
    }),
    representableOnly: false,
    description: describeTarget(spec),
    close: () => target.close(),
  };
}

/** The last stderr line of a startup failure, appended to the one-line message. */
function stderrHint(message: string): string {
  const m = message.split('--- stderr (last lines) ---\n')[1];
  const last = m?.trim().split('\n').pop();
  return last ? ` (stderr: ${last.slice(0, 200)})` : '';
}
