import { openSecret } from '../../secrets/index.js';
import { reasonOf } from '../token.js';
import type { AuditCheck } from '../types.js';

/** `arn:aws:iam::1:role/clari-*` style patterns: `*` matches any run of characters, nothing else is special. */
export function principalAllowed(principal: string, allowed: readonly string[]): boolean {
  return allowed.some((a) => {
    if (!a.includes('*')) return a === principal;
    const re = new RegExp(`^${a.split('*').map((s) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('.*')}$`);
    return re.test(principal);
  });
}

export const tokenAccessAudited: AuditCheck = {
  id: 'token-access-audited',
  title: 'Who can read the token is known and allowed',
  description:
    'Lists who can read the token from the store itself: the principals of an AWS resource policy (wildcards fail) compared with allowedTokenReaders; the owner and mode of the local store files; for env: references, a warning that anyone with access to the CI settings or the process can read it.',
  remediation:
    'Restrict the store: for AWS, a resource policy granting secretsmanager:GetSecretValue only to the roles in allowedTokenReaders (no "*" principal); for the local store, files owned by the service user with mode 0600 in a 0700 directory; move env: tokens into a store.',
  configKeys: ['allowedTokenReaders', 'token'],
  async run(ctx) {
    const ref = ctx.config.token;
    if (!ref) return { status: 'skip', evidence: ['no token configured (token: in the config)'], remediation: this.remediation };
    let opened;
    try {
      opened = openSecret(ref, { env: ctx.env });
    } catch (e) {
      return { status: 'skip', evidence: [`${ref}: ${reasonOf(e)}`], remediation: this.remediation };
    }
    const { ref: r, backend } = opened;
    if (!backend.readers) {
      return {
        status: 'skip',
        evidence: [`${r.raw}: the ${backend.scheme} store cannot report who can read a secret; check its access policy by hand`],
        remediation: this.remediation,
      };
    }
    let report;
    try {
      report = await backend.readers(r);
    } catch (e) {
      return { status: 'skip', evidence: [`${r.raw}: cannot list readers: ${reasonOf(e)}`], remediation: this.remediation };
    }
    const allowed = ctx.config.allowedTokenReaders;
    const evidence = [...report.principals.map((p) => `can read: ${p}`), ...report.evidence];
    // Below, what fails or warns leads the list (one-line summaries show the first line).
    if (r.scheme === 'env' || r.scheme === 'dotenv') {
      return { status: 'warn', evidence, remediation: 'Move the token into a secret store (`clariguard secret copy env:NAME aws-sm://…`) and inject it with `clariguard run`.' };
    }
    if (report.wildcard) {
      return { status: 'fail', evidence: ['access is granted to a wildcard or to anyone', ...evidence], remediation: this.remediation };
    }
    if (r.scheme === 'local') {
      // The local store is protected by file ownership; allowedTokenReaders lists cloud principals.
      return { status: 'pass', evidence: [...evidence, 'only the owner can read the store files'], remediation: this.remediation };
    }
    if (!allowed.length) {
      return { status: 'warn', evidence: ['allowedTokenReaders is empty: nothing to compare the readers with', ...evidence], remediation: 'List the principals that may read the token in allowedTokenReaders.' };
    }
    // The owning account (through its identity policies) is always a reader; it is listed, not compared.
    const compared = report.principals.filter((p) => !/\(IAM principals allowed by identity policies\)$/.test(p));
    const extra = compared.filter((p) => !principalAllowed(p.replace(/ \([^)]*\)$/, ''), allowed) && !principalAllowed(p, allowed));
    if (extra.length) return { status: 'fail', evidence: [...extra.map((p) => `not in allowedTokenReaders: ${p}`), ...evidence], remediation: this.remediation };
    return { status: 'pass', evidence: [...evidence, `every reader is in allowedTokenReaders (${allowed.length} allowed)`], remediation: this.remediation };
  },
};
