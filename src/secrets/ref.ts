import { UsageError } from '../errors.js';

/**
 * One URI form names a secret everywhere:
 *   local:clari/prod/api-token            the embedded encrypted store (default)
 *   env:CLARI_API_KEY                     an environment variable (read-only)
 *   dotenv:PATH#KEY                        a key in a .env file (read-only, for `secret copy`)
 *   aws-sm://NAME?region=R&profile=P       AWS Secrets Manager
 *   vault://MOUNT/PATH#FIELD               HashiCorp Vault KV v2
 *   gcp-sm://projects/P/secrets/S          Google Secret Manager
 *   azure-kv://VAULT/NAME                  Azure Key Vault
 *   op://VAULT/ITEM/FIELD                  1Password (read-only, through `op`)
 */
export interface SecretRef {
  /** The scheme without separator: `local`, `env`, `aws-sm`, … */
  readonly scheme: string;
  /** The part after the scheme separator, before `?` and `#`. */
  readonly path: string;
  /** Query parameters (`region`, `profile`, …). */
  readonly params: Readonly<Record<string, string>>;
  /** The part after `#`, if any (a field name for vault/dotenv). */
  readonly fragment?: string;
  /** The reference as the user wrote it, normalised. Never contains a secret value. */
  readonly raw: string;
}

const SCHEME = /^([a-z][a-z0-9-]*):(\/\/)?(.*)$/;
export const KNOWN_SCHEMES = ['local', 'env', 'dotenv', 'aws-sm', 'vault', 'gcp-sm', 'azure-kv', 'op'] as const;

export function parseSecretRef(input: string): SecretRef {
  const text = input.trim();
  const m = SCHEME.exec(text);
  if (!m) {
    throw new UsageError(
      `not a secret reference: expected SCHEME:PATH such as local:clari/prod/api-token or env:CLARI_API_KEY (got ${describeBadRef(text)})`,
    );
  }
  const scheme = m[1];
  if (!(KNOWN_SCHEMES as readonly string[]).includes(scheme)) {
    throw new UsageError(`unknown secret store "${scheme}:" (known: ${KNOWN_SCHEMES.map((s) => `${s}:`).join(', ')})`);
  }
  let rest = m[3];
  let fragment: string | undefined;
  const hash = rest.indexOf('#');
  if (hash >= 0) {
    fragment = decodeURIComponent(rest.slice(hash + 1));
    rest = rest.slice(0, hash);
  }
  const params: Record<string, string> = {};
  const q = rest.indexOf('?');
  if (q >= 0) {
    for (const [k, v] of new URLSearchParams(rest.slice(q + 1))) params[k] = v;
    rest = rest.slice(0, q);
  }
  // A dotenv: path is a file path: keep it absolute when written so (dotenv:/etc/app/.env#KEY).
  const absolute = scheme === 'dotenv' && rest.startsWith('/');
  const path = (absolute ? '/' : '') + rest.replace(/^\/+/, '').replace(/\/+$/, '');
  if (!path || path === '/') throw new UsageError(`secret reference ${scheme}: has no name`);
  if (path.split('/').some((seg) => seg === '..' || seg === '.')) {
    throw new UsageError(`secret reference ${scheme}:${path} may not contain "." or ".." segments`);
  }
  const sep = m[2] ?? '';
  const query = Object.keys(params).length ? `?${new URLSearchParams(params).toString()}` : '';
  const raw = `${scheme}:${sep}${path}${query}${fragment !== undefined ? `#${fragment}` : ''}`;
  return { scheme, path, params, fragment, raw };
}

/** Accepts a ref object or string. */
export function toSecretRef(ref: SecretRef | string): SecretRef {
  return typeof ref === 'string' ? parseSecretRef(ref) : ref;
}

// A mistyped ref could be a pasted token; never echo more than its shape.
function describeBadRef(text: string): string {
  if (text.length <= 40 && /[/:._-]/.test(text) && !/^[A-Za-z0-9+/=_-]{16,}$/.test(text)) return JSON.stringify(text);
  return `a ${text.length}-character string, not shown in case it is a secret`;
}
