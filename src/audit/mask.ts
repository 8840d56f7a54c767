/** Masks shown in evidence: reports are shared (PR comments, CI logs), the people in them are not. */

/** `ana.silva@acme.com` -> `a***@acme.com`. */
export function maskEmail(email: string): string {
  const at = email.lastIndexOf('@');
  if (at <= 0) return '***';
  return `${[...email][0]}***@${email.slice(at + 1).toLowerCase()}`;
}

/** `Ana Silva` -> `A*** S***`. */
export function maskName(name: string): string {
  return name
    .trim()
    .split(/\s+/)
    .map((w) => `${[...w][0] ?? ''}***`)
    .join(' ');
}

/** The first characters of a digest-like value: enough to find it, too little to matter. */
export function clip(value: string, n = 8): string {
  return value.length > n ? `${value.slice(0, n)}…` : value;
}

/** `3 tables` / `1 table`. */
export function plural(n: number, word: string, many = `${word}s`): string {
  return `${n} ${n === 1 ? word : many}`;
}
