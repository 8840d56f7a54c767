import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import { InputError } from '../../src/errors.js';
import { RecordRedactor } from '../../src/redact/engine.js';
import type { Policy } from '../../src/redact/index.js';
import { rosterScanner } from '../../src/redact/ranges.js';
import { canary, expectNoLeak } from '../helpers/canary.js';
import { everyActionPolicy, pieces, streamRun } from '../helpers/redact-stream.js';

// The CSV byte path (rows handed over as raw field bounds, each field's outcome remembered by its bytes per
// column, kept fields copied) must give exactly what the string path gives: the same output bytes, the same
// counts, the same errors. The roster pre-pass, which reads only up to the last roster column and skips the
// rest of each record by its delimiters and quote parity, must collect the same names in the same order.

const KEY = Buffer.alloc(32, 5);

const RULE_COLUMNS = {
  name: 'User',
  email: 'Email',
  phone: 'Phone',
  id: 'CRM User ID',
  auto: 'Auto',
  round: 'Amount',
  bucket: 'Bucket',
  drop: 'Secret',
  mask: 'Masked',
  freeText: 'Notes',
  keep: 'Week',
};
const policyOf = (unknownFields: 'keep' | 'drop'): Policy => everyActionPolicy(unknownFields, RULE_COLUMNS);

const COLUMNS = [...Object.values(RULE_COLUMNS), 'Other', 'Ünï'];
// Fields as CSV text: plain, quoted, quoted with commas, quotes, CR/LF inside, empty, non-ASCII.
const FIELDS = [
  'Ana Silva',
  'José Núñez',
  '"Ana Silva"',
  'ana.silva@acme.com',
  '"Silva, Ana"',
  '+1 415 555 0134',
  'call Ana Silva at +1 415 555 0134 or ana.silva@acme.com',
  '"Bruno Okafor met ""José Núñez"" today"',
  '"two\nlines with Ana Silva"',
  '"cr\rinside"',
  '"crlf\r\ninside"',
  '',
  '""',
  '"$9,687,304.50"',
  '1234.5',
  '-17',
  '日本語 テキスト',
  'apikey: abcdefghijklmnop1234',
  `${'long text about Ana Silva '.repeat(14)}`,
  '00511000000001AAI',
  'Week 3',
  'lone\nlf',
  'lone\rcr',
];
const BROKEN = ['a"b', '"open', '"closed"x'];

const docArb = fc.record({
  cols: fc.uniqueArray(fc.constantFrom(...COLUMNS), { minLength: 1, maxLength: 8 }),
  rows: fc.array(fc.array(fc.constantFrom(...FIELDS), { minLength: 8, maxLength: 8 }), { minLength: 1, maxLength: 25 }),
  nl: fc.constantFrom('\n', '\r\n', '\r'),
  broken: fc.option(fc.record({ row: fc.nat(30), col: fc.nat(7), text: fc.constantFrom(...BROKEN) }), { freq: 8 }),
  wrongWidth: fc.option(fc.nat(30), { freq: 10 }),
  blankLines: fc.boolean(),
  trailingNl: fc.boolean(),
});

type Doc = typeof docArb extends fc.Arbitrary<infer T> ? T : never;

function csvText(d: Doc): string {
  const w = d.cols.length;
  const lines = [d.cols.map((c) => (/[",\r\n]/.test(c) ? `"${c}"` : c)).join(',')];
  d.rows.forEach((r, i) => {
    // An unquoted CR or LF is content unless it is (part of) the record delimiter: keep the generated file
    // well formed unless a break is asked for.
    const notContent = d.nl === '\n' ? /\n/g : d.nl === '\r' ? /\r/g : /\r(?=\n)|(?<=\r)\n/g;
    let fields = r.slice(0, w).map((f) => (f.startsWith('"') ? f : f.replace(notContent, ' ')));
    if (d.broken && d.broken.row === i) fields[d.broken.col % w] = d.broken.text;
    if (d.wrongWidth === i) fields = fields.concat('extra');
    lines.push(fields.join(','));
    if (d.blankLines && i % 3 === 1) lines.push('');
  });
  return lines.join(d.nl) + (d.trailingNl ? d.nl : '');
}

const run = (doc: string, chunks: number[], policy: Policy, textOnly: boolean) => streamRun(doc, chunks, { key: KEY, policy, format: 'csv', sourceName: 'doc.csv', textOnly });

function rosterOf(doc: string, chunks: number[], policy: Policy, textOnly: boolean): string[] | { error: string } {
  if (textOnly) process.env.CLARIGUARD_REDACT_TEXT = '1';
  try {
    const engine = new RecordRedactor(policy, KEY, { sourceName: 'doc.csv' });
    const s = rosterScanner(engine, 'csv');
    for (const p of pieces(Buffer.from(doc), chunks)) s.push(p);
    s.end();
    return engine.roster.entries().map((e) => JSON.stringify(e));
  } catch (err) {
    if (!(err instanceof InputError)) throw err;
    return { error: err.message };
  } finally {
    delete process.env.CLARIGUARD_REDACT_TEXT;
  }
}

describe('CSV byte path', () => {
  afterEach(() => {
    delete process.env.CLARIGUARD_REDACT_TEXT;
  });

  it("gives the string path's bytes, counts and errors for random CSV, whatever the chunking (property)", async () => {
    await fc.assert(
      fc.asyncProperty(docArb, fc.array(fc.integer({ min: 1, max: 300 }), { maxLength: 30 }), fc.constantFrom<'keep' | 'drop'>('keep', 'drop'), async (d, chunks, unknown) => {
        const doc = csvText(d);
        const policy = policyOf(unknown);
        expect(await run(doc, chunks, policy, false)).toEqual(await run(doc, chunks, policy, true));
      }),
      { numRuns: 200 },
    );
  });

  it('the roster pre-pass collects the same names in the same order, skipping what follows the roster columns (property)', () => {
    fc.assert(
      fc.property(docArb, fc.integer({ min: 3, max: 200 }), (d, chunk) => {
        // Well-formed files only: on a malformed one the redaction pass, which reads every byte, names the error.
        const doc = csvText({ ...d, broken: null, wrongWidth: null });
        const chunks = Array.from({ length: Math.ceil(doc.length / chunk) }, () => chunk);
        const policy = policyOf('keep');
        expect(rosterOf(doc, chunks, policy, false)).toEqual(rosterOf(doc, chunks, policy, true));
      }),
      { numRuns: 300 },
    );
  });

  it('gives the same output when a column never repeats (its table fills up and turns itself off)', async () => {
    const rows = ['CRM User ID,User,Week'];
    for (let i = 0; i < 34_000; i++) rows.push(`ref-${i},${i % 2 ? 'Ana Silva' : '"Núñez, José"'},${i}`);
    const doc = `${rows.join('\r\n')}\r\n`;
    const policy = policyOf('keep');
    expect(await run(doc, [65536], policy, false)).toEqual(await run(doc, [65536], policy, true));
  });

  it('names the line and offset of a malformed row, like the string path', async () => {
    const policy = policyOf('keep');
    for (const bad of BROKEN) {
      const doc = `User,Week\nAna Silva,1\nJosé Núñez,${bad}\n`;
      const got = await run(doc, [], policy, false);
      expect(got).toEqual(await run(doc, [], policy, true));
      expect((got as { error: string }).error).toMatch(/doc\.csv.*line 3/);
    }
    // The roster pre-pass, which reads only up to the roster columns, never stops a run on bad input (the
    // redaction pass names the first error in file order); after records whose skipped part spans lines it
    // still collects the names before the bad one.
    for (const nl of ['\n', '\r\n', '\r']) {
      const doc = ['User,Notes,Week', 'Ana Silva,"two\nlines, ""quoted""",1', 'José Núñez,"x\r\ny",2', 'Bad"name,z,3', 'Bo Li,w,4', ''].join(nl);
      expect(rosterOf(doc, [7], policy, false)).toEqual(rosterOf(doc, [7], policy, true));
      expect((rosterOf(doc, [7], policy, false) as string[]).length).toBe(2);
      expect(await run(doc, [7], policy, false)).toEqual({ error: expect.stringMatching(/doc\.csv.*line 6.*quote inside an unquoted field/) });
    }
  });

  it('keeps no PII in remembered fields (the canary never comes back unredacted)', async () => {
    const secret = canary('csv-byte-email').replace(/[^A-Za-z0-9]/g, '').slice(0, 20).toLowerCase();
    const email = `${secret}@acme.com`;
    const doc = `Email,Notes,Other\n${`${email},write to ${email},"${email}, again"\n`.repeat(5)}`;
    const got = await run(doc, [40], policyOf('keep'), false);
    expect('text' in got).toBe(true);
    expectNoLeak((got as { text: string }).text, secret);
  });
});
