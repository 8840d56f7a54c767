import { VERSION } from '../version.js';
import { SCAN_DOCS_URL, type Finding, type Rule, type ScanResult, type Severity } from './types.js';

const LEVEL: Record<Severity, 'error' | 'warning' | 'note'> = { high: 'error', medium: 'warning', low: 'note' };
/** GitHub code scanning ranks security alerts by `security-severity` (0-10). */
const SECURITY_SEVERITY: Record<Severity, string> = { high: '8.0', medium: '5.0', low: '2.0' };

/** The JSON report: `{findings: [...], stats: {...}}`. */
export function toJsonReport(result: ScanResult): ScanResult {
  return { findings: result.findings, stats: result.stats };
}

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

/**
 * Text from a scanned repository as it is safe to print on a terminal: control characters (an escape
 * sequence in a file, a file name or a commit author could move the cursor, rewrite earlier lines or retitle
 * the window) are shown as `\xHH` / `\u{HH}` instead of being sent.
 */
export function printable(s: string): string {
  // eslint-disable-next-line no-control-regex
  return s.replace(/[\u0000-\u0008\u000a-\u001f\u007f-\u009f\u2028\u2029]/g, (c) => {
    const n = c.codePointAt(0)!;
    return n < 0x100 ? `\\x${n.toString(16).padStart(2, '0')}` : `\\u{${n.toString(16)}}`;
  });
}

/** Human-readable report: one block per finding, then a summary line. */
export function formatText(result: ScanResult): string {
  const out: string[] = [];
  for (const f of result.findings) {
    out.push(`${printable(f.file)}:${f.line}:${f.column}: ${f.ruleId} (${f.severity})`);
    out.push(`    ${printable(f.snippet)}`);
    if (f.commit) out.push(`    commit ${f.commit.slice(0, 12)} by ${printable(f.author ?? 'unknown')} on ${f.date ?? 'unknown'}`);
    out.push(`    fingerprint ${f.fingerprint}`);
  }
  const s = result.stats;
  const sk = s.skipped;
  const skipped = [
    sk.binary && `${sk.binary} binary`,
    sk.tooLarge && `${sk.tooLarge} too large`,
    sk.excludedDir && `${sk.excludedDir} in node_modules/.git`,
    sk.gitignored && `${sk.gitignored} gitignored`,
    sk.notRegular && `${sk.notRegular} links/special`,
    sk.allowed && `${sk.allowed} allowed inline`,
    sk.baselined && `${sk.baselined} in baseline`,
  ].filter(Boolean);
  const scope = s.commits ? `${plural(s.files, 'file')} in ${plural(s.commits, 'commit')}` : plural(s.files, 'file');
  out.push(
    `${result.findings.length ? plural(result.findings.length, 'finding') : 'no findings'}: scanned ${scope}, ${s.bytes} bytes in ${s.ms} ms` +
      (skipped.length ? `; skipped ${skipped.join(', ')}` : ''),
  );
  for (const u of s.unreadable) out.push(`unreadable: ${printable(u)}`);
  return `${out.join('\n')}\n`;
}

/** SARIF 2.1.0 for GitHub code scanning (upload with github/codeql-action/upload-sarif). */
export function toSarif(result: ScanResult, rules: readonly Pick<Rule, 'id' | 'description' | 'severity' | 'pattern'>[] = []): object {
  const byId = new Map<string, Pick<Rule, 'id' | 'description' | 'severity' | 'pattern'>>();
  for (const r of rules) byId.set(r.id, r);
  for (const f of result.findings) {
    if (!byId.has(f.ruleId)) byId.set(f.ruleId, { id: f.ruleId, description: f.ruleId, severity: f.severity, pattern: '' });
  }
  const ruleList = [...byId.values()];
  const index = new Map(ruleList.map((r, i) => [r.id, i]));
  return {
    $schema: 'https://json.schemastore.org/sarif-2.1.0.json',
    version: '2.1.0',
    runs: [
      {
        tool: {
          driver: {
            name: 'clariguard',
            informationUri: SCAN_DOCS_URL,
            semanticVersion: VERSION,
            version: VERSION,
            rules: ruleList.map((r) => ({
              id: r.id,
              name: r.id.replace(/(^|[-._])([a-z0-9])/g, (_m, _s, c: string) => c.toUpperCase()),
              shortDescription: { text: r.description },
              fullDescription: { text: r.pattern ? `${r.description}. Detects: ${r.pattern}` : r.description },
              helpUri: `${SCAN_DOCS_URL}#${r.id}`,
              help: {
                text: `Move the value into a secret store (clariguard secret set), rotate it if it was ever committed, and reference it instead. See ${SCAN_DOCS_URL}#${r.id}`,
              },
              defaultConfiguration: { level: LEVEL[r.severity] },
              properties: { tags: ['security', 'secret'], precision: r.id === 'clari-known-token' ? 'very-high' : 'high', 'security-severity': SECURITY_SEVERITY[r.severity] },
            })),
          },
        },
        results: result.findings.map((f) => ({
          ruleId: f.ruleId,
          ruleIndex: index.get(f.ruleId),
          level: LEVEL[f.severity],
          message: {
            text: `${f.ruleId}: ${f.snippet}${f.commit ? ` (added in commit ${f.commit.slice(0, 12)})` : ''}`,
          },
          locations: [
            {
              physicalLocation: {
                artifactLocation: { uri: sarifUri(f.file), uriBaseId: '%SRCROOT%' },
                region: { startLine: f.line, startColumn: f.column },
              },
            },
          ],
          partialFingerprints: { 'clariguard/v1': f.fingerprint },
          ...(f.commit ? { properties: { commit: f.commit, author: f.author, date: f.date } } : {}),
        })),
        columnKind: 'utf16CodeUnits',
      },
    ],
  };
}

/** Relative, forward slashes, each segment percent-encoded (RFC 3986) as SARIF requires of a URI. */
function sarifUri(file: string): string {
  return file
    .replace(/\\/g, '/')
    .replace(/^\.\//, '')
    .split('/')
    .map((s) => encodeURIComponent(s))
    .join('/');
}

export type { Finding };
