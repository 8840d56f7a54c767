import { createHash } from 'node:crypto';
import { readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { buildCorpus, score } from '../../bench/scan-corpus.mjs';
import { scan, writeScanBaseline } from '../../src/scan/index.js';
import { SecretValue } from '../../src/secrets/value.js';
import { canary, expectNoLeak } from '../helpers/canary.js';
import { tempDir } from '../helpers/cli.js';
import { commitAll, git, initRepo, writeFiles } from './helpers.js';

const T1 = 'q7Rv2Lx9Kp4Wm8Zt3Nb6Yc1Hd5Fj0Gs'; // clariguard:allow
const T2 = 'Zk3mQ8vR1tX6wL9pB2nY5cJ7hD4fG0sA'; // clariguard:allow
const T3 = 'Hp2sV9kD4nR7wQ1zL6xC3mB8tF5jG0aY'; // clariguard:allow

let dir: string;
let cleanup: () => void;
beforeEach(() => {
  ({ dir, cleanup } = tempDir('clariguard-scan-'));
});
afterEach(() => cleanup());

describe('work tree', () => {
  it('finds every positive and no decoy of the generated corpus (plain directory)', async () => {
    const { cases, known } = buildCorpus(7, 2);
    writeFiles(dir, Object.fromEntries(cases.map((c) => [c.file, c.text])));
    const r = await scan({ cwd: dir, known: [new SecretValue(known)] });
    const s = score(cases, r.findings);
    expect(s.missed).toEqual([]);
    expect(s.wrong).toEqual([]);
    expect(s.recall).toBe(1);
    expect(s.precision).toBeGreaterThanOrEqual(0.95);
    expect(r.stats.files).toBe(cases.length);
    expect(r.stats.commits).toBe(0);
    for (const f of r.findings) {
      expect(f.commit).toBeNull();
      expect(f.fingerprint).toMatch(/^[0-9a-f]{40}$/);
      expect(f.snippet).toContain('****');
    }
  });

  it('never shows a whole secret: first 4 characters, then a mask', async () => {
    writeFiles(dir, { '.env': `CLARI_API_KEY=${T1}\nPGPASSWORD=${T2}\n` });
    const r = await scan({ cwd: dir });
    expect(r.findings.map((f) => [f.ruleId, f.line, f.column, f.snippet])).toEqual([
      ['clari-api-token', 1, 15, `CLARI_API_KEY=${T1.slice(0, 4)}****`],
      ['generic-secret', 2, 12, `PGPASSWORD=${T2.slice(0, 4)}****`],
    ]);
    expectNoLeak(JSON.stringify(r), T1);
    expectNoLeak(JSON.stringify(r), T2);
  });

  it('masks every copy of a found secret on its line, raw or encoded, not only the matched one', async () => {
    const b64 = Buffer.from(T1).toString('base64');
    writeFiles(dir, { '.env': `CLARI_API_KEY=${T1} # previous: ${T1}, base64 ${b64}, url ${encodeURIComponent(T1)}, hex ${Buffer.from(T1).toString('hex')}\n` });
    const r = await scan({ cwd: dir });
    expect(r.findings.map((f) => [f.ruleId, f.line, f.column])).toEqual([['clari-api-token', 1, 15]]);
    expect(r.findings[0].snippet.startsWith(`CLARI_API_KEY=${T1.slice(0, 4)}****`)).toBe(true);
    expectNoLeak(JSON.stringify(r), T1);
  });

  it('in a repository scans tracked and untracked files but counts .gitignored ones; allFiles scans them too', async () => {
    initRepo(dir);
    writeFiles(dir, {
      '.gitignore': '.env.local\nbuild/\n',
      'src/app.py': `clari_token = "${T1}"\n`,
      '.env.local': `CLARI_API_KEY=${T2}\n`,
      'build/out.js': `const clariApiKey = "${T3}";\n`,
      'new-untracked.env': `CLARI_TOKEN=${T3}\n`,
    });
    commitAll(dir, 'init');
    const r = await scan({ cwd: dir });
    expect(r.findings.map((f) => f.file).sort()).toEqual(['new-untracked.env', 'src/app.py']);
    expect(r.stats.skipped.gitignored).toBe(2);
    const all = await scan({ cwd: dir, allFiles: true });
    expect(all.findings.map((f) => f.file).sort()).toEqual(['.env.local', 'build/out.js', 'new-untracked.env', 'src/app.py']);
    // A named file is scanned even when ignored.
    const named = await scan({ cwd: dir, paths: ['.env.local'] });
    expect(named.findings.map((f) => f.file)).toEqual(['.env.local']);
  });

  it('skips and counts binary, too-large, node_modules, .git and symlinks; paths are relative with forward slashes', async () => {
    writeFiles(dir, {
      'node_modules/pkg/.env': `CLARI_API_KEY=${T1}\n`,
      '.git/config': `clari_token = "${T1}"\n`,
      'img.bin': Buffer.concat([Buffer.from([0, 1, 2]), Buffer.from(`CLARI_API_KEY=${T1}\n`)]),
      'big.env': `CLARI_API_KEY=${T1}\n${'x'.repeat(3000)}\n`,
      'deep/er/app.env': `CLARI_API_KEY=${T2}\n`,
    });
    symlinkSync(join(dir, 'deep/er/app.env'), join(dir, 'link.env'));
    const r = await scan({ cwd: dir, maxFileBytes: 1024 });
    expect(r.findings.map((f) => f.file)).toEqual(['deep/er/app.env']);
    expect(r.stats.skipped).toMatchObject({ binary: 1, tooLarge: 1, excludedDir: 2, notRegular: 1 });
    expect(r.stats.unreadable).toEqual([]);
  });

  it('never follows a tracked symbolic link in a repository (counted as not regular)', async () => {
    initRepo(dir);
    writeFiles(dir, { 'outside/real.env': `CLARI_API_KEY=${T2}\n` });
    symlinkSync(join(dir, 'outside/real.env'), join(dir, 'link.env'));
    commitAll(dir, 'link');
    const r = await scan({ cwd: dir });
    expect(r.findings.map((f) => f.file)).toEqual(['outside/real.env']);
    expect(r.stats.skipped.notRegular).toBe(1);
  });

  it('the keyword pre-filter matches non-ASCII --known values and custom keywords by their UTF-8 bytes', async () => {
    const c = `${canary()}-pässwörd-Ω`;
    writeFiles(dir, { 'notes.txt': `the value: ${c}\n` });
    const r = await scan({ cwd: dir, known: [new SecretValue(c)], ruleIds: ['clari-known-token'] });
    expect(r.findings.map((f) => f.file)).toEqual(['notes.txt']);
    expectNoLeak(JSON.stringify(r), c);
  });

  it.skipIf(process.getuid?.() === 0)('reports unreadable files without failing', async () => {
    writeFiles(dir, { 'a.env': `CLARI_API_KEY=${T1}\n`, 'secret.env': 'x' });
    const { chmodSync } = await import('node:fs');
    chmodSync(join(dir, 'secret.env'), 0);
    const r = await scan({ cwd: dir });
    expect(r.stats.unreadable).toEqual(['secret.env: EACCES']);
    expect(r.findings).toHaveLength(1);
  });

  it('a Clari export result link with a token is a signed-download-url in every file type; an apikey on it stays a clari-api-token', async () => {
    const link = `https://api.clari.com/v4/export/jobs/5f1c/results?token=${T1}`;
    writeFiles(dir, {
      'export.py': `RESULT = "${link}"\n`,
      'logs/run.log': `2026-01-01 GET ${link} 200\n`,
      'cache/jobs.json': `{"url":"${link}&format=csv"}\n`,
      'fetch.sh': `curl -o out.csv 'https://api.clari.com/v4/export/jobs/5f1c/results?apikey=${T2}'\n`,
    });
    const r = await scan({ cwd: dir });
    expect(r.findings.map((f) => [f.file, f.ruleId])).toEqual([
      ['cache/jobs.json', 'signed-download-url'],
      ['export.py', 'signed-download-url'],
      ['fetch.sh', 'clari-api-token'],
      ['logs/run.log', 'signed-download-url'],
    ]);
  });

  it('honours clariguard:allow inline, but never for known values', async () => {
    const c = canary();
    writeFiles(dir, { 'a.env': `CLARI_API_KEY=${T1} # clariguard:allow test fixture\nOTHER=${c} # clariguard:allow\n` });
    const r = await scan({ cwd: dir, known: [new SecretValue(c)] });
    expect(r.findings.map((f) => f.ruleId)).toEqual(['clari-known-token']);
    expect(r.stats.skipped.allowed).toBe(1);
    expectNoLeak(JSON.stringify(r), c);
  });

  it('finds known values raw and encoded, and masks them', async () => {
    const c = canary();
    writeFiles(dir, {
      'raw.txt': `${c}\n`,
      'b64.txt': `Authorization: Basic ${Buffer.from(`u:${c}`).toString('base64')}\n`,
      'url.txt': `https://x/?k=${encodeURIComponent(`${c}/+`)}\n`,
      'hex.txt': `${Buffer.from(c).toString('hex')}\n`,
      'b64url.txt': `${Buffer.from(c).toString('base64url')}\n`,
    });
    const r = await scan({ cwd: dir, known: [new SecretValue(c)], ruleIds: ['clari-known-token'] });
    expect(r.findings.map((f) => f.file).sort()).toEqual(['b64.txt', 'b64url.txt', 'hex.txt', 'raw.txt', 'url.txt']);
    expectNoLeak(JSON.stringify(r), c);
  });
});

describe('fingerprints and baselines', () => {
  it('are HMACs keyed per repository (or by CLARIGUARD_SCAN_KEY), never the secret or its bare hash', async () => {
    initRepo(dir);
    writeFiles(dir, { 'a.env': `CLARI_API_KEY=${T1}\n` });
    commitAll(dir, 'one');
    const a = await scan({ cwd: dir });
    const again = await scan({ cwd: dir });
    expect(again.findings[0].fingerprint).toBe(a.findings[0].fingerprint);
    const fp = a.findings[0].fingerprint;
    for (const h of ['sha1', 'sha256']) expect(createHash(h).update(T1).digest('hex')).not.toContain(fp.slice(0, 16));
    const keyed = await scan({ cwd: dir, env: { CLARIGUARD_SCAN_KEY: 'a-ci-secret-of-enough-length' } });
    expect(keyed.findings[0].fingerprint).not.toBe(fp);

    const other = tempDir('clariguard-scan-other-');
    try {
      initRepo(other.dir);
      writeFiles(other.dir, { 'a.env': `CLARI_API_KEY=${T1}\n`, 'b.txt': 'different root commit' });
      commitAll(other.dir, 'other');
      const o = await scan({ cwd: other.dir });
      expect(o.findings[0].fingerprint).not.toBe(fp);
    } finally {
      other.cleanup();
    }
  });

  it('a baseline that is not JSON (a .env passed by mistake) is refused without quoting its content', async () => {
    writeFiles(dir, { 'a.env': `TOKEN=${T1}\n`, 'b.json': `{"fingerprints": ${T2}}\n` });
    for (const [file, secret] of [['a.env', T1], ['b.json', T2]] as const) {
      const e = await scan({ cwd: dir, baseline: file }).then(
        () => null,
        (x: Error & { exitCode?: number }) => x,
      );
      expect(e?.exitCode).toBe(78);
      expect(e?.message).toContain('not valid JSON');
      expect(e?.message).not.toContain(secret.slice(0, 4));
    }
  });

  it('a baseline drops known findings and keeps new ones; it holds no secret', async () => {
    initRepo(dir);
    writeFiles(dir, { 'a.env': `CLARI_API_KEY=${T1}\n` });
    commitAll(dir, 'one');
    const { count } = await writeScanBaseline('.clariguard-baseline.json', { cwd: dir });
    expect(count).toBe(1);
    const text = readFileSync(join(dir, '.clariguard-baseline.json'), 'utf8');
    expectNoLeak(text, T1);
    expect(text).not.toContain(createHash('sha256').update(T1).digest('hex'));
    expect(JSON.parse(text)).toMatchObject({ format: 'clariguard-scan-baseline/1', keyId: expect.stringMatching(/^k[0-9a-f]{6}$/) });

    writeFiles(dir, { 'a.env': `# moved down a line\nCLARI_API_KEY=${T1}\n`, 'b.env': `CLARI_TOKEN=${T2}\n` });
    const r = await scan({ cwd: dir, baseline: '.clariguard-baseline.json' });
    expect(r.findings.map((f) => f.file)).toEqual(['b.env']);
    expect(r.stats.skipped.baselined).toBe(1);
    // A saved JSON report works as a baseline too.
    writeFileSync(join(dir, 'report.json'), JSON.stringify(r));
    const r2 = await scan({ cwd: dir, baseline: 'report.json' });
    expect(r2.findings.map((f) => f.file)).toEqual(['a.env']);
  });

  it('rejects a baseline written with another key, and malformed ones', async () => {
    writeFiles(dir, {
      'bl.json': JSON.stringify({ format: 'clariguard-scan-baseline/1', keyId: 'k000000', fingerprints: [] }),
      'bad.json': '{"fingerprints": [',
    });
    await expect(scan({ cwd: dir, baseline: 'bl.json' })).rejects.toMatchObject({ exitCode: 78 });
    await expect(scan({ cwd: dir, baseline: 'bad.json' })).rejects.toMatchObject({ exitCode: 78 });
  });
});

describe('custom rules', () => {
  it('loads a YAML rules file; --no-default-rules runs only it; bad files are configuration errors', async () => {
    writeFiles(dir, {
      'rules.yaml': 'rules:\n  - id: acme-token\n    description: ACME API token\n    severity: low\n    keywords: [acme_]\n    pattern: "acme_(?<secret>[A-Za-z0-9]{24})"\n',
      'a.txt': `key acme_${T1.slice(0, 24)} and CLARI_API_KEY=${T2}\n`,
      'bad.yaml': 'rules:\n  - id: x\n    description: y\n    pattern: "("\n',
      'dup.yaml': 'rules:\n  - id: clari-api-token\n    description: y\n    pattern: "x"\n',
    });
    const both = await scan({ cwd: dir, paths: ['a.txt'], rules: 'rules.yaml' });
    expect(both.findings.map((f) => f.ruleId).sort()).toEqual(['acme-token', 'clari-api-token']);
    const only = await scan({ cwd: dir, paths: ['a.txt'], rules: join(dir, 'rules.yaml'), noDefaultRules: true });
    expect(only.findings.map((f) => [f.ruleId, f.severity, f.snippet])).toEqual([['acme-token', 'low', `key acme_${T1.slice(0, 4)}**** and CLARI_API_KEY=${T2}`]]);
    await expect(scan({ cwd: dir, rules: join(dir, 'bad.yaml') })).rejects.toMatchObject({ exitCode: 78 });
    await expect(scan({ cwd: dir, rules: join(dir, 'dup.yaml') })).rejects.toMatchObject({ exitCode: 2 });
    await expect(scan({ cwd: dir, noDefaultRules: true })).rejects.toMatchObject({ exitCode: 2 });
    await expect(scan({ cwd: dir, ruleIds: ['no-such-rule'] })).rejects.toMatchObject({ exitCode: 2 });
  });
});

describe('history', () => {
  it('reports the commit that added each secret, also in files deleted since, once per secret', async () => {
    initRepo(dir);
    writeFiles(dir, { 'README.md': '# app\n', '.env': `APP=1\nCLARI_API_KEY=${T1}\n` });
    const c1 = commitAll(dir, 'add env', '2026-01-01T00:00:00Z');
    writeFiles(dir, { 'etl/client.py': `import os\n\nclari_token = "${T2}"\n` });
    const c2 = commitAll(dir, 'client', '2026-01-02T00:00:00Z');
    git(dir, 'rm', '-q', '.env');
    const c3 = commitAll(dir, 'remove env', '2026-01-03T00:00:00Z');
    // The line holding T2 changes but the secret stays: still reported at c2, once.
    writeFiles(dir, { 'etl/client.py': `import os\n\nclari_token = "${T2}"  # prod\n` });
    commitAll(dir, 'comment', '2026-01-04T00:00:00Z');
    // A secret only on another branch is found too (--all).
    git(dir, 'checkout', '-q', '-b', 'feature', c1);
    writeFiles(dir, { 'dir with space/ünï.env': `CLARI_TOKEN=${T3}\n` });
    const cf = commitAll(dir, 'feature', '2026-01-05T00:00:00Z');
    git(dir, 'checkout', '-q', 'main');

    const r = await scan({ cwd: dir, history: true });
    expect(r.findings.map((f) => [f.file, f.line, f.commit, f.ruleId])).toEqual([
      ['.env', 2, c1, 'clari-api-token'],
      ['dir with space/ünï.env', 1, cf, 'clari-api-token'],
      ['etl/client.py', 3, c2, 'clari-api-token'],
    ]);
    expect(r.findings[0]).toMatchObject({ author: 'Test Author <author@example.com>', date: '2026-01-01T00:00:00+00:00', column: 15 });
    expect(r.stats.commits).toBe(5);
    expect(r.stats.bytes).toBeGreaterThan(0);
    // The work tree no longer has the .env.
    expect((await scan({ cwd: dir })).findings.map((f) => f.file)).toEqual(['etl/client.py']);

    // --since REV: only commits not reachable from REV.
    const since = await scan({ cwd: dir, history: true, since: c3 });
    expect(since.findings.map((f) => f.file).sort()).toEqual(['dir with space/ünï.env', 'etl/client.py']);
    await expect(scan({ cwd: dir, history: true, since: '--output=/tmp/x' })).rejects.toMatchObject({ exitCode: 2 });
    await expect(scan({ cwd: dir, history: true, since: 'no-such-rev' })).rejects.toMatchObject({ exitCode: 2 });
  });

  it('with equal author dates, a secret is reported at the commit that added it, not a later edit', async () => {
    initRepo(dir);
    writeFiles(dir, { 'etl/client.py': `clari_token = "${T2}"\n` });
    const c1 = commitAll(dir, 'add', '2026-01-01T00:00:00Z');
    writeFiles(dir, { 'etl/client.py': `clari_token = "${T2}"  # prod\n` });
    commitAll(dir, 'edit', '2026-01-01T00:00:00Z');
    const r = await scan({ cwd: dir, history: true });
    expect(r.findings.map((f) => f.commit)).toEqual([c1]);
  });

  it('finds the generated corpus in history with the same precision and recall', async () => {
    initRepo(dir);
    const { cases, known } = buildCorpus(11, 1);
    const half = Math.floor(cases.length / 2);
    writeFiles(dir, Object.fromEntries(cases.slice(0, half).map((c) => [c.file, c.text])));
    commitAll(dir, 'first half');
    writeFiles(dir, Object.fromEntries(cases.slice(half).map((c) => [c.file, c.text])));
    commitAll(dir, 'second half');
    git(dir, 'rm', '-q', '-r', 'c0/.env', 'c0/etl');
    commitAll(dir, 'delete some');
    const r = await scan({ cwd: dir, history: true, known: [new SecretValue(known)] });
    const s = score(cases, r.findings);
    expect(s.missed).toEqual([]);
    expect(s.wrong).toEqual([]);
  });

  it('from a subdirectory (even with diff.relative set) scans the whole history; a baseline drops every occurrence', async () => {
    initRepo(dir);
    writeFiles(dir, { '.env': `CLARI_API_KEY=${T1}\n`, 'etl/client.py': `clari_token = "${T2}"\n` });
    const c1 = commitAll(dir, 'add', '2026-01-01T00:00:00Z');
    writeFiles(dir, { 'etl/client.py': `clari_token = "${T2}"  # prod\n` });
    commitAll(dir, 'edit', '2026-01-02T00:00:00Z');
    git(dir, 'config', 'diff.relative', 'true');
    const fromRoot = await scan({ cwd: dir, history: true });
    const fromSub = await scan({ cwd: join(dir, 'etl'), history: true });
    expect(fromSub.findings.map((f) => [f.file, f.commit, f.fingerprint])).toEqual(fromRoot.findings.map((f) => [f.file, c1, f.fingerprint]));
    expect(fromRoot.findings.map((f) => f.file)).toEqual(['.env', 'etl/client.py']);
    // The baseline lists T2's fingerprint: both commits that added a line holding it are counted.
    writeFileSync(join(dir, 'report.json'), JSON.stringify({ findings: fromRoot.findings.filter((f) => f.file === 'etl/client.py') }));
    const r = await scan({ cwd: dir, history: true, baseline: 'report.json' });
    expect(r.findings.map((f) => f.file)).toEqual(['.env']);
    expect(r.stats.skipped.baselined).toBe(2);
    // A rules file that cannot be read stops git, which has already started.
    await expect(scan({ cwd: dir, history: true, rules: 'missing.yaml' })).rejects.toMatchObject({ exitCode: 66 });
  });

  it('skips and counts node_modules in history and in the staged diff, as in the work tree', async () => {
    initRepo(dir);
    writeFiles(dir, { 'node_modules/pkg/.env': `CLARI_API_KEY=${T1}\n`, 'src/node_modules_notes/a.env': `CLARI_API_KEY=${T2}\n`, 'app.env': `CLARI_TOKEN=${T3}\n` });
    git(dir, 'add', '-f', '.');
    for (const r of [await scan({ cwd: dir, staged: true }), (commitAll(dir, 'vendored'), await scan({ cwd: dir, history: true }))]) {
      expect(r.findings.map((f) => f.file)).toEqual(['app.env', 'src/node_modules_notes/a.env']);
      expect(r.stats.skipped.excludedDir).toBe(1);
      expect(r.stats.files).toBe(2);
    }
  });

  it('needs a repository; an empty repository is clean', async () => {
    await expect(scan({ cwd: dir, history: true })).rejects.toMatchObject({ exitCode: 2 });
    initRepo(dir);
    const r = await scan({ cwd: dir, history: true });
    expect(r.findings).toEqual([]);
  });
});

describe('staged', () => {
  it('scans only the staged changes, with their line numbers', async () => {
    initRepo(dir);
    writeFiles(dir, { 'a.py': 'x = 1\n' });
    commitAll(dir, 'init');
    writeFiles(dir, { 'a.py': `x = 1\nclari_token = "${T1}"\n`, 'unstaged.env': `CLARI_API_KEY=${T2}\n` });
    git(dir, 'add', 'a.py');
    const r = await scan({ cwd: dir, staged: true });
    expect(r.findings.map((f) => [f.file, f.line, f.commit])).toEqual([['a.py', 2, null]]);
    await expect(scan({ cwd: dir, staged: true, history: true })).rejects.toMatchObject({ exitCode: 2 });
  });
});
