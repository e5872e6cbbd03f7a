// The iommu-conformance command line: `check` (default) and `replay`. `runCli` returns the exit
// code instead of exiting, so tests can run it in-process:
//   0 conforming (or a replay that no longer fails), 1 counterexample, 2 usage or adapter error.
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import type { DomainOptions } from '../../model/types.ts';
import { resolveCapabilities } from '../../model/validate.ts';
import { literal, formatCall, type Report } from '../index.ts';
import { defaultKinds } from '../check.ts';
import { toTraceJson } from '../adapters/protocol.ts';
import { replayCalls } from '../run/replay.ts';
import { DEFAULT_DB_DIR, defaultDatabaseDir } from '../db/database.ts';
import { fromDatabaseLine, shortPath } from '../db/describe.ts';
import { runCampaign } from './campaign.ts';
import { DOMAIN_WORDS, DomainsError, parseDomains } from './domains.ts';
import { counterexampleText, processIo, progressView, summary, type Io } from './output.ts';
import { parseShard, type CampaignRecord, type CampaignReport } from './shard.ts';
import { runsOwned, WHOLE, type Shard } from '../generate/shard.ts';
import { merge } from './merge.ts';
import { checkWritableDirectory, PathError, writeFiles } from './paths.ts';
import { readTraceFile, TRACE_VERSION, type TraceFile } from './trace-file.ts';
import { formatRuleTable } from '../report/rules.ts';
import { describeTarget, openTarget, parseImpl, UsageError, type TargetSpec } from './target.ts';
import { QEMU_DEVICES, type QemuDevice } from '../adapters/qemu/open.ts';

export type { TraceFile } from './trace-file.ts';

const int = (name: string, min: number, max?: number) => (value: string): number => {
  const n = Number(value);
  if (!/^-?\d+$/.test(value.trim()) || !Number.isSafeInteger(n) || n < min || (max !== undefined && n > max))
    throw new InvalidArgumentError(`${name} must be an integer ${max === undefined ? `>= ${min}` : `from ${min} to ${max}`}, not ${JSON.stringify(value)}`);
  return n;
};
/** The longest timer Node can set (2^31-1 ms); a longer one would fire at once. */
const MAX_TIMEOUT_MS = 2 ** 31 - 1;
/** Worker threads at most: each holds a whole campaign's memory. */
export const MAX_WORKERS = 16;
const seconds = (name: string) => (value: string): number => {
  const n = Number(value);
  if (!(n > 0) || !Number.isFinite(n)) throw new InvalidArgumentError(`${name} must be a positive number of seconds, not ${JSON.stringify(value)}`);
  return n;
};
const iotlb = (value: string): number | 'inf' => {
  if (value === 'inf' || value === 'infinity') return 'inf';
  return int('--iotlb', 0)(value);
};

interface CheckFlags {
  impl?: string;
  exec?: string;
  stepTimeout?: number;
  qemu?: string;
  qemuAsLinux?: boolean;
  qemuBinary?: string;
  runs?: number;
  seed?: number;
  path?: string;
  time?: number;
  shrinkTime?: number;
  maxCommands?: number;
  domains?: string;
  iotlb?: number | 'inf';
  workers: number;
  /** --shard K/N. */
  shard?: Shard;
  out?: string;
  /** --db DIR, --no-db (false). */
  db?: string | false;
  json?: boolean;
  quiet?: boolean;
  /** --rules: the table of the contract's rules and how often each was exercised. */
  rules?: boolean;
}

const ordinal = (n: number): string => (n === 2 ? 'second' : n === 3 ? 'third' : `${n}th`);

/** A POSIX-shell quoted word. */
const sh = (word: string): string => (/^[\w@%+=:,./-]+$/.test(word) ? word : `'${word.replace(/'/g, `'\\''`)}'`);

type TargetFlags = Pick<CheckFlags, 'impl' | 'exec' | 'iotlb' | 'stepTimeout' | 'qemu' | 'qemuAsLinux' | 'qemuBinary'>;

function targetOf(flags: TargetFlags): TargetSpec {
  if ([flags.impl, flags.exec, flags.qemu].filter((x) => x !== undefined).length > 1)
    throw new UsageError('--impl, --exec and --qemu are exclusive: check one target at a time');
  if ((flags.qemuAsLinux || flags.qemuBinary !== undefined) && flags.qemu === undefined)
    throw new UsageError('--qemu-as-linux and --qemu-binary apply to --qemu only');
  if (flags.qemu !== undefined) {
    if (flags.iotlb !== undefined || flags.stepTimeout !== undefined) throw new UsageError('--iotlb and --step-timeout do not apply to --qemu');
    if (!(QEMU_DEVICES as readonly string[]).includes(flags.qemu))
      throw new UsageError(`--qemu must be one of ${QEMU_DEVICES.join(', ')}, not ${JSON.stringify(flags.qemu)}`);
    return { kind: 'qemu', device: flags.qemu as QemuDevice, ...(flags.qemuAsLinux ? { asLinux: true } : {}), ...(flags.qemuBinary !== undefined ? { binary: flags.qemuBinary } : {}) };
  }
  if (flags.iotlb !== undefined && (flags.impl !== undefined || flags.exec !== undefined))
    throw new UsageError('--iotlb sets the IOTLB of the built-in implementation only; it cannot apply to --impl or --exec');
  if (flags.stepTimeout !== undefined && flags.exec === undefined) throw new UsageError('--step-timeout applies to --exec only');
  if (flags.impl !== undefined) return { kind: 'impl', ...parseImpl(flags.impl) };
  if (flags.exec !== undefined) return { kind: 'exec', command: flags.exec, stepTimeoutMs: flags.stepTimeout };
  return { kind: 'builtin', iotlb: flags.iotlb };
}

/** The target's flags, for the replay command line. */
function targetArgs(spec: TargetSpec): string[] {
  switch (spec.kind) {
    case 'builtin':
      return spec.iotlb === undefined ? [] : ['--iotlb', String(spec.iotlb)];
    case 'impl':
      return ['--impl', spec.module + (spec.export ? '#' + spec.export : '')];
    case 'exec':
      return ['--exec', spec.command, ...(spec.stepTimeoutMs === undefined ? [] : ['--step-timeout', String(spec.stepTimeoutMs)])];
    case 'qemu':
      return ['--qemu', spec.device, ...(spec.asLinux ? ['--qemu-as-linux'] : []), ...(spec.binary !== undefined ? ['--qemu-binary', spec.binary] : [])];
  }
}

/** The object without its undefined keys (shallow). */
const compact = <T extends object>(o: T): T => Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as T;

/**
 * What the failure database keys entries by: the target, with an --impl module's absolute path and
 * the directory an --exec command runs in (the same module or command elsewhere is another target).
 */
function databaseTarget(spec: TargetSpec): TargetSpec {
  if (spec.kind === 'impl') return compact({ ...spec, module: resolve(spec.module) });
  if (spec.kind === 'exec') return compact({ ...spec, cwd: spec.cwd ?? process.cwd() });
  return compact(spec);
}

/** The report as JSON (bigints as {"$bigint": "0x..."}). */
const reportJson = (report: Report): string => JSON.stringify(toTraceJson(report), null, 2);

async function check(flags: CheckFlags, io: Io): Promise<number> {
  const spec = targetOf(flags);
  let domains: Partial<DomainOptions>[] | undefined;
  try {
    domains = flags.domains === undefined ? undefined : parseDomains(flags.domains);
  } catch (e) {
    if (e instanceof DomainsError) throw new UsageError(e.message);
    throw e;
  }
  if (flags.path !== undefined && flags.seed === undefined) throw new UsageError('--path replays a generated case: give its --seed too');
  if (flags.shard !== undefined && flags.seed === undefined) throw new UsageError('--shard needs --seed: every shard must run the same campaign');
  if (flags.shard !== undefined && flags.path !== undefined) throw new UsageError('--path replays one run of the whole campaign: give it without --shard');
  const seed = flags.seed ?? Math.floor(Math.random() * 0x7fffffff);
  const timeLimitMs = flags.time === undefined ? undefined : Math.round(flags.time * 1000);
  // With a time limit and no run count, the time decides.
  const numRuns = flags.runs ?? (timeLimitMs !== undefined && flags.path === undefined ? 1_000_000_000 : 200);
  const outDir = flags.out === undefined ? undefined : resolve(flags.out);
  const workers = flags.workers;
  // --db DIR, --no-db, else IOMMU_CONFORMANCE_DB or .iommu-conformance/ in the working directory.
  const dbDir = flags.db === false ? false : (flags.db ?? defaultDatabaseDir());
  // A campaign replays the database once: in its first shard.
  // Every directory the run may write is checked before any work (issue 17, item 4).
  const outFiles = { test: 'counterexample.test.ts', trace: 'counterexample.json' };
  if (outDir !== undefined)
    try {
      checkWritableDirectory(outDir, Object.values(outFiles));
    } catch (e) {
      if (e instanceof PathError) throw new UsageError(`--out: ${e.message}`);
      throw e;
    }
  let database = dbDir === false ? undefined : { dir: resolve(dbDir), target: databaseTarget(spec), ...(flags.shard && flags.shard.index > 1 ? { replay: false } : {}) };
  if (database !== undefined)
    try {
      checkWritableDirectory(database.dir);
    } catch (e) {
      if (!(e instanceof PathError)) throw e;
      // A database asked for (--db, IOMMU_CONFORMANCE_DB) must work; the default one is a convenience.
      if (flags.db !== undefined || defaultDatabaseDir() !== DEFAULT_DB_DIR) throw new UsageError(`--db: ${e.message}`);
      io.err(`iommu-conformance: the failure database is off for this run: ${e.message}\n`);
      database = undefined;
    }

  if (!flags.json && !flags.quiet)
    io.err(
      `iommu-conformance: checking ${describeTarget(spec)}, seed ${seed}` +
        (timeLimitMs !== undefined ? `, ${flags.time} s` : '') +
        (flags.runs !== undefined || timeLimitMs === undefined ? `, ${numRuns} runs` : '') +
        (flags.shard ? `, shard ${flags.shard.index}/${flags.shard.count} (${flags.runs !== undefined ? `${runsOwned(flags.shard, numRuns)} of the runs` : 'every ' + ordinal(flags.shard.count) + ' run'})` : '') +
        (workers > 1 ? `, ${workers} workers` : '') +
        '\n',
    );
  const t0 = Date.now();
  const progress = progressView(io, { numRuns: flags.shard ? runsOwned(flags.shard, numRuns) : numRuns, timeLimitMs }, Boolean(flags.json || flags.quiet));
  let report: Report;
  try {
    report = await runCampaign(spec, {
      numRuns,
      seed,
      path: flags.path,
      maxCommands: flags.maxCommands,
      timeLimitMs,
      shrinkTimeMs: flags.shrinkTime === undefined ? undefined : Math.round(flags.shrinkTime * 1000),
      domains,
      workers,
      shard: flags.shard,
      reproDir: outDir ?? process.cwd(),
      database,
      onProgress: (p) => progress.update(p),
    });
  } finally {
    progress.stop();
  }
  const elapsed = Date.now() - t0;
  // Options checkConformance refuses (a --path of the wrong form) are usage errors: one line, no summary.
  if (report.error?.startsWith('bad options: ') && !report.counterexample) throw new UsageError(report.error.split('\n')[0]!);
  // The database's lines (entries dropped, skipped, a directory it cannot use): one each.
  for (const line of report.database?.messages ?? []) io.err(`iommu-conformance: ${line}\n`);

  let written: { test: string; trace: string } | undefined;
  /** Why --out could not be written (checked before the run, so rare): the counterexample is printed whole instead. */
  let notWritten: string | undefined;
  if (outDir !== undefined && report.counterexample) {
    const trace: TraceFile = {
      version: TRACE_VERSION,
      // An executable's command may be relative: record where it ran.
      target: compact(spec.kind === 'exec' ? { ...spec, cwd: spec.cwd ?? process.cwd() } : spec),
      seed: report.seed,
      path: report.path,
      maxCommands: flags.maxCommands,
      domains,
      property: report.counterexample.property,
      message: report.counterexample.message,
      steps: report.counterexample.steps,
      calls: report.counterexample.calls,
    };
    try {
      const files = writeFiles(outDir, {
        [outFiles.test]: report.counterexample.repro,
        [outFiles.trace]: JSON.stringify(toTraceJson(compact(trace)), null, 2) + '\n',
      });
      written = { test: files[outFiles.test]!, trace: files[outFiles.trace]! };
    } catch (e) {
      if (!(e instanceof PathError)) throw e;
      notWritten = e.message;
      io.err(`iommu-conformance: --out: ${e.message}; the counterexample is printed below instead\n`);
    }
  }

  // A counterexample from the database has no seed and path: its entry is a trace file.
  const saved = report.database?.saved ?? report.database?.from;
  const replay =
    fromDatabaseLine(report.database) && saved !== undefined
      ? ['iommu-conformance', 'replay', shortPath(saved)]
      : [
          'iommu-conformance',
          'check',
          ...targetArgs(spec),
          ...(flags.domains !== undefined ? ['--domains', flags.domains] : []),
          ...(flags.maxCommands !== undefined ? ['--max-commands', String(flags.maxCommands)] : []),
          ...(flags.shrinkTime !== undefined ? ['--shrink-time', String(flags.shrinkTime)] : []),
          '--seed',
          String(report.seed),
          ...(report.path !== undefined ? ['--path', report.path] : []),
        ];
  const replayLine = replay.map(sh).join(' ');

  if (flags.json) {
    const campaign: CampaignRecord = compact({
      target: spec,
      seed,
      runs: numRuns,
      timeSeconds: flags.time,
      maxCommands: flags.maxCommands,
      domains: flags.domains,
      shrinkTimeSeconds: flags.shrinkTime,
    });
    const json: CampaignReport = compact({ ...report, campaign, shard: flags.shard ?? WHOLE, elapsedMs: elapsed, replay: report.counterexample && replayLine });
    io.out(reportJson(json) + '\n');
  } else {
    if (report.counterexample) {
      const repro = written
        ? `Repro test: ${written.test}\nTrace:      ${written.trace} (iommu-conformance replay ${sh(written.trace)})`
        : notWritten !== undefined
          ? `Repro test (could not be written to ${outDir}: ${notWritten}):\n${report.counterexample.repro}`
          : `Repro test (use --out DIR to write it to a file):\n${report.counterexample.repro}`;
      io.out(counterexampleText(report, repro, replayLine));
    } else if (report.error !== undefined) {
      io.out(`error: ${report.error}\n\n`);
    }
    io.out(summary(report, elapsed, describeTarget(spec)));
    if (flags.rules) io.out('\n' + formatRuleTable(report.statistics));
  }
  if (report.ok) return 0;
  if (report.counterexample) return 1;
  if (!flags.json) io.err(`iommu-conformance: ${report.error?.split('\n')[0]}\n`);
  return 2;
}

async function replay(file: string, flags: TargetFlags & { json?: boolean }, io: Io): Promise<number> {
  const trace = readTraceFile(file);
  const override = flags.impl !== undefined || flags.exec !== undefined || flags.iotlb !== undefined || flags.qemu !== undefined;
  const spec = override ? targetOf(flags) : trace.target;
  const target = await openTarget(spec);
  try {
    const first = await target.factory();
    const capabilities = first.capabilities;
    try {
      resolveCapabilities(capabilities);
    } catch (e) {
      throw new UsageError(`replay: bad capabilities: ${(e as Error).message}`);
    }
    const caps = resolveCapabilities(capabilities);
    const kinds = trace.domains ?? defaultKinds(caps);
    let used = false;
    const factory = () => {
      if (!used) {
        used = true;
        return first;
      }
      return target.factory();
    };
    const result = await replayCalls(factory, { capabilities, kinds, representableOnly: target.representableOnly, stepTimeoutMs: spec.kind === 'exec' ? (spec.stepTimeoutMs ?? 5000) + 5000 : 10_000 }, trace.calls);
    if (flags.json) {
      io.out(JSON.stringify(toTraceJson({ ok: !result.failure && result.error === undefined, trace: result.trace, failure: result.failure && { property: result.failure.property, message: result.failure.message }, error: result.error === undefined ? undefined : String(result.error) }), null, 2) + '\n');
    } else {
      io.out(`Replaying ${trace.calls.length} calls of ${file} against ${target.description}:\n`);
      let i = 0;
      for (const entry of result.trace) {
        if ('call' in entry) io.out(`  ${String(++i).padStart(2)}. ${formatCall(entry.call)} -> ${entry.threw ? 'threw ' : ''}${literal(entry.answer)}\n`);
        else if ('selfCheck' in entry) io.out(`      iommu.checkInvariants() -> ${entry.threw ? 'threw ' : ''}${literal(entry.answer)}\n`);
      }
      io.out('\n');
      if (result.failure) io.out(`STILL FAILS: ${result.failure.message}\n`);
      else if (result.error !== undefined) io.out(`error: ${result.error instanceof Error ? result.error.message : String(result.error)}\n`);
      else io.out(`PASSES: every answer conforms now (the trace was found as ${trace.property}).\n`);
    }
    if (result.failure) return 1;
    if (result.error !== undefined) return 2;
    return 0;
  } finally {
    await target.close();
  }
}

function targetOptions(cmd: Command): Command {
  return cmd
    .option('--impl <path[#export]>', 'check a TS/JS module: its export is an Iommu class (no-arg constructor) or a factory function')
    .option('--exec <command>', 'check an executable speaking the JSON Lines protocol (docs/PROTOCOL.md)')
    .option('--step-timeout <ms>', 'with --exec: time allowed per answer (default 5000)', int('--step-timeout', 1, MAX_TIMEOUT_MS))
    .option('--iotlb <n|inf>', 'IOTLB entries of the built-in implementation (inf: keep everything)', iotlb)
    .option('--qemu <device>', `check QEMU's own vIOMMU through qtest, no guest OS: ${QEMU_DEVICES.join(' or ')}`)
    .option('--qemu-as-linux', "with --qemu: skip what Linux's IOMMU core never sends (an attach to the domain already attached)")
    .option('--qemu-binary <path>', 'with --qemu: the QEMU binary (default qemu-system-x86_64)');
}

/** Runs the CLI on `argv` (without node and script) and resolves to the exit code. */
export async function runCli(argv: readonly string[], io: Io = processIo()): Promise<number> {
  let code = 0;
  const program = new Command('iommu-conformance')
    .description('Model-based conformance checking of IOMMU implementations against the iommu-conformance contract.')
    .exitOverride()
    .configureOutput({ writeOut: (s) => io.out(s), writeErr: (s) => io.err(s), outputError: (s, write) => write(s) })
    .showSuggestionAfterError(true);

  targetOptions(program.command('check', { isDefault: true }).description('check an implementation (default: the built-in FastIommu)'))
    .option('--runs <n>', 'generated runs (default 200, or unlimited under --time)', int('--runs', 1))
    .option('--seed <s>', 'random seed (default: random; printed)', int('--seed', -(2 ** 31)))
    .option('--path <p>', 'replay one generated case of --seed (as printed on failure)')
    .option('--time <seconds>', 'stop generating new runs after this long', seconds('--time'))
    .option('--shrink-time <seconds>', 'time allowed to shrink a failure (default 6)', seconds('--shrink-time'))
    .option('--max-commands <n>', 'commands per run at most (default 60)', int('--max-commands', 0))
    .option('--domains <list>', `domain kinds to generate, comma-separated, words joined with +: ${DOMAIN_WORDS}`)
    .option('--workers <n>', 'worker threads sharing the runs of the campaign (worker i of N: every N-th run from run i)', int('--workers', 1, MAX_WORKERS), 1)
    .option('--shard <k/n>', 'run shard K of N of the campaign (run r when r mod N = K-1; --runs counts the whole campaign, --time is per shard; needs --seed); merge their --json reports with merge', parseShard)
    .option('--out <dir>', 'on failure, write DIR/counterexample.test.ts and DIR/counterexample.json')
    .option('--db <dir>', 'the failure database: counterexamples saved, replayed first next time, dropped once they pass (default .iommu-conformance/)')
    .option('--no-db', 'no failure database: read and write nothing')
    .option('--json', 'print the report as JSON')
    .option('--rules', "after the summary, a table of the contract's rules with how often each was exercised")
    .addOption(new Option('--quiet', 'no progress output'))
    .action(async (flags: CheckFlags) => {
      code = await check(flags, io);
    });

  program
    .command('merge')
    .argument('<reports...>', 'the --json reports of every shard of one campaign (check --shard K/N --json)')
    .description("combine the shards' reports into one verdict, one statistics table and the first counterexample (by run order)")
    .option('--json', 'print the merged report as JSON')
    .action(async (files: string[], flags: { json?: boolean }) => {
      code = merge(files, flags, io);
    });

  targetOptions(program.command('replay').argument('<file>', 'a counterexample.json written by check --out'))
    .description('re-run a saved counterexample against its target (or the one given) and show every answer')
    .option('--json', 'print the replay as JSON')
    .action(async (file: string, flags: TargetFlags & { json?: boolean }) => {
      code = await replay(file, flags, io);
    });

  try {
    await program.parseAsync([...argv], { from: 'user' });
    return code;
  } catch (e) {
    if (e instanceof CommanderError) return e.exitCode === 0 ? 0 : 2;
    if (e instanceof UsageError) {
      io.err(`iommu-conformance: ${e.message}\n`);
      return 2;
    }
    io.err(`iommu-conformance: ${e instanceof Error ? e.message.split('\n')[0] : String(e)}\n`);
    return 2;
  }
}
