/**
 * An AWS Secrets Manager emulator for tests: a real HTTP server on 127.0.0.1 speaking the JSON 1.1 protocol
 * (`POST /`, `X-Amz-Target: secretsmanager.<Op>`, `Content-Type: application/x-amz-json-1.1`), with the
 * documented semantics the clariguard backend relies on:
 *
 * - staging labels: a label is on at most one version; PutSecretValue with AWSCURRENT (the default) moves
 *   AWSPREVIOUS to the old current; UpdateSecretVersionStage refuses to move a label that is attached elsewhere
 *   unless RemoveFromVersionId names that version, refuses to strip AWSCURRENT without moving it, and moving
 *   AWSCURRENT moves AWSPREVIOUS to the version it left;
 * - ClientRequestToken idempotency: the token is the version id; the same token with the same value is a no-op,
 *   with a different value it fails with ResourceExistsException;
 * - versions without labels are "deprecated": hidden from ListSecretVersionIds unless IncludeDeprecated;
 * - DeleteSecret with a recovery window marks the secret deleted (further operations fail with
 *   InvalidRequestException), ForceDeleteWithoutRecovery removes it at once;
 * - error bodies `{"__type": "<Code>", "message": "..."}` with HTTP 400 (5xx for service faults).
 *
 * Fault injection (`state.injectFault`) returns ThrottlingException / 5xx / AccessDeniedException /
 * DecryptionFailure for the next N calls of an operation, to prove the SDK's retries and our error mapping.
 * Every request is recorded in `state.requests` (operation, headers, body) so tests can assert what was
 * sent, e.g. that no secret or credential appears where it should not.
 *
 * Reused by the rotation tests: `import { startAwsSecretsManagerEmulator } from '.../aws-emulator.js'`.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export const AWS_EMULATOR_ACCOUNT = '123456789012';
export const AWS_EMULATOR_REGION = 'us-east-1';

export interface EmulatedVersion {
  versionId: string;
  secretString?: string;
  secretBinary?: string; // base64, as on the wire
  stages: string[];
  createdDate: number; // epoch seconds
  lastAccessedDate?: number;
}

export interface EmulatedSecret {
  arn: string;
  name: string;
  description?: string;
  kmsKeyId?: string;
  createdDate: number;
  lastChangedDate: number;
  lastRotatedDate?: number;
  lastAccessedDate?: number;
  deletedDate?: number;
  tags: { Key: string; Value: string }[];
  versions: EmulatedVersion[];
  resourcePolicy?: string;
  /** Test hook: GetSecretValue fails with DecryptionFailure (a KMS key the caller cannot use). */
  kmsBroken?: boolean;
}

export type FaultKind = 'throttle' | '5xx' | 'accessDenied' | 'decryptionFailure' | 'internalFailure';

export interface Fault {
  /** Operation name (e.g. `GetSecretValue`) or `*` for any. */
  op: string;
  kind: FaultKind;
  /** How many matching calls fail; decremented as they are consumed. */
  remaining: number;
}

export interface RecordedRequest {
  op: string;
  headers: Record<string, string | string[] | undefined>;
  body: string;
  status: number;
}

export class AwsEmulatorState {
  readonly secrets = new Map<string, EmulatedSecret>();
  readonly requests: RecordedRequest[] = [];
  readonly faults: Fault[] = [];
  /** Operations that fail with AccessDeniedException (a least-privilege caller). */
  readonly deniedOps = new Set<string>();
  /** Clock in epoch seconds; tests may replace it to make dates deterministic. */
  now: () => number = () => Date.now() / 1000;

  /** The next `times` calls of `op` (or `*`) fail with the given fault. */
  injectFault(op: string, kind: FaultKind, times = 1): void {
    this.faults.push({ op, kind, remaining: times });
  }

  /** Calls recorded for an operation (every attempt, including retried ones). */
  callsOf(op: string): RecordedRequest[] {
    return this.requests.filter((r) => r.op === op);
  }

  /** All request bodies and headers as one string, for leak assertions. */
  wireText(): string {
    return this.requests.map((r) => `${r.op}\n${JSON.stringify(r.headers)}\n${r.body}`).join('\n');
  }

  /** The live (not deleted) secret with this name or ARN, or undefined. */
  find(id: string): EmulatedSecret | undefined {
    return findSecret(this, id, true);
  }

  reset(): void {
    this.secrets.clear();
    this.requests.length = 0;
    this.faults.length = 0;
    this.deniedOps.clear();
  }

  takeFault(op: string): Fault | undefined {
    const f = this.faults.find((x) => x.remaining > 0 && (x.op === op || x.op === '*'));
    if (f) f.remaining -= 1;
    return f;
  }
}

export interface AwsSecretsManagerEmulator {
  /** `http://127.0.0.1:PORT`: set it as AWS_ENDPOINT_URL_SECRETS_MANAGER (or pass it as the client endpoint). */
  endpoint: string;
  close(): Promise<void>;
  state: AwsEmulatorState;
}

class AwsError extends Error {
  constructor(
    readonly type: string,
    message: string,
    readonly status = 400,
  ) {
    super(message);
  }
}

const ALPHANUM = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789';

function arnFor(name: string): string {
  const suffix = Array.from(randomBytes(6), (b) => ALPHANUM[b % ALPHANUM.length]).join('');
  return `arn:aws:secretsmanager:${AWS_EMULATOR_REGION}:${AWS_EMULATOR_ACCOUNT}:secret:${name}-${suffix}`;
}

function findSecret(state: AwsEmulatorState, id: string, liveOnly: boolean): EmulatedSecret | undefined {
  let s = state.secrets.get(id);
  if (!s) {
    for (const x of state.secrets.values()) {
      // A full ARN, or a partial ARN without the random suffix.
      if (x.arn === id || x.arn.replace(/-[A-Za-z0-9]{6}$/, '') === id) {
        s = x;
        break;
      }
    }
  }
  if (s && liveOnly && s.deletedDate !== undefined) return undefined;
  return s;
}

function mustFind(state: AwsEmulatorState, id: unknown): EmulatedSecret {
  if (typeof id !== 'string' || !id) throw new AwsError('InvalidParameterException', 'You must provide a SecretId.');
  const s = findSecret(state, id, false);
  if (!s) throw new AwsError('ResourceNotFoundException', "Secrets Manager can't find the specified secret.");
  if (s.deletedDate !== undefined) {
    throw new AwsError(
      'InvalidRequestException',
      "You can't perform this operation on the secret because it was marked for deletion.",
    );
  }
  return s;
}

function validToken(token: unknown): string {
  if (token === undefined) return randomUUID();
  if (typeof token !== 'string' || token.length < 32 || token.length > 64) {
    throw new AwsError('InvalidParameterException', 'ClientRequestToken must be between 32 and 64 characters.');
  }
  return token;
}

function checkValue(body: Record<string, unknown>): { secretString?: string; secretBinary?: string } {
  const { SecretString, SecretBinary } = body;
  if (SecretString !== undefined && SecretBinary !== undefined) {
    throw new AwsError('InvalidParameterException', 'You can specify either SecretString or SecretBinary, not both.');
  }
  if (typeof SecretString === 'string' && Buffer.byteLength(SecretString) > 65536) {
    throw new AwsError('InvalidParameterException', 'SecretString exceeds the 65536 byte quota.');
  }
  return {
    ...(typeof SecretString === 'string' ? { secretString: SecretString } : {}),
    ...(typeof SecretBinary === 'string' ? { secretBinary: SecretBinary } : {}),
  };
}

function checkTags(tags: unknown): { Key: string; Value: string }[] {
  if (tags === undefined) return [];
  if (!Array.isArray(tags)) throw new AwsError('InvalidParameterException', 'Tags must be a list.');
  for (const t of tags as { Key?: unknown; Value?: unknown }[]) {
    if (typeof t.Key !== 'string' || t.Key.length < 1 || t.Key.length > 128) {
      throw new AwsError('InvalidParameterException', 'Tag keys must be 1 to 128 characters.');
    }
    if (typeof t.Value !== 'string' || t.Value.length > 256) {
      throw new AwsError('InvalidParameterException', 'Tag values must be at most 256 characters.');
    }
    if (/^aws:/i.test(t.Key)) throw new AwsError('InvalidParameterException', 'Tag keys may not start with aws:.');
  }
  return tags as { Key: string; Value: string }[];
}

function mergeTags(secret: EmulatedSecret, tags: { Key: string; Value: string }[]): void {
  for (const t of tags) {
    const existing = secret.tags.find((x) => x.Key === t.Key);
    if (existing) existing.Value = t.Value;
    else secret.tags.push({ Key: t.Key, Value: t.Value });
  }
  if (secret.tags.length > 50) throw new AwsError('LimitExceededException', 'A secret can have at most 50 tags.');
}

function sameValue(v: EmulatedVersion, val: { secretString?: string; secretBinary?: string }): boolean {
  return v.secretString === val.secretString && v.secretBinary === val.secretBinary;
}

/** Attaches `label` to `target`, taking it off whichever version had it (labels are unique per secret). */
function attachLabel(secret: EmulatedSecret, label: string, target: EmulatedVersion): void {
  for (const v of secret.versions) if (v !== target) v.stages = v.stages.filter((s) => s !== label);
  if (!target.stages.includes(label)) target.stages.push(label);
}

/** Adds a new version with the given labels, applying the AWSCURRENT -> AWSPREVIOUS rule. */
function addVersion(
  state: AwsEmulatorState,
  secret: EmulatedSecret,
  versionId: string,
  val: { secretString?: string; secretBinary?: string },
  stages: string[],
): EmulatedVersion {
  const version: EmulatedVersion = { versionId, ...val, stages: [], createdDate: state.now() };
  const oldCurrent = secret.versions.find((v) => v.stages.includes('AWSCURRENT'));
  secret.versions.push(version);
  for (const label of stages) attachLabel(secret, label, version);
  if (stages.includes('AWSCURRENT') && oldCurrent && oldCurrent !== version) attachLabel(secret, 'AWSPREVIOUS', oldCurrent);
  secret.lastChangedDate = state.now();
  return version;
}

function versionsToStages(secret: EmulatedSecret): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const v of secret.versions) if (v.stages.length) out[v.versionId] = [...v.stages];
  return out;
}

function describe(secret: EmulatedSecret): Record<string, unknown> {
  return {
    ARN: secret.arn,
    Name: secret.name,
    ...(secret.description !== undefined ? { Description: secret.description } : {}),
    ...(secret.kmsKeyId !== undefined ? { KmsKeyId: secret.kmsKeyId } : {}),
    RotationEnabled: false,
    CreatedDate: secret.createdDate,
    LastChangedDate: secret.lastChangedDate,
    ...(secret.lastRotatedDate !== undefined ? { LastRotatedDate: secret.lastRotatedDate } : {}),
    ...(secret.lastAccessedDate !== undefined ? { LastAccessedDate: secret.lastAccessedDate } : {}),
    ...(secret.deletedDate !== undefined ? { DeletedDate: secret.deletedDate } : {}),
    ...(secret.tags.length ? { Tags: secret.tags.map((t) => ({ ...t })) } : {}),
    VersionIdsToStages: versionsToStages(secret),
  };
}

type Handler = (state: AwsEmulatorState, body: Record<string, unknown>) => Record<string, unknown>;

const handlers: Record<string, Handler> = {
  CreateSecret(state, body) {
    const name = body.Name;
    if (typeof name !== 'string' || !/^[A-Za-z0-9/_+=.@-]{1,512}$/.test(name)) {
      throw new AwsError('InvalidParameterException', 'Invalid name. Must be a valid name containing alphanumeric characters, or any of the following: -/_+=.@!');
    }
    const val = checkValue(body);
    const tags = checkTags(body.Tags);
    const token = validToken(body.ClientRequestToken);
    const existing = state.secrets.get(name);
    if (existing) {
      if (existing.deletedDate !== undefined) {
        throw new AwsError('InvalidRequestException', "You can't create this secret because a secret with this name is already scheduled for deletion.");
      }
      // A retried CreateSecret with the same token and value is idempotent.
      const same = existing.versions.find((v) => v.versionId === token);
      if (same && sameValue(same, val)) return { ARN: existing.arn, Name: existing.name, VersionId: token };
      throw new AwsError('ResourceExistsException', `The operation failed because the secret ${name} already exists.`);
    }
    const now = state.now();
    const secret: EmulatedSecret = {
      arn: arnFor(name),
      name,
      ...(typeof body.Description === 'string' ? { description: body.Description } : {}),
      ...(typeof body.KmsKeyId === 'string' ? { kmsKeyId: body.KmsKeyId } : {}),
      createdDate: now,
      lastChangedDate: now,
      tags: [],
      versions: [],
    };
    mergeTags(secret, tags);
    state.secrets.set(name, secret);
    if (val.secretString !== undefined || val.secretBinary !== undefined) {
      addVersion(state, secret, token, val, ['AWSCURRENT']);
      return { ARN: secret.arn, Name: secret.name, VersionId: token };
    }
    return { ARN: secret.arn, Name: secret.name };
  },

  PutSecretValue(state, body) {
    const secret = mustFind(state, body.SecretId);
    const val = checkValue(body);
    if (val.secretString === undefined && val.secretBinary === undefined) {
      throw new AwsError('InvalidParameterException', 'You must provide either SecretString or SecretBinary.');
    }
    const token = validToken(body.ClientRequestToken);
    const stages = body.VersionStages === undefined ? ['AWSCURRENT'] : (body.VersionStages as string[]);
    if (!Array.isArray(stages) || stages.length < 1 || stages.length > 20) {
      throw new AwsError('InvalidParameterException', 'VersionStages must list 1 to 20 staging labels.');
    }
    const existing = secret.versions.find((v) => v.versionId === token);
    if (existing) {
      if (!sameValue(existing, val)) {
        throw new AwsError('ResourceExistsException', 'A resource with the ID you requested already exists.');
      }
      // Same token, same value: the retry is ignored.
      return { ARN: secret.arn, Name: secret.name, VersionId: existing.versionId, VersionStages: [...existing.stages] };
    }
    const v = addVersion(state, secret, token, val, stages);
    return { ARN: secret.arn, Name: secret.name, VersionId: v.versionId, VersionStages: [...v.stages] };
  },

  GetSecretValue(state, body) {
    const secret = mustFind(state, body.SecretId);
    const versionId = body.VersionId as string | undefined;
    const stage = (body.VersionStage as string | undefined) ?? (versionId ? undefined : 'AWSCURRENT');
    const v = secret.versions.find((x) => (!versionId || x.versionId === versionId) && (!stage || x.stages.includes(stage)));
    if (!v) {
      throw new AwsError(
        'ResourceNotFoundException',
        `Secrets Manager can't find the specified secret value for ${versionId ? `VersionId: ${versionId}` : `staging label: ${stage}`}`,
      );
    }
    if (secret.kmsBroken) {
      throw new AwsError('DecryptionFailure', "Secrets Manager can't decrypt the protected secret text using the provided KMS key.");
    }
    const now = state.now();
    secret.lastAccessedDate = now;
    v.lastAccessedDate = now;
    return {
      ARN: secret.arn,
      Name: secret.name,
      VersionId: v.versionId,
      ...(v.secretString !== undefined ? { SecretString: v.secretString } : {}),
      ...(v.secretBinary !== undefined ? { SecretBinary: v.secretBinary } : {}),
      VersionStages: [...v.stages],
      CreatedDate: v.createdDate,
    };
  },

  DescribeSecret(state, body) {
    const id = body.SecretId;
    // DescribeSecret works on secrets scheduled for deletion (it reports DeletedDate).
    const secret = typeof id === 'string' ? findSecret(state, id, false) : undefined;
    if (!secret) throw new AwsError('ResourceNotFoundException', "Secrets Manager can't find the specified secret.");
    return describe(secret);
  },

  ListSecretVersionIds(state, body) {
    const secret = mustFind(state, body.SecretId);
    const all = body.IncludeDeprecated === true ? secret.versions : secret.versions.filter((v) => v.stages.length > 0);
    const max = typeof body.MaxResults === 'number' ? body.MaxResults : 100;
    const start = typeof body.NextToken === 'string' ? Number(body.NextToken) : 0;
    const page = all.slice(start, start + max);
    const next = start + max < all.length ? String(start + max) : undefined;
    return {
      ARN: secret.arn,
      Name: secret.name,
      Versions: page.map((v) => ({
        VersionId: v.versionId,
        ...(v.stages.length ? { VersionStages: [...v.stages] } : {}),
        CreatedDate: v.createdDate,
        ...(v.lastAccessedDate !== undefined ? { LastAccessedDate: v.lastAccessedDate } : {}),
      })),
      ...(next ? { NextToken: next } : {}),
    };
  },

  UpdateSecretVersionStage(state, body) {
    const secret = mustFind(state, body.SecretId);
    const label = body.VersionStage;
    if (typeof label !== 'string' || !label) throw new AwsError('InvalidParameterException', 'You must provide a VersionStage.');
    const moveTo = body.MoveToVersionId as string | undefined;
    const removeFrom = body.RemoveFromVersionId as string | undefined;
    const holder = secret.versions.find((v) => v.stages.includes(label));
    const from = removeFrom ? secret.versions.find((v) => v.versionId === removeFrom) : undefined;
    const to = moveTo ? secret.versions.find((v) => v.versionId === moveTo) : undefined;
    if (removeFrom && !from) throw new AwsError('ResourceNotFoundException', `Secrets Manager can't find the specified secret version: ${removeFrom}`);
    if (moveTo && !to) throw new AwsError('ResourceNotFoundException', `Secrets Manager can't find the specified secret version: ${moveTo}`);
    if (from && !from.stages.includes(label)) {
      throw new AwsError('InvalidParameterException', `The staging label ${label} is not attached to version ${removeFrom}.`);
    }
    if (to && holder && holder !== to && holder !== from) {
      throw new AwsError(
        'InvalidParameterException',
        `The staging label ${label} is currently attached to version ${holder.versionId}, so you must explicitly reference that version in RemoveFromVersionId.`,
      );
    }
    if (!to && label === 'AWSCURRENT') {
      throw new AwsError('InvalidParameterException', 'You can only move AWSCURRENT to another version; you cannot remove it.');
    }
    if (!to && !from) throw new AwsError('InvalidParameterException', 'You must specify MoveToVersionId or RemoveFromVersionId.');
    if (from) from.stages = from.stages.filter((s) => s !== label);
    if (to) {
      attachLabel(secret, label, to);
      // Moving AWSCURRENT moves AWSPREVIOUS to the version AWSCURRENT left.
      if (label === 'AWSCURRENT' && from && from !== to) attachLabel(secret, 'AWSPREVIOUS', from);
    }
    secret.lastChangedDate = state.now();
    return { ARN: secret.arn, Name: secret.name };
  },

  DeleteSecret(state, body) {
    const secret = mustFind(state, body.SecretId);
    const force = body.ForceDeleteWithoutRecovery === true;
    const days = body.RecoveryWindowInDays;
    if (force && days !== undefined) {
      throw new AwsError('InvalidParameterException', "You can't use ForceDeleteWithoutRecovery in conjunction with RecoveryWindowInDays.");
    }
    if (days !== undefined && (typeof days !== 'number' || days < 7 || days > 30)) {
      throw new AwsError('InvalidParameterException', 'RecoveryWindowInDays value must be between 7 and 30 days (inclusive).');
    }
    const now = state.now();
    const deletionDate = force ? now : now + (typeof days === 'number' ? days : 30) * 86400;
    if (force) state.secrets.delete(secret.name);
    else secret.deletedDate = now;
    return { ARN: secret.arn, Name: secret.name, DeletionDate: deletionDate };
  },

  ListSecrets(state, body) {
    const filters = (body.Filters as { Key: string; Values: string[] }[] | undefined) ?? [];
    const includeDeleted = body.IncludePlannedDeletion === true;
    let list = [...state.secrets.values()].filter((s) => includeDeleted || s.deletedDate === undefined);
    for (const f of filters) {
      if (f.Key === 'name') list = list.filter((s) => f.Values.some((p) => s.name.startsWith(p)));
      else if (f.Key === 'tag-key') list = list.filter((s) => s.tags.some((t) => f.Values.some((p) => t.Key.startsWith(p))));
      else throw new AwsError('InvalidParameterException', `Unsupported filter key in this emulator: ${f.Key}`);
    }
    list.sort((a, b) => a.name.localeCompare(b.name));
    const max = typeof body.MaxResults === 'number' ? body.MaxResults : 100;
    const start = typeof body.NextToken === 'string' ? Number(body.NextToken) : 0;
    const page = list.slice(start, start + max);
    const next = start + max < list.length ? String(start + max) : undefined;
    return {
      SecretList: page.map((s) => {
        const d = describe(s);
        delete d.VersionIdsToStages;
        return { ...d, SecretVersionsToStages: versionsToStages(s) };
      }),
      ...(next ? { NextToken: next } : {}),
    };
  },

  TagResource(state, body) {
    const secret = mustFind(state, body.SecretId);
    mergeTags(secret, checkTags(body.Tags));
    return {};
  },

  UntagResource(state, body) {
    const secret = mustFind(state, body.SecretId);
    const keys = body.TagKeys;
    if (!Array.isArray(keys)) throw new AwsError('InvalidParameterException', 'TagKeys must be a list.');
    secret.tags = secret.tags.filter((t) => !keys.includes(t.Key));
    return {};
  },

  GetResourcePolicy(state, body) {
    const secret = mustFind(state, body.SecretId);
    return { ARN: secret.arn, Name: secret.name, ...(secret.resourcePolicy ? { ResourcePolicy: secret.resourcePolicy } : {}) };
  },

  PutResourcePolicy(state, body) {
    const secret = mustFind(state, body.SecretId);
    const policy = body.ResourcePolicy;
    if (typeof policy !== 'string') throw new AwsError('InvalidParameterException', 'You must provide a ResourcePolicy.');
    let doc: { Statement?: unknown };
    try {
      doc = JSON.parse(policy) as { Statement?: unknown };
    } catch {
      throw new AwsError('MalformedPolicyDocumentException', 'The policy document is not valid JSON.');
    }
    if (body.BlockPublicPolicy === true && JSON.stringify(doc).match(/"Principal":\s*("\*"|\{"AWS":\s*"\*"\})/)) {
      throw new AwsError('PublicPolicyException', 'The BlockPublicPolicy parameter is set to true, and the resource policy grants public access.');
    }
    secret.resourcePolicy = policy;
    return { ARN: secret.arn, Name: secret.name };
  },
};

function faultError(kind: FaultKind, op: string): AwsError {
  switch (kind) {
    case 'throttle':
      return new AwsError('ThrottlingException', 'Rate exceeded', 400);
    case '5xx':
      return new AwsError('ServiceUnavailable', 'Service unavailable', 503);
    case 'internalFailure':
      return new AwsError('InternalServiceError', 'An error occurred on the server side.', 500);
    case 'accessDenied':
      return accessDenied(op);
    case 'decryptionFailure':
      return new AwsError('DecryptionFailure', "Secrets Manager can't decrypt the protected secret text using the provided KMS key.");
  }
}

function accessDenied(op: string): AwsError {
  return new AwsError(
    'AccessDeniedException',
    `User: arn:aws:iam::${AWS_EMULATOR_ACCOUNT}:user/test is not authorized to perform: secretsmanager:${op} because no identity-based policy allows the secretsmanager:${op} action`,
  );
}

function send(res: ServerResponse, status: number, payload: unknown): void {
  const text = JSON.stringify(payload);
  res.writeHead(status, {
    'Content-Type': 'application/x-amz-json-1.1',
    'Content-Length': Buffer.byteLength(text),
    'x-amzn-RequestId': randomUUID(),
  });
  res.end(text);
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

/** Starts the emulator on an ephemeral loopback port. */
export async function startAwsSecretsManagerEmulator(): Promise<AwsSecretsManagerEmulator> {
  const state = new AwsEmulatorState();
  const server = createServer((req, res) => {
    void (async () => {
      const text = await readBody(req);
      const target = String(req.headers['x-amz-target'] ?? '');
      const op = target.startsWith('secretsmanager.') ? target.slice('secretsmanager.'.length) : '';
      const record: RecordedRequest = { op, headers: { ...req.headers }, body: text, status: 0 };
      state.requests.push(record);
      const reply = (status: number, payload: unknown): void => {
        record.status = status;
        send(res, status, payload);
      };
      try {
        if (req.method !== 'POST' || !op) throw new AwsError('UnknownOperationException', 'Expected POST with X-Amz-Target: secretsmanager.<Operation>');
        if (!String(req.headers['content-type'] ?? '').startsWith('application/x-amz-json-1.1')) {
          throw new AwsError('SerializationException', 'Expected Content-Type application/x-amz-json-1.1');
        }
        if (!/^AWS4-HMAC-SHA256 Credential=[^/]+\//.test(String(req.headers.authorization ?? ''))) {
          throw new AwsError('MissingAuthenticationTokenException', 'Request is missing Authentication Token');
        }
        const handler = handlers[op];
        if (!handler) throw new AwsError('UnknownOperationException', `Operation ${op} is not implemented by this emulator`);
        const fault = state.takeFault(op);
        if (fault) throw faultError(fault.kind, op);
        if (state.deniedOps.has(op)) throw accessDenied(op);
        let body: Record<string, unknown>;
        try {
          body = text ? (JSON.parse(text) as Record<string, unknown>) : {};
        } catch {
          throw new AwsError('SerializationException', 'Request body is not valid JSON');
        }
        reply(200, handler(state, body));
      } catch (e) {
        if (e instanceof AwsError) reply(e.status, { __type: e.type, message: e.message });
        else reply(500, { __type: 'InternalServiceError', message: (e as Error).message });
      }
    })();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    state,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
