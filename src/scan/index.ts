import { lstatSync } from 'node:fs';
import { resolve } from 'node:path';
import { UsageError } from '../errors.js';
import type { SecretRef } from '../secrets/ref.js';
import type { SecretBackend } from '../secrets/types.js';
import type { SecretValue } from '../secrets/value.js';
import { Detector } from './engine.js';
import { checkBaseline, readBaseline, repositoryIdentityAsync, scanKeyFrom, writeBaseline, type ParsedBaseline, type ScanKey } from './fingerprint.js';
import { repoRootOfAsync, verifyRevision } from './git.js';
import { prefilterPatterns, startGitGrep, type GrepPrefilter } from './prefilter.js';
import { DEFAULT_RULES, knownTokenRule, loadRulesFile } from './rules/index.js';
import type { Finding, Rule, ScanOptions, ScanResult, ScanStats } from './types.js';
import { gitListing, scanWorktree } from './worktree.js';

export * from './types.js';
export { formatText, toSarif, toJsonReport } from './format.js';
export { DEFAULT_RULES, loadRulesFile, knownTokenRule } from './rules/index.js';
export { shannonEntropy, whyNotCredential, isCredentialLike } from './heuristics.js';
export { fingerprintOf, scanKeyFor, loadBaseline, writeBaseline, BASELINE_FORMAT, type ScanKey } from './fingerprint.js';
export { maskSecret } from './engine.js';

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
   * walk of the whole history, so it runs alongside the scan (after git grep in the work tree, when a core
   * is free) and is only awaited for fingerprinting the findings at the end.
   */
  key: () => Promise<ScanKey>;
  baseline: ParsedBaseline | null;
  repoRoot: Promise<string | null>;
  cwd: string;
  stats: ScanStats;
  prefilter?: GrepPrefilter;
  listing?: { abs: string; entries: Promise<[string[], string[]]> };
}

async function prepare(options: ScanOptions): Promise<Prepared> {
  const cwd = resolve(options.cwd ?? process.cwd());
  const env = options.env ?? process.env;
  if (options.history && options.staged) throw new UsageError('--history and --staged cannot be combined');
  if (options.since && !options.history) throw new UsageError('--since needs --history');
  const known = [...(options.known ?? []), ...(options.knownRefs?.length ? await readKnownValues(options.knownRefs, env) : [])];
  const rules = await resolveRules({ ...options, cwd }, known.map((k) => k.reveal()));
  if (rules.length === 0) throw new UsageError('no rules to run (--no-default-rules needs --rules FILE or --known REF)');
  // The work-tree pre-filter (git grep) starts before anything else is known: it is the longest of the git
  // calls, and it runs while the others do. Outside a repository it fails and is not used.
  let prefilter: GrepPrefilter | undefined;
  if (!options.history && !options.staged && !options.allFiles && options.prefilter !== false) {
    const patterns = prefilterPatterns(rules);
    const pathspecs = (options.paths?.length ? options.paths : [cwd]).map((x) => resolve(cwd, x));
    if (patterns) prefilter = startGitGrep(cwd, pathspecs, patterns);
  }
  // The usual invocation (no path, or one directory): git's file listing starts now too, in the cwd.
  let listing: Prepared['listing'];
  if (!options.history && !options.staged && !options.allFiles && (options.paths?.length ?? 0) <= 1) {
    const abs = resolve(cwd, options.paths?.[0] ?? '.');
    if (lstatSync(abs, { throwIfNoEntry: false })?.isDirectory()) {
      listing = { abs, entries: gitListing(abs, cwd) };
      listing.entries.catch(() => undefined); // not a repository: listTargets() walks the tree instead
    }
  }
  const repoRoot = repoRootOfAsync(cwd);
  // A key from the environment is checked now (a bad one is a usage error before any work).
  const fromEnv = env.CLARIGUARD_SCAN_KEY ? Promise.resolve(scanKeyFrom(null, env)) : undefined;
  let keyP: Promise<ScanKey> | undefined = fromEnv;
  const key = (): Promise<ScanKey> =>
    (keyP ??= Promise.all([repositoryIdentityAsync(cwd), repoRoot]).then(([identity, root]) => scanKeyFrom(root ? identity : null, env)));
  // Read now: a missing or malformed baseline fails before the scan; its key id is checked in finish().
  const baseline = options.baseline ? readBaseline(resolve(cwd, options.baseline)) : null;
  const stats = emptyStats();
  return { rules, detector: new Detector(rules, stats.skipped), key, baseline, repoRoot, cwd, stats, prefilter, listing };
}

/** Fingerprints the findings and drops those the baseline lists (see Detector.finish). */
async function finish(p: Prepared, findings: Finding[], wantKeyId: boolean): Promise<{ findings: Finding[]; keyId: string | null }> {
  // Nothing to fingerprint: the key (a walk of the whole history) is not looked up unless asked for or
  // needed to check that a baseline was written with it.
  if (findings.length === 0 && !wantKeyId && p.baseline?.keyId == null) return { findings, keyId: null };
  const { key, keyId } = await p.key();
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
  const p = await prepare(options);
  const maxFileBytes = options.maxFileBytes ?? DEFAULT_MAX_FILE_BYTES;
  let findings: Finding[];
  if (options.history || options.staged) {
    const { scanDiffs } = await import('./history.js');
    const notARepository = (): UsageError => new UsageError(`--${options.history ? 'history' : 'staged'} needs a git repository (${p.cwd} is not in one)`);
    // --since is checked first (it goes into git's command line); otherwise git starts in the cwd at once,
    // not after the top-level lookup.
    let since: string | undefined;
    if (options.since) {
      const root = await p.repoRoot;
      if (!root) throw notARepository();
      since = verifyRevision(root, options.since);
    }
    const paths = (options.paths ?? []).map((x) => resolve(p.cwd, x));
    // History: the root-commit walk runs while git log walks the same commits (before --reverse output can
    // start). Staged (a pre-commit hook, usually clean): only once something is found.
    if (options.history) p.key().catch(() => undefined);
    else p.detector.onFirstFinding = () => void p.key().catch(() => undefined);
    const scanning = scanDiffs(
      { cwd: p.cwd, mode: options.history ? 'history' : 'staged', since, paths, maxFileBytes, onProgress: options.onProgress },
      p.detector,
      p.stats,
    );
    // Outside a repository git fails too; the usage error says why.
    scanning.catch(() => undefined);
    if (!(await p.repoRoot)) {
      await scanning.catch(() => undefined);
      throw notARepository();
    }
    findings = await scanning;
  } else {
    // The key lookup starts with the first finding (often while git grep still runs): a clean tree needs none.
    p.detector.onFirstFinding = () => void p.key().catch(() => undefined);
    findings = await scanWorktree(
      {
        cwd: p.cwd,
        repoRoot: await p.repoRoot,
        paths: options.paths ?? [],
        allFiles: options.allFiles ?? false,
        maxFileBytes,
        onProgress: options.onProgress,
        prefilter: p.prefilter,
        listing: p.listing,
      },
      p.detector,
      p.stats,
    );
  }
  const done = await finish(p, findings, wantKeyId);
  p.stats.ms = Math.round(performance.now() - t0);
  const result: ScanResult = { findings: done.findings, stats: p.stats };
  sortFindings(result);
  return { result, rules: p.rules, keyId: done.keyId };
}

/** Scans and writes every finding's fingerprint to `file` as a baseline. Returns how many it wrote. */
export async function writeScanBaseline(file: string, options: ScanOptions = {}): Promise<{ count: number; result: ScanResult }> {
  const { result, keyId } = await scanWithRules({ ...options, baseline: undefined });
  const count = writeBaseline(resolve(options.cwd ?? process.cwd(), file), keyId, result.findings);
  return { count, result };
}
