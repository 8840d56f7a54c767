import { spawn } from 'node:child_process';
import { ClariguardError, ExitCode } from '../errors.js';
import type { ChunkMeta, Detector } from './engine.js';
import { GIT_CONFIG, unquoteGitPath } from './git.js';
import type { Finding, ScanStats } from './types.js';

export interface DiffScanOptions {
  /** Where git runs: the repository's top level or any directory in it (diff paths are from the top level). */
  cwd: string;
  /** `history`: every commit of every ref (`git log -p --all`); `staged`: the index (`git diff --cached`). */
  mode: 'history' | 'staged';
  /** A verified commit id: only commits not reachable from it. */
  since?: string;
  paths: string[];
  maxFileBytes: number;
  onProgress?: (stats: Readonly<ScanStats>) => void;
}

const MARK = 0x01;
const SEP = '\u0002';

/** The git command a scan spawns (the benchmark times it alone as the floor). */
export function diffCommand(o: Pick<DiffScanOptions, 'mode' | 'since' | 'paths'>): string[] {
  // diff.relative=false: paths from the top level (and the whole tree) whatever directory git runs in.
  const diffOpts = ['-U0', '--no-color', '--no-ext-diff', '--no-textconv', '-M', '--src-prefix=a/', '--dst-prefix=b/'];
  const tail = o.paths.length ? ['--', ...o.paths] : [];
  const config = [...GIT_CONFIG, '-c', 'diff.relative=false'];
  if (o.mode === 'staged') return [...config, 'diff', '--cached', ...diffOpts, ...tail];
  return [
    ...config,
    'log',
    '-p',
    ...diffOpts,
    '--full-history',
    // Newest first, git's own order: --reverse made git ~0.2 s slower on the bench history (~1 s), and the
    // whole CLI run ~0.15 s slower, although it let the big initial commit be scanned while git produced the
    // rest. The earliest commit that added a secret is kept below (the last listed among equal dates).
    '--format=%x01%H%x02%aI%x02%an <%ae>',
    '--all',
    ...(o.since ? [`^${o.since}`] : []),
    ...tail,
  ];
}

/**
 * Streams `git log -p` (or `git diff --cached`) and scans the added lines of each file of each commit.
 * Only added lines: a secret is reported once, at the commit that added it (also when the file was
 * deleted later). The same secret in the same file is reported once, at its earliest commit.
 */
export async function scanDiffs(o: DiffScanOptions, engine: Detector | Promise<Detector>, stats: ScanStats): Promise<Finding[]> {
  // Set before any output is scanned (see the queue below).
  let detector!: Detector;
  // By rule, file and secret (what the fingerprint, computed after the scan, is made of).
  const byIdentity = new Map<string, Finding>();
  const staged: Finding[] = [];
  let meta: ChunkMeta = { commit: null, author: null, date: null };
  let file: string | null = null;
  let inHeader = false;
  let newLine = 0;
  // The added lines of the current file, joined with \n, in one reused buffer: no object per line.
  let acc = Buffer.allocUnsafe(1 << 16);
  let accLen = 0;
  let lineCount = 0;
  let lineNos: number[] = [];
  let addedBytes = 0;

  const flush = (): void => {
    if (file !== null && lineCount > 0) {
      // Skipped and counted as in the work tree (git never lists a .git path); indexOf first: most paths
      // do not hold the name at all.
      if (file.includes('node_modules') && file.split('/').includes('node_modules')) stats.skipped.excludedDir++;
      else if ((stats.files++, addedBytes > o.maxFileBytes)) stats.skipped.tooLarge++;
      else {
        const buf = acc.subarray(0, accLen);
        if (buf.subarray(0, 8000).includes(0)) stats.skipped.binary++;
        else {
          for (const f of detector.scan(file, buf, meta, lineNos)) {
            if (o.mode === 'staged') {
              staged.push(f);
              continue;
            }
            // Earliest author date wins; on a tie, the commit git lists last (git lists newest first, so the
            // oldest in topological order).
            const id = detector.identityOf(f);
            const prev = byIdentity.get(id);
            if (!prev || Date.parse(f.date ?? '') <= Date.parse(prev.date ?? '')) byIdentity.set(id, f);
          }
        }
      }
    }
    accLen = 0;
    lineCount = 0;
    lineNos = [];
    addedBytes = 0;
  };

  /** One line of git's output: `buf[s, e)`, without the \n. */
  const onLine = (buf: Buffer, s: number, e: number): void => {
    const c = buf[s];
    if (c === 0x2d /* - */ && !inHeader) return; // removed lines: the most common line after added ones
    if (c === 0x2b /* + */) {
      if (inHeader) {
        if (e - s >= 4 && buf[s + 1] === 0x2b && buf[s + 2] === 0x2b && buf[s + 3] === 0x20) {
          const p = buf.toString('utf8', s + 4, e).replace(/\t$/, '');
          const path = unquoteGitPath(p);
          file = path === '/dev/null' ? null : path.replace(/^b\//, '');
        }
        return;
      }
      // Strip the "+" and a CR of CRLF files (the rules see lines as in the file).
      let end = e;
      if (end > s + 1 && buf[end - 1] === 0x0d) end--;
      const len = end - s - 1;
      addedBytes += len;
      lineNos.push(newLine++);
      // Past the size limit the bytes are only counted (the file is skipped as too large).
      if (addedBytes <= o.maxFileBytes) {
        const need = accLen + len + 1;
        if (need > acc.length) {
          const bigger = Buffer.allocUnsafe(Math.max(need, acc.length * 2));
          acc.copy(bigger, 0, 0, accLen);
          acc = bigger;
        }
        if (lineCount > 0) acc[accLen++] = 10;
        accLen += buf.copy(acc, accLen, s + 1, end);
      }
      lineCount++;
      return;
    }
    if (c === 0x40 /* @ */ && buf[s + 1] === 0x40) {
      inHeader = false;
      const m = /^@@@* (?:-\S+ )+\+(\d+)/.exec(buf.toString('latin1', s, Math.min(e, s + 100)));
      newLine = m ? Number(m[1]) : 1;
      return;
    }
    if (c === 0x64 /* d */ && buf.toString('latin1', s, Math.min(e, s + 11)) === 'diff --git ') {
      flush();
      file = null;
      inHeader = true;
      return;
    }
    if (c === MARK) {
      flush();
      file = null;
      inHeader = false;
      stats.commits++;
      const [commit, date, author] = buf.toString('utf8', s + 1, e).split(SEP);
      meta = { commit, date: date || null, author: author || null };
      return;
    }
    if (inHeader && c === 0x42 /* B */ && buf.toString('latin1', s, Math.min(e, s + 13)) === 'Binary files ') {
      stats.skipped.binary++;
    }
  };

  await new Promise<void>((resolveP, reject) => {
    const child = spawn('git', diffCommand(o), { cwd: o.cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    let rest: Buffer | null = null;
    let err = '';
    // git may start before the engine is ready (the caller loads the rules while git walks the commits):
    // its output waits in `queued` until then. A failure to get ready stops git.
    let queued: Buffer[] | null = [];
    const ready = Promise.resolve(engine).then((d) => {
      detector = d;
    });
    ready.then(
      () => {
        const q = queued!;
        queued = null;
        try {
          for (const c of q) onChunk(c);
        } catch (e) {
          child.kill();
          reject(e);
        }
      },
      (e) => {
        child.kill();
        reject(e);
      },
    );
    const onChunk = (chunk: Buffer): void => {
      stats.bytes += chunk.length;
      o.onProgress?.(stats);
      const buf = rest ? Buffer.concat([rest, chunk]) : chunk;
      let start = 0;
      let nl = buf.indexOf(10, start);
      while (nl >= 0) {
        onLine(buf, start, nl);
        start = nl + 1;
        nl = buf.indexOf(10, start);
      }
      // Added lines were copied out; only the unfinished tail is kept.
      rest = start < buf.length ? Buffer.from(buf.subarray(start)) : null;
    };
    child.stdout.on('data', (chunk: Buffer) => (queued ? queued.push(chunk) : onChunk(chunk)));
    child.stderr.on('data', (c: Buffer) => {
      if (err.length < 4096) err += c.toString();
    });
    child.on('error', (e) => reject(new ClariguardError(`cannot run git: ${e.message}`, { exitCode: ExitCode.unavailable, code: 'git' })));
    const onClose = (code: number | null): void => {
      if (rest) onLine(rest, 0, rest.length);
      flush();
      if (code !== 0) {
        const first = err.split('\n').find((l) => l.trim()) ?? `exit code ${code}`;
        // An empty repository has nothing to scan; anything else is a real failure.
        if (/does not have any commits yet|bad default revision 'HEAD'/.test(err)) return resolveP();
        return reject(new ClariguardError(`git ${o.mode === 'staged' ? 'diff --cached' : 'log'} failed in ${o.cwd}: ${first}`, { exitCode: ExitCode.unavailable, code: 'git' }));
      }
      resolveP();
    };
    // After the queue is drained (`ready` settles first); nothing to finish when the engine failed.
    child.on('close', (code) => {
      ready.then(
        () => {
          try {
            onClose(code);
          } catch (e) {
            reject(e);
          }
        },
        () => undefined,
      );
    });
  });

  return o.mode === 'staged' ? staged : [...byIdentity.values()];
}
