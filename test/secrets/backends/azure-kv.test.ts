import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { TokenCredential } from '@azure/identity';
import { SecretNotFoundError } from '../../../src/errors.js';
import { AZURE_STAGE_TAG, AzureKeyVaultBackend } from '../../../src/secrets/backends/azure-kv.js';
import { ROTATED_AT_TAG, ROTATION_TAG } from '../../../src/secrets/journal.js';
import { parseSecretRef } from '../../../src/secrets/ref.js';
import { SecretValue } from '../../../src/secrets/value.js';
import { canary, expectNoLeak, expectCleanFailure } from '../../helpers/canary.js';
import { startAzureKeyVaultEmulator, type AzureKeyVaultEmulator } from './azure-emulator.js';

// The real @azure/keyvault-secrets client (https vault URL, challenge authentication, retry policy) with
// only its transport swapped for one that reaches the loopback emulator, and a static TokenCredential.
let emu: AzureKeyVaultEmulator;
const ACCESS_TOKEN = canary('aadtoken');
const scopes: string[] = [];
const credential: TokenCredential = {
  async getToken(scope) {
    scopes.push(...[scope].flat());
    return { token: ACCESS_TOKEN, expiresOnTimestamp: Date.now() + 3_600_000 };
  },
};
let b: AzureKeyVaultBackend;

beforeAll(async () => {
  emu = await startAzureKeyVaultEmulator({ token: ACCESS_TOKEN });
});
afterAll(() => emu.close());
beforeEach(() => {
  emu.state.reset();
  b = new AzureKeyVaultBackend({ env: {}, credential, clientOptions: { httpClient: emu.httpClient(), retryOptions: { maxRetries: 2, retryDelayInMs: 10, maxRetryDelayInMs: 50 } } });
});

const ref = (s: string) => parseSecretRef(s);
const R = 'azure-kv://acme-kv/clari-token';

const failure = (p: Promise<unknown>, exitCode: number, ...secrets: string[]) => expectCleanFailure(p, exitCode, [ACCESS_TOKEN, ...secrets]);

describe('azure-kv backend (real SDK, emulator transport)', () => {
  it('writes versions, tags stages per version, reads every stage, and authenticates via the challenge', async () => {
    const v1 = canary();
    const v2 = canary();
    const { versionId: id1 } = await b.write(ref(R), new SecretValue(v1));
    const { versionId: id2 } = await b.write(ref(R), new SecretValue(v2));
    expect(id1).toMatch(/^[0-9a-f]{32}$/);
    expect(scopes).toContain('https://vault.azure.net/.default');
    expect(emu.state.requests.some((q) => q.status === 401)).toBe(true);
    expect(emu.state.requests.every((q) => q.headers['x-emulated-host'] === 'acme-kv.vault.azure.net')).toBe(true);
    const versions = emu.state.secrets.get('clari-token')!.versions;
    expect(versions.map((v) => v.tags[AZURE_STAGE_TAG])).toEqual(['previous', 'current']);
    expect((await b.read(ref(R))).reveal()).toBe(v2);
    expect((await b.read(ref(R), { stage: 'previous' })).reveal()).toBe(v1);
    expect((await b.read(ref(R), { versionId: id1 })).reveal()).toBe(v1);
    const d = await b.describe(ref(R));
    expect(d.versions.map((v) => [v.id, v.stages])).toEqual([
      [id1, ['previous']],
      [id2, ['current']],
    ]);
    expect(d).toMatchObject({ backend: 'azure-kv', ageDays: 0, tags: {} });
    for (const q of emu.state.requests) expect(q.url + q.body).not.toContain(ACCESS_TOKEN);
  });

  it('pending, promote, disable old versions, tags and the rotation journal', async () => {
    const old = canary();
    const next = canary();
    await b.write(ref(R), new SecretValue(old), { tags: { owner: 'revops' } });
    const { versionId } = await b.write(ref(R), new SecretValue(next), { stage: 'pending' });
    expect((await b.read(ref(R))).reveal()).toBe(old);
    expect((await b.read(ref(R), { stage: 'pending' })).reveal()).toBe(next);
    await b.setTags(ref(R), { [ROTATION_TAG]: JSON.stringify({ step: 'test', startedAt: 'a', updatedAt: 'b' }) });
    let d = await b.describe(ref(R));
    expect(d.tags).toMatchObject({ owner: 'revops' });
    expect(d.rotation).toMatchObject({ step: 'test' });
    await b.promote(ref(R), versionId);
    d = await b.describe(ref(R));
    expect(Object.fromEntries(d.versions.map((v) => [v.id, v.stages]))[versionId]).toEqual(['current']);
    expect(d.rotatedAt).toMatch(/^\d{4}-/);
    expect(d.versions.find((v) => v.id !== versionId)!.stages).toEqual(['previous']);
    const oldId = d.versions.find((v) => v.id !== versionId)!.id;
    await failure(b.deleteVersion(ref(R), versionId), 2);
    await b.deleteVersion(ref(R), oldId);
    expect(emu.state.secrets.get('clari-token')!.versions.find((v) => v.id === oldId)!.enabled).toBe(false);
    d = await b.describe(ref(R));
    expect(d.versions.map((v) => v.id)).toEqual([versionId]);
    // (the emulator spaces version creation times a second apart, so they can be a little ahead)
    expect(Date.parse(d.rotatedAt!)).toBeGreaterThanOrEqual(Date.parse(d.tags[ROTATED_AT_TAG]));
    // A rollback re-promotes the old version and restores the old date, which then wins.
    await b.promote(ref(R), oldId).catch(() => undefined);
    await b.setTags(ref(R), { [ROTATED_AT_TAG]: '2026-01-02T03:04:05.000Z' });
    expect((await b.describe(ref(R))).tags[ROTATED_AT_TAG]).toBe('2026-01-02T03:04:05.000Z');
    await b.setTags(ref(R), { [ROTATION_TAG]: null });
    expect((await b.describe(ref(R))).rotation).toBeNull();
  });

  it('request tokens make retried writes idempotent', async () => {
    const v = canary();
    await b.write(ref(R), new SecretValue(canary()));
    const a = await b.write(ref(R), new SecretValue(v), { requestToken: 'rot-1', stage: 'pending' });
    expect(await b.write(ref(R), new SecretValue(v), { requestToken: 'rot-1', stage: 'pending' })).toEqual(a);
    expect(emu.state.secrets.get('clari-token')!.versions).toHaveLength(2);
    const other = canary();
    const e = await failure(b.write(ref(R), new SecretValue(other), { requestToken: 'rot-1', stage: 'pending' }), 2, other, v);
    expect(e.code).toBe('idempotency_conflict');
  });

  it('treats a version written outside clariguard as current', async () => {
    await b.write(ref(R), new SecretValue(canary()));
    const outside = canary();
    const s = emu.state.secrets.get('clari-token')!;
    const last = s.versions[s.versions.length - 1];
    s.versions.push({ id: 'f'.repeat(32), value: outside, enabled: true, created: last.created + 5, updated: last.created + 5, tags: {} });
    expect((await b.read(ref(R))).reveal()).toBe(outside);
  });

  it('maps 404, 403, 409, 429 and bad refs; lists and soft-deletes', async () => {
    const v = canary();
    let e = await failure(b.read(ref(R)), 66);
    expect(e.message).toBe(`${R}: no such secret or version in Azure Key Vault`);
    await b.write(ref(R), new SecretValue(v));
    emu.state.denied.add('GET clari-token');
    e = await failure(b.read(ref(R)), 77, v);
    expect(e.message).toMatch(/access denied \(Forbidden: the identity needs an RBAC role such as Key Vault Secrets User/);
    emu.state.denied.clear();
    emu.state.faults = [{ status: 429, remaining: 10 }];
    e = await failure(b.read(ref(R)), 75, v);
    expect(e.message).toMatch(/throttled by Key Vault/);
    emu.state.faults = [];
    await b.write(ref('azure-kv://acme-kv/other'), new SecretValue(canary()));
    expect(await b.list('acme-kv')).toEqual(['azure-kv://acme-kv/clari-token', 'azure-kv://acme-kv/other']);
    expect(await b.list('azure-kv://acme-kv/cl')).toEqual(['azure-kv://acme-kv/clari-token']);
    await b.remove(ref('azure-kv://acme-kv/other'));
    await expect(b.read(ref('azure-kv://acme-kv/other'))).rejects.toBeInstanceOf(SecretNotFoundError);
    e = await failure(b.write(ref('azure-kv://acme-kv/other'), new SecretValue(v)), 2, v);
    expect(e.message).toMatch(/deleted but recoverable/);
    await failure(b.read(ref('azure-kv://acme-kv/bad_name')), 2);
  });
});
