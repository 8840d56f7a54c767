import { writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { tempDir } from '../helpers/cli.js';

// Which file runs are cut into ranges (redactInRanges), watched through the module.
vi.mock('../../src/redact/parallel.js', async (importOriginal) => {
  const orig = await importOriginal<typeof import('../../src/redact/parallel.js')>();
  return { ...orig, redactInRanges: vi.fn(orig.redactInRanges) };
});
const { redactInRanges } = await import('../../src/redact/parallel.js');
const { redactFile } = await import('../../src/redact/index.js');

const KEY = Buffer.alloc(32, 5);

describe('the default thread count of a file run', () => {
  afterEach(() => {
    vi.mocked(redactInRanges).mockClear();
    delete process.env.CLARIGUARD_REDACT_THREADS;
  });

  it('reads a big JSON file in one thread on fewer than 4 CPUs, cuts it when threads are asked for, and cuts a big CSV', async () => {
    const { dir, cleanup } = tempDir();
    try {
      // Over the 16 MB threshold.
      const rec = (i: number) => `  {"ownerName": "Person ${i % 500}", "ownerEmail": "p${i % 500}@acme.com", "forecastAmount": ${i}, "timePeriod": "2026_Q1"}`;
      const json = join(dir, 'big.json');
      writeFileSync(json, `[\n${Array.from({ length: 190_000 }, (_, i) => rec(i)).join(',\n')}\n]\n`);
      const csv = join(dir, 'big.csv');
      const row = (i: number) => `Person ${i % 500},p${i % 500}@acme.com,0051100000${String(i % 500).padStart(4, '0')}AAI,Rep,VP,July FY 2026,Commit,1,06/30/2026,06/30/2026,Forecast Value,${i}`;
      writeFileSync(csv, `User,Email,CRM User ID,Role,Parent Role,Timeframe,Field,Week,Start Day,End Day,Data Type,Data Value\n${Array.from({ length: 190_000 }, (_, i) => row(i)).join('\n')}\n`);
      const cuts = async (file: string, threads?: number): Promise<boolean> => {
        vi.mocked(redactInRanges).mockClear();
        await redactFile({ in: file, out: join(dir, `out-${threads}-${file.endsWith('.csv') ? 'c.csv' : 'j.json'}`), key: KEY, threads });
        return vi.mocked(redactInRanges).mock.calls.length > 0;
      };
      expect(await cuts(json)).toBe(availableParallelism() >= 4);
      expect(await cuts(json, 2)).toBe(true);
      expect(await cuts(json, 1)).toBe(false);
      expect(await cuts(csv)).toBe(availableParallelism() >= 2);
    } finally {
      cleanup();
    }
  }, 120_000);
});
