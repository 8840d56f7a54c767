import { ageInDays } from '../../secrets/time.js';
import { lastRotation, tokenDescription } from '../token.js';
import type { AuditCheck } from '../types.js';

const DAY_MS = 86_400_000;
/** How long before the limit a warning starts. */
export const TOKEN_AGE_WARN_DAYS = 14;

export const tokenAge: AuditCheck = {
  id: 'token-age',
  title: 'The token was rotated within maxTokenAgeDays',
  description: `The last rotation of the Clari API token is at most maxTokenAgeDays old (a warning within ${TOKEN_AGE_WARN_DAYS} days of the limit).`,
  remediation: `Rotate the token: create a new one in Clari (Settings → API Token), run \`clariguard rotate <token-ref>\` (stores it as pending, tests it, promotes it), then revoke the old token in Clari and run \`clariguard rotate <token-ref> --finish\`.`,
  configKeys: ['maxTokenAgeDays', 'token'],
  async run(ctx) {
    const d = await tokenDescription(ctx);
    if (!d.ok) return { status: 'skip', evidence: [d.reason], remediation: this.remediation };
    const rot = lastRotation(d.value);
    if (!rot) {
      return {
        status: 'skip',
        evidence: [`${d.value.ref}: the ${d.value.backend} store records no rotation or creation date, so the age is unknown`],
        remediation: 'Keep the token in a store that records dates (local:, aws-sm://, vault://…) and rotate it with `clariguard rotate`, which records the time.',
      };
    }
    const max = ctx.config.maxTokenAgeDays;
    const age = ageInDays(rot.at, ctx.now);
    const due = new Date(Date.parse(rot.at) + max * DAY_MS).toISOString().slice(0, 10);
    const evidence = [`${d.value.ref}: last rotated ${rot.at.slice(0, 10)} (${rot.source}), ${age} days ago; limit ${max} days (due ${due})`];
    if (age > max) return { status: 'fail', evidence: [...evidence, `${age - max} days overdue`], remediation: this.remediation };
    if (age >= max - TOKEN_AGE_WARN_DAYS) return { status: 'warn', evidence: [...evidence, `due in ${max - age} days`], remediation: this.remediation };
    return { status: 'pass', evidence, remediation: this.remediation };
  },
};
