import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { ClariguardError, SecretNotFoundError } from '../../../src/errors.js';
import { AwsSecretsManagerBackend, awsRequestToken, readersFromPolicy } from '../../../src/secrets/backends/aws-sm.js';
import { ROTATED_AT_TAG, ROTATION_TAG } from '../../../src/secrets/journal.js';
import { parseSecretRef } from '../../../src/secrets/ref.js';
import { SecretValue } from '../../../src/secrets/value.js';
import { canary, expectCleanFailure, expectNoLeak } from '../../helpers/canary.js';
import { startAwsSecretsManagerEmulator, type AwsSecretsManagerEmulator } from './aws-emulator.js';

// The real SDK over real HTTP on loopback against the emulator, with dummy credentials passed via env.
let emu: AwsSecretsManagerEmulator;
const ACCESS_KEY = 'AKIACANARY7QK2M4XZ9P';
const SECRET_KEY = canary('awssecretkey');
let env: Record<string, string>;
let backend: AwsSecretsManagerBackend;

beforeAll(async () => {
  emu = await startAwsSecretsManagerEmulator();
  env = {
    AWS_ENDPOINT_URL_SECRETS_MANAGER: emu.endpoint,
    AWS_ACCESS_KEY_ID: ACCESS_KEY,
    AWS_SECRET_ACCESS_KEY: SECRET_KEY,
    AWS_REGION: 'us-east-1',
    AWS_MAX_ATTEMPTS: '3',
  };
});
afterAll(() => emu.close());
beforeEach(() => {
  emu.state.reset();
  backend = new AwsSecretsManagerBackend({ env });
});

const ref = (s: string) => parseSecretRef(s);

/** expectCleanFailure, and the emulator's AWS credentials never in the message either. */
async function expectStoreError(p: Promise<unknown>, exitCode: number, ...secrets: string[]): Promise<ClariguardError> {
  const err = await expectCleanFailure(p, exitCode, [SECRET_KEY, ...secrets]);
  expect(err.message).not.toContain(ACCESS_KEY);
  return err;
}

describe('aws-sm backend', () => {
  it('creates on first write, versions on later writes, maps labels to stages, and reads every stage', async () => {
    const r = ref('aws-sm://clari/prod/api-token?region=us-east-1');
    const v1 = canary();
    const v2 = canary();
    const w1 = await backend.write(r, new SecretValue(v1));
    expect(emu.state.callsOf('CreateSecret')).toHaveLength(1);
    const w2 = await backend.write(r, new SecretValue(v2));
    expect(w1.versionId).not.toBe(w2.versionId);
    expect((await backend.read(r)).reveal()).toBe(v2);
    expect((await backend.read(r, { stage: 'previous' })).reveal()).toBe(v1);
    expect((await backend.read(r, { versionId: w1.versionId })).reveal()).toBe(v1);
    const d = await backend.describe(r);
    expect(d.backend).toBe('aws-sm');
    expect(d.versions.map((v) => [v.id, v.stages])).toEqual([
      [w1.versionId, ['previous']],
      [w2.versionId, ['current']],
    ]);
    expect(d.versions.every((v) => typeof v.createdAt === 'string')).toBe(true);
    expect(d.ageDays).toBe(0);
    expect(d.rotatedAt).toBe(d.versions[1].createdAt);
    expectNoLeak(JSON.stringify(d), v1);
    expectNoLeak(JSON.stringify(d), v2);
    // Secrets and credentials only ever travel in the bodies AWS needs them in: never in headers.
    for (const req of emu.state.requests) {
      expect(JSON.stringify(req.headers)).not.toContain(SECRET_KEY);
      expectNoLeak(JSON.stringify(req.headers), v1);
    }
    expect(emu.state.wireText()).not.toContain(SECRET_KEY);
  });

  it('writes pending with AWSPENDING, promotes with one label move, and deprecates old versions', async () => {
    const r = ref('aws-sm://rot/token');
    const old = canary();
    const next = canary();
    const { versionId: oldId } = await backend.write(r, new SecretValue(old));
    const { versionId: pendId } = await backend.write(r, new SecretValue(next), { stage: 'pending' });
    expect(emu.state.find('rot/token')!.versions.find((v) => v.versionId === pendId)!.stages).toEqual(['AWSPENDING']);
    expect((await backend.read(r)).reveal()).toBe(old);
    expect((await backend.read(r, { stage: 'pending' })).reveal()).toBe(next);

    await backend.promote(r, pendId);
    const moves = emu.state.callsOf('UpdateSecretVersionStage').map((c) => JSON.parse(c.body));
    expect(moves[0]).toMatchObject({ VersionStage: 'AWSCURRENT', MoveToVersionId: pendId, RemoveFromVersionId: oldId });
    expect(moves[1]).toMatchObject({ VersionStage: 'AWSPENDING', RemoveFromVersionId: pendId });
    let d = await backend.describe(r);
    expect(Object.fromEntries(d.versions.map((v) => [v.id, v.stages]))).toEqual({ [oldId]: ['previous'], [pendId]: ['current'] });
    expect(d.tags[ROTATED_AT_TAG]).toMatch(/^\d{4}-\d\d-\d\dT/);
    expect(d.rotatedAt).toBe(d.tags[ROTATED_AT_TAG]);

    // Promoting again (a resumed rotation) changes nothing.
    const before = emu.state.callsOf('UpdateSecretVersionStage').length;
    await backend.promote(r, pendId);
    expect(emu.state.callsOf('UpdateSecretVersionStage').length).toBe(before);

    await expectStoreError(backend.deleteVersion(r, pendId), 2);
    await backend.deleteVersion(r, oldId);
    d = await backend.describe(r);
    expect(d.versions.map((v) => v.id)).toEqual([pendId]);
    await backend.deleteVersion(r, oldId); // already deprecated: a no-op
    await expect(backend.deleteVersion(r, '00000000-0000-4000-8000-00000000dead')).rejects.toBeInstanceOf(SecretNotFoundError);
    await expect(backend.promote(r, '00000000-0000-4000-8000-00000000dead')).rejects.toBeInstanceOf(SecretNotFoundError);
  });

  it('prefers LastRotatedDate when AWS rotated more recently than clariguard', async () => {
    const r = ref('aws-sm://lambda/rotated');
    await backend.write(r, new SecretValue(canary()));
    const s = emu.state.find('lambda/rotated')!;
    s.lastRotatedDate = s.versions[0].createdDate + 3600;
    const d = await backend.describe(r);
    expect(d.rotatedAt).toBe(new Date(s.lastRotatedDate * 1000).toISOString());
  });

  it('is idempotent with request tokens (hashed to a valid ClientRequestToken) and refuses token reuse', async () => {
    const r = ref('aws-sm://idem/x');
    const v = canary();
    const a = await backend.write(r, new SecretValue(v), { requestToken: 'create-once:aws-sm://idem/x' });
    const b = await backend.write(r, new SecretValue(v), { requestToken: 'create-once:aws-sm://idem/x' });
    expect(a.versionId).toBe(awsRequestToken('create-once:aws-sm://idem/x'));
    expect(b.versionId).toBe(a.versionId);
    expect(emu.state.find('idem/x')!.versions).toHaveLength(1);
    const c = await backend.write(r, new SecretValue(canary()), { requestToken: 'rotate-1:pending' , stage: 'pending' });
    const c2 = await backend.write(r, new SecretValue(emu.state.find('idem/x')!.versions[1].secretString!), { requestToken: 'rotate-1:pending', stage: 'pending' });
    expect(c2.versionId).toBe(c.versionId);
    const other = canary();
    const e = await expectStoreError(backend.write(r, new SecretValue(other), { requestToken: 'rotate-1:pending', stage: 'pending' }), 2, other);
    expect(e.code).toBe('idempotency_conflict');
  });

  it('merges and removes tags; the rotation journal round-trips', async () => {
    const r = ref('aws-sm://tags/x');
    await backend.write(r, new SecretValue(canary()), { tags: { team: 'revops' } });
    const journal = JSON.stringify({ step: 'create', pendingVersionId: 'a'.repeat(36), startedAt: new Date().toISOString(), updatedAt: new Date().toISOString() });
    await backend.setTags(r, { [ROTATION_TAG]: journal, owner: 'data' });
    let d = await backend.describe(r);
    expect(d.tags).toMatchObject({ team: 'revops', owner: 'data' });
    expect(d.rotation).toMatchObject({ step: 'create' });
    await backend.setTags(r, { [ROTATION_TAG]: null, team: null });
    d = await backend.describe(r);
    expect(d.tags).toEqual({ owner: 'data' });
    expect(d.rotation).toBeNull();
  });

  it('maps AWS errors to one-line errors with the right exit codes, naming store and operation only', async () => {
    const token = canary();
    const r = ref('aws-sm://errs/x');
    let e = await expectStoreError(backend.read(r), 66);
    expect(e.message).toBe('aws-sm://errs/x: no such secret in AWS Secrets Manager');
    await expectStoreError(backend.write(r, new SecretValue(token), { stage: 'pending' }), 66, token);
    await backend.write(r, new SecretValue(token));

    emu.state.deniedOps.add('GetSecretValue');
    e = await expectStoreError(backend.read(r), 77, token);
    expect(e.message).toBe('aws-sm store: GetSecretValue failed: aws-sm://errs/x: access denied (the IAM policy must allow secretsmanager:GetSecretValue on this secret)');
    emu.state.deniedOps.clear();

    emu.state.find('errs/x')!.kmsBroken = true;
    e = await expectStoreError(backend.read(r), 77, token);
    expect(e.message).toMatch(/KMS key/);
    emu.state.find('errs/x')!.kmsBroken = false;

    // Retries: two throttles and a 5xx are absorbed by the SDK (3 attempts configured here).
    emu.state.injectFault('GetSecretValue', 'throttle', 1);
    emu.state.injectFault('GetSecretValue', 'internalFailure', 1);
    const n = emu.state.callsOf('GetSecretValue').length;
    expect((await backend.read(r)).reveal()).toBe(token);
    expect(emu.state.callsOf('GetSecretValue').length - n).toBe(3);

    emu.state.injectFault('GetSecretValue', 'throttle', 5);
    e = await expectStoreError(backend.read(r), 75, token);
    expect(e.message).toMatch(/throttled by AWS after 3 attempts; try again later/);
    emu.state.reset();

    emu.state.injectFault('DescribeSecret', '5xx', 5);
    e = await expectStoreError(backend.describe(ref('aws-sm://any')), 69);
    expect(e.message).toMatch(/HTTP 503.*after 3 attempts/);

    const dead = new AwsSecretsManagerBackend({ env: { ...env, AWS_ENDPOINT_URL_SECRETS_MANAGER: 'http://127.0.0.1:9' } });
    e = await expectStoreError(dead.read(r), 69);
    expect(e.message).toMatch(/cannot reach AWS Secrets Manager at http:\/\/127\.0\.0\.1:9 \(ECONNREFUSED\)/);

    const noRegion = new AwsSecretsManagerBackend({ env: { ...env, AWS_REGION: '' } });
    e = await expectStoreError(noRegion.read(ref('aws-sm://errs/x')), 78);
    expect(e.message).toMatch(/no AWS region/);
  });

  it('reads one key of a JSON secret with #KEY and refuses writes through it', async () => {
    const pw = canary();
    await backend.write(ref('aws-sm://json/db'), new SecretValue(JSON.stringify({ username: 'svc', password: pw })));
    expect((await backend.read(ref('aws-sm://json/db#password'))).reveal()).toBe(pw);
    const e = await expectStoreError(backend.read(ref('aws-sm://json/db#nope')), 66, pw);
    expect(e.message).toMatch(/no key "nope"/);
    await expectStoreError(backend.write(ref('aws-sm://json/db#password'), new SecretValue('x')), 2, pw);
  });

  it('lists by prefix (keeping region/profile in the refs) and removes with a recovery window', async () => {
    for (const n of ['clari/a', 'clari/b', 'other/c']) await backend.write(ref(`aws-sm://${n}`), new SecretValue(canary()));
    expect(await backend.list('clari/?region=us-east-1')).toEqual(['aws-sm://clari/a?region=us-east-1', 'aws-sm://clari/b?region=us-east-1']);
    expect(await backend.list()).toEqual(['aws-sm://clari/a', 'aws-sm://clari/b', 'aws-sm://other/c']);
    await backend.remove(ref('aws-sm://clari/a'));
    expect(JSON.parse(emu.state.callsOf('DeleteSecret')[0].body)).toEqual({ SecretId: 'clari/a', RecoveryWindowInDays: 7 });
    await expect(backend.describe(ref('aws-sm://clari/a'))).rejects.toThrow(/scheduled for deletion/);
    // Reading or writing a secret scheduled for deletion: a missing secret (66) with the way back, like describe.
    for (const p of [backend.read(ref('aws-sm://clari/a')), backend.write(ref('aws-sm://clari/a'), new SecretValue(canary()))]) {
      const err = await expectStoreError(p, 66);
      expect(err.message).toMatch(/aws-sm:\/\/clari\/a: .*scheduled for deletion.*restore-secret/);
    }
    expect(await backend.list('clari/')).toEqual(['aws-sm://clari/b']);
    const force = new AwsSecretsManagerBackend({ env: { ...env, CLARIGUARD_AWS_RECOVERY_WINDOW_DAYS: '0' } });
    await force.remove(ref('aws-sm://clari/b'));
    expect(emu.state.find('clari/b')).toBeUndefined();
  });

  it('reports readers from the resource policy, flagging wildcards', async () => {
    const r = ref('aws-sm://pol/x');
    await backend.write(r, new SecretValue(canary()));
    let rep = await backend.readers(r);
    expect(rep.wildcard).toBe(false);
    expect(rep.principals).toEqual(['arn:aws:iam::123456789012:root (IAM principals allowed by identity policies)']);
    emu.state.find('pol/x')!.resourcePolicy = JSON.stringify({
      Version: '2012-10-17',
      Statement: [
        { Sid: 'App', Effect: 'Allow', Principal: { AWS: 'arn:aws:iam::123456789012:role/etl' }, Action: 'secretsmanager:GetSecretValue', Resource: '*' },
        { Sid: 'Bad', Effect: 'Allow', Principal: '*', Action: 'secretsmanager:*', Resource: '*' },
        { Sid: 'Meta', Effect: 'Allow', Principal: { AWS: '210987654321' }, Action: 'secretsmanager:DescribeSecret', Resource: '*' },
      ],
    });
    rep = await backend.readers(r);
    expect(rep.wildcard).toBe(true);
    expect(rep.principals).toContain('arn:aws:iam::123456789012:role/etl');
    expect(rep.principals).toContain('* (anyone)');
    expect(rep.principals).not.toContain('arn:aws:iam::210987654321:root');
    expect(rep.evidence.some((l) => l.startsWith('Bad: Allow secretsmanager:* to *'))).toBe(true);
    const org = readersFromPolicy(
      JSON.stringify({ Statement: { Effect: 'Allow', Principal: { AWS: '*' }, Action: ['secretsmanager:GetSecretValue'], Condition: { StringEquals: { 'aws:PrincipalOrgID': 'o-1' } } } }),
      '123456789012',
    );
    expect(org.wildcard).toBe(true);
    expect(org.principals[0]).toBe('* (anyone, when StringEquals aws:PrincipalOrgID)');
  });

  it('the SDK itself honours AWS_ENDPOINT_URL_SECRETS_MANAGER from the process environment', async () => {
    await backend.write(ref('aws-sm://sdk/env'), new SecretValue('v'));
    const saved = process.env.AWS_ENDPOINT_URL_SECRETS_MANAGER;
    process.env.AWS_ENDPOINT_URL_SECRETS_MANAGER = emu.endpoint;
    try {
      const c = new SecretsManagerClient({ region: 'us-east-1', credentials: { accessKeyId: 'AKIAX', secretAccessKey: 'y' } });
      const out = await c.send(new GetSecretValueCommand({ SecretId: 'sdk/env' }));
      expect(out.SecretString).toBe('v');
      c.destroy();
    } finally {
      if (saved === undefined) delete process.env.AWS_ENDPOINT_URL_SECRETS_MANAGER;
      else process.env.AWS_ENDPOINT_URL_SECRETS_MANAGER = saved;
    }
  });
});
