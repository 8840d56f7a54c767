import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, rmSync, statSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { PassThrough, Readable, type Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { ClariguardError, ExitCode, UsageError } from '../errors.js';
import { redactStream, type Policy, type RedactionReport } from '../redact/index.js';
import type { SecretValue } from '../secrets/value.js';
import { AtomicFileWriter } from '../util/atomic.js';
import { memoryGovernor } from '../util/memory.js';
import {
  ACTIVITY_TYPES,
  FORECAST_TYPES,
  createClariClient,
  type ActivityType,
  type AuditEventsPage,
  type AuditEventsQuery,
  type ClariClient,
  type ClariJob,
  type ForecastType,
} from './client.js';
import { convertJson, type ExportKind } from './convert.js';
import { ClariApiError } from './errors.js';
import type { RetryOptions } from './http.js';
import { ExportStateStore, defaultStateDir, stateKey } from './state.js';
import { ResultsVerifier, periodFromFileName, periodMismatch } from './verify.js';
import { pidAlive } from '../util/process.js';

export type ExportFormat = 'json' | 'ndjson' | 'csv';
export const EXPORT_FORMATS: readonly ExportFormat[] = ['json', 'ndjson', 'csv'];

export type RedactionChoice = { mode: 'redact'; key: Buffer; preset?: string; policy?: Policy } | { mode: 'unredacted' };

export type ExportEvent =
  | { type: 'info'; message: string }
  | { type: 'warning'; message: string }
  | { type: 'job'; jobId: string; status: string; resumed: boolean }
  | { type: 'download'; bytes: number; records?: number }
  | { type: 'retry'; operation: string; attempt: number; delayMs: number; reason: string };

export interface ExportCommonOptions {
  token: SecretValue;
  baseUrl?: string;
  /** Output file (written atomically; nothing is left on failure). */
  out: string;
  format?: ExportFormat;
  redaction: RedactionChoice;
  /** Where job ids are journalled for resume (default $CLARIGUARD_HOME/state/exports). */
  stateDir?: string;
  /** Ignore a journalled job for this request and start a new one (spends quota). */
  newJob?: boolean;
  signal?: AbortSignal;
  onEvent?: (e: ExportEvent) => void;
  retry?: RetryOptions;
  poll?: { intervalMs?: number; maxIntervalMs?: number; timeoutMs?: number };
  /** For tests: a prepared client instead of token/baseUrl. */
  client?: ClariClient;
  fetch?: typeof fetch;
}

export interface ForecastExportOptions extends ExportCommonOptions {
  forecastId: string;
  /** Fiscal quarter, YYYY_QN. Required: an unrecognised or missing period silently means "current quarter". */
  period: string;
  types?: ForecastType[];
  scopeId?: string;
  currency?: string;
  includeHistorical?: boolean;
  schedule?: 'NONE' | 'ONCE' | 'MAX';
}

export interface ActivityExportOptions extends ExportCommonOptions {
  types?: ActivityType[];
  /** ISO date or date-time; date-only means 00:00 UTC. */
  from: string;
  to: string;
}

export interface AuditExportOptions extends ExportCommonOptions {
  from?: string;
  to?: string;
  event?: string;
  actorId?: number;
  sessionType?: 'WEB' | 'IOS' | 'ANDROID';
  pageSize?: number;
}

export interface ExportResult {
  kind: ExportKind;
  out: string;
  format: ExportFormat;
  jobId?: string;
  resumed: boolean;
  /** Bytes received from Clari. */
  bytesIn: number;
  /** Records written (from the redaction report; undefined with --unredacted). */
  rows?: number;
  period?: string;
  redacted: boolean;
  report?: RedactionReport;
}

const PERIOD_RE = /^\d{4}_Q[1-4]$/;

export function parsePeriod(p: string | undefined): string {
  if (!p) throw new UsageError('--period is required (e.g. 2026_Q3): without it Clari silently exports the current quarter');
  const v = p.trim().toUpperCase().replace(/^(\d{4})[-_ ]?Q([1-4])$/, '$1_Q$2');
  if (!PERIOD_RE.test(v)) throw new UsageError(`--period must look like 2026_Q3 (got ${JSON.stringify(p.slice(0, 40))})`);
  return v;
}

export function parseForecastTypes(list: string | string[] | undefined): ForecastType[] | undefined {
  if (list === undefined) return undefined;
  const items = (Array.isArray(list) ? list : list.split(',')).map((s) => s.trim().toLowerCase()).filter(Boolean);
  for (const t of items) {
    if (!(FORECAST_TYPES as readonly string[]).includes(t)) throw new UsageError(`unknown --types value ${JSON.stringify(t)}; choose from ${FORECAST_TYPES.join(', ')}`);
    if (t === 'crm_total' || t === 'crm_closed') throw new UsageError(`${t} cannot be exported in bulk (Clari answers type_not_supported); drop it from --types`);
  }
  if (items.length === 0) throw new UsageError('--types is empty');
  return [...new Set(items)] as ForecastType[];
}

export function parseActivityTypes(list: string | undefined): ActivityType[] | undefined {
  if (list === undefined) return undefined;
  const items = list.split(',').map((s) => s.trim().toUpperCase()).filter(Boolean);
  for (const t of items) if (!(ACTIVITY_TYPES as readonly string[]).includes(t)) throw new UsageError(`unknown activity type ${JSON.stringify(t)}; choose from ${ACTIVITY_TYPES.join(', ')}`);
  if (items.length === 0) throw new UsageError('--types is empty');
  return [...new Set(items)] as ActivityType[];
}

/** ISO date (start of day UTC) or ISO date-time with offset. */
export function parseDate(v: string, flag: string): string {
  const s = v.trim();
  if (/^\d{4}-\d{2}-\d{2}$/.test(s) && !Number.isNaN(Date.parse(`${s}T00:00:00Z`))) return `${s}T00:00:00Z`;
  if (/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})$/.test(s) && !Number.isNaN(Date.parse(s))) return s;
  throw new UsageError(`${flag} must be an ISO date (2026-07-01) or date-time with offset (2026-07-01T00:00:00Z)`);
}

// ------------------------------------------------------------------ output safety

/** True when `dir` is inside a git work tree (git is asked; without git, a .git entry upwards counts). */
export function insideGitWorkTree(dir: string): boolean {
  const r = spawnSync('git', ['rev-parse', '--is-inside-work-tree'], { cwd: dir, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
  if (!r.error) return r.status === 0 && r.stdout.trim() === 'true';
  let d = resolve(dir);
  for (;;) {
    if (existsSync(join(d, '.git'))) return true;
    const up = dirname(d);
    if (up === d) return false;
    d = up;
  }
}

function checkOutput(out: string, redaction: RedactionChoice): string {
  if (!out) throw new UsageError('--out FILE is required');
  const target = resolve(out);
  const dir = dirname(target);
  try {
    if (!statSync(dir).isDirectory()) throw new UsageError(`${dir} is not a directory`);
  } catch (e) {
    if (e instanceof UsageError) throw e;
    throw new UsageError(`the directory of --out does not exist: ${dir}`);
  }
  if (existsSync(target) && statSync(target).isDirectory()) throw new UsageError(`--out ${out} is a directory`);
  if (redaction.mode === 'unredacted' && insideGitWorkTree(dir)) {
    throw new ClariguardError(`refusing to write an unredacted export inside a git work tree (${dir}); write it outside any repository`, {
      exitCode: ExitCode.noPermission,
      code: 'unredacted_in_git',
    });
  }
  return target;
}

/** A SIGKILLed run cannot remove its temp file; the next run over the same target removes it. */
function removeStaleTemps(target: string): void {
  const dir = dirname(target);
  const prefix = `.${basename(target)}.`;
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return;
  }
  for (const n of names) {
    if (!n.startsWith(prefix) || !n.endsWith('.tmp')) continue;
    const m = /^\.(?:.*)\.(\d+)\.[0-9a-f]{12}\.tmp$/.exec(n);
    if (!m) continue;
    const pid = Number(m[1]);
    if (pid !== process.pid && !pidAlive(pid)) rmSync(join(dir, n), { force: true });
  }
}

// ------------------------------------------------------------------ the pipeline to disk

interface WriteArgs {
  kind: ExportKind;
  body: Readable;
  /** The format Clari delivered. */
  native: 'json' | 'csv';
  format: ExportFormat;
  target: string;
  redaction: RedactionChoice;
  defaultPreset: string;
  sourceName: string;
  verifier?: ResultsVerifier;
  signal?: AbortSignal;
}

/**
 * body -> [verify] -> [redact] -> [convert] -> temp file -> rename. Every stage streams; the temp file only
 * ever receives redacted bytes (or raw ones with --unredacted), and is removed on any failure.
 */
async function writeExport(a: WriteArgs): Promise<{ report?: RedactionReport }> {
  const writer = new AtomicFileWriter(a.target, { mode: 0o600 });
  const source = a.verifier ? a.body.pipe(a.verifier) : a.body;
  if (a.verifier) a.body.on('error', (e) => a.verifier!.destroy(e));
  const needsConvert = a.format !== a.native;
  const mid = needsConvert ? new PassThrough({ highWaterMark: 1 << 16 }) : undefined;
  const sink: Writable = mid ?? writer;
  const all = [a.body, source, ...(mid ? [mid] : []), writer];
  // Errors surface through the stage promises below; a stream destroyed with the root cause after its
  // pipeline settled must not crash the process with an unhandled 'error' event.
  for (const s of all) s.on('error', () => undefined);
  const fail = (e: unknown): void => {
    for (const s of all) if (!s.destroyed) s.destroy(e as Error);
  };
  const onAbort = (): void => fail(a.signal?.reason ?? new Error('aborted'));
  a.signal?.addEventListener('abort', onAbort, { once: true });
  let report: RedactionReport | undefined;
  try {
    const tasks: Promise<unknown>[] = [];
    if (a.redaction.mode === 'redact') {
      const preset = a.redaction.policy ? undefined : (a.redaction.preset ?? a.defaultPreset);
      tasks.push(
        redactStream(source, sink, { format: a.native, preset, policy: a.redaction.policy, key: a.redaction.key, sourceName: a.sourceName }).then((r) => {
          report = r;
        }),
      );
    } else {
      tasks.push(pipeline(source, sink));
    }
    if (mid) tasks.push(convertJson(mid, writer, a.kind, a.format as 'ndjson' | 'csv', a.sourceName));
    await Promise.all(tasks.map((t) => t.catch((e: unknown) => {
      fail(e);
      throw e;
    })));
    if (a.signal?.aborted) throw a.signal.reason;
    await writer.commit();
    return { report };
  } catch (e) {
    await writer.abort();
    throw preferTypedError(e, a);
  } finally {
    a.signal?.removeEventListener('abort', onAbort);
  }
}

/** Several stages fail together; report the root cause (a verification error beats "premature close"). */
function preferTypedError(e: unknown, a: WriteArgs): unknown {
  const candidates = [a.verifier?.errored, a.body.errored, e];
  for (const c of candidates) if (c instanceof ClariApiError) return c;
  return e;
}

// ------------------------------------------------------------------ job exports

interface JobExportSpec {
  kind: 'forecast' | 'activity' | 'audit';
  /** What identifies "the same export" for resume (no secrets). */
  request: Record<string, unknown>;
  start(client: ClariClient): Promise<{ jobId: string }>;
  native: 'json' | 'csv';
  defaultPreset: string;
  expectedPeriod?: string;
}

function clientFor(o: ExportCommonOptions): ClariClient {
  return (
    o.client ??
    createClariClient({
      baseUrl: o.baseUrl,
      token: o.token,
      retry: o.retry,
      fetch: o.fetch,
      onRetry: (i) => o.onEvent?.({ type: 'retry', ...i }),
    })
  );
}

async function checkQuota(client: ClariClient, o: ExportCommonOptions): Promise<void> {
  let limits;
  try {
    limits = await client.getLimits({ signal: o.signal });
  } catch (e) {
    // A token that may export but not read limits should not block; an invalid token must.
    if (e instanceof ClariApiError && (e.status === 403 || e.status === 404)) {
      o.onEvent?.({ type: 'warning', message: `cannot read /admin/limits (HTTP ${e.status}); starting the job without a quota check` });
      return;
    }
    throw e;
  }
  if (limits.availableMonthlyQuota !== undefined && limits.availableMonthlyQuota <= 0) {
    throw new ClariApiError({
      status: 0,
      code: 'export_monthly_quota_reached',
      message: `no export quota left: ${limits.submittedJobIds.length} of ${limits.monthlyQuota ?? '?'} jobs used in the rolling 30 days`,
      operation: 'check limits',
    });
  }
  if (limits.availableConcurrentLimit !== undefined && limits.availableConcurrentLimit <= 0) {
    throw new ClariApiError({
      status: 0,
      code: 'concurrent_limit_reached',
      message: `all ${limits.concurrentLimit ?? '?'} concurrent export slots are busy (${limits.runningJobIds.length} running)`,
      operation: 'check limits',
    });
  }
  o.onEvent?.({ type: 'info', message: `export quota: ${limits.availableMonthlyQuota ?? '?'} of ${limits.monthlyQuota ?? '?'} left, ${limits.availableConcurrentLimit ?? '?'} concurrent slot(s) free` });
}

// bad_response: a garbled status or results answer (a proxy's error page, a cut body) says nothing about the
// job, which Clari still holds; dropping the journal would make the next run spend quota on a second one.
const RETRYABLE_AFTER_START = new Set(['results_truncated', 'network_error', 'server_error', 'rate_limited', 'job_timeout', 'internal_server_error', 'bad_response']);

async function runJobExport(spec: JobExportSpec, o: ExportCommonOptions): Promise<ExportResult> {
  const format = o.format ?? 'json';
  const target = checkOutput(o.out, o.redaction);
  removeStaleTemps(target);
  const client = clientFor(o);
  const store = new ExportStateStore(o.stateDir ?? defaultStateDir());
  const key = stateKey(spec.kind, new URL(client.baseUrl).origin + new URL(client.baseUrl).pathname, spec.request);
  const release = await store.lock(key);
  try {
    return await runLockedJobExport(spec, o, { format, target, client, store, key });
  } finally {
    await release().catch(() => undefined);
  }
}

async function runLockedJobExport(
  spec: JobExportSpec,
  o: ExportCommonOptions,
  ctx: { format: ExportFormat; target: string; client: ClariClient; store: ExportStateStore; key: string },
): Promise<ExportResult> {
  const { format, target, client, store, key } = ctx;
  let jobId: string | undefined;
  let resumed = false;
  let job: ClariJob | undefined;

  const saved = o.newJob ? null : store.load(key);
  if (saved) {
    try {
      job = await client.getJob(saved.jobId, { signal: o.signal });
      const expired = typeof job.expiredTime === 'number' && job.expiredTime < Date.now();
      if (job.status === 'FAILED' || job.status === 'CANCELLED' || job.status === 'ABORTED' || expired) {
        o.onEvent?.({ type: 'info', message: `journalled job ${saved.jobId} is ${expired ? 'expired' : job.status}; starting a new one` });
        store.remove(key);
        job = undefined;
      } else {
        jobId = saved.jobId;
        resumed = true;
        o.onEvent?.({ type: 'info', message: `resuming export job ${jobId} (started ${saved.createdAt}) instead of spending quota on a new one` });
      }
    } catch (e) {
      if (!(e instanceof ClariApiError) || !(e.code === 'invalid_jobId' || e.status === 404 || e.status === 400)) throw e;
      o.onEvent?.({ type: 'info', message: `journalled job ${saved.jobId} is unknown to Clari; starting a new one` });
      store.remove(key);
    }
  }
  if (!jobId) {
    await checkQuota(client, o);
    jobId = (await spec.start(client)).jobId;
    // Journal before the first poll: from here on an interrupted run resumes this job.
    store.save(key, { version: 1, kind: spec.kind, jobId, request: spec.request, createdAt: new Date().toISOString() });
    o.onEvent?.({ type: 'job', jobId, status: 'SUBMITTED', resumed: false });
  }

  try {
    if (!job || job.status !== 'DONE') {
      job = await client.waitForJob(jobId, {
        signal: o.signal,
        pollIntervalMs: o.poll?.intervalMs,
        maxPollIntervalMs: o.poll?.maxIntervalMs,
        timeoutMs: o.poll?.timeoutMs,
        onStatus: (j) => o.onEvent?.({ type: 'job', jobId: jobId!, status: j.status, resumed }),
      });
    }
    if (job.status === 'FAILED') throw new ClariApiError({ status: 0, code: 'job_failed', message: `export job ${jobId} ended FAILED`, operation: 'wait for job' });
    if (job.status === 'CANCELLED' || job.status === 'ABORTED') {
      throw new ClariApiError({ status: 0, code: 'job_cancelled', message: `export job ${jobId} was ${job.status}`, operation: 'wait for job' });
    }
    if (job.rowsTruncated === true || job.cellsTruncated === true) {
      throw new ClariApiError({ status: 0, code: 'rows_truncated', message: `Clari marked job ${jobId} as ${job.rowsTruncated ? 'rowsTruncated' : 'cellsTruncated'}`, operation: 'verify export' });
    }
    if (spec.expectedPeriod) {
      const inName = periodFromFileName(job.fileName);
      if (inName && inName !== spec.expectedPeriod) throw periodMismatch(spec.expectedPeriod, inName, 'job file name');
      if (!inName && spec.native === 'csv') {
        o.onEvent?.({ type: 'warning', message: 'cannot verify the time period of a CSV export whose job file name carries none' });
      }
    }
    const dl = await client.openResults(jobId, { signal: o.signal });
    const govern = memoryGovernor();
    const verifier = new ResultsVerifier({
      format: spec.native,
      expectedPeriod: spec.native === 'json' ? spec.expectedPeriod : undefined,
      onProgress: (p) => {
        govern(p.bytes);
        o.onEvent?.({ type: 'download', bytes: p.bytes, records: p.records });
      },
    });
    const { report } = await writeExport({
      kind: spec.kind,
      body: dl.stream,
      native: spec.native,
      format,
      target,
      redaction: o.redaction,
      defaultPreset: spec.defaultPreset,
      sourceName: `clari:${spec.kind}:${jobId}`,
      verifier,
      signal: o.signal,
    });
    if (spec.expectedPeriod && spec.native === 'json' && verifier.periodsSeen.size === 0) {
      o.onEvent?.({ type: 'warning', message: 'the export has no timePeriodId to verify the period against' });
    }
    store.remove(key);
    return { kind: spec.kind, out: target, format, jobId, resumed, bytesIn: verifier.bytes, rows: report?.rows, period: spec.expectedPeriod, redacted: o.redaction.mode === 'redact', report };
  } catch (e) {
    // Keep the journal only when running the same command again can succeed with the same job.
    const code = e instanceof ClariguardError ? e.code : undefined;
    const aborted = o.signal?.aborted;
    if (!aborted && !(code && RETRYABLE_AFTER_START.has(code))) store.remove(key);
    throw e;
  }
}

export async function exportForecast(o: ForecastExportOptions): Promise<ExportResult> {
  const period = parsePeriod(o.period);
  if (!o.forecastId || !/^[A-Za-z0-9_.-]{1,128}$/.test(o.forecastId)) throw new UsageError('FORECAST_ID is the id from the Forecast Tab URL, e.g. net_arr');
  const format = o.format ?? 'json';
  const native = format === 'csv' ? 'csv' : 'json';
  const body = {
    timePeriod: period,
    typesToExport: o.types,
    scopeId: o.scopeId,
    currency: o.currency,
    includeHistorical: o.includeHistorical,
    schedule: o.schedule,
    exportFormat: native === 'csv' ? ('CSV' as const) : ('JSON' as const),
  };
  return runJobExport(
    {
      kind: 'forecast',
      request: { forecastId: o.forecastId, ...body },
      start: (c) => c.startForecastExport(o.forecastId, stripUndefined(body), { signal: o.signal }),
      native,
      defaultPreset: native === 'csv' ? 'forecast-csv' : 'forecast-json',
      expectedPeriod: period,
    },
    o,
  );
}

export async function exportActivity(o: ActivityExportOptions): Promise<ExportResult> {
  const startDate = parseDate(o.from, '--from');
  const endDate = parseDate(o.to, '--to');
  if (Date.parse(endDate) < Date.parse(startDate)) throw new UsageError('--to is before --from');
  const body = { activityTypes: o.types ?? [...ACTIVITY_TYPES], startDate, endDate, exportFormat: 'JSON' as const };
  return runJobExport(
    { kind: 'activity', request: body, start: (c) => c.startActivityExport(body, { signal: o.signal }), native: 'json', defaultPreset: 'activity' },
    o,
  );
}

/**
 * Audit events through the paged GET /audit/events (no export job, no quota): pages are streamed into one
 * `{"items":[…],"actors":[…]}` document, which is redacted and written like a job export.
 */
export async function exportAuditEvents(o: AuditExportOptions): Promise<ExportResult> {
  const format = o.format ?? 'json';
  const target = checkOutput(o.out, o.redaction);
  removeStaleTemps(target);
  const client = clientFor(o);
  const query: AuditEventsQuery = {
    limit: o.pageSize ?? 1000,
    dateFrom: o.from ? parseDate(o.from, '--from') : undefined,
    dateTo: o.to ? parseDate(o.to, '--to') : undefined,
    event: o.event,
    actorId: o.actorId,
    sessionType: o.sessionType,
  };
  const actors = new Map<string, unknown>();
  const counts = { bytes: 0, records: 0 };
  const pages = client.auditEvents(stripUndefined(query) as AuditEventsQuery, { signal: o.signal });
  const itemsOf = (page: AuditEventsPage): unknown[] => {
    for (const a of page.actors) if (a && typeof a.actorId === 'string' && !actors.has(a.actorId)) actors.set(a.actorId, a);
    return page.items;
  };
  const doc = pagedJson('{"items":[', pages, itemsOf, () => `],"actors":${JSON.stringify([...actors.values()])}}`, counts, o.onEvent);
  const body = Readable.from(doc, { objectMode: false });
  const { report } = await writeExport({
    kind: 'audit',
    body,
    native: 'json',
    format,
    target,
    redaction: o.redaction,
    defaultPreset: 'audit',
    sourceName: 'clari:audit-events',
    signal: o.signal,
  });
  return { kind: 'audit', out: target, format, resumed: false, bytesIn: counts.bytes, rows: report?.rows ?? counts.records, redacted: o.redaction.mode === 'redact', report };
}

export interface CopilotCallsExportOptions extends Omit<ExportCommonOptions, 'token' | 'baseUrl' | 'stateDir' | 'newJob' | 'poll'> {
  copilotKey: SecretValue;
  copilotPassword: SecretValue;
  /** Default https://rest-api.copilot.clari.com. */
  copilotBaseUrl?: string;
  /** Calls after / before these times (ISO dates). */
  from?: string;
  to?: string;
  /** Only calls with these statuses. */
  status?: string[];
  includePrivate?: boolean;
  /** Calls per request, 1..100 (default 100). */
  pageSize?: number;
}

/**
 * Copilot calls (GET /calls, paged by skip/limit, 10 requests/s) as one JSON document `{"calls":[…]}`,
 * streamed through the copilot-calls redaction preset (participants, emails, phone numbers, transcript
 * text) to an atomic file. No export job and no quota: the list is read page by page.
 */
export async function exportCopilotCalls(o: CopilotCallsExportOptions): Promise<ExportResult> {
  const format = o.format ?? 'json';
  const target = checkOutput(o.out, o.redaction);
  removeStaleTemps(target);
  const client =
    o.client ??
    createClariClient({
      copilotBaseUrl: o.copilotBaseUrl,
      copilotKey: o.copilotKey,
      copilotPassword: o.copilotPassword,
      retry: o.retry,
      fetch: o.fetch,
      onRetry: (i) => o.onEvent?.({ type: 'retry', ...i }),
    });
  const pageSize = o.pageSize ?? 100;
  if (!Number.isInteger(pageSize) || pageSize < 1 || pageSize > 100) throw new UsageError('--page-size must be 1..100');
  const query = stripUndefined({
    limit: pageSize,
    filterTimeGt: o.from ? parseDate(o.from, '--from') : undefined,
    filterTimeLt: o.to ? parseDate(o.to, '--to') : undefined,
    filterStatus: o.status?.length ? o.status : undefined,
    includePrivate: o.includePrivate,
  });
  const counts = { bytes: 0, records: 0 };
  const doc = pagedJson('{"calls":[', client.copilotCalls(query, { signal: o.signal }), (page) => page, () => ']}', counts, o.onEvent);
  const body = Readable.from(doc, { objectMode: false });
  const { report } = await writeExport({
    kind: 'calls',
    body,
    native: 'json',
    format,
    target,
    redaction: o.redaction,
    defaultPreset: 'copilot-calls',
    sourceName: 'clari:copilot-calls',
    signal: o.signal,
  });
  return { kind: 'calls', out: target, format, resumed: false, bytesIn: counts.bytes, rows: report?.rows ?? counts.records, redacted: o.redaction.mode === 'redact', report };
}

/**
 * A JSON document from a paged API: `head`, the items of every page comma-separated, then `tail()`, as
 * buffers (one per page), counting bytes and records and reporting download progress.
 */
async function* pagedJson<P>(
  head: string,
  pages: AsyncIterable<P>,
  itemsOf: (page: P) => unknown[],
  tail: () => string,
  counts: { bytes: number; records: number },
  onEvent?: (e: ExportEvent) => void,
): AsyncGenerator<Buffer> {
  const govern = memoryGovernor();
  yield Buffer.from(head);
  let first = true;
  for await (const page of pages) {
    let s = '';
    for (const it of itemsOf(page)) {
      s += (first ? '' : ',') + JSON.stringify(it);
      first = false;
      counts.records++;
    }
    const b = Buffer.from(s);
    counts.bytes += b.length;
    govern(counts.bytes);
    onEvent?.({ type: 'download', bytes: counts.bytes, records: counts.records });
    if (b.length) yield b;
  }
  yield Buffer.from(tail());
}

function stripUndefined<T extends object>(o: T): T {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as T;
}
