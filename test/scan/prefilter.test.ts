import { chmodSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { Detector } from '../../src/scan/engine.js';
import { DEFAULT_RULES, knownTokenRule, scan } from '../../src/scan/index.js';
import { exactLinePattern, gitGrepCandidates, keywordLinePattern, prefilterPatterns } from '../../src/scan/prefilter.js';
import type { Rule } from '../../src/scan/types.js';
import { commitAll, git, initRepo, writeFiles } from './helpers.js';

// The work-tree pre-filter must never drop a file the rules would report: every file in which a rule's
// detect() finds anything has to be listed by git grep with that rule's line patterns. Checked here on
// generated text, with the real git, for each built-in rule, the --known rule and keyword-only rules.

const dirs: string[] = [];
function tempRepo(): string {
  const dir = mkdtempSync(join(tmpdir(), 'cg-prefilter-'));
  dirs.push(dir);
  initRepo(dir);
  return dir;
}
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

const NAMES = ['CLARI_API_KEY', 'clari_token', 'clariApiKey', 'apikey', 'api_key', 'X-Api-Key', 'x-api-password', 'partnerkey', 'token', 'AWS_SECRET_ACCESS_KEY', 'db_password', 'passwd', 'pwd', 'credential', 'auth_token', 'passphrase', 'signing_key', 'https', 'http', 'xtoken', 'url', 'tokenhttp', 'secret.key', '$token', 'ENV[\'CLARI_TOKEN\']'];
const PREFIXES = ['', '', ' ', '  ', '\t', '-', '--', '"', "'", '\\"', 'export ', '(', '("', '[', '{', '-H "', 'const ', 'x.', 'api.clari.com ', '# '];
const SEPS = ['=', ' = ', ': ', ':', ':=', '=>', ' => ', ' <- ', '+=', '?=', '==', '::', ', ', ',', ' ', '\t', '"]: ', '"]:\t', '": ', "' => ", '\\": \\"', ': string = ', ':\n  string = ', ': String =\n ', '(', '\n', '://', ':\r', ' \x0b '];
const BEARERS = ['', '', '', 'Bearer ', 'bearer\n  ', 'BEARER\t', 'Bearer'];
const QUOTES = ['', '', '"', "'", '`', '\\"', "\\'", '\\`'];
const VALUE_CHARS = 'aZ09xY7_-./+=:@%#$&?!~Ωé\u00a0'.split('');
const value = fc.oneof(
  fc.constantFrom(
    'q7Rv2Lx9Kp4Wm8Zt3Nb6Yc1Hd5Fj0Gs',
    'a91f3c77e2b54d08b6e1f4a2c9d3e7b5',
    'ZkmQvRtXwLpBnYcJhDfGsAeTuZkmQvRtXwLpBn',
    'Zk3mQ8vR1t',
    'Zk3mQ8vR1tX6',
    'Zk3mQ8vR1tX6w',
    'ab://cd3mQ8vR1tX6wL9p',
    '//api.clari.com/v4/jobs3x',
    'process.env.X',
    '${X}',
    'Zk3mQ8vR1tX6\u00a0wL9pB2nY5c',
    'Zk3mQ8vR1tX6\u2028wL9pB2nY5c',
    'Ωé3mQ8vR1tX6wL9pB2nY5c',
  ),
  fc.array(fc.constantFrom(...VALUE_CHARS), { minLength: 8, maxLength: 40 }).map((a) => a.join('')),
);
const assignment = fc
  .tuple(fc.constantFrom(...PREFIXES), fc.constantFrom(...NAMES), fc.constantFrom(...SEPS), fc.constantFrom(...BEARERS), fc.constantFrom(...QUOTES), value, fc.constantFrom(...QUOTES))
  .map((parts) => parts.join(''));
const HEX = '0123456789abcdef';
const ALNUM = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
const run = (alphabet: string, n: number): fc.Arbitrary<string> => fc.array(fc.constantFrom(...alphabet.split('')), { minLength: n, maxLength: n + 3 }).map((a) => a.join(''));
const token = fc.oneof(
  run(ALNUM, 36).map((s) => `ghp_${s}`),
  run(`${ALNUM}_`, 60).map((s) => `github_pat_${s}`),
  run(`${ALNUM}_-`, 24).map((s) => `hvs.${s}`),
  run(`${ALNUM}-`, 10).map((s) => `xoxb-${s}`),
  run(`${ALNUM}_-`, 35).map((s) => `AIza${s}`),
  run(`${ALNUM}_-`, 40).map((s) => `ops_ey${s}`),
  run(`${ALNUM}+/`, 80).map((s) => `DefaultEndpointsProtocol=https;AccountKey=${s}==`),
  run('ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789', 58).map((s) => `AGE-SECRET-KEY-1${s}`),
  run('ABCDEFGHIJKLMNOPQRSTUVWXYZ234567', 16).map((s) => `AKIA${s}`),
  run(ALNUM, 24).map((s) => `-----BEGIN RSA PRIVATE KEY-----\n${s}\n-----END RSA PRIVATE KEY-----`),
  run(ALNUM, 24).map((s) => `-----BEGIN PRIVATE KEY-----\\n${s}`),
  run(`${ALNUM}!%`, 8).map((s) => `postgres://etl:${s}@db.internal:5432/x`),
  run(HEX, 64).map((s) => `https://b.s3.amazonaws.com/k?X-Amz-Credential=x&X-Amz-Signature=${s}`),
  run(HEX, 64).map((s) => `"https://storage.googleapis.com/b/o?x-goog-signature=${s}"`),
  run(`${ALNUM}%`, 30).map((s) => `https://a.blob.core.windows.net/c/f?sv=2022-11-02&se=2026&sp=r&SIG=${s}`),
  run(`${ALNUM}%`, 30).map((s) => `https://d1.cloudfront.net/m.mp4?Expires=1767225600&Signature=${s}&Key-Pair-Id=K2`),
  run(ALNUM, 24).map((s) => `https://api.CLARI.com/v4/export/jobs/1/results?token=${s}`),
  run(ALNUM, 24).map((s) => `https://rest-api.copilot.clari.com:443/x?limit=1&key=${s}#frag`),
);
const FILLER = [' ', '\n', '\r\n', 'api.clari.com', 'clari ', 'https://api.clari.com/v4/export ', '// comment ', '\t', '\u00a0', 'é', '\u2028'];
const fileText = fc.array(fc.oneof(assignment, assignment, token, fc.constantFrom(...FILLER)), { minLength: 1, maxLength: 8 }).map((p) => p.join(''));
const FILE_NAMES = ['.env', 'config.yaml', 'app.py', 'client.ts', 'notes.md', 'run.sh', 'nb.ipynb', 'settings.json', 'Makefile'];

/** Files (name -> text) in which `rule.detect` finds something must all be listed by git grep. */
async function checkRule(rule: Rule, texts: string[], nameOf: (i: number) => string): Promise<void> {
  const dir = tempRepo();
  const files: Record<string, string> = {};
  texts.forEach((t, i) => (files[nameOf(i)] = t));
  writeFiles(dir, files);
  const patterns = prefilterPatterns([rule]);
  expect(patterns).not.toBeNull();
  const listed = await gitGrepCandidates(dir, [dir], patterns!);
  expect(listed).not.toBeNull();
  for (const [file, text] of Object.entries(files)) {
    const decoded = Buffer.from(text, 'utf8').toString('utf8');
    const base = file.slice(file.indexOf('/') + 1);
    if (rule.detect({ file: base, text: decoded }).length > 0 && !listed!.has(file)) {
      throw new Error(`${rule.id}: git grep missed ${file}: ${JSON.stringify(text)}`);
    }
  }
  rmSync(dir, { recursive: true, force: true });
}

describe('git grep line patterns are a necessary condition of every rule', () => {
  for (const rule of DEFAULT_RULES) {
    it(`${rule.id}: every file the rule reports is listed`, async () => {
      await fc.assert(
        fc.asyncProperty(fc.array(fileText, { minLength: 20, maxLength: 40 }), async (texts) => {
          await checkRule(rule, texts, (i) => `f${i}/${FILE_NAMES[i % FILE_NAMES.length]}`);
        }),
        { numRuns: 12 },
      );
    }, 60_000);
  }

  it('rule samples: every true positive is listed', async () => {
    for (const rule of DEFAULT_RULES) {
      const tps = rule.samples!.truePositives;
      await checkRule(rule, tps.map((s) => s.text), (i) => `s${i}/${tps[i].file}`);
    }
  });

  it('clari-known-token: values and their encodings, also non-ASCII, multi-line and mixed-case ones', async () => {
    const KNOWN_CHARS = Array.from('aZ09+/=_-. %\n\r\tΩé€😀');
    await fc.assert(
      fc.asyncProperty(fc.array(fc.constantFrom(...KNOWN_CHARS), { minLength: 6, maxLength: 30 }), fc.array(fileText, { minLength: 4, maxLength: 10 }), async (chars, filler) => {
        const v = chars.join('');
        const rule = knownTokenRule([v]);
        const forms = [v, Buffer.from(v).toString('base64'), Buffer.from(v).toString('hex'), encodeURIComponent(v), Buffer.from(`u:${v}`).toString('base64url')];
        const texts = [...filler, ...forms.map((f, i) => `${filler[i % filler.length]}${f}\n`), v.toUpperCase(), `${v.slice(0, 3)}\n${v.slice(3)}`];
        await checkRule(rule, texts, (i) => `k${i}/file.txt`);
      }),
      { numRuns: 15 },
    );
  }, 60_000);

  it('keyword-only rules: the case-insensitive byte match of the engine, non-ASCII keywords included', async () => {
    const keywords = ['Données', 'ÉTÉ', 'été', 'token', 'ñ', 'a\nb'];
    const rule: Rule = { id: 'custom', description: 'custom', severity: 'low', keywords, pattern: 'x', detect: () => [] };
    expect(keywordLinePattern('a\nb')).toBe('[\\x41\\x61]');
    // The oracle is the engine's own pre-filter (UTF-8 bytes read as latin1, non-unicode /i): é is C3 A9, and
    // latin1 folds C3 (Ã) onto E3 (ã), so the bytes E3 A9 54 E3 A9 pass it for "été". Files made of the
    // keywords' bytes with every byte's case flipped, one byte at a time, and some near misses.
    const files: Record<string, Buffer> = { 'none.txt': Buffer.from('nothing here\n') };
    const flip = (b: number): number => {
      const c = String.fromCharCode(b);
      const o = c.toLowerCase() === c ? c.toUpperCase() : c.toLowerCase();
      return o.length === 1 && o.charCodeAt(0) < 256 ? o.charCodeAt(0) : b;
    };
    keywords.forEach((k, i) => {
      const bytes = Buffer.from(k, 'utf8');
      files[`k${i}.txt`] = Buffer.concat([Buffer.from('x '), bytes, Buffer.from(' y\n')]);
      files[`all${i}.txt`] = Buffer.from([...bytes].map(flip));
      bytes.forEach((_, j) => {
        const one = Buffer.from(bytes);
        one[j] = flip(one[j]);
        files[`one${i}-${j}.bin`] = one;
        const miss = Buffer.from(bytes);
        miss[j] = miss[j] ^ 0x01;
        files[`miss${i}-${j}.bin`] = miss;
      });
    });
    const dir = tempRepo();
    writeFiles(dir, files);
    const listed = (await gitGrepCandidates(dir, [dir], prefilterPatterns([rule])!))!;
    const detector = new Detector([rule], { binary: 0, tooLarge: 0, excludedDir: 0, gitignored: 0, notRegular: 0, allowed: 0, baselined: 0 });
    const expected = Object.keys(files).filter((f) => detector.activeRules(files[f]).length > 0 || files[f].includes(0));
    expect(expected).toContain('all2.txt');
    // Necessary: everything the engine would run the rule on is listed. Exact too, but for "a\nb", which
    // git (line by line) can only look for as "a".
    expect(expected.filter((f) => !listed.has(f))).toEqual([]);
    expect([...listed].filter((f) => !expected.includes(f) && !/^[a-z]+5[.-]/.test(f))).toEqual([]);
  });

  it('a rule with no keywords and no line patterns disables the pre-filter; patterns never hold the raw secret', () => {
    const always: Rule = { id: 'always', description: 'x', severity: 'low', keywords: [], pattern: 'x', detect: () => [] };
    expect(prefilterPatterns([...DEFAULT_RULES, always])).toBeNull();
    const secret = 'kN0wn-Cl4ri+T0ken/Sample=Value_2026'; // clariguard:allow
    const patterns = prefilterPatterns([knownTokenRule([secret])])!;
    expect(patterns.join('\n')).not.toContain(secret);
    expect(exactLinePattern('\uFFFD')).toBeNull();
  });
});

describe('work-tree scan with and without the git pre-filter', () => {
  it('same findings and the same stats, file by file', async () => {
    const dir = tempRepo();
    const S1 = 'q7Rv2Lx9Kp4Wm8Zt3Nb6Yc1Hd5Fj0Gs'; // clariguard:allow
    const files: Record<string, string | Buffer> = {
      '.gitignore': 'ignored.env\nbuild/\n',
      '.env': `CLARI_API_KEY=${S1}\n`,
      'ignored.env': `CLARI_API_KEY=${S1}\n`,
      'build/out.txt': `token = "${S1}"\n`,
      'src/app.ts': 'const token = process.env.CLARI_API_KEY;\nconst url = `https://api.clari.com/v4/export/jobs/${id}/results`;\n',
      'src/crlf.py': `clari_token = "${S1}"\r\nx = 1\r\n`,
      'src/allowed.sh': `export CLARI_TOKEN=${S1} # clariguard:allow\n`,
      'docs/readme.md': 'Set CLARI_API_KEY=YOUR_API_TOKEN.\n',
      'empty.txt': '',
      'bin/early.bin': Buffer.concat([Buffer.from('token = "'), Buffer.from([0]), Buffer.from(`${S1}"\n`)]),
      'bin/late.txt': Buffer.concat([Buffer.alloc(9000, 0x61), Buffer.from([0x0a, 0]), Buffer.from(`\nclari_token = "${S1}"\n`)]),
      'big.txt': `${'x'.repeat(3000)}\nclari_token = "${S1}"\n`,
      'node_modules/dep/index.js': `const clariToken = "${S1}";\n`,
      'notebook.ipynb': `   "source": [\n    "CLARI_API_KEY = \\"${S1}\\"\\n",\n`,
      'bearer.txt': `clari_token: Bearer\n   ${S1}\n`,
      'typed.ts': `const clariApiKey:\n  string =\n  "${S1}";\n`,
      'untracked.yaml': `clari:\n  api_key: ${S1}\n  base_url: https://api.clari.com/v4\n`,
    };
    writeFiles(dir, files);
    commitAll(dir, 'init');
    // Untracked (not ignored), an assume-unchanged file changed since (git grep would read the index copy),
    // a symbolic link, and an unreadable file.
    writeFiles(dir, { 'later.env': `CLARI_TOKEN=${S1}\n`, 'docs/readme.md': `CLARI_API_KEY=${S1}\n` });
    git(dir, 'update-index', '--assume-unchanged', 'docs/readme.md');
    symlinkSync(join(dir, '.env'), join(dir, 'link.env'));
    writeFileSync(join(dir, 'secret-unreadable.env'), `CLARI_TOKEN=${S1}\n`);
    chmodSync(join(dir, 'secret-unreadable.env'), 0o000);
    const compare = async (extra: { paths?: string[]; maxFileBytes?: number }): Promise<void> => {
      const a = await scan({ cwd: dir, prefilter: false, ...extra });
      const b = await scan({ cwd: dir, ...extra });
      expect(b.findings).toEqual(a.findings);
      expect({ ...b.stats, ms: 0 }).toEqual({ ...a.stats, ms: 0 });
    };
    await compare({});
    await compare({ maxFileBytes: 2000 });
    await compare({ paths: ['src', 'ignored.env', 'bin'] });
    const a = await scan({ cwd: dir, prefilter: false });
    expect(a.findings.map((f) => f.file)).toEqual(expect.arrayContaining(['.env', 'bearer.txt', 'bin/late.txt', 'docs/readme.md', 'later.env', 'notebook.ipynb', 'src/crlf.py', 'typed.ts', 'untracked.yaml']));
    expect(a.stats.skipped.binary).toBe(1);
    if (process.getuid?.() !== 0) expect(a.stats.unreadable).toEqual(['secret-unreadable.env: EACCES']);
    chmodSync(join(dir, 'secret-unreadable.env'), 0o600);
  });
});
