import { SecretNotFoundError } from '../../errors.js';
import type { SecretRef } from '../ref.js';
import { SecretValue } from '../value.js';
import type { BackendContext, ReadOptions, ReaderReport, SecretBackend, SecretDescription } from '../types.js';
import { ReadOnlyBackend } from './readonly.js';

/** `env:NAME`: a value in this process's environment. Read-only; no versions, no dates. */
export class EnvBackend extends ReadOnlyBackend implements SecretBackend {
  readonly scheme = 'env';
  constructor(private readonly env: Readonly<Record<string, string | undefined>>) {
    super();
  }
  static fromContext(ctx: BackendContext): EnvBackend {
    return new EnvBackend(ctx.env);
  }
  async read(ref: SecretRef, opts?: ReadOptions): Promise<SecretValue> {
    this.onlyCurrent(ref, opts);
    const v = this.env[ref.path];
    if (v === undefined || v === '') throw new SecretNotFoundError(ref.raw, `environment variable ${ref.path} is not set`);
    return new SecretValue(v);
  }
  async describe(ref: SecretRef): Promise<SecretDescription> {
    await this.read(ref);
    return {
      ref: ref.raw,
      backend: 'env',
      versions: [{ id: 'env', stages: ['current'], createdAt: null }],
      rotatedAt: null,
      ageDays: null,
      tags: {},
      rotation: null,
    };
  }
  async readers(): Promise<ReaderReport> {
    return {
      principals: ['anyone who can read this process environment or the CI configuration that sets it'],
      evidence: ['env: values have no access control of their own: every CI step, child process and admin of the CI settings can read them'],
      wildcard: true,
    };
  }
}
