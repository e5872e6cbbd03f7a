// The subprocess adapter against misbehaving implementations (issue 17): each ends in one clear
// failure naming the request, with bounded memory and no leftover process.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { AdapterError, SubprocessIommu } from '../../properties/adapters/subprocess.ts';

const dir = mkdtempSync(join(tmpdir(), 'iommu-robust-'));
let n = 0;
/** A node script answering capabilities and reset, then doing `body(req)` for any other request. */
function script(body: string, before = ''): string {
  const file = join(dir, `p${n++}.mjs`);
  writeFileSync(
    file,
    `import { createInterface } from 'node:readline';
${before}
const out = (o) => process.stdout.write(JSON.stringify(o) + '\\n');
createInterface({ input: process.stdin }).on('line', (line) => {
  const req = JSON.parse(line);
  if (req.op === 'capabilities') return out({ ok: true, value: {} });
  if (req.op === 'reset') return out({ ok: true });
  ${body}
});
`,
  );
  return `"${process.execPath}" "${file}"`;
}

const alive = (pid: number | undefined): boolean => {
  try {
    process.kill(pid!, 0);
    return true;
  } catch {
    return false;
  }
};

describe('SubprocessIommu against misbehaving processes', () => {
  const started: SubprocessIommu[] = [];
  afterEach(async () => {
    await Promise.all(started.splice(0).map((a) => a.close()));
  });
  const start = async (command: string, opts: Parameters<typeof SubprocessIommu.start>[1] = {}) => {
    const a = await SubprocessIommu.start(command, { stepTimeoutMs: 5000, ...opts });
    started.push(a);
    await a.reset();
    return a;
  };

  it('an unbounded line with no newline fails its request past 1 MiB, without buffering it all', async () => {
    // 64 KiB chunks for ever, never a newline.
    const a = await start(script(`const chunk = 'x'.repeat(65536); const go = () => { if (process.stdout.write(chunk)) setImmediate(go); else process.stdout.once('drain', go); }; go();`));
    const pid = a.pid;
    const rss0 = process.memoryUsage().rss;
    const e = (await a.flush(1).catch((x: unknown) => x)) as AdapterError;
    expect(e).toBeInstanceOf(AdapterError);
    expect(e.request).toBe('{"op":"flush","domain":1}');
    expect(e.message).toContain('request {"op":"flush","domain":1}');
    expect(e.message).toMatch(/answer line longer than 1048576 bytes/);
    expect(e.message).toContain('xxxx');
    expect(e.message.length).toBeLessThan(5000);
    expect(process.memoryUsage().rss - rss0).toBeLessThan(200 * 1024 * 1024);
    // Killed; and the next reset starts a fresh process that fails the same way.
    await new Promise((r) => setTimeout(r, 200));
    expect(alive(pid)).toBe(false);
    await expect(a.flush(1)).rejects.toThrow(/failed earlier/);
  });

  it('a long line within its bound is still an answer; maxLineBytes sets the bound', async () => {
    const a = await start(script(`process.stdout.write(' '.repeat(500000) + '{"ok":true}\\n');`));
    expect(await a.flush(1)).toEqual({ ok: true });
    const b = await start(script(`process.stdout.write(' '.repeat(5000) + '{"ok":true}\\n');`), { maxLineBytes: 1000 });
    await expect(b.flush(1)).rejects.toThrow(/request \{"op":"flush","domain":1\}: answer line longer than 1000 bytes/);
  });

  it('an answer split over many writes is put back together', async () => {
    const a = await start(script(`const s = JSON.stringify({ ok: true }) + '\\n'; let i = 0; const t = setInterval(() => { process.stdout.write(s[i++]); if (i === s.length) clearInterval(t); }, 2);`));
    expect(await a.flush(1)).toEqual({ ok: true });
    expect(await a.flush(2)).toEqual({ ok: true });
  });

  it('a hang shows the partial output that came back', async () => {
    const a = await start(script(`process.stdout.write('{"ok":tr');`), { stepTimeoutMs: 300 });
    const e = (await a.flush(1).catch((x: unknown) => x)) as AdapterError;
    expect(e).toBeInstanceOf(AdapterError);
    expect(e.message).toContain('no answer within 300 ms; partial output with no newline: "{\\"ok\\":tr"');
  });
});
