import { ClariguardError, ExitCode } from '../errors.js';
import type { SecretValue } from '../secrets/value.js';

/** The outcome of checking a token against Clari. Network and server failures throw instead. */
export type TokenCheck = { ok: true } | { ok: false; status: number; detail: string };

/** Checks whether Clari accepts a token. Throws a ClariguardError (exit 69) when Clari can't be asked. */
export type TokenValidator = (token: SecretValue) => Promise<TokenCheck>;

export const DEFAULT_CLARI_BASE_URL = 'https://api.clari.com/v4';

/** The base URL: the option, else CLARI_BASE_URL, else Clari's public API. */
export function clariBaseUrl(baseUrl: string | undefined, env: Readonly<Record<string, string | undefined>> = process.env): string {
  return (baseUrl || env.CLARI_BASE_URL || DEFAULT_CLARI_BASE_URL).replace(/\/+$/, '');
}

/** A validator doing Clari's cheapest authenticated call, `GET /admin/limits`. */
export function clariTokenValidator(baseUrl: string): TokenValidator {
  return async (token) => {
    let res: Response;
    try {
      res = await fetch(`${baseUrl}/admin/limits`, {
        headers: { apikey: token.reveal(), accept: 'application/json' },
        redirect: 'error',
        signal: AbortSignal.timeout(30_000),
      });
    } catch (e) {
      const err = e as Error & { cause?: { code?: string } };
      throw new ClariguardError(`cannot reach Clari at ${baseUrl} (GET /admin/limits): ${err.cause?.code ?? err.name}`, {
        exitCode: ExitCode.unavailable,
        code: 'clari_unreachable',
      });
    }
    await res.body?.cancel().catch(() => undefined);
    if (res.ok) return { ok: true };
    if (res.status === 401 || res.status === 403) return { ok: false, status: res.status, detail: `HTTP ${res.status} from GET ${baseUrl}/admin/limits` };
    throw new ClariguardError(`Clari at ${baseUrl} answered HTTP ${res.status} to GET /admin/limits; try again later`, {
      exitCode: ExitCode.unavailable,
      code: 'clari_unavailable',
    });
  };
}
