import { resolve } from 'node:path';
import { existsSync } from 'node:fs';
import { ClariguardError, ExitCode, UsageError } from '../errors.js';
import { maskKnownSecrets } from '../masking/registry.js';
import { CHECKS } from './checks/index.js';
import {
  CONFIG_FILE_NAMES,
  configBaseDir,
  loadAuditConfig,
  loadRoster,
  validateAuditConfig,
  type AuditConfig,
  type AuditConfigInput,
  type RosterMember,
} from './config.js';
import { maskEmail } from './mask.js';
import { reasonOf } from './token.js';
import type { AuditCheck, AuditContext, CheckResult, CheckStatus } from './types.js';

export type FailOn = 'fail' | 'warn';

export interface AuditOptions {
  /** Path of clariguard.yml; default: clariguard.yml / clariguard.yaml in `cwd`. */
  configPath?: string;
  /** A config given in memory instead of a file (library use, tests). */
  config?: AuditConfigInput;
  /** Where relative paths resolve with an in-memory config; default cwd. */
  baseDir?: string;
  cwd?: string;
  /** Only these check ids (unknown ids are a usage error). */
  only?: string[];
  /** The lowest status that makes the audit fail: `fail` (default) or `warn`. */
  failOn?: FailOn;
  env?: Readonly<Record<string, string | undefined>>;
  now?: Date;
  /** Called before each check runs (progress display). */
  onCheck?: (check: AuditCheck, index: number, total: number) => void;
  /** Checks to run instead of the built-in list (tests). */
  checks?: readonly AuditCheck[];
}

export interface AuditSummary {
  total: number;
  pass: number;
  fail: number;
  warn: number;
  skip: number;
  failOn: FailOn;
  /** True when a check at or above failOn did not pass. */
  failed: boolean;
  exitCode: 0 | 1;
  /** The config file audited ('' for an in-memory config). */
  config: string;
  generatedAt: string;
}

export interface AuditReport {
  checks: CheckResult[];
  summary: AuditSummary;
  /** The config text, for pointing SARIF results at lines. Not serialised. */
  configText?: string;
}

export function findConfigFile(cwd: string): string | undefined {
  for (const name of CONFIG_FILE_NAMES) if (existsSync(resolve(cwd, name))) return resolve(cwd, name);
  return undefined;
}

/** Whether a status counts as failing under --fail-on. */
export function isFailing(status: CheckStatus, failOn: FailOn): boolean {
  return status === 'fail' || (failOn === 'warn' && status === 'warn');
}

/** Builds the context for the checks from a loaded config. */
export function auditContext(config: AuditConfig, configPath: string, options: { env?: AuditOptions['env']; now?: Date; baseDir?: string; roster?: RosterMember[] | null } = {}): AuditContext {
  const baseDir = options.baseDir ?? configBaseDir(configPath);
  const abs = (p: string) => resolve(baseDir, p);
  let roster = options.roster ?? null;
  if (roster === null && config.roster) roster = loadRoster(abs(config.roster), config.roster);
  return {
    config,
    configPath,
    baseDir,
    env: options.env ?? process.env,
    now: options.now ?? new Date(),
    roster,
    repos: config.repos.map(abs),
    exportPaths: config.exportPaths.map(abs),
    logPaths: config.logPaths.map(abs),
    cachePaths: config.cachePaths.map(abs),
  };
}

/** Last line of defence for reports: no known secret value and no roster email, whatever a check wrote. */
function sanitize(text: string, roster: RosterMember[] | null): string {
  let out = maskKnownSecrets(text);
  if (roster) {
    for (const m of roster) {
      if (m.email && out.toLowerCase().includes(m.email.toLowerCase())) {
        out = out.replace(new RegExp(m.email.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'), 'gi'), maskEmail(m.email));
      }
    }
  }
  return out;
}

/** Runs the checklist and returns the report; the exit code is in `summary.exitCode`. */
export async function runAudit(options: AuditOptions = {}): Promise<AuditReport> {
  const cwd = options.cwd ?? process.cwd();
  let config: AuditConfig;
  let configPath = '';
  let configText: string | undefined;
  if (options.config !== undefined) {
    config = validateAuditConfig(options.config, 'config');
  } else {
    const file = options.configPath ?? findConfigFile(cwd);
    if (!file) {
      throw new ClariguardError(`no ${CONFIG_FILE_NAMES[0]} in ${cwd}: pass --config FILE (see docs/audit.md)`, { exitCode: ExitCode.noInput, code: 'config' });
    }
    const loaded = loadAuditConfig(file, cwd);
    config = loaded.config;
    configPath = loaded.path;
    configText = loaded.text;
  }
  const all = options.checks ?? CHECKS;
  let selected = all;
  if (options.only?.length) {
    const ids = options.only.flatMap((o) => o.split(',')).map((s) => s.trim()).filter(Boolean);
    const unknown = ids.filter((id) => !all.some((c) => c.id === id));
    if (unknown.length) throw new UsageError(`unknown check ${unknown.join(', ')} (checks: ${all.map((c) => c.id).join(', ')})`);
    selected = all.filter((c) => ids.includes(c.id));
  }
  const failOn = options.failOn ?? 'fail';
  const ctx = auditContext(config, configPath, { env: options.env, now: options.now, baseDir: options.config !== undefined ? resolve(options.baseDir ?? cwd) : undefined });

  const checks: CheckResult[] = [];
  for (const [i, check] of selected.entries()) {
    options.onCheck?.(check, i, selected.length);
    let outcome;
    try {
      outcome = await check.run(ctx);
    } catch (e) {
      // A check that breaks did not run: report it as skipped with why, never as a pass.
      outcome = { status: 'skip' as const, evidence: [`the check could not run: ${reasonOf(e)}`], remediation: check.remediation };
    }
    checks.push({
      id: check.id,
      title: check.title,
      status: outcome.status,
      evidence: outcome.evidence.map((e) => sanitize(e, ctx.roster)),
      remediation: sanitize(outcome.remediation || check.remediation, ctx.roster),
      ...(outcome.locations?.length ? { locations: outcome.locations } : {}),
    });
  }
  const count = (s: CheckStatus) => checks.filter((c) => c.status === s).length;
  const failed = checks.some((c) => isFailing(c.status, failOn));
  return {
    checks,
    summary: {
      total: checks.length,
      pass: count('pass'),
      fail: count('fail'),
      warn: count('warn'),
      skip: count('skip'),
      failOn,
      failed,
      exitCode: failed ? 1 : 0,
      config: configPath,
      generatedAt: ctx.now.toISOString(),
    },
    configText,
  };
}
