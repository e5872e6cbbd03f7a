// An Iommu backed by a child process speaking the subprocess protocol (CONTRACT.md, last section).
// One request in flight at a time; responses are matched in order. Any crash, hang or response out
// of the contract makes the method call reject with an AdapterError naming the request, what came
// back and the tail of the process's stderr. After such a failure the process is killed, and the
// next `reset()` starts a fresh one (the harness replays sequences while shrinking).
import { spawn, type ChildProcess } from 'node:child_process';
import { installMethods, type AnswerOf, type Call, type Methods } from '../../model/ops.ts';
import type { Capabilities, Iommu } from '../../model/types.ts';
import {
  CAPABILITIES_REQUEST,
  RESET_REQUEST,
  InexpressibleCall,
  decodeCapabilities,
  decodeResponse,
  encodeRequest,
  type Decoded,
} from './protocol.ts';

export interface SubprocessOptions {
  /** Time to wait for each answer before the process is considered hung and killed. */
  stepTimeoutMs?: number;
  cwd?: string;
  /** How many lines of stderr to quote in errors (default 20). */
  stderrLines?: number;
  /** Extra environment variables. */
  env?: NodeJS.ProcessEnv;
  /** The longest answer line accepted, in bytes (default 1 MiB); a longer one is a failure of its request. */
  maxLineBytes?: number;
}

/** The default bound on one answer line: 1 MiB. */
export const MAX_LINE_BYTES = 1 << 20;

export class AdapterError extends Error {
  /** True when the process could not be started or did not answer its first request. */
  readonly startup: boolean;
  readonly request?: string;
  constructor(message: string, opts: { startup?: boolean; request?: string } = {}) {
    super(message);
    this.name = 'AdapterError';
    this.startup = opts.startup ?? false;
    this.request = opts.request;
  }
}

const MAX_QUOTE = 300;
const quote = (s: string): string => (s.length > MAX_QUOTE ? s.slice(0, MAX_QUOTE) + `... (${s.length} chars)` : s);

type Waiter = {
  resolve: (line: string) => void;
  reject: (why: string) => void;
};

/** Live processes, killed if this process exits without closing them. */
const live = new Set<ChildProcess>();
let exitHookInstalled = false;
function killTree(child: ChildProcess): void {
  if (child.exitCode !== null || child.signalCode !== null) return;
  try {
    // The child leads its own process group (detached), so the shell and what it runs both go.
    if (child.pid !== undefined) process.kill(-child.pid, 'SIGKILL');
  } catch {
    try {
      child.kill('SIGKILL');
    } catch {
      /* already gone */
    }
  }
}
function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on('exit', () => {
    for (const c of live) killTree(c);
  });
}

/** One running child process and its line protocol. */
class Channel {
  readonly child: ChildProcess;
  /** The bytes of stdout after its last newline: a line still being written. */
  private partial: Buffer[] = [];
  private partialBytes = 0;
  /** Set once a line has gone past the bound: every later exchange fails with it. */
  private overlong: string | undefined;
  private readonly stderrTail: string[] = [];
  private stderrPartial = '';
  private waiter: Waiter | undefined;
  private unsolicited: string | undefined;
  exited: string | undefined; // "process exited with code X" once it has
  private readonly exitedPromise: Promise<void>;

  constructor(
    command: string,
    private readonly opts: Required<Pick<SubprocessOptions, 'stderrLines'>> & SubprocessOptions,
  ) {
    installExitHook();
    this.child = spawn(command, {
      shell: true,
      cwd: opts.cwd,
      env: opts.env ? { ...process.env, ...opts.env } : process.env,
      stdio: ['pipe', 'pipe', 'pipe'],
      detached: process.platform !== 'win32',
    });
    live.add(this.child);
    this.child.stdin!.on('error', () => {
      /* EPIPE when the process is gone: reported through 'exit' */
    });
    this.child.stderr!.setEncoding('utf8');
    this.child.stderr!.on('data', (chunk: string) => this.onStderr(chunk));
    this.child.stdout!.on('data', (chunk: Buffer) => this.onStdout(chunk));
    this.exitedPromise = new Promise((resolve) => {
      let spawnError: string | undefined;
      this.child.on('error', (e) => {
        spawnError = `could not start: ${e.message}`;
        this.onExit(spawnError);
        resolve();
      });
      this.child.on('exit', (code, signal) => {
        live.delete(this.child);
        // Let stdout drain first: an answer followed by an exit is still an answer. 'close' comes
        // once the pipes are drained, unless a grandchild still holds them: then wait a little.
        let done = false;
        const finish = () => {
          if (done) return;
          done = true;
          this.onExit(spawnError ?? (signal ? `process killed by signal ${signal}` : `process exited with code ${code}`));
          resolve();
        };
        this.child.once('close', finish);
        setTimeout(finish, 100).unref();
      });
    });
  }

  private onStderr(chunk: string): void {
    const parts = (this.stderrPartial + chunk).split('\n');
    this.stderrPartial = parts.pop() ?? '';
    for (const p of parts) {
      this.stderrTail.push(p);
      if (this.stderrTail.length > this.opts.stderrLines) this.stderrTail.shift();
    }
    if (this.stderrPartial.length > 10_000) this.stderrPartial = this.stderrPartial.slice(-10_000);
  }

  stderr(): string {
    const lines = [...this.stderrTail];
    if (this.stderrPartial) lines.push(this.stderrPartial);
    return lines.slice(-this.opts.stderrLines).join('\n');
  }

  /** Splits stdout into lines, never holding more than the bound of one line. */
  private onStdout(chunk: Buffer): void {
    if (this.overlong !== undefined) return;
    const max = this.opts.maxLineBytes ?? MAX_LINE_BYTES;
    let start = 0;
    for (let nl = chunk.indexOf(10, start); nl !== -1; nl = chunk.indexOf(10, start)) {
      const piece = chunk.subarray(start, nl);
      start = nl + 1;
      if (this.partialBytes + piece.length > max) return this.tooLong(piece);
      const line = Buffer.concat([...this.partial, piece]).toString('utf8');
      this.partial = [];
      this.partialBytes = 0;
      this.onLine(line.endsWith('\r') ? line.slice(0, -1) : line);
      if (this.overlong !== undefined) return;
    }
    const rest = chunk.subarray(start);
    if (rest.length === 0) return;
    if (this.partialBytes + rest.length > max) return this.tooLong(rest);
    this.partial.push(Buffer.from(rest));
    this.partialBytes += rest.length;
  }

  /** What has come back of a line not yet ended (for errors). */
  pending(): string {
    return this.partialBytes === 0 ? '' : Buffer.concat(this.partial).subarray(0, 2 * MAX_QUOTE).toString('utf8');
  }

  private tooLong(more: Buffer): void {
    const max = this.opts.maxLineBytes ?? MAX_LINE_BYTES;
    const head = Buffer.concat([...this.partial, more.subarray(0, 2 * MAX_QUOTE)]).subarray(0, MAX_QUOTE).toString('utf8');
    this.partial = [];
    this.partialBytes = 0;
    this.overlong = `answer line longer than ${max} bytes (the limit of one line; no newline within it), starting ${JSON.stringify(head)}...`;
    this.child.stdout!.removeAllListeners('data');
    this.child.stdout!.resume(); // drain and drop the rest until the process is killed
    const w = this.waiter;
    this.waiter = undefined;
    this.kill();
    w?.reject(this.overlong);
  }

  private onLine(line: string): void {
    const w = this.waiter;
    if (w) {
      this.waiter = undefined;
      w.resolve(line);
    } else if (this.unsolicited === undefined) {
      this.unsolicited = line;
    }
  }

  private onExit(why: string): void {
    if (this.exited === undefined) this.exited = this.overlong ?? why;
    const w = this.waiter;
    this.waiter = undefined;
    w?.reject(this.exited);
  }

  /** Sends one line and waits for one line; rejects with a plain reason string. */
  exchange(line: string, timeoutMs: number): Promise<string> {
    if (this.overlong !== undefined) return Promise.reject(this.overlong);
    if (this.exited !== undefined) return Promise.reject(this.exited);
    if (this.unsolicited !== undefined)
      return Promise.reject(`unexpected output with no request pending: ${quote(this.unsolicited)}`);
    return new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => {
        if (this.waiter !== waiter) return;
        this.waiter = undefined;
        const partial = this.pending();
        reject(`no answer within ${timeoutMs} ms` + (partial ? `; partial output with no newline: ${JSON.stringify(partial)}` : ''));
        this.kill();
      }, timeoutMs);
      const waiter: Waiter = {
        resolve: (l) => {
          clearTimeout(timer);
          resolve(l);
        },
        reject: (why) => {
          clearTimeout(timer);
          reject(why);
        },
      };
      this.waiter = waiter;
      this.child.stdin!.write(line + '\n');
    });
  }

  kill(): void {
    killTree(this.child);
  }

  async close(): Promise<void> {
    if (this.exited === undefined) {
      this.child.stdin!.end();
      this.kill();
    }
    await this.exitedPromise;
    this.partial = [];
    this.partialBytes = 0;
  }
}

/** An Iommu implemented by an executable speaking the JSON Lines protocol. */
export interface SubprocessIommu extends Methods<'async'> {}
export class SubprocessIommu implements Iommu {
  capabilities?: Capabilities;
  private channel: Channel;
  private readonly timeoutMs: number;
  private queue: Promise<unknown> = Promise.resolve();
  /** Why the current process may not be used any more (then `reset` restarts it). */
  private broken: string | undefined;
  private closed = false;

  private constructor(
    readonly command: string,
    private readonly opts: SubprocessOptions,
    channel: Channel,
  ) {
    this.channel = channel;
    this.timeoutMs = opts.stepTimeoutMs ?? 5000;
  }

  private static channel(command: string, opts: SubprocessOptions): Channel {
    return new Channel(command, { stderrLines: 20, ...opts });
  }

  /** Starts the process and asks for its capabilities; rejects with AdapterError(startup) if it cannot. */
  static async start(command: string, opts: SubprocessOptions = {}): Promise<SubprocessIommu> {
    const adapter = new SubprocessIommu(command, opts, SubprocessIommu.channel(command, opts));
    try {
      adapter.capabilities = await adapter.handshake();
    } catch (e) {
      await adapter.close();
      throw e;
    }
    return adapter;
  }

  private describe(request: string, what: string, channel = this.channel): string {
    const tail = channel.stderr();
    return (
      `subprocess \`${this.command}\`: request ${quote(request)}: ${what}` +
      (tail ? `\n--- stderr (last lines) ---\n${tail}` : '\n(stderr was empty)')
    );
  }

  private async handshake(): Promise<Capabilities | undefined> {
    let line: string;
    try {
      line = await this.channel.exchange(CAPABILITIES_REQUEST, this.timeoutMs);
    } catch (why) {
      throw new AdapterError(this.describe(CAPABILITIES_REQUEST, String(why)), { startup: true, request: CAPABILITIES_REQUEST });
    }
    const d = decodeCapabilities(line);
    if (!d.ok) {
      this.channel.kill();
      throw new AdapterError(this.describe(CAPABILITIES_REQUEST, `bad answer ${quote(line)}: ${d.problem}`), {
        startup: true,
        request: CAPABILITIES_REQUEST,
      });
    }
    return d.answer;
  }

  /** Runs `task` after every earlier request has settled: one request in flight at a time. */
  private serial<T>(task: () => Promise<T>): Promise<T> {
    const run = this.queue.then(task, task);
    this.queue = run.catch(() => undefined);
    return run;
  }

  private fail(request: string, what: string): never {
    const message = this.describe(request, what);
    this.broken = what;
    this.channel.kill();
    throw new AdapterError(message, { request });
  }

  private async roundTrip<T>(request: string, decode: (line: string) => Decoded<T>): Promise<T> {
    if (this.closed) throw new AdapterError(`subprocess \`${this.command}\`: request ${quote(request)}: adapter is closed`, { request });
    if (this.broken !== undefined)
      throw new AdapterError(
        this.describe(request, `not sent: the process failed earlier (${this.broken}) and has not been reset`),
        { request },
      );
    let line: string;
    try {
      line = await this.channel.exchange(request, this.timeoutMs);
    } catch (why) {
      this.fail(request, String(why));
    }
    const d = decode(line);
    if (!d.ok) this.fail(request, `bad answer ${quote(line)}: ${d.problem}`);
    return d.answer;
  }

  /** Sends one call and decodes its answer; rejects with AdapterError on any failure. */
  call<C extends Call>(call: C): Promise<AnswerOf<C>> {
    let request: string;
    try {
      request = encodeRequest(call);
    } catch (e) {
      if (e instanceof InexpressibleCall) {
        // Out of range by the contract, whatever the implementation: EINVAL without asking it.
        return Promise.resolve({ ok: false, error: 'EINVAL' } as AnswerOf<C>);
      }
      return Promise.reject(new AdapterError(`cannot encode ${call.op}: ${(e as Error).message}`));
    }
    return this.serial(() => this.roundTrip(request, (line) => decodeResponse(call, line)));
  }

  /** Starts a run: forget everything. Restarts the process first if it died or misbehaved. */
  reset(): Promise<void> {
    return this.serial(async () => {
      if (this.closed) throw new AdapterError(`subprocess \`${this.command}\`: reset: adapter is closed`);
      if (this.broken !== undefined || this.channel.exited !== undefined) {
        const old = this.channel;
        await old.close();
        this.channel = SubprocessIommu.channel(this.command, this.opts);
        this.broken = undefined;
        try {
          await this.handshake();
        } catch (e) {
          this.broken = 'restart failed';
          throw new AdapterError(`restarting after a failure: ${(e as Error).message}`, { request: CAPABILITIES_REQUEST });
        }
      }
      await this.roundTrip(RESET_REQUEST, (line) => {
        const d = decodeResponse({ op: 'flush', domain: 0 }, line);
        if (d.ok && !d.answer.ok) return { ok: false, problem: `reset failed with ${d.answer.error}` };
        return d.ok ? { ok: true, answer: undefined } : { ok: false, problem: d.problem.replace(/; expected .*/, '; expected {"ok":true}') };
      });
    });
  }

  /** Ends the process (closing its stdin, then killing it). */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.queue;
    await this.channel.close();
  }

  /** The process id of the current child (for tests and diagnostics). */
  get pid(): number | undefined {
    return this.channel.child.pid;
  }

  /** The interface's methods (installed from the registry below) all come here. */
  perform<C extends Call>(call: C): Promise<AnswerOf<C>> {
    return this.call(call);
  }
}

installMethods(SubprocessIommu.prototype);
