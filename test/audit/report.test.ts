import { describe, expect, it } from 'vitest';
import { formatReport, toJunit, toMarkdown, toSarif, toText } from '../../src/audit/report.js';
import type { AuditReport } from '../../src/audit/runner.js';

function report(failOn: 'fail' | 'warn' = 'fail'): AuditReport {
  return {
    checks: [
      { id: 'env-files-ignored', title: '.env files are ignored', status: 'fail', evidence: ['app/.env: not ignored by git <&"\'>', 'x | y'], remediation: 'ignore it', locations: [{ file: 'app/.env', line: 3 }] },
      { id: 'token-age', title: 'The token was rotated', status: 'warn', evidence: ['due in 3 days'], remediation: 'rotate' },
      { id: 'token-access-audited', title: 'Who can read', status: 'skip', evidence: ['store unreachable \u0001'], remediation: 'fix access' },
      { id: 'export-urls-not-cached', title: 'No URLs', status: 'pass', evidence: ['clean'], remediation: 'n/a' },
    ],
    summary: { total: 4, pass: 1, fail: 1, warn: 1, skip: 1, failOn, failed: true, exitCode: 1, config: '/repo/clariguard.yml', generatedAt: '2026-11-29T00:00:00.000Z' },
    configText: 'token: local:x\nmaxTokenAgeDays: 90\n',
  };
}

describe('audit report formats', () => {
  it('text lists every check, fixes for what did not pass, and a summary line', () => {
    const t = toText(report());
    expect(t).toMatch(/^FAIL\s+env-files-ignored\s+\.env files are ignored$/m);
    expect(t).toMatch(/^\s+fix: ignore it$/m);
    expect(t).not.toMatch(/fix: n\/a/);
    expect(t.trimEnd().split('\n').at(-1)).toBe('4 checks: 1 passed, 1 failed, 1 warned, 1 skipped; audit FAILED (--fail-on fail)');
  });

  it('sarif points results at files or at the config key', () => {
    const s = toSarif(report()) as { runs: { results: { ruleId: string; level: string; locations: { physicalLocation: { artifactLocation: { uri: string }; region: { startLine: number } } }[] }[] }[] };
    const [fail, warn] = s.runs[0].results;
    expect(s.runs[0].results).toHaveLength(2);
    expect(fail).toMatchObject({ ruleId: 'env-files-ignored', level: 'error' });
    expect(fail.locations[0].physicalLocation.artifactLocation.uri).toBe('app/.env');
    expect(fail.locations[0].physicalLocation.region.startLine).toBe(3);
    expect(warn).toMatchObject({ ruleId: 'token-age', level: 'warning' });
    expect(warn.locations[0].physicalLocation).toMatchObject({ artifactLocation: { uri: 'clariguard.yml' }, region: { startLine: 2 } });
  });

  it('junit escapes XML and turns warnings into failures only under --fail-on warn', () => {
    const x = toJunit(report());
    expect(x).toContain('not ignored by git &lt;&amp;&quot;&apos;&gt;');
    expect(x).not.toContain('\u0001');
    expect(x).toMatch(/failures="1"/);
    expect(toJunit(report('warn'))).toMatch(/failures="2"/);
    expect(toJunit(report('warn'))).toMatch(/<failure type="warn"/);
  });

  it('markdown is inert: pipes, HTML and mentions escaped', () => {
    const m = toMarkdown(report());
    expect(m).toContain(`app/.env: not ignored by git &lt;&"'&gt; (+1 more) |`);
    expect(formatReport({ ...report(), checks: [{ ...report().checks[0], evidence: ['a | b'] }] }, 'markdown')).toContain('a \\| b |');
    expect(formatReport({ ...report(), checks: [{ ...report().checks[0], evidence: ['ping @octocat'] }] }, 'markdown')).toContain('@\u200boctocat');
  });
});

describe('audit sarif paths', () => {
  it('uris are relative to the git repository root, with no absolute path anywhere', async () => {
    const { mkdtempSync, mkdirSync, rmSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    const { join } = await import('node:path');
    const repo = mkdtempSync(join(tmpdir(), 'clariguard-sarif-'));
    try {
      mkdirSync(join(repo, '.git'));
      mkdirSync(join(repo, 'ops'));
      const r = report();
      r.summary = { ...r.summary, config: join(repo, 'ops', 'clariguard.yml') };
      r.checks[0] = { ...r.checks[0], locations: [{ file: '../app/.env', line: 3 }, { file: '../../elsewhere/.env' }] };
      const s = toSarif(r) as { runs: { results: { locations: { physicalLocation: { artifactLocation: { uri: string; uriBaseId?: string } } }[]; relatedLocations?: unknown[] }[] }[] };
      const [fail, warn] = s.runs[0].results;
      expect(fail.locations[0].physicalLocation.artifactLocation.uri).toBe('app/.env');
      // A path outside the repository cannot be shown by code scanning: it is left out, not made absolute.
      expect(fail.relatedLocations).toBeUndefined();
      expect(warn.locations[0].physicalLocation.artifactLocation.uri).toBe('ops/clariguard.yml');
      const text = JSON.stringify(s);
      expect(text).not.toContain(repo);
      expect(text).not.toContain('file://');
    } finally {
      rmSync(repo, { recursive: true, force: true });
    }
  });
});

describe('audit sarif messages', () => {
  it('name the store and repository paths without the absolute prefix of this machine', async () => {
    const { mkdtempSync, mkdirSync, rmSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    const { join } = await import('node:path');
    const repo = mkdtempSync(join(tmpdir(), 'clariguard-sarif-'));
    const saved = process.env.CLARIGUARD_HOME;
    process.env.CLARIGUARD_HOME = join(repo, 'home', 'cg');
    try {
      mkdirSync(join(repo, '.git'));
      const r = report();
      r.summary = { ...r.summary, config: join(repo, 'clariguard.yml') };
      r.checks[1] = { ...r.checks[1], status: 'fail', evidence: [`store ${join(repo, 'home', 'cg', 'store.age')}: mode 0644`, `inside the git work tree ${repo}/app`] };
      r.checks[2] = { ...r.checks[2], evidence: [`cannot read ${join(repo, 'home', 'cg', 'identity.txt')}`] };
      const text = JSON.stringify(toSarif(r));
      expect(text).not.toContain(repo);
      expect(text).toContain('store $CLARIGUARD_HOME/store.age: mode 0644');
      expect(text).toContain('inside the git work tree ./app');
    } finally {
      if (saved === undefined) delete process.env.CLARIGUARD_HOME;
      else process.env.CLARIGUARD_HOME = saved;
      rmSync(repo, { recursive: true, force: true });
    }
  });
});

describe('audit sarif uris', () => {
  it('are percent-encoded URI references (spaces, non-ASCII, #, %)', () => {
    const r = report();
    r.checks[0] = { ...r.checks[0], locations: [{ file: 'app dir/.env ü#1%', line: 2 }] };
    const s = toSarif(r) as { runs: { results: { locations: { physicalLocation: { artifactLocation: { uri: string } } }[] }[] }[] };
    expect(s.runs[0].results[0].locations[0].physicalLocation.artifactLocation.uri).toBe('app%20dir/.env%20%C3%BC%231%25');
  });
});
