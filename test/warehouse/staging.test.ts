import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { canary, expectNoLeak } from '../helpers/canary.js';
import { ROOT, isolatedEnv, tempDir } from '../helpers/cli.js';

/** `export --out <warehouse>` stages the export in a private temp directory: it must not outlive the process. */
describe('warehouse staging directory', () => {
  for (const sig of ['SIGTERM', 'SIGINT'] as const) {
    it(`is removed when the process is interrupted by ${sig} before cleanup()`, async () => {
      const { dir, cleanup } = tempDir('clariguard-staging-');
      try {
        const marker = canary('cgstaged');
        const script = `
          import { writeFileSync } from 'node:fs';
          import { stageExportForWarehouse } from '${ROOT}/dist/warehouse/pipeline.js';
          const s = stageExportForWarehouse('pglite:./wh', 'json');
          writeFileSync(s.file, JSON.stringify({ users: [{ email: process.env.MARKER }] }), { mode: 0o600 });
          console.log(s.file);
          setInterval(() => {}, 1000);
        `;
        const p = spawn(process.execPath, ['--input-type=module', '-e', script], {
          stdio: ['ignore', 'pipe', 'pipe'],
          env: isolatedEnv(dir, { TMPDIR: dir, MARKER: marker }) as NodeJS.ProcessEnv,
        });
        let err = '';
        p.stderr!.on('data', (c: Buffer) => (err += c));
        const file = await new Promise<string>((r) => p.stdout!.on('data', (c: Buffer) => r(c.toString().trim())));
        expect(readFileSync(file, 'utf8')).toContain(marker);
        p.kill(sig);
        const killer = setTimeout(() => p.kill('SIGKILL'), 5_000);
        const [, signal] = await new Promise<[number | null, NodeJS.Signals | null]>((r) => p.on('close', (c, s) => r([c, s])));
        clearTimeout(killer);
        expect(signal).toBe(sig);
        expect(existsSync(file), `${file} left behind`).toBe(false);
        expectNoLeak(err, marker, 'stderr');
      } finally {
        cleanup();
      }
    });
  }
});
