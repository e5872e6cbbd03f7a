// One running child process and its line protocol: requests go out as lines on stdin, answers
// come back as lines on stdout, matched first in, first out. Several requests may be in flight
// (pipelining): the lines written in one turn of the event loop go out in one write, and each
// answer has its own time limit, counted from the answer before it (or from its request, if
// later). Any failure (a crash, a hang, an overlong line) fails the first request left unanswered
// with the reason and every later one as "not answered". Reasons are plain strings; the adapter
// (subprocess.ts) turns them into AdapterErrors naming the request.
import { spawn, type ChildProcess } from 'node:child_process';

export interface ChannelOptions {
  readonly timeoutMs: number;
  readonly stderrLines: number;
  readonly maxLineBytes: number;
  readonly cwd?: string;
  readonly env?: NodeJS.ProcessEnv;
}

/** The longest quote of output in a message. */
export const MAX_QUOTE = 300;
/** Output quoted in a message: JSON-escaped (control characters and all) and bounded. */
export const quoteOutput = (s: string): string =>
  JSON.stringify(s.length > MAX_QUOTE ? s.slice(0, MAX_QUOTE) : s) + (s.length > MAX_QUOTE ? `... (${s.length} chars)` : '');

/** A request written (or about to be) and waiting for its answer line. */
interface Waiter {
  readonly request: string;
  readonly resolve: (line: string) => void;
  readonly reject: (why: string) => void;
}

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

export class Channel {
  readonly child: ChildProcess;
  /** The bytes of stdout after its last newline: a line still being written. */
  private partial: Buffer[] = [];
  private partialBytes = 0;
  private readonly stderrTail: string[] = [];
  private stderrPartial = '';
  /** Requests in flight, oldest first. */
  private readonly waiting: Waiter[] = [];
  /** Lines not yet written: written together at the end of this turn. */
  private outbox: string[] = [];
  private timer: NodeJS.Timeout | undefined;
  /** The first line that came with no request waiting for it. */
  unsolicited: string | undefined;
  /** Set once the channel cannot be used any more: why (every later exchange fails with it). */
  failed: string | undefined;
  /** Set once the process has exited: how. */
  exited: string | undefined;
  private readonly exitedPromise: Promise<void>;

  constructor(
    command: string,
    private readonly opts: ChannelOptions,
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
      this.stderrTail.push(p.length > 10_000 ? p.slice(0, 10_000) + '...' : p);
      if (this.stderrTail.length > this.opts.stderrLines) this.stderrTail.shift();
    }
    if (this.stderrPartial.length > 10_000) this.stderrPartial = this.stderrPartial.slice(-10_000);
  }

  /** The last lines of stderr. */
  stderr(): string {
    const lines = [...this.stderrTail];
    if (this.stderrPartial) lines.push(this.stderrPartial);
    return lines.slice(-this.opts.stderrLines).join('\n');
  }

  /** Splits stdout into lines, never holding more than the bound of one line. */
  private onStdout(chunk: Buffer): void {
    if (this.failed !== undefined) return;
    const max = this.opts.maxLineBytes;
    let start = 0;
    for (let nl = chunk.indexOf(10, start); nl !== -1; nl = chunk.indexOf(10, start)) {
      const piece = chunk.subarray(start, nl);
      start = nl + 1;
      if (this.partialBytes + piece.length > max) return this.tooLong(piece);
      const line = this.partialBytes === 0 ? piece.toString('utf8') : Buffer.concat([...this.partial, piece]).toString('utf8');
      this.partial = [];
      this.partialBytes = 0;
      this.onLine(line.endsWith('\r') ? line.slice(0, -1) : line);
      if (this.failed !== undefined) return;
    }
    const rest = chunk.subarray(start);
    if (rest.length === 0) return;
    if (this.partialBytes + rest.length > max) return this.tooLong(rest);
    this.partial.push(Buffer.from(rest));
    this.partialBytes += rest.length;
  }

  /** What has come back of a line not yet ended (for errors), bounded. */
  pending(): string {
    return this.partialBytes === 0 ? '' : Buffer.concat(this.partial).subarray(0, 2 * MAX_QUOTE).toString('utf8');
  }

  /** `why`, with the partial line that came back, if any. */
  private withPending(why: string): string {
    const partial = this.pending();
    return partial ? `${why}; partial output with no newline: ${quoteOutput(partial)}` : why;
  }

  private tooLong(more: Buffer): void {
    const head = Buffer.concat([...this.partial, more.subarray(0, 2 * MAX_QUOTE)]).subarray(0, MAX_QUOTE).toString('utf8');
    this.partial = [];
    this.partialBytes = 0;
    this.child.stdout!.removeAllListeners('data');
    this.child.stdout!.resume(); // drain and drop the rest until the process is killed
    this.abort(`answer line longer than ${this.opts.maxLineBytes} bytes (the limit of one line; no newline within it), starting ${JSON.stringify(head)}...`);
  }

  private onLine(line: string): void {
    const w = this.waiting.shift();
    if (w === undefined) {
      if (this.unsolicited === undefined) this.unsolicited = line;
      return;
    }
    this.armTimer();
    w.resolve(line);
  }

  /** The head request's time limit starts now (when it became the head); none when nothing waits. */
  private armTimer(): void {
    if (this.waiting.length === 0) {
      if (this.timer !== undefined) clearTimeout(this.timer);
      this.timer = undefined;
    } else if (this.timer !== undefined) this.timer.refresh();
    else this.timer = setTimeout(() => this.onTimeout(), this.opts.timeoutMs);
  }

  private onTimeout(): void {
    this.timer = undefined;
    if (this.waiting.length > 0) this.abort(this.withPending(`no answer within ${this.opts.timeoutMs} ms`));
  }

  private onExit(why: string): void {
    if (this.exited === undefined) this.exited = why;
    this.abort(this.withPending(why));
  }

  /**
   * Ends the channel: the first request in flight fails with `why`, the later ones as not
   * answered, and the process is killed. Later exchanges fail with the first reason.
   */
  abort(why: string): void {
    if (this.failed === undefined) this.failed = why;
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    this.outbox = [];
    const waiting = this.waiting.splice(0);
    this.kill();
    waiting.forEach((w, i) => w.reject(i === 0 ? why : `not answered: the process failed on an earlier request (${why})`));
  }

  /** Sends one line; the promise is its answer line, or rejects with a plain reason string. */
  exchange(request: string): Promise<string> {
    if (this.failed !== undefined) return Promise.reject(this.failed);
    if (this.unsolicited !== undefined) return Promise.reject(`unexpected output with no request pending: ${quoteOutput(this.unsolicited)}`);
    return new Promise<string>((resolve, reject) => {
      this.waiting.push({ request, resolve, reject });
      if (this.waiting.length === 1) this.armTimer();
      if (this.outbox.push(request) === 1) queueMicrotask(() => this.flush());
    });
  }

  /** One write for every line sent in this turn. */
  private flush(): void {
    if (this.outbox.length === 0) return;
    const text = this.outbox.join('\n') + '\n';
    this.outbox = [];
    this.child.stdin!.write(text);
  }

  kill(): void {
    killTree(this.child);
  }

  /** Ends the process (closing its stdin, then killing it) and waits for it to be gone. */
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
