import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { canary, expectNoLeak } from '../helpers/canary.js';
import { isolatedEnv, runCli, tempDir, type CliResult } from '../helpers/cli.js';
import { commitAll, gitInit, git, ROSTER_CSV, ROSTER_EMAILS, storeToken, write } from './fixtures.js';

const TOKEN = canary('clari');
let t: { dir: string; cleanup: () => void };
let project: string;
let env: Record<string, string | undefined>;

const CONFIG = `token: local:clari/prod/api-token
maxTokenAgeDays: 90
repos: [.]
exportPaths: [exports/]
roster: people.csv
`;

beforeAll(async () => {
  t = tempDir('clariguard-audit-cli-');
  env = isolatedEnv(t.dir);
  await storeToken(env.CLARIGUARD_HOME!, 'local:clari/prod/api-token', TOKEN);
  project = join(t.dir, 'project');
  gitInit(project);
  write(join(project, '.gitignore'), '.env*\n!.env.example\nexports/\n');
  write(join(project, 'clariguard.yml'), CONFIG);
  write(join(project, 'people.csv'), ROSTER_CSV);
  write(join(project, 'app.py'), 'import os\nKEY = os.environ["CLARI_API_KEY"]\n');
  commitAll(project, 'init');
  // The leak the audit must find: the real token in a committed, later deleted, file.
  write(join(project, 'deploy.sh'), `export CLARI_API_KEY=${TOKEN}\n`);
  commitAll(project, 'deploy');
  git(project, 'rm', '-q', 'deploy.sh');
  commitAll(project, 'remove deploy script');
});
afterAll(() => t.cleanup());

function audit(args: string[], cwd = project): Promise<CliResult> {
  return runCli(['audit', ...args], { env, cwd });
}

function noLeaks(r: CliResult): void {
  expectNoLeak(r.stdout, TOKEN, 'stdout');
  expectNoLeak(r.stderr, TOKEN, 'stderr');
  for (const e of ROSTER_EMAILS) expect(r.stdout + r.stderr).not.toContain(e);
}

describe('clariguard audit (CLI)', () => {
  it('text: a table and a summary line; exit 1 on the leaked token', async () => {
    const r = await audit([]);
    noLeaks(r);
    expect(r.code, r.stderr).toBe(1);
    expect(r.stdout).toMatch(/^STATUS\s+CHECK\s+TITLE$/m);
    expect(r.stdout).toMatch(/^FAIL\s+token-in-secret-store\s+/m);
    expect(r.stdout).toMatch(/clari-known-token in deploy\.sh:1, added in commit [0-9a-f]{12}/);
    expect(r.stdout).toMatch(/^PASS\s+token-age\s+/m);
    expect(r.stdout).toMatch(/^SKIP\s+warehouse-access-controlled\s+/m);
    expect(r.stdout).toMatch(/8 checks: \d passed, \d failed, \d warned, \d skipped; audit FAILED \(--fail-on fail\)\n$/);
  });

  it('json: checks with id, title, status, evidence, remediation and a summary', async () => {
    const r = await audit(['--format', 'json']);
    noLeaks(r);
    expect(r.code).toBe(1);
    const j = JSON.parse(r.stdout);
    expect(j.checks.map((c: { id: string }) => c.id)).toEqual([
      'token-in-secret-store', 'env-files-ignored', 'warehouse-access-controlled', 'nonprod-pii-redacted',
      'export-urls-not-cached', 'token-access-audited', 'token-rotated-after-offboarding', 'token-age',
    ]);
    for (const c of j.checks) {
      expect(Object.keys(c).slice(0, 5)).toEqual(['id', 'title', 'status', 'evidence', 'remediation']);
      expect(['pass', 'fail', 'warn', 'skip']).toContain(c.status);
    }
    expect(j.summary).toMatchObject({ total: 8, failOn: 'fail', failed: true, exitCode: 1 });
    const offboarding = j.checks.find((c: { id: string }) => c.id === 'token-rotated-after-offboarding');
    // Bruno left on 2026-01-10, before the token was (re)created by this test: rotated after offboarding.
    expect(offboarding.status).toBe('pass');
    expect(offboarding.evidence.join('\n')).toMatch(/2 roster member\(s\) with token access; 1 left before the last rotation/);
  });

  it('sarif: 2.1.0 with rules for every check and located results', async () => {
    const r = await audit(['--format', 'sarif', '--output', join(t.dir, 'audit.sarif')]);
    noLeaks(r);
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(/wrote .*audit\.sarif: 8 checks/);
    const s = JSON.parse(readFileSync(join(t.dir, 'audit.sarif'), 'utf8'));
    expect(s.version).toBe('2.1.0');
    const run = s.runs[0];
    expect(run.tool.driver.name).toBe('clariguard');
    expect(run.tool.driver.rules).toHaveLength(8);
    const res = run.results.find((x: { ruleId: string }) => x.ruleId === 'token-in-secret-store');
    expect(res.level).toBe('error');
    expect(run.tool.driver.rules[res.ruleIndex].id).toBe('token-in-secret-store');
    expect(res.locations[0].physicalLocation.artifactLocation.uri).toBe('clariguard.yml');
    expect(res.locations[0].physicalLocation.region.startLine).toBe(1);
    // Only what did not pass becomes a result; passes and skips do not raise code-scanning alerts.
    expect(run.results.every((x: { level: string }) => x.level === 'error' || x.level === 'warning')).toBe(true);
    expect(run.results.some((x: { ruleId: string }) => x.ruleId === 'token-age')).toBe(false);
    expectNoLeak(readFileSync(join(t.dir, 'audit.sarif')), TOKEN, 'audit.sarif');
  });

  it('junit: failures and skips per check', async () => {
    const r = await audit(['--format', 'junit']);
    noLeaks(r);
    expect(r.stdout).toMatch(/^<\?xml version="1.0" encoding="UTF-8"\?>\n<testsuites name="clariguard audit" tests="8" failures="\d+" errors="0" skipped="\d+"/);
    expect(r.stdout).toMatch(/<testcase classname="clariguard.audit" name="token-in-secret-store: [^"]*" time="0">\n.*\n\s*<failure type="fail"/);
    expect(r.stdout).toMatch(/<skipped message="[^"]*no warehouse configured/);
    expect(r.stdout.split('<testcase').length - 1).toBe(8);
  });

  it('markdown: a PR comment with a table and details for what did not pass', async () => {
    const r = await audit(['--format', 'markdown']);
    noLeaks(r);
    expect(r.stdout).toMatch(/^### clariguard audit\n\n❌ \*\*clariguard audit failed\*\*/);
    expect(r.stdout).toContain('| | Check | Status | Summary |');
    expect(r.stdout).toMatch(/\| ❌ \| `token-in-secret-store` \| fail \|/);
    expect(r.stdout).toMatch(/<details><summary>❌ token-in-secret-store/);
    expect(r.stdout).not.toMatch(/@acme/); // masked and mention-proofed
  });

  it('--only and --fail-on decide the exit code', async () => {
    const ok = await audit(['--only', 'token-age', '--only', 'env-files-ignored']);
    expect(ok.code, ok.stdout).toBe(0);
    expect(ok.stdout).toMatch(/2 checks: 2 passed/);
    const warnOnly = await audit(['--only', 'token-access-audited,token-age', '--fail-on', 'warn', '--json']);
    expect(JSON.parse(warnOnly.stdout).summary.failOn).toBe('warn');
    const withWarn = await audit(['--only', 'nonprod-pii-redacted', '--fail-on', 'warn']);
    expect(withWarn.stdout).toMatch(/^SKIP\s+nonprod-pii-redacted/m);
    expect(withWarn.code).toBe(0);
    const unknown = await audit(['--only', 'token-agee']);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(/unknown check token-agee \(checks: token-in-secret-store, /);
    const badFormat = await audit(['--format', 'xml']);
    expect(badFormat.code).toBe(2);
  });

  it('warn fails the audit under --fail-on warn', async () => {
    write(join(project, 'warn.yml'), 'token: env:CLARI_API_KEY\nenvironment: non-production\nrepos: []\n');
    const r = await runCli(['audit', '--config', 'warn.yml', '--only', 'token-access-audited'], { env: { ...env, CLARI_API_KEY: TOKEN }, cwd: project });
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^WARN\s+token-access-audited/m);
    const strict = await runCli(['audit', '--config', 'warn.yml', '--only', 'token-access-audited', '--fail-on', 'warn'], { env: { ...env, CLARI_API_KEY: TOKEN }, cwd: project });
    noLeaks(strict);
    expect(strict.code).toBe(1);
  });

  it('exit 78 with one line naming the file and the bad field; 66 when the config is missing', async () => {
    write(join(project, 'bad.yml'), `${CONFIG}warehouses:\n  - name: a\n    url: env:U\n    environment: staging\n`);
    const r = await audit(['--config', 'bad.yml']);
    expect(r.code).toBe(78);
    expect(r.stdout).toBe('');
    expect(r.stderr).toBe('clariguard: bad.yml (line 9): warehouses[0].environment: Invalid option: expected one of "production"|"non-production"\n');
    const missing = await audit(['--config', 'nope.yml']);
    expect(missing.code).toBe(66);
    expect(missing.stderr).toBe('clariguard: nope.yml: no such config file\n');
    const none = await audit([], t.dir);
    expect(none.code).toBe(66);
  });

  it('--print-schema prints the published JSON schema', async () => {
    const r = await audit(['--print-schema']);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual(JSON.parse(readFileSync(join(__dirname, '..', '..', 'schemas', 'clariguard-config.schema.json'), 'utf8')));
  });
});
