import { lstatSync } from 'node:fs';
import { resolve } from 'node:path';
import { UsageError } from '../errors.js';
import type { SecretRef } from '../secrets/ref.js';
import type { SecretBackend } from '../secrets/types.js';
import type { SecretValue } from '../secrets/value.js';
import type { Detector } from './engine.js';
import type { ParsedBaseline, ScanKey } from './fingerprint.js';
import { repoRootOfAsync, verifyRevision } from './git.js';
import type { GrepPrefilter } from './prefilter.js';
import type { Finding, Rule, ScanOptions, ScanResult, ScanStats } from './types.js';

/*
 * The scan itself. Its modules load on demand, in the order git needs them: a work-tree scan loads the rules
 * and the pre-filter, starts git grep, and only then loads the engine, the fingerprints (node:crypto) and
 * the file walker; a history scan starts git log first and prepares the rules while git walks the commits.
 * (index.ts re-exports all of this with the rest of the public API.)
 */

export const DEFAULT_MAX_FILE_BYTES = 5 * 1024 * 1024;

/**
 * Reads `--known` references: the current value, plus the pending and previous versions where the store
 * keeps stages (during a rotation both tokens are live and both must stay out of the repository).
 */
export async function readKnownValues(refs: string[], env?: ScanOptions['env']): Promise<SecretValue[]> {
  // The store backends (and their SDKs) load only when --known is used; `env:` references (CI, the bench)
  // need only the env backend, not every store module (and proper-lockfile) behind secrets/index.js.
  let open: (ref: string) => { ref: SecretRef; backend: SecretBackend };
  if (refs.every((r) => /^\s*env:/.test(r))) {
    const [{ toSecretRef }, { EnvBackend }] = await Promise.all([import('../secrets/ref.js'), import('../secrets/backends/env.js')]);
    const backend = EnvBackend.fromContext({ env: env ?? process.env });
    open = (ref) => ({ ref: toSecretRef(ref), backend });
  } else {
    const { openSecret } = await import('../secrets/index.js');
    open = (ref) => openSecret(ref, { env });
  }
  const out: SecretValue[] = [];
  for (const ref of refs) {
    const { ref: r, backend } = open(ref);
    out.push(await backend.read(r));
    if (backend.capabilities.stages) {
      for (const stage of ['pending', 'previous'] as const) {
        try {
          out.push(await backend.read(r, { stage }));
        } catch (e) {
          if ((e as { code?: string }).code !== 'secret_not_found') throw e;
        }
      }
    }
  }
  return out;
}

/** The rules a scan runs, in priority order. */
export async function resolveRules(options: Pick<ScanOptions, 'rules' | 'noDefaultRules' | 'ruleIds' | 'cwd'>, knownValues: string[]): Promise<Rule[]> {
  const { DEFAULT_RULES, knownTokenRule, loadRulesFile } = await import('./rules/index.js');
  const rules: Rule[] = [];
  if (knownValues.length) rules.push(knownTokenRule(knownValues));
  if (!options.noDefaultRules) rules.push(...DEFAULT_RULES);
  if (options.rules) {
    for (const r of await loadRulesFile(resolve(options.cwd ?? process.cwd(), options.rules))) {
      if (rules.some((x) => x.id === r.id)) throw new UsageError(`${options.rules}: rule id ${r.id} is already a built-in rule`);
      rules.push(r);
    }
  }
  if (options.ruleIds?.length) {
    const unknown = options.ruleIds.filter((id) => !rules.some((r) => r.id === id));
    const knownIds = ['clari-known-token', ...DEFAULT_RULES.map((r) => r.id)];
    const stillUnknown = unknown.filter((id) => !knownIds.includes(id));
    if (stillUnknown.length) throw new UsageError(`unknown rule id ${stillUnknown.join(', ')} (rules: ${rules.map((r) => r.id).join(', ')})`);
    return rules.filter((r) => options.ruleIds!.includes(r.id));
  }
  return rules;
}

function emptyStats(): ScanStats {
  return {
    files: 0,
    bytes: 0,
    commits: 0,
    ms: 0,
    skipped: { binary: 0, tooLarge: 0, excludedDir: 0, gitignored: 0, notRegular: 0, allowed: 0, baselined: 0 },
    unreadable: [],
  };
}

interface Prepared {
  rules: Rule[];
  detector: Detector;
  /**
   * The fingerprint key, looked up on the first call: from the repository's root commits, which takes a
   * walk of the whole history, so it runs alongside the scan (from the first finding in the work tree) and
   * is only awaited for fingerprinting the findings at the end.
   */
  key: () => Promise<ScanKey>;
  baseline: ParsedBaseline | null;
  prefilter?: GrepPrefilter;
  listing?: { abs: string; entries: Promise<[string[], string[]]> };
}

async function prepare(options: ScanOptions, cwd: string, stats: ScanStats, repoRoot: Promise<string | null>): Promise<Prepared> {
  const env = options.env ?? process.env;
  const diffs = Boolean(options.history || options.staged);
  const prefilterModule = diffs ? undefined : import('./prefilter.js');
  prefilterModule?.catch(() => undefined);
  const known = [...(options.known ?? []), ...(options.knownRefs?.length ? await readKnownValues(options.knownRefs, env) : [])];
  const rules = await resolveRules({ ...options, cwd }, known.map((k) => k.reveal()));
  if (rules.length === 0) throw new UsageError('no rules to run (--no-default-rules needs --rules FILE or --known REF)');
  // The work-tree pre-filter (git grep) starts before anything else is known: it is the longest of the git
  // calls, and it runs while the others do. Outside a repository it fails and is not used.
  let prefilter: GrepPrefilter | undefined;
  if (!diffs && !options.allFiles && options.prefilter !== false) {
    const { prefilterPatterns, startGitGrep } = await prefilterModule!;
    const patterns = prefilterPatterns(rules);
    const pathspecs = (options.paths?.length ? options.paths : [cwd]).map((x) => resolve(cwd, x));
    if (patterns) prefilter = startGitGrep(cwd, pathspecs, patterns);
  }
  // The usual invocation (no path, or one directory): git's file listing starts now too, in the cwd.
  let listing: Prepared['listing'];
  if (!diffs && !options.allFiles && (options.paths?.length ?? 0) <= 1) {
    const abs = resolve(cwd, options.paths?.[0] ?? '.');
    if (lstatSync(abs, { throwIfNoEntry: false })?.isDirectory()) {
      const { gitListing } = await import('./worktree.js');
      listing = { abs, entries: gitListing(abs, cwd) };
      listing.entries.catch(() => undefined); // not a repository: listTargets() walks the tree instead
    }
  }
  const [{ Detector }, { readBaseline, repositoryIdentityAsync, scanKeyFrom }] = await Promise.all([import('./engine.js'), import('./fingerprint.js')]);
  // A key from the environment is checked now (a bad one is a usage error before any work).
  let keyP: Promise<ScanKey> | undefined = env.CLARIGUARD_SCAN_KEY ? Promise.resolve(scanKeyFrom(null, env)) : undefined;
  const key = (): Promise<ScanKey> =>
    (keyP ??= Promise.all([repositoryIdentityAsync(cwd), repoRoot]).then(([identity, root]) => scanKeyFrom(root ? identity : null, env)));
  // Read now: a missing or malformed baseline fails before the scan; its key id is checked in finish().
  const baseline = options.baseline ? readBaseline(resolve(cwd, options.baseline)) : null;
  return { rules, detector: new Detector(rules, stats.skipped), key, baseline, prefilter, listing };
}

/** Fingerprints the findings and drops those the baseline lists (see Detector.finish). */
async function finish(p: Prepared, findings: Finding[], wantKeyId: boolean): Promise<{ findings: Finding[]; keyId: string | null }> {
  // Nothing to fingerprint: the key (a walk of the whole history) is not looked up unless asked for or
  // needed to check that a baseline was written with it.
  if (findings.length === 0 && !wantKeyId && p.baseline?.keyId == null) return { findings, keyId: null };
  const [{ key, keyId }, { checkBaseline }] = await Promise.all([p.key(), import('./fingerprint.js')]);
  return { findings: p.detector.finish(findings, key, p.baseline ? checkBaseline(p.baseline, keyId) : null), keyId };
}

function sortFindings(r: ScanResult): void {
  r.findings.sort((a, b) => (a.file < b.file ? -1 : a.file > b.file ? 1 : a.line - b.line || a.column - b.column));
}

/**
 * Scans the work tree (default), every commit (`history`) or the staged diff (`staged`) for Clari tokens,
 * known secret values, signed download URLs and store credentials. Findings never contain a whole secret.
 */
export async function scan(options: ScanOptions = {}): Promise<ScanResult> {
  return (await run(options, false)).result;
}

/** scan(), also returning the rules that ran and the scan key id (for SARIF and baselines). */
export async function scanWithRules(options: ScanOptions = {}): Promise<{ result: ScanResult; rules: Rule[]; keyId: string }> {
  const r = await run(options, true);
  return { ...r, keyId: r.keyId! };
}

/**
 * scan(), also returning the rules that ran (for SARIF): what the CLI reports. Unlike scanWithRules() it
 * does not look up the scan key when nothing was found (a clean work tree spares the root-commit walk).
 */
export async function scanForReport(options: ScanOptions = {}): Promise<{ result: ScanResult; rules: Rule[] }> {
  const { result, rules } = await run(options, false);
  return { result, rules };
}

async function run(options: ScanOptions, wantKeyId: boolean): Promise<{ result: ScanResult; rules: Rule[]; keyId: string | null }> {
  const t0 = performance.now();
  const cwd = resolve(options.cwd ?? process.cwd());
  if (options.history && options.staged) throw new UsageError('--history and --staged cannot be combined');
  if (options.since && !options.history) throw new UsageError('--since needs --history');
  const maxFileBytes = options.maxFileBytes ?? DEFAULT_MAX_FILE_BYTES;
  const stats = emptyStats();
  const repoRoot = repoRootOfAsync(cwd);
  let findings: Finding[];
  let p: Prepared;
  if (options.history || options.staged) {
    const mode = options.history ? 'history' : 'staged';
    const notARepository = (): UsageError => new UsageError(`--${mode} needs a git repository (${cwd} is not in one)`);
    const { scanDiffs } = await import('./history.js');
    // git starts first, in the cwd (not after the top-level lookup), and walks the commits while the rules
    // and the engine load; --since is verified before (it goes into git's command line).
    let since: string | undefined;
    if (options.since) {
      const root = await repoRoot;
      if (!root) throw notARepository();
      since = verifyRevision(root, options.since);
    }
    const paths = (options.paths ?? []).map((x) => resolve(cwd, x));
    let detectorReady!: (d: Detector) => void;
    let detectorFailed!: (e: unknown) => void;
    const detector = new Promise<Detector>((res, rej) => {
      detectorReady = res;
      detectorFailed = rej;
    });
    const scanning = scanDiffs({ cwd, mode, since, paths, maxFileBytes, onProgress: options.onProgress }, detector, stats);
    // Outside a repository git fails too; the usage error below says why.
    scanning.catch(() => undefined);
    try {
      p = await prepare(options, cwd, stats, repoRoot);
    } catch (e) {
      detectorFailed(e); // stops git
      throw e;
    }
    // History: the root-commit walk runs alongside git log (the scan leaves a core part idle while git
    // produces the diffs). Staged (a pre-commit hook, usually clean): only once something is found.
    if (options.history) p.key().catch(() => undefined);
    else p.detector.onFirstFinding = () => void p.key().catch(() => undefined);
    detectorReady(p.detector);
    if (!(await repoRoot)) {
      await scanning.catch(() => undefined);
      throw notARepository();
    }
    findings = await scanning;
  } else {
    p = await prepare(options, cwd, stats, repoRoot);
    const pp = p;
    // The key lookup starts with the first finding (often while git grep still runs): a clean tree needs none.
    pp.detector.onFirstFinding = () => void pp.key().catch(() => undefined);
    const { scanWorktree } = await import('./worktree.js');
    findings = await scanWorktree(
      {
        cwd,
        repoRoot: await repoRoot,
        paths: options.paths ?? [],
        allFiles: options.allFiles ?? false,
        maxFileBytes,
        onProgress: options.onProgress,
        prefilter: p.prefilter,
        listing: p.listing,
      },
      p.detector,
      stats,
    );
  }
  const done = await finish(p, findings, wantKeyId);
  stats.ms = Math.round(performance.now() - t0);
  const result: ScanResult = { findings: done.findings, stats };
  sortFindings(result);
  return { result, rules: p.rules, keyId: done.keyId };
}

/** Scans and writes every finding's fingerprint to `file` as a baseline. Returns how many it wrote. */
export async function writeScanBaseline(file: string, options: ScanOptions = {}): Promise<{ count: number; result: ScanResult }> {
  const { result, keyId } = await scanWithRules({ ...options, baseline: undefined });
  const { writeBaseline } = await import('./fingerprint.js');
  const count = writeBaseline(resolve(options.cwd ?? process.cwd(), file), keyId, result.findings);
  return { count, result };
}
