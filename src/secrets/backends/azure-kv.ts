import { createHash } from 'node:crypto';
import type { TokenCredential } from '@azure/identity';
import type { SecretClient, SecretClientOptions, SecretProperties } from '@azure/keyvault-secrets';
import { ClariguardError, ExitCode, SecretNotFoundError, StoreError } from '../../errors.js';
import { ROTATED_AT_TAG } from '../journal.js';
import type { SecretRef } from '../ref.js';
import type { BackendContext, ReadOptions, SecretBackend, SecretDescription, Stage, VersionInfo, WriteOptions } from '../types.js';
import { SecretValue } from '../value.js';
import { descriptionOf, isoOrNull, latestIso, networkCode, safeDetail } from './shared.js';

type Env = Readonly<Record<string, string | undefined>>;

/** Per-version tag holding clariguard's stage (Key Vault has no labels; every version has its own tags). */
export const AZURE_STAGE_TAG = 'clariguard-stage';
const REQUEST_TAG = 'clariguard-request';
const OWN_TAGS = new Set([AZURE_STAGE_TAG, REQUEST_TAG]);

let sdkPromise: Promise<[typeof import('@azure/keyvault-secrets'), typeof import('@azure/identity')]> | undefined;
// Loaded on first use only: ~0.6 s of module loading that local: users should not pay for.
const loadSdk = () => (sdkPromise ??= Promise.all([import('@azure/keyvault-secrets'), import('@azure/identity')]));

export interface AzureKeyVaultOptions {
  env: Env;
  /** Defaults to DefaultAzureCredential (env service principal, workload/managed identity, Azure CLI, …). */
  credential?: TokenCredential;
  /** Extra SecretClient options (tests pass an httpClient that routes to a local emulator). */
  clientOptions?: SecretClientOptions;
}

interface VersionProps {
  id: string;
  enabled: boolean;
  createdOn: string | null;
  tags: Record<string, string>;
}

/**
 * `azure-kv://VAULT/NAME`: Azure Key Vault secrets through `@azure/keyvault-secrets` and
 * `@azure/identity`'s DefaultAzureCredential. VAULT is the vault name (`https://VAULT.vault.azure.net`) or a
 * full host name for other clouds. Every write is a new version; clariguard's stages are a per-version tag
 * (`clariguard-stage`), secret tags are the newest version's tags, and old versions are disabled (Key Vault
 * cannot delete a single version).
 */
export class AzureKeyVaultBackend implements SecretBackend {
  readonly scheme = 'azure-kv';
  readonly capabilities = { write: true, stages: true, list: true, remove: true, readers: false };
  private readonly env: Env;
  private readonly credential?: TokenCredential;
  private readonly clientOptions?: SecretClientOptions;
  private readonly clients = new Map<string, Promise<SecretClient>>();

  constructor(options: AzureKeyVaultOptions) {
    this.env = options.env;
    this.credential = options.credential;
    this.clientOptions = options.clientOptions;
  }

  static fromContext(ctx: BackendContext): AzureKeyVaultBackend {
    return new AzureKeyVaultBackend({ env: ctx.env });
  }

  // ---- SecretBackend -------------------------------------------------------------------------

  async read(ref: SecretRef, opts: ReadOptions = {}): Promise<SecretValue> {
    const { name } = this.parse(ref);
    let version = opts.versionId;
    if (!version) {
      const stage = opts.stage ?? 'current';
      const versions = await this.versions(ref, 'read');
      version = stagesOf(versions)[stage]?.id;
      if (!version) throw new SecretNotFoundError(ref.raw, `no ${stage} version`);
    }
    const s = await this.call(ref, 'getSecret', (c) => c.getSecret(name, { version }));
    if (s.value === undefined) throw new SecretNotFoundError(ref.raw, 'the version holds no value');
    return new SecretValue(s.value);
  }

  async write(ref: SecretRef, value: SecretValue, opts: WriteOptions = {}): Promise<{ versionId: string }> {
    const { name } = this.parse(ref);
    const stage = opts.stage ?? 'current';
    const versions = await this.versions(ref, 'write', true);
    const stages = stagesOf(versions);
    const tokenTag = opts.requestToken ? createHash('sha256').update(opts.requestToken).digest('hex').slice(0, 32) : undefined;
    if (tokenTag) {
      const prior = versions.find((v) => v.tags[REQUEST_TAG] === tokenTag);
      if (prior) {
        const existing = await this.call(ref, 'getSecret', (c) => c.getSecret(name, { version: prior.id }));
        if (existing.value !== undefined && new SecretValue(existing.value).equals(value)) return { versionId: prior.id };
        throw new StoreError('azure-kv', 'write', `${ref.raw}: the request token was already used for a different value`, { exitCode: ExitCode.usage, code: 'idempotency_conflict' });
      }
    }
    if (stage === 'pending' && versions.length === 0) throw new SecretNotFoundError(ref.raw, 'no such secret: a pending version needs an existing secret');
    // The secret's tags travel with each new version (Key Vault shows the newest version's tags).
    const carried = { ...secretTags(versions) };
    for (const [k, v] of Object.entries(opts.tags ?? {})) {
      if (v === null) delete carried[k];
      else carried[k] = v;
    }
    const tags: Record<string, string> = { ...carried, [AZURE_STAGE_TAG]: stage, ...(tokenTag ? { [REQUEST_TAG]: tokenTag } : {}) };
    checkTags(ref, tags);
    const created = await this.call(ref, 'setSecret', (c) => c.setSecret(name, value.reveal(), { tags, contentType: 'text/plain' }));
    const id = created.properties.version;
    if (!id) throw new StoreError('azure-kv', 'setSecret', `${ref.raw}: Key Vault did not return a version id`);
    if (stage === 'pending') {
      if (stages.pending) await this.retag(ref, stages.pending.id, null);
    } else {
      if (stages.current) await this.retag(ref, stages.current.id, 'previous');
      if (stages.previous) await this.retag(ref, stages.previous.id, null);
    }
    return { versionId: id };
  }

  async describe(ref: SecretRef): Promise<SecretDescription> {
    const versions = await this.versions(ref, 'describe');
    const stages = stagesOf(versions);
    const byId = new Map<string, Stage[]>();
    for (const s of ['current', 'pending', 'previous'] as Stage[]) {
      const v = stages[s];
      if (v) byId.set(v.id, [...(byId.get(v.id) ?? []), s]);
    }
    const out: VersionInfo[] = versions
      .filter((v) => v.enabled)
      .sort((a, b) => (a.createdOn ?? '').localeCompare(b.createdOn ?? ''))
      .map((v) => ({ id: v.id, stages: byId.get(v.id) ?? [], createdAt: v.createdOn }));
    const tags = secretTags(versions);
    const rotatedAt = latestIso(tags[ROTATED_AT_TAG], stages.current?.createdOn);
    return descriptionOf(ref, 'azure-kv', out, rotatedAt, tags);
  }

  async list(prefix?: string): Promise<string[]> {
    const raw = (prefix ?? '').replace(/^azure-kv:(\/\/)?/, '').replace(/^\/+/, '');
    const slash = raw.indexOf('/');
    const vault = slash < 0 ? raw : raw.slice(0, slash);
    const namePrefix = slash < 0 ? '' : raw.slice(slash + 1);
    if (!vault) throw new ClariguardError('azure-kv: list needs a vault, e.g. clariguard secret list azure-kv://my-vault', { exitCode: ExitCode.usage, code: 'usage' });
    const pseudo: SecretRef = { scheme: 'azure-kv', path: `${vault}/${namePrefix || 'x'}`, params: {}, raw: `azure-kv://${vault}/${namePrefix}` };
    const names: string[] = [];
    await this.call(pseudo, 'listPropertiesOfSecrets', async (c) => {
      for await (const p of c.listPropertiesOfSecrets()) if (!p.managed && p.name.startsWith(namePrefix)) names.push(p.name);
    });
    return names.sort().map((n) => `azure-kv://${vault}/${n}`);
  }

  async remove(ref: SecretRef): Promise<void> {
    const { name } = this.parse(ref);
    // Soft delete: recoverable for the vault's retention period (purge protection is the vault's choice).
    await this.call(ref, 'beginDeleteSecret', async (c) => {
      const poller = await c.beginDeleteSecret(name, { intervalInMs: 500 });
      await poller.pollUntilDone();
    });
  }

  async promote(ref: SecretRef, versionId: string): Promise<void> {
    const versions = await this.versions(ref, 'promote');
    const target = versions.find((v) => v.id === versionId);
    if (!target) throw new SecretNotFoundError(ref.raw, `no version ${versionId}`);
    const stages = stagesOf(versions);
    if (stages.current?.id === versionId && target.tags[AZURE_STAGE_TAG] === 'current') return;
    // Order matters for a crash in between: the new current is marked first, so readers never see none.
    await this.retag(ref, versionId, 'current', {}, true);
    if (stages.current && stages.current.id !== versionId) await this.retag(ref, stages.current.id, 'previous');
    if (stages.previous && stages.previous.id !== versionId) await this.retag(ref, stages.previous.id, null);
    // Secret-level, like every other tag: on the newest version (a rollback can then overwrite it).
    await this.setTags(ref, { [ROTATED_AT_TAG]: new Date().toISOString() });
  }

  async deleteVersion(ref: SecretRef, versionId: string): Promise<void> {
    const versions = await this.versions(ref, 'deleteVersion');
    const v = versions.find((x) => x.id === versionId);
    if (!v) throw new SecretNotFoundError(ref.raw, `no version ${versionId}`);
    if (stagesOf(versions).current?.id === versionId) {
      throw new StoreError('azure-kv', 'deleteVersion', `${ref.raw}: refusing to delete the current version`, { exitCode: ExitCode.usage, code: 'usage' });
    }
    // Key Vault cannot delete one version: disable it so it can no longer be read.
    await this.retag(ref, versionId, null, {}, false);
  }

  async setTags(ref: SecretRef, tags: Record<string, string | null>): Promise<void> {
    for (const k of Object.keys(tags)) {
      if (OWN_TAGS.has(k)) throw new StoreError('azure-kv', 'setTags', `${ref.raw}: ${k} is reserved for clariguard`, { exitCode: ExitCode.usage, code: 'usage' });
    }
    const versions = await this.versions(ref, 'setTags');
    const newest = newestOf(versions);
    if (!newest) throw new SecretNotFoundError(ref.raw);
    const merged = { ...newest.tags };
    for (const [k, v] of Object.entries(tags)) {
      if (v === null) delete merged[k];
      else merged[k] = v;
    }
    checkTags(ref, merged);
    const { name } = this.parse(ref);
    await this.call(ref, 'updateSecretProperties', (c) => c.updateSecretProperties(name, newest.id, { tags: merged }));
  }

  // ---- internals -----------------------------------------------------------------------------

  private parse(ref: SecretRef): { vaultUrl: string; name: string } {
    const m = /^([^/]+)\/([0-9A-Za-z-]{1,127})$/.exec(ref.path);
    if (!m) {
      throw new ClariguardError(`${ref.raw}: expected azure-kv://VAULT/NAME (secret names use letters, digits and -)`, { exitCode: ExitCode.usage, code: 'usage' });
    }
    const host = m[1].includes('.') ? m[1] : `${m[1]}.vault.azure.net`;
    if (!/^[A-Za-z0-9.-]+(:\d+)?$/.test(host)) throw new ClariguardError(`${ref.raw}: invalid vault name`, { exitCode: ExitCode.usage, code: 'usage' });
    return { vaultUrl: `https://${host}`, name: m[2] };
  }

  private async retag(ref: SecretRef, id: string, stage: Stage | null, extra: Record<string, string> = {}, enabled?: boolean): Promise<void> {
    const { name } = this.parse(ref);
    const versions = await this.versions(ref, 'updateSecretProperties', true);
    const v = versions.find((x) => x.id === id);
    const tags = { ...(v?.tags ?? {}), ...extra };
    if (stage) tags[AZURE_STAGE_TAG] = stage;
    else delete tags[AZURE_STAGE_TAG];
    checkTags(ref, tags);
    await this.call(ref, 'updateSecretProperties', (c) => c.updateSecretProperties(name, id, { tags, ...(enabled !== undefined ? { enabled } : {}) }));
  }

  private async versions(ref: SecretRef, op: string, allowMissing = false): Promise<VersionProps[]> {
    const { name } = this.parse(ref);
    const out: VersionProps[] = [];
    try {
      await this.call(ref, op, async (c) => {
        for await (const p of c.listPropertiesOfSecretVersions(name)) out.push(propsOf(p));
      });
    } catch (e) {
      if (allowMissing && e instanceof SecretNotFoundError) return [];
      throw e;
    }
    if (!allowMissing && !out.some((v) => v.enabled)) throw new SecretNotFoundError(ref.raw, out.length ? 'every version is disabled' : 'no such secret in Azure Key Vault');
    return out;
  }

  private client(ref: SecretRef): Promise<SecretClient> {
    const { vaultUrl } = this.parse(ref);
    let c = this.clients.get(vaultUrl);
    if (!c) {
      c = loadSdk().then(([kv, identity]) => {
        const credential = this.credential ?? new identity.DefaultAzureCredential();
        return new kv.SecretClient(vaultUrl, credential, { retryOptions: { maxRetries: 4 }, ...this.clientOptions });
      });
      this.clients.set(vaultUrl, c);
    }
    return c;
  }

  private async call<T>(ref: SecretRef, op: string, fn: (c: SecretClient) => Promise<T>): Promise<T> {
    try {
      return await fn(await this.client(ref));
    } catch (e) {
      if (e instanceof ClariguardError) throw e;
      throw mapAzureError(e, ref, op);
    }
  }
}

function propsOf(p: SecretProperties): VersionProps {
  return { id: p.version ?? '', enabled: p.enabled !== false, createdOn: isoOrNull(p.createdOn ?? null), tags: { ...(p.tags ?? {}) } };
}

function newestOf(versions: VersionProps[]): VersionProps | undefined {
  return [...versions].sort((a, b) => (b.createdOn ?? '').localeCompare(a.createdOn ?? ''))[0];
}

/** Stage -> version. Untagged secrets (written by other tools) have their newest enabled version current. */
function stagesOf(versions: VersionProps[]): Partial<Record<Stage, VersionProps>> {
  const enabled = versions.filter((v) => v.enabled);
  const out: Partial<Record<Stage, VersionProps>> = {};
  for (const s of ['current', 'pending', 'previous'] as Stage[]) {
    const tagged = enabled.filter((v) => v.tags[AZURE_STAGE_TAG] === s).sort((a, b) => (b.createdOn ?? '').localeCompare(a.createdOn ?? ''));
    if (tagged[0]) out[s] = tagged[0];
  }
  // A newer untagged version was written by another tool (portal, az keyvault secret set): it is what
  // every other reader gets, so it is current.
  const newest = newestOf(enabled);
  if (newest && !newest.tags[AZURE_STAGE_TAG] && (!out.current || (newest.createdOn ?? '') > (out.current.createdOn ?? ''))) {
    if (out.current) out.previous = out.current;
    out.current = newest;
  }
  // Written by another tool and now being rotated: the newest version is our tagged pending one, and the
  // newest untagged version is still what the secret's readers should get.
  if (!out.current) {
    out.current = enabled.filter((v) => !v.tags[AZURE_STAGE_TAG]).sort((a, b) => (b.createdOn ?? '').localeCompare(a.createdOn ?? ''))[0];
    if (!out.current) delete out.current;
  }
  return out;
}

function secretTags(versions: VersionProps[]): Record<string, string> {
  const newest = newestOf(versions);
  return Object.fromEntries(Object.entries(newest?.tags ?? {}).filter(([k]) => !OWN_TAGS.has(k)));
}

function checkTags(ref: SecretRef, tags: Record<string, string>): void {
  if (Object.keys(tags).length > 15) {
    throw new StoreError('azure-kv', 'setTags', `${ref.raw}: Key Vault allows at most 15 tags per version`, { exitCode: ExitCode.usage, code: 'usage' });
  }
  for (const [k, v] of Object.entries(tags)) {
    if (k.length > 512 || v.length > 256) {
      throw new StoreError('azure-kv', 'setTags', `${ref.raw}: tag ${k.slice(0, 40)} is too long (names up to 512, values up to 256 characters)`, { exitCode: ExitCode.usage, code: 'usage' });
    }
  }
}

function mapAzureError(e: unknown, ref: SecretRef, op: string): ClariguardError {
  const err = e as { name?: string; statusCode?: number; code?: string; message?: string };
  const fail = (detail: string, exitCode: number, code: string): StoreError => new StoreError('azure-kv', op, `${ref.raw}: ${detail}`, { exitCode, code, cause: e });
  if (err?.name === 'CredentialUnavailableError' || err?.name === 'AggregateAuthenticationError') {
    return fail('no Azure credentials found (tried environment, workload identity, managed identity, Azure CLI, …): run `az login` or set AZURE_CLIENT_ID/AZURE_TENANT_ID/AZURE_CLIENT_SECRET', ExitCode.config, 'config');
  }
  if (err?.name === 'AuthenticationError') return fail('Azure AD rejected the credentials', ExitCode.noPermission, 'permission_denied');
  switch (err?.statusCode) {
    case 404:
      return new SecretNotFoundError(ref.raw, err.code === 'SecretNotFound' || !err.code ? 'no such secret or version in Azure Key Vault' : `not found (${safeDetail(err.code)})`);
    case 401:
      return fail('Key Vault rejected the access token (401)', ExitCode.noPermission, 'permission_denied');
    case 403:
      return fail(`access denied (${safeDetail(err.code) || 'Forbidden'}: the identity needs an RBAC role such as Key Vault Secrets User to read, Key Vault Secrets Officer to write, or an access policy)`, ExitCode.noPermission, 'permission_denied');
    case 409:
      return fail('the secret is deleted but recoverable: recover it (az keyvault secret recover) or purge it first', ExitCode.usage, 'conflict');
    case 429:
      return fail('throttled by Key Vault; try again later', ExitCode.tempFail, 'throttled');
  }
  if (err?.statusCode && err.statusCode >= 500) return fail(`Key Vault service error (HTTP ${err.statusCode})`, ExitCode.unavailable, 'unavailable');
  const net = networkCode(e);
  if (net) return fail(`cannot reach the vault (${net})`, ExitCode.unavailable, 'unavailable');
  return fail(`request failed${err?.statusCode ? ` (HTTP ${err.statusCode})` : ''}${err?.code ? ` ${safeDetail(err.code)}` : ''}`, ExitCode.unavailable, 'store_error');
}
