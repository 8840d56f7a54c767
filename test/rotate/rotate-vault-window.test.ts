import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { rotateToken } from '../../src/rotate/index.js';
import { readSecret, SecretValue, writeSecret } from '../../src/secrets/index.js';
import { canary } from '../helpers/canary.js';
import { expectOldTokenCurrentUntilPromote } from './harness.js';
import { startVaultEmulator, type VaultEmulator, type VaultRecordedRequest } from '../secrets/backends/vault-emulator.js';

// KV v2 stores the pending token as a new version and marks it pending in custom_metadata: two requests.
// Until the mark lands, a newer unmarked version counts as current (written by another tool), so the
// mark must come first: a crash (or a reader) between the two must never see the untested token as current.
const TOKEN = canary('hvs');
const REF = 'vault://secret/clari/prod#token';
let vault: VaultEmulator;
let env: Record<string, string>;
beforeAll(async () => {
  vault = await startVaultEmulator({ token: TOKEN });
});
afterAll(() => vault.close());
beforeEach(() => {
  vault.state.reset();
  env = { VAULT_ADDR: vault.address, VAULT_TOKEN: TOKEN };
});

describe('rotate on vault:// between the version write and the pending mark', () => {
  it('the new token is never current, even when the process dies right after the data write', async () => {
    const oldToken = canary('cgold');
    const newToken = canary('cgnew');
    await writeSecret(REF, oldToken, { env });
    const seenAsCurrent: string[] = [];
    const reqs = vault.state.requests;
    const push = reqs.push.bind(reqs);
    let dataWrites = 0;
    reqs.push = (...items: VaultRecordedRequest[]) => {
      for (const r of items) {
        if (r.method === 'POST' && /\/data\//.test(r.url) && ++dataWrites === 1) {
          // From the data write on, every metadata change fails: the process "dies" after it.
          vault.state.deniedPaths.push(/^secret\/metadata\//);
        }
      }
      return push(...items);
    };
    const e = await rotateToken(REF, { env, newToken: new SecretValue(newToken), validator: async () => ({ ok: true, detail: 'ok' }) }).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(Error);
    vault.state.deniedPaths.length = 0;
    seenAsCurrent.push((await readSecret(REF, { env })).reveal());
    expect(seenAsCurrent).toEqual([oldToken]);
  });

  it('a secret first written by another tool (vault kv put, no stage map) keeps its token current during the rotation', async () => {
    const oldToken = canary('cgold');
    const newToken = canary('cgnew');
    vault.state.externalPut('secret', 'clari/prod', { token: oldToken });
    await expectOldTokenCurrentUntilPromote(REF, env, oldToken, newToken);
  });
});
