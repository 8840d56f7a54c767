import { mkdirSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { SecretNotFoundError } from '../../../src/errors.js';
import { VAULT_STAGE_KEY, VaultBackend } from '../../../src/secrets/backends/vault.js';
import { ROTATED_AT_TAG, ROTATION_TAG } from '../../../src/secrets/journal.js';
import { parseSecretRef } from '../../../src/secrets/ref.js';
import { SecretValue } from '../../../src/secrets/value.js';
import { canary, expectNoLeak, expectCleanFailure } from '../../helpers/canary.js';
import { tempDir } from '../../helpers/cli.js';
import { startVaultEmulator, type VaultEmulator } from './vault-emulator.js';

let vault: VaultEmulator;
let env: Record<string, string>;
let b: VaultBackend;
const TOKEN = canary('hvs');

beforeAll(async () => {
  vault = await startVaultEmulator({ token: TOKEN, namespace: 'team/revops', mounts: ['secret', 'kv'] });
  env = { VAULT_ADDR: vault.address, VAULT_TOKEN: TOKEN, VAULT_NAMESPACE: 'team/revops' };
});
afterAll(() => vault.close());
beforeEach(() => {
  vault.state.reset();
  b = new VaultBackend({ env });
});

const ref = (s: string) => parseSecretRef(s);

/** A loopback port nothing listens on. */
async function closedPort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const { port } = srv.address() as AddressInfo;
  await new Promise((r) => srv.close(r));
  return port;
}

const failure = (p: Promise<unknown>, exitCode: number, ...secrets: string[]) => expectCleanFailure(p, exitCode, [TOKEN, ...secrets]);

describe('vault backend (KV v2)', () => {
  it('writes with check-and-set, keeps other fields, and maps stages through custom_metadata', async () => {
    const r = ref('vault://secret/clari/prod#token');
    const v1 = canary();
    const v2 = canary();
    expect(await b.write(r, new SecretValue(v1))).toEqual({ versionId: '1' });
    vault.state.secret('secret', 'clari/prod')!.versions.get(1)!.data!.client_id = 'cid-123';
    expect(await b.write(r, new SecretValue(v2))).toEqual({ versionId: '2' });
    const writes = vault.state.requests.filter((q) => q.method === 'POST' && q.url === '/v1/secret/data/clari/prod').map((q) => JSON.parse(q.body));
    expect(writes.map((w) => w.options)).toEqual([{ cas: 0 }, { cas: 1 }]);
    expect(vault.state.secret('secret', 'clari/prod')!.versions.get(2)!.data).toEqual({ token: v2, client_id: 'cid-123' });
    expect((await b.read(r)).reveal()).toBe(v2);
    expect((await b.read(r, { stage: 'previous' })).reveal()).toBe(v1);
    expect((await b.read(r, { versionId: '1' })).reveal()).toBe(v1);
    expect((await b.read(ref('vault://secret/clari/prod#client_id'))).reveal()).toBe('cid-123');
    const d = await b.describe(r);
    expect(d.versions).toEqual([
      { id: '1', stages: ['previous'], createdAt: expect.any(String) },
      { id: '2', stages: ['current'], createdAt: expect.any(String) },
    ]);
    expect(d.tags).toEqual({});
    expect(d.ageDays).toBe(0);
    expect(vault.state.secret('secret', 'clari/prod')!.custom_metadata).toMatchObject({ [VAULT_STAGE_KEY.current]: '2', [VAULT_STAGE_KEY.previous]: '1' });
    // Namespace and token headers on every request; the token never in a URL or body.
    for (const q of vault.state.requests) {
      expect(q.headers['x-vault-namespace']).toBe('team/revops');
      expect(q.url + q.body).not.toContain(TOKEN);
    }
  });

  it('pending write, promote, previous; destroy an old version; rotation journal in custom_metadata', async () => {
    const r = ref('vault://secret/rot#value');
    const old = canary();
    const next = canary();
    await b.write(r, new SecretValue(old));
    const { versionId } = await b.write(r, new SecretValue(next), { stage: 'pending' });
    expect((await b.read(r)).reveal()).toBe(old);
    expect((await b.read(r, { stage: 'pending' })).reveal()).toBe(next);
    const journal = JSON.stringify({ step: 'test', pendingVersionId: versionId, startedAt: new Date().toISOString(), updatedAt: new Date().toISOString() });
    await b.setTags(r, { [ROTATION_TAG]: journal });
    expect((await b.describe(r)).rotation).toMatchObject({ step: 'test', pendingVersionId: '2' });
    await b.promote(r, versionId);
    let d = await b.describe(r);
    expect(Object.fromEntries(d.versions.map((v) => [v.id, v.stages]))).toEqual({ '1': ['previous'], '2': ['current'] });
    expect(d.rotatedAt).toBe(d.tags[ROTATED_AT_TAG]);
    await b.promote(r, versionId); // idempotent
    await failure(b.deleteVersion(r, '2'), 2);
    await b.deleteVersion(r, '1');
    expect(vault.state.secret('secret', 'rot')!.versions.get(1)).toMatchObject({ destroyed: true, data: null });
    d = await b.describe(r);
    expect(d.versions.map((v) => v.id)).toEqual(['2']);
    await b.setTags(r, { [ROTATION_TAG]: null, owner: 'revops' });
    d = await b.describe(r);
    expect(d.tags).toEqual({ [ROTATED_AT_TAG]: expect.any(String), owner: 'revops' });
    await expect(b.read(r, { stage: 'previous' })).rejects.toBeInstanceOf(SecretNotFoundError);
  });

  it('fails with a one-line conflict error (exit 75) when check-and-set does not match', async () => {
    const r = ref('vault://secret/cas#value');
    await b.write(r, new SecretValue(canary()));
    const v = canary();
    // Another writer lands between our metadata read and our write.
    const racing = new VaultBackend({
      env,
      fetch: async (input, init) => {
        if (init?.method === 'POST' && String(input).includes('/data/')) vault.state.externalPut('secret', 'cas', { value: 'someone-else' });
        return fetch(input, init);
      },
    });
    const e = await failure(racing.write(r, new SecretValue(v)), 75, v);
    expect(e.message).toBe(
      'vault store: write failed: vault://secret/cas#value: the secret changed while writing (check-and-set conflict: check-and-set parameter did not match the current version); try again',
    );
  });

  it('honours request tokens: a retry returns the same version, another value is refused', async () => {
    const r = ref('vault://secret/idem#value');
    const v = canary();
    const a = await b.write(r, new SecretValue(v), { requestToken: 'create-once:vault://secret/idem' });
    const again = await b.write(r, new SecretValue(v), { requestToken: 'create-once:vault://secret/idem' });
    expect(again).toEqual(a);
    expect(vault.state.secret('secret', 'idem')!.current_version).toBe(1);
    const other = canary();
    const e = await failure(b.write(r, new SecretValue(other), { requestToken: 'create-once:vault://secret/idem' }), 2, other, v);
    expect(e.code).toBe('idempotency_conflict');
    // A crash after the data write but before the metadata update: the retry adopts the orphan version.
    const p = canary();
    vault.state.externalPut('secret', 'idem', { value: p });
    const adopted = await b.write(r, new SecretValue(p), { requestToken: 'rot-7', stage: 'pending' });
    expect(adopted).toEqual({ versionId: '2' });
    expect(vault.state.secret('secret', 'idem')!.current_version).toBe(2);
  });

  it('treats a version written outside clariguard (vault kv put) as current', async () => {
    const r = ref('vault://secret/ext');
    await b.write(r, new SecretValue(canary()));
    const outside = canary();
    vault.state.externalPut('secret', 'ext', { value: outside });
    expect((await b.read(r)).reveal()).toBe(outside);
    const d = await b.describe(r);
    expect(Object.fromEntries(d.versions.map((v) => [v.id, v.stages]))).toEqual({ '1': ['previous'], '2': ['current'] });
  });

  it('maps 403, 404, sealed, rate limits, bad addresses and missing config to clear errors', async () => {
    const secret = canary();
    await b.write(ref('vault://secret/e#value'), new SecretValue(secret));
    let e = await failure(b.read(ref('vault://secret/none#value')), 66);
    expect(e.message).toBe('vault://secret/none#value: no such secret in Vault');
    e = await failure(b.read(ref('vault://nomount/x#value')), 66);
    expect(e.message).toMatch(/no such mount or route/);
    e = await failure(new VaultBackend({ env: { ...env, VAULT_NAMESPACE: 'other' } }).read(ref('vault://secret/e')), 66);

    vault.state.deniedPaths.push(/^secret\/data\/e$/);
    e = await failure(b.read(ref('vault://secret/e#value')), 77, secret);
    expect(e.message).toBe(
      "vault store: read failed: vault://secret/e#value: permission denied for GET /v1/secret/data/e (check the token's Vault policy and VAULT_NAMESPACE)",
    );
    vault.state.deniedPaths.length = 0;
    e = await failure(new VaultBackend({ env: { ...env, VAULT_TOKEN: canary('wrongtoken') } }).read(ref('vault://secret/e')), 77);

    vault.state.injectFault('rateLimit', 2, 'GET');
    expect((await b.read(ref('vault://secret/e'))).reveal()).toBe(secret);
    vault.state.injectFault('sealed', 10, 'GET');
    e = await failure(b.read(ref('vault://secret/e')), 69, secret);
    expect(e.message).toMatch(/Vault is unavailable \(sealed\) after 4 attempts/);
    vault.state.faults.length = 0;

    const closed = await closedPort();
    e = await failure(new VaultBackend({ env: { ...env, VAULT_ADDR: `http://127.0.0.1:${closed}` } }).read(ref('vault://secret/e')), 69);
    expect(e.message).toMatch(new RegExp(`cannot reach Vault at http://127\\.0\\.0\\.1:${closed} \\(ECONNREFUSED\\)`));
    e = await failure(new VaultBackend({ env: { VAULT_TOKEN: TOKEN } }).read(ref('vault://secret/e')), 78);
    expect(e.message).toMatch(/set VAULT_ADDR/);
    const { dir, cleanup } = tempDir();
    try {
      e = await failure(new VaultBackend({ env: { VAULT_ADDR: vault.address, HOME: dir } }).read(ref('vault://secret/e')), 78);
      expect(e.message).toMatch(/VAULT_TOKEN or run `vault login`/);
      mkdirSync(dir, { recursive: true });
      writeFileSync(join(dir, '.vault-token'), `${TOKEN}\n`, { mode: 0o600 });
      const viaFile = new VaultBackend({ env: { VAULT_ADDR: vault.address, HOME: dir, VAULT_NAMESPACE: 'team/revops' } });
      expect((await viaFile.read(ref('vault://secret/e'))).reveal()).toBe(secret);
    } finally {
      cleanup();
    }
    await failure(b.read(ref('vault://justmount')), 2);
  });

  it('reads the current version with a policy that only grants read on MOUNT/data/PATH', async () => {
    const v = canary();
    await b.write(ref('vault://secret/narrow#value'), new SecretValue(v));
    vault.state.deniedPaths.push(/^secret\/metadata\//);
    expect((await b.read(ref('vault://secret/narrow#value'))).reveal()).toBe(v);
    await failure(b.read(ref('vault://secret/narrow#value'), { stage: 'previous' }), 77, v);
  });

  it('asks for #FIELD when a secret has several fields and none is called value', async () => {
    vault.state.externalPut('secret', 'multi', { user: 'svc', password: canary() });
    const e = await failure(b.read(ref('vault://secret/multi')), 2);
    expect(e.message).toMatch(/has 2 fields; name one with #FIELD \(fields: user, password\)/);
  });

  it('lists recursively under a prefix and removes all versions', async () => {
    for (const p of ['clari/prod/token', 'clari/dev/token', 'clari/x', 'other/y']) await b.write(ref(`vault://secret/${p}`), new SecretValue(canary()));
    expect(await b.list('secret/clari/')).toEqual(['vault://secret/clari/dev/token', 'vault://secret/clari/prod/token', 'vault://secret/clari/x']);
    expect(await b.list('vault://secret/clari/pr')).toEqual(['vault://secret/clari/prod/token']);
    expect(await b.list('kv/')).toEqual([]);
    await b.remove(ref('vault://secret/clari/x'));
    expect(vault.state.secret('secret', 'clari/x')).toBeUndefined();
    await expect(b.remove(ref('vault://secret/clari/x'))).rejects.toBeInstanceOf(SecretNotFoundError);
  });

  it('refuses to remove a #FIELD ref while the secret holds other fields (rm would delete them too)', async () => {
    const token = canary();
    const db = canary();
    await b.write(ref('vault://secret/app#token'), new SecretValue(token));
    await b.write(ref('vault://secret/app#db_password'), new SecretValue(db));
    const err = await failure(b.remove(ref('vault://secret/app#token')), 2, token, db);
    expect(err.message).toMatch(/db_password/);
    expect((await b.read(ref('vault://secret/app#db_password'))).reveal()).toBe(db);
    expect((await b.read(ref('vault://secret/app#token'))).reveal()).toBe(token);
    // The whole secret, named without #FIELD, or a field that is the only one, can be removed.
    await b.write(ref('vault://secret/solo#token'), new SecretValue(token));
    await b.remove(ref('vault://secret/solo#token'));
    expect(vault.state.secret('secret', 'solo')).toBeUndefined();
    await b.remove(ref('vault://secret/app'));
    expect(vault.state.secret('secret', 'app')).toBeUndefined();
  });
});
