import { createHash, randomUUID } from 'node:crypto';
import type {
  DescribeSecretCommandOutput,
  SecretsManagerClient,
  SecretVersionsListEntry,
} from '@aws-sdk/client-secrets-manager';
import { ClariguardError, ConfigError, ExitCode, SecretNotFoundError, StoreError } from '../../errors.js';
import { ROTATED_AT_TAG } from '../journal.js';
import type { SecretRef } from '../ref.js';
import type {
  BackendContext,
  ReadOptions,
  ReaderReport,
  SecretBackend,
  SecretDescription,
  Stage,
  VersionInfo,
  WriteOptions,
} from '../types.js';
import { SecretValue } from '../value.js';
import { descriptionOf, displayUrl, isoOrNull, latestIso, networkCode, safeDetail } from './shared.js';

type Env = Readonly<Record<string, string | undefined>>;
type Sdk = typeof import('@aws-sdk/client-secrets-manager');

// Loaded on first use: every CLI start would otherwise pay for the SDK even for local: refs.
let sdkPromise: Promise<Sdk> | undefined;
function loadSdk(): Promise<Sdk> {
  return (sdkPromise ??= import('@aws-sdk/client-secrets-manager'));
}

export const AWS_STAGE_LABELS: Record<Stage, string> = { current: 'AWSCURRENT', pending: 'AWSPENDING', previous: 'AWSPREVIOUS' };
const STAGE_OF_LABEL: Record<string, Stage> = { AWSCURRENT: 'current', AWSPENDING: 'pending', AWSPREVIOUS: 'previous' };

/** The client settings one ref resolves to; tests inject a factory to observe them. */
export interface AwsClientConfig {
  region?: string;
  profile?: string;
  endpoint?: string;
  maxAttempts: number;
  credentials?: { accessKeyId: string; secretAccessKey: string; sessionToken?: string };
}

export interface AwsSecretsManagerOptions {
  env: Env;
  /** Replaces SDK client construction (tests); defaults to `new SecretsManagerClient(config)`. */
  clientFactory?: (config: AwsClientConfig, sdk: Sdk) => SecretsManagerClient;
}

/**
 * ClientRequestToken must be 32–64 characters. Tokens that already fit (UUIDs) are used as is; others
 * (e.g. `create-once:local:…`) are hashed into a UUID-shaped token, deterministic so retries stay idempotent.
 */
export function awsRequestToken(token: string): string {
  if (/^[A-Za-z0-9-]{32,64}$/.test(token)) return token;
  const h = createHash('sha256').update(token).digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20, 32)}`;
}

/**
 * `aws-sm://NAME?region=R&profile=P[#JSONKEY]`: AWS Secrets Manager through the official SDK and the default
 * credential chain. Stages are the AWS staging labels; the SDK's standard retry strategy (exponential backoff
 * with jitter) absorbs throttling and 5xx.
 */
export class AwsSecretsManagerBackend implements SecretBackend {
  readonly scheme = 'aws-sm';
  readonly capabilities = { write: true, stages: true, list: true, remove: true, readers: true };
  private readonly env: Env;
  private readonly clientFactory: (config: AwsClientConfig, sdk: Sdk) => SecretsManagerClient;
  private readonly clients = new Map<string, SecretsManagerClient>();

  constructor(options: AwsSecretsManagerOptions) {
    this.env = options.env;
    this.clientFactory = options.clientFactory ?? ((c, sdk) => new sdk.SecretsManagerClient(c));
  }

  static fromContext(ctx: BackendContext): AwsSecretsManagerBackend {
    return new AwsSecretsManagerBackend({ env: ctx.env });
  }

  // ---- SecretBackend -------------------------------------------------------------------------

  async read(ref: SecretRef, opts: ReadOptions = {}): Promise<SecretValue> {
    const stage = opts.versionId ? undefined : AWS_STAGE_LABELS[opts.stage ?? 'current'];
    const out = await this.call(ref, 'GetSecretValue', (c, sdk) =>
      c.send(new sdk.GetSecretValueCommand({ SecretId: this.secretId(ref), VersionId: opts.versionId, VersionStage: stage })),
    );
    let text: string;
    if (out.SecretString !== undefined) text = out.SecretString;
    else if (out.SecretBinary !== undefined) text = Buffer.from(out.SecretBinary).toString('utf8');
    else throw new SecretNotFoundError(ref.raw, 'the version holds no value');
    if (ref.fragment === undefined) return new SecretValue(text);
    // `#KEY` selects one key of a JSON secret (the console's "key/value" secrets). Register the whole value
    // first so even an error below cannot print it unmasked.
    new SecretValue(text);
    let doc: unknown;
    try {
      doc = JSON.parse(text);
    } catch {
      throw new StoreError('aws-sm', 'GetSecretValue', `${ref.raw}: the secret is not a JSON object, so #${ref.fragment} cannot select a key`, {
        exitCode: ExitCode.dataError,
        code: 'bad_input',
      });
    }
    const v = doc && typeof doc === 'object' ? (doc as Record<string, unknown>)[ref.fragment] : undefined;
    if (v === undefined || v === null) throw new SecretNotFoundError(ref.raw, `the JSON secret has no key "${ref.fragment}"`);
    return new SecretValue(typeof v === 'string' ? v : JSON.stringify(v));
  }

  async write(ref: SecretRef, value: SecretValue, opts: WriteOptions = {}): Promise<{ versionId: string }> {
    this.refuseFragment(ref, 'write');
    const stage = opts.stage ?? 'current';
    // Our own token even without opts.requestToken: SDK retries of one call then reuse it, so a retried
    // write after a lost response cannot create a second version.
    const token = opts.requestToken ? awsRequestToken(opts.requestToken) : randomUUID();
    const put = () =>
      this.call(ref, 'PutSecretValue', (c, sdk) =>
        c.send(
          new sdk.PutSecretValueCommand({
            SecretId: this.secretId(ref),
            SecretString: value.reveal(),
            ClientRequestToken: token,
            ...(stage === 'pending' ? { VersionStages: ['AWSPENDING'] } : {}),
          }),
        ),
      );
    let versionId: string;
    let tagged = false;
    try {
      versionId = (await put()).VersionId ?? token;
    } catch (e) {
      if (!(e instanceof SecretNotFoundError)) throw e;
      if (stage === 'pending') throw new SecretNotFoundError(ref.raw, 'no such secret: a pending version needs an existing secret');
      const tags = Object.entries(opts.tags ?? {})
        .filter((t): t is [string, string] => t[1] !== null)
        .map(([Key, Value]) => ({ Key, Value }));
      try {
        const out = await this.call(ref, 'CreateSecret', (c, sdk) =>
          c.send(
            new sdk.CreateSecretCommand({
              Name: this.secretId(ref),
              SecretString: value.reveal(),
              ClientRequestToken: token,
              Description: 'Managed by clariguard',
              ...(tags.length ? { Tags: tags } : {}),
            }),
          ),
        );
        versionId = out.VersionId ?? token;
        tagged = true;
      } catch (e2) {
        // Created concurrently by someone else: write a new version on top of theirs.
        if ((e2 as ClariguardError).code !== 'already_exists') throw e2;
        versionId = (await put()).VersionId ?? token;
      }
    }
    if (opts.tags && (!tagged || Object.values(opts.tags).some((v) => v === null))) await this.setTags(ref, opts.tags);
    return { versionId };
  }

  async describe(ref: SecretRef): Promise<SecretDescription> {
    const d = await this.describeRaw(ref, 'DescribeSecret');
    const created = await this.versionDates(ref);
    const tags = Object.fromEntries((d.Tags ?? []).filter((t) => t.Key !== undefined).map((t) => [t.Key!, t.Value ?? '']));
    const versions: VersionInfo[] = Object.entries(d.VersionIdsToStages ?? {}).map(([id, labels]) => ({
      id,
      stages: labels.map((l) => STAGE_OF_LABEL[l]).filter((s): s is Stage => s !== undefined),
      createdAt: created.get(id) ?? null,
    }));
    versions.sort((a, b) => (a.createdAt ?? '').localeCompare(b.createdAt ?? ''));
    const current = versions.find((v) => v.stages.includes('current'));
    // The latest of the three: a Lambda rotation, a clariguard promote, or a plain write of a new current
    // each make the current version current at that moment.
    const rotatedAt = latestIso(d.LastRotatedDate, tags[ROTATED_AT_TAG], current?.createdAt);
    return descriptionOf(ref, 'aws-sm', versions, rotatedAt, tags);
  }

  async list(prefix?: string): Promise<string[]> {
    // listSecrets() hands us everything after `aws-sm://`, query string included.
    const raw = (prefix ?? '').replace(/^aws-sm:(\/\/)?/, '');
    const q = raw.indexOf('?');
    const params = q >= 0 ? Object.fromEntries(new URLSearchParams(raw.slice(q + 1))) : {};
    const namePrefix = (q >= 0 ? raw.slice(0, q) : raw).replace(/^\/+/, '');
    const pseudo: SecretRef = { scheme: 'aws-sm', path: namePrefix || '*', params, raw: `aws-sm://${namePrefix}` };
    const query = Object.keys(params).length ? `?${new URLSearchParams(params).toString()}` : '';
    const names: string[] = [];
    await this.call(pseudo, 'ListSecrets', async (client, sdk) => {
      const pages = sdk.paginateListSecrets(
        { client, pageSize: 100 },
        namePrefix ? { Filters: [{ Key: 'name', Values: [namePrefix] }] } : {},
      );
      for await (const page of pages) for (const s of page.SecretList ?? []) if (s.Name && !s.DeletedDate) names.push(s.Name);
    });
    return names
      .filter((n) => !namePrefix || n.startsWith(namePrefix))
      .sort()
      .map((n) => `aws-sm://${n}${query}`);
  }

  async remove(ref: SecretRef): Promise<void> {
    this.refuseFragment(ref, 'remove');
    const days = this.recoveryWindowDays();
    await this.call(ref, 'DeleteSecret', (c, sdk) =>
      c.send(
        new sdk.DeleteSecretCommand({
          SecretId: this.secretId(ref),
          ...(days === 0 ? { ForceDeleteWithoutRecovery: true } : { RecoveryWindowInDays: days }),
        }),
      ),
    );
  }

  async promote(ref: SecretRef, versionId: string): Promise<void> {
    this.refuseFragment(ref, 'promote');
    const d = await this.describeRaw(ref, 'DescribeSecret');
    const stages = d.VersionIdsToStages ?? {};
    const current = Object.keys(stages).find((id) => stages[id].includes('AWSCURRENT'));
    if (!(versionId in stages) && !(await this.versionDates(ref, true)).has(versionId)) {
      throw new SecretNotFoundError(ref.raw, `no version ${versionId}`);
    }
    let changed = false;
    if (current !== versionId) {
      // One call: AWS moves AWSPREVIOUS to the version AWSCURRENT leaves.
      await this.call(ref, 'UpdateSecretVersionStage', (c, sdk) =>
        c.send(
          new sdk.UpdateSecretVersionStageCommand({
            SecretId: this.secretId(ref),
            VersionStage: 'AWSCURRENT',
            MoveToVersionId: versionId,
            ...(current ? { RemoveFromVersionId: current } : {}),
          }),
        ),
      );
      changed = true;
    }
    if (stages[versionId]?.includes('AWSPENDING')) {
      await this.call(ref, 'UpdateSecretVersionStage', (c, sdk) =>
        c.send(new sdk.UpdateSecretVersionStageCommand({ SecretId: this.secretId(ref), VersionStage: 'AWSPENDING', RemoveFromVersionId: versionId })),
      );
      changed = true;
    }
    // AWS sets LastRotatedDate only for its own (Lambda) rotations; record ours in a tag.
    if (changed) await this.setTags(ref, { [ROTATED_AT_TAG]: new Date().toISOString() });
  }

  async deleteVersion(ref: SecretRef, versionId: string): Promise<void> {
    this.refuseFragment(ref, 'deleteVersion');
    const d = await this.describeRaw(ref, 'DescribeSecret');
    const labels = d.VersionIdsToStages?.[versionId];
    if (!labels) {
      // Already unlabelled (deprecated, AWS removes it) or unknown.
      if ((await this.versionDates(ref, true)).has(versionId)) return;
      throw new SecretNotFoundError(ref.raw, `no version ${versionId}`);
    }
    if (labels.includes('AWSCURRENT')) {
      throw new StoreError('aws-sm', 'deleteVersion', `${ref.raw}: refusing to delete the current version`, { exitCode: ExitCode.usage, code: 'usage' });
    }
    // Secrets Manager cannot delete a version; removing every staging label deprecates it and AWS deletes
    // deprecated versions itself.
    for (const label of labels) {
      await this.call(ref, 'UpdateSecretVersionStage', (c, sdk) =>
        c.send(new sdk.UpdateSecretVersionStageCommand({ SecretId: this.secretId(ref), VersionStage: label, RemoveFromVersionId: versionId })),
      );
    }
  }

  async setTags(ref: SecretRef, tags: Record<string, string | null>): Promise<void> {
    const set = Object.entries(tags).filter((t): t is [string, string] => t[1] !== null);
    const unset = Object.entries(tags).filter(([, v]) => v === null).map(([k]) => k);
    for (const [k, v] of set) {
      if (k.length > 128 || v.length > 256) {
        throw new StoreError('aws-sm', 'TagResource', `${ref.raw}: tag ${k.slice(0, 40)} is too long (keys up to 128, values up to 256 characters)`, {
          exitCode: ExitCode.usage,
          code: 'usage',
        });
      }
    }
    if (set.length) {
      await this.call(ref, 'TagResource', (c, sdk) =>
        c.send(new sdk.TagResourceCommand({ SecretId: this.secretId(ref), Tags: set.map(([Key, Value]) => ({ Key, Value })) })),
      );
    }
    if (unset.length) {
      await this.call(ref, 'UntagResource', (c, sdk) => c.send(new sdk.UntagResourceCommand({ SecretId: this.secretId(ref), TagKeys: unset })));
    }
  }

  async readers(ref: SecretRef): Promise<ReaderReport> {
    const out = await this.call(ref, 'GetResourcePolicy', (c, sdk) => c.send(new sdk.GetResourcePolicyCommand({ SecretId: this.secretId(ref) })));
    const account = /^arn:aws[a-z-]*:secretsmanager:[^:]*:(\d{12}):/.exec(out.ARN ?? '')?.[1];
    return readersFromPolicy(out.ResourcePolicy, account);
  }

  // ---- internals -----------------------------------------------------------------------------

  private secretId(ref: SecretRef): string {
    return ref.path;
  }

  private refuseFragment(ref: SecretRef, operation: string): void {
    if (ref.fragment !== undefined) {
      throw new StoreError('aws-sm', operation, `${ref.raw}: #KEY references select a key of a JSON secret and are read-only; write the whole secret`, {
        exitCode: ExitCode.usage,
        code: 'usage',
      });
    }
  }

  private recoveryWindowDays(): number {
    const raw = this.env.CLARIGUARD_AWS_RECOVERY_WINDOW_DAYS;
    if (raw === undefined || raw === '') return 7;
    const n = Number(raw);
    if (!Number.isInteger(n) || !(n === 0 || (n >= 7 && n <= 30))) {
      throw new ConfigError('CLARIGUARD_AWS_RECOVERY_WINDOW_DAYS must be 0 (delete at once) or 7 to 30');
    }
    return n;
  }

  /** Client settings for a ref: region from the ref (or its ARN), then the environment; profile from the ref. */
  clientConfig(ref: SecretRef): AwsClientConfig {
    const arnRegion = /^arn:aws[a-z-]*:secretsmanager:([a-z0-9-]+):/.exec(ref.path)?.[1];
    const region = ref.params.region || arnRegion || this.env.AWS_REGION || this.env.AWS_DEFAULT_REGION || undefined;
    const profile = ref.params.profile || undefined;
    // The SDK reads these from process.env itself; passing them from our env makes a library caller's
    // env (and tests) behave like the CLI's.
    const endpoint = this.env.AWS_ENDPOINT_URL_SECRETS_MANAGER || this.env.AWS_ENDPOINT_URL || undefined;
    const attempts = Number(this.env.AWS_MAX_ATTEMPTS);
    const maxAttempts = Number.isInteger(attempts) && attempts >= 1 && attempts <= 10 ? attempts : 5;
    const id = this.env.AWS_ACCESS_KEY_ID;
    const key = this.env.AWS_SECRET_ACCESS_KEY;
    // With a profile the SDK's chain decides; otherwise static keys in our env are what the env provider
    // would pick first anyway (and keep working when env is not process.env).
    const credentials =
      !profile && id && key && this.env !== process.env
        ? { accessKeyId: id, secretAccessKey: key, ...(this.env.AWS_SESSION_TOKEN ? { sessionToken: this.env.AWS_SESSION_TOKEN } : {}) }
        : undefined;
    return { region, profile, endpoint, maxAttempts, ...(credentials ? { credentials } : {}) };
  }

  private client(ref: SecretRef, sdk: Sdk): SecretsManagerClient {
    const cfg = this.clientConfig(ref);
    const key = `${cfg.region ?? ''}|${cfg.profile ?? ''}|${cfg.endpoint ?? ''}`;
    let c = this.clients.get(key);
    if (!c) {
      // clariguard supports Node 20 (package engines); the SDK's multi-line notice about its future Node
      // 22 requirement would otherwise land on stderr of every command.
      process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
      c = this.clientFactory(cfg, sdk);
      this.clients.set(key, c);
    }
    return c;
  }

  private describeRaw(ref: SecretRef, op: string): Promise<DescribeSecretCommandOutput> {
    return this.call(ref, op, async (c, sdk) => {
      const d = await c.send(new sdk.DescribeSecretCommand({ SecretId: this.secretId(ref) }));
      if (d.DeletedDate) throw new SecretNotFoundError(ref.raw, `scheduled for deletion on ${isoOrNull(d.DeletedDate)} (restore it with aws secretsmanager restore-secret)`);
      return d;
    });
  }

  /** Version id -> CreatedDate (ISO), from ListSecretVersionIds. */
  private async versionDates(ref: SecretRef, includeDeprecated = false): Promise<Map<string, string | null>> {
    const out = new Map<string, string | null>();
    await this.call(ref, 'ListSecretVersionIds', async (client, sdk) => {
      const pages = sdk.paginateListSecretVersionIds(
        { client, pageSize: 100 },
        { SecretId: this.secretId(ref), IncludeDeprecated: includeDeprecated },
      );
      for await (const page of pages) for (const v of page.Versions ?? ([] as SecretVersionsListEntry[])) if (v.VersionId) out.set(v.VersionId, isoOrNull(v.CreatedDate));
    });
    return out;
  }

  /** Runs one SDK operation and maps its failure onto a one-line clariguard error. */
  private async call<T>(ref: SecretRef, op: string, fn: (c: SecretsManagerClient, sdk: Sdk) => Promise<T>): Promise<T> {
    try {
      const sdk = await loadSdk();
      return await fn(this.client(ref, sdk), sdk);
    } catch (e) {
      if (e instanceof ClariguardError) throw e;
      throw this.mapError(e, ref, op);
    }
  }

  private mapError(e: unknown, ref: SecretRef, op: string): ClariguardError {
    const err = e as { name?: string; message?: string; $metadata?: { httpStatusCode?: number; attempts?: number } };
    const name = err?.name ?? 'Error';
    const attempts = err?.$metadata?.attempts;
    const after = attempts && attempts > 1 ? ` after ${attempts} attempts` : '';
    const fail = (detail: string, exitCode: number, code: string): StoreError =>
      new StoreError('aws-sm', op, `${ref.raw}: ${detail}`, { exitCode, code, cause: e });
    switch (name) {
      case 'ResourceNotFoundException': {
        const msg = err.message ?? '';
        const detail = /VersionId|staging label|version/i.test(msg) ? safeDetail(msg.replace(/^Secrets Manager can't find the specified secret value for /i, 'no version with ')) : 'no such secret in AWS Secrets Manager';
        return new SecretNotFoundError(ref.raw, detail);
      }
      case 'AccessDeniedException':
      case 'UnrecognizedClientException':
      case 'InvalidSignatureException':
      case 'ExpiredTokenException':
      case 'InvalidClientTokenId':
      case 'SignatureDoesNotMatch':
        return fail(
          name === 'AccessDeniedException' ? `access denied (the IAM policy must allow secretsmanager:${op} on this secret)` : `AWS rejected the credentials (${name})`,
          ExitCode.noPermission,
          'permission_denied',
        );
      case 'DecryptionFailure':
        return fail('AWS cannot decrypt the secret with its KMS key (the caller needs kms:Decrypt on it, or the key is disabled)', ExitCode.noPermission, 'permission_denied');
      case 'ResourceExistsException':
        return op === 'CreateSecret'
          ? fail('a secret with this name already exists', ExitCode.usage, 'already_exists')
          : fail('the request token was already used for a different value (versions cannot be modified)', ExitCode.usage, 'idempotency_conflict');
      case 'ThrottlingException':
      case 'Throttling':
      case 'TooManyRequestsException':
      case 'RequestLimitExceeded':
        return fail(`throttled by AWS${after}; try again later`, ExitCode.tempFail, 'throttled');
      case 'LimitExceededException':
        return fail(`an AWS quota was exceeded (${safeDetail(err.message)})`, ExitCode.unavailable, 'store_error');
      case 'InvalidRequestException':
        // What AWS answers for a secret in its recovery window: gone for now, with the way back.
        if (/(marked|scheduled) for deletion/i.test(err.message ?? '')) return new SecretNotFoundError(ref.raw, 'scheduled for deletion (restore it with aws secretsmanager restore-secret)');
        return fail(`${name}: ${safeDetail(err.message)}`, ExitCode.unavailable, 'store_error');
      case 'InvalidParameterException':
      case 'MalformedPolicyDocumentException':
        return fail(`${name}: ${safeDetail(err.message)}`, ExitCode.unavailable, 'store_error');
      case 'CredentialsProviderError':
        return fail(
          'no AWS credentials found (looked in the environment, shared config/credentials files, SSO, and instance/container metadata)',
          ExitCode.config,
          'config',
        );
    }
    if (/Region is missing/i.test(err?.message ?? '')) {
      return fail('no AWS region: add ?region=R to the reference or set AWS_REGION', ExitCode.config, 'config');
    }
    const net = networkCode(e);
    if (net) {
      const where = this.clientConfig(ref).endpoint;
      return fail(`cannot reach AWS Secrets Manager${where ? ` at ${displayUrl(where)}` : ''} (${net})${after}`, ExitCode.unavailable, 'unavailable');
    }
    const status = err?.$metadata?.httpStatusCode;
    if (status && status >= 500) return fail(`AWS service error (HTTP ${status}, ${name})${after}`, ExitCode.unavailable, 'unavailable');
    return fail(`${name}${status ? ` (HTTP ${status})` : ''}`, ExitCode.unavailable, 'store_error');
  }
}

// ---- resource policy -> readers ------------------------------------------------------------------

interface PolicyStatement {
  Sid?: string;
  Effect?: string;
  Principal?: unknown;
  NotPrincipal?: unknown;
  Action?: string | string[];
  NotAction?: string | string[];
  Condition?: Record<string, unknown>;
}

const READ_ACTIONS = ['secretsmanager:getsecretvalue', 'secretsmanager:batchgetsecretvalue'];

function actionGrantsRead(s: PolicyStatement): boolean {
  if (s.NotAction !== undefined) {
    const not = (Array.isArray(s.NotAction) ? s.NotAction : [s.NotAction]).map((a) => a.toLowerCase());
    return !not.some((a) => READ_ACTIONS.some((r) => globMatch(a, r)));
  }
  const actions = (Array.isArray(s.Action) ? s.Action : s.Action ? [s.Action] : []).map((a) => a.toLowerCase());
  return actions.some((a) => READ_ACTIONS.some((r) => globMatch(a, r)));
}

function globMatch(pattern: string, value: string): boolean {
  const re = new RegExp(`^${pattern.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.')}$`);
  return re.test(value);
}

function principalsOf(p: unknown): string[] {
  if (p === '*') return ['*'];
  if (!p || typeof p !== 'object') return [];
  const out: string[] = [];
  for (const [kind, v] of Object.entries(p as Record<string, unknown>)) {
    for (const one of Array.isArray(v) ? v : [v]) {
      if (typeof one !== 'string') continue;
      out.push(kind === 'AWS' ? (/^\d{12}$/.test(one) ? `arn:aws:iam::${one}:root` : one) : `${kind}:${one}`);
    }
  }
  return out;
}

/**
 * Who can read the secret according to its resource policy. Identity-based IAM policies in the owning
 * account can also grant access; the report says so, since only IAM can answer that part.
 */
export function readersFromPolicy(policyText: string | undefined, account: string | undefined): ReaderReport {
  const accountRoot = account ? `arn:aws:iam::${account}:root` : 'the owning AWS account';
  const evidence: string[] = [];
  const principals: string[] = [];
  let wildcard = false;
  if (!policyText) {
    evidence.push('no resource policy: only IAM principals of the owning account whose identity policies allow secretsmanager:GetSecretValue (and kms:Decrypt) can read it');
    return { principals: [`${accountRoot} (IAM principals allowed by identity policies)`], evidence, wildcard: false };
  }
  let doc: { Statement?: PolicyStatement | PolicyStatement[] };
  try {
    doc = JSON.parse(policyText) as typeof doc;
  } catch {
    evidence.push('the resource policy is not valid JSON');
    return { principals: [`${accountRoot} (IAM principals allowed by identity policies)`], evidence, wildcard: false };
  }
  const statements = Array.isArray(doc.Statement) ? doc.Statement : doc.Statement ? [doc.Statement] : [];
  for (const s of statements) {
    const reads = actionGrantsRead(s);
    const who = s.NotPrincipal !== undefined ? [`everyone except ${principalsOf(s.NotPrincipal).join(', ')}`] : principalsOf(s.Principal);
    const cond = s.Condition ? ` when ${Object.entries(s.Condition).map(([op, kv]) => `${op} ${Object.keys(kv as object).join(',')}`).join('; ')}` : '';
    const actions = s.NotAction !== undefined ? `all actions except ${[s.NotAction].flat().join(',')}` : [s.Action ?? []].flat().join(',');
    evidence.push(`${s.Sid ? `${s.Sid}: ` : ''}${s.Effect ?? 'Allow'} ${actions} to ${who.join(', ') || 'no principal'}${cond}`);
    if ((s.Effect ?? 'Allow') !== 'Allow' || !reads) continue;
    for (const p of who) {
      const isWild = p === '*' || p.startsWith('everyone except') || /^arn:aws[a-z-]*:iam::\*:/.test(p);
      if (isWild) wildcard = true;
      const shown = p === '*' ? `* (anyone${cond ? `,${cond}` : ''})` : p;
      if (!principals.includes(shown)) principals.push(shown);
    }
  }
  evidence.push('identity-based IAM policies in the owning account may grant further access; they are not part of the resource policy');
  if (!principals.includes(`${accountRoot} (IAM principals allowed by identity policies)`)) principals.push(`${accountRoot} (IAM principals allowed by identity policies)`);
  return { principals, evidence, wildcard };
}
