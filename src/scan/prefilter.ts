import { spawn } from 'node:child_process';
import { availableParallelism } from 'node:os';
import { GIT_CONFIG } from './git.js';
import type { Rule } from './types.js';

/**
 * The work-tree pre-filter delegated to git: `git grep -l -P` (threaded C, PCRE2 JIT) lists the files where a
 * line matches one of the rules' `linePatterns`, and only those are read and run through the rules. Each
 * rule's line patterns are a necessary condition of its detect() finding anything (see Rule.linePatterns),
 * so a file git does not list has no finding, and for stats only its size is needed (lstat). A NUL byte
 * makes a file a candidate too, so binary files are classified by the same code as before.
 *
 * Patterns go to git on stdin (`-f -`), never in argv: they include the --known values and their encodings.
 * git runs with LC_ALL=C so that PCRE works on bytes (no UTF mode: `\xHH` is one byte, `\s`/`\d`/`\w` are
 * ASCII), exactly what the escapes below assume.
 */

/** `\s` etc. as git's PCRE sees them (ASCII); the patterns use only syntax PCRE2 and JavaScript share. */
const isAlnum = (b: number): boolean => (b >= 48 && b <= 57) || (b >= 65 && b <= 90) || (b >= 97 && b <= 122);

/** A byte string as a PCRE literal: letters and digits as they are, every other byte as `\xHH`. */
function literalBytes(bytes: Uint8Array): string {
  let out = '';
  for (const b of bytes) out += isAlnum(b) ? String.fromCharCode(b) : `\\x${b.toString(16).padStart(2, '0')}`;
  return out;
}

/**
 * A keyword as the engine's pre-filter matches it: its UTF-8 bytes read as latin1 and compared with a
 * non-unicode case-insensitive JavaScript regex. Each byte becomes the class of the bytes that regex folds
 * onto it (ASCII letters pair up; so do latin1 letters such as 0xC9/0xE9, which PCRE's C tables would not).
 */
const foldClassCache = new Map<number, string>();
function foldedByte(b: number): string {
  let cls = foldClassCache.get(b);
  if (cls === undefined) {
    const re = new RegExp(`\\x${b.toString(16).padStart(2, '0')}`, 'i');
    const same: number[] = [];
    for (let c = 0; c < 256; c++) if (re.test(String.fromCharCode(c))) same.push(c);
    cls = same.length === 1 ? literalBytes(Uint8Array.of(b)) : `[${same.map((c) => `\\x${c.toString(16).padStart(2, '0')}`).join('')}]`;
    foldClassCache.set(b, cls);
  }
  return cls;
}

/** The longest piece of `bytes` without a newline (git matches line by line; any piece is a necessary condition). */
function longestLine(bytes: Uint8Array, alsoSplit?: (b: Uint8Array, i: number) => number): Uint8Array {
  let best = bytes.subarray(0, 0);
  let start = 0;
  for (let i = 0; i <= bytes.length; i++) {
    const cut = i === bytes.length ? 1 : bytes[i] === 10 ? 1 : alsoSplit ? alsoSplit(bytes, i) : 0;
    if (cut) {
      if (i - start > best.length) best = bytes.subarray(start, i);
      start = i + cut;
      i += cut - 1;
    }
  }
  return best;
}

/** U+FFFD (EF BF BD): text decoding makes it out of invalid bytes, so it cannot be matched as bytes. */
const replacementAt = (b: Uint8Array, i: number): number => (b[i] === 0xef && b[i + 1] === 0xbf && b[i + 2] === 0xbd ? 3 : 0);

/** Line pattern for a keyword of the engine's case-insensitive pre-filter, or null when none exists. */
export function keywordLinePattern(keyword: string): string | null {
  const piece = longestLine(Buffer.from(keyword, 'utf8'));
  if (piece.length === 0) return null;
  let out = '';
  for (const b of piece) out += foldedByte(b);
  return out;
}

/** Line pattern for an exact (case-sensitive) text match in the UTF-8 decoded file, or null when none exists. */
export function exactLinePattern(value: string): string | null {
  const piece = longestLine(Buffer.from(value, 'utf8'), replacementAt);
  return piece.length ? literalBytes(piece) : null;
}

/**
 * Every line pattern for these rules, or null when a rule has neither line patterns nor keywords (it runs on
 * every file, so nothing can be skipped) or a keyword cannot be expressed.
 */
export function prefilterPatterns(rules: readonly Rule[]): string[] | null {
  const out = new Set<string>(['\\x00']);
  for (const r of rules) {
    if (r.linePatterns) {
      for (const p of r.linePatterns) out.add(p);
      continue;
    }
    if (r.keywords.length === 0) return null;
    for (const k of r.keywords) {
      const p = keywordLinePattern(k);
      if (p === null) return null;
      out.add(p);
    }
  }
  return [...out];
}

/** gitGrepCandidates() as it runs: the paths printed so far, and a hook called as more arrive. */
export interface GrepPrefilter {
  /** The final answer (see gitGrepCandidates). */
  done: Promise<Set<string> | null>;
  /** Paths git has printed so far, in order. */
  arrived: string[];
  /** Called after each path is added to `arrived`. */
  onArrive?: () => void;
}

/** Starts gitGrepCandidates(), keeping the paths as they arrive. */
export function startGitGrep(cwd: string, pathspecs: string[], patterns: string[]): GrepPrefilter {
  const arrived: string[] = [];
  const pf: GrepPrefilter = {
    arrived,
    done: gitGrepCandidates(cwd, pathspecs, patterns, (rel) => {
      arrived.push(rel);
      pf.onArrive?.();
    }),
  };
  return pf;
}

/** The git arguments of the pre-filter (patterns on stdin; run with LC_ALL=C). The benchmark times it alone. */
export function grepCommand(pathspecs: string[]): string[] {
  return [
    ...GIT_CONFIG,
    '-c', 'grep.fallbackToNoIndex=false',
    'grep', '-l', '-z', '-a', '-P', '--full-name', '--untracked', '--no-recurse-submodules', '--no-color',
    // git 2.39 searches the work tree in one thread unless told: as many as there are cores.
    `--threads=${availableParallelism()}`,
    '-f', '-', '--', ...pathspecs,
  ];
}

/**
 * Runs `git grep` in `cwd` over `pathspecs` (tracked and untracked-not-ignored files, as `git ls-files -co
 * --exclude-standard` lists them) and resolves to the repository-relative paths of the files with a
 * matching line. Resolves to null (never rejects) when git cannot do it exactly: not a repository, no PCRE
 * support, or any message on stderr (an unreadable file, say); the caller then reads every file itself.
 */
export function gitGrepCandidates(cwd: string, pathspecs: string[], patterns: string[], onPath?: (rel: string) => void): Promise<Set<string> | null> {
  return new Promise((resolveP) => {
    let child;
    try {
      child = spawn('git', grepCommand(pathspecs), { cwd, stdio: ['pipe', 'pipe', 'pipe'], env: { ...process.env, LC_ALL: 'C' } });
    } catch {
      resolveP(null);
      return;
    }
    const set = new Set<string>();
    let rest: Buffer | null = null;
    let failed = false;
    // Each path as soon as git prints it (in its listing order, as each file is searched): the caller can
    // start on the candidates while git is still searching.
    child.stdout.on('data', (c: Buffer) => {
      const buf = rest ? Buffer.concat([rest, c]) : c;
      let start = 0;
      for (let nul = buf.indexOf(0); nul >= 0; nul = buf.indexOf(0, start)) {
        if (nul > start) {
          const p = buf.toString('utf8', start, nul);
          set.add(p);
          onPath?.(p);
        }
        start = nul + 1;
      }
      rest = start < buf.length ? buf.subarray(start) : null;
    });
    child.stderr.on('data', () => (failed = true));
    child.on('error', () => resolveP(null));
    // git may exit (bad repository) before reading all patterns: a broken pipe is just another failure.
    child.stdin.on('error', () => (failed = true));
    child.on('close', (code) => {
      if (failed || (code !== 0 && code !== 1)) return resolveP(null);
      // -z ends every path with a NUL; an unterminated tail would be a truncated path.
      if (rest) set.add(rest.toString('utf8'));
      resolveP(set);
    });
    child.stdin.end(`${patterns.join('\n')}\n`);
  });
}
