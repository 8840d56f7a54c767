import { PassThrough } from 'node:stream';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { MaskingStream, PatternSet } from '../../src/masking/masker.js';
import { secretVariants } from '../../src/masking/variants.js';
import { leakForms } from '../helpers/canary.js';

async function pipeChunks(patterns: PatternSet, chunks: Buffer[]): Promise<Buffer> {
  const m = new MaskingStream(patterns);
  const out: Buffer[] = [];
  m.on('data', (c: Buffer) => out.push(c));
  const done = new Promise((r) => m.on('end', r));
  for (const c of chunks) m.write(c);
  m.end();
  await done;
  return Buffer.concat(out);
}

const SECRET = 'clari_tok_Zx81Qw7Lp0Vn3Rt5';

/** `bytes` cut at the given points (taken modulo its length, any order). */
function cutAt(bytes: Buffer, cuts: number[]): Buffer[] {
  const points = [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b);
  const chunks: Buffer[] = [];
  let last = 0;
  for (const p of points) {
    chunks.push(bytes.subarray(last, p));
    last = p;
  }
  chunks.push(bytes.subarray(last));
  return chunks;
}

describe('secret variants', () => {
  it('covers raw, base64 (all alignments), base64url, url-encoded and hex forms', () => {
    const v = secretVariants('a+b/c=d&e f~\u00e9');
    const b = Buffer.from('a+b/c=d&e f~\u00e9');
    expect(v).toContain('a+b/c=d&e f~\u00e9');
    expect(v).toContain(b.toString('base64'));
    expect(v).toContain(b.toString('base64url'));
    expect(v).toContain(encodeURIComponent('a+b/c=d&e f~\u00e9'));
    expect(v).toContain(b.toString('hex'));
    expect(v).toContain(b.toString('hex').toUpperCase());
  });

  it('catches the value base64-encoded inside a longer payload at any byte offset', () => {
    const ps = PatternSet.forSecrets([SECRET]);
    for (const prefix of ['', 'u', 'us', 'user:', 'x'.repeat(7)]) {
      const blob = Buffer.from(`${prefix}${SECRET}:tail`).toString('base64');
      expect(ps.maskString(`Authorization: Basic ${blob}`), prefix).toContain('***');
      const masked = ps.maskString(`Authorization: Basic ${blob}`);
      // What remains must not decode back to the secret.
      expect(Buffer.from(masked.split(' ').pop()!, 'base64').toString('latin1')).not.toContain(SECRET);
    }
  });

  it('catches a long value base64-encoded by a line-wrapping encoder (base64: 76 columns, openssl: 64; LF or CRLF), also in chunks', async () => {
    const long = `clari_tok_${'Qw7Lp0Vn3Rt5Zx81'.repeat(6)}`;
    const ps = PatternSet.forSecrets([long]);
    const plain = Buffer.from(`${long}\n`).toString('base64');
    for (const width of [64, 76]) {
      for (const eol of ['\n', '\r\n']) {
        const wrapped = (plain.match(new RegExp(`.{1,${width}}`, 'g')) ?? []).join(eol) + eol;
        const masked = ps.maskString(`$ echo $TOKEN | base64${eol}${wrapped}`);
        expect(masked, `${width} ${JSON.stringify(eol)}`).toContain('***');
        // At most the few characters that mix the value's last byte with the newline are left.
        const rest = masked.split('***').pop()!.replace(/\s/g, '');
        expect(rest.length, `${width} ${JSON.stringify(eol)}`).toBeLessThanOrEqual(4);
        const chunked = await pipeChunks(ps, [...Buffer.from(wrapped)].map((b) => Buffer.of(b)));
        expect(chunked.toString()).toBe(ps.maskString(wrapped));
      }
    }
  });

  it('catches a value with quotes, backslashes or newlines as JSON prints it (a service-account key, a PEM, a password)', () => {
    const secret = 'line1-Qw7Lp0Vn"quoted\\back\nline2-Rt5Zx81\t\u0001end';
    const ps = PatternSet.forSecrets([secret]);
    const json = JSON.stringify({ key: secret });
    const masked = ps.maskString(json);
    expect(masked).toContain('***');
    expect(JSON.parse(masked).key).not.toContain('Qw7Lp0Vn');
    expect(JSON.parse(masked).key).not.toContain('Rt5Zx81');
  });
});

describe('MaskingStream', () => {
  it('masks every encoded form written in one chunk', async () => {
    const ps = PatternSet.forSecrets([SECRET]);
    const text = leakForms(SECRET).join(' | ');
    const out = (await pipeChunks(ps, [Buffer.from(text)])).toString();
    for (const f of leakForms(SECRET)) expect(out).not.toContain(f);
  });

  it('masks a value written one byte at a time', async () => {
    const ps = PatternSet.forSecrets([SECRET]);
    const bytes = Buffer.from(`before ${SECRET} middle ${Buffer.from(SECRET).toString('hex')} after`);
    const chunks = [...bytes].map((b) => Buffer.from([b]));
    const out = (await pipeChunks(ps, chunks)).toString();
    expect(out).toBe('before *** middle *** after');
  });

  it('passes unrelated bytes through unchanged, including partial prefixes at the end', async () => {
    const ps = PatternSet.forSecrets([SECRET]);
    const out = (await pipeChunks(ps, [Buffer.from('hello clari_tok_'), Buffer.from('Zx8 done clari_')])).toString();
    expect(out).toBe('hello clari_tok_Zx8 done clari_');
  });

  it('property: for any split of any surrounding text, no form of the secret survives', async () => {
    const ps = PatternSet.forSecrets([SECRET]);
    await fc.assert(
      fc.asyncProperty(
        fc.string(),
        fc.string(),
        fc.constantFrom(...leakForms(SECRET)),
        fc.array(fc.nat(), { maxLength: 8 }),
        async (pre, post, form, cuts) => {
          const bytes = Buffer.from(`${pre}${form}${post}`);
          const chunks = cutAt(bytes, cuts);
          const out = await pipeChunks(ps, chunks);
          expect(out.toString('latin1')).not.toContain(Buffer.from(form).toString('latin1'));
        },
      ),
      { numRuns: 300 },
    );
  });

  it('masks padded base64 written one byte at a time exactly as in one chunk (no "==" left behind)', async () => {
    // The unpadded base64 is a complete pattern before the padding arrives; a longer pattern still in
    // progress must win, as it does when the bytes come in one chunk.
    const secret = 'xgwZ';
    const ps = PatternSet.forSecrets([secret]);
    const text = `a ${Buffer.from(secret).toString('base64')} b`;
    expect(Buffer.from(secret).toString('base64')).toMatch(/==$/);
    const bytes = Buffer.from(text);
    const whole = (await pipeChunks(ps, [bytes])).toString();
    expect(whole).toBe('a *** b');
    expect((await pipeChunks(ps, [...bytes].map((b) => Buffer.from([b])))).toString()).toBe(whole);
  });

  it('property: any split gives the same output as one chunk', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.string({ unit: fc.constantFrom('a', 'b', 'Z', '=', '+', '/', '%', ' ', 'é'), minLength: 4, maxLength: 14 }),
        fc.array(fc.nat(), { maxLength: 10 }),
        fc.array(fc.nat(), { minLength: 1, maxLength: 5 }),
        async (secret, cuts, picks) => {
          const ps = PatternSet.forSecrets([secret, `${secret.slice(0, 2)}Z`]);
          const forms = [...leakForms(secret), ...leakForms(`${secret.slice(0, 2)}Z`)];
          const bytes = Buffer.from(picks.map((p) => `${'ab'.slice(0, p % 3)}${forms[p % forms.length]}`).join(''));
          const chunks = cutAt(bytes, cuts);
          expect((await pipeChunks(ps, chunks)).toString('latin1')).toBe(ps.maskBuffer(bytes).toString('latin1'));
        },
      ),
      { numRuns: 300 },
    );
  });

  it('is a pass-through when there is nothing to mask', async () => {
    const src = new PassThrough();
    const m = new MaskingStream(new PatternSet([]));
    src.pipe(m);
    const out: Buffer[] = [];
    m.on('data', (c: Buffer) => out.push(c));
    src.end(Buffer.from([0, 1, 2, 255]));
    await new Promise((r) => m.on('end', r));
    expect(Buffer.concat(out)).toEqual(Buffer.from([0, 1, 2, 255]));
  });
});
