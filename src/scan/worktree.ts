import { spawn } from 'node:child_process';
import { closeSync, constants as fsConstants, fstatSync, lstatSync, openSync, readSync, readdirSync, type Stats } from 'node:fs';
import { isAbsolute, join, relative, resolve, sep } from 'node:path';
import { ClariguardError, ExitCode, UsageError } from '../errors.js';
import type { Detector } from './engine.js';
import { GIT_CONFIG } from './git.js';
import type { GrepPrefilter } from './prefilter.js';
import type { Finding, ScanStats } from './types.js';

const EXCLUDED_DIRS = new Set(['node_modules', '.git']);
const BINARY_SNIFF = 8000;
const OPEN_FLAGS: number | null =
  fsConstants.O_NOFOLLOW !== undefined ? fsConstants.O_RDONLY | fsConstants.O_NOFOLLOW | (fsConstants.O_NONBLOCK ?? 0) : null;

export interface WorktreeOptions {
  cwd: string;
  repoRoot: string | null;
  paths: string[];
  allFiles: boolean;
  maxFileBytes: number;
  onProgress?: (stats: Readonly<ScanStats>) => void;
  /**
   * Started by the caller as early as it can (see prefilter.ts): the repository-relative paths of the files
   * `git grep` found a line pattern in (as they arrive, and in the end all of them), or null when it could
   * not tell exactly.
   */
  prefilter?: GrepPrefilter;
  /** gitListing() of one directory argument, started early by the caller (it may fail outside a repository). */
  listing?: { abs: string; entries: Promise<[string[], string[]]> };
}

/** Paths in reports: relative to the repository root (or the cwd outside a repository), forward slashes. */
function displayPath(base: string, abs: string): string {
  const rel = relative(base, abs);
  const p = rel && !rel.startsWith('..') && !isAbsolute(rel) ? rel : abs;
  return sep === '/' ? p : p.split(sep).join('/');
}

function hasExcludedSegment(rel: string): boolean {
  return rel.split('/').some((s) => EXCLUDED_DIRS.has(s));
}

/** NUL-separated output of a git command. */
function gitZ(args: string[], cwd: string): Promise<string[]> {
  return new Promise((resolveP, reject) => {
    const child = spawn('git', [...GIT_CONFIG, ...args], { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    let err = '';
    child.stdout.on('data', (c: Buffer) => out.push(c));
    child.stderr.on('data', (c: Buffer) => (err += c.toString()));
    child.on('error', reject);
    child.on('close', (code) => {
      if (code !== 0) reject(new UsageError(`git ${args[0]} failed in ${cwd}: ${err.split('\n')[0]}`));
      else resolveP(Buffer.concat(out).toString('utf8').split('\0').filter(Boolean));
    });
  });
}

/** A file to scan; `listed`: git listed it as a worktree file whose content `git grep` searches. */
interface Target {
  abs: string;
  rel: string;
  listed: boolean;
}

/**
 * The files to scan. In a repository (unless allFiles): tracked plus untracked-but-not-ignored files
 * (`git ls-files -co --exclude-standard`), i.e. what could be committed; ignored entries are counted.
 * Elsewhere: a directory walk. Named files are always scanned, even if ignored.
 */
async function listTargets(o: WorktreeOptions, stats: ScanStats): Promise<Target[]> {
  const base = o.repoRoot ?? o.cwd;
  const out: Target[] = [];
  const seen = new Set<string>();
  // `rel` is known for git's listing (paths relative to the root, which is `base` in a repository): no
  // path.relative() per file.
  const add = (abs: string, rel?: string, listed = false): void => {
    if (seen.has(abs)) return;
    seen.add(abs);
    out.push({ abs, rel: rel ?? displayPath(base, abs), listed });
  };
  for (const p of o.paths.length ? o.paths : [o.cwd]) {
    const abs = resolve(o.cwd, p);
    let st;
    try {
      st = lstatSync(abs);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      // A path named on the command line that is not there: not found (66), like any other missing input.
      if (code === 'ENOENT') throw new ClariguardError(`${p}: no such file or directory`, { exitCode: ExitCode.noInput, code: 'not_found' });
      stats.unreadable.push(`${displayPath(base, abs)}: ${code ?? 'error'}`);
      continue;
    }
    if (st.isFile()) {
      add(abs);
      continue;
    }
    if (!st.isDirectory()) {
      stats.skipped.notRegular++;
      continue;
    }
    const inRepo = o.repoRoot !== null && !relative(o.repoRoot, abs).startsWith('..');
    if (inRepo && !o.allFiles) {
      const [files, ignored] = await (o.listing?.abs === abs ? o.listing.entries : gitListing(abs, o.repoRoot!));
      stats.skipped.gitignored += ignored.filter((f) => !hasExcludedSegment(f.replace(/\/$/, ''))).length;
      for (const entry of files) {
        const tag = entry.charCodeAt(0);
        const f = entry.slice(2);
        const listed = tag === 0x48 /* H */ || tag === 0x3f /* ? */ || tag === 0x4d /* M */;
        if (hasExcludedSegment(f)) stats.skipped.excludedDir++;
        else if (sep === '/') add(`${o.repoRoot}/${f}`, f, listed);
        else add(join(o.repoRoot!, f), undefined, listed);
      }
    } else {
      walk(abs, stats, add);
    }
  }
  return out;
}

/**
 * git's listing of a directory: the files that could be committed (each tagged, see below) and the ignored
 * entries. Paths relative to the repository root whatever `cwd` is (--full-name), so it can start before the
 * root is known.
 */
export function gitListing(abs: string, cwd: string): Promise<[string[], string[]]> {
  return Promise.all([
    // -v tags each entry: git grep reads assume-unchanged (lower-case tag) and skip-worktree (S) entries
    // from the index, not the work tree, so those are never left to its pre-filter.
    gitZ(['ls-files', '-z', '-v', '-co', '--exclude-standard', '--full-name', '--', abs], cwd),
    gitZ(['ls-files', '-z', '-oi', '--exclude-standard', '--directory', '--full-name', '--', abs], cwd),
  ]);
}

function walk(dir: string, stats: ScanStats, add: (abs: string) => void): void {
  let entries;
  try {
    entries = readdirSync(dir, { withFileTypes: true });
  } catch (e) {
    stats.unreadable.push(`${dir}: ${(e as NodeJS.ErrnoException).code ?? 'error'}`);
    return;
  }
  for (const ent of entries) {
    const p = join(dir, ent.name);
    if (ent.isDirectory()) {
      if (EXCLUDED_DIRS.has(ent.name)) stats.skipped.excludedDir++;
      else walk(p, stats, add);
    } else if (ent.isFile()) add(p);
    else stats.skipped.notRegular++;
  }
}

/** Reads a file unless it is too large, binary or unreadable (each counted or reported). */
function readTarget(abs: string, rel: string, o: WorktreeOptions, stats: ScanStats, unreadable: string[]): Buffer | null {
  let fd: number;
  try {
    // Never follow symbolic links: a tracked link could point anywhere on the machine. Where the platform
    // has O_NOFOLLOW, open() refuses a link itself (one system call instead of lstat + open); O_NONBLOCK
    // keeps a FIFO from blocking the scan (fstat below then skips it).
    if (OPEN_FLAGS === null && lstatSync(abs).isSymbolicLink()) {
      stats.skipped.notRegular++;
      return null;
    }
    fd = openSync(abs, OPEN_FLAGS ?? 'r');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ELOOP' && OPEN_FLAGS !== null) {
      stats.skipped.notRegular++;
      return null;
    }
    // A tracked file deleted in the work tree is not there to leak anything.
    if (code !== 'ENOENT') unreadable.push(`${rel}: ${code ?? 'error'}`);
    return null;
  }
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) {
      stats.skipped.notRegular++;
      return null;
    }
    if (st.size > o.maxFileBytes) {
      stats.skipped.tooLarge++;
      return null;
    }
    const buf = Buffer.allocUnsafe(st.size);
    let off = 0;
    while (off < st.size) {
      const n = readSync(fd, buf, off, st.size - off, off);
      if (n === 0) break;
      off += n;
    }
    const data = off === st.size ? buf : buf.subarray(0, off);
    if (data.subarray(0, BINARY_SNIFF).includes(0)) {
      stats.skipped.binary++;
      return null;
    }
    return data;
  } catch (e) {
    unreadable.push(`${rel}: ${(e as NodeJS.ErrnoException).code ?? 'error'}`);
    return null;
  } finally {
    closeSync(fd);
  }
}

/**
 * A file git grep did not list has no finding: only what the stats need is looked up (one lstat, made while
 * git grep still runs). Anything but a regular file within the size limit goes through readTarget(), which
 * classifies it as before. Returns false when the file still has to go through readTarget().
 */
function countUnlisted(st: Stats | undefined | null, o: WorktreeOptions, stats: ScanStats): boolean {
  if (st === null) return false; // lstat failed: readTarget() reports why
  if (st === undefined) return true; // deleted since git listed it: nothing to read, as readTarget() does
  if (!st.isFile() || st.size > o.maxFileBytes) return false;
  if (++stats.files % 100 === 0) o.onProgress?.(stats);
  stats.bytes += st.size;
  return true;
}

/** What reading and scanning one file gave (see scanWorktree). */
interface Scanned {
  /** Bytes read; -1 when the file was skipped (binary, too large, not regular, unreadable, gone). */
  bytes: number;
  findings: Finding[];
  unreadable: string[];
}

const META = { commit: null, author: null, date: null };

function scanTarget(t: Target, o: WorktreeOptions, stats: ScanStats, detector: Detector, unreadable: string[]): Scanned {
  const data = readTarget(t.abs, t.rel, o, stats, unreadable);
  return data ? { bytes: data.length, findings: detector.scan(t.rel, data, META), unreadable } : { bytes: -1, findings: [], unreadable };
}

export async function scanWorktree(o: WorktreeOptions, detector: Detector, stats: ScanStats): Promise<Finding[]> {
  const targets = await listTargets(o, stats);
  // Only files git listed itself can be left to its pre-filter; named files and walked trees are read here.
  let candidates: Set<string> | null = null;
  let lstats: (Stats | undefined | null)[] = [];
  // Files git grep named, read and scanned while it still searches the rest; kept per target, so that the
  // statistics and messages below come out in the same order as when each file is taken in turn.
  const early: (Scanned | undefined)[] = [];
  const pf = o.prefilter;
  if (pf && targets.some((t) => t.listed)) {
    lstats = targets.map((t) => {
      if (!t.listed) return null;
      try {
        return lstatSync(t.abs, { throwIfNoEntry: false });
      } catch {
        return null;
      }
    });
    // Whatever git's final answer, a file it named is read and scanned below (as a candidate, or as every
    // file is when the answer is null), so it can be done now.
    const indexOf = new Map<string, number>();
    targets.forEach((t, i) => t.listed && indexOf.set(t.rel, i));
    let next = 0;
    const drain = (): void => {
      while (next < pf.arrived.length) {
        const i = indexOf.get(pf.arrived[next++]);
        if (i !== undefined && early[i] === undefined) early[i] = scanTarget(targets[i], o, stats, detector, []);
      }
    };
    drain();
    // Called from git's output events: an error (a rule throwing) is kept and raised here, in the scan.
    let failure: { e: unknown } | undefined;
    pf.onArrive = () => {
      try {
        if (!failure) drain();
      } catch (e) {
        failure = { e };
      }
    };
    candidates = await pf.done;
    pf.onArrive = undefined;
    if (failure) throw failure.e;
  }
  const findings: Finding[] = [];
  for (let i = 0; i < targets.length; i++) {
    const t = targets[i];
    let s = early[i];
    if (s) stats.unreadable.push(...s.unreadable);
    else {
      if (candidates && t.listed && !candidates.has(t.rel) && countUnlisted(lstats[i], o, stats)) continue;
      s = scanTarget(t, o, stats, detector, stats.unreadable);
    }
    if (s.bytes < 0) continue;
    if (++stats.files % 100 === 0) o.onProgress?.(stats);
    stats.bytes += s.bytes;
    for (const f of s.findings) findings.push(f);
  }
  return findings;
}
