import { ASSIGNMENT_LINE_PATTERNS, CLARI_WORD, NOT_A_SECRET_NAME, forEachAssignmentOf, isCodeFile, isCredentialLike } from '../heuristics.js';
import type { Rule, RuleMatch, ScanChunk } from '../types.js';

/** Names of credentials in general (Clari ones belong to clari-api-token; a bare `key` is too common). */
const NAME_KEYWORDS =
  /secret|passw(?:or)?d|pwd|token|api[_.-]?key|apikey|access[_.-]?key|private[_.-]?key|signing[_.-]?key|encryption[_.-]?key|master[_.-]?key|credential|passphrase|auth[_.-]?(?:token|key)/i;

/** Well-known credential formats of the stores and services around a Clari integration. */
/** `gate`: a literal that must occur (case-sensitive) before the regex is worth running. */
const FORMATS: { re: RegExp; group: number; gate: string | string[] }[] = [
  { re: /-----BEGIN (?:RSA |EC |DSA |OPENSSH |ENCRYPTED |PGP )?PRIVATE KEY(?: BLOCK)?-----(?:\\n|\r?\n)([A-Za-z0-9+/=]{20,})/g, group: 1, gate: 'PRIVATE KEY' },
  { re: /\b(AGE-SECRET-KEY-1[0-9A-Z]{58})\b/g, group: 1, gate: 'AGE-SECRET-KEY-1' }, // age identities (the local store's key)
  { re: /\b(gh[pousr]_[A-Za-z0-9]{36,255}|github_pat_[A-Za-z0-9_]{60,255})\b/g, group: 1, gate: ['ghp_', 'gho_', 'ghu_', 'ghs_', 'ghr_', 'github_pat_'] },
  { re: /\b(hv[sb]\.[A-Za-z0-9_-]{24,})\b/g, group: 1, gate: ['hvs.', 'hvb.'] }, // HashiCorp Vault tokens
  { re: /\b(xox[abposr]-[A-Za-z0-9-]{10,})\b/g, group: 1, gate: 'xox' }, // Slack
  { re: /\b(AIza[0-9A-Za-z_-]{35})\b/g, group: 1, gate: 'AIza' }, // Google API keys
  { re: /\b(ops_ey[A-Za-z0-9_-]{40,})/g, group: 1, gate: 'ops_ey' }, // 1Password service accounts
  { re: /AccountKey=([A-Za-z0-9+/]{80,}={0,2})/g, group: 1, gate: 'AccountKey=' }, // Azure storage connection strings
  { re: /\b(?:postgres(?:ql)?|mysql|mariadb|mongodb(?:\+srv)?|redis|rediss|amqps?):\/\/[^\s:/@"'`]+:([^\s@/"'`]{6,})@[^\s"'`]/g, group: 1, gate: ['postgres', 'mysql', 'mariadb', 'mongodb', 'redis', 'amqp'] }, // URLs with a password
];

/**
 * Gate of the formats: most chunks hold none of them. The reference is one regex (TOKEN_GATE, kept for the
 * tests); this does the same with cheaper searches: the upper-case literals in one regex (rare first
 * letters), `xox` and `hv` by indexOf, and the `gh?_`/`ops_ey`/`github_pat_` prefixes from each `_` (rare
 * in most text, while g/h/o start countless words). The database URL schemes start with common letters too,
 * so they are checked only where `://` occurs.
 */
const TOKEN_GATE = /PRIVATE KEY|AGE-SECRET-KEY-1|gh[pousr]_|github_pat_|hv[sb]\.|xox|AIza|ops_ey|AccountKey=/;
const UPPER_GATE = /PRIVATE KEY|AGE-SECRET-KEY-1|AIza|AccountKey=/;
const DB_SCHEME_BEFORE = /(?:postgres|mysql|mariadb|mongodb|redis|amqp)[a-z+]*$/;
function mayHoldToken(text: string): boolean {
  if (text.includes('xox') || UPPER_GATE.test(text)) return true;
  for (let i = text.indexOf('_'); i >= 0; i = text.indexOf('_', i + 1)) {
    const p = text.charCodeAt(i - 1);
    // p o u s r
    if ((p === 112 || p === 111 || p === 117 || p === 115 || p === 114) && text.charCodeAt(i - 2) === 104 && text.charCodeAt(i - 3) === 103) return true;
    if (text.startsWith('ops_ey', i - 3) || text.startsWith('github_pat_', i - 6)) return true;
  }
  for (let i = text.indexOf('hv'); i >= 0; i = text.indexOf('hv', i + 1)) {
    const c = text.charCodeAt(i + 2);
    if ((c === 115 || c === 98) && text.charCodeAt(i + 3) === 46) return true;
  }
  return false;
}
function mayHoldDbUrl(text: string): boolean {
  for (let i = text.indexOf('://'); i >= 0; i = text.indexOf('://', i + 3)) {
    if (DB_SCHEME_BEFORE.test(text.slice(Math.max(0, i - 16), i))) return true;
  }
  return false;
}
export function mayHoldFormat(text: string): boolean {
  return mayHoldToken(text) || mayHoldDbUrl(text);
}
/** mayHoldFormat() the plain way (the reference the tests compare it with). */
export function mayHoldFormatByRegex(text: string): boolean {
  return TOKEN_GATE.test(text) || mayHoldDbUrl(text);
}

function detect(chunk: ScanChunk): RuleMatch[] {
  const out: RuleMatch[] = [];
  const code = isCodeFile(chunk.file);
  forEachAssignmentOf(chunk, NAME_KEYWORDS, (rawName, _at, v) => {
    const name = rawName.replace(/^-+/, '').replace(/^\$/, '');
    if (CLARI_WORD.test(name) || NOT_A_SECRET_NAME.test(name)) return;
    // The credential *scope* of a signed URL (key id/date/region): signed-download-url reports the URL.
    if (/^x-(amz|goog)-credential$/i.test(name)) return;
    if (code && !v.quoted) return;
    const value = chunk.text.slice(v.start, v.end);
    if (!isCredentialLike(value, { minLength: 12, minEntropy: 3.3 })) return;
    out.push({ start: v.start, end: v.end });
  });
  if (!mayHoldFormat(chunk.text)) return out;
  for (const { re, group, gate } of FORMATS) {
    if (typeof gate === 'string' ? !chunk.text.includes(gate) : !gate.some((g) => chunk.text.includes(g))) continue;
    re.lastIndex = 0;
    let m: RegExpExecArray | null;
    while ((m = re.exec(chunk.text)) !== null) {
      const value = m[group];
      if (/EXAMPLE|example|xxxxxx|XXXXXX|\$\{|<[a-z]/.test(value) || /^(password|passw0rd|secret|changeme|pass)$/i.test(value)) continue;
      const start = m.index + m[0].indexOf(value);
      out.push({ start, end: start + value.length });
    }
  }
  return out;
}

const S1 = 'wJ8rXUtnFEMI/K7MDENG/bPxRfiCYzQ9vL2kT4aB'; // clariguard:allow
const PW = 'Vq9#tL2m!Rz7xW4p'; // clariguard:allow
const GH = ['ghp', '_', 'Zr8Kq2Lm9Xv4Tn7Wb3Yp6Hc1Jd5Fg0Ss2Ae4'].join(''); // clariguard:allow
const AGE = ['AGE-SECRET-KEY-1', 'QZ8R2XK5WN7JT3M6P9L4V0HC8D2F6G1S5A3E7Y9U0B4N6K2R8T5W1QJ7PL'].join(''); // clariguard:allow

export const genericSecret: Rule = {
  id: 'generic-secret',
  description: 'A credential of the surrounding stores and services (AWS secret key, Vault/GitHub/Slack/age/1Password tokens, private keys, database passwords, *_SECRET/*_PASSWORD/*_TOKEN values)',
  severity: 'medium',
  keywords: [
    'secret', 'passw', 'pwd', 'token', 'api_key', 'apikey', 'api-key', 'apiKey', 'access_key', 'accesskey', 'access-key',
    'private', 'signing', 'encryption', 'master', 'credential', 'passphrase', 'auth_', 'authkey', 'authtoken',
    'age-secret-key', 'ghp_', 'gho_', 'ghu_', 'ghs_', 'ghr_', 'github_pat_', 'hvs.', 'hvb.', 'xox', 'aiza', 'ops_ey', 'accountkey',
    'postgres', 'mysql', 'mariadb', 'mongodb', 'redis', 'amqp',
  ],
  // The assignment patterns, and each FORMATS regex reduced to a literal plus the minimum run that follows
  // (anchored on rarer characters through look-behinds: `_`, `.`, `:` instead of g/h/o/p starts).
  linePatterns: [
    ...ASSIGNMENT_LINE_PATTERNS,
    'PRIVATE KEY|A(?:GE-SECRET-KEY-1[0-9A-Z]{58}|Iza[0-9A-Za-z_-]{35}|ccountKey=[A-Za-z0-9+/]{80})',
    '_(?:(?<=gh[pousr]_)[A-Za-z0-9]{36}|(?<=github_)pat_[A-Za-z0-9_]{60}|(?<=ops_)ey[A-Za-z0-9_-]{40})',
    '(?<=hv[sb])\\.[A-Za-z0-9_-]{24}|xox[abposr]-[A-Za-z0-9-]{10}',
    String.raw`://[^\s:/@"'` + '`' + String.raw`]+:[^\s@/"'` + '`' + ']{6,}@',
  ],
  pattern: 'a credential name (secret, password, token, api key, access key, private key, ...) assigned a credential-like literal (length >= 12, entropy >= 3.3), or a well-known token format',
  detect,
  samples: {
    truePositives: [
      { file: '.aws/credentials', text: `aws_secret_access_key = ${S1}\n` },
      { file: '.env', text: `WAREHOUSE_PASSWORD=${PW}\n` },
      { file: 'ci.sh', text: `GITHUB_TOKEN=${GH}\n` },
      { file: 'keys.txt', text: `# created: 2026-01-01\n${AGE}\n` },
      { file: 'db.yaml', text: `url: postgres://etl:${PW.replace('#', 'h')}@db.internal:5432/clari\n` },
      { file: 'vault.hcl', text: 'token = "hvs.CAESIJq9vL2kT4aBwJ8rXUtnFEMIK7MD"\n' }, // clariguard:allow
      { file: 'key.pem', text: '-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7\n-----END PRIVATE KEY-----\n' }, // clariguard:allow
      { file: 'settings.py', text: `AZURE_CLIENT_SECRET = "${S1.slice(0, 34)}"\n` },
    ],
    falsePositives: [
      { file: 'package-lock.json', text: '"integrity": "sha512-v2kDEe57lecTulaDIuNTPy3Ry4gLGJ6Z1O3vE1krgXZNrsQ+LFTGHVxVjcXPs17LhbZVGedAJv8XZ1tvj5FvSg=="\n' },
      { file: 'src/db.ts', text: 'const password = process.env.PGPASSWORD;\n' },
      { file: 'src/db.py', text: 'password = getpass.getpass()\n' },
      { file: '.env.example', text: 'WAREHOUSE_PASSWORD=your-password-here\n' },
      { file: 'docker-compose.yml', text: 'POSTGRES_PASSWORD: ${POSTGRES_PASSWORD}\n' },
      { file: 'db.yaml', text: 'url: postgres://etl:${PGPASSWORD}@db.internal:5432/clari\n' },
      { file: 'ids.json', text: '{"request_id": "550e8400-e29b-41d4-a716-446655440000", "commit": "9fceb02d0ae598e95dc970b74767f19372d61af8"}\n' },
      { file: 'tokens.ts', text: 'const tokenizer = new Tokenizer(); const token_type = "Bearer";\n' },
      { file: 'docs/vault.md', text: 'VAULT_TOKEN=hvs.EXAMPLEEXAMPLEEXAMPLEEXAMPLE\n' },
      { file: 'sums.txt', text: 'sha256: e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855\n' },
      { file: 'config.yaml', text: 'secret_ref: vault://secret/clari#token\n' },
    ],
  },
};
