import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { canary, expectNoLeak } from '../helpers/canary.js';
import { isolatedEnv, spawnCli, tempDir } from '../helpers/cli.js';

// `clariguard … | head`: the reader closes the pipe early. The CLI must end quietly (like a program killed by
// SIGPIPE: exit 141), with no EPIPE stack trace on stderr.
describe('stdout closed by the reader', () => {
  it('ends quietly with exit 141, no stack trace, no secret', async () => {
    const { dir, cleanup } = tempDir();
    try {
      const key = canary('cgkey');
      const rows = Array.from({ length: 40_000 }, (_, k) => ({ ownerName: `Ana Silva ${k % 50}`, ownerEmail: `ana${k % 50}@acme.com`, forecastAmount: k }));
      writeFileSync(join(dir, 'flat.json'), JSON.stringify(rows, null, 2));
      const child = spawnCli(['redact', '--in', join(dir, 'flat.json'), '--key', 'env:CG_KEY'], { env: isolatedEnv(dir, { CG_KEY: key }) });
      let err = '';
      child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
      await new Promise<void>((resolve) => child.stdout!.once('data', () => resolve()));
      child.stdout!.destroy();
      const code = await new Promise<number | null>((resolve) => child.on('close', (c) => resolve(c)));
      expect(code).toBe(141);
      expect(err).not.toMatch(/EPIPE|at .*\.js:\d+/);
      expectNoLeak(err, key);
    } finally {
      cleanup();
    }
  });
});
