import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { canary, expectNoLeak, expectNoLeakInDir } from '../helpers/canary.js';
import { isolatedEnv, ROOT, runCli, tempDir } from '../helpers/cli.js';

const FIX = join(ROOT, 'test', 'redact', 'fixtures');
const GOLDEN = join(ROOT, 'test', 'redact', 'golden');
// A fixed key makes the output reproducible; golden files pin the pseudonym recipe and every preset.
const GOLDEN_KEY = Buffer.from('golden-key-0123456789abcdef0123').toString('base64');

const PRESET_OF: Record<string, string> = {
  'forecast.json': 'forecast-json',
  'export.csv': 'forecast-csv',
  'flat.json': 'flat-entries',
  'activity.ndjson': 'activity',
  'audit.json': 'audit',
  'copilot-calls.json': 'copilot-calls',
  'copilot-call-details.json': 'copilot-calls',
};

let tmp: { dir: string; cleanup: () => void };
let env: Record<string, string | undefined>;
beforeAll(() => {
  tmp = tempDir('clariguard-redact-');
  env = isolatedEnv(tmp.dir, { CG_KEY: GOLDEN_KEY });
});
afterAll(() => tmp.cleanup());

describe('clariguard redact: golden output per preset (auto-detected)', () => {
  for (const [file, preset] of Object.entries(PRESET_OF)) {
    it(`${file} -> ${preset}`, async () => {
      const r = await runCli(['redact', '--key', 'env:CG_KEY', '--in', join(FIX, file), '--json'], { env });
      expect(r.stderr).toContain(`"preset":"${preset}"`);
      expect(r.code).toBe(0);
      const golden = join(GOLDEN, `${file}.out`);
      if (process.env.UPDATE_GOLDEN || !existsSync(golden)) {
        mkdirSync(GOLDEN, { recursive: true });
        writeFileSync(golden, r.stdout);
      }
      expect(r.stdout).toBe(readFileSync(golden, 'utf8'));
      // The output is still the same kind of document.
      if (file.endsWith('.json')) expect(() => JSON.parse(r.stdout)).not.toThrow();
      if (file.endsWith('.ndjson')) for (const l of r.stdout.trim().split('\n')) expect(() => JSON.parse(l)).not.toThrow();
      // No email or person from the input survives (the fixtures only hold acme/customer people).
      for (const pii of ['acme.com', 'customer.io', 's-clari.com', 'Ana Silva', 'Bob Jones', 'Dana Okafor', 'Chen Li', '555-0134', '7946 0958', 'AKIAIOSFODNN7EXAMPLE', 'X-Amz-Signature']) {
        expect(r.stdout, `${pii} in ${file}`).not.toContain(pii);
      }
      // And verify-redaction agrees.
      const out = join(tmp.dir, `${file}.redacted`);
      writeFileSync(out, r.stdout);
      const v = await runCli(['verify-redaction', out, '--json'], { env });
      expect(JSON.parse(v.stdout).findings).toEqual([]);
      expect(v.code).toBe(0);
    });
  }

  it('the text-rewriting fast path and the parse/stringify path agree on every fixture', async () => {
    for (const file of Object.keys(PRESET_OF).filter((f) => !f.endsWith('.csv'))) {
      const slow = await runCli(['redact', '--key', 'env:CG_KEY', '--in', join(FIX, file)], { env: { ...env, CLARIGUARD_REDACT_PARSED: '1' } });
      expect(slow.code).toBe(0);
      const parse = (s: string): unknown => (file.endsWith('.ndjson') ? s.trim().split('\n').map((l) => JSON.parse(l)) : JSON.parse(s));
      expect(parse(slow.stdout), file).toEqual(parse(readFileSync(join(GOLDEN, `${file}.out`), 'utf8')));
    }
  });

  it('worker threads give byte-identical output and the same counts', async () => {
    for (const file of ['forecast.json', 'flat.json', 'activity.ndjson']) {
      const r = await runCli(['redact', '--key', 'env:CG_KEY', '--threads', '2', '--in', join(FIX, file), '--json'], { env });
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout).toBe(readFileSync(join(GOLDEN, `${file}.out`), 'utf8'));
      const one = await runCli(['redact', '--key', 'env:CG_KEY', '--in', join(FIX, file), '--json'], { env });
      const strip = (s: string): unknown => ({ ...JSON.parse(s), durationMs: 0 });
      expect(strip(r.stderr)).toEqual(strip(one.stderr));
      // stdin cannot be cut into ranges: there --threads hands batches of records to a pool of workers, which
      // must give what one thread gives on stdin (no roster pre-pass there, so not always the file's golden).
      const input = readFileSync(join(FIX, file));
      const piped = await runCli(['redact', '--key', 'env:CG_KEY', '--threads', '2', '--json'], { env, input });
      const pipedOne = await runCli(['redact', '--key', 'env:CG_KEY', '--json'], { env, input });
      expect(piped.code, piped.stderr).toBe(0);
      expect(piped.stdout).toBe(pipedOne.stdout);
      expect(strip(piped.stderr)).toEqual(strip(pipedOne.stderr));
    }
  });

  it('same preset chosen explicitly gives the same bytes; stdin works', async () => {
    const input = readFileSync(join(FIX, 'flat.json'));
    const a = await runCli(['redact', '--key', 'env:CG_KEY', '--preset', 'flat-entries'], { env, input });
    expect(a.code).toBe(0);
    expect(a.stdout).toBe(readFileSync(join(GOLDEN, 'flat.json.out'), 'utf8'));
  });
});

describe('clariguard redact: output file, report, key', () => {
  it('writes --out atomically with a PII-free report, and a canary key never appears anywhere', async () => {
    const key = canary('cgkey');
    const dir = join(tmp.dir, 'canary');
    mkdirSync(dir);
    const e = isolatedEnv(dir, { CG_CANARY_KEY: key });
    const out = join(dir, 'out.json');
    const rep = join(dir, 'report.json');
    const r = await runCli(['redact', '--key', 'env:CG_CANARY_KEY', '--in', join(FIX, 'forecast.json'), '--out', out, '--report', rep], { env: e });
    expect(r.code).toBe(0);
    expectNoLeak(r.stdout, key, 'stdout');
    expectNoLeak(r.stderr, key, 'stderr');
    expectNoLeakInDir(dir, key);
    const report = JSON.parse(readFileSync(rep, 'utf8'));
    expect(report.rows).toBe(5);
    expect(report.keyId).toMatch(/^k[0-9a-f]{6}$/);
    expect(report.detectors.email).toBeGreaterThan(0);
    const text = readFileSync(rep, 'utf8');
    for (const pii of ['Ana', 'acme', '415']) expect(text).not.toContain(pii);
    expect(readdirSync(dir).filter((f) => f.endsWith('.tmp'))).toEqual([]);
  });

  it('a canary key pasted into free text is removed', async () => {
    const key = canary('cgkey');
    const input = JSON.stringify([{ ownerName: 'Zed Zulu', ownerEmail: 'z@z.example', timePeriod: `note ${key}` }]);
    const r = await runCli(['redact', '--key', 'env:K'], { env: isolatedEnv(tmp.dir, { K: key }), input });
    expect(r.code).toBe(0);
    expectNoLeak(r.stdout, key);
    expect(r.stdout).toContain('[credential-removed]');
  });

  it('generates the default local key on first use and reuses it (stable pseudonyms)', async () => {
    const dir = join(tmp.dir, 'fresh');
    mkdirSync(dir);
    const e = isolatedEnv(dir);
    const input = readFileSync(join(FIX, 'flat.json'));
    const a = await runCli(['redact'], { env: e, input });
    const b = await runCli(['redact'], { env: e, input });
    expect(a.code).toBe(0);
    expect(a.stdout).toBe(b.stdout);
    expect(a.stdout).not.toBe(readFileSync(join(GOLDEN, 'flat.json.out'), 'utf8'));
  });

  it('lists presets', async () => {
    const r = await runCli(['redact', '--list-presets', '--json'], { env });
    expect(JSON.parse(r.stdout).presets.map((p: { name: string }) => p.name)).toEqual(expect.arrayContaining(['forecast-json', 'forecast-csv', 'flat-entries', 'activity', 'audit', 'copilot-calls']));
  });

  it('applies a YAML policy: round, bucket, drop, mask, keepDomain, unknown drop', async () => {
    const pol = join(tmp.dir, 'policy.yaml');
    writeFileSync(
      pol,
      [
        'version: 1',
        'unknownFields: drop',
        'rules:',
        '  - { path: ownerName, action: mask }',
        '  - { path: ownerEmail, action: pseudonymize-email, keepDomain: true }',
        '  - { path: forecastAmount, action: round, to: 1000 }',
        '  - { path: quotaAmount, action: bucket, buckets: [0, 100000, 1000000] }',
        '  - { path: crmTotal, action: drop }',
      ].join('\n'),
    );
    const r = await runCli(['redact', '--key', 'env:CG_KEY', '--policy', pol, '--in', join(FIX, 'flat.json')], { env });
    expect(r.code).toBe(0);
    const rows = JSON.parse(r.stdout);
    expect(rows[0]).toEqual({ ownerName: '[masked]', ownerEmail: expect.stringMatching(/^[0-9a-f]{20}-k[0-9a-f]{6}@acme\.com$/), forecastAmount: 125000, quotaAmount: '100000-1000000' });
    expect(rows[1].notes).toBeUndefined();
  });

  it('rejects an invalid policy with exit 78 naming the problem', async () => {
    const pol = join(tmp.dir, 'bad-policy.yaml');
    writeFileSync(pol, 'rules:\n  - { path: x, action: shred }\n');
    const r = await runCli(['redact', '--key', 'env:CG_KEY', '--policy', pol, '--in', join(FIX, 'flat.json')], { env });
    expect(r.code).toBe(78);
    expect(r.stderr).toContain('bad-policy.yaml');
  });

  it('unknownFields: fail stops with exit 65 and leaves no output', async () => {
    const pol = join(tmp.dir, 'strict.yaml');
    writeFileSync(pol, 'unknownFields: fail\nrules:\n  - { path: ownerName, action: pseudonymize, as: name }\n');
    const out = join(tmp.dir, 'strict-out.json');
    const r = await runCli(['redact', '--key', 'env:CG_KEY', '--policy', pol, '--in', join(FIX, 'flat.json'), '--out', out], { env });
    expect(r.code).toBe(65);
    expect(r.stderr).toMatch(/ownerEmail is not covered/);
    expect(existsSync(out)).toBe(false);
  });

  it('an --out or --report that cannot be written: one line, exit 74, nothing written, no stack trace', async () => {
    const gone = join(tmp.dir, 'no-such-dir');
    const okOut = join(tmp.dir, 'report-target-out.json');
    for (const [args, out] of [
      [['--out', join(gone, 'o.json')], undefined],
      [['--out', okOut, '--report', join(gone, 'r.json')], okOut],
    ] as [string[], string | undefined][]) {
      const r = await runCli(['redact', '--key', 'env:CG_KEY', '--in', join(FIX, 'flat.json'), ...args], { env });
      expect(r.code).toBe(74);
      expect(r.stderr).toContain('no-such-dir');
      expect(r.stderr).not.toMatch(/internal error|\n\s+at /);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
      if (out) expect(existsSync(out)).toBe(false);
    }
    expect(existsSync(gone)).toBe(false);
  });

  it('on stdin, a name in free text before the roster field of the same record (or a later one in the chunk) is replaced', async () => {
    const cases: [string, string][] = [
      ['ndjson', '{"activityId": "a1", "activityType": "MEETING", "subject": "QBR with Dana Okafor", "participants": [{"name": "Dana Okafor", "email": "dana@customer.io"}]}\n{"activityId": "a2", "activityType": "MEETING", "subject": "Dana Okafor again", "participants": []}\n'],
      ['json', '[{"notes": "Chen Li to sync", "ownerName": "Chen Li", "ownerEmail": "chen.li@acme.com", "forecastAmount": 1}]'],
      ['csv', 'Notes,User,Email,CRM User ID,Data Value\n"ask Ana Silva",Ana Silva,ana@acme.com,005A,1\n'],
    ];
    for (const [format, input] of cases) {
      const r = await runCli(['redact', '--key', 'env:CG_KEY', '--format', format, ...(format === 'csv' ? ['--preset', 'forecast-csv'] : [])], { env, input });
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout).not.toMatch(/Dana Okafor|Chen Li|Ana Silva/);
      expect(r.stdout).toMatch(/Person-/);
    }
    // Worker threads on stdin: each worker reads its batch's roster fields before redacting the batch.
    const word = (i: number): string => `Q${[...i.toString(26)].map((d) => String.fromCharCode(97 + parseInt(d, 26))).join('')}orn`;
    const many = Array.from({ length: 2000 }, (_, i) => JSON.stringify({ activityId: `a${i}`, activityType: 'MEETING', subject: `QBR with Zed ${word(i)}`, participants: [{ name: `Zed ${word(i)}`, email: `z${i}@c.io` }] })).join('\n');
    const t = await runCli(['redact', '--key', 'env:CG_KEY', '--format', 'ndjson', '--threads', '2'], { env, input: `${many}\n` });
    expect(t.code, t.stderr).toBe(0);
    expect(t.stdout.split('\n').filter(Boolean)).toHaveLength(2000);
    expect(t.stdout).not.toMatch(/Zed Q/);
  });

  it('on stdin with --threads, a name whose owner record went to another worker is replaced in free text', async () => {
    // Batches are ~512 KB (about 3,000 of these records) and go to the workers in turn, so record i + 5000
    // (mentioning the participant of record i) is redacted by another worker than the one that met the person.
    const word = (i: number): string => `Q${[...i.toString(26)].map((d) => String.fromCharCode(97 + parseInt(d, 26))).join('')}orn`;
    const rec = (i: number): string => JSON.stringify({ activityId: `a${i}`, activityType: 'MEETING', subject: i >= 5000 ? `follow up on Zed ${word(i - 5000)} deal` : 'weekly sync', participants: [{ name: `Zed ${word(i)}`, email: `z${i}@c.io` }], pad: 'x'.repeat(60) });
    const input = `${Array.from({ length: 10000 }, (_, i) => rec(i)).join('\n')}\n`;
    const t = await runCli(['redact', '--key', 'env:CG_KEY', '--format', 'ndjson', '--threads', '2'], { env, input });
    expect(t.code, t.stderr).toBe(0);
    expect(t.stdout.split('\n').filter(Boolean)).toHaveLength(10000);
    expect(t.stdout).not.toMatch(/Zed Q/);
    // The same bytes as one thread.
    const one = await runCli(['redact', '--key', 'env:CG_KEY', '--format', 'ndjson'], { env, input });
    expect(one.stdout).toBe(t.stdout);
  });

  it('an explicit preset made for another shape is refused (exit 2, no output), never a silent pass-through', async () => {
    const presets = [...new Set(Object.values(PRESET_OF))];
    for (const [file, own] of Object.entries(PRESET_OF)) {
      for (const preset of presets.filter((p) => p !== own)) {
        const out = join(tmp.dir, `x-${preset}-${file}`);
        const r = await runCli(['redact', '--key', 'env:CG_KEY', '--in', join(FIX, file), '--preset', preset, '--out', out], { env });
        expect(r.code, `${preset} on ${file}`).toBe(2);
        expect(r.stderr.trim().split('\n')).toHaveLength(1);
        expect(r.stderr).toMatch(new RegExp(`looks like a ${own} export .*not ${preset}: use --preset ${own}`));
        expect(existsSync(out)).toBe(false);
      }
    }
  });

  it('refuses to guess an unknown shape (exit 2)', async () => {
    const r = await runCli(['redact', '--key', 'env:CG_KEY'], { env, input: '[{"foo": 1}]' });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/cannot tell which Clari export/);
  });
});

describe('clariguard redact: malformed input -> exit 65 with file, line, offset; no output file', () => {
  const cases: [string, string | Buffer, RegExp][] = [
    ['truncated.json', '[\n  {"ownerName": "Ana Silva", "ownerEmail": "ana@acme.com"},\n  {"ownerName": "Bo', /truncated\.json \(line 3, byte offset \d+\): truncated JSON/],
    ['garbage.json', '[\n{"ownerName": "Ana", "ownerEmail": "a@b.co"},\n{"ownerName": "Bob" "ownerEmail": 1}\n]', /garbage\.json \(line 3, byte offset \d+\): malformed JSON/],
    ['trailing.json', '[{"ownerName": "Ana", "ownerEmail": "a@b.co"}] x', /trailing\.json \(line 1, byte offset 47\): unexpected data/],
    ['badquote.csv', 'User,Email,CRM User ID,Data Value\nAna,"a@b.co,1,2\n', /badquote\.csv \(line \d+, byte offset \d+\): malformed CSV/],
    ['badutf8.json', Buffer.concat([Buffer.from('[{"ownerName": "An'), Buffer.from([0xff, 0xfe]), Buffer.from('a", "ownerEmail": "a@b.co"}]')]), /badutf8\.json \(line 1, byte offset 18\): invalid UTF-8/],
    // A BOM is not JSON (RFC 8259 §8.1); the message says so instead of "expected a JSON object" at offset 0.
    ['bom.json', Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from('[{"ownerName": "Ana", "ownerEmail": "a@acme.co"}]')]), /bom\.json \(line 1, byte offset 0\): a UTF-8 byte order mark \(BOM\)/],
    ['bom.ndjson', Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from('{"ownerName": "Ana", "ownerEmail": "a@acme.co"}\n{"ownerName": "Bo", "ownerEmail": "b@acme.co"}\n')]), /bom\.ndjson \(line 1, byte offset 0\): a UTF-8 byte order mark \(BOM\)/],
    ['badutf8.csv', Buffer.concat([Buffer.from('User,Email,CRM User ID,Data Value\nAn'), Buffer.from([0xc3, 0x28]), Buffer.from('a,a@b.co,1,2\n')]), /badutf8\.csv \(line 2, byte offset 36\): invalid UTF-8/],
  ];
  for (const [name, content, re] of cases) {
    it(name, async () => {
      const inFile = join(tmp.dir, name);
      writeFileSync(inFile, content);
      const out = join(tmp.dir, `${name}.out`);
      const r = await runCli(['redact', '--key', 'env:CG_KEY', '--in', inFile, '--out', out, ...(name.endsWith('.csv') ? ['--preset', 'forecast-csv'] : ['--preset', 'flat-entries'])], { env });
      expect(r.code).toBe(65);
      expect(r.stderr).toMatch(re);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
      expect(existsSync(out)).toBe(false);
      expect(readdirSync(tmp.dir).filter((f) => f.startsWith(`.${name}.out`))).toEqual([]);
      // The message does not echo the PII around the error.
      expect(r.stderr).not.toContain('acme');
    });
  }
});
