import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ClariguardError, ConfigError, ExitCode, SecretNotFoundError, StoreError } from '../../errors.js';
import { ROTATED_AT_TAG } from '../journal.js';
import type { SecretRef } from '../ref.js';
import type { BackendContext, ReadOptions, SecretBackend, SecretDescription, Stage, VersionInfo, WriteOptions } from '../types.js';
import { SecretValue } from '../value.js';
import { descriptionOf, displayUrl, isoOrNull, latestIso, networkCode, safeDetail } from './shared.js';

type Env = Readonly<Record<string, string | undefined>>;

/** custom_metadata keys clariguard owns on a KV v2 secret (the rest are the secret's tags). */
export const VAULT_STAGE_KEY: Record<Stage, string> = {
  current: 'clariguard-stage-current',
  pending: 'clariguard-stage-pending',
  previous: 'clariguard-stage-previous',
};
const REQUEST_KEY = 'clariguard-last-request';
const OWN_KEYS = new Set<string>([...Object.values(VAULT_STAGE_KEY), REQUEST_KEY]);
/** The field written when a ref has no #FIELD. */
export const VAULT_DEFAULT_FIELD = 'value';

interface KvMetadata {
  current_version: number;
  oldest_version?: number;
  created_time?: string;
  updated_time?: string;
  cas_required?: boolean;
  max_versions?: number;
  custom_metadata: Record<string, string> | null;
  versions: Record<string, { created_time: string; deletion_time: string; destroyed: boolean }>;
}

interface KvData {
  data: Record<string, unknown> | null;
  metadata: { version: number; created_time: string; deletion_time: string; destroyed: boolean; custom_metadata?: Record<string, string> | null };
}

export interface VaultBackendOptions {
  env: Env;
  /** Replaces global fetch (tests). */
  fetch?: typeof fetch;
}

class VaultHttpError extends Error {
  constructor(
    readonly status: number,
    readonly errors: string[],
  ) {
    super(`HTTP ${status}`);
  }
}

/**
 * `vault://MOUNT/PATH#FIELD`: HashiCorp Vault KV version 2 over its HTTP API (VAULT_ADDR, VAULT_TOKEN or
 * ~/.vault-token, VAULT_NAMESPACE). Writes use check-and-set against the version the write was based on.
 * KV v2 versions are numbers; clariguard's stages are a stage -> version map in the secret's
 * custom_metadata (`clariguard-stage-*`), next to its tags and the rotation journal.
 */
export class VaultBackend implements SecretBackend {
  readonly scheme = 'vault';
  readonly capabilities = { write: true, stages: true, list: true, remove: true, readers: false };
  private readonly env: Env;
  private readonly fetchImpl: typeof fetch;

  constructor(options: VaultBackendOptions) {
    this.env = options.env;
    this.fetchImpl = options.fetch ?? fetch;
  }

  static fromContext(ctx: BackendContext): VaultBackend {
    return new VaultBackend({ env: ctx.env });
  }

  // ---- SecretBackend -------------------------------------------------------------------------

  async read(ref: SecretRef, opts: ReadOptions = {}): Promise<SecretValue> {
    const { mount, path } = this.split(ref);
    let version: number | undefined;
    if (opts.versionId) version = this.versionNumber(ref, opts.versionId);
    else {
      const stage = opts.stage ?? 'current';
      let meta: KvMetadata | undefined;
      try {
        meta = await this.metadata(ref, 'read');
      } catch (e) {
        // A read-only policy on MOUNT/data/PATH alone still reads the current (latest) version.
        if (!(stage === 'current' && (e as ClariguardError).code === 'permission_denied')) throw e;
      }
      if (meta) {
        const v = effectiveStages(meta)[stage];
        if (v === undefined) throw new SecretNotFoundError(ref.raw, `no ${stage} version`);
        version = v;
      }
    }
    const body = await this.request(ref, 'read', 'GET', `${mount}/data/${path}${version !== undefined ? `?version=${version}` : ''}`);
    const kv = (body as { data?: KvData }).data;
    if (!kv?.data) throw new SecretNotFoundError(ref.raw, `version ${version} is deleted or destroyed`);
    return this.fieldOf(ref, kv.data);
  }

  async write(ref: SecretRef, value: SecretValue, opts: WriteOptions = {}): Promise<{ versionId: string }> {
    const { mount, path } = this.split(ref);
    const field = ref.fragment ?? VAULT_DEFAULT_FIELD;
    const stage = opts.stage ?? 'current';
    const meta = await this.metadata(ref, 'write', true);
    const tokenHash = opts.requestToken ? createHash('sha256').update(opts.requestToken).digest('hex').slice(0, 32) : undefined;

    if (meta && tokenHash) {
      const replay = await this.replayed(ref, meta, tokenHash, field, value);
      if (replay !== undefined) return { versionId: String(replay) };
    }

    // Other fields of the secret (e.g. a client id beside the token) are carried over from the version
    // this write is based on; check-and-set makes the write fail rather than lose a concurrent change.
    const base = meta?.current_version ?? 0;
    let fields: Record<string, unknown> = {};
    if (meta && base > 0 && !meta.versions[String(base)]?.destroyed && !meta.versions[String(base)]?.deletion_time) {
      const prev = (await this.request(ref, 'write', 'GET', `${mount}/data/${path}?version=${base}`)) as { data?: KvData };
      fields = { ...(prev.data?.data ?? {}) };
      for (const v of Object.values(fields)) if (typeof v === 'string' && v.length >= 6) new SecretValue(v);
    }
    fields[field] = value.reveal();
    if (stage === 'pending' && meta) {
      // Marked before the data write (check-and-set makes it version base+1): an unmarked newer version
      // counts as current, so a reader, or a crash, between the two would get the untested token.
      await this.updateCustomMetadata(ref, { [VAULT_STAGE_KEY.pending]: String(base + 1), ...(opts.tags ?? {}) }, meta);
    }
    const out = (await this.request(ref, 'write', 'POST', `${mount}/data/${path}`, { options: { cas: base }, data: fields }).catch(async (e: unknown) => {
      // No version of ours exists: the mark must not claim another writer's version base+1 as pending.
      if (stage === 'pending' && meta) await this.updateCustomMetadata(ref, { [VAULT_STAGE_KEY.pending]: meta.custom_metadata?.[VAULT_STAGE_KEY.pending] ?? null }).catch(() => undefined);
      throw e;
    })) as {
      data?: { version?: number };
    };
    const version = out.data?.version;
    if (typeof version !== 'number') throw new StoreError('vault', 'write', `${ref.raw}: Vault did not return a version number`);

    const before = meta ? effectiveStages(meta) : {};
    const custom: Record<string, string | null> = {};
    if (stage === 'pending') custom[VAULT_STAGE_KEY.pending] = String(version);
    else {
      custom[VAULT_STAGE_KEY.current] = String(version);
      custom[VAULT_STAGE_KEY.previous] = before.current !== undefined ? String(before.current) : null;
    }
    if (tokenHash) custom[REQUEST_KEY] = `${tokenHash}:${version}`;
    for (const [k, v] of Object.entries(opts.tags ?? {})) custom[k] = v;
    await this.updateCustomMetadata(ref, custom, meta ?? undefined);
    return { versionId: String(version) };
  }

  async describe(ref: SecretRef): Promise<SecretDescription> {
    const meta = await this.metadata(ref, 'describe');
    const stages = effectiveStages(meta);
    const byVersion = new Map<number, Stage[]>();
    for (const s of ['current', 'pending', 'previous'] as Stage[]) {
      const v = stages[s];
      if (v !== undefined) byVersion.set(v, [...(byVersion.get(v) ?? []), s]);
    }
    const versions: VersionInfo[] = Object.entries(meta.versions)
      .filter(([, v]) => !v.destroyed && !v.deletion_time)
      .map(([id, v]) => ({ id, stages: byVersion.get(Number(id)) ?? [], createdAt: isoOrNull(v.created_time) }))
      .sort((a, b) => Number(a.id) - Number(b.id));
    const tags = tagsOf(meta);
    const currentCreated = stages.current !== undefined ? meta.versions[String(stages.current)]?.created_time : undefined;
    const rotatedAt = latestIso(tags[ROTATED_AT_TAG], currentCreated);
    return descriptionOf(ref, 'vault', versions, rotatedAt, tags);
  }

  async list(prefix?: string): Promise<string[]> {
    const raw = (prefix ?? '').replace(/^vault:(\/\/)?/, '').replace(/^\/+/, '');
    const slash = raw.indexOf('/');
    if (!raw) throw new ClariguardError('vault: list needs a mount, e.g. clariguard secret list vault://secret/', { exitCode: ExitCode.usage, code: 'usage' });
    const mount = slash < 0 ? raw : raw.slice(0, slash);
    const sub = slash < 0 ? '' : raw.slice(slash + 1);
    // LIST works on folders; a prefix that is not a folder filters the listing of its parent folder.
    const folder = sub.endsWith('/') || sub === '' ? sub : sub.slice(0, sub.lastIndexOf('/') + 1);
    const pseudo: SecretRef = { scheme: 'vault', path: `${mount}/${folder || '*'}`, params: {}, raw: `vault://${mount}/${folder}` };
    const out: string[] = [];
    const walk = async (dir: string, depth: number): Promise<void> => {
      let keys: string[];
      try {
        // GET ?list=true is Vault's documented equivalent of the LIST verb (which proxies may not pass).
        const body = (await this.request(pseudo, 'list', 'GET', `${mount}/metadata/${dir}?list=true`)) as { data?: { keys?: string[] } };
        keys = body.data?.keys ?? [];
      } catch (e) {
        if (e instanceof SecretNotFoundError) return;
        throw e;
      }
      for (const k of keys) {
        const full = `${dir}${k}`;
        if (k.endsWith('/')) {
          if (depth < 16 && `${full}`.startsWith(sub.slice(0, full.length)) ) await walk(full, depth + 1);
        } else if (full.startsWith(sub)) out.push(`vault://${mount}/${full}`);
      }
    };
    await walk(folder, 0);
    return out.sort();
  }

  async remove(ref: SecretRef): Promise<void> {
    const { mount, path } = this.split(ref);
    await this.metadata(ref, 'remove');
    if (ref.fragment !== undefined) {
      // Deleting the metadata deletes every field: a ref naming one field must not take the others with it.
      const body = (await this.request(ref, 'remove', 'GET', `${mount}/data/${path}`)) as { data?: KvData };
      const others = Object.keys(body.data?.data ?? {}).filter((k) => k !== ref.fragment);
      if (others.length > 0) {
        throw new ClariguardError(
          `${ref.raw}: the secret also holds ${others.length === 1 ? 'field' : 'fields'} ${others.slice(0, 10).join(', ')}; rm deletes the whole secret, so name it without #${ref.fragment} to delete every field`,
          { exitCode: ExitCode.usage, code: 'usage' },
        );
      }
    }
    await this.request(ref, 'remove', 'DELETE', `${mount}/metadata/${path}`);
  }

  async promote(ref: SecretRef, versionId: string): Promise<void> {
    const meta = await this.metadata(ref, 'promote');
    const v = this.versionNumber(ref, versionId);
    const info = meta.versions[String(v)];
    if (!info || info.destroyed || info.deletion_time) throw new SecretNotFoundError(ref.raw, `no version ${versionId}`);
    const stages = effectiveStages(meta);
    const custom: Record<string, string | null> = {};
    if (stages.current !== v) {
      custom[VAULT_STAGE_KEY.current] = String(v);
      custom[VAULT_STAGE_KEY.previous] = stages.current !== undefined ? String(stages.current) : null;
    }
    if (stages.pending === v) custom[VAULT_STAGE_KEY.pending] = null;
    if (Object.keys(custom).length === 0) return;
    custom[ROTATED_AT_TAG] = new Date().toISOString();
    await this.updateCustomMetadata(ref, custom, meta);
  }

  async deleteVersion(ref: SecretRef, versionId: string): Promise<void> {
    const { mount, path } = this.split(ref);
    const meta = await this.metadata(ref, 'deleteVersion');
    const v = this.versionNumber(ref, versionId);
    const info = meta.versions[String(v)];
    if (!info) throw new SecretNotFoundError(ref.raw, `no version ${versionId}`);
    const stages = effectiveStages(meta);
    if (stages.current === v) {
      throw new StoreError('vault', 'deleteVersion', `${ref.raw}: refusing to delete the current version`, { exitCode: ExitCode.usage, code: 'usage' });
    }
    // Destroy, not soft-delete: an old token's plaintext should not stay recoverable.
    if (!info.destroyed) await this.request(ref, 'deleteVersion', 'POST', `${mount}/destroy/${path}`, { versions: [v] });
    const custom: Record<string, string | null> = {};
    for (const s of ['pending', 'previous'] as Stage[]) if (stages[s] === v) custom[VAULT_STAGE_KEY[s]] = null;
    if (Object.keys(custom).length) await this.updateCustomMetadata(ref, custom, meta);
  }

  async setTags(ref: SecretRef, tags: Record<string, string | null>): Promise<void> {
    for (const k of Object.keys(tags)) {
      if (OWN_KEYS.has(k)) throw new StoreError('vault', 'setTags', `${ref.raw}: ${k} is reserved for clariguard's stage map`, { exitCode: ExitCode.usage, code: 'usage' });
    }
    await this.updateCustomMetadata(ref, tags);
  }

  // ---- internals -----------------------------------------------------------------------------

  /** MOUNT is the first path segment, or `?mount=a/b` for a nested mount path. */
  private split(ref: SecretRef): { mount: string; path: string } {
    const m = ref.params.mount?.replace(/^\/+|\/+$/g, '');
    if (m) {
      if (!ref.path.startsWith(`${m}/`)) throw new ClariguardError(`${ref.raw}: the path must start with the mount ${m}/`, { exitCode: ExitCode.usage, code: 'usage' });
      return { mount: enc(m), path: enc(ref.path.slice(m.length + 1)) };
    }
    const slash = ref.path.indexOf('/');
    if (slash < 0) {
      throw new ClariguardError(`${ref.raw}: expected vault://MOUNT/PATH#FIELD, e.g. vault://secret/clari/prod#token`, { exitCode: ExitCode.usage, code: 'usage' });
    }
    return { mount: enc(ref.path.slice(0, slash)), path: enc(ref.path.slice(slash + 1)) };
  }

  private versionNumber(ref: SecretRef, id: string): number {
    const n = Number(id);
    if (!Number.isInteger(n) || n < 1) throw new SecretNotFoundError(ref.raw, `no version ${id} (Vault versions are numbers)`);
    return n;
  }

  private fieldOf(ref: SecretRef, data: Record<string, unknown>): SecretValue {
    // Register every string field first: whichever error follows, none of them can print unmasked.
    for (const v of Object.values(data)) if (typeof v === 'string' && v.length >= 6) new SecretValue(v);
    let field = ref.fragment;
    if (field === undefined) {
      const keys = Object.keys(data);
      if (keys.length === 1) field = keys[0];
      else if (VAULT_DEFAULT_FIELD in data) field = VAULT_DEFAULT_FIELD;
      else {
        throw new ClariguardError(`${ref.raw}: the secret has ${keys.length} fields; name one with #FIELD (fields: ${keys.slice(0, 10).join(', ')})`, {
          exitCode: ExitCode.usage,
          code: 'usage',
        });
      }
    }
    const v = data[field];
    if (v === undefined || v === null) throw new SecretNotFoundError(ref.raw, `the secret has no field "${field}"`);
    return new SecretValue(typeof v === 'string' ? v : JSON.stringify(v));
  }

  /** A retried write (same request token) returns the version it created, or refuses a different value. */
  private async replayed(ref: SecretRef, meta: KvMetadata, tokenHash: string, field: string, value: SecretValue): Promise<number | undefined> {
    const { mount, path } = this.split(ref);
    const last = meta.custom_metadata?.[REQUEST_KEY];
    let candidate: number | undefined;
    if (last?.startsWith(`${tokenHash}:`)) candidate = Number(last.slice(tokenHash.length + 1));
    else {
      // The data write succeeded but the metadata update did not (crash in between): the newest version
      // then carries no stage. Adopt it if it holds exactly this value.
      const cm = meta.custom_metadata ?? {};
      const staged = new Set(Object.values(VAULT_STAGE_KEY).map((k) => Number(cm[k])));
      if (meta.current_version > 0 && !staged.has(meta.current_version)) candidate = meta.current_version;
      else return undefined;
    }
    const body = (await this.request(ref, 'write', 'GET', `${mount}/data/${path}?version=${candidate}`).catch((e) => {
      if (e instanceof SecretNotFoundError) return {};
      throw e;
    })) as { data?: KvData };
    const existing = body.data?.data?.[field];
    const same = typeof existing === 'string' && new SecretValue(existing).equals(value);
    if (same) return candidate;
    if (last?.startsWith(`${tokenHash}:`)) {
      throw new StoreError('vault', 'write', `${ref.raw}: the request token was already used for a different value`, {
        exitCode: ExitCode.usage,
        code: 'idempotency_conflict',
      });
    }
    return undefined;
  }

  private async metadata(ref: SecretRef, op: string): Promise<KvMetadata>;
  private async metadata(ref: SecretRef, op: string, allowMissing: true): Promise<KvMetadata | null>;
  private async metadata(ref: SecretRef, op: string, allowMissing = false): Promise<KvMetadata | null> {
    const { mount, path } = this.split(ref);
    try {
      const body = (await this.request(ref, op, 'GET', `${mount}/metadata/${path}`)) as { data?: KvMetadata };
      if (!body.data) throw new SecretNotFoundError(ref.raw, 'no such secret in Vault');
      const meta = body.data;
      meta.versions ??= {};
      // A secret whose every version is deleted is gone as far as readers are concerned.
      if (!allowMissing && !Object.values(meta.versions).some((v) => !v.destroyed && !v.deletion_time)) {
        throw new SecretNotFoundError(ref.raw, 'every version is deleted or destroyed');
      }
      return meta;
    } catch (e) {
      if (allowMissing && e instanceof SecretNotFoundError) return null;
      throw e;
    }
  }

  /** Merges keys into custom_metadata (null removes). POST replaces the map, so it is read first. */
  private async updateCustomMetadata(ref: SecretRef, changes: Record<string, string | null>, known?: KvMetadata): Promise<void> {
    const { mount, path } = this.split(ref);
    const meta = known ?? (await this.metadata(ref, 'setTags'));
    const custom: Record<string, string> = { ...(meta.custom_metadata ?? {}) };
    for (const [k, v] of Object.entries(changes)) {
      if (v === null) delete custom[k];
      else {
        if (Buffer.byteLength(k) > 128 || Buffer.byteLength(v) > 512) {
          throw new StoreError('vault', 'setTags', `${ref.raw}: custom metadata ${k.slice(0, 40)} is too long (keys up to 128, values up to 512 bytes)`, {
            exitCode: ExitCode.usage,
            code: 'usage',
          });
        }
        custom[k] = v;
      }
    }
    await this.request(ref, 'setTags', 'POST', `${mount}/metadata/${path}`, { custom_metadata: custom });
  }

  private address(): string {
    const addr = this.env.VAULT_ADDR;
    if (!addr) throw new ConfigError('vault: set VAULT_ADDR (e.g. https://vault.example.com:8200)');
    if (!/^https?:\/\//.test(addr)) throw new ConfigError('vault: VAULT_ADDR must be an http:// or https:// URL');
    return addr.replace(/\/+$/, '');
  }

  private token(): string {
    const t = this.env.VAULT_TOKEN;
    if (t) return t;
    // The vault CLI's default token helper keeps the login token here.
    const home = this.env.HOME;
    if (home) {
      try {
        const fromFile = readFileSync(join(home, '.vault-token'), 'utf8').trim();
        if (fromFile) return fromFile;
      } catch {
        // fall through
      }
    }
    throw new ConfigError('vault: no token: set VAULT_TOKEN or run `vault login` (which writes ~/.vault-token)');
  }

  /**
   * One Vault API call. Reads (GET/LIST) are retried on 429, 5xx except 501, and connection errors with
   * exponential backoff; writes are not (check-and-set would turn a lost response into a conflict).
   */
  private async request(ref: SecretRef, op: string, method: string, apiPath: string, body?: unknown): Promise<unknown> {
    const addr = this.address();
    const token = this.token();
    new SecretValue(token);
    const headers: Record<string, string> = { 'X-Vault-Token': token, 'X-Vault-Request': 'true' };
    if (this.env.VAULT_NAMESPACE) headers['X-Vault-Namespace'] = this.env.VAULT_NAMESPACE;
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    const idempotent = method === 'GET';
    const attempts = idempotent ? 4 : 1;
    let lastErr: unknown;
    for (let attempt = 1; attempt <= attempts; attempt++) {
      if (attempt > 1) await new Promise((r) => setTimeout(r, 100 * 2 ** (attempt - 2) * (0.5 + Math.random())));
      let res: Response;
      try {
        res = await this.fetchImpl(`${addr}/v1/${apiPath}`, {
          method,
          headers,
          body: body === undefined ? undefined : JSON.stringify(body),
          signal: AbortSignal.timeout(30_000),
        });
      } catch (e) {
        lastErr = e;
        continue;
      }
      const text = await res.text();
      if (res.ok) return text ? (JSON.parse(text) as unknown) : {};
      let errors: string[] = [];
      try {
        errors = ((JSON.parse(text) as { errors?: unknown }).errors as string[]) ?? [];
      } catch {
        errors = [];
      }
      lastErr = new VaultHttpError(res.status, Array.isArray(errors) ? errors.map(String) : []);
      if (!(res.status === 429 || (res.status >= 500 && res.status !== 501))) break;
    }
    throw this.mapError(lastErr, ref, op, method, apiPath, attempts);
  }

  private mapError(e: unknown, ref: SecretRef, op: string, method: string, apiPath: string, attempts: number): ClariguardError {
    const where = `${method} /v1/${apiPath.replace(/\?.*$/, '')}`;
    const fail = (detail: string, exitCode: number, code: string): StoreError =>
      new StoreError('vault', op, `${ref.raw}: ${detail}`, { exitCode, code, cause: e });
    if (e instanceof VaultHttpError) {
      const msg = safeDetail(e.errors.join('; '));
      switch (e.status) {
        case 404:
          return new SecretNotFoundError(ref.raw, /route/.test(msg) ? `Vault has no such mount or route (${where})` : 'no such secret in Vault');
        case 403:
          return fail(`permission denied for ${where} (check the token's Vault policy and VAULT_NAMESPACE)`, ExitCode.noPermission, 'permission_denied');
        case 400:
          if (/check-and-set/.test(msg)) {
            return fail(`the secret changed while writing (check-and-set conflict: ${msg}); try again`, ExitCode.tempFail, 'conflict');
          }
          return fail(`Vault rejected the request (${msg || 'HTTP 400'})`, ExitCode.unavailable, 'store_error');
        case 429:
          return fail(`rate limited by Vault after ${attempts} attempts; try again later`, ExitCode.tempFail, 'throttled');
        case 503:
          return fail(`Vault is unavailable${/sealed/i.test(msg) ? ' (sealed)' : ''}${attempts > 1 ? ` after ${attempts} attempts` : ''}`, ExitCode.unavailable, 'unavailable');
        default:
          return fail(`Vault returned HTTP ${e.status}${msg ? ` (${msg})` : ''}`, ExitCode.unavailable, 'store_error');
      }
    }
    const net = networkCode(e);
    const name = (e as Error)?.name;
    if (name === 'TimeoutError' || name === 'AbortError') return fail(`Vault at ${displayUrl(this.address())} did not answer in time`, ExitCode.unavailable, 'unavailable');
    const why = net ?? safeDetail(((e as { cause?: Error })?.cause ?? (e as Error))?.message, 60);
    return fail(`cannot reach Vault at ${displayUrl(this.address())}${why ? ` (${why})` : ''}`, ExitCode.unavailable, 'unavailable');
  }
}

function enc(p: string): string {
  return p.split('/').map(encodeURIComponent).join('/');
}

function tagsOf(meta: KvMetadata): Record<string, string> {
  return Object.fromEntries(Object.entries(meta.custom_metadata ?? {}).filter(([k]) => !OWN_KEYS.has(k)));
}

function live(meta: KvMetadata, v: number | undefined): v is number {
  if (v === undefined || !Number.isInteger(v)) return false;
  const info = meta.versions[String(v)];
  return !!info && !info.destroyed && !info.deletion_time;
}

/**
 * The stage -> version map, reconciled with what Vault says: a secret written by other tools (no map) has
 * its newest live version current, and a newer unstaged version written after ours (e.g. with
 * `vault kv put`) is current too, since that is what every other Vault reader now gets.
 */
function liveDesc(meta: KvMetadata): number[] {
  return Object.keys(meta.versions)
    .map(Number)
    .filter((v) => live(meta, v))
    .sort((a, b) => b - a);
}

export function effectiveStages(meta: KvMetadata): Partial<Record<Stage, number>> {
  const cm = meta.custom_metadata ?? {};
  const num = (k: string): number | undefined => (cm[k] !== undefined ? Number(cm[k]) : undefined);
  const out: Partial<Record<Stage, number>> = {};
  let current = num(VAULT_STAGE_KEY.current);
  const pending = num(VAULT_STAGE_KEY.pending);
  let previous = num(VAULT_STAGE_KEY.previous);
  const newestLive = Object.keys(meta.versions)
    .map(Number)
    .filter((v) => live(meta, v))
    .sort((a, b) => b - a)[0];
  // The recorded previous version can be newer than current after a rollback; it is ours, not another tool's.
  if (newestLive !== undefined && (current === undefined || (newestLive > current && newestLive !== pending && newestLive !== previous))) {
    if (current !== undefined && live(meta, current)) previous = current;
    // A secret written by another tool has no current mark yet; its pending version is not current.
    current = current === undefined && newestLive === pending ? liveDesc(meta).find((v) => v !== pending) : newestLive;
  }
  if (live(meta, current)) out.current = current;
  if (live(meta, pending) && pending !== current) out.pending = pending;
  if (live(meta, previous) && previous !== current) out.previous = previous;
  return out;
}
