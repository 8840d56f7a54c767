import { maskEmail, maskName } from '../mask.js';
import { lastRotation, tokenDescription } from '../token.js';
import type { AuditCheck } from '../types.js';

export const tokenRotatedAfterOffboarding: AuditCheck = {
  id: 'token-rotated-after-offboarding',
  title: 'The token was rotated after everyone with access left',
  description:
    'Every roster member with token access (hasTokenAccess) who left (leftOn) did so before the token\'s last rotation; someone who left afterwards may still hold the value.',
  remediation:
    'Rotate the token now (new token in Clari, `clariguard rotate <token-ref>`, revoke the old one, `clariguard rotate <token-ref> --finish`) and make rotation part of offboarding for everyone with hasTokenAccess. If the token belonged to the person who left, deactivating their Clari user already revoked it: issue the new one from a service user.',
  configKeys: ['roster', 'token'],
  async run(ctx) {
    if (!ctx.roster) return { status: 'skip', evidence: ['no roster configured (roster: in the config)'], remediation: this.remediation };
    const d = await tokenDescription(ctx);
    if (!d.ok) return { status: 'skip', evidence: [d.reason], remediation: this.remediation };
    const rot = lastRotation(d.value);
    if (!rot) {
      return {
        status: 'skip',
        evidence: [`${d.value.ref}: the ${d.value.backend} store records no rotation date, so it cannot be compared with departures`],
        remediation: 'Keep the token in a store that records dates and rotate it with `clariguard rotate`.',
      };
    }
    const rotated = Date.parse(rot.at);
    const today = ctx.now.toISOString().slice(0, 10);
    const evidence = [`${d.value.ref}: last rotated ${rot.at} (${rot.source})`];
    let late = 0;
    let upcoming = 0;
    let before = 0;
    for (const m of ctx.roster) {
      if (!m.hasTokenAccess || !m.leftOn) continue;
      const who = m.email ? maskEmail(m.email) : maskName(m.name);
      if (m.leftOn > today) {
        upcoming++;
        evidence.push(`${who} leaves on ${m.leftOn}: rotate the token after that day`);
      } else if (Date.parse(`${m.leftOn}T00:00:00Z`) > rotated) {
        late++;
        evidence.push(`${who} left on ${m.leftOn}, after the last rotation on ${rot.at.slice(0, 10)}`);
      } else before++;
    }
    const withAccess = ctx.roster.filter((m) => m.hasTokenAccess).length;
    evidence.push(`${withAccess} roster member(s) with token access; ${before} left before the last rotation`);
    // Departures first: they are the finding (and the one-line summaries show the first line).
    evidence.push(evidence.shift()!);
    return { status: late ? 'fail' : upcoming ? 'warn' : 'pass', evidence, remediation: this.remediation };
  },
};
