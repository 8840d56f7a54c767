import { createHash } from 'node:crypto';
import type { SecretManagerServiceClient, protos } from '@google-cloud/secret-manager';
import { ClariguardError, ExitCode, SecretNotFoundError, StoreError } from '../../errors.js';
import { ROTATED_AT_TAG } from '../journal.js';
import type { SecretRef } from '../ref.js';
import type { BackendContext, ReadOptions, ReaderReport, SecretBackend, SecretDescription, Stage, VersionInfo, WriteOptions } from '../types.js';
import { SecretValue } from '../value.js';
import { descriptionOf, isoOrNull, latestIso, networkCode, reconcileStages, safeDetail } from './shared.js';

type Env = Readonly<Record<string, string | undefined>>;
type ISecret = protos.google.cloud.secretmanager.v1.ISecret;
type ISecretVersion = protos.google.cloud.secretmanager.v1.ISecretVersion;
type Timestamp = protos.google.protobuf.ITimestamp | null | undefined;
type ClientOptions = ConstructorParameters<typeof SecretManagerServiceClient>[0];

let sdkPromise: Promise<typeof import('@google-cloud/secret-manager')> | undefined;
// gRPC and the generated client take ~0.6 s to load: only when a gcp-sm:// ref is used.
const loadSdk = () => (sdkPromise ??= import('@google-cloud/secret-manager'));

/** The stage -> version aliases clariguard keeps on a secret (`versions/current` is readable by any client). */
export const GCP_STAGE_ALIAS: Record<Stage, string> = { current: 'current', pending: 'pending', previous: 'previous' };
const REQUEST_ANNOTATION = 'clariguard--last-request';
/** Set while a pending version is being added: versions newer than this number are that pending one. */
const PENDING_AFTER_TAG = 'clariguard:pending-after';

export interface GcpSecretManagerOptions {
  env: Env;
  /** Builds the SDK client (tests pass a REST client pointed at a local emulator). */
  clientFactory?: (options: ClientOptions) => Promise<SecretManagerServiceClient> | SecretManagerServiceClient;
}

/** Tag keys with ':' (clariguard:rotation) are not valid annotation keys; they are stored with '--'. */
export function annotationKey(tag: string): string {
  return tag.startsWith('clariguard:') ? tag.replace(/:/g, '--') : tag;
}
function tagKey(annotation: string): string {
  return annotation.startsWith('clariguard--') ? annotation.replace(/--/g, ':') : annotation;
}
const ANNOTATION_KEY_RE = /^[A-Za-z0-9]([A-Za-z0-9._-]{0,61}[A-Za-z0-9])?$/;

/**
 * `gcp-sm://projects/P/secrets/S` (or `projects/P/locations/L/secrets/S` for a regional secret): Google
 * Secret Manager through `@google-cloud/secret-manager` and Application Default Credentials. Versions are
 * immutable and numbered; stages are the secret's version aliases `current`, `pending`, `previous`;
 * tags and the rotation journal are annotations. Old versions are destroyed, not kept disabled.
 */
export class GcpSecretManagerBackend implements SecretBackend {
  readonly scheme = 'gcp-sm';
  readonly capabilities = { write: true, stages: true, list: true, remove: true, readers: true };
  private readonly env: Env;
  private readonly clientFactory: (options: ClientOptions) => Promise<SecretManagerServiceClient> | SecretManagerServiceClient;
  private readonly clients = new Map<string, Promise<SecretManagerServiceClient>>();

  constructor(options: GcpSecretManagerOptions) {
    this.env = options.env;
    this.clientFactory = options.clientFactory ?? (async (o) => new (await loadSdk()).SecretManagerServiceClient(o));
  }

  static fromContext(ctx: BackendContext): GcpSecretManagerBackend {
    return new GcpSecretManagerBackend({ env: ctx.env });
  }

  // ---- SecretBackend -------------------------------------------------------------------------

  async read(ref: SecretRef, opts: ReadOptions = {}): Promise<SecretValue> {
    const name = this.secretName(ref);
    let version: string;
    if (opts.versionId) version = this.versionNumber(ref, opts.versionId);
    else {
      const stage = opts.stage ?? 'current';
      let stages: Partial<Record<Stage, number>> | undefined;
      try {
        ({ stages } = await this.state(ref, 'read'));
      } catch (e) {
        // A least-privilege reader (secretAccessor only) cannot list versions: read the alias itself.
        if ((e as ClariguardError).code !== 'permission_denied') throw e;
      }
      if (stages) {
        const v = stages[stage];
        if (v === undefined) throw new SecretNotFoundError(ref.raw, `no ${stage} version`);
        version = String(v);
      } else version = await this.aliasOrLatest(ref, GCP_STAGE_ALIAS[stage], stage === 'current');
    }
    const [res] = await this.call(ref, 'accessSecretVersion', (c) => c.accessSecretVersion({ name: `${name}/versions/${version}` }));
    const data = res.payload?.data;
    if (data === null || data === undefined) throw new SecretNotFoundError(ref.raw, `version ${version} has no payload`);
    return new SecretValue(typeof data === 'string' ? Buffer.from(data, 'base64').toString('utf8') : Buffer.from(data).toString('utf8'));
  }

  async write(ref: SecretRef, value: SecretValue, opts: WriteOptions = {}): Promise<{ versionId: string }> {
    const name = this.secretName(ref);
    const stage = opts.stage ?? 'current';
    let st = await this.state(ref, 'write', true);
    const tokenHash = opts.requestToken ? createHash('sha256').update(opts.requestToken).digest('hex').slice(0, 32) : undefined;
    let adopt: number | undefined;
    if (st && tokenHash) {
      const replay = await this.replayed(ref, st, tokenHash, value);
      if (replay?.done) return { versionId: String(replay.version) };
      adopt = replay?.version;
    }
    if (!st) {
      if (stage === 'pending') throw new SecretNotFoundError(ref.raw, 'no such secret: a pending version needs an existing secret');
      const { parent, id } = this.parentOf(ref);
      const annotations = Object.fromEntries(
        Object.entries(opts.tags ?? {})
          .filter((t): t is [string, string] => t[1] !== null)
          .map(([k, v]) => [this.checkedKey(ref, k), v]),
      );
      try {
        await this.call(ref, 'createSecret', (c) =>
          c.createSecret({
            parent,
            secretId: id,
            secret: {
              ...(parent.includes('/locations/') ? {} : { replication: { automatic: {} } }),
              labels: { 'managed-by': 'clariguard' },
              annotations,
            },
          }),
        );
      } catch (e) {
        if ((e as ClariguardError).code !== 'already_exists') throw e;
      }
      st = await this.state(ref, 'write', true);
      if (!st) throw new SecretNotFoundError(ref.raw, 'the secret vanished right after it was created');
    }
    let n = adopt ?? NaN;
    const marking = stage === 'pending' && adopt === undefined;
    if (marking) {
      // An alias can only name an existing version, and an unaliased newer version counts as current, so
      // the version is announced as pending (with the journal) before it is added: otherwise a reader, or
      // a crash, between addSecretVersion and updateSecret gets the untested token as current.
      await this.update(ref, st, null, { ...(opts.tags ?? {}), [PENDING_AFTER_TAG]: String(Math.max(0, ...st.versions.map((v) => v.n))) });
      st = await this.state(ref, 'write');
    }
    if (adopt === undefined) {
      const bytes = Buffer.from(value.reveal(), 'utf8');
      const [version] = await this.call(ref, 'addSecretVersion', (c) =>
        c.addSecretVersion({ parent: name, payload: { data: bytes, dataCrc32c: crc32c(bytes) } }),
      );
      n = Number(String(version.name ?? '').split('/').pop());
    }
    if (!Number.isInteger(n)) throw new StoreError('gcp-sm', 'addSecretVersion', `${ref.raw}: Google did not return a version number`);
    const aliases = { ...st.aliases };
    if (stage === 'pending') aliases[GCP_STAGE_ALIAS.pending] = n;
    else {
      if (st.stages.current !== undefined) aliases[GCP_STAGE_ALIAS.previous] = st.stages.current;
      else delete aliases[GCP_STAGE_ALIAS.previous];
      aliases[GCP_STAGE_ALIAS.current] = n;
    }
    const annotations: Record<string, string | null> = { ...(opts.tags ?? {}) };
    if (tokenHash) annotations[REQUEST_ANNOTATION] = `${tokenHash}:${n}`;
    if (marking) annotations[PENDING_AFTER_TAG] = null;
    await this.update(ref, st, aliases, annotations);
    return { versionId: String(n) };
  }

  async describe(ref: SecretRef): Promise<SecretDescription> {
    const st = await this.state(ref, 'describe');
    const byVersion = new Map<number, Stage[]>();
    for (const s of ['current', 'pending', 'previous'] as Stage[]) {
      const v = st.stages[s];
      if (v !== undefined) byVersion.set(v, [...(byVersion.get(v) ?? []), s]);
    }
    const versions: VersionInfo[] = st.versions
      .filter((v) => v.state !== 'DESTROYED')
      .map((v) => ({ id: String(v.n), stages: byVersion.get(v.n) ?? [], createdAt: v.createdAt }))
      .sort((a, b) => Number(a.id) - Number(b.id));
    const tags = Object.fromEntries(Object.entries(st.secret.annotations ?? {}).filter(([k]) => k !== REQUEST_ANNOTATION).map(([k, v]) => [tagKey(k), v]));
    const current = st.versions.find((v) => v.n === st.stages.current);
    const rotatedAt = latestIso(tags[ROTATED_AT_TAG], current?.createdAt);
    return descriptionOf(ref, 'gcp-sm', versions, rotatedAt, tags);
  }

  async list(prefix?: string): Promise<string[]> {
    const raw = (prefix ?? '').replace(/^gcp-sm:(\/\/)?/, '').replace(/^\/+/, '');
    const m = /^(projects\/[^/]+(?:\/locations\/[^/]+)?)(?:\/secrets\/?(.*))?$/.exec(raw);
    if (!m) {
      throw new ClariguardError('gcp-sm: list needs a project, e.g. clariguard secret list gcp-sm://projects/my-project', { exitCode: ExitCode.usage, code: 'usage' });
    }
    const [, parent, namePrefix = ''] = m;
    const pseudo: SecretRef = { scheme: 'gcp-sm', path: `${parent}/secrets/${namePrefix || '*'}`, params: {}, raw: `gcp-sm://${parent}/secrets/${namePrefix}` };
    const out: string[] = [];
    await this.call(pseudo, 'listSecrets', async (c) => {
      for await (const s of c.listSecretsAsync({ parent, ...(namePrefix ? { filter: `name:${namePrefix}` } : {}) }, { autoPaginate: false })) {
        const id = String(s.name ?? '').split('/').pop() ?? '';
        if (id.startsWith(namePrefix)) out.push(`gcp-sm://${parent}/secrets/${id}`);
      }
    });
    return out.sort();
  }

  async remove(ref: SecretRef): Promise<void> {
    await this.call(ref, 'deleteSecret', (c) => c.deleteSecret({ name: this.secretName(ref) }));
  }

  async promote(ref: SecretRef, versionId: string): Promise<void> {
    const st = await this.state(ref, 'promote');
    const n = Number(this.versionNumber(ref, versionId));
    const v = st.versions.find((x) => x.n === n);
    if (!v || v.state === 'DESTROYED') throw new SecretNotFoundError(ref.raw, `no version ${versionId}`);
    if (v.state === 'DISABLED') {
      throw new StoreError('gcp-sm', 'promote', `${ref.raw}: version ${versionId} is disabled; enable it first`, { exitCode: ExitCode.usage, code: 'usage' });
    }
    const aliases = { ...st.aliases };
    let changed = false;
    if (st.stages.current !== n) {
      if (st.stages.current !== undefined) aliases[GCP_STAGE_ALIAS.previous] = st.stages.current;
      else delete aliases[GCP_STAGE_ALIAS.previous];
      aliases[GCP_STAGE_ALIAS.current] = n;
      changed = true;
    }
    if (aliases[GCP_STAGE_ALIAS.pending] === n) {
      delete aliases[GCP_STAGE_ALIAS.pending];
      changed = true;
    }
    if (!changed) return;
    // Aliases and the rotation date change in one updateSecret, guarded by the etag.
    await this.update(ref, st, aliases, { [ROTATED_AT_TAG]: new Date().toISOString(), ...this.unannounce(st) });
  }

  async deleteVersion(ref: SecretRef, versionId: string): Promise<void> {
    const st = await this.state(ref, 'deleteVersion');
    const n = Number(this.versionNumber(ref, versionId));
    const v = st.versions.find((x) => x.n === n);
    if (!v) throw new SecretNotFoundError(ref.raw, `no version ${versionId}`);
    if (st.stages.current === n) {
      throw new StoreError('gcp-sm', 'deleteVersion', `${ref.raw}: refusing to delete the current version`, { exitCode: ExitCode.usage, code: 'usage' });
    }
    const aliases = Object.fromEntries(Object.entries(st.aliases).filter(([, x]) => x !== n));
    const unannounce = st.stages.pending === n ? this.unannounce(st) : {};
    if (Object.keys(aliases).length !== Object.keys(st.aliases).length || Object.keys(unannounce).length) await this.update(ref, st, aliases, unannounce);
    if (v.state !== 'DESTROYED') {
      await this.call(ref, 'destroySecretVersion', (c) => c.destroySecretVersion({ name: `${this.secretName(ref)}/versions/${n}` }));
    }
  }

  /** Clears the pending announcement of an interrupted write, once its version is promoted or removed. */
  private unannounce(st: SecretState): Record<string, string | null> {
    return st.secret.annotations?.[annotationKey(PENDING_AFTER_TAG)] !== undefined ? { [PENDING_AFTER_TAG]: null } : {};
  }

  async setTags(ref: SecretRef, tags: Record<string, string | null>): Promise<void> {
    const st = await this.state(ref, 'setTags');
    await this.update(ref, st, null, tags);
  }

  async readers(ref: SecretRef): Promise<ReaderReport> {
    const [policy] = await this.call(ref, 'getIamPolicy', (c) => c.getIamPolicy({ resource: this.secretName(ref) }));
    const principals: string[] = [];
    const evidence: string[] = [];
    let wildcard = false;
    for (const b of policy.bindings ?? []) {
      const role = b.role ?? '';
      const members = b.members ?? [];
      const cond = b.condition?.expression ? ` when ${safeDetail(b.condition.expression, 80)}` : '';
      evidence.push(`${role}: ${members.join(', ')}${cond}`);
      // Roles that include secretmanager.versions.access; custom roles are listed as evidence only.
      if (!/^roles\/(secretmanager\.(secretAccessor|admin)|owner|editor)$/.test(role)) continue;
      for (const m of members) {
        if (m === 'allUsers' || m === 'allAuthenticatedUsers') wildcard = true;
        if (!principals.includes(m)) principals.push(m);
      }
    }
    evidence.push('project-, folder- and organisation-level IAM bindings also grant access; they are not part of the secret policy');
    return { principals, evidence, wildcard };
  }

  // ---- internals -----------------------------------------------------------------------------

  private secretName(ref: SecretRef): string {
    if (!/^projects\/[^/]+\/(locations\/[^/]+\/)?secrets\/[A-Za-z0-9_-]{1,255}$/.test(ref.path)) {
      throw new ClariguardError(`${ref.raw}: expected gcp-sm://projects/PROJECT/secrets/NAME (or projects/P/locations/L/secrets/NAME)`, {
        exitCode: ExitCode.usage,
        code: 'usage',
      });
    }
    return ref.path;
  }

  private parentOf(ref: SecretRef): { parent: string; id: string } {
    const name = this.secretName(ref);
    const i = name.lastIndexOf('/secrets/');
    return { parent: name.slice(0, i), id: name.slice(i + '/secrets/'.length) };
  }

  private versionNumber(ref: SecretRef, id: string): string {
    if (!/^[1-9][0-9]*$/.test(id)) throw new SecretNotFoundError(ref.raw, `no version ${id} (Secret Manager versions are numbers)`);
    return id;
  }

  private checkedKey(ref: SecretRef, tag: string): string {
    const k = annotationKey(tag);
    if (!ANNOTATION_KEY_RE.test(k)) {
      throw new StoreError('gcp-sm', 'setTags', `${ref.raw}: "${tag.slice(0, 63)}" is not a valid annotation key (1-63 letters, digits, - _ . ; alphanumeric at both ends)`, {
        exitCode: ExitCode.usage,
        code: 'usage',
      });
    }
    return k;
  }

  /** The secret, its versions, its alias map and the stages reconciled with what other clients see. */
  private async state(ref: SecretRef, op: string): Promise<SecretState>;
  private async state(ref: SecretRef, op: string, allowMissing: true): Promise<SecretState | null>;
  private async state(ref: SecretRef, op: string, allowMissing = false): Promise<SecretState | null> {
    const name = this.secretName(ref);
    let secret: ISecret;
    try {
      [secret] = await this.call(ref, op === 'read' ? 'getSecret' : op, (c) => c.getSecret({ name }));
    } catch (e) {
      if (allowMissing && e instanceof SecretNotFoundError) return null;
      throw e;
    }
    const versions: SecretState['versions'] = [];
    await this.call(ref, 'listSecretVersions', async (c) => {
      for await (const v of c.listSecretVersionsAsync({ parent: name }, { autoPaginate: false })) versions.push(versionInfo(v));
    });
    const aliases: Record<string, number> = {};
    for (const [k, v] of Object.entries(secret.versionAliases ?? {})) aliases[k] = Number(v);
    const enabled = versions.filter((v) => v.state === 'ENABLED').map((v) => v.n);
    const after = Number(secret.annotations?.[annotationKey(PENDING_AFTER_TAG)] ?? NaN);
    const announced = Number.isInteger(after) ? enabled.filter((n) => n > after).sort((a, b) => b - a)[0] : undefined;
    const stages = reconcileStages(
      { current: aliases[GCP_STAGE_ALIAS.current], pending: aliases[GCP_STAGE_ALIAS.pending] ?? announced, previous: aliases[GCP_STAGE_ALIAS.previous] },
      enabled,
    );
    if (!allowMissing && stages.current === undefined) throw new SecretNotFoundError(ref.raw, 'the secret has no enabled version');
    return { secret, versions, aliases, stages };
  }

  private async aliasOrLatest(ref: SecretRef, alias: string, latestFallback: boolean): Promise<string> {
    try {
      await this.call(ref, 'accessSecretVersion', (c) => c.accessSecretVersion({ name: `${this.secretName(ref)}/versions/${alias}` }));
      return alias;
    } catch (e) {
      if (latestFallback && e instanceof SecretNotFoundError) return 'latest';
      throw e;
    }
  }

  /** A retried write (same request token) returns its version; a different value is refused. */
  private async replayed(ref: SecretRef, st: SecretState, tokenHash: string, value: SecretValue): Promise<{ version: number; done: boolean } | undefined> {
    const last = st.secret.annotations?.[REQUEST_ANNOTATION];
    let candidate: number | undefined;
    if (last?.startsWith(`${tokenHash}:`)) candidate = Number(last.slice(tokenHash.length + 1));
    else {
      // Added but not yet aliased (a crash between addSecretVersion and updateSecret): adopt it if equal.
      const newest = st.versions.filter((v) => v.state === 'ENABLED').sort((a, b) => b.n - a.n)[0];
      if (newest && !Object.values(st.aliases).includes(newest.n)) candidate = newest.n;
      else return undefined;
    }
    let same = false;
    try {
      same = (await this.read(ref, { versionId: String(candidate) })).equals(value);
    } catch (e) {
      if (!(e instanceof SecretNotFoundError)) throw e;
    }
    // An unaliased equal version is adopted: the caller finishes the interrupted alias update.
    if (same) return { version: candidate, done: Object.values(st.aliases).includes(candidate) };
    if (last?.startsWith(`${tokenHash}:`)) {
      throw new StoreError('gcp-sm', 'write', `${ref.raw}: the request token was already used for a different value`, { exitCode: ExitCode.usage, code: 'idempotency_conflict' });
    }
    return undefined;
  }

  private async update(ref: SecretRef, st: SecretState, aliases: Record<string, number> | null, annotationChanges: Record<string, string | null>): Promise<void> {
    const annotations: Record<string, string> = { ...(st.secret.annotations ?? {}) };
    for (const [k, v] of Object.entries(annotationChanges)) {
      const key = this.checkedKey(ref, k);
      if (v === null) delete annotations[key];
      else annotations[key] = v;
    }
    const paths = ['annotations', ...(aliases ? ['version_aliases'] : [])];
    await this.call(ref, 'updateSecret', (c) =>
      c.updateSecret({
        secret: {
          name: this.secretName(ref),
          annotations,
          ...(aliases ? { versionAliases: Object.fromEntries(Object.entries(aliases).map(([k, v]) => [k, String(v)])) } : {}),
          ...(st.secret.etag ? { etag: st.secret.etag } : {}),
        },
        updateMask: { paths },
      }),
    );
  }

  /** Client options: regional endpoint for locations/L refs; gcloud's endpoint override if set. */
  clientOptions(ref: SecretRef): ClientOptions {
    const region = /^projects\/[^/]+\/locations\/([^/]+)\//.exec(ref.path)?.[1];
    const override = this.env.CLOUDSDK_API_ENDPOINT_OVERRIDES_SECRETMANAGER;
    if (override) {
      const u = new URL(override);
      return {
        apiEndpoint: u.hostname,
        ...(u.port ? { port: Number(u.port) } : {}),
        ...(u.protocol === 'http:' ? { fallback: true, protocol: 'http' } : {}),
      } as ClientOptions;
    }
    return region ? { apiEndpoint: `secretmanager.${region}.rep.googleapis.com` } : {};
  }

  private client(ref: SecretRef): Promise<SecretManagerServiceClient> {
    const opts = this.clientOptions(ref);
    const key = JSON.stringify(opts);
    let c = this.clients.get(key);
    if (!c) {
      c = Promise.resolve(this.clientFactory(opts));
      this.clients.set(key, c);
    }
    return c;
  }

  private async call<T>(ref: SecretRef, op: string, fn: (c: SecretManagerServiceClient) => Promise<T>): Promise<T> {
    try {
      return await fn(await this.client(ref));
    } catch (e) {
      if (e instanceof ClariguardError) throw e;
      throw mapGcpError(e, ref, op);
    }
  }
}

interface SecretState {
  secret: ISecret;
  versions: { n: number; state: string; createdAt: string | null }[];
  aliases: Record<string, number>;
  stages: Partial<Record<Stage, number>>;
}

const STATE_NAMES: Record<number, string> = { 0: 'STATE_UNSPECIFIED', 1: 'ENABLED', 2: 'DISABLED', 3: 'DESTROYED' };

function versionInfo(v: ISecretVersion): { n: number; state: string; createdAt: string | null } {
  const state = typeof v.state === 'number' ? (STATE_NAMES[v.state] ?? String(v.state)) : String(v.state ?? 'ENABLED');
  return { n: Number(String(v.name ?? '').split('/').pop()), state, createdAt: timestampIso(v.createTime) };
}

function timestampIso(t: Timestamp | string): string | null {
  if (!t) return null;
  if (typeof t === 'string') return isoOrNull(t);
  const secs = Number(t.seconds ?? 0);
  return isoOrNull(secs * 1000 + Math.floor((t.nanos ?? 0) / 1e6));
}

/** gRPC status codes (google.rpc.Code). */
const Code = { INVALID_ARGUMENT: 3, DEADLINE_EXCEEDED: 4, NOT_FOUND: 5, ALREADY_EXISTS: 6, PERMISSION_DENIED: 7, RESOURCE_EXHAUSTED: 8, FAILED_PRECONDITION: 9, ABORTED: 10, UNAVAILABLE: 14, UNAUTHENTICATED: 16 };

const HTTP_TO_GRPC: Record<number, number> = { 400: Code.INVALID_ARGUMENT, 401: Code.UNAUTHENTICATED, 403: Code.PERMISSION_DENIED, 404: Code.NOT_FOUND, 409: Code.ABORTED, 429: Code.RESOURCE_EXHAUSTED, 503: Code.UNAVAILABLE, 504: Code.DEADLINE_EXCEEDED };

function mapGcpError(e: unknown, ref: SecretRef, op: string): ClariguardError {
  const err = e as { code?: number | string; message?: string; details?: string };
  let code = typeof err?.code === 'number' ? err.code : undefined;
  let message = err?.details || err?.message?.replace(/^\d+\s+[A-Z_]+:\s*/, '') || '';
  // In HTTP/1.1 (fallback) mode errors can surface with the HTTP status and the JSON error body.
  let status: string | undefined;
  try {
    const body = JSON.parse(err?.message ?? '') as { error?: { message?: string; status?: string } };
    status = body.error?.status;
    message = body.error?.message ?? message;
  } catch {
    // not a JSON error body
  }
  if (status && status in Code) code = Code[status as keyof typeof Code];
  else if (code !== undefined && code >= 100) code = HTTP_TO_GRPC[code] ?? code;
  const fail = (detail: string, exitCode: number, c: string): StoreError => new StoreError('gcp-sm', op, `${ref.raw}: ${detail}`, { exitCode, code: c, cause: e });
  const detail = safeDetail(message);
  switch (code) {
    case Code.NOT_FOUND:
      return new SecretNotFoundError(ref.raw, /versions?\//i.test(detail) || op === 'accessSecretVersion' ? `no such version in Google Secret Manager` : 'no such secret in Google Secret Manager');
    case Code.PERMISSION_DENIED:
      return fail(`permission denied (the caller needs the IAM permission for ${op}, e.g. roles/secretmanager.secretAccessor to read)`, ExitCode.noPermission, 'permission_denied');
    case Code.UNAUTHENTICATED:
      return fail('Google rejected or found no credentials (run `gcloud auth application-default login` or set GOOGLE_APPLICATION_CREDENTIALS)', ExitCode.noPermission, 'permission_denied');
    case Code.ALREADY_EXISTS:
      return fail('the secret already exists', ExitCode.usage, 'already_exists');
    case Code.ABORTED:
      return fail('the secret changed while updating it (etag mismatch); try again', ExitCode.tempFail, 'conflict');
    case Code.RESOURCE_EXHAUSTED:
      return fail('quota exceeded or throttled by Google; try again later', ExitCode.tempFail, 'throttled');
    case Code.FAILED_PRECONDITION:
      return fail(`the version is disabled or destroyed (${detail})`, ExitCode.noInput, 'secret_not_found');
    case Code.UNAVAILABLE:
    case Code.DEADLINE_EXCEEDED:
      return fail('Google Secret Manager is unavailable or did not answer in time; try again', ExitCode.unavailable, 'unavailable');
    case Code.INVALID_ARGUMENT:
      return fail(`Google rejected the request (${detail})`, ExitCode.unavailable, 'store_error');
  }
  if (/Could not load the default credentials|Unable to detect a Project Id/i.test(err?.message ?? '')) {
    return fail('no Google credentials found (run `gcloud auth application-default login` or set GOOGLE_APPLICATION_CREDENTIALS)', ExitCode.config, 'config');
  }
  const net = networkCode(e);
  if (net) return fail(`cannot reach Google Secret Manager (${net})`, ExitCode.unavailable, 'unavailable');
  return fail(`request failed${code !== undefined ? ` (gRPC code ${code})` : ''}${detail ? `: ${detail}` : ''}`, ExitCode.unavailable, 'store_error');
}

// CRC32C (Castagnoli) of the payload: Secret Manager verifies it, so corruption in transit is refused.
const CRC_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0x82f63b78 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();
export function crc32c(buf: Uint8Array): number {
  let c = 0xffffffff;
  for (const b of buf) c = CRC_TABLE[(c ^ b) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}
