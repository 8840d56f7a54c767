import { Parser as CsvParser } from 'csv-parse';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { CsvSplitter } from '../../src/redact/csv-splitter.js';
import { InputError } from '../../src/errors.js';

type Outcome = { rows: string[][] } | { error: true };

/** The reference: csv-parse with the options redaction used before the hand-written splitter. */
function viaCsvParse(input: Buffer): Promise<Outcome> {
  return new Promise((resolve) => {
    const rows: string[][] = [];
    const p = new CsvParser({ bom: true, skip_empty_lines: true, relax_column_count: false });
    p.on('readable', () => {
      for (let r = p.read() as string[] | null; r; r = p.read() as string[] | null) rows.push(r);
    });
    p.on('error', () => resolve({ error: true }));
    p.on('end', () => resolve({ rows }));
    p.end(input);
  });
}

function viaSplitter(input: Buffer, chunkSizes: number[]): Outcome {
  const rows: string[][] = [];
  const s = new CsvSplitter('x.csv', (f) => rows.push([...f]));
  try {
    let i = 0;
    let k = 0;
    while (i < input.length) {
      const n = Math.max(1, chunkSizes[k++ % chunkSizes.length] ?? input.length);
      s.push(input.subarray(i, i + n));
      i += n;
    }
    s.end();
  } catch (e) {
    if (e instanceof InputError) return { error: true };
    throw e;
  }
  return { rows };
}

// Pieces that exercise quoting, doubled quotes, delimiters of all three kinds, BOM and multi-byte text.
const piece = fc.constantFrom('a', 'b', 'Ana Silva', 'é', '€', ',', '"', '""', '\n', '\r\n', '\r', ' ', '"x,y"', '"q""q"', '"multi\nline"', '1');
const csvText = fc.tuple(fc.boolean(), fc.array(piece, { maxLength: 40 })).map(([bom, parts]) => Buffer.from((bom ? '\ufeff' : '') + parts.join('')));

/** Well-formed CSV built from rows, so most cases parse (random pieces mostly produce errors). */
const field = fc.oneof(fc.constantFrom('', 'x', 'Ana', 'a,b', 'say "hi"', 'two\nlines', 'crlf\r\nin', 'ü€'), fc.string({ maxLength: 6 }));
const quoteIfNeeded = (f: string, force: boolean): string => (force || /[",\r\n]/.test(f) ? `"${f.replace(/"/g, '""')}"` : f);
const wellFormed = fc
  .tuple(fc.integer({ min: 1, max: 4 }), fc.constantFrom('\n', '\r\n', '\r'), fc.boolean(), fc.boolean())
  .chain(([w, nl, bom, trailing]) =>
    fc.array(fc.array(fc.tuple(field, fc.boolean()), { minLength: w, maxLength: w }), { minLength: 1, maxLength: 6 }).map((rows) => {
      const text = rows.map((r) => r.map(([f, q]) => quoteIfNeeded(f, q)).join(',')).join(nl) + (trailing ? nl : '');
      return Buffer.from((bom ? '\ufeff' : '') + text);
    }),
  );

describe('CsvSplitter agrees with csv-parse', () => {
  const chunks = fc.array(fc.integer({ min: 1, max: 7 }), { maxLength: 5 });
  it('on random text (same rows, or both reject it)', async () => {
    await fc.assert(
      fc.asyncProperty(csvText, chunks, async (input, sizes) => {
        expect(viaSplitter(input, sizes)).toEqual(await viaCsvParse(input));
      }),
      { numRuns: 1500 },
    );
  });
  it('on well-formed CSV split into arbitrary chunks', async () => {
    await fc.assert(
      fc.asyncProperty(wellFormed, chunks, async (input, sizes) => {
        const ref = await viaCsvParse(input);
        expect(viaSplitter(input, sizes)).toEqual(ref);
      }),
      { numRuns: 800 },
    );
  });

  it('names the line and byte offset of bad quoting', () => {
    const run = (t: string): string => {
      try {
        viaSplitter(Buffer.from(t), []);
        return 'ok';
      } catch (e) {
        return (e as Error).message;
      }
    };
    const msg = (t: string): string => {
      const s = new CsvSplitter('f.csv', () => undefined);
      try {
        s.push(Buffer.from(t));
        s.end();
        return 'ok';
      } catch (e) {
        return (e as Error).message;
      }
    };
    expect(run('a,b\n1,2\n')).toBe('ok');
    expect(msg('a,b\n1,"2\n')).toBe('f.csv (line 2, byte offset 6): malformed CSV: a quoted field is not closed before the end of the input');
    expect(msg('a,b\n1,x"y\n')).toBe('f.csv (line 2, byte offset 7): malformed CSV: a quote inside an unquoted field');
    expect(msg('a,b\n"m\nn",2\n"1"x,2\n')).toBe("f.csv (line 4, byte offset 15): malformed CSV: unexpected 'x' after a closing quote");
    expect(msg('a,b\n1,2,3\n')).toBe('f.csv (line 2, byte offset 4): malformed CSV: wrong number of fields: expected 2, got 3');
  });

  it('decodes only the wanted fields', () => {
    const rows: string[][] = [];
    const s = new CsvSplitter('f.csv', (f) => rows.push([...f]), [false, true]);
    s.push(Buffer.from('a,"b""c"\r\nd,e\r\n'));
    s.end();
    expect(rows).toEqual([['', 'b"c'], ['', 'e']]);
  });
});
