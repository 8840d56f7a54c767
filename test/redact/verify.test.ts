import { createHash } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isolatedEnv, runCli, tempDir } from '../helpers/cli.js';
import { verifyRedaction } from '../../src/redact/index.js';

const sha = (s: string): string => createHash('sha256').update(s).digest('hex');

let tmp: { dir: string; cleanup: () => void };
beforeAll(() => {
  tmp = tempDir('clariguard-verify-');
});
afterAll(() => tmp.cleanup());

describe('verify-redaction', () => {
  it('reverses the common advice (bare SHA-256, 12 hex digits) from a roster and exits 1', async () => {
    const roster = join(tmp.dir, 'roster.csv');
    writeFileSync(roster, 'name,email,title\nAna Silva,ana.silva@acme.com,AE\nBob Jones,bob.jones@acme.com,AE\n');
    const bare = join(tmp.dir, 'bare.json');
    writeFileSync(
      bare,
      `${JSON.stringify([
        { ownerName: sha('Ana Silva').slice(0, 12), ownerEmail: sha('ana.silva@acme.com').slice(0, 12), forecastAmount: 4155550134 },
        { ownerName: sha('Bob Jones').slice(0, 12), ownerEmail: sha('bob.jones@acme.com').slice(0, 12), forecastAmount: 1 },
      ], null, 2)}\n`,
    );
    const r = await runCli(['verify-redaction', bare, '--roster', roster, '--json'], { env: isolatedEnv(tmp.dir) });
    expect(r.code).toBe(1);
    const res = JSON.parse(r.stdout);
    expect(res.clean).toBe(false);
    expect(res.reversed).toBe(4);
    expect(res.findings).toHaveLength(4);
    expect(res.findings.every((f: { kind: string }) => f.kind === 'unkeyed-sha256')).toBe(true);
    expect(res.findings[0]).toMatchObject({ file: bare, line: 3, column: 19 });
    // Details are masked: never the name or address in full.
    expect(r.stdout).not.toMatch(/Ana Silva|ana\.silva@acme\.com|Bob Jones/);
    expect(r.stdout).toContain('A** S****');
    const text = await runCli(['verify-redaction', bare, '--roster', roster], { env: isolatedEnv(tmp.dir) });
    expect(text.code).toBe(1);
    expect(text.stdout).toMatch(/bare\.json:3:19: unkeyed-sha256: /);
    expect(text.stderr).toMatch(/4 bare SHA-256 value\(s\) reversed/);
  });

  it('finds emails, phone numbers and roster names with line and column', async () => {
    const roster = join(tmp.dir, 'roster2.csv');
    writeFileSync(roster, 'User,Email\nChen Li,chen@acme.com\n');
    const f = join(tmp.dir, 'leaky.csv');
    writeFileSync(f, 'User,Note\nPerson-0123456789abcdef0123-k0a1b2c,call +1 415 555 0134\nx,mail chen@acme.com about CHEN LI\n');
    const res = await verifyRedaction(f, { roster });
    expect(res.findings.map((x) => [x.kind, x.line, x.column])).toEqual([
      ['phone', 2, 42],
      ['email', 3, 8],
      ['roster-name', 3, 28],
    ]);
    expect(JSON.stringify(res)).not.toContain('chen@acme.com');
    expect(JSON.stringify(res)).not.toContain('555 0134');
  });

  it('finds phone numbers in E.164 form (+14155550134), as the redactor replaces them', async () => {
    const f = join(tmp.dir, 'e164.ndjson');
    writeFileSync(f, '{"phone": "+14155550134"}\n{"n": "tel:+442079460958"}\n{"sha": "a91f3c77e2b54d08b6e1f4a2c9d3e7b5"}\n');
    const res = await verifyRedaction(f, {});
    expect(res.findings.map((x) => [x.kind, x.line, x.column])).toEqual([
      ['phone', 1, 12],
      ['phone', 2, 12],
    ]);
    expect(JSON.stringify(res)).not.toContain('5550134');
  });

  it('passes keyed pseudonyms, dates, amounts and ids', async () => {
    const f = join(tmp.dir, 'clean.json');
    writeFileSync(
      f,
      JSON.stringify({
        users: [{ userId: 'User-0123456789abcdef0123-k0a1b2c', email: '0123456789abcdef0123-k0a1b2c@redacted.invalid', kept: '0123456789abcdef0123-k0a1b2c@acme.com' }],
        entries: [{ forecastValue: 3000190.0, updatedOn: '2026-07-10T10:00:00Z', epoch: 1303324502462, crm: '005110000069tRpAAI' }],
      }),
    );
    const r = await runCli(['verify-redaction', f], { env: isolatedEnv(tmp.dir) });
    expect(r.stderr).toContain('no emails, phone numbers');
    expect(r.code).toBe(0);
  });

  it('digits inside ids (UUIDs, hex ids) are not phone numbers; a phone beside them still is', async () => {
    const ids = { source_id: '67ad4702-3879-4731-86ff-829d921f1c15', call: '946e3e63849b92d571c8924a', ref: 'x-4155550134-y', at: 'id_4155550134' };
    const clean = join(tmp.dir, 'ids.json');
    writeFileSync(clean, JSON.stringify([ids]));
    const ok = await runCli(['verify-redaction', clean], { env: isolatedEnv(tmp.dir) });
    expect(ok.code, ok.stdout).toBe(0);
    const dirty = join(tmp.dir, 'ids-phone.json');
    writeFileSync(dirty, JSON.stringify([{ ...ids, note: 'call 415-555-0134 re 67ad4702-3879-4731-86ff-829d921f1c15' }]));
    const bad = await runCli(['verify-redaction', dirty, '--json'], { env: isolatedEnv(tmp.dir) });
    expect(bad.code).toBe(1);
    expect((JSON.parse(bad.stdout) as { findings: { kind: string }[] }).findings.map((f) => f.kind)).toEqual(['phone']);
  });

  it('a missing input, roster, policy, rules or baseline file is exit 66 (no input), one line naming it', async () => {
    const env = isolatedEnv(tmp.dir);
    const nope = join(tmp.dir, 'nope.json');
    const policy = join(tmp.dir, 'nope.yaml');
    for (const args of [['verify-redaction', nope], ['verify-redaction', '--roster', join(tmp.dir, 'nope.csv'), nope], ['redact', '--in', nope, '--preset', 'flat-entries'], ['redact', '--policy', policy], ['scan', '--rules', policy, tmp.dir], ['scan', '--baseline', nope, tmp.dir]]) {
      const r = await runCli(args, { env });
      expect(r.code).toBe(66);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
      expect(r.stderr).toMatch(/nope\.(json|csv|yaml): no such file/);
    }
  });
});
