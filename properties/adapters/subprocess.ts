// An Iommu backed by a child process speaking the subprocess protocol (CONTRACT.md, last section).
// Calls are sent as soon as they are made, several may be in flight (the harness pipelines the
// probe translations of a step), answers are matched in order (channel.ts). Any crash, hang or
// response out of the contract makes the method call reject with an AdapterError naming the
// request, what came back and the tail of the process's stderr; the calls after it reject as not
// answered. After such a failure the process is killed, and the next `reset()` starts a fresh
// one (the harness replays sequences while shrinking).
import { installMethods, type AnswerOf, type Call, type Methods } from '../../model/ops.ts';
import type { Capabilities, Iommu } from '../../model/types.ts';
import { PIPELINED } from '../run/invoke.ts';
import { Channel, quoteOutput } from './channel.ts';
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
/** A request or an answer line in a message, as it was (bounded). */
const quote = (s: string): string => (s.length > MAX_QUOTE ? s.slice(0, MAX_QUOTE) + `... (${s.length} chars)` : s);
const ignore = (): void => {};
/** How long a bad first answer waits for a second line (which shows the first came before any request). */
const EARLY_OUTPUT_GRACE_MS = 200;

/** An Iommu implemented by an executable speaking the JSON Lines protocol. */
export interface SubprocessIommu extends Methods<'async'> {}
export class SubprocessIommu implements Iommu {
  capabilities?: Capabilities;
  /** Calls may be made before earlier ones have answered: they are answered in order (the harness pipelines). */
  readonly [PIPELINED] = true;
  private channel: Channel;
  /** Settles once every request sent so far has settled. */
  private lastSettled: Promise<unknown> = Promise.resolve();
  /** While a reset runs: calls made meanwhile are sent after it. */
  private gate: Promise<unknown> | undefined;
  /** Why the current process may not be used any more (then `reset` restarts it). */
  private broken: string | undefined;
  private closed = false;

  private constructor(
    readonly command: string,
    private readonly opts: SubprocessOptions,
  ) {
    this.channel = this.open();
  }

  private open(): Channel {
    return new Channel(this.command, {
      timeoutMs: this.opts.stepTimeoutMs ?? 5000,
      stderrLines: this.opts.stderrLines ?? 20,
      maxLineBytes: this.opts.maxLineBytes ?? MAX_LINE_BYTES,
      cwd: this.opts.cwd,
      env: this.opts.env,
    });
  }

  /** Starts the process and asks for its capabilities; rejects with AdapterError(startup) if it cannot. */
  static async start(command: string, opts: SubprocessOptions = {}): Promise<SubprocessIommu> {
    if (command.trim() === '') throw new AdapterError('the command is empty: give the executable to run and its arguments', { startup: true });
    const adapter = new SubprocessIommu(command, opts);
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
    const channel = this.channel;
    const startupError = (what: string): AdapterError => {
      channel.abort(what);
      return new AdapterError(this.describe(CAPABILITIES_REQUEST, what, channel), { startup: true, request: CAPABILITIES_REQUEST });
    };
    let line: string;
    try {
      line = await channel.exchange(CAPABILITIES_REQUEST);
    } catch (why) {
      throw startupError(String(why));
    }
    const d = decodeCapabilities(line);
    if (d.ok) return d.answer;
    // A bad first line followed by another: the process wrote the first before reading any
    // request (a banner or a log on stdout), and every answer after it would be one line late.
    await new Promise((r) => setTimeout(r, EARLY_OUTPUT_GRACE_MS));
    if (channel.unsolicited !== undefined)
      throw startupError(
        `the implementation wrote ${quoteOutput(line)} before any request (then ${quoteOutput(channel.unsolicited)}); ` +
          'stdout must carry only answers, one line per request: write logs to stderr',
      );
    throw startupError(`bad answer ${quote(line)}: ${d.problem}`);
  }

  /** The process failed on `request`: no request is sent to it again until `reset`. */
  private fail(request: string, what: string): never {
    const message = this.describe(request, what);
    this.broken = what;
    this.channel.abort(`not answered: the process failed on an earlier request ${quote(request)}`);
    throw new AdapterError(message, { request });
  }

  /** Sends `request` now (without waiting for earlier ones) and decodes its answer. */
  private send<T>(request: string, decode: (line: string) => Decoded<T>): Promise<T> {
    if (this.closed) return Promise.reject(new AdapterError(`subprocess \`${this.command}\`: request ${quote(request)}: adapter is closed`, { request }));
    if (this.broken !== undefined)
      return Promise.reject(
        new AdapterError(this.describe(request, `not sent: the process failed earlier (${this.broken}) and has not been reset`), { request }),
      );
    const answer = this.channel.exchange(request).then(
      (line) => {
        if (this.broken !== undefined) throw new AdapterError(this.describe(request, `not answered: the process failed earlier (${this.broken})`), { request });
        const d = decode(line);
        if (!d.ok) this.fail(request, `bad answer ${quote(line)}: ${d.problem}`);
        return d.answer;
      },
      (why: unknown) => {
        if (this.broken === undefined) this.fail(request, String(why));
        throw new AdapterError(this.describe(request, String(why)), { request });
      },
    );
    this.lastSettled = answer.then(ignore, ignore);
    return answer;
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
    const send = () => this.send(request, (line) => decodeResponse(call, line));
    return this.gate ? this.gate.then(send) : send();
  }

  /**
   * Starts a run: forget everything. Waits for the calls in flight, and restarts the process
   * first if it died or misbehaved; calls made meanwhile are sent after it.
   */
  reset(): Promise<void> {
    const previous = this.gate ?? Promise.resolve();
    const done = previous.then(() => this.lastSettled).then(() => this.resetNow());
    const gate = done.then(ignore, ignore);
    this.gate = gate;
    void gate.then(() => {
      if (this.gate === gate) this.gate = undefined;
    });
    return done;
  }

  private async resetNow(): Promise<void> {
    if (this.closed) throw new AdapterError(`subprocess \`${this.command}\`: reset: adapter is closed`);
    if (this.broken !== undefined || this.channel.failed !== undefined) {
      await this.channel.close();
      this.channel = this.open();
      this.broken = undefined;
      try {
        await this.handshake();
      } catch (e) {
        this.broken = 'restart failed';
        throw new AdapterError(`restarting after a failure: ${(e as Error).message}`, { request: CAPABILITIES_REQUEST });
      }
    }
    await this.send(RESET_REQUEST, (line) => {
      const d = decodeResponse({ op: 'flush', domain: 0 }, line);
      if (d.ok && !d.answer.ok) return { ok: false, problem: `reset failed with ${d.answer.error}` };
      return d.ok ? { ok: true, answer: undefined } : { ok: false, problem: d.problem.replace(/; expected .*/, '; expected {"ok":true}') };
    });
  }

  /** Ends the process (closing its stdin, then killing it), once the calls in flight have settled. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.gate;
    await this.lastSettled;
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
