// A QEMU process driven through its qtest command channel (`-qtest stdio`): text commands, one
// answer line each, in order. Commands are pipelined: `batch` writes a whole list and then reads
// its answers, so a round trip is paid once per batch, not once per command.
// QEMU does not exit when its stdin closes: the process is killed on close, on this process's
// exit, and (through `setpriv --pdeathsig`, where available) when this process dies abruptly.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';

/** Why QEMU could not be used: it did not start, died, hung or answered out of the protocol. */
export class QemuError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'QemuError';
  }
}

export interface QtestOptions {
  /** The QEMU binary (default `qemu-system-x86_64` on the PATH). */
  binary?: string;
  /** Time allowed for the answers of one batch (default 10 s). */
  timeoutMs?: number;
  /** The longest answer line accepted (default 1 MiB: a `read` of 4 KiB is 8 KiB of hex). */
  maxLineBytes?: number;
}

export const DEFAULT_QEMU = 'qemu-system-x86_64';
const STDERR_LINES = 10;

/** Live QEMU processes, killed if this process exits without closing them. */
const live = new Set<ChildProcess>();
let exitHook = false;
function installExitHook(): void {
  if (exitHook) return;
  exitHook = true;
  process.on('exit', () => {
    for (const c of live) c.kill('SIGKILL');
  });
}

/** `setpriv` makes the kernel kill QEMU when its parent dies, even by SIGKILL. */
const SETPRIV = ['/usr/bin/setpriv', '/bin/setpriv'].find((p) => existsSync(p));

/** Whether a QEMU binary can be found (for tests that skip without one). */
export function findQemu(binary = DEFAULT_QEMU): string | undefined {
  if (binary.includes('/')) return existsSync(binary) ? binary : undefined;
  for (const dir of (process.env.PATH ?? '').split(':')) if (dir && existsSync(`${dir}/${binary}`)) return `${dir}/${binary}`;
  return undefined;
}

type Pending = { count: number; lines: string[]; resolve: (lines: string[]) => void; reject: (e: QemuError) => void; timer: NodeJS.Timeout };

/** One QEMU process and its qtest channel. */
export class Qtest {
  private readonly child: ChildProcess;
  private partial = '';
  private readonly stderrTail: string[] = [];
  private readonly queue: Pending[] = [];
  private dead: string | undefined;
  private readonly exited: Promise<void>;
  private readonly timeoutMs: number;
  private readonly maxLine: number;

  /** Starts `binary args... -qtest stdio`; use `ready()` to wait until it answers. */
  constructor(args: readonly string[], opts: QtestOptions = {}) {
    installExitHook();
    this.timeoutMs = opts.timeoutMs ?? 10_000;
    this.maxLine = opts.maxLineBytes ?? 1 << 20;
    const binary = opts.binary ?? DEFAULT_QEMU;
    const argv = [...args, '-qtest', 'stdio', '-qtest-log', '/dev/null'];
    const [cmd, full] = SETPRIV ? [SETPRIV, ['--pdeathsig', 'SIGKILL', '--', binary, ...argv]] : [binary, argv];
    this.child = spawn(cmd, full, { stdio: ['pipe', 'pipe', 'pipe'] });
    live.add(this.child);
    this.child.stdin!.on('error', () => {}); // EPIPE once it died: reported by 'exit'
    this.child.stdout!.setEncoding('latin1');
    this.child.stdout!.on('data', (s: string) => this.onData(s));
    this.child.stderr!.setEncoding('utf8');
    this.child.stderr!.on('data', (s: string) => {
      for (const l of s.split('\n')) if (l.trim()) this.stderrTail.push(l.trim());
      this.stderrTail.splice(0, Math.max(0, this.stderrTail.length - STDERR_LINES));
    });
    this.exited = new Promise((resolve) => {
      this.child.on('error', (e) => {
        live.delete(this.child);
        this.die(`could not start ${binary}: ${e.message}`);
        resolve();
      });
      this.child.on('exit', (code, signal) => {
        live.delete(this.child);
        // Let stderr drain so that the message can quote QEMU's last words.
        setTimeout(() => {
          this.die(`${binary} ${signal ? `was killed by ${signal}` : `exited with code ${code}`}${this.lastWords()}`);
          resolve();
        }, 20);
      });
    });
  }

  private lastWords(): string {
    const last = this.stderrTail.filter((l) => !/^setpriv:/.test(l)).slice(-2);
    return last.length ? ` (stderr: ${last.join(' | ').slice(0, 300)})` : '';
  }

  /** The process id (tests check that none is left behind). */
  get pid(): number | undefined {
    return this.child.pid;
  }

  private onData(s: string): void {
    let start = 0;
    for (let nl = s.indexOf('\n'); nl !== -1; nl = s.indexOf('\n', start)) {
      const line = this.partial + s.slice(start, nl);
      this.partial = '';
      start = nl + 1;
      this.onLine(line);
    }
    this.partial += s.slice(start);
    if (this.partial.length > this.maxLine) this.fail(`qtest answer line longer than ${this.maxLine} bytes`);
  }

  private onLine(line: string): void {
    // Asynchronous notices (IRQ lines) are not answers: none are enabled, but skip them anyway.
    if (line.startsWith('IRQ ')) return;
    const head = this.queue[0];
    if (!head) return this.fail(`unexpected qtest output with no command pending: ${JSON.stringify(line.slice(0, 100))}`);
    head.lines.push(line);
    if (head.lines.length === head.count) {
      this.queue.shift();
      clearTimeout(head.timer);
      head.resolve(head.lines);
    }
  }

  private die(why: string): void {
    if (this.dead === undefined) this.dead = why;
    for (const p of this.queue.splice(0)) {
      clearTimeout(p.timer);
      p.reject(new QemuError(this.dead));
    }
  }

  private fail(why: string): void {
    this.die(why);
    this.child.kill('SIGKILL');
  }

  /** Why the process is unusable, once it is. */
  get failure(): string | undefined {
    return this.dead;
  }

  /**
   * Writes every command, then resolves to their answers in order (the text after `OK`, trimmed).
   * Rejects with QemuError when QEMU died, hung, or answered anything but OK.
   */
  async batch(commands: readonly string[]): Promise<string[]> {
    if (commands.length === 0) return [];
    if (this.dead !== undefined) throw new QemuError(this.dead);
    const lines = await new Promise<string[]>((resolve, reject) => {
      const timer = setTimeout(() => this.fail(`QEMU did not answer ${commands.length} qtest commands within ${this.timeoutMs} ms (first: ${commands[0]})`), this.timeoutMs);
      this.queue.push({ count: commands.length, lines: [], resolve, reject, timer });
      this.child.stdin!.write(commands.join('\n') + '\n');
    });
    return lines.map((line, i) => {
      if (line === 'OK') return '';
      if (line.startsWith('OK ')) return line.slice(3).trim();
      throw new QemuError(`qtest command ${JSON.stringify(commands[i])} answered ${JSON.stringify(line.slice(0, 200))}`);
    });
  }

  /** One command and its answer. */
  async command(command: string): Promise<string> {
    return (await this.batch([command]))[0]!;
  }

  /** Resolves once QEMU answers a command (rejects with its stderr if it does not start). */
  async ready(): Promise<void> {
    await this.command('readb 0x0');
  }

  /** Kills QEMU and waits until it is gone. */
  async close(): Promise<void> {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill('SIGKILL');
    await this.exited;
  }
}

/** A qtest integer answer (`0x...`) as a bigint. */
export const hex = (answer: string): bigint => BigInt(answer);
