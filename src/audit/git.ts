import { execFile } from 'node:child_process';

export interface GitResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs git in `cwd` without a shell; never throws for a non-zero exit (callers decide). */
export function git(cwd: string, args: string[], input?: string): Promise<GitResult> {
  return new Promise((resolve) => {
    const child = execFile(
      'git',
      // core.fsmonitor=false: the audited repository's config must not get git to run a program of its choosing.
      ['-c', 'core.fsmonitor=false', '-c', 'core.quotePath=false', ...args],
      { cwd, maxBuffer: 256 << 20, encoding: 'utf8', env: { ...process.env, GIT_TERMINAL_PROMPT: '0', LC_ALL: 'C' } },
      (err, stdout, stderr) => {
        const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? ((err as { code: number }).code) : 128) : 0;
        resolve({ code, stdout: String(stdout), stderr: String(stderr) });
      },
    );
    if (input !== undefined) child.stdin?.end(input);
  });
}

/** The work-tree root containing `path`, or null when it is not inside a git work tree. */
export async function workTreeOf(dir: string): Promise<string | null> {
  const r = await git(dir, ['rev-parse', '--show-toplevel']);
  return r.code === 0 ? r.stdout.trim() : null;
}

/** Which of `paths` (relative to the work tree `root`) git tracks. */
export async function trackedPaths(root: string, paths: string[]): Promise<Set<string>> {
  if (!paths.length) return new Set();
  const r = await git(root, ['ls-files', '-z', '--', ...paths.map((p) => `:(literal)${p}`)]);
  return new Set(r.stdout.split('\0').filter(Boolean));
}

/** Which of `paths` (relative to `root`) are ignored by git's rules (tracked files are checked against the rules too). */
export async function ignoredPaths(root: string, paths: string[]): Promise<Set<string>> {
  if (!paths.length) return new Set();
  const r = await git(root, ['check-ignore', '--no-index', '-z', '--stdin'], paths.join('\0') + '\0');
  return new Set(r.stdout.split('\0').filter(Boolean));
}

/**
 * For each of `paths` (relative to `root`) that git ignores, the file holding the deciding rule, as git names
 * it: a `.gitignore` relative to `root`, `.git/info/exclude`, or the core.excludesFile path.
 */
export async function ignoreSources(root: string, paths: string[]): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  if (!paths.length) return out;
  const r = await git(root, ['check-ignore', '--no-index', '--verbose', '-z', '--stdin'], paths.join('\0') + '\0');
  // -z -v: source, line, pattern, path; a negated pattern (`!x`) is reported too but means "not ignored".
  const f = r.stdout.split('\0');
  for (let i = 0; i + 3 < f.length; i += 4) {
    if (!f[i + 2].startsWith('!')) out.set(f[i + 3], f[i]);
  }
  return out;
}

/**
 * Reads many blobs (`<commit>:<path>` specs) with one `git cat-file --batch`; missing objects map to null.
 * Contents over `maxBytes` are cut (callers only look at their start).
 */
export function catFiles(cwd: string, specs: string[], maxBytes = 1 << 20): Promise<Map<string, Buffer | null>> {
  return new Promise((resolve, reject) => {
    const out = new Map<string, Buffer | null>();
    if (!specs.length) return resolve(out);
    const child = execFile('git', ['-c', 'core.fsmonitor=false', 'cat-file', '--batch'], { cwd, maxBuffer: 1 << 30, encoding: 'buffer' }, (err, stdout) => {
      if (err && !stdout?.length) return reject(err);
      let off = 0;
      for (const spec of specs) {
        const nl = stdout.indexOf(0x0a, off);
        if (nl < 0) break;
        const header = stdout.subarray(off, nl).toString('utf8');
        off = nl + 1;
        const m = /^[0-9a-f]+ (\w+) (\d+)$/.exec(header);
        if (!m) {
          out.set(spec, null);
          continue;
        }
        const size = Number(m[2]);
        out.set(spec, m[1] === 'blob' ? Buffer.from(stdout.subarray(off, off + Math.min(size, maxBytes))) : null);
        off += size + 1;
      }
      resolve(out);
    });
    child.stdin?.end(specs.map((s) => `${s}\n`).join(''));
  });
}
