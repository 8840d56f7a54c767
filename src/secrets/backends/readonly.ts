import { ExitCode, SecretNotFoundError, StoreError } from '../../errors.js';
import type { SecretRef } from '../ref.js';
import type { SecretValue } from '../value.js';
import type { ReadOptions } from '../types.js';

/** Shared behaviour of read-only backends (env:, dotenv:, op:): every write is refused the same way. */
export abstract class ReadOnlyBackend {
  abstract readonly scheme: string;
  readonly capabilities = { write: false, stages: false, list: false, remove: false, readers: true };

  protected refuse(operation: string): never {
    throw new StoreError(this.scheme, operation, `${this.scheme}: references are read-only; copy the value into a store with \`clariguard secret copy\``, {
      exitCode: ExitCode.usage,
      code: 'read_only',
    });
  }
  /** These stores hold one value: asking for a pending or previous one must not get the current one. */
  protected onlyCurrent(ref: SecretRef, opts?: ReadOptions): void {
    const stage = opts?.stage ?? 'current';
    if (stage !== 'current') throw new SecretNotFoundError(ref.raw, `no ${stage} version (${this.scheme}: references hold only the current value)`);
  }
  async write(_ref: SecretRef, _value: SecretValue): Promise<{ versionId: string }> {
    return this.refuse('write');
  }
  async list(): Promise<string[]> {
    return this.refuse('list');
  }
  async remove(_ref: SecretRef): Promise<void> {
    this.refuse('remove');
  }
  async promote(_ref: SecretRef, _versionId: string): Promise<void> {
    this.refuse('promote');
  }
  async deleteVersion(_ref: SecretRef, _versionId: string): Promise<void> {
    this.refuse('deleteVersion');
  }
  async setTags(_ref: SecretRef, _tags: Record<string, string | null>): Promise<void> {
    this.refuse('setTags');
  }
}
