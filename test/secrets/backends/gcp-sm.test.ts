import { SecretManagerServiceClient } from '@google-cloud/secret-manager';
import { OAuth2Client } from 'google-auth-library';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { SecretNotFoundError } from '../../../src/errors.js';
import { GcpSecretManagerBackend, crc32c } from '../../../src/secrets/backends/gcp-sm.js';
import { ROTATED_AT_TAG, ROTATION_TAG } from '../../../src/secrets/journal.js';
import { parseSecretRef } from '../../../src/secrets/ref.js';
import { SecretValue } from '../../../src/secrets/value.js';
import { canary, expectNoLeak, expectCleanFailure } from '../../helpers/canary.js';
import { emulatorBackend, startGcpSecretManagerEmulator, type GcpEmulator } from './gcp-emulator.js';

// The real @google-cloud/secret-manager client in its HTTP/1.1 REST mode (fallback: true), pointed at the
// local emulator through gcloud's endpoint override variable, with a static OAuth access token.
let emu: GcpEmulator;
const ACCESS_TOKEN = canary('ya29');
let b: GcpSecretManagerBackend;
const clients: SecretManagerServiceClient[] = [];

beforeAll(async () => {
  emu = await startGcpSecretManagerEmulator({ token: ACCESS_TOKEN });
});
afterAll(async () => {
  for (const c of clients) await c.close();
  await emu.close();
});
function backend(): GcpSecretManagerBackend {
  return emulatorBackend(emu, ACCESS_TOKEN, clients);
}
beforeEach(() => {
  emu.state.reset();
  b = backend();
});

const ref = (s: string) => parseSecretRef(s);
const R = 'gcp-sm://projects/acme/secrets/clari-token';

const failure = (p: Promise<unknown>, exitCode: number, ...secrets: string[]) => expectCleanFailure(p, exitCode, [ACCESS_TOKEN, ...secrets]);

describe('gcp-sm backend (real SDK over REST against the emulator)', () => {
  it('creates the secret, adds versions, and keeps stages as version aliases', async () => {
    const v1 = canary();
    const v2 = canary();
    expect(await b.write(ref(R), new SecretValue(v1))).toEqual({ versionId: '1' });
    expect(await b.write(ref(R), new SecretValue(v2))).toEqual({ versionId: '2' });
    const s = emu.state.secrets.get('projects/acme/secrets/clari-token')!;
    expect(s.labels).toEqual({ 'managed-by': 'clariguard' });
    expect(s.versionAliases).toEqual({ current: 2, previous: 1 });
    expect((await b.read(ref(R))).reveal()).toBe(v2);
    expect((await b.read(ref(R), { stage: 'previous' })).reveal()).toBe(v1);
    expect((await b.read(ref(R), { versionId: '1' })).reveal()).toBe(v1);
    const d = await b.describe(ref(R));
    expect(d.versions).toEqual([
      { id: '1', stages: ['previous'], createdAt: expect.any(String) },
      { id: '2', stages: ['current'], createdAt: expect.any(String) },
    ]);
    expect(d).toMatchObject({ backend: 'gcp-sm', ageDays: 0, tags: {} });
    // The payload checksum went with every write; the access token only in the Authorization header.
    const adds = emu.state.requests.filter((q) => q.url.includes(':addVersion')).map((q) => JSON.parse(q.body));
    expect(Number(adds[0].payload.dataCrc32c)).toBe(crc32c(Buffer.from(v1)));
    // CRC-32C's standard check value (RFC 3720): the checksum the service verifies is the real one.
    expect(crc32c(Buffer.from('123456789'))).toBe(0xe3069283);
    for (const q of emu.state.requests) expect(q.url + q.body).not.toContain(ACCESS_TOKEN);
  });

  it('pending, promote (one etag-guarded update), destroy old versions, tags as annotations', async () => {
    const old = canary();
    const next = canary();
    await b.write(ref(R), new SecretValue(old));
    const { versionId } = await b.write(ref(R), new SecretValue(next), { stage: 'pending' });
    expect((await b.read(ref(R))).reveal()).toBe(old);
    expect((await b.read(ref(R), { stage: 'pending' })).reveal()).toBe(next);
    await b.setTags(ref(R), { [ROTATION_TAG]: JSON.stringify({ step: 'set', startedAt: 'x', updatedAt: 'y' }) });
    const s = emu.state.secrets.get('projects/acme/secrets/clari-token')!;
    expect(Object.keys(s.annotations)).toEqual(['clariguard--rotation']);
    expect((await b.describe(ref(R))).rotation).toMatchObject({ step: 'set' });
    await b.promote(ref(R), versionId);
    expect(s.versionAliases).toEqual({ current: 2, previous: 1 });
    let d = await b.describe(ref(R));
    expect(d.rotatedAt).toBe(d.tags[ROTATED_AT_TAG]);
    await failure(b.deleteVersion(ref(R), '2'), 2);
    await b.deleteVersion(ref(R), '1');
    expect(s.versions.find((v) => v.n === 1)).toMatchObject({ state: 3, data: null });
    expect(s.versionAliases).toEqual({ current: 2 });
    d = await b.describe(ref(R));
    expect(d.versions.map((v) => v.id)).toEqual(['2']);
    await b.setTags(ref(R), { [ROTATION_TAG]: null });
    expect((await b.describe(ref(R))).rotation).toBeNull();
    await failure(b.setTags(ref(R), { 'bad key!': 'x' }), 2);
  });

  it('request tokens: a retry returns the same version; an interrupted write is completed, not duplicated', async () => {
    const v = canary();
    await b.write(ref(R), new SecretValue(canary()));
    const a = await b.write(ref(R), new SecretValue(v), { requestToken: 'rot-1', stage: 'pending' });
    expect(await b.write(ref(R), new SecretValue(v), { requestToken: 'rot-1', stage: 'pending' })).toEqual(a);
    const other = canary();
    const e = await failure(b.write(ref(R), new SecretValue(other), { requestToken: 'rot-1', stage: 'pending' }), 2, other, v);
    expect(e.code).toBe('idempotency_conflict');
    // addSecretVersion landed, the alias update did not: the retry adopts version 3.
    const s = emu.state.secrets.get('projects/acme/secrets/clari-token')!;
    const w = canary();
    s.versions.push({ n: 3, data: Buffer.from(w).toString('base64'), state: 1, createTime: new Date().toISOString() });
    expect(await b.write(ref(R), new SecretValue(w), { requestToken: 'rot-2', stage: 'pending' })).toEqual({ versionId: '3' });
    expect(s.versions).toHaveLength(3);
    expect(s.versionAliases.pending).toBe(3);
  });

  it('reads with roles/secretmanager.secretAccessor only (the alias, or latest for foreign secrets)', async () => {
    const v1 = canary();
    const v2 = canary();
    await b.write(ref(R), new SecretValue(v1));
    await b.write(ref(R), new SecretValue(v2), { stage: 'pending' });
    emu.state.denied.add('secrets.get');
    emu.state.denied.add('versions.list');
    expect((await b.read(ref(R))).reveal()).toBe(v1);
    expect((await b.read(ref(R), { stage: 'pending' })).reveal()).toBe(v2);
    emu.state.secrets.get('projects/acme/secrets/clari-token')!.versionAliases = {};
    expect((await b.read(ref(R))).reveal()).toBe(v2);
  });

  it('maps NOT_FOUND, PERMISSION_DENIED, UNAUTHENTICATED, FAILED_PRECONDITION and ABORTED', async () => {
    const v = canary();
    let e = await failure(b.read(ref(R)), 66);
    expect(e.message).toBe(`${R}: no such secret in Google Secret Manager`);
    await b.write(ref(R), new SecretValue(v));
    emu.state.denied.add('versions.access');
    e = await failure(b.read(ref(R)), 77, v);
    expect(e.message).toMatch(/^gcp-sm store: accessSecretVersion failed: .*permission denied/);
    emu.state.denied.clear();
    emu.state.secrets.get('projects/acme/secrets/clari-token')!.versions[0].state = 2;
    e = await failure(b.read(ref(R), { versionId: '1' }), 66, v);
    expect(e.message).toMatch(/disabled or destroyed/);
    emu.state.secrets.get('projects/acme/secrets/clari-token')!.versions[0].state = 1;
    emu.state.beforeUpdate = (s) => {
      s.etag = '"changed-by-someone-else"';
    };
    e = await failure(b.setTags(ref(R), { owner: 'x' }), 75);
    expect(e.message).toMatch(/etag mismatch/);
    emu.state.beforeUpdate = undefined;
    const wrongToken = new GcpSecretManagerBackend({
      env: { CLOUDSDK_API_ENDPOINT_OVERRIDES_SECRETMANAGER: emu.endpoint },
      clientFactory: (opts) => {
        const auth = new OAuth2Client();
        auth.setCredentials({ access_token: 'wrong', expiry_date: Date.now() + 3_600_000 });
        const c = new SecretManagerServiceClient({ ...opts, authClient: auth });
        clients.push(c);
        return c;
      },
    });
    e = await failure(wrongToken.read(ref(R)), 77);
    expect(e.message).toMatch(/Google rejected or found no credentials/);
    await failure(b.read(ref('gcp-sm://acme/clari-token')), 2);
  });

  it('lists under a project and reports readers from the secret IAM policy', async () => {
    await b.write(ref(R), new SecretValue(canary()));
    await b.write(ref('gcp-sm://projects/acme/secrets/other'), new SecretValue(canary()));
    expect(await b.list('projects/acme')).toEqual([R, 'gcp-sm://projects/acme/secrets/other']);
    expect(await b.list('gcp-sm://projects/acme/secrets/cla')).toEqual([R]);
    emu.state.secrets.get('projects/acme/secrets/clari-token')!.iamBindings = [
      { role: 'roles/secretmanager.secretAccessor', members: ['serviceAccount:etl@acme.iam.gserviceaccount.com', 'allAuthenticatedUsers'] },
      { role: 'roles/secretmanager.viewer', members: ['group:auditors@acme.com'] },
    ];
    const r = await b.readers(ref(R));
    expect(r.wildcard).toBe(true);
    expect(r.principals).toEqual(['serviceAccount:etl@acme.iam.gserviceaccount.com', 'allAuthenticatedUsers']);
    expect(r.evidence[1]).toBe('roles/secretmanager.viewer: group:auditors@acme.com');
    await b.remove(ref('gcp-sm://projects/acme/secrets/other'));
    await expect(b.describe(ref('gcp-sm://projects/acme/secrets/other'))).rejects.toBeInstanceOf(SecretNotFoundError);
  });
});
