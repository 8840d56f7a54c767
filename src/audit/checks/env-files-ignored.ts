import { existsSync, readFileSync } from 'node:fs';
import { basename, isAbsolute, relative } from 'node:path';
import { catFiles, git, ignoreSources, trackedPaths, workTreeOf } from '../git.js';
import { plural } from '../mask.js';
import type { AuditCheck, CheckLocation } from '../types.js';
import { walk } from '../walk.js';

/** `.env`, `.env.local`, `.envrc`, `prod.env`: the files dotenv-style tools read secrets from. */
export function isEnvFileName(name: string): boolean {
  return name.startsWith('.env') || /\.env$/i.test(name);
}

/** `.env.example`, `.env.sample`, `prod.env.template`: templates, fine to commit while they hold no values. */
export function isTemplateName(name: string): boolean {
  return /[.-](example|sample|template|tpl|dist|defaults?|schema)$/i.test(name);
}

const PLACEHOLDER =
  /^(<[^>]*>|\$\{[^}]*\}|\$[A-Z_][A-Z0-9_]*|changeme|change[-_]me|replace[-_]?me|xx+|\*+|\.\.\.|todo|tbd|none|null|placeholder|your[-_ ].*|example[-_.].*|<?your.*|false|true|\d{1,5})$/i;

const SECRET_NAME = /(key|token|secret|passw(or)?d|pass|pwd|credential|auth|private|session|cookie|signature|dsn|api)/i;

function entropy(s: string): number {
  const counts = new Map<string, number>();
  for (const ch of s) counts.set(ch, (counts.get(ch) ?? 0) + 1);
  let h = 0;
  for (const n of counts.values()) h -= (n / s.length) * Math.log2(n / s.length);
  return h;
}

/** A value that could be a credential whatever its name: long, mixed letters and digits, high entropy. */
function looksLikeCredential(value: string): boolean {
  return value.length >= 16 && /[A-Za-z]/.test(value) && /\d/.test(value) && !/\s/.test(value) && entropy(value) >= 3.0;
}

/**
 * True when a template holds no secret values: every assignment to a secret-like name (`*_KEY`, `*_TOKEN`,
 * `*_PASSWORD`, …) is empty, a `${VAR}` reference or a placeholder (`<your token>`, `changeme`, `xxx`), no
 * value anywhere looks like a credential, and no URL carries a password. Plain settings (`PORT=8080`,
 * `LOG_LEVEL=info`, `CLARI_BASE_URL=https://api.clari.com/v4`) are fine.
 */
export function templateHoldsNoValues(text: string): boolean {
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim();
    if (!line || line.startsWith('#')) continue;
    const m = /^(?:export\s+)?([A-Za-z_][A-Za-z0-9_.-]*)\s*[=:]\s*(.*)$/.exec(line);
    if (!m) continue;
    let value = m[2].replace(/\s+#.*$/, '').trim();
    if (/^(['"]).*\1$/.test(value)) value = value.slice(1, -1).trim();
    if (!value || PLACEHOLDER.test(value)) continue;
    if (SECRET_NAME.test(m[1]) && !/^https?:\/\/[^:@/\s]+(\/|$)/.test(value)) return false;
    if (!/^[a-z][a-z0-9+.-]*:\/\//i.test(value) && looksLikeCredential(value)) return false;
    if (/^[a-z][a-z0-9+.-]*:\/\/[^/\s:@]*:[^/\s@]+@/i.test(value) && !/:\/\/[^/\s:@]*:(<[^>]*>|\$\{[^}]*\}|\*+|x+|password|changeme)@/i.test(value)) return false;
  }
  return true;
}

export const envFilesIgnored: AuditCheck = {
  id: 'env-files-ignored',
  title: '.env files are ignored by git and were never committed',
  description:
    'Every .env* file in the configured repositories (except .env.example-style templates holding no values) is ignored by git (git check-ignore) and not tracked, and no such file appears anywhere in the history of any branch or tag.',
  remediation:
    'Add the files to .gitignore (e.g. `.env*` then `!.env.example`) and `git rm --cached` tracked ones; for files in history, rotate every secret they held and remove them from history (git filter-repo --path FILE --invert-paths), then force-push and ask collaborators to re-clone.',
  configKeys: ['repos'],
  async run(ctx) {
    const evidence: string[] = [];
    // What is wrong comes first: one-line summaries (JUnit message, Markdown table) show the first line.
    const findings: string[] = [];
    const locations: CheckLocation[] = [];
    let problems = 0;
    let warnings = 0;
    let checkedRepos = 0;
    for (const repo of ctx.repos) {
      const shown = relative(ctx.baseDir, repo) || '.';
      if (!existsSync(repo)) {
        evidence.push(`${shown}: does not exist, not checked`);
        continue;
      }
      const root = await workTreeOf(repo);
      if (!root) {
        evidence.push(`${shown}: not a git work tree, not checked`);
        continue;
      }
      checkedRepos++;
      // Work tree: every env file must be ignored and untracked.
      const envFiles = walk(repo).filter((e) => isEnvFileName(basename(e.path)));
      const rels = envFiles.map((e) => relative(root, e.path));
      const tracked = await trackedPaths(root, rels);
      const sources = await ignoreSources(root, rels);
      const ignored = new Set(sources.keys());
      // A rule only protects other clones (CI, colleagues) when it is in a committed .gitignore.
      const repoIgnoreFiles = [...new Set(sources.values())].filter((s) => basename(s) === '.gitignore' && !isAbsolute(s) && !s.startsWith('..'));
      const committedIgnoreFiles = await trackedPaths(root, repoIgnoreFiles);
      const localOnly = (source: string): string | null => {
        if (committedIgnoreFiles.has(source)) return null;
        if (repoIgnoreFiles.includes(source)) return `${source}, which is not committed`;
        if (/(^|[\\/])info[\\/]exclude$/.test(source)) return '.git/info/exclude, which is not part of the repository';
        return 'your global excludes file (core.excludesFile), which is not part of the repository';
      };
      let okFiles = 0;
      for (const [i, e] of envFiles.entries()) {
        const rel = rels[i];
        const shownFile = relative(ctx.baseDir, e.path) || rel;
        const name = basename(e.path);
        if (isTemplateName(name)) {
          if (templateHoldsNoValues(readFileSync(e.path, 'utf8'))) {
            evidence.push(`${shownFile}: template without values, allowed`);
            continue;
          }
          problems++;
          locations.push({ file: shownFile });
          findings.push(`${shownFile}: template file assigns real values${tracked.has(rel) ? ' and is tracked by git' : ''}`);
          continue;
        }
        if (tracked.has(rel)) {
          problems++;
          locations.push({ file: shownFile });
          findings.push(`${shownFile}: tracked by git${ignored.has(rel) ? ' (matches an ignore rule but was added anyway)' : ''}`);
        } else if (!ignored.has(rel)) {
          problems++;
          locations.push({ file: shownFile });
          findings.push(`${shownFile}: not ignored by git (a \`git add .\` would commit it)`);
        } else {
          const only = localOnly(sources.get(rel)!);
          if (only) {
            warnings++;
            locations.push({ file: shownFile });
            findings.push(`${shownFile}: ignored only by ${only}: a fresh clone (CI, a colleague) would not ignore it; add the rule to a committed .gitignore`);
          } else okFiles++;
        }
      }
      if (okFiles) evidence.push(`${shown}: ${plural(okFiles, 'env file')} in the work tree ignored by git (committed .gitignore rules)`);

      // History: any env file ever added or changed on any ref.
      const log = await git(root, [
        'log', '--all', '--no-renames', '--diff-filter=AM', '--name-only', '--format=@@%H %aI',
        '--', ':(glob)**/.env*', ':(glob)**/*.env',
      ]);
      if (log.code !== 0) {
        findings.push(`${shown}: git log failed (${log.stderr.trim().split('\n')[0] || `exit ${log.code}`}), history not checked`);
        problems++;
        continue;
      }
      const entries: { commit: string; date: string; path: string }[] = [];
      let commit = '';
      let date = '';
      for (const line of log.stdout.split('\n')) {
        if (line.startsWith('@@')) [commit, date] = line.slice(2).split(' ');
        else if (line.trim() && commit) entries.push({ commit, date, path: line.trim() });
      }
      const templates = entries.filter((x) => isTemplateName(basename(x.path)));
      const blobs = await catFiles(root, templates.map((x) => `${x.commit}:${x.path}`));
      const reported = new Map<string, { commit: string; date: string }>();
      // git log lists newest first; keep the oldest offending commit per path.
      for (const x of entries) {
        if (!isEnvFileName(basename(x.path))) continue;
        if (isTemplateName(basename(x.path))) {
          const blob = blobs.get(`${x.commit}:${x.path}`);
          if (!blob || templateHoldsNoValues(blob.toString('utf8'))) continue;
        }
        reported.set(x.path, { commit: x.commit, date: x.date });
      }
      for (const [path, c] of [...reported].sort()) {
        problems++;
        findings.push(`${shown}: ${path} was committed with values in ${c.commit.slice(0, 12)} (${c.date.slice(0, 10)}) and is in the history`);
      }
      if (!reported.size) evidence.push(`${shown}: no env file with values in the history of any branch or tag`);
    }
    if (!checkedRepos) return { status: 'skip', evidence: [...evidence, 'no git repository to check (set repos: in the config)'], remediation: this.remediation };
    return { status: problems ? 'fail' : warnings ? 'warn' : 'pass', evidence: [...findings, ...evidence], remediation: this.remediation, locations };
  },
};
