import { parseSecretRef, type SecretValue } from '../../secrets/index.js';
import { plural } from '../mask.js';
import { scanTargets } from '../scanning.js';
import { tokenValue } from '../token.js';
import type { AuditCheck, CheckStatus } from '../types.js';

const REMEDIATION =
  'Keep the token only in a secret store (`clariguard secret copy env:CLARI_API_KEY aws-sm://clari/prod/api-token`), inject it with `clariguard run`, and for every copy found: remove it, purge it from history (git filter-repo) and rotate the token with `clariguard rotate`.';

export const tokenInSecretStore: AuditCheck = {
  id: 'token-in-secret-store',
  title: 'The Clari token lives in a secret store and nowhere else',
  description:
    'The configured token reference points at a secret store (an env: reference alone is not enough in production, a dotenv: file never is), and the scanner finds no Clari token (by context, and by the exact value of the configured token when it can be read) in the repositories\' work trees or in any commit of their history.',
  remediation: REMEDIATION,
  configKeys: ['token', 'repos'],
  async run(ctx) {
    const evidence: string[] = [];
    // What makes the check fail or warn comes first: one-line summaries (JUnit, Markdown) show the first line.
    const findings: string[] = [];
    let status: CheckStatus = 'pass';
    const worse = (s: CheckStatus) => {
      const rank = { pass: 0, skip: 1, warn: 2, fail: 3 } as const;
      if (rank[s] > rank[status]) status = s;
    };
    const ref = ctx.config.token;
    let known: SecretValue[] = [];
    if (!ref) {
      worse('warn');
      evidence.push('no token configured (token: in the config): only context rules can find Clari tokens');
    } else {
      const r = parseSecretRef(ref);
      if (r.scheme === 'env') {
        const prod = ctx.config.environment === 'production';
        worse(prod ? 'fail' : 'warn');
        findings.push(`${r.raw}: an environment variable, not a secret store${prod ? ' (environment: production)' : ''}`);
      } else if (r.scheme === 'dotenv') {
        worse('fail');
        findings.push(`${r.raw}: a plaintext .env file, not a secret store`);
      } else {
        evidence.push(`${r.raw}: kept in the ${r.scheme} secret store`);
      }
      const v = await tokenValue(ctx);
      if (v.ok) {
        known = [v.value];
        evidence.push('searched for the exact token value (raw and encoded) as well as by context');
      } else {
        worse('warn');
        evidence.push(`${v.reason}: searched by context only, not for the exact value`);
      }
    }
    if (!ctx.repos.length) {
      worse('warn');
      evidence.push('no repositories configured (repos: in the config): nothing scanned');
    } else {
      const s = await scanTargets(
        ctx,
        ctx.repos.map((path) => ({ path, history: true })),
        ['clari-api-token', 'clari-known-token'],
        known,
      );
      if (s.findings.length) {
        worse('fail');
        findings.unshift(`${plural(s.findings.length, 'Clari token')} found:`, ...s.evidence);
      } else if (s.scannedTargets) {
        evidence.push(`no Clari token in the work tree or history of ${plural(s.scannedTargets, 'repository', 'repositories')}`);
      }
      if (s.missing.length) s.notScanned.push(...s.missing.map((m) => `${m}: does not exist`));
      if (s.notScanned.length) {
        worse(s.scannedTargets ? 'warn' : 'skip');
        evidence.push(...s.notScanned.map((n) => `not scanned: ${n}`));
      }
      return { status, evidence: [...findings, ...evidence], remediation: this.remediation, locations: s.locations };
    }
    return { status, evidence: [...findings, ...evidence], remediation: this.remediation };
  },
};
