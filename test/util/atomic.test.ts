import { spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { Readable } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { AtomicFileWriter, writeFileAtomicSync } from '../../src/util/atomic.js';
import { ROOT, tempDir } from '../helpers/cli.js';

describe('atomic output', () => {
  let dir: string;
  let cleanup: () => void;
  beforeEach(() => ({ dir, cleanup } = tempDir()));
  afterEach(() => cleanup());

  it('creates the target only on commit, with mode 0600', async () => {
    const target = join(dir, 'out.json');
    const w = new AtomicFileWriter(target);
    await pipeline(Readable.from([Buffer.from('{"a":'), Buffer.from('1}')]), w);
    expect(existsSync(target)).toBe(false);
    await w.commit();
    expect(readFileSync(target, 'utf8')).toBe('{"a":1}');
    expect(statSync(target).mode & 0o777).toBe(0o600);
    expect(readdirSync(dir)).toEqual(['out.json']);
  });

  it('leaves nothing behind when aborted or when the source fails', async () => {
    const target = join(dir, 'out.json');
    const w = new AtomicFileWriter(target);
    const failing = new Readable({
      read() {
        this.push('partial');
        this.destroy(new Error('boom'));
      },
    });
    await expect(pipeline(failing, w)).rejects.toThrow('boom');
    await w.abort();
    expect(readdirSync(dir)).toEqual([]);
  });

  it('keeps the previous file intact until the new one is complete', async () => {
    const target = join(dir, 'out.json');
    writeFileAtomicSync(target, 'old');
    const w = new AtomicFileWriter(target);
    w.write('new but unfinished');
    expect(readFileSync(target, 'utf8')).toBe('old');
    await w.abort();
    expect(readFileSync(target, 'utf8')).toBe('old');
  });

  it('still dies of SIGTERM/SIGINT when signal-exit (proper-lockfile, loaded with the local store) listens too', async () => {
    for (const sig of ['SIGTERM', 'SIGINT'] as const) {
      const target = join(dir, `out-${sig}.json`);
      const script = `
        import 'proper-lockfile';
        import { AtomicFileWriter } from '${ROOT}/dist/util/atomic.js';
        const w = new AtomicFileWriter(process.argv[1]);
        w.write('x'.repeat(1000), () => console.log('writing'));
        setInterval(() => {}, 1000);
      `;
      const p = spawn(process.execPath, ['--input-type=module', '-e', script, target], { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] });
      await new Promise<void>((r) => p.stdout!.on('data', () => r()));
      p.kill(sig);
      const killer = setTimeout(() => p.kill('SIGKILL'), 5_000);
      const [, signal] = await new Promise<[number | null, NodeJS.Signals | null]>((r) => p.on('close', (c, s) => r([c, s])));
      clearTimeout(killer);
      expect(signal, `${sig} was swallowed`).toBe(sig);
      expect(readdirSync(dir)).toEqual([]);
    }
  });

  it('removes the temp file when the process is interrupted by SIGTERM mid-write', async () => {
    const target = join(dir, 'out.json');
    const script = `
      import { AtomicFileWriter } from '${ROOT}/dist/util/atomic.js';
      const w = new AtomicFileWriter(process.argv[1]);
      w.write('x'.repeat(1000), () => console.log('writing'));
      setInterval(() => {}, 1000);
    `;
    const p = spawn(process.execPath, ['--input-type=module', '-e', script, target], { stdio: ['ignore', 'pipe', 'inherit'] });
    await new Promise<void>((r) => p.stdout!.on('data', () => r()));
    expect(readdirSync(dir).some((f) => f.endsWith('.tmp'))).toBe(true);
    p.kill('SIGTERM');
    const [, signal] = await new Promise<[number | null, NodeJS.Signals | null]>((r) => p.on('close', (c, s) => r([c, s])));
    expect(signal).toBe('SIGTERM');
    expect(readdirSync(dir)).toEqual([]);
  });
});
