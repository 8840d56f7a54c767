/**
 * The sandbox and the Clari client together from the package entry, as a pipeline's own tests would use
 * them: the handle's stats type can be named, and a wrong token is a typed ClariApiError (exit code, no token).
 */
import { describe, expect, it } from 'vitest';
import { ClariApiError, createClariClient, SecretValue, startSandbox, type SandboxStats } from '../../src/index.js';
import { canary, expectNoLeak } from '../helpers/canary.js';

describe('sandbox library surface from the package entry', () => {
  it('serves the client; stats are typed; a wrong token is a ClariApiError without the token', async () => {
    const token = canary('cgsblib');
    const wrong = canary('cgsbwrong');
    const sb = await startSandbox({ token: new SecretValue(token), users: 5 });
    try {
      const limits = await createClariClient({ baseUrl: sb.url, token: new SecretValue(token) }).getLimits();
      expect(limits.monthlyQuota).toBeGreaterThan(0);
      const err = await createClariClient({ baseUrl: sb.url, token: new SecretValue(wrong), retry: { maxAttempts: 1 } })
        .getLimits()
        .catch((e: unknown) => e);
      expect(err).toBeInstanceOf(ClariApiError);
      expect((err as ClariApiError).exitCode).toBeGreaterThan(1);
      expectNoLeak(String((err as Error).message) + String((err as Error).stack), wrong, 'error');
      const s: SandboxStats = sb.stats();
      expect(s.requests).toBeGreaterThanOrEqual(2);
    } finally {
      await sb.close();
    }
  });
});
