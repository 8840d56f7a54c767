import { ClariApiError, createClariClient, DEFAULT_BASE_URL } from '../clari/index.js';
import { SecretValue } from '../secrets/value.js';

/** The outcome of checking a token against Clari. Network and server failures throw instead. */
export type TokenCheck = { ok: true } | { ok: false; status: number; detail: string };

/** Checks whether Clari accepts a token. Throws a ClariguardError (exit 69/75) when Clari can't be asked. */
export type TokenValidator = (token: SecretValue) => Promise<TokenCheck>;

export const DEFAULT_CLARI_BASE_URL = DEFAULT_BASE_URL;

/** The base URL: the option, else CLARI_BASE_URL, else Clari's public API. */
export function clariBaseUrl(baseUrl: string | undefined, env: Readonly<Record<string, string | undefined>> = process.env): string {
  return (baseUrl || env.CLARI_BASE_URL || DEFAULT_CLARI_BASE_URL).replace(/\/+$/, '');
}

/** A validator doing Clari's cheapest authenticated call, `GET /admin/limits`, through the Clari client. */
export function clariTokenValidator(baseUrl: string): TokenValidator {
  // Validates the URL now (https, or http to loopback only), before any token is involved.
  createClariClient({ baseUrl, token: new SecretValue('') });
  return async (token) => {
    // A short retry budget: the user is waiting, and resume can always try again.
    const client = createClariClient({ baseUrl, token, retry: { maxAttempts: 3, totalTimeoutMs: 30_000 } });
    try {
      await client.getLimits();
      return { ok: true };
    } catch (e) {
      if (e instanceof ClariApiError && (e.status === 401 || e.status === 403)) {
        return { ok: false, status: e.status, detail: `HTTP ${e.status} ${e.code} from GET ${client.baseUrl}/admin/limits` };
      }
      throw e;
    }
  };
}
