/**
 * The audit as a pipeline calls it from the package entry: an in-memory config (its input type nameable),
 * the same summary line and exit code `clariguard audit` prints, and the per-format writers.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  AUDIT_CHECKS,
  auditSummaryLine,
  auditToJunit,
  auditToMarkdown,
  formatReport,
  isFailing,
  runAudit,
  type AuditConfigInput,
  type CheckOutcome,
  type RosterMember,
} from '../../src/index.js';
import { canary, expectNoLeak } from '../helpers/canary.js';

const dir = mkdtempSync(join(tmpdir(), 'clariguard-audit-lib-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('audit library surface from the package entry', () => {
  it('runs checks on an in-memory config and reports as the CLI does', async () => {
    const token = canary('cgaudlib');
    const config: AuditConfigInput = { token: 'env:CG_AUDIT_LIB_TOKEN', maxTokenAgeDays: 90 };
    const report = await runAudit({ config, baseDir: dir, only: ['token-in-secret-store', 'token-age'], env: { CG_AUDIT_LIB_TOKEN: token, HOME: dir } });
    expect(report.checks.map((c) => c.id)).toEqual(['token-in-secret-store', 'token-age']);
    const line = auditSummaryLine(report);
    expect(line).toMatch(/\d/);
    expect(formatReport(report, 'text')).toContain(line);
    expect(auditToJunit(report)).toContain('<testsuite');
    expect(auditToMarkdown(report)).toContain('token-age');
    expect(report.summary.exitCode).toBe(report.checks.some((c) => isFailing(c.status, 'fail')) ? 1 : 0);
    for (const f of ['text', 'json', 'sarif', 'junit', 'markdown'] as const) expectNoLeak(formatReport(report, f), token, `${f} report`);
    const roster: RosterMember[] = [];
    const outcome: Pick<CheckOutcome, 'status'> = { status: report.checks[0]!.status };
    expect([roster.length, typeof outcome.status, AUDIT_CHECKS.length]).toEqual([0, 'string', 8]);
  });
});
