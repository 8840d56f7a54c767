import type { SecretRef } from './ref.js';
import type { SecretValue } from './value.js';

/** Version stages, modelled on AWS Secrets Manager's AWSCURRENT / AWSPENDING / AWSPREVIOUS. */
export type Stage = 'current' | 'pending' | 'previous';
export const STAGES: readonly Stage[] = ['current', 'pending', 'previous'];

export interface VersionInfo {
  id: string;
  stages: Stage[];
  /** ISO-8601, or null when the store does not say. */
  createdAt: string | null;
}

/** What `secret describe --json` prints. Never contains a value. */
export interface SecretDescription {
  ref: string;
  backend: string;
  versions: VersionInfo[];
  /** When the current version became current (ISO-8601), or null when unknown. */
  rotatedAt: string | null;
  /** Whole days since rotatedAt (or since the current version was created), null when unknown. */
  ageDays: number | null;
  tags: Record<string, string>;
  /** A rotation in progress, as journalled by `clariguard rotate`, or null. */
  rotation?: RotationJournal | null;
}

/** The rotation journal kept in a store's tags/metadata. Holds ids and times, never values. */
export interface RotationJournal {
  step: 'create' | 'test' | 'set' | 'finish' | 'done';
  pendingVersionId?: string;
  previousVersionId?: string;
  startedAt: string;
  updatedAt: string;
}

/** Principals that can read a secret, as the store reports them (audit uses this). */
export interface ReaderReport {
  /** e.g. `arn:aws:iam::123:role/x`, `uid:1000 (alice)`, `env: anyone with access to the environment`. */
  principals: string[];
  /** Raw evidence lines (policy statements, file mode…), no secret values. */
  evidence: string[];
  /** True when the store grants access to a wildcard/anyone. */
  wildcard: boolean;
}

export interface ReadOptions {
  /** Defaults to `current`. */
  stage?: Stage;
  versionId?: string;
}

export interface WriteOptions {
  /**
   * `current` (default): the new version becomes current and the old current becomes previous.
   * `pending`: the new version only gets the pending stage (rotation step "create").
   */
  stage?: 'current' | 'pending';
  /** Tags merged into the secret's tags (null removes a tag). */
  tags?: Record<string, string | null>;
  /** Idempotency token: writing twice with the same token creates one version (AWS ClientRequestToken). */
  requestToken?: string;
}

export interface BackendCapabilities {
  write: boolean;
  stages: boolean;
  list: boolean;
  remove: boolean;
  readers: boolean;
}

/**
 * One interface for every secret store (Teller-style: one module per provider behind it).
 * Backends must never put a secret value or their own credentials in an error message.
 */
export interface SecretBackend {
  /** The ref scheme this backend serves, e.g. `local`. */
  readonly scheme: string;
  readonly capabilities: BackendCapabilities;
  read(ref: SecretRef, opts?: ReadOptions): Promise<SecretValue>;
  write(ref: SecretRef, value: SecretValue, opts?: WriteOptions): Promise<{ versionId: string }>;
  describe(ref: SecretRef): Promise<SecretDescription>;
  /** Refs (as strings) of the secrets in this store, optionally under a path prefix. */
  list(prefix?: string): Promise<string[]>;
  /** Deletes the secret and every version. */
  remove(ref: SecretRef): Promise<void>;
  /**
   * Makes `versionId` current in one store operation: the old current becomes previous, the version
   * that was previous loses that stage, and `versionId` loses pending. Records rotatedAt.
   */
  promote(ref: SecretRef, versionId: string): Promise<void>;
  /** Removes one version (or, where the store cannot delete versions, disables/destroys it). */
  deleteVersion(ref: SecretRef, versionId: string): Promise<void>;
  /** Merges tags/metadata (null removes). Used for the rotation journal. */
  setTags(ref: SecretRef, tags: Record<string, string | null>): Promise<void>;
  /** Who can read the secret. */
  readers?(ref: SecretRef): Promise<ReaderReport>;
}

/** Environment handed to backends: tests pass their own instead of process.env. */
export interface BackendContext {
  env: Readonly<Record<string, string | undefined>>;
}
