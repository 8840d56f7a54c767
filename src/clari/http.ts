import { setTimeout as sleep } from 'node:timers/promises';
import { ClariApiError, codeForStatus, sanitizeServerText } from './errors.js';

export interface RetryOptions {
  /** Attempts per request including the first (default 8). */
  maxAttempts?: number;
  /** First backoff step in ms (default 500); doubles per attempt, full jitter. */
  baseDelayMs?: number;
  /** Largest single backoff wait in ms (default 30 000); a longer Retry-After is waited out within totalTimeoutMs. */
  maxDelayMs?: number;
  /** Total time budget for one logical request including all retries, in ms (default 300 000). */
  totalTimeoutMs?: number;
  /** For tests: the jitter source (default Math.random). */
  random?: () => number;
}

export interface ResolvedRetry {
  maxAttempts: number;
  baseDelayMs: number;
  maxDelayMs: number;
  totalTimeoutMs: number;
  random: () => number;
}

export function resolveRetry(o: RetryOptions = {}): ResolvedRetry {
  return {
    maxAttempts: Math.max(1, o.maxAttempts ?? 8),
    baseDelayMs: Math.max(0, o.baseDelayMs ?? 500),
    maxDelayMs: Math.max(0, o.maxDelayMs ?? 30_000),
    totalTimeoutMs: Math.max(1, o.totalTimeoutMs ?? 300_000),
    random: o.random ?? Math.random,
  };
}

/** Retry-After is seconds or an HTTP date; returns ms, or undefined when absent/unparseable. */
export function parseRetryAfter(value: string | null, now = Date.now()): number | undefined {
  if (!value) return undefined;
  const v = value.trim();
  if (/^\d+(\.\d+)?$/.test(v)) return Math.round(Number(v) * 1000);
  const t = Date.parse(v);
  return Number.isNaN(t) ? undefined : Math.max(0, t - now);
}

/** Exponential backoff with full jitter: uniform in [0, min(max, base·2^attempt)], at least 1/4 of the step. */
export function backoffDelay(attempt: number, r: ResolvedRetry): number {
  const step = Math.min(r.maxDelayMs, r.baseDelayMs * 2 ** attempt);
  return Math.round(step / 4 + r.random() * (step * 3) / 4);
}

export interface HttpRequest {
  method: string;
  url: URL;
  headers: Record<string, string>;
  body?: string;
  /** Human name of the operation for error messages, e.g. "start forecast export". */
  operation: string;
  /**
   * Whether a 5xx/network failure may be retried. Job-creating POSTs set this false for errors after which
   * Clari may have queued the job (retrying could spend quota twice); they still retry 429, 502-504 and
   * refused connections, which mean the request was not processed.
   */
  idempotent: boolean;
  signal?: AbortSignal;
}

export interface HttpDeps {
  fetch: typeof fetch;
  retry: ResolvedRetry;
  /** Called before each retry wait (progress / logging). */
  onRetry?: (info: { operation: string; attempt: number; delayMs: number; reason: string }) => void;
}

const NOT_PROCESSED_STATUS = new Set([429, 502, 503, 504]);
const NOT_PROCESSED_ERRNO = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'UND_ERR_CONNECT_TIMEOUT', 'EHOSTUNREACH', 'ENETUNREACH']);

function errnoOf(e: unknown): string | undefined {
  let cur = e as { code?: string; cause?: unknown } | undefined;
  for (let i = 0; i < 5 && cur; i++) {
    if (typeof cur.code === 'string') return cur.code;
    cur = cur.cause as typeof cur;
  }
  return undefined;
}

/**
 * Sends one request with retries. Returns the Response of the first non-retryable answer with a 2xx status;
 * throws ClariApiError for error statuses (body parsed for Clari's code/message) and for exhausted retries.
 * The body of a successful response is NOT consumed, so callers can stream it.
 */
export async function sendWithRetry(req: HttpRequest, deps: HttpDeps): Promise<Response> {
  const r = deps.retry;
  const started = Date.now();
  let lastError: ClariApiError | undefined;
  for (let attempt = 0; attempt < r.maxAttempts; attempt++) {
    let res: Response | undefined;
    let retryAfterMs: number | undefined;
    try {
      res = await deps.fetch(req.url, {
        method: req.method,
        headers: req.headers,
        body: req.body,
        signal: req.signal,
        redirect: 'error', // a redirect would carry the apikey header to wherever it points
      });
    } catch (e) {
      if (req.signal?.aborted) throw e;
      if (/redirect/i.test(String((e as { cause?: { message?: string } })?.cause?.message ?? ''))) {
        // Not transient, and following it would hand the apikey header to wherever it points.
        throw new ClariApiError({ status: 0, code: 'unexpected_redirect', message: `${req.url.host} answered with a redirect`, operation: req.operation });
      }
      const errno = errnoOf(e) ?? 'network';
      lastError = new ClariApiError({
        status: 0,
        code: 'network_error',
        message: `${errno} talking to ${req.url.host}`,
        operation: req.operation,
        retryable: true,
      });
      if (!req.idempotent && !NOT_PROCESSED_ERRNO.has(errno)) throw lastError;
    }
    if (res) {
      if (res.ok) return res;
      retryAfterMs = parseRetryAfter(res.headers.get('retry-after'));
      lastError = await errorFromResponse(res, req.operation);
      const retryable = res.status === 429 || res.status >= 500;
      if (!retryable) throw lastError;
      if (!req.idempotent && !NOT_PROCESSED_STATUS.has(res.status)) throw lastError;
    }
    if (attempt + 1 >= r.maxAttempts) break;
    const elapsed = Date.now() - started;
    const remaining = r.totalTimeoutMs - elapsed;
    // Retry-After is the server's floor, not a hint: never retry sooner (the cap only bounds our own backoff);
    // one beyond the total budget ends the retries below.
    let delay = retryAfterMs !== undefined ? retryAfterMs : backoffDelay(attempt, r);
    if (retryAfterMs !== undefined) delay += Math.round(r.random() * Math.min(250, r.baseDelayMs)); // spread synchronized clients
    if (delay >= remaining) break;
    deps.onRetry?.({ operation: req.operation, attempt: attempt + 1, delayMs: delay, reason: lastError?.code ?? 'error' });
    await sleep(delay, undefined, { signal: req.signal });
  }
  throw lastError ?? new ClariApiError({ status: 0, code: 'network_error', message: 'no attempt made', operation: req.operation });
}

/** Reads (at most 64 KiB of) an error body and turns it into a ClariApiError. */
export async function errorFromResponse(res: Response, operation: string): Promise<ClariApiError> {
  let text = '';
  try {
    text = await readLimited(res, 64 * 1024);
  } catch {
    // a broken error body still yields a useful error from the status
  }
  let code = codeForStatus(res.status);
  let message = res.statusText || `HTTP ${res.status}`;
  let errorId: string | undefined;
  try {
    const j = JSON.parse(text) as Record<string, unknown>;
    const first = Array.isArray(j.errors) && j.errors.length > 0 ? (j.errors[0] as Record<string, unknown>) : j;
    if (typeof first.code === 'string' && /^[A-Za-z_][A-Za-z0-9_ .-]{0,63}$/.test(first.code)) {
      // Activity errors say "Bad request"; the rest are snake_case (invalid_jobId keeps its case).
      code = /\s/.test(first.code.trim()) ? first.code.trim().toLowerCase().replace(/[ .-]+/g, '_') : first.code.trim();
    }
    if (typeof first.message === 'string') message = first.message;
    else if (typeof j.error === 'string') message = j.error;
    if (typeof first.errorId === 'string') errorId = sanitizeServerText(first.errorId, 64);
  } catch {
    if (text.trim()) message = text;
  }
  // Clari answers 401 both for a bad token and for no_optin; keep Clari's code when it gave one.
  if (res.status === 429) code = 'rate_limited';
  return new ClariApiError({ status: res.status, code, message, operation, errorId, retryable: res.status === 429 || res.status >= 500 });
}

async function readLimited(res: Response, limit: number): Promise<string> {
  if (!res.body) return '';
  const reader = res.body.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    chunks.push(value);
    total += value.byteLength;
    if (total >= limit) {
      await reader.cancel().catch(() => undefined);
      break;
    }
  }
  return Buffer.concat(chunks).toString('utf8').slice(0, limit);
}

/** Reads a JSON body fully (for small control-plane answers only, never export results). */
export async function readJson(res: Response, operation: string, limit = 32 * 1024 * 1024): Promise<unknown> {
  const text = await readLimited(res, limit);
  try {
    return JSON.parse(text);
  } catch {
    throw new ClariApiError({ status: res.status, code: 'bad_response', message: 'the answer is not JSON', operation });
  }
}

/** A simple token-bucket-free limiter: at most `perSecond` request starts in any rolling second. */
export class RateLimiter {
  private readonly times: number[] = [];
  private chain: Promise<void> = Promise.resolve();
  constructor(private readonly perSecond: number) {}
  acquire(): Promise<void> {
    const next = this.chain.then(async () => {
      for (;;) {
        const now = Date.now();
        while (this.times.length && now - this.times[0] >= 1000) this.times.shift();
        if (this.times.length < this.perSecond) {
          this.times.push(now);
          return;
        }
        await sleep(1000 - (now - this.times[0]) + 1);
      }
    });
    this.chain = next.catch(() => undefined);
    return next;
  }
}
