import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import { ByteOut } from '../../src/redact/byte-out.js';
import { ByteResult } from '../../src/redact/byte-rewriter.js';
import { DROP, RecordRedactor } from '../../src/redact/engine.js';
import { parsePolicy, redactStream, type Policy } from '../../src/redact/index.js';
import { Readable, Writable } from 'node:stream';
import { canary, expectNoLeak } from '../helpers/canary.js';
import { everyActionPolicy, streamRun as runStream } from '../helpers/redact-stream.js';

// The byte path (flat records redacted on their bytes, each value's outcome remembered by its bytes) must
// give exactly what the text path gives: the same output bytes, the same counts, and the same records refused
// as not JSON. Records here mix every rule action, unknown fields, escapes, non-ASCII text, odd whitespace,
// nested values (left to the text path) and invalid JSON.

const KEY = Buffer.alloc(32, 9);

const FIELDS = { name: 'name', email: 'email', phone: 'ph', id: 'id', auto: 'auto', round: 'amt', bucket: 'bk', drop: 'secret', mask: 'msk', freeText: 'note', keep: 'k' };
const policyOf = (unknownFields: 'keep' | 'drop'): Policy => everyActionPolicy(unknownFields, FIELDS);

const KEYS = [...Object.values(FIELDS), 'other', 'ünï'];
// Values as JSON text, valid and not.
const STRINGS = [
  '"Ana Silva"',
  '"José Núñez"',
  '"ana.silva@acme.com"',
  '"+1 415 555 0134"',
  '"call Ana Silva at +1 415 555 0134 or ana.silva@acme.com"',
  '"Bruno Okafor met José Núñez"',
  '""',
  '"ab"',
  '"say \\"hi\\"\\n\\tbye \\\\ \\/ \\u00e9\\u00E9"',
  '"Ana \\u0053ilva"',
  '"日本語 テキスト"',
  '"apikey: abcdefghijklmnop1234"',
  `"${'long text about Ana Silva '.repeat(14)}"`,
  '"2026_Q1"',
];
const LITERALS = ['0', '-0.5e3', '12345.678', '1E+2', '999', '-1', 'true', 'false', 'null'];
const NESTED = ['{"a":1}', '[1,"Ana Silva"]', '[]', '{}'];
const BROKEN = ['"tab\there"', '"bad \\x escape"', '"cut \\u12"', '01', '1.', 'tru', '"unterminated'];
const WS = ['', ' ', '\n', '  \n    ', '\t', '\r\n'];

const valueArb = fc.oneof(
  { weight: 8, arbitrary: fc.constantFrom(...STRINGS) },
  { weight: 4, arbitrary: fc.constantFrom(...LITERALS) },
  { weight: 1, arbitrary: fc.constantFrom(...NESTED) },
);
const wsArb = fc.constantFrom(...WS);
const memberArb = fc.record({ key: fc.constantFrom(...KEYS), escapedKey: fc.boolean(), value: valueArb, ws: fc.array(wsArb, { minLength: 3, maxLength: 3 }) });

function recordText(members: { key: string; escapedKey: boolean; value: string; ws: string[] }[], trailing: string, broken: string | null): string {
  const parts = members.map((m) => {
    // An escaped key spells the same name another way: the text path reads it, the byte path hands it over.
    const key = m.escapedKey ? `"${[...m.key].map((c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`).join('')}"` : JSON.stringify(m.key);
    return `${m.ws[0]}${key}${m.ws[1]}:${m.ws[2]}${m.value}`;
  });
  if (broken !== null) parts.push(`"k":${broken}`);
  return `{${parts.join(',')}${trailing}}`;
}

const recordArb = fc.record({
  members: fc.array(memberArb, { maxLength: 9 }),
  trailing: wsArb,
  broken: fc.option(fc.constantFrom(...BROKEN), { freq: 12 }),
});

// Records the WebAssembly runs take (record-rewrite.wat): mostly valid flat members, now and then one that
// sends the record back (an escaped key, a nested value, bytes that are not JSON).
const takeableRecordArb = fc.record({
  members: fc.array(
    fc.record({
      key: fc.constantFrom(...KEYS),
      escapedKey: fc.constantFrom(false, false, false, false, false, false, false, false, false, false, false, false, false, false, false, false, false, false, false, true),
      value: fc.oneof({ weight: 10, arbitrary: fc.constantFrom(...STRINGS) }, { weight: 6, arbitrary: fc.constantFrom(...LITERALS) }, { weight: 1, arbitrary: fc.constantFrom(...NESTED) }),
      ws: fc.array(wsArb, { minLength: 3, maxLength: 3 }),
    }),
    { maxLength: 9 },
  ),
  trailing: wsArb,
  // fc.option's freq is one in how many is null: here, one record in 30 is broken.
  broken: fc.oneof({ weight: 29, arbitrary: fc.constant(null) }, { weight: 1, arbitrary: fc.constantFrom(...BROKEN) }),
});

type Outcome = { text: string | null } | { error: string };

/** What writeRawRecord does, either starting with the byte path or not. */
function redactOne(e: RecordRedactor, text: string, useBytes: boolean): Outcome {
  const where = { line: 1, offset: 0 };
  try {
    if (useBytes) {
      const out = new ByteOut(16);
      const buf = Buffer.from(text);
      const r = e.byteRewriter().rewrite(buf, 0, buf.length, null, where, out);
      if (r === ByteResult.Done) {
        // The byte path only ever takes JSON.
        expect(() => JSON.parse(text)).not.toThrow();
        return { text: out.buf.toString('utf8', 0, out.len) };
      }
      if (r === ByteResult.Syntax) return parsed(e, text);
    }
    const r = e.rewriteRecord(text, null, where);
    if (r !== null) return { text: r === DROP ? null : r };
    return parsed(e, text);
  } catch (err) {
    return { error: (err as Error).message };
  }
}

function parsed(e: RecordRedactor, text: string): Outcome {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    return { error: 'not JSON' };
  }
  const r = e.redactRecord(v, null);
  return { text: r === DROP ? null : JSON.stringify(r) };
}

const counts = (e: RecordRedactor) => {
  const r = e.finishReport();
  return { rows: r.rows, rules: r.rules, detectors: r.detectors, unknownFields: r.unknownFields, roster: r.roster.size };
};

describe('byte path for flat records', () => {
  it("gives the text path's bytes and counts for random records (property)", () => {
    fc.assert(
      fc.property(fc.array(recordArb, { minLength: 1, maxLength: 25 }), fc.constantFrom<'keep' | 'drop'>('keep', 'drop'), (recs, unknown) => {
        const policy = policyOf(unknown);
        const a = new RecordRedactor(policy, KEY);
        const b = new RecordRedactor(policy, KEY);
        for (const r of recs) {
          const text = recordText(r.members, r.trailing, r.broken);
          const got = redactOne(a, text, true);
          const want = redactOne(b, text, false);
          expect(got).toEqual(want);
          // A run ends at its first bad record (exit 65): counts after that mean nothing.
          if ('error' in want) return;
        }
        expect(counts(a)).toEqual(counts(b));
      }),
      { numRuns: 300 },
    );
  });

  it('gives the same output when a field never repeats (its table fills up and turns itself off)', () => {
    const policy = policyOf('keep');
    const a = new RecordRedactor(policy, KEY);
    const b = new RecordRedactor(policy, KEY);
    const out = new ByteOut();
    const where = { line: 1, offset: 0 };
    let differ = 0;
    // Past the table's 32,768 entries: 'id' is fresh on every record; 'name' repeats.
    for (let i = 0; i < 34_000; i++) {
      const text = `{"id":"ref-${i}","name":"${i % 2 ? 'Ana Silva' : 'José Núñez'}","k":${i}.5}`;
      const buf = Buffer.from(text);
      out.len = 0;
      if (a.byteRewriter().rewrite(buf, 0, buf.length, null, where, out) !== ByteResult.Done) differ++;
      else if (out.buf.toString('utf8', 0, out.len) !== b.rewriteRecord(text, null, where)) differ++;
    }
    expect(differ).toBe(0);
    expect(counts(a)).toEqual(counts(b));
  });

  it('refuses what is not JSON, like the parser', () => {
    const e = new RecordRedactor(policyOf('keep'), KEY);
    for (const bad of BROKEN) {
      const text = `{"name":"Ana Silva","k":${bad}}`;
      expect(redactOne(e, text, true)).toEqual({ error: 'not JSON' });
    }
    // Trailing bytes after the record, a missing brace, a trailing comma.
    for (const text of ['{"k":1} x', '{"k":1', '{"k":1,}', '{"k" 1}', '{k:1}']) expect(redactOne(e, text, true)).toEqual({ error: 'not JSON' });
  });

  it('keeps no PII in the remembered values after a run (the canary never comes back unredacted)', () => {
    const secret = canary('byte-path-email').replace(/[^A-Za-z0-9]/g, '').slice(0, 20).toLowerCase();
    const email = `${secret}@acme.com`;
    const e = new RecordRedactor(policyOf('keep'), KEY);
    for (let i = 0; i < 3; i++) {
      const got = redactOne(e, `{"email":"${email}","note":"write to ${email}","other":"${email}"}`, true);
      expect('text' in got).toBe(true);
      expectNoLeak((got as { text: string }).text, secret);
    }
  });
});

describe('free text seen before', () => {
  it('adds the counts its first scan added (a roster name replaced by an email pseudonym stays a roster-name find)', () => {
    const policy = parsePolicy({ unknownFields: 'keep', rules: [{ path: 'email', action: 'pseudonymize-email', roster: true }] });
    const e = new RecordRedactor(policy, KEY);
    e.redactRecord({ email: 'Ana Silva' });
    for (let i = 0; i < 3; i++) e.redactRecord({ other: 'Ana Silva' });
    expect(e.report.detectors).toMatchObject({ 'roster-name': 3, email: 0 });
  });
});

// Whole documents through the stream, cut into chunks at random: records cut by a chunk's end are read again
// whole, and their partial counts are taken back.
const streamRun = (doc: string, chunks: number[], policy: Policy, textOnly: boolean, format: 'json' | 'ndjson' = 'json') =>
  runStream(doc, chunks, { key: KEY, policy, format, sourceName: 'doc.json', textOnly });

describe('byte path inside the structural scan', () => {
  afterEach(() => {
    delete process.env.CLARIGUARD_REDACT_TEXT;
  });

  it('streams documents to the same bytes, counts and errors as the text path, whatever the chunking (property)', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(recordArb, { minLength: 1, maxLength: 20 }),
        fc.array(fc.integer({ min: 1, max: 400 }), { maxLength: 40 }),
        fc.constantFrom<'keep' | 'drop'>('keep', 'drop'),
        fc.constantFrom(',\n', ',\n  ', ' , '),
        async (recs, chunks, unknown, sep) => {
          const doc = `[${recs.map((r) => recordText(r.members, r.trailing, r.broken)).join(sep)}]\n`;
          const policy = policyOf(unknown);
          const got = await streamRun(doc, chunks, policy, false);
          const want = await streamRun(doc, chunks, policy, true);
          expect(got).toEqual(want);
          // The same with runs of records in WebAssembly off (the byte path in JavaScript only).
          process.env.CLARIGUARD_REDACT_WASM = '0';
          try {
            expect(await streamRun(doc, chunks, policy, false)).toEqual(want);
          } finally {
            delete process.env.CLARIGUARD_REDACT_WASM;
          }
        },
      ),
      { numRuns: 150 },
    );
  });

  it('takes runs of records in WebAssembly with the bytes, counts and errors of the byte path in JavaScript (property)', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(takeableRecordArb, { minLength: 1, maxLength: 40 }),
        fc.array(fc.integer({ min: 1, max: 600 }), { maxLength: 20 }),
        fc.constantFrom<'keep' | 'drop'>('keep', 'drop'),
        fc.constantFrom(',\n', ',\n  ', ' , ', ','),
        async (recs, chunks, unknown, sep) => {
          const doc = `[${recs.map((r) => recordText(r.members, r.trailing, r.broken)).join(sep)}]\n`;
          const policy = policyOf(unknown);
          const got = await streamRun(doc, chunks, policy, false);
          process.env.CLARIGUARD_REDACT_WASM = '0';
          try {
            expect(got).toEqual(await streamRun(doc, chunks, policy, false));
          } finally {
            delete process.env.CLARIGUARD_REDACT_WASM;
          }
          expect(got).toEqual(await streamRun(doc, chunks, policy, true));
        },
      ),
      { numRuns: 250 },
    );
  });

  it('names bytes that are not UTF-8 inside a record taken in WebAssembly as the JavaScript path does', async () => {
    const good = '{"name": "Ana Silva", "note": "José met Ana Silva", "amt": 1200}';
    const run = async (wasm: boolean, bad: boolean) => {
      if (!wasm) process.env.CLARIGUARD_REDACT_WASM = '0';
      try {
        const doc = Buffer.concat([Buffer.from(`[${good},\n${good},\n{"name": "Bruno Okafor", "note": "caf`), Buffer.from(bad ? [0xc3, 0x28] : [0xc3, 0xa9]), Buffer.from(`"},\n${good}]\n`)]);
        const parts: Buffer[] = [];
        const out = new Writable({ write: (c: Buffer, _e, cb) => (parts.push(c), cb()) });
        const report = await redactStream(Readable.from([doc]), out, { key: KEY, policy: policyOf('keep'), format: 'json', sourceName: 'doc.json' });
        return { text: Buffer.concat(parts).toString(), rows: report.rows, detectors: report.detectors, rules: report.rules };
      } catch (e) {
        return { error: (e as Error).message };
      } finally {
        delete process.env.CLARIGUARD_REDACT_WASM;
      }
    };
    const ok = await run(true, false);
    expect(ok).toEqual(await run(false, false));
    expect(ok).toMatchObject({ rows: 4 });
    const bad = await run(true, true);
    expect(bad).toEqual(await run(false, true));
    expect(bad).toMatchObject({ error: expect.stringMatching(/doc\.json \(line 3, byte offset \d+\)/) });
  });

  it('streams NDJSON to the same bytes, counts and errors whatever the chunking, byte path or not (property)', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(recordArb, { minLength: 1, maxLength: 20 }),
        fc.array(fc.integer({ min: 1, max: 300 }), { maxLength: 40 }),
        fc.constantFrom('\n', '\r\n', '\n\n  '),
        async (recs, chunks, nl) => {
          // NDJSON: one record per line, so no newline inside a record.
          const doc = recs.map((r) => recordText(r.members.map((m) => ({ ...m, ws: m.ws.map((w) => w.replace(/[\r\n]/g, ' ')) })), ' ', r.broken)).join(nl) + nl;
          const policy = policyOf('keep');
          const whole = await streamRun(doc, [], policy, false, 'ndjson');
          expect(await streamRun(doc, chunks, policy, false, 'ndjson')).toEqual(whole);
          expect(await streamRun(doc, chunks, policy, true, 'ndjson')).toEqual(whole);
        },
      ),
      { numRuns: 100 },
    );
  });
});
