import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, isAbsolute, join, relative, resolve, sep } from 'node:path';
import { VERSION } from '../version.js';
import { CHECKS } from './checks/index.js';
import { topLevelKeyLine } from './config.js';
import { isFailing, type AuditReport } from './runner.js';
import type { CheckResult, CheckStatus } from './types.js';

export const AUDIT_FORMATS = ['text', 'json', 'sarif', 'junit', 'markdown'] as const;
export type AuditFormat = (typeof AUDIT_FORMATS)[number];

export const AUDIT_DOCS_URL = 'https://github.com/clariguard/clariguard/blob/main/docs/audit.md';

export function formatReport(report: AuditReport, format: AuditFormat): string {
  switch (format) {
    case 'json':
      return `${JSON.stringify(toJson(report), null, 2)}\n`;
    case 'sarif':
      return `${JSON.stringify(toSarif(report), null, 2)}\n`;
    case 'junit':
      return toJunit(report);
    case 'markdown':
      return toMarkdown(report);
    default:
      return toText(report);
  }
}

export function toJson(report: AuditReport): { checks: CheckResult[]; summary: AuditReport['summary'] } {
  return {
    checks: report.checks.map((c) => ({
      id: c.id,
      title: c.title,
      status: c.status,
      evidence: c.evidence,
      remediation: c.remediation,
      ...(c.locations ? { locations: c.locations } : {}),
    })),
    summary: report.summary,
  };
}

export function summaryLine(report: AuditReport): string {
  const s = report.summary;
  const verdict = s.failed ? 'FAILED' : 'PASSED';
  return `${s.total} checks: ${s.pass} passed, ${s.fail} failed, ${s.warn} warned, ${s.skip} skipped; audit ${verdict} (--fail-on ${s.failOn})`;
}

const LABEL: Record<CheckStatus, string> = { pass: 'PASS', fail: 'FAIL', warn: 'WARN', skip: 'SKIP' };

export function toText(report: AuditReport): string {
  const rows = report.checks;
  const idW = Math.max(2, ...rows.map((c) => c.id.length));
  const lines: string[] = [`STATUS  ${'CHECK'.padEnd(idW)}  TITLE`];
  for (const c of rows) {
    lines.push(`${LABEL[c.status].padEnd(6)}  ${c.id.padEnd(idW)}  ${c.title}`);
    for (const e of c.evidence) lines.push(`${' '.repeat(8)}- ${e}`);
    if (c.status === 'fail' || c.status === 'warn') lines.push(`${' '.repeat(8)}fix: ${c.remediation}`);
  }
  lines.push('', summaryLine(report));
  return `${lines.join('\n')}\n`;
}

// ---- SARIF 2.1.0 -------------------------------------------------------------------------------

function descriptionOf(id: string): string | undefined {
  return CHECKS.find((c) => c.id === id)?.description;
}
function configKeysOf(id: string): readonly string[] {
  return CHECKS.find((c) => c.id === id)?.configKeys ?? [];
}
function pascal(id: string): string {
  return id.replace(/(^|-)([a-z])/g, (_m, _d, ch: string) => ch.toUpperCase());
}
/** A relative URI reference: segments percent-encoded (SARIF uris are URIs, not file names). */
function uri(path: string): string {
  return path.split(sep).map(encodeURIComponent).join('/');
}

/**
 * Evidence names files by absolute path where they live outside the config's directory (the store, the work
 * tree). A SARIF file is uploaded and kept elsewhere: those prefixes become `.`, `$CLARIGUARD_HOME` and `~`.
 */
function portablePaths(root: string): (text: string) => string {
  const prefixes: [string, string][] = root === sep ? [] : [[root, '.']];
  if (process.env.CLARIGUARD_HOME) prefixes.push([resolve(process.env.CLARIGUARD_HOME), '$CLARIGUARD_HOME']);
  const home = process.env.HOME || homedir();
  if (home && home !== sep) prefixes.push([resolve(home), '~']);
  // Longest first, so a store inside the repository or the home directory gets its own name.
  prefixes.sort((a, b) => b[0].length - a[0].length);
  return (text) => {
    let out = text;
    for (const [abs, name] of prefixes) {
      out = out.split(`${abs}${sep}`).join(`${name}/`);
      out = out.replace(new RegExp(`${abs.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}(?=$|[\\s:;,)'"])`, 'g'), name);
    }
    return out;
  };
}

/** The git work tree holding `dir` (code scanning resolves uris against the repository root), else `dir`. */
function repositoryRoot(dir: string): string {
  for (let d = dir; ; d = dirname(d)) {
    if (existsSync(join(d, '.git'))) return d;
    if (dirname(d) === d) return dir;
  }
}

export function toSarif(report: AuditReport): Record<string, unknown> {
  // Location paths are relative to the config's directory; SARIF uris are relative to the repository root,
  // and never absolute (a report uploaded from CI must not carry the runner's paths).
  const configDir = report.summary.config ? dirname(report.summary.config) : process.cwd();
  const root = repositoryRoot(configDir);
  const inRepo = (path: string): string | null => {
    const rel = relative(root, resolve(configDir, path));
    return rel && !rel.startsWith('..') && !isAbsolute(rel) ? uri(rel) : null;
  };
  const configUri = (report.summary.config && inRepo(report.summary.config)) || 'clariguard.yml';
  const portable = portablePaths(root);
  const rules = report.checks.map((c) => ({
    id: c.id,
    name: pascal(c.id),
    shortDescription: { text: c.title },
    fullDescription: { text: descriptionOf(c.id) ?? c.title },
    help: { text: c.remediation, markdown: `**Remediation:** ${c.remediation}\n\nSee [docs/audit.md](${AUDIT_DOCS_URL}#${c.id}).` },
    helpUri: `${AUDIT_DOCS_URL}#${c.id}`,
    defaultConfiguration: { level: 'error' },
    properties: { tags: ['security', 'clariguard-audit'], precision: 'high', 'security-severity': '7.5' },
  }));
  const results = report.checks.flatMap((c, ruleIndex) => {
    if (c.status !== 'fail' && c.status !== 'warn') return [];
    const locs = (c.locations ?? []).slice(0, 50).flatMap((l) => {
      const file = inRepo(l.file);
      if (!file) return [];
      return [{
        physicalLocation: {
          artifactLocation: { uri: file },
          region: { startLine: Math.max(1, l.line ?? 1), ...(l.column ? { startColumn: Math.max(1, l.column) } : {}) },
        },
      }];
    });
    if (!locs.length) {
      // Code scanning needs a location: point at the config setting the check is about.
      const key = configKeysOf(c.id).find((k) => report.configText && topLevelKeyLine(report.configText, k));
      const line = key && report.configText ? topLevelKeyLine(report.configText, key) : 1;
      locs.push({ physicalLocation: { artifactLocation: { uri: configUri }, region: { startLine: line ?? 1 } } });
    }
    const level = c.status === 'fail' ? 'error' : 'warning';
    const text = portable(`${c.title}: ${c.status === 'fail' ? 'failed' : 'warning'}. ${c.evidence.join('; ')}`);
    return [{ ruleId: c.id, ruleIndex, level, kind: 'fail', message: { text }, locations: locs.slice(0, 1), ...(locs.length > 1 ? { relatedLocations: locs.slice(1).map((l, i) => ({ id: i + 1, ...l })) } : {}) }];
  });
  return {
    $schema: 'https://json.schemastore.org/sarif-2.1.0.json',
    version: '2.1.0',
    runs: [
      {
        tool: { driver: { name: 'clariguard', semanticVersion: VERSION, informationUri: AUDIT_DOCS_URL, rules } },
        automationDetails: { id: 'clariguard/audit/' },
        invocations: [{ executionSuccessful: true, endTimeUtc: report.summary.generatedAt }],
        results,
        properties: { summary: { ...report.summary, config: configUri }, skipped: report.checks.filter((c) => c.status === 'skip').map((c) => ({ id: c.id, reason: c.evidence.map(portable) })) },
      },
    ],
  };
}

// ---- JUnit XML ---------------------------------------------------------------------------------

export function xmlEscape(text: string): string {
  return text
    // XML 1.0 cannot carry most control characters even escaped.
    .replace(/[^\x09\x0A\x0D\x20-\uD7FF\uE000-\uFFFD\u{10000}-\u{10FFFF}]/gu, '\uFFFD')
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&apos;');
}

export function toJunit(report: AuditReport): string {
  const s = report.summary;
  const failures = report.checks.filter((c) => isFailing(c.status, s.failOn)).length;
  const attrs = `tests="${s.total}" failures="${failures}" errors="0" skipped="${s.skip}" timestamp="${s.generatedAt}"`;
  const out = ['<?xml version="1.0" encoding="UTF-8"?>', `<testsuites name="clariguard audit" ${attrs}>`, `  <testsuite name="clariguard audit" ${attrs}>`];
  for (const c of report.checks) {
    const body = [...c.evidence.map((e) => `- ${e}`), `Remediation: ${c.remediation}`].join('\n');
    out.push(`    <testcase classname="clariguard.audit" name="${xmlEscape(`${c.id}: ${c.title}`)}" time="0">`);
    out.push(`      <properties><property name="status" value="${c.status}"/></properties>`);
    if (isFailing(c.status, s.failOn)) {
      out.push(`      <failure type="${c.status}" message="${xmlEscape(c.evidence[0] ?? c.title)}">${xmlEscape(body)}</failure>`);
    } else if (c.status === 'skip') {
      out.push(`      <skipped message="${xmlEscape(c.evidence.join('; ') || 'skipped')}"/>`);
    }
    if (!isFailing(c.status, s.failOn)) out.push(`      <system-out>${xmlEscape(`${c.status === 'warn' ? 'WARNING\n' : ''}${body}`)}</system-out>`);
    out.push('    </testcase>');
  }
  out.push('  </testsuite>', '</testsuites>', '');
  return out.join('\n');
}

// ---- Markdown ----------------------------------------------------------------------------------

const ICON: Record<CheckStatus, string> = { pass: '✅', fail: '❌', warn: '⚠️', skip: '⏭️' };

function mdCell(text: string): string {
  return mdText(text).replace(/\|/g, '\\|').replace(/\r?\n/g, ' ');
}
/** Inert Markdown: no HTML, no mentions, no auto-links that could ping people from a PR comment. */
function mdText(text: string): string {
  // Code spans, emphasis and underscores are harmless; links, HTML and mentions are not.
  return text.replace(/[<>]/g, (ch) => (ch === '<' ? '&lt;' : '&gt;')).replace(/@/g, '@\u200b').replace(/([[\]])/g, '\\$1');
}

export function toMarkdown(report: AuditReport): string {
  const s = report.summary;
  const head = s.failed ? `❌ **clariguard audit failed**` : `✅ **clariguard audit passed**`;
  const lines = [
    `### clariguard audit`,
    '',
    `${head}: ${s.pass} passed, ${s.fail} failed, ${s.warn} warned, ${s.skip} skipped (fail on: ${s.failOn})`,
    '',
    '| | Check | Status | Summary |',
    '|---|---|---|---|',
  ];
  for (const c of report.checks) {
    lines.push(`| ${ICON[c.status]} | \`${c.id}\` | ${c.status} | ${mdCell(c.evidence[0] ?? c.title)}${c.evidence.length > 1 ? ` (+${c.evidence.length - 1} more)` : ''} |`);
  }
  for (const c of report.checks) {
    if (c.status === 'pass') continue;
    lines.push('', `<details><summary>${ICON[c.status]} ${mdText(c.id)}: ${mdText(c.title)}</summary>`, '');
    for (const e of c.evidence) lines.push(`- ${mdText(e)}`);
    lines.push('', `**Remediation:** ${mdText(c.remediation)}`, '', '</details>');
  }
  lines.push('');
  return lines.join('\n');
}
