import { afterEach, describe, expect, it } from 'vitest';
import { startSandbox, type SandboxHandle } from '../../src/sandbox/index.js';
import { canary } from '../helpers/canary.js';

describe('sandbox tokens', () => {
  let sb: SandboxHandle | undefined;
  afterEach(async () => {
    await sb?.close();
    sb = undefined;
  });

  const limits = (token: string) => fetch(`${sb!.url}/admin/limits`, { headers: { apikey: token } }).then((r) => r.status);

  it('accepts several tokens at once and stops accepting a revoked one, like Clari', async () => {
    const [a, b, c] = [canary('a'), canary('b'), canary('c')];
    sb = await startSandbox({ port: 0, token: a, tokens: [b] });
    expect(await limits(a)).toBe(200);
    expect(await limits(b)).toBe(200);
    expect(await limits(c)).toBe(401);
    sb.addToken(c);
    expect(await limits(c)).toBe(200);
    expect(sb.revokeToken(a)).toBe(true);
    expect(await limits(a)).toBe(401);
    expect(sb.revokeToken(a)).toBe(false);
    expect(await limits(b)).toBe(200);
  });
});
