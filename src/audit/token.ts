import { isClariguardError } from '../errors.js';
import { describeSecret, readSecret, ROTATED_AT_TAG, type SecretDescription, type SecretValue } from '../secrets/index.js';
import type { AuditContext } from './types.js';

/** A one-line, secret-free reason from a store failure. */
export function reasonOf(e: unknown): string {
  if (isClariguardError(e)) return e.message;
  const msg = e instanceof Error ? e.message : String(e);
  return msg.split('\n')[0].slice(0, 200);
}

/** `what: reason`, without repeating the ref when the reason already starts with it. */
export function because(ref: string, reason: string): string {
  return reason.startsWith(`${ref}:`) ? reason : `${ref}: ${reason}`;
}

export type Maybe<T> = { ok: true; value: T } | { ok: false; reason: string };

const descriptions = new WeakMap<AuditContext, Promise<Maybe<SecretDescription>>>();
const values = new WeakMap<AuditContext, Promise<Maybe<SecretValue>>>();

/** describeSecret() of the configured token, once per audit run. */
export function tokenDescription(ctx: AuditContext): Promise<Maybe<SecretDescription>> {
  let p = descriptions.get(ctx);
  if (!p) {
    const ref = ctx.config.token;
    p = ref
      ? describeSecret(ref, { env: ctx.env }).then(
          (value) => ({ ok: true as const, value }),
          (e: unknown) => ({ ok: false as const, reason: `cannot describe ${because(ref, reasonOf(e))}` }),
        )
      : Promise.resolve({ ok: false as const, reason: 'no token configured (token: in the config)' });
    descriptions.set(ctx, p);
  }
  return p;
}

/** The token's value (a SecretValue, registered for masking), once per audit run. */
export function tokenValue(ctx: AuditContext): Promise<Maybe<SecretValue>> {
  let p = values.get(ctx);
  if (!p) {
    const ref = ctx.config.token;
    p = ref
      ? readSecret(ref, { env: ctx.env }).then(
          (value) => ({ ok: true as const, value }),
          (e: unknown) => ({ ok: false as const, reason: `cannot read ${because(ref, reasonOf(e))}` }),
        )
      : Promise.resolve({ ok: false as const, reason: 'no token configured (token: in the config)' });
    values.set(ctx, p);
  }
  return p;
}

/**
 * When the token's current value came into use: the store's rotation time, else the
 * `clariguard:rotated-at` tag, else the creation time of the current version (the value is that old).
 */
export function lastRotation(d: SecretDescription): { at: string; source: string } | null {
  if (d.rotatedAt && !Number.isNaN(Date.parse(d.rotatedAt))) return { at: d.rotatedAt, source: 'store rotation date' };
  const tag = d.tags?.[ROTATED_AT_TAG];
  if (tag && !Number.isNaN(Date.parse(tag))) return { at: tag, source: `tag ${ROTATED_AT_TAG}` };
  const current = d.versions.find((v) => v.stages.includes('current'));
  if (current?.createdAt && !Number.isNaN(Date.parse(current.createdAt))) return { at: current.createdAt, source: 'creation date of the current version' };
  return null;
}
