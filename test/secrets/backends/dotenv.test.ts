import { chmodSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { InputError } from '../../../src/errors.js';
import { DotenvBackend, parseDotenv } from '../../../src/secrets/backends/dotenv.js';
import { parseSecretRef } from '../../../src/secrets/ref.js';
import { SecretValue } from '../../../src/secrets/value.js';
import { canary, expectNoLeak } from '../../helpers/canary.js';
import { tempDir } from '../../helpers/cli.js';

const values = (text: string) => Object.fromEntries([...parseDotenv(text, '.env')].map(([k, v]) => [k, v.value]));

describe('parseDotenv', () => {
  it('handles export, quotes, escapes, comments, CRLF, BOM and multi-line values', () => {
    const text = [
      '\uFEFF# comment',
      'PLAIN=abc',
      'export EXPORTED=value1',
      '  SPACED  =  padded  ',
      'INLINE=foo # a comment',
      'HASH=a#b',
      "SINGLE='lit $X \\n # not a comment'",
      'DOUBLE="line1\\nline2 \\"q\\" \\\\"',
      'BACKTICK=`it\'s "both"`',
      'MULTI="first',
      'second"',
      'EMPTY=',
      'QUOTED_COMMENT="v" # trailing',
      'PLAIN=last-wins',
    ].join('\r\n');
    expect(values(text)).toEqual({
      PLAIN: 'last-wins',
      EXPORTED: 'value1',
      SPACED: 'padded',
      INLINE: 'foo',
      HASH: 'a#b',
      SINGLE: 'lit $X \\n # not a comment',
      DOUBLE: 'line1\nline2 "q" \\',
      BACKTICK: `it's "both"`,
      MULTI: 'first\nsecond',
      EMPTY: '',
      QUOTED_COMMENT: 'v',
    });
    expect(parseDotenv(text, '.env').get('EMPTY')!.line).toBe(12);
  });

  it('fails on malformed input with the file and line, never the line text', () => {
    const secret = canary();
    const cases: [string, number, RegExp][] = [
      [`A=1\n${secret}\n`, 2, /expected KEY=VALUE/],
      [`A=1\nB="${secret}\nC=3\n`, 2, /unterminated " quote/],
      [`A='${secret}' junk\n`, 1, /after the closing quote/],
      [`1BAD=${secret}\n`, 1, /invalid variable name/],
    ];
    for (const [text, line, re] of cases) {
      let err: unknown;
      try {
        parseDotenv(text, '/tmp/app/.env');
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(InputError);
      expect((err as InputError).message).toMatch(re);
      expect((err as InputError).line).toBe(line);
      expect((err as InputError).message.startsWith(`/tmp/app/.env (line ${line})`)).toBe(true);
      expectNoLeak((err as Error).message, secret);
    }
  });
});

describe('dotenv backend', () => {
  let dir: string;
  let cleanup: () => void;
  beforeEach(() => ({ dir, cleanup } = tempDir()));
  afterEach(() => cleanup());

  it('reads a key (relative or absolute path), describes it, and refuses writes', async () => {
    const token = canary();
    writeFileSync(join(dir, '.env'), `# app\nexport CLARI_API_KEY="${token}"\nOTHER=x\n`, { mode: 0o600 });
    const b = new DotenvBackend(dir);
    expect((await b.read(parseSecretRef('dotenv:.env#CLARI_API_KEY'))).reveal()).toBe(token);
    const abs = parseSecretRef(`dotenv:${join(dir, '.env')}#CLARI_API_KEY`);
    expect(abs.path).toBe(join(dir, '.env'));
    expect((await new DotenvBackend('/').read(abs)).reveal()).toBe(token);
    const d = await b.describe(parseSecretRef('dotenv:.env#CLARI_API_KEY'));
    expect(d).toMatchObject({ backend: 'dotenv', rotatedAt: null, versions: [{ id: 'file', stages: ['current'] }] });
    expectNoLeak(JSON.stringify(d), token);
    await expect(b.write(parseSecretRef('dotenv:.env#X'), new SecretValue('v'))).rejects.toMatchObject({ exitCode: 2, code: 'read_only' });
    await expect(b.read(parseSecretRef('dotenv:.env#MISSING'))).rejects.toMatchObject({ exitCode: 66 });
    await expect(b.read(parseSecretRef('dotenv:nope.env#X'))).rejects.toMatchObject({ exitCode: 66 });
    await expect(b.read(parseSecretRef('dotenv:.env'))).rejects.toMatchObject({ exitCode: 2 });
  });

  it('refuses an oversized or endless source (exit 65 naming it) instead of reading it all into memory', async () => {
    writeFileSync(join(dir, 'huge.env'), `${'#'.repeat(17 << 20)}\nK=v\n`);
    const b = new DotenvBackend(dir);
    await expect(b.read(parseSecretRef('dotenv:huge.env#K'))).rejects.toMatchObject({ exitCode: 65, message: expect.stringMatching(/huge\.env/) });
    await expect(b.read(parseSecretRef('dotenv:/dev/zero#K'))).rejects.toMatchObject({ exitCode: 65, message: expect.stringMatching(/\/dev\/zero/) });
  });

  it('reports a world-readable .env as a wildcard reader', async () => {
    const f = join(dir, '.env');
    writeFileSync(f, 'K=v\n');
    chmodSync(f, 0o644);
    const r = await new DotenvBackend(dir).readers(parseSecretRef('dotenv:.env#K'));
    expect(r.wildcard).toBe(true);
    chmodSync(f, 0o600);
    expect((await new DotenvBackend(dir).readers(parseSecretRef('dotenv:.env#K'))).wildcard).toBe(false);
  });
});
