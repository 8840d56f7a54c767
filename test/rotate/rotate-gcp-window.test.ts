import { SecretManagerServiceClient } from '@google-cloud/secret-manager';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { rollbackRotation, rotateToken } from '../../src/rotate/index.js';
import { describeSecret, readSecret, registerBackend, SecretValue, writeSecret } from '../../src/secrets/index.js';
import { canary } from '../helpers/canary.js';
import { emulatorBackend, startGcpSecretManagerEmulator, type GcpEmulator } from '../secrets/backends/gcp-emulator.js';

// GCP stores the pending token with addSecretVersion, then points the `pending` alias at it (updateSecret):
// two calls. An unaliased newer version counts as current (added by another client), so a reader, or a
// crash, between the two must still not get the untested token as current.
const ACCESS_TOKEN = canary('ya29');
const REF = 'gcp-sm://projects/acme/secrets/clari-token';
let emu: GcpEmulator;
const clients: SecretManagerServiceClient[] = [];
beforeAll(async () => {
  emu = await startGcpSecretManagerEmulator({ token: ACCESS_TOKEN });
  registerBackend('gcp-sm', (ctx) => emulatorBackend(emu, ACCESS_TOKEN, clients, ctx.env));
});
afterAll(async () => {
  for (const c of clients) await c.close();
  await emu.close();
});
beforeEach(() => emu.state.reset());

describe('rotate on gcp-sm:// between addSecretVersion and the pending alias', () => {
  it('the new token is never current, even when the process dies right after the version is added', async () => {
    const oldToken = canary('cgold');
    const newToken = canary('cgnew');
    await writeSecret(REF, oldToken, {});
    const reqs = emu.state.requests;
    const push = reqs.push.bind(reqs);
    reqs.push = (...items) => {
      // From the version add on, every secret update fails: the process "dies" right after it.
      for (const r of items) if (r.method === 'POST' && /:addVersion/.test(r.url)) emu.state.denied.add('secrets.update');
      return push(...items);
    };
    const e = await rotateToken(REF, { newToken: new SecretValue(newToken), validator: async () => ({ ok: true, detail: 'ok' }) }).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(Error);
    emu.state.denied.clear();
    expect((await readSecret(REF, {})).reveal()).toBe(oldToken);
    expect((await readSecret(REF, { stage: 'pending' })).reveal()).toBe(newToken);
    // The interrupted rotation is visible and can be abandoned.
    expect((await describeSecret(REF, {})).rotation?.step).toBe('create');
    expect((await rollbackRotation(REF, { validator: async () => ({ ok: true, detail: 'ok' }) })).outcome).toBe('abandoned');
    expect((await readSecret(REF, {})).reveal()).toBe(oldToken);
    await expect(readSecret(REF, { stage: 'pending' })).rejects.toThrow();
    expect(Object.keys((await describeSecret(REF, {})).tags)).toEqual([]);
    // A version added later by another client is current again, not taken for a pending one.
    const external = canary('cgext');
    emu.state.requests.push = push;
    const s = [...emu.state.secrets.values()][0]!;
    expect(s.versions.length).toBe(2);
    await writeSecret(REF, external, {});
    expect((await readSecret(REF, {})).reveal()).toBe(external);
  });

  it('a secret first written by another tool (no clariguard stage marks) keeps its token current until promotion', async () => {
    const oldToken = canary('cgold');
    const newToken = canary('cgnew');
    await writeSecret(REF, oldToken, {});
    for (const s of emu.state.secrets.values()) { s.versionAliases = {}; s.labels = {}; }
    const seen: string[] = [];
    await rotateToken(REF, {
      ...{},
      newToken: new SecretValue(newToken),
      validator: async () => ({ ok: true, detail: 'ok' }),
      afterStep: async (c) => {
        if (c !== 'promote') seen.push(`${c}:${(await readSecret(REF, {})).reveal() === oldToken ? 'old' : 'new'}`);
      },
    });
    expect(seen).toEqual(['create:old', 'test:old', 'set:old']);
    expect((await readSecret(REF, {})).reveal()).toBe(newToken);
    expect((await readSecret(REF, { ...{}, stage: 'previous' })).reveal()).toBe(oldToken);
  });
});
