/**
 * The scan as a pipeline calls it from the package entry: scanForReport is what `clariguard scan` runs (the
 * result plus the rules that ran, for SARIF), a SecretValue can be looked for directly, and the types of a
 * finding's parts can be named.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  SecretValue,
  maskSecret,
  scan,
  scanForReport,
  toSarif,
  type ScanFinding,
  type ScanSeverity,
  type ScanSkippedCounts,
} from '../../src/index.js';
import { canary, expectNoLeak } from '../helpers/canary.js';
import { tempDir } from '../helpers/cli.js';

let tmp: ReturnType<typeof tempDir>;
let dir: string;
beforeEach(() => {
  tmp = tempDir('clariguard-scan-lib-');
  dir = tmp.dir;
});
afterEach(() => tmp.cleanup());

describe('scan library surface from the package entry', () => {
  it('scanForReport gives the CLI its findings and rules; known values are SecretValues', async () => {
    const token = canary('cgscanlib');
    writeFileSync(join(dir, 'notes.txt'), `the token was ${token} once\n`);
    const known = [new SecretValue(token)];
    const { result, rules } = await scanForReport({ paths: [dir], cwd: dir, known });
    expect(result.findings.map((f) => f.ruleId)).toEqual(['clari-known-token']);
    expect((await scan({ paths: [dir], cwd: dir, known })).findings.map((f) => f.fingerprint)).toEqual(result.findings.map((f) => f.fingerprint));
    const sarif = JSON.stringify(toSarif(result, rules));
    expect(sarif).toContain('clari-known-token');
    expectNoLeak(sarif + JSON.stringify(result), token, 'scan result');
    const f: ScanFinding = result.findings[0]!;
    const sev: ScanSeverity = f.severity;
    const skipped: ScanSkippedCounts = result.stats.skipped;
    expect([typeof sev, typeof skipped]).toEqual(['string', 'object']);
    expect(maskSecret(token)).not.toContain(token.slice(4));
  });
});
