import { execFile, spawnSync } from 'node:child_process';
import { UsageError } from '../errors.js';

/**
 * Options that keep git's output machine-readable whatever the user's config says. core.fsmonitor=false: a
 * repository's own config can name a program for git to run on index reads (scanning must not run it).
 */
export const GIT_CONFIG = ['-c', 'core.fsmonitor=false', '-c', 'core.quotePath=false', '-c', 'diff.noprefix=false', '-c', 'diff.mnemonicPrefix=false', '-c', 'color.ui=false'];

/** The top level of the repository containing `dir`, or null when it is not in one. */
export function repoRootOf(dir: string): string | null {
  const r = spawnSync('git', ['rev-parse', '--show-toplevel'], { cwd: dir, encoding: 'utf8' });
  if (r.status !== 0 || r.error) return null;
  return r.stdout.trim() || null;
}

/** repoRootOf() without blocking (a scan runs it alongside the repository identity lookup). */
export function repoRootOfAsync(dir: string): Promise<string | null> {
  return new Promise((resolveP) => {
    execFile('git', ['rev-parse', '--show-toplevel'], { cwd: dir, encoding: 'utf8' }, (err, stdout) => resolveP(err ? null : stdout.trim() || null));
  });
}

/** Validates a revision for `--since` (never passed where git could read it as an option). */
export function verifyRevision(repoRoot: string, rev: string): string {
  if (!rev || rev.startsWith('-')) throw new UsageError(`--since: not a revision: ${JSON.stringify(rev.slice(0, 60))}`);
  const r = spawnSync('git', ['rev-parse', '--verify', '--quiet', '--end-of-options', `${rev}^{commit}`], { cwd: repoRoot, encoding: 'utf8' });
  if (r.status !== 0) throw new UsageError(`--since: unknown revision ${JSON.stringify(rev.slice(0, 60))} in ${repoRoot}`);
  return r.stdout.trim();
}

/** Unquotes a path git printed in C style ("a\tb", octal escapes for bytes). */
export function unquoteGitPath(p: string): string {
  if (!p.startsWith('"') || !p.endsWith('"')) return p;
  const body = p.slice(1, -1);
  const bytes: number[] = [];
  const esc: Record<string, number> = { n: 10, t: 9, r: 13, '"': 34, '\\': 92, a: 7, b: 8, f: 12, v: 11 };
  for (let i = 0; i < body.length; i++) {
    const ch = body[i];
    if (ch === '\\' && i + 1 < body.length) {
      const n = body[i + 1];
      if (/[0-7]/.test(n)) {
        bytes.push(parseInt(body.slice(i + 1, i + 4), 8));
        i += 3;
        continue;
      }
      bytes.push(esc[n] ?? n.charCodeAt(0));
      i += 1;
      continue;
    }
    for (const b of Buffer.from(ch, 'utf8')) bytes.push(b);
  }
  return Buffer.from(bytes).toString('utf8');
}
