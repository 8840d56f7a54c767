/**
 * createRedactor(policy, key) as a library user calls it, from the package entry: the transform streams
 * JSON, NDJSON and CSV, its one-record function gives the same values, and the key may be the SecretValue
 * a store returns (issue 4: "the pseudonymisation key is a secret reference").
 */
import { Readable } from 'node:stream';
import { text } from 'node:stream/consumers';
import { describe, expect, it } from 'vitest';
import {
  createRedactor,
  presetPolicy,
  keyIdOf,
  SecretValue,
  redactRecords,
  formatFromName,
  sniffFormat,
  pseudonymKeyFromSecret,
  type RedactFileOptions,
  type RedactStreamOptions,
  type RedactionPolicy,
  type Redactor,
} from '../../src/index.js';
import { canary, expectNoLeak } from '../helpers/canary.js';

const records = [
  { ownerName: 'Ana Silva', ownerEmail: 'ana.silva@acme.example', amount: 1234.5, notes: 'call Ana Silva on +1 415 555 0134' },
  { ownerName: 'Bo Li', ownerEmail: 'bo.li@acme.example', amount: 10, notes: 'wrote to ana.silva@acme.example' },
];

async function through(r: Redactor, format: 'json' | 'ndjson' | 'csv', input: string): Promise<string> {
  // Two chunks cut mid-record: the transform must stream, not need the whole input at once.
  const b = Buffer.from(input);
  return text(Readable.from([b.subarray(0, 37), b.subarray(37)]).pipe(r.transform(format)));
}

describe('createRedactor from the package entry', () => {
  const key = Buffer.alloc(32, 9);
  const policy: RedactionPolicy = presetPolicy('flat-entries');

  it('streams JSON, NDJSON and CSV with the same values as the one-record function', async () => {
    const one = createRedactor(policy, key);
    // The roster learns the names as records pass; redact once to warm it, then compare (as a stream would).
    for (const r of records) one.redactRecord(r);
    const expected = records.map((r) => one.redactRecord(r) as Record<string, unknown>);
    expect(JSON.stringify(expected)).not.toContain('acme.example');
    expect(JSON.stringify(expected)).not.toContain('Ana Silva');

    const nd = await through(createRedactor(policy, key), 'ndjson', records.map((r) => JSON.stringify(r)).join('\n') + '\n');
    expect(nd.trim().split('\n').map((l) => JSON.parse(l))).toEqual(expected);

    const js = await through(createRedactor(policy, key), 'json', JSON.stringify(records));
    expect(JSON.parse(js)).toEqual(expected);

    const header = 'ownerName,ownerEmail,amount,notes';
    const csv = [header, ...records.map((r) => [r.ownerName, r.ownerEmail, r.amount, `"${r.notes}"`].join(','))].join('\r\n') + '\r\n';
    const out = await through(createRedactor(policy, key), 'csv', csv);
    const rows = out.trim().split('\r\n').slice(1).map((l) => l.split(','));
    expect(rows.map((c) => [c[0], c[1], c[3]])).toEqual(expected.map((e) => [e.ownerName, e.ownerEmail, e.notes]));
  });

  it('takes the key as a SecretValue, as readSecret() returns it, and never writes it out', async () => {
    const raw = canary('cgkey');
    const secret = new SecretValue(raw);
    const asBuffer = pseudonymKeyFromSecret(secret);
    const viaSecret = createRedactor(policy, secret);
    const viaBuffer = createRedactor(policy, asBuffer);
    const a = viaSecret.redactRecord(records[0]);
    expect(a).toEqual(viaBuffer.redactRecord(records[0]));
    expect(viaSecret.report().keyId).toBe(keyIdOf(asBuffer));
    const out = await through(createRedactor(policy, secret), 'ndjson', records.map((r) => JSON.stringify(r)).join('\n') + '\n');
    expectNoLeak(out, raw);
    expectNoLeak(JSON.stringify(viaSecret.report()), raw, 'report');
    // A base64 key (what loadPseudonymKey generates) is decoded, not used as its text.
    const b64 = new SecretValue(Buffer.alloc(32, 3).toString('base64'));
    expect(pseudonymKeyFromSecret(b64).equals(Buffer.alloc(32, 3))).toBe(true);
  });

  it('exports the helpers and option types the CLI uses', () => {
    expect(redactRecords([{ section: null, record: records[0] }], policy, key).records).toHaveLength(1);
    expect(formatFromName('q3.ndjson')).toBe('ndjson');
    expect(typeof sniffFormat).toBe('function');
    const o: RedactFileOptions | RedactStreamOptions = { key };
    expect(o.key).toBe(key);
  });
});
