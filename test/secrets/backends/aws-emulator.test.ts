import {
  CreateSecretCommand,
  DescribeSecretCommand,
  GetSecretValueCommand,
  PutSecretValueCommand,
  SecretsManagerClient,
  UpdateSecretVersionStageCommand,
} from '@aws-sdk/client-secrets-manager';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAwsSecretsManagerEmulator, type AwsSecretsManagerEmulator } from './aws-emulator.js';

// The emulator itself, driven by the real SDK: proves the wire protocol and the documented label semantics
// before the backend is tested on top of it.
let emu: AwsSecretsManagerEmulator;
let sm: SecretsManagerClient;

beforeAll(async () => {
  emu = await startAwsSecretsManagerEmulator();
  sm = new SecretsManagerClient({
    endpoint: emu.endpoint,
    region: 'us-east-1',
    credentials: { accessKeyId: 'AKIAEMULATOR', secretAccessKey: 'emulator-secret-key' },
    maxAttempts: 3,
  });
});
afterAll(async () => {
  sm.destroy();
  await emu.close();
});

const T = (n: number): string => `${String(n).padStart(8, '0')}-0000-4000-8000-000000000000`;

describe('AWS Secrets Manager emulator', () => {
  it('moves AWSPREVIOUS to the old current on PutSecretValue and on UpdateSecretVersionStage', async () => {
    await sm.send(new CreateSecretCommand({ Name: 'emu/a', SecretString: 'v1', ClientRequestToken: T(1) }));
    await sm.send(new PutSecretValueCommand({ SecretId: 'emu/a', SecretString: 'v2', ClientRequestToken: T(2) }));
    let d = await sm.send(new DescribeSecretCommand({ SecretId: 'emu/a' }));
    expect(d.VersionIdsToStages).toEqual({ [T(1)]: ['AWSPREVIOUS'], [T(2)]: ['AWSCURRENT'] });
    expect(d.CreatedDate).toBeInstanceOf(Date);

    await sm.send(new PutSecretValueCommand({ SecretId: 'emu/a', SecretString: 'v3', ClientRequestToken: T(3), VersionStages: ['AWSPENDING'] }));
    await expect(
      sm.send(new UpdateSecretVersionStageCommand({ SecretId: 'emu/a', VersionStage: 'AWSCURRENT', MoveToVersionId: T(3) })),
    ).rejects.toMatchObject({ name: 'InvalidParameterException' });
    await sm.send(
      new UpdateSecretVersionStageCommand({ SecretId: 'emu/a', VersionStage: 'AWSCURRENT', MoveToVersionId: T(3), RemoveFromVersionId: T(2) }),
    );
    d = await sm.send(new DescribeSecretCommand({ SecretId: 'emu/a' }));
    expect(d.VersionIdsToStages).toEqual({ [T(2)]: ['AWSPREVIOUS'], [T(3)]: ['AWSPENDING', 'AWSCURRENT'] });
    const cur = await sm.send(new GetSecretValueCommand({ SecretId: d.ARN! }));
    expect(cur.SecretString).toBe('v3');
    const prev = await sm.send(new GetSecretValueCommand({ SecretId: 'emu/a', VersionStage: 'AWSPREVIOUS' }));
    expect(prev.SecretString).toBe('v2');
  });

  it('treats ClientRequestToken as the version id: same value is a no-op, a different value fails', async () => {
    await sm.send(new CreateSecretCommand({ Name: 'emu/b', SecretString: 'x', ClientRequestToken: T(10) }));
    const a = await sm.send(new PutSecretValueCommand({ SecretId: 'emu/b', SecretString: 'y', ClientRequestToken: T(11) }));
    const b = await sm.send(new PutSecretValueCommand({ SecretId: 'emu/b', SecretString: 'y', ClientRequestToken: T(11) }));
    expect(a.VersionId).toBe(T(11));
    expect(b.VersionId).toBe(T(11));
    expect(emu.state.find('emu/b')!.versions).toHaveLength(2);
    await expect(
      sm.send(new PutSecretValueCommand({ SecretId: 'emu/b', SecretString: 'z', ClientRequestToken: T(11) })),
    ).rejects.toMatchObject({ name: 'ResourceExistsException' });
  });

  it('returns documented error bodies and the SDK retries throttling and 5xx', async () => {
    await expect(sm.send(new GetSecretValueCommand({ SecretId: 'emu/missing' }))).rejects.toMatchObject({
      name: 'ResourceNotFoundException',
      $metadata: { httpStatusCode: 400 },
    });
    await sm.send(new CreateSecretCommand({ Name: 'emu/c', SecretString: 'c' }));
    emu.state.injectFault('GetSecretValue', 'throttle', 1);
    emu.state.injectFault('GetSecretValue', '5xx', 1);
    const before = emu.state.callsOf('GetSecretValue').length;
    const r = await sm.send(new GetSecretValueCommand({ SecretId: 'emu/c' }));
    expect(r.SecretString).toBe('c');
    expect(emu.state.callsOf('GetSecretValue').length - before).toBe(3);
    expect(r.$metadata.attempts).toBe(3);
  });
});
