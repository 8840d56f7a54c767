import type { SecretValue } from '../secrets/value.js';

/** `high` maps to SARIF `error`, `medium` to `warning`, `low` to `note`. */
export type Severity = 'high' | 'medium' | 'low';

/** Where the docs of every rule live; SARIF `helpUri` points at `#<rule-id>`. */
export const SCAN_DOCS_URL = 'https://github.com/clariguard/clariguard/blob/main/docs/scanning.md';

/** What a rule sees: the text of one file (work tree) or the added lines of one file in one commit. */
export interface ScanChunk {
  /** Repository-relative path with forward slashes. */
  file: string;
  text: string;
}

/** A secret a rule found: `start`/`end` are offsets of the secret itself inside `chunk.text`. */
export interface RuleMatch {
  start: number;
  end: number;
}

export interface RuleSamples {
  /** Each sample is a file: its name decides the file type rules see; every one must give at least one finding. */
  truePositives: { file: string; text: string }[];
  /** Each must give no finding from this rule. */
  falsePositives: { file: string; text: string }[];
}

export interface Rule {
  id: string;
  description: string;
  severity: Severity;
  /**
   * Fast pre-filter: the rule only runs on a chunk that contains one of these (case-insensitive).
   * Empty means "always run".
   */
  keywords: string[];
  /**
   * Work-tree pre-filter run by `git grep -P` (PCRE2 on bytes, ASCII classes; see prefilter.ts): whenever
   * detect() finds anything in a chunk, at least one line of the chunk (without its newline) matches one of
   * these. Must hold exactly, for every input: a file no pattern matches is never read. Omitted: the
   * keywords are used instead.
   */
  linePatterns?: string[];
  /** The pattern, for humans and SARIF help; `detect` is what runs. */
  pattern: string;
  /** Rules that match exact known values ignore inline allows and baselines (the value is real by construction). */
  unsuppressible?: boolean;
  samples?: RuleSamples;
  detect(chunk: ScanChunk): RuleMatch[];
}

export interface Finding {
  ruleId: string;
  file: string;
  line: number;
  column: number;
  commit: string | null;
  author: string | null;
  date: string | null;
  /** HMAC-SHA-256 of rule, file and secret under the scan key (docs/scanning.md); never a bare hash. */
  fingerprint: string;
  severity: Severity;
  /** The line with every secret on it cut to its first 4 characters and a mask. */
  snippet: string;
}

export interface SkippedCounts {
  /** Files with a NUL byte in their first 8 KiB, or diffs git reports as binary. */
  binary: number;
  /** Files (or one file's added lines in one commit) over the size limit. */
  tooLarge: number;
  /** Files under node_modules/ or .git/. */
  excludedDir: number;
  /** Untracked files that .gitignore excludes (work-tree scan of a repository without `allFiles`). */
  gitignored: number;
  /** Symbolic links, sockets, devices: never followed. */
  notRegular: number;
  /** Findings dropped by an inline `clariguard:allow`. */
  allowed: number;
  /** Findings dropped by the baseline. */
  baselined: number;
}

export interface ScanStats {
  files: number;
  bytes: number;
  commits: number;
  ms: number;
  skipped: SkippedCounts;
  /** Paths that could not be read (permission denied, vanished), each with the reason. Not fatal. */
  unreadable: string[];
}

export interface ScanResult {
  findings: Finding[];
  stats: ScanStats;
}

export interface ScanOptions {
  /** Files or directories to scan (work tree), or pathspecs to limit history/staged scans. Default: cwd. */
  paths?: string[];
  cwd?: string;
  /** Scan every commit reachable from any ref (`git log -p --all`), reporting the commit that added each secret. */
  history?: boolean;
  /** With `history`: only commits not reachable from REV (`REV..`). */
  since?: string;
  /** Scan the staged diff (`git diff --cached`), for pre-commit hooks. */
  staged?: boolean;
  /** Real secret values to look for (clari-known-token). */
  known?: SecretValue[];
  /** References read with readSecret() (current, plus pending/previous where the store has stages). */
  knownRefs?: string[];
  /** A YAML/JSON file of extra rules. */
  rules?: string;
  /** Only the rules from `rules` (and clari-known-token when values are known). */
  noDefaultRules?: boolean;
  /** A baseline file: findings whose fingerprint it lists are dropped. */
  baseline?: string;
  /** Restrict to these rule ids. */
  ruleIds?: string[];
  /** Work tree in a repository: also scan files .gitignore excludes (as a plain directory walk does). */
  allFiles?: boolean;
  /**
   * Work tree in a repository: let `git grep` pick the files worth reading (default true). false reads and
   * checks every file here; results are the same either way (the tests compare them).
   */
  prefilter?: boolean;
  /** Files (or per-commit file diffs) larger than this are skipped and counted. Default 5 MiB. */
  maxFileBytes?: number;
  /** Environment for secret stores and the scan key; defaults to process.env. */
  env?: Readonly<Record<string, string | undefined>>;
  /** Called as the scan advances (every chunk of `git log` output, every 100 files), with the counts so far. */
  onProgress?: (stats: Readonly<ScanStats>) => void;
}
