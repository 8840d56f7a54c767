import type { TokenCredential } from '@azure/identity';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { finishRotation, resumeRotation, rollbackRotation, rotateToken, RotationError, type RotationCheckpoint } from '../../src/rotate/index.js';
import { AzureKeyVaultBackend } from '../../src/secrets/backends/azure-kv.js';
import { describeSecret, readSecret, registerBackend, SecretValue, writeSecret } from '../../src/secrets/index.js';
import { canary } from '../helpers/canary.js';
import { expectOldTokenCurrentUntilPromote, leaksIn, pollCurrentToken, startClariForRotation } from './harness.js';
import { startAzureKeyVaultEmulator, type AzureKeyVaultEmulator } from '../secrets/backends/azure-emulator.js';

// Azure through the library: a spawned CLI cannot be given the emulator transport (docs/stores.md). The
// stage mapping (per-version clariguard-stage tag) must be what rotate sets and `read({stage})` returns.
const ACCESS_TOKEN = canary('aadtoken');
const REF = 'azure-kv://acme-kv/clari-token';
const credential: TokenCredential = { getToken: async () => ({ token: ACCESS_TOKEN, expiresOnTimestamp: Date.now() + 3_600_000 }) };

let emu: AzureKeyVaultEmulator;
let clari: Awaited<ReturnType<typeof startClariForRotation>>;
let oldToken: string;
let newToken: string;
const messages: string[] = [];
const env = {};

beforeAll(async () => {
  emu = await startAzureKeyVaultEmulator({ token: ACCESS_TOKEN });
  registerBackend('azure-kv', () => new AzureKeyVaultBackend({ env: {}, credential, clientOptions: { httpClient: emu.httpClient(), retryOptions: { maxRetries: 1, retryDelayInMs: 10, maxRetryDelayInMs: 20 } } }));
});
afterAll(() => emu.close());
beforeEach(async () => {
  emu.state.reset();
  messages.length = 0;
  oldToken = canary('cgold');
  newToken = canary('cgnew');
  clari = await startClariForRotation(oldToken, newToken);
  await writeSecret(REF, oldToken, { env });
});
afterEach(async () => {
  expect(leaksIn({ messages: messages.join('\n') }, [oldToken, newToken, ACCESS_TOKEN])).toEqual([]);
  for (const s of emu.state.secrets.values()) for (const v of s.versions) expect(leaksIn({ tags: JSON.stringify(v.tags) }, [oldToken, newToken])).toEqual([]);
  await clari.close();
});

const stage = async (s: 'current' | 'pending' | 'previous') => {
  try {
    return (await readSecret(REF, { env, stage: s })).reveal();
  } catch (e) {
    return (e as { code?: string }).code === 'secret_not_found' ? '' : Promise.reject(e);
  }
};
const stages = async () => ({ current: await stage('current'), pending: await stage('pending'), previous: await stage('previous') });
const crashAt = (point: RotationCheckpoint) => (c: RotationCheckpoint) => {
  if (c === point) throw new Error(`simulated crash after ${point}`);
};

describe('rotate on azure-kv:// (library, Key Vault emulator)', () => {
  it('interrupted after each step then resumed; stages read back; rollback; finish disables the old version', async () => {
    const o = () => ({ env, baseUrl: clari.url, onMessage: (l: string) => messages.push(l) });
    const poll = pollCurrentToken(REF, env, clari.url, [oldToken, newToken]);
    await expect(rotateToken(REF, { ...o(), newToken: new SecretValue(newToken), afterStep: crashAt('create') })).rejects.toThrow(/simulated/);
    expect(await stages()).toEqual({ current: oldToken, pending: newToken, previous: '' });
    expect((await describeSecret(REF, { env })).rotation?.step).toBe('test');
    for (const p of ['test', 'set', 'promote'] as const) {
      await expect(resumeRotation(REF, { ...o(), afterStep: crashAt(p) })).rejects.toThrow(/simulated/);
      if (p !== 'promote') expect(await stage('current')).toBe(oldToken);
    }
    expect((await resumeRotation(REF, o())).outcome).toBe('rotated');
    expect((await poll.stop()).problems).toEqual([]);
    expect(await stages()).toEqual({ current: newToken, pending: '', previous: oldToken });
    expect((await describeSecret(REF, { env })).rotation).toBeNull();

    expect((await rollbackRotation(REF, o())).outcome).toBe('rolled-back');
    expect(await stages()).toEqual({ current: oldToken, pending: '', previous: newToken });
    expect((await rollbackRotation(REF, o())).outcome).toBe('rolled-back');
    expect(await stages()).toEqual({ current: newToken, pending: '', previous: oldToken });

    clari.revoke(oldToken);
    expect((await finishRotation(REF, { ...o(), confirmRevoked: true })).outcome).toBe('previous-destroyed');
    expect(await stages()).toEqual({ current: newToken, pending: '', previous: '' });
  }, 60_000);

  it('a rejected token leaves current untouched; rollback mid-rotation drops pending', async () => {
    clari.revoke(newToken);
    const e = await rotateToken(REF, { env, baseUrl: clari.url, newToken: new SecretValue(newToken) }).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(RotationError);
    expect((e as RotationError).exitCode).toBe(77);
    expect(await stages()).toEqual({ current: oldToken, pending: '', previous: '' });
    expect((await describeSecret(REF, { env })).rotation).toBeNull();

    const third = canary('cgthird');
    await expect(rotateToken(REF, { env, baseUrl: clari.url, newToken: new SecretValue(third), afterStep: crashAt('create') })).rejects.toThrow(/simulated/);
    expect(await stage('pending')).toBe(third);
    expect((await rollbackRotation(REF, { env, baseUrl: clari.url })).outcome).toBe('abandoned');
    expect(await stages()).toEqual({ current: oldToken, pending: '', previous: '' });
    expect((await describeSecret(REF, { env })).rotation).toBeNull();
  }, 60_000);

  it('a secret first written by another tool (no clariguard stage marks) keeps its token current until promotion', async () => {
    const oldToken = canary('cgold');
    const newToken = canary('cgnew');
    await writeSecret(REF, oldToken, { env });
    for (const s of emu.state.secrets.values()) for (const v of s.versions) v.tags = {};
    await expectOldTokenCurrentUntilPromote(REF, env, oldToken, newToken);
  });
});
