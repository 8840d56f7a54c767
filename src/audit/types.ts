import type { AuditConfig, RosterMember } from './config.js';

export type CheckStatus = 'pass' | 'fail' | 'warn' | 'skip';
export const STATUSES: readonly CheckStatus[] = ['pass', 'fail', 'warn', 'skip'];

/** A place in a file a result points at (SARIF locations, editor links). Paths are relative to the config dir when possible. */
export interface CheckLocation {
  file: string;
  line?: number;
  column?: number;
}

export interface CheckOutcome {
  status: CheckStatus;
  /** Human-readable facts behind the status. Never a secret value or an unmasked roster email. */
  evidence: string[];
  /** What to do about a fail or warn (also given for pass, so reports can show the control). */
  remediation: string;
  locations?: CheckLocation[];
}

export interface CheckResult extends CheckOutcome {
  id: string;
  title: string;
}

export interface AuditCheck {
  /** Stable id: CI configuration, SARIF rule ids and --only refer to it. */
  readonly id: string;
  readonly title: string;
  /** One paragraph on what the check verifies (SARIF rule help, docs). */
  readonly description: string;
  /** The default remediation, used when a check has nothing more specific to say. */
  readonly remediation: string;
  /** Top-level config keys this check depends on, used to point SARIF results at the config file. */
  readonly configKeys: readonly string[];
  run(ctx: AuditContext): Promise<CheckOutcome>;
}

export interface AuditContext {
  config: AuditConfig;
  /** Absolute path of the config file ('' when the config was given in memory). */
  configPath: string;
  /** Directory that relative paths in the config are resolved against. */
  baseDir: string;
  /** Environment used for secret stores (tests pass their own). */
  env: Readonly<Record<string, string | undefined>>;
  now: Date;
  /** The roster, parsed once, or null when none is configured. */
  roster: RosterMember[] | null;
  /** Absolute paths of config.repos / exportPaths / logPaths / cachePaths. */
  repos: string[];
  exportPaths: string[];
  logPaths: string[];
  cachePaths: string[];
}
