import { chmodSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runAudit, type AuditOptions } from '../../src/audit/runner.js';
import { formatReport, AUDIT_FORMATS } from '../../src/audit/report.js';
import { registerBackend, type SecretBackend } from '../../src/secrets/index.js';
import { readersFromPolicy } from '../../src/secrets/backends/aws-sm.js';
import { canary, expectNoLeak } from '../helpers/canary.js';
import { tempDir } from '../helpers/cli.js';
import { commitAll, gitInit, git, SIGNED_URL, storeToken, write } from './fixtures.js';

const DAY = 86_400_000;
let t: { dir: string; cleanup: () => void };
const TOKEN = canary('clari');
let home: string;

beforeAll(async () => {
  t = tempDir('clariguard-audit-');
  home = join(t.dir, 'home');
  await storeToken(home, 'local:clari/prod/api-token', TOKEN);
});
afterAll(() => t.cleanup());

async function audit(id: string, config: AuditOptions['config'], extra: Partial<AuditOptions> = {}) {
  const report = await runAudit({ config, baseDir: extra.baseDir ?? t.dir, only: [id], env: { CLARIGUARD_HOME: home, PATH: process.env.PATH }, ...extra });
  for (const f of AUDIT_FORMATS) expectNoLeak(formatReport(report, f), TOKEN, `${id} ${f} report`);
  return report.checks[0];
}

function repo(name: string): string {
  const dir = join(t.dir, name);
  gitInit(dir);
  write(join(dir, 'README.md'), '# app\n');
  commitAll(dir, 'init');
  return dir;
}

describe('env-files-ignored', () => {
  it('passes: .env ignored, template without values committed, nothing in history', async () => {
    const dir = repo('env-good');
    write(join(dir, '.gitignore'), '.env*\n!.env.example\n');
    write(join(dir, '.env.example'), '# copy to .env\nCLARI_API_KEY=\nWAREHOUSE_URL=<postgres url>\nPORT=8080\n');
    commitAll(dir, 'template');
    write(join(dir, '.env'), `CLARI_API_KEY=${TOKEN}\n`);
    const r = await audit('env-files-ignored', { repos: ['env-good'] });
    expect(r.status, r.evidence.join('\n')).toBe('pass');
    expect(r.evidence.join('\n')).toMatch(/\.env\.example: template without values, allowed/);
  });

  it('fails: an unignored .env, a template with values, and a .env deleted but still in history', async () => {
    const dir = repo('env-bad');
    write(join(dir, 'config', 'prod.env'), `CLARI_API_KEY=${TOKEN}\n`);
    commitAll(dir, 'oops');
    git(dir, 'rm', '-q', 'config/prod.env');
    commitAll(dir, 'remove');
    write(join(dir, '.env.local'), 'X=1\n');
    write(join(dir, '.env.sample'), 'CLARI_API_KEY=9f8e7d6c5b4a39281706f5e4d3c2b1a0\n');
    write(join(dir, '.env.example'), 'PORT=8080\n');
    const r = await audit('env-files-ignored', { repos: ['env-bad'] });
    expect(r.status).toBe('fail');
    const ev = r.evidence.join('\n');
    expect(ev).toMatch(/env-bad\/\.env\.local: not ignored by git/);
    expect(ev).toMatch(/env-bad\/\.env\.sample: template file assigns real values/);
    expect(ev).toMatch(/config\/prod\.env was committed with values in [0-9a-f]{12} \(\d{4}-\d\d-\d\d\)/);
    expect(r.locations?.length).toBeGreaterThan(0);
    // The problems come first (JUnit and Markdown summarise with the first line), the allowed files after.
    expect(r.evidence[0]).not.toMatch(/allowed|ignored by git \(committed/);
  });

  it('fails for a tracked .env even when .gitignore lists it now', async () => {
    const dir = repo('env-tracked');
    write(join(dir, '.env'), 'A=b\n');
    commitAll(dir, 'env');
    write(join(dir, '.gitignore'), '.env\n');
    commitAll(dir, 'ignore');
    const r = await audit('env-files-ignored', { repos: ['env-tracked'] });
    expect(r.status).toBe('fail');
    expect(r.evidence.join('\n')).toMatch(/\.env: tracked by git \(matches an ignore rule but was added anyway\)/);
  });

  it('skips with the reason when no repository is a git work tree', async () => {
    mkdirSync(join(t.dir, 'plain'), { recursive: true });
    const r = await audit('env-files-ignored', { repos: ['plain'] }, { baseDir: t.dir });
    expect(r.status).toBe('skip');
    expect(r.evidence.join('\n')).toMatch(/not a git work tree/);
  });
});

describe('token-in-secret-store (canary token)', () => {
  it('passes with a store reference and clean repositories', async () => {
    repo('tok-clean');
    const r = await audit('token-in-secret-store', { token: 'local:clari/prod/api-token', repos: ['tok-clean'] });
    expect(r.status, r.evidence.join('\n')).toBe('pass');
    expect(r.evidence.join('\n')).toMatch(/exact token value/);
  });

  it('fails when the exact token value is anywhere in history, naming file, line and commit but not the value', async () => {
    const dir = repo('tok-leak');
    write(join(dir, 'src', 'settings.py'), `TIMEOUT = 30\nUPSTREAM = "${TOKEN}"\n`);
    commitAll(dir, 'add settings');
    write(join(dir, 'src', 'settings.py'), 'TIMEOUT = 30\n');
    commitAll(dir, 'clean up');
    write(join(dir, 'notes', 'debug.txt'), `curl -H "apikey: ${Buffer.from(TOKEN).toString('base64')}"\n`);
    const r = await audit('token-in-secret-store', { token: 'local:clari/prod/api-token', repos: ['tok-leak'] });
    expect(r.status).toBe('fail');
    expect(r.evidence.join('\n')).toMatch(/clari-known-token in src\/settings\.py:2, added in commit [0-9a-f]{12}/);
    // Work-tree findings (here base64-encoded) carry a location for SARIF.
    expect(r.evidence.join('\n')).toMatch(/tok-leak\/notes\/debug\.txt:1:\d+: clari-known-token/);
    expect(r.locations).toContainEqual(expect.objectContaining({ file: 'tok-leak/notes/debug.txt', line: 1 }));
    expect(r.evidence[0]).toBe('2 Clari tokens found:');
  });

  it('fails for an env: token in production and warns outside it', async () => {
    repo('tok-env');
    const env = { CLARIGUARD_HOME: home, PATH: process.env.PATH, CLARI_API_KEY: TOKEN };
    const prod = await audit('token-in-secret-store', { token: 'env:CLARI_API_KEY', repos: ['tok-env'] }, { env });
    expect(prod.status).toBe('fail');
    expect(prod.evidence[0]).toMatch(/env:CLARI_API_KEY: an environment variable, not a secret store \(environment: production\)/);
    const dev = await audit('token-in-secret-store', { token: 'env:CLARI_API_KEY', environment: 'non-production', repos: ['tok-env'] }, { env });
    expect(dev.status).toBe('warn');
  });

  it('warns (never passes) when the token cannot be read for exact matching', async () => {
    repo('tok-unreadable');
    const r = await audit('token-in-secret-store', { token: 'local:clari/missing', repos: ['tok-unreadable'] });
    expect(r.status).toBe('warn');
    expect(r.evidence.join('\n')).toMatch(/cannot read local:clari\/missing: .*searched by context only/);
  });
});

describe('export-urls-not-cached', () => {
  it('fails for a signed URL in a log file and passes once it is gone', async () => {
    repo('urls');
    write(join(t.dir, 'logs', 'export.log'), `2026-01-01 downloading ${SIGNED_URL}\n`);
    const bad = await audit('export-urls-not-cached', { repos: ['urls'], logPaths: ['logs'] });
    expect(bad.status).toBe('fail');
    expect(bad.evidence.join('\n')).toMatch(/logs\/export\.log:1:\d+: signed-download-url/);
    expect(bad.evidence.join('\n')).not.toContain('X-Amz-Signature=a3f1');
    write(join(t.dir, 'logs', 'export.log'), '2026-01-01 downloading [url masked]\n');
    const good = await audit('export-urls-not-cached', { repos: ['urls'], logPaths: ['logs'], cachePaths: ['cache-not-there'] });
    expect(good.status, good.evidence.join('\n')).toBe('pass');
  });
});

describe('token-access-audited', () => {
  it('passes for a local store readable only by its owner and fails when the store file is group/world readable', async () => {
    const ok = await audit('token-access-audited', { token: 'local:clari/prod/api-token' });
    expect(ok.status, ok.evidence.join('\n')).toBe('pass');
    expect(ok.evidence.join('\n')).toMatch(/store .*store\.age: owner uid \d+, mode 0600/);
    chmodSync(join(home, 'store.age'), 0o644);
    try {
      const bad = await audit('token-access-audited', { token: 'local:clari/prod/api-token' });
      expect(bad.status).toBe('fail');
      expect(bad.evidence.join('\n')).toMatch(/anyone \(world store access\)/);
      expect(bad.evidence[0]).toBe('access is granted to a wildcard or to anyone');
    } finally {
      chmodSync(join(home, 'store.age'), 0o600);
    }
  });

  it('warns for env: tokens: anyone with CI access can read them', async () => {
    const r = await audit('token-access-audited', { token: 'env:CLARI_API_KEY' }, { env: { CLARI_API_KEY: TOKEN } });
    expect(r.status).toBe('warn');
    expect(r.evidence.join('\n')).toMatch(/anyone who can read this process environment/);
  });

  it('compares resource-policy principals with allowedTokenReaders; wildcards fail', async () => {
    // The real policy parser of the aws-sm backend, fed the resource policy GetResourcePolicy would return.
    const stmt = (sid: string, principal: unknown) => ({ Sid: sid, Effect: 'Allow', Principal: principal, Action: 'secretsmanager:GetSecretValue', Resource: '*' });
    let principals = ['arn:aws:iam::123456789012:role/clari-export'];
    let wildcard = false;
    const policy = () =>
      JSON.stringify({ Version: '2012-10-17', Statement: principals.map((p, i) => stmt(`S${i}`, p === '*' ? '*' : { AWS: p })) });
    const fake = {
      scheme: 'aws-sm',
      capabilities: { readers: true },
      readers: async () => {
        const r = readersFromPolicy(policy(), '123456789012');
        expect(r.wildcard).toBe(wildcard);
        return r;
      },
    } as unknown as SecretBackend;
    registerBackend('aws-sm', () => fake);
    const cfg = { token: 'aws-sm://clari/prod/api-token?region=us-east-1', allowedTokenReaders: ['arn:aws:iam::123456789012:role/clari-*'] };
    const pass = await audit('token-access-audited', cfg);
    expect(pass.status, pass.evidence.join('\n')).toBe('pass');
    expect(pass.evidence).toContain('can read: arn:aws:iam::123456789012:role/clari-export');
    principals = [...principals, 'arn:aws:iam::999999999999:root'];
    const extra = await audit('token-access-audited', cfg);
    expect(extra.status).toBe('fail');
    expect(extra.evidence[0]).toBe('not in allowedTokenReaders: arn:aws:iam::999999999999:root');
    principals = ['*'];
    wildcard = true;
    expect((await audit('token-access-audited', cfg)).status).toBe('fail');
    expect((await audit('token-access-audited', { token: cfg.token })).status).toBe('fail');
    wildcard = false;
    principals = ['arn:aws:iam::123456789012:role/clari-export'];
    expect((await audit('token-access-audited', { token: cfg.token })).status).toBe('warn');
    registerBackend('aws-sm', () => {
      throw new Error('aws-sm store: readers failed: could not load credentials');
    });
    const down = await audit('token-access-audited', cfg);
    expect(down.status).toBe('skip');
  });
});

describe('token rotation (roster and age)', () => {
  const day = (offset: number) => new Date(Date.now() + offset * DAY).toISOString().slice(0, 10);

  it('token-rotated-after-offboarding fails naming who left after the last rotation (email masked)', async () => {
    write(
      join(t.dir, 'people.csv'),
      ['name,email,hasTokenAccess,leftOn', `Ana Silva,ana.silva@acme.com,true,${day(-40)}`, `Bruno Costa,bruno.costa@acme.com,true,${day(5)}`, `Carla Mendes,carla.mendes@acme.com,false,${day(6)}`, 'Diego Ramos,diego.ramos@acme.com,true,'].join('\n'),
    );
    const cfg = { token: 'local:clari/prod/api-token', roster: 'people.csv' };
    const later = await audit('token-rotated-after-offboarding', cfg, { now: new Date(Date.now() + 10 * DAY) });
    expect(later.status).toBe('fail');
    const ev = later.evidence.join('\n');
    expect(ev).toContain(`b***@acme.com left on ${day(5)}, after the last rotation on ${day(0)}`);
    expect(ev).not.toMatch(/bruno|carla|ana\.silva/i);
    expect(ev).not.toContain('c***@acme.com');
    const now = await audit('token-rotated-after-offboarding', cfg);
    expect(now.status).toBe('warn');
    expect(now.evidence.join('\n')).toContain(`b***@acme.com leaves on ${day(5)}`);
    write(join(t.dir, 'people2.csv'), `name,email,hasTokenAccess,leftOn\nAna Silva,ana.silva@acme.com,true,${day(-40)}\n`);
    expect((await audit('token-rotated-after-offboarding', { ...cfg, roster: 'people2.csv' })).status).toBe('pass');
    const noRoster = await audit('token-rotated-after-offboarding', { token: cfg.token });
    expect(noRoster.status).toBe('skip');
  });

  it('token-age: pass, warn within 14 days of the limit, fail past it, skip without dates', async () => {
    const cfg = { token: 'local:clari/prod/api-token', maxTokenAgeDays: 90 };
    expect((await audit('token-age', cfg)).status).toBe('pass');
    const warn = await audit('token-age', cfg, { now: new Date(Date.now() + 80 * DAY) });
    expect(warn.status).toBe('warn');
    expect(warn.evidence.join('\n')).toMatch(/80 days ago; limit 90 days/);
    const fail = await audit('token-age', cfg, { now: new Date(Date.now() + 100 * DAY) });
    expect(fail.status).toBe('fail');
    expect(fail.evidence.join('\n')).toMatch(/10 days overdue/);
    const env = await audit('token-age', { token: 'env:CLARI_API_KEY' }, { env: { CLARI_API_KEY: TOKEN } });
    expect(env.status).toBe('skip');
    expect(env.evidence[0]).toMatch(/records no rotation or creation date/);
    expect((await audit('token-age', {})).status).toBe('skip');
  });
});

describe('warehouse-access-controlled export files (paths in evidence)', () => {
  it('an export path inside the work tree is named relative to the config, never by absolute path', async () => {
    const dir = repo('exports-in-tree');
    mkdirSync(join(dir, 'exports'), { mode: 0o700 });
    chmodSync(join(dir, 'exports'), 0o700);
    write(join(dir, 'exports', 'q3.json'), '[]\n', 0o600);
    const r = await audit('warehouse-access-controlled', { exportPaths: ['exports'], repos: ['.'] }, { baseDir: dir });
    expect(r.status).toBe('fail');
    const ev = r.evidence.join('\n');
    expect(ev).toMatch(/exports: inside the git work tree \. and not ignored/);
    expect(ev).not.toContain(t.dir);
    expect(r.evidence[0]).not.toMatch(/no warehouse configured/);
  });
});

describe('env-files-ignored: ignore rules that do not travel with the repository', () => {
  it('warns when a .env file is ignored only by core.excludesFile or .git/info/exclude (a fresh clone would not ignore it)', async () => {
    const dir = repo('env-global-excludes');
    write(join(t.dir, 'global-excludes'), '.env\n');
    git(dir, 'config', 'core.excludesFile', join(t.dir, 'global-excludes'));
    write(join(dir, '.git', 'info', 'exclude'), '.env.local\n');
    write(join(dir, '.gitignore'), '.env.production\n');
    commitAll(dir, 'ignore production env');
    write(join(dir, '.env'), 'X=1\n');
    write(join(dir, '.env.local'), 'X=1\n');
    write(join(dir, '.env.production'), 'X=1\n');
    const r = await audit('env-files-ignored', { repos: ['env-global-excludes'] });
    expect(r.status, r.evidence.join('\n')).toBe('warn');
    const ev = r.evidence.join('\n');
    expect(ev).toMatch(/env-global-excludes\/\.env: ignored only by your global excludes file \(core\.excludesFile\)/);
    expect(ev).toMatch(/env-global-excludes\/\.env\.local: ignored only by \.git\/info\/exclude/);
    expect(ev).not.toMatch(/\.env\.production: ignored only/);
    expect(ev).not.toContain(t.dir);
  });

  it('warns when the .gitignore that ignores a .env file is not committed', async () => {
    const dir = repo('env-uncommitted-gitignore');
    write(join(dir, '.gitignore'), '.env\n');
    write(join(dir, '.env'), 'X=1\n');
    const r = await audit('env-files-ignored', { repos: ['env-uncommitted-gitignore'] });
    expect(r.status, r.evidence.join('\n')).toBe('warn');
    expect(r.evidence.join('\n')).toMatch(/\.env: ignored only by \.gitignore, which is not committed/);
  });
});
