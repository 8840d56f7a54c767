import { Readable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import type { SecretValue } from '../secrets/value.js';
import { UsageError } from '../errors.js';
import { ClariApiError } from './errors.js';
import { RateLimiter, readJson, resolveRetry, sendWithRetry, type HttpDeps, type RetryOptions } from './http.js';

export const DEFAULT_BASE_URL = 'https://api.clari.com/v4';
export const DEFAULT_COPILOT_BASE_URL = 'https://rest-api.copilot.clari.com';

export type JobStatus = 'SCHEDULED' | 'STARTED' | 'DONE' | 'FAILED' | 'CANCELLED' | 'ABORTED' | 'QUEUED' | 'RUNNING';
export const TERMINAL_STATUSES: ReadonlySet<string> = new Set(['DONE', 'FAILED', 'CANCELLED', 'ABORTED']);

export interface ClariJob {
  jobId: string;
  status: JobStatus;
  userId?: number;
  orgId?: number;
  title?: string;
  module?: string;
  type?: string;
  startTime?: number;
  endTime?: number;
  expiredTime?: number;
  fileName?: string;
  fileType?: string;
  rowsTruncated?: boolean;
  cellsTruncated?: boolean;
  downloads?: number;
  currency?: string;
  [k: string]: unknown;
}

export interface ClariLimits {
  concurrentLimit?: number;
  monthlyQuota?: number;
  availableConcurrentLimit?: number;
  availableMonthlyQuota?: number;
  runningJobIds: string[];
  submittedJobIds: string[];
}

export type ForecastType = 'forecast' | 'quota' | 'forecast_updated' | 'adjustment' | 'crm_total' | 'crm_closed';
export const FORECAST_TYPES: readonly ForecastType[] = ['forecast', 'quota', 'forecast_updated', 'adjustment', 'crm_total', 'crm_closed'];

export interface ForecastExportRequest {
  timePeriod?: string;
  typesToExport?: ForecastType[];
  scopeId?: string;
  currency?: string;
  schedule?: 'NONE' | 'ONCE' | 'MAX';
  includeHistorical?: boolean;
  exportFormat?: 'JSON' | 'CSV';
}

export type ActivityType = 'MEETING' | 'EMAIL_SENT' | 'EMAIL_RECEIVED' | 'ATTACHMENT_SENT' | 'ATTACHMENT_RECEIVED';
export const ACTIVITY_TYPES: readonly ActivityType[] = ['MEETING', 'EMAIL_SENT', 'EMAIL_RECEIVED', 'ATTACHMENT_SENT', 'ATTACHMENT_RECEIVED'];

export interface ActivityExportRequest {
  activityTypes?: ActivityType[];
  startDate?: string;
  endDate?: string;
  exportFormat?: 'JSON';
}

export interface AuditEventsQuery {
  limit?: number;
  actorId?: number;
  impersonatingActorId?: number;
  sessionId?: string;
  sessionType?: 'WEB' | 'IOS' | 'ANDROID';
  dateFrom?: string;
  dateTo?: string;
  event?: string;
}

export interface AuditEvent {
  actorId: string;
  actorType: string;
  sessionId: string;
  sessionType: string;
  event: string;
  ipAddress: string;
  impersonatingActorId?: string;
  correlationID?: string;
  eventParameters?: Record<string, unknown>;
  eventTimestamp?: string;
  [k: string]: unknown;
}
export interface AuditActor {
  actorType: string;
  actorId: string;
  name: string;
  email: string;
}
export interface AuditEventsPage {
  items: AuditEvent[];
  actors: AuditActor[];
}

export interface CopilotCallsQuery {
  /** Page size, 1..100 (default 100). */
  limit?: number;
  skip?: number;
  filterTimeGt?: string;
  filterTimeLt?: string;
  filterStatus?: string[];
  includePrivate?: boolean;
}

export interface ResultsDownload {
  /** The body as a Node stream. Never buffered whole and never touching disk. */
  stream: Readable;
  contentType: string;
  /** From Content-Length when the server sent one; the stream errors if fewer bytes arrive. */
  contentLength?: number;
}

export interface ClariClientOptions {
  /** Revenue API base including the version, default https://api.clari.com/v4. */
  baseUrl?: string;
  /** The Revenue API token; may be left out by a client that only lists Copilot calls. */
  token?: SecretValue;
  copilotBaseUrl?: string;
  copilotKey?: SecretValue;
  copilotPassword?: SecretValue;
  fetch?: typeof fetch;
  retry?: RetryOptions;
  /** Copilot requests per second (default 10, Clari's published limit). */
  copilotRatePerSecond?: number;
  onRetry?: HttpDeps['onRetry'];
  userAgent?: string;
}

export interface WaitOptions {
  signal?: AbortSignal;
  /** First poll interval (default 1 000 ms), growing ×1.5 up to maxPollIntervalMs. */
  pollIntervalMs?: number;
  maxPollIntervalMs?: number;
  /** Give up waiting after this long (default 6 hours); the job keeps running at Clari. */
  timeoutMs?: number;
  onStatus?: (job: ClariJob) => void;
}

export interface ClariClient {
  readonly baseUrl: string;
  getLimits(options?: { signal?: AbortSignal }): Promise<ClariLimits>;
  startForecastExport(forecastId: string, body?: ForecastExportRequest, options?: { signal?: AbortSignal }): Promise<{ jobId: string }>;
  startActivityExport(body: ActivityExportRequest, options?: { signal?: AbortSignal }): Promise<{ jobId: string }>;
  startAuditEventsExport(body: Omit<AuditEventsQuery, 'limit'>, options?: { signal?: AbortSignal }): Promise<{ jobId: string }>;
  getJob(jobId: string, options?: { signal?: AbortSignal }): Promise<ClariJob>;
  listJobs(options?: { signal?: AbortSignal }): Promise<ClariJob[]>;
  cancelJob(jobId: string, options?: { signal?: AbortSignal }): Promise<{ status?: string; successful?: boolean }>;
  waitForJob(jobId: string, options?: WaitOptions): Promise<ClariJob>;
  openResults(jobId: string, options?: { signal?: AbortSignal }): Promise<ResultsDownload>;
  auditEvents(query?: AuditEventsQuery, options?: { signal?: AbortSignal }): AsyncGenerator<AuditEventsPage>;
  copilotCalls(query?: CopilotCallsQuery, options?: { signal?: AbortSignal }): AsyncGenerator<Record<string, unknown>[]>;
}

function normaliseBase(url: string, what: string): URL {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new UsageError(`${what} is not a URL: ${JSON.stringify(url.slice(0, 200))}`);
  }
  if (u.protocol !== 'https:' && u.protocol !== 'http:') throw new UsageError(`${what} must be http(s): ${u.protocol}`);
  if (u.username || u.password) throw new UsageError(`${what} must not contain credentials`);
  if (u.protocol === 'http:' && !isLoopback(u.hostname)) {
    // The token would cross the network in clear text.
    throw new UsageError(`${what} uses plain http to a non-loopback host (${u.hostname}); use https`);
  }
  u.search = '';
  u.hash = '';
  if (!u.pathname.endsWith('/')) u.pathname += '/';
  return u;
}

function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '[::1]' || host === '::1' || /^127\.\d+\.\d+\.\d+$/.test(host);
}

function segment(value: string, what: string): string {
  if (!value || value.length > 200 || /[\u0000-\u001f]/.test(value)) throw new UsageError(`invalid ${what}: ${JSON.stringify(value.slice(0, 60))}`);
  return encodeURIComponent(value);
}

/** Accepts Clari's documented bare job object and the `{"job": {...}}` wrapper real extractors read. */
export function normaliseJob(payload: unknown, operation: string): ClariJob {
  const p = payload as Record<string, unknown> | null;
  const job = (p && typeof p === 'object' && p.job && typeof p.job === 'object' ? p.job : p) as Record<string, unknown> | null;
  if (!job || typeof job !== 'object' || typeof job.status !== 'string') {
    throw new ClariApiError({ status: 200, code: 'bad_response', message: 'job status answer has no status', operation });
  }
  const status = String(job.status).toUpperCase();
  // The JSON-schema mirror names QUEUED/RUNNING; the OpenAPI SCHEDULED/STARTED. Same states.
  const mapped = status === 'QUEUED' ? 'SCHEDULED' : status === 'RUNNING' ? 'STARTED' : status;
  return { ...(job as object), jobId: String(job.jobId ?? ''), status: mapped as JobStatus } as ClariJob;
}

export function createClariClient(options: ClariClientOptions): ClariClient {
  const copilotOnly = options?.token === undefined && options?.copilotKey !== undefined && options?.copilotPassword !== undefined;
  if (!copilotOnly && (!options?.token || typeof (options.token as SecretValue).reveal !== 'function')) {
    throw new UsageError('createClariClient: token must be a SecretValue (read it with readSecret)');
  }
  const base = normaliseBase(options.baseUrl ?? DEFAULT_BASE_URL, 'Clari base URL');
  // `https://api.clari.com` alone means the documented default version.
  if (base.pathname === '/') base.pathname = '/v4/';
  const copilotBase = normaliseBase(options.copilotBaseUrl ?? DEFAULT_COPILOT_BASE_URL, 'Clari Copilot base URL');
  const deps: HttpDeps = {
    fetch: options.fetch ?? globalThis.fetch,
    retry: resolveRetry(options.retry),
    onRetry: options.onRetry,
  };
  const limiter = new RateLimiter(options.copilotRatePerSecond ?? 10);
  const ua = options.userAgent ?? 'clariguard';

  const url = (path: string, query?: Record<string, string | number | boolean | undefined>): URL => {
    const u = new URL(path.replace(/^\//, ''), base);
    for (const [k, v] of Object.entries(query ?? {})) if (v !== undefined) u.searchParams.set(k, String(v));
    return u;
  };
  const revenueToken = (): string => {
    if (!options.token) throw new UsageError('this Clari Revenue API call needs the API token (createClariClient({ token }))');
    return options.token.reveal();
  };
  const headers = (json: boolean): Record<string, string> => ({
    apikey: revenueToken(),
    accept: json ? 'application/json' : '*/*',
    'user-agent': ua,
    ...(json ? { 'content-type': 'application/json' } : {}),
  });

  async function call(method: string, u: URL, operation: string, o: { body?: unknown; idempotent?: boolean; signal?: AbortSignal } = {}): Promise<unknown> {
    const res = await sendWithRetry(
      {
        method,
        url: u,
        headers: headers(o.body !== undefined),
        body: o.body === undefined ? undefined : JSON.stringify(o.body),
        operation,
        idempotent: o.idempotent ?? method === 'GET',
        signal: o.signal,
      },
      deps,
    );
    return readJson(res, operation);
  }

  const jobIdOf = (payload: unknown, operation: string): { jobId: string } => {
    const id = (payload as { jobId?: unknown } | null)?.jobId;
    if (typeof id !== 'string' || !id) throw new ClariApiError({ status: 200, code: 'bad_response', message: 'no jobId in the answer', operation });
    return { jobId: id };
  };

  const client: ClariClient = {
    baseUrl: base.toString().replace(/\/$/, ''),

    async getLimits(o = {}) {
      const body = (await call('GET', url('admin/limits'), 'read limits', { signal: o.signal })) as { jobs?: Record<string, unknown> } | null;
      const j = (body?.jobs ?? {}) as Record<string, unknown>;
      const num = (v: unknown): number | undefined => (typeof v === 'number' && Number.isFinite(v) ? v : undefined);
      const ids = (v: unknown): string[] => (Array.isArray(v) ? v.map(String) : []);
      return {
        concurrentLimit: num(j.concurrentLimit),
        monthlyQuota: num(j.monthlyQuota),
        availableConcurrentLimit: num(j.availableConcurrentLimit),
        availableMonthlyQuota: num(j.availableMonthlyQuota),
        runningJobIds: ids(j.runningJobIds),
        submittedJobIds: ids(j.submittedJobIds),
      };
    },

    async startForecastExport(forecastId, body = {}, o = {}) {
      const op = 'start forecast export';
      return jobIdOf(await call('POST', url(`export/forecast/${segment(forecastId, 'forecast id')}`), op, { body, idempotent: false, signal: o.signal }), op);
    },

    async startActivityExport(body, o = {}) {
      const op = 'start activity export';
      return jobIdOf(await call('POST', url('export/activity'), op, { body, idempotent: false, signal: o.signal }), op);
    },

    async startAuditEventsExport(body, o = {}) {
      const op = 'start audit events export';
      return jobIdOf(await call('POST', url('export/audit/events'), op, { body, idempotent: false, signal: o.signal }), op);
    },

    async getJob(jobId, o = {}) {
      const op = 'read job status';
      return normaliseJob(await call('GET', url(`export/jobs/${segment(jobId, 'job id')}`), op, { signal: o.signal }), op);
    },

    async listJobs(o = {}) {
      const op = 'list jobs';
      const body = await call('GET', url('export/jobs'), op, { signal: o.signal });
      const arr = Array.isArray(body) ? body : Array.isArray((body as { jobs?: unknown })?.jobs) ? (body as { jobs: unknown[] }).jobs : null;
      if (!arr) throw new ClariApiError({ status: 200, code: 'bad_response', message: 'job list is not an array', operation: op });
      return arr.map((j) => normaliseJob(j, op));
    },

    async cancelJob(jobId, o = {}) {
      // PATCH CANCEL is idempotent in effect: cancelling twice leaves it cancelled.
      return (await call('PATCH', url(`export/jobs/${segment(jobId, 'job id')}`), 'cancel job', {
        body: { type: 'CANCEL' },
        idempotent: true,
        signal: o.signal,
      })) as { status?: string; successful?: boolean };
    },

    async waitForJob(jobId, o = {}) {
      const started = Date.now();
      const timeout = o.timeoutMs ?? 6 * 3600_000;
      let interval = o.pollIntervalMs ?? 1000;
      const maxInterval = o.maxPollIntervalMs ?? 15_000;
      for (;;) {
        const job = await client.getJob(jobId, { signal: o.signal });
        o.onStatus?.(job);
        if (TERMINAL_STATUSES.has(job.status)) return job;
        if (Date.now() - started + interval > timeout) {
          throw new ClariApiError({ status: 0, code: 'job_timeout', message: `job ${jobId} still ${job.status} after ${Math.round((Date.now() - started) / 1000)} s`, operation: 'wait for job' });
        }
        await sleep(interval, undefined, { signal: o.signal });
        interval = Math.min(maxInterval, Math.round(interval * 1.5));
      }
    },

    async openResults(jobId, o = {}) {
      const op = 'download results';
      const res = await sendWithRetry(
        { method: 'GET', url: url(`export/jobs/${segment(jobId, 'job id')}/results`), headers: headers(false), operation: op, idempotent: true, signal: o.signal },
        deps,
      );
      if (!res.body) throw new ClariApiError({ status: res.status, code: 'bad_response', message: 'results answer has no body', operation: op });
      const len = res.headers.get('content-length');
      const contentLength = len && /^\d+$/.test(len) ? Number(len) : undefined;
      // undici errors the body stream when the connection ends before Content-Length / the last chunk;
      // convert that into a typed error so callers can tell a truncated download from a bad file.
      const raw = Readable.fromWeb(res.body as import('node:stream/web').ReadableStream<Uint8Array>, { highWaterMark: 1 << 16 } as never);
      const stream = new Readable({
        highWaterMark: 1 << 16,
        read() {
          raw.resume();
        },
        destroy(err, cb) {
          raw.destroy();
          cb(err);
        },
      });
      let received = 0;
      raw.on('data', (c: Buffer) => {
        received += c.length;
        if (!stream.push(c)) raw.pause();
      });
      raw.on('end', () => {
        if (contentLength !== undefined && received !== contentLength) {
          stream.destroy(truncated(`received ${received} of ${contentLength} bytes`));
        } else stream.push(null);
      });
      raw.on('error', (e) => stream.destroy(truncated(`connection ended after ${received} bytes`, e)));
      return { stream, contentType: res.headers.get('content-type') ?? '', contentLength };
    },

    async *auditEvents(query = {}, o = {}) {
      const op = 'list audit events';
      const limit = query.limit ?? 1000;
      if (!Number.isInteger(limit) || limit < 1 || limit > 1000) throw new UsageError('audit events page size must be 1..1000');
      let next: URL | undefined = url('audit/events', { ...query, limit } as Record<string, string | number | undefined>);
      const seen = new Set<string>();
      while (next) {
        if (next.origin !== base.origin) {
          throw new ClariApiError({ status: 200, code: 'untrusted_next_link', message: `nextLink points at ${next.host}`, operation: op });
        }
        const key = next.toString();
        if (seen.has(key)) throw new ClariApiError({ status: 200, code: 'bad_response', message: 'nextLink repeats a page', operation: op });
        seen.add(key);
        const body = (await call('GET', next, op, { signal: o.signal })) as { items?: unknown; actors?: unknown; nextLink?: unknown } | null;
        const items = Array.isArray(body?.items) ? (body!.items as AuditEvent[]) : [];
        const actors = Array.isArray(body?.actors) ? (body!.actors as AuditActor[]) : [];
        yield { items, actors };
        const link = typeof body?.nextLink === 'string' && body.nextLink ? body.nextLink : undefined;
        next = link && items.length > 0 ? new URL(link, base) : undefined;
      }
    },

    async *copilotCalls(query = {}, o = {}) {
      const op = 'list Copilot calls';
      if (!options.copilotKey || !options.copilotPassword) throw new UsageError('Copilot calls need copilotKey and copilotPassword');
      const limit = query.limit ?? 100;
      if (!Number.isInteger(limit) || limit < 1 || limit > 100) throw new UsageError('Copilot page size must be 1..100');
      let skip = query.skip ?? 0;
      for (;;) {
        const u = new URL('calls', copilotBase);
        u.searchParams.set('skip', String(skip));
        u.searchParams.set('limit', String(limit));
        u.searchParams.set('includePagination', 'true');
        if (query.filterTimeGt) u.searchParams.set('filterTimeGt', query.filterTimeGt);
        if (query.filterTimeLt) u.searchParams.set('filterTimeLt', query.filterTimeLt);
        for (const s of query.filterStatus ?? []) u.searchParams.append('filterStatus', s);
        if (query.includePrivate !== undefined) u.searchParams.set('includePrivate', String(query.includePrivate));
        await limiter.acquire();
        const res = await sendWithRetry(
          {
            method: 'GET',
            url: u,
            headers: { 'X-Api-Key': options.copilotKey.reveal(), 'X-Api-Password': options.copilotPassword.reveal(), accept: 'application/json', 'user-agent': ua },
            operation: op,
            idempotent: true,
            signal: o.signal,
          },
          deps,
        );
        const body = (await readJson(res, op)) as { calls?: unknown; pagination?: { hasMore?: boolean; nextPageSkip?: number } } | null;
        const calls = Array.isArray(body?.calls) ? (body!.calls as Record<string, unknown>[]) : [];
        if (calls.length) yield calls;
        const p = body?.pagination;
        const hasMore = p?.hasMore ?? calls.length === limit;
        if (!hasMore || calls.length === 0) return;
        const nextSkip = typeof p?.nextPageSkip === 'number' && p.nextPageSkip > skip ? p.nextPageSkip : skip + calls.length;
        skip = nextSkip;
      }
    },
  };
  return client;
}

function truncated(message: string, cause?: unknown): ClariApiError {
  return new ClariApiError({ status: 200, code: 'results_truncated', message, operation: 'download results', cause });
}
