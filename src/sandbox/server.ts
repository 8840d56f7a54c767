import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { hex, sequence, uuid } from './rng.js';
import {
  ACTIVITY_KINDS,
  EXPORT_TYPES,
  FORECAST_TABS,
  Org,
  SANDBOX_ORG_ID,
  activityJson,
  auditActor,
  auditEvent,
  copilotCall,
  forecastCsv,
  forecastJson,
  knownQuarters,
  planEntryCount,
  planForecast,
  shuffledFrames,
  weeksOf,
  type ActivityPlan,
  type AuditPlan,
  type ExportType,
  type ForecastPlan,
  type Quarter,
} from './data.js';

export interface SandboxConfig {
  token: string;
  /** More Revenue API tokens accepted from the start. */
  extraTokens?: string[];
  copilotKey: string;
  copilotPassword: string;
  seed: number;
  users: number;
  periods: number;
  failRate: number;
  rateLimit: number;
  slowJobs: number;
  truncateResults: boolean;
  failJobs: number;
  wrapJobStatus: boolean;
  monthlyQuota: number;
  concurrentLimit: number;
  auditEvents: number;
  activitiesPerUser: number;
  copilotCalls: number;
  now: () => Date;
  basePath: string;
  copilotPath: string;
  /** Epoch ms clock used for job timing (tests may speed it up). */
  clock: () => number;
}

interface Job {
  jobId: string;
  kind: 'forecast' | 'activity' | 'audit';
  title: string;
  module: string;
  fileType: 'JSON' | 'CSV';
  fileName: string;
  currency: string;
  created: number;
  duration: number;
  willFail: boolean;
  cancelled?: 'CANCELLED' | 'ABORTED';
  downloads: number;
  viewed: boolean;
  forecast?: ForecastPlan;
  activity?: ActivityPlan;
  audit?: AuditPlan & { filter: AuditFilter };
}

interface AuditFilter {
  actorId?: string;
  impersonatingActorId?: string;
  sessionId?: string;
  sessionType?: string;
  dateFrom?: number;
  dateTo?: number;
  event?: string;
}

export interface SandboxStats {
  requests: number;
  unauthorized: number;
  faultsInjected: number;
  rateLimited: number;
  jobsCreated: number;
  downloads: number;
  truncatedDownloads: number;
}

class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly body: unknown,
    readonly headers: Record<string, string> = {},
  ) {
    super(`HTTP ${status}`);
  }
}

export class SandboxServer {
  readonly org: Org;
  readonly stats: SandboxStats = { requests: 0, unauthorized: 0, faultsInjected: 0, rateLimited: 0, jobsCreated: 0, downloads: 0, truncatedDownloads: 0 };
  readonly jobs = new Map<string, Job>();
  private readonly server: Server;
  private readonly sockets = new Set<Socket>();
  private readonly faultRng: () => number;
  private readonly jobRng: () => number;
  /** Digests of the accepted Revenue API tokens (Clari issues one per user; several may be live at once). */
  private readonly tokenDigests = new Map<string, Buffer>();
  private readonly copilotDigest: Buffer;
  private readonly hits: number[] = [];
  private jobSeq = 0;
  // Job ids differ between server instances (data does not): a restarted sandbox does not know old jobs.
  private readonly instanceSalt = randomBytes(4).readUInt32LE(0);
  private baseUrl = '';

  constructor(readonly cfg: SandboxConfig) {
    this.org = new Org(cfg.seed, cfg.users);
    this.faultRng = sequence(cfg.seed ^ 0xfa17);
    this.jobRng = sequence(cfg.seed ^ 0x10b5);
    this.addToken(cfg.token);
    for (const t of cfg.extraTokens ?? []) this.addToken(t);
    this.copilotDigest = digest(`${cfg.copilotKey}\u0000${cfg.copilotPassword}`);
    this.server = createServer({ keepAliveTimeout: 5000 }, (req, res) => {
      this.handle(req, res).catch((e: unknown) => {
        if (!res.headersSent) this.send(res, 500, internalError(String((e as Error)?.message ?? e)));
        else res.destroy();
      });
    });
    this.server.on('connection', (s) => {
      this.sockets.add(s);
      s.on('close', () => this.sockets.delete(s));
    });
  }

  async listen(port: number, host: string): Promise<{ port: number; origin: string }> {
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(port, host, () => {
        this.server.off('error', reject);
        resolve();
      });
    });
    const addr = this.server.address() as AddressInfo;
    const h = addr.family === 'IPv6' ? `[${addr.address}]` : addr.address;
    this.baseUrl = `http://${h}:${addr.port}`;
    return { port: addr.port, origin: this.baseUrl };
  }

  async close(): Promise<void> {
    await new Promise<void>((resolve) => {
      this.server.close(() => resolve());
      for (const s of this.sockets) s.destroy();
    });
  }

  private send(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
    const text = JSON.stringify(body);
    res.writeHead(status, { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(text)), ...headers });
    res.end(text);
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    this.stats.requests++;
    const url = new URL(req.url ?? '/', 'http://sandbox.invalid');
    const path = url.pathname;
    try {
      if (path === '/' || path === '/health') {
        this.send(res, 200, { ok: true, service: 'clariguard sandbox' });
        return;
      }
      const isCopilot = path === this.cfg.copilotPath || path.startsWith(`${this.cfg.copilotPath}/`);
      const isRevenue = path === this.cfg.basePath || path.startsWith(`${this.cfg.basePath}/`);
      if (!isCopilot && !isRevenue) throw new HttpError(404, { message: 'Not Found' });
      this.authenticate(req, isCopilot);
      this.rateLimitCheck();
      this.faultCheck(req.method ?? 'GET');
      const body = await readBody(req);
      if (isCopilot) await this.copilot(req.method ?? 'GET', path.slice(this.cfg.copilotPath.length) || '/', url, res);
      else await this.revenue(req.method ?? 'GET', path.slice(this.cfg.basePath.length) || '/', url, body, res);
    } catch (e) {
      if (!(e instanceof HttpError)) throw e;
      // GET /audit/events declares every 4XX and 5XX as the Errors Response Object, unlike the export operations.
      const listsAudit = req.method === 'GET' && path === `${this.cfg.basePath}/audit/events`;
      this.send(res, e.status, listsAudit ? errorsResponse(e.status, e.body) : e.body, e.headers);
    }
  }

  /** Accepts another Revenue API token (e.g. the new one during a rotation). */
  addToken(token: string): void {
    const d = digest(token);
    this.tokenDigests.set(d.toString('hex'), d);
  }

  /** Stops accepting a token, as revoking it in Clari's Settings → API Token does. */
  revokeToken(token: string): boolean {
    return this.tokenDigests.delete(digest(token).toString('hex'));
  }

  private authenticate(req: IncomingMessage, copilot: boolean): void {
    let ok: boolean;
    if (copilot) {
      const k = header(req, 'x-api-key');
      const p = header(req, 'x-api-password');
      ok = k !== undefined && p !== undefined && timingSafeEqual(digest(`${k}\u0000${p}`), this.copilotDigest);
    } else {
      const t = header(req, 'apikey');
      const d = t === undefined ? undefined : digest(t);
      ok = false;
      // Compare against every token so timing says nothing about which (or whether any) matched.
      for (const accepted of this.tokenDigests.values()) if (d && timingSafeEqual(d, accepted)) ok = true;
    }
    if (!ok) {
      this.stats.unauthorized++;
      throw new HttpError(401, { message: 'Invalid authentication credentials' });
    }
  }

  private rateLimitCheck(): void {
    if (!(this.cfg.rateLimit > 0)) return;
    const now = Date.now();
    while (this.hits.length && now - this.hits[0] >= 1000) this.hits.shift();
    if (this.hits.length >= this.cfg.rateLimit) {
      this.stats.rateLimited++;
      const wait = Math.max(1, Math.ceil((1000 - (now - this.hits[0])) / 1000));
      throw new HttpError(429, { error: 'API rate limit exceeded' }, { 'retry-after': String(wait) });
    }
    this.hits.push(now);
  }

  private faultCheck(method: string): void {
    if (!(this.cfg.failRate > 0)) return;
    if (this.faultRng() >= this.cfg.failRate) return;
    this.stats.faultsInjected++;
    // Injected faults happen before any processing (a job is never created by a faulted request);
    // job-creating POSTs get 503 (not processed), reads get a mix of 500/502/503.
    const status = method === 'GET' ? [500, 502, 503][this.stats.faultsInjected % 3] : 503;
    throw new HttpError(status, internalError('An unexpected error occurred.'));
  }

  // ------------------------------------------------------------ Revenue API

  private async revenue(method: string, path: string, url: URL, body: unknown, res: ServerResponse): Promise<void> {
    let m: RegExpExecArray | null;
    if (method === 'POST' && (m = /^\/export\/forecast\/([^/]+)$/.exec(path))) return this.send(res, 200, this.createForecastJob(decodeURIComponent(m[1]), body));
    if (method === 'POST' && path === '/export/forecast/') throw new HttpError(400, clariError('missing_forecast_id', 'fcw', 'The forecastId query parameter is required.'));
    if (method === 'POST' && path === '/export/activity') return this.send(res, 202, this.createActivityJob(body));
    if (method === 'POST' && path === '/export/audit/events') return this.send(res, 202, this.createAuditJob(body));
    if (method === 'GET' && path === '/export/jobs') return this.send(res, 200, [...this.jobs.values()].map((j) => this.jobView(j)));
    if ((m = /^\/export\/jobs\/([^/]+)$/.exec(path))) {
      const job = this.jobs.get(decodeURIComponent(m[1]));
      if (method === 'GET') {
        if (!job) throw new HttpError(400, clariError('invalid_jobId', 'exports', 'Cannot retrieve the job: no such jobId.'));
        const view = this.jobView(job);
        return this.send(res, 200, this.cfg.wrapJobStatus ? { job: view } : view);
      }
      if (method === 'PATCH') return this.send(res, 200, this.cancel(job, body));
    }
    if (method === 'GET' && (m = /^\/export\/jobs\/([^/]+)\/results$/.exec(path))) return this.results(decodeURIComponent(m[1]), res);
    if (method === 'GET' && path === '/admin/limits') return this.send(res, 200, this.limits());
    if (method === 'GET' && path === '/audit/events') return this.send(res, 200, this.auditPage(url));
    throw new HttpError(404, { code: 'not_found', namespace: 'gateway', errorId: uuid(this.cfg.seed, 999, this.stats.requests), message: `No route for ${method} ${path}`, orgId: SANDBOX_ORG_ID });
  }

  private quarters(): Quarter[] {
    return knownQuarters(this.cfg.seed, this.cfg.now(), this.cfg.periods);
  }

  private checkQuota(): void {
    const l = this.limits().jobs;
    if (l.availableMonthlyQuota <= 0 || l.availableConcurrentLimit <= 0) {
      throw new HttpError(
        400,
        { ...clariError('export_monthly_quota_reached', 'exports', `The monthly quota limit of ${this.cfg.monthlyQuota} or concurrent limit of ${this.cfg.concurrentLimit} has been reached.`), source: 'Export' },
      );
    }
  }

  private newJob(partial: Omit<Job, 'jobId' | 'created' | 'duration' | 'willFail' | 'downloads' | 'viewed'>): Job {
    this.jobSeq++;
    const job: Job = {
      ...partial,
      jobId: hex(this.cfg.seed ^ this.instanceSalt, 200, this.jobSeq, 24),
      created: this.cfg.clock(),
      duration: this.cfg.slowJobs,
      willFail: this.jobRng() < this.cfg.failJobs,
      downloads: 0,
      viewed: false,
    };
    this.jobs.set(job.jobId, job);
    this.stats.jobsCreated++;
    return job;
  }

  private createForecastJob(forecastId: string, body: unknown): { jobId: string } {
    const b = asObject(body, 'fcw');
    const title = FORECAST_TABS[forecastId];
    if (!title) throw new HttpError(400, clariError('no_such_forecast_config', 'fcw', `Forecast ${forecastId} does not exist in the ForecastTemplate.`));
    const types = (b.typesToExport ?? ['forecast', 'forecast_updated']) as unknown;
    if (!Array.isArray(types) || types.some((t) => typeof t !== 'string')) throw new HttpError(400, clariError('bad_request', 'fcw', 'The request body was malformed: typesToExport must be a list'));
    const unsupported = types.filter((t) => t === 'crm_total' || t === 'crm_closed');
    if (unsupported.length) throw new HttpError(400, clariError('type_not_supported', 'fcw', 'CRM Totals and CRM Closed are not supported typeToExport values for Export API. Please see Forecast API documentation if you’d like to retrieve CRM Totals or CRM Closed values.'));
    const invalid = types.filter((t) => !(EXPORT_TYPES as readonly string[]).includes(t));
    if (invalid.length) throw new HttpError(400, clariError('bad_request', 'fcw', `The following typesToExport values are invalid: ${JSON.stringify(invalid)}`));
    const currency = b.currency === undefined || b.currency === null ? 'USD' : b.currency;
    if (typeof currency !== 'string' || !/^[A-Z]{3}$/.test(currency)) throw new HttpError(400, clariError('bad_request', 'fcw', 'The currency parameter is invalid.'));
    const fmt = b.exportFormat ?? 'JSON';
    if (fmt !== 'JSON' && fmt !== 'CSV') throw new HttpError(400, clariError('bad_request', 'fcw', 'The request body was malformed: exportFormat must be JSON or CSV'));
    if (b.schedule !== undefined && !['NONE', 'ONCE', 'MAX'].includes(String(b.schedule))) throw new HttpError(400, clariError('bad_request', 'fcw', 'The request body was malformed: schedule must be NONE, ONCE or MAX'));
    let ranges: [number, number][] = [[0, this.org.users - 1]];
    if (b.scopeId !== undefined && b.scopeId !== null) {
      const root = typeof b.scopeId === 'string' ? this.org.scopeRoot(b.scopeId) : null;
      if (root === null) throw new HttpError(401, clariError('no_optin', 'fcw', `No optins for scope ${String(b.scopeId).slice(0, 40)} for forecast '${forecastId}'.`));
      ranges = this.org.subtreeRanges(root);
    }
    const quarters = this.quarters();
    // Like the real API: a period it does not recognise silently becomes the current quarter.
    const quarter = quarters.find((q) => q.timePeriodId === b.timePeriod) ?? quarters[quarters.length - 1];
    const now = this.cfg.now();
    const weeks = weeksOf(quarter, now);
    const frames = b.includeHistorical === true ? shuffledFrames(this.cfg.seed, weeks) : weeks.slice(-1);
    this.checkQuota();
    const plan = planForecast(this.org, forecastId, quarter, frames, types as ExportType[], currency, ranges);
    const stamp = now.toISOString().replace(/[-:]/g, '').replace('T', '_').slice(0, 15);
    const job = this.newJob({
      kind: 'forecast',
      title: `${title} Export`,
      module: 'FORECAST',
      fileType: fmt,
      fileName: `clari_export_forecast_${forecastId}_${quarter.timePeriodId}_${stamp}.${fmt.toLowerCase()}`,
      currency,
      forecast: plan,
    });
    return { jobId: job.jobId };
  }

  private createActivityJob(body: unknown): { jobId: string } {
    const b = asObject(body, 'activity');
    const types = (b.activityTypes ?? [...ACTIVITY_KINDS]) as unknown;
    if (!Array.isArray(types) || types.length === 0 || types.some((t) => !(ACTIVITY_KINDS as readonly string[]).includes(String(t)))) {
      throw new HttpError(400, { code: 'Bad request', namespace: 'activity', errorId: hex(this.cfg.seed, 998, this.stats.requests, 32), message: 'activityTypes must be a non-empty list of MEETING, EMAIL_SENT, EMAIL_RECEIVED, ATTACHMENT_SENT, ATTACHMENT_RECEIVED' });
    }
    const now = this.cfg.now().getTime();
    const start = b.startDate === undefined ? now - 30 * 86400_000 : Date.parse(String(b.startDate));
    const end = b.endDate === undefined ? now : Date.parse(String(b.endDate));
    if (Number.isNaN(start) || Number.isNaN(end) || end < start) {
      throw new HttpError(400, { code: 'Bad request', namespace: 'activity', errorId: hex(this.cfg.seed, 998, this.stats.requests, 32), message: 'startDate and endDate must be ISO-8601 date-times with startDate <= endDate' });
    }
    if (b.exportFormat !== undefined && b.exportFormat !== 'JSON') throw new HttpError(400, { code: 'Bad request', namespace: 'activity', message: 'exportFormat must be JSON' });
    this.checkQuota();
    const days = Math.max(1, Math.ceil((end - start) / 86400_000));
    const count = Math.round((this.org.users * this.cfg.activitiesPerUser * Math.min(days, 365)) / 30);
    const stamp = new Date(now).toISOString().replace(/[-:]/g, '').replace('T', '_').slice(0, 15);
    const job = this.newJob({
      kind: 'activity',
      title: 'Activity Export',
      module: 'ACTIVITY',
      fileType: 'JSON',
      fileName: `clari_export_activity_${stamp}.json`,
      currency: 'USD',
      activity: { org: this.org, types: types.map(String), start, end, count },
    });
    return { jobId: job.jobId };
  }

  private createAuditJob(body: unknown): { jobId: string } {
    const b = asObject(body, 'audit');
    const filter = auditFilter(Object.fromEntries(Object.entries(b).map(([k, v]) => [k, v === null || v === undefined ? undefined : String(v)])));
    this.checkQuota();
    const job = this.newJob({
      kind: 'audit',
      title: 'Audit Events Export',
      module: 'AUDIT',
      fileType: 'JSON',
      fileName: `clari_export_audit_events_${Date.now()}.json`,
      currency: 'USD',
      audit: { ...this.auditPlan(), filter },
    });
    return { jobId: job.jobId };
  }

  private status(job: Job): 'SCHEDULED' | 'STARTED' | 'DONE' | 'FAILED' | 'CANCELLED' | 'ABORTED' {
    if (job.cancelled) return job.cancelled;
    const elapsed = this.cfg.clock() - job.created;
    if (elapsed >= job.duration) return job.willFail ? 'FAILED' : 'DONE';
    return elapsed < job.duration / 3 ? 'SCHEDULED' : 'STARTED';
  }

  private jobView(job: Job): Record<string, unknown> {
    const status = this.status(job);
    const end = job.created + job.duration;
    return {
      jobId: job.jobId,
      userId: this.org.userId(0),
      orgId: SANDBOX_ORG_ID,
      title: job.title,
      module: job.module,
      startTime: job.created,
      ...(status === 'DONE' || status === 'FAILED' ? { endTime: end } : {}),
      expiredTime: end + 30 * 86400_000,
      version: 1,
      fileName: job.fileName,
      fileType: job.fileType,
      status,
      viewed: job.viewed,
      cellsTruncated: false,
      rowsTruncated: false,
      downloads: job.downloads,
      deliveryStatusMap: {},
      currency: job.currency,
    };
  }

  private cancel(job: Job | undefined, body: unknown): { status: string; successful: boolean } {
    const b = asObject(body, 'exports');
    if (b.type !== 'CANCEL') throw new HttpError(400, clariError('bad_request', 'exports', 'The request body was malformed: type must be CANCEL'));
    if (!job) throw new HttpError(400, clariError('invalid_jobId', 'exports', 'Cannot cancel the job: no such jobId.'));
    const s = this.status(job);
    if (s === 'DONE' || s === 'FAILED') throw new HttpError(400, clariError('export_failed_to_cancel', 'exports', 'Cannot cancel the job because it already finished executing.'));
    if (!job.cancelled) job.cancelled = s === 'SCHEDULED' ? 'CANCELLED' : 'ABORTED';
    return { status: 'CANCELLED', successful: true };
  }

  limits(): { jobs: { concurrentLimit: number; monthlyQuota: number; runningJobIds: string[]; submittedJobIds: string[]; availableConcurrentLimit: number; availableMonthlyQuota: number } } {
    const cutoff = this.cfg.clock() - 30 * 86400_000;
    const submitted: string[] = [];
    const running: string[] = [];
    for (const j of this.jobs.values()) {
      if (j.created < cutoff || j.cancelled) continue; // cancelling frees quota
      submitted.push(j.jobId);
      const s = this.status(j);
      if (s === 'SCHEDULED' || s === 'STARTED') running.push(j.jobId);
    }
    return {
      jobs: {
        concurrentLimit: this.cfg.concurrentLimit,
        monthlyQuota: this.cfg.monthlyQuota,
        runningJobIds: running,
        submittedJobIds: submitted,
        availableConcurrentLimit: Math.max(0, this.cfg.concurrentLimit - running.length),
        availableMonthlyQuota: Math.max(0, this.cfg.monthlyQuota - submitted.length),
      },
    };
  }

  private async results(jobId: string, res: ServerResponse): Promise<void> {
    const job = this.jobs.get(jobId);
    if (!job || this.status(job) !== 'DONE') {
      throw new HttpError(400, clariError('invalid_jobId', 'exports', job ? 'Cannot retrieve data for job because it has not finished executing.' : 'Cannot retrieve data: no such jobId.'));
    }
    job.downloads++;
    job.viewed = true;
    this.stats.downloads++;
    let gen: Iterable<string>;
    let contentType = 'application/json';
    let approxEntries = 0;
    if (job.forecast) {
      approxEntries = planEntryCount(job.forecast);
      if (job.fileType === 'CSV') {
        gen = forecastCsv(job.forecast);
        contentType = 'text/csv; charset=utf-8';
      } else gen = forecastJson(job.forecast);
    } else if (job.activity) {
      gen = activityJson(job.activity);
      approxEntries = job.activity.count;
    } else {
      gen = this.auditExport(job.audit!);
      approxEntries = job.audit!.count;
    }
    res.writeHead(200, {
      'content-type': contentType,
      'content-disposition': `attachment; filename="${job.fileName}"`,
      'cache-control': 'no-store',
    });
    if (this.cfg.truncateResults) {
      this.stats.truncatedDownloads++;
      // Cut the body at roughly half and drop the connection without the final chunk, as a dying proxy would.
      const cutAt = Math.max(256, approxEntries * 60);
      let sent = 0;
      for (const chunk of gen) {
        const piece = sent + chunk.length > cutAt ? chunk.slice(0, Math.max(0, cutAt - sent)) : chunk;
        sent += piece.length;
        if (piece && !res.write(piece)) await new Promise((r) => res.once('drain', r));
        if (sent >= cutAt) break;
      }
      await new Promise((r) => setTimeout(r, 20));
      res.socket?.destroy();
      return;
    }
    await pipeline(Readable.from(gen, { objectMode: false, highWaterMark: 4 }), res);
  }

  // ------------------------------------------------------------ audit events

  private auditPlan(): AuditPlan {
    return { org: this.org, count: this.cfg.auditEvents, now: this.cfg.now().getTime() };
  }

  private *auditExport(plan: AuditPlan & { filter: AuditFilter }): Generator<string> {
    let buf = '{"items":[';
    const actors = new Map<string, unknown>();
    let n = 0;
    for (let k = 0; k < plan.count; k++) {
      const ev = auditEvent(plan, k);
      if (!matchesAudit(ev, plan.filter)) continue;
      if (ev.actorType === 'USER' && !actors.has(ev.actorId as string)) actors.set(ev.actorId as string, auditActor(this.org, ev.actorId as string));
      buf += (n++ ? ',' : '') + JSON.stringify(ev);
      if (buf.length > 65536) {
        yield buf;
        buf = '';
      }
    }
    yield `${buf}],"actors":${JSON.stringify([...actors.values()])}}`;
  }

  private auditPage(url: URL): Record<string, unknown> {
    const q = url.searchParams;
    const limitRaw = q.get('limit') ?? '100';
    const limit = Number(limitRaw);
    if (!/^\d+$/.test(limitRaw) || limit < 1 || limit > 1000) {
      throw new HttpError(400, { errors: [{ status: '400', code: 'bad_request', message: 'limit must be an integer between 1 and 1000', target: 'limit' }] });
    }
    const filter = auditFilter(Object.fromEntries(q.entries()));
    const cursorRaw = q.get('cursor') ?? '0';
    if (!/^\d+$/.test(cursorRaw)) throw new HttpError(400, { errors: [{ status: '400', code: 'bad_request', message: 'invalid cursor', target: 'cursor' }] });
    const plan = this.auditPlan();
    const items: Record<string, unknown>[] = [];
    const actors = new Map<string, unknown>();
    let k = Number(cursorRaw);
    for (; k < plan.count && items.length < limit; k++) {
      const ev = auditEvent(plan, k);
      if (!matchesAudit(ev, filter)) continue;
      items.push(ev);
      if (ev.actorType === 'USER' && !actors.has(ev.actorId as string)) actors.set(ev.actorId as string, auditActor(this.org, ev.actorId as string));
    }
    let more = false;
    for (let j = k; j < plan.count; j++) {
      if (matchesAudit(auditEvent(plan, j), filter)) {
        more = true;
        break;
      }
    }
    const out: Record<string, unknown> = { items, actors: [...actors.values()] };
    if (more) {
      const next = new URL(`${this.baseUrl}${this.cfg.basePath}/audit/events`);
      for (const [key, v] of q.entries()) if (key !== 'cursor') next.searchParams.set(key, v);
      next.searchParams.set('limit', String(limit));
      next.searchParams.set('cursor', String(k));
      out.nextLink = next.toString();
    }
    return out;
  }

  // ------------------------------------------------------------ Copilot

  private async copilot(method: string, path: string, url: URL, res: ServerResponse): Promise<void> {
    if (method === 'GET' && path === '/calls') {
      const q = url.searchParams;
      const skip = intParam(q.get('skip'), 0, 0, 10000, 'skip');
      const limit = intParam(q.get('limit'), 25, 1, 100, 'limit');
      const total = this.cfg.copilotCalls;
      const now = this.cfg.now().getTime();
      const calls = [];
      for (let k = skip; k < Math.min(total, skip + limit); k++) calls.push(copilotCall(this.org, k, now));
      const body: Record<string, unknown> = { calls };
      if (q.get('includePagination') !== 'false') body.pagination = { matched: total, hasMore: skip + calls.length < total, nextPageSkip: skip + calls.length };
      return this.send(res, 200, body);
    }
    if (method === 'GET' && path === '/users') {
      const users = [];
      for (let i = 0; i < Math.min(this.org.users, 10000); i++) {
        const p = this.org.parent(i);
        users.push({ id: String(this.org.userId(i)), email: this.org.emailOf(i), name: this.org.nameOf(i).full, role: this.org.isManager(i) ? 'MANAGER' : 'REP', is_recording: true, ...(p === null ? {} : { manager_id: String(this.org.userId(p)) }) });
      }
      return this.send(res, 200, { users });
    }
    throw new HttpError(404, { message: `No route for ${method} ${path}` });
  }
}

function digest(s: string): Buffer {
  return createHash('sha256').update(s).digest();
}

function header(req: IncomingMessage, name: string): string | undefined {
  const v = req.headers[name];
  return Array.isArray(v) ? v[0] : v;
}

function intParam(raw: string | null, dflt: number, min: number, max: number, name: string): number {
  if (raw === null) return dflt;
  if (!/^\d+$/.test(raw) || Number(raw) < min || Number(raw) > max) throw new HttpError(400, { message: `${name} must be an integer between ${min} and ${max}` });
  return Number(raw);
}

let errorCounter = 0;
export function clariError(code: string, namespace: string, message: string): Record<string, unknown> {
  errorCounter++;
  return { code, namespace, errorId: uuid(0x5eed, 997, errorCounter), message, orgId: SANDBOX_ORG_ID };
}

/** The Errors Response Object (`{"errors":[{status, code, message}]}`) for a body in another error shape. */
function errorsResponse(status: number, body: unknown): unknown {
  const b = (body ?? {}) as Record<string, unknown>;
  if (Array.isArray(b.errors)) return body;
  const code = typeof b.code === 'string' ? b.code : status === 401 ? 'unauthorized' : status === 429 ? 'rate_limited' : status >= 500 ? 'internal_server_error' : 'bad_request';
  const message = typeof b.message === 'string' ? b.message : typeof b.error === 'string' ? b.error : `HTTP ${status}`;
  return { errors: [{ status: String(status), code, message }] };
}

function internalError(message: string): Record<string, unknown> {
  return clariError('internal_server_error', 'exports', message);
}

async function readBody(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const c of req) {
    total += (c as Buffer).length;
    if (total > 1 << 20) throw new HttpError(413, clariError('bad_request', 'gateway', 'Request body too large.'));
    chunks.push(c as Buffer);
  }
  if (total === 0) return undefined;
  try {
    return JSON.parse(Buffer.concat(chunks).toString('utf8'));
  } catch {
    throw new HttpError(400, clariError('bad_request', 'fcw', 'The request body was malformed: not JSON'));
  }
}

function asObject(body: unknown, ns: string): Record<string, unknown> {
  if (body === undefined || body === null) return {};
  if (typeof body !== 'object' || Array.isArray(body)) throw new HttpError(400, clariError('bad_request', ns, 'The request body was malformed: expected a JSON object'));
  return body as Record<string, unknown>;
}

function auditFilter(q: Record<string, string | undefined>): AuditFilter {
  const date = (v: string | undefined, name: string): number | undefined => {
    if (v === undefined || v === '') return undefined;
    const t = Date.parse(v);
    if (Number.isNaN(t)) throw new HttpError(400, { errors: [{ status: '400', code: 'bad_request', message: `${name} is not an ISO-8601 date`, target: name }] });
    return t;
  };
  return {
    actorId: q.actorId,
    impersonatingActorId: q.impersonatingActorId,
    sessionId: q.sessionId,
    sessionType: q.sessionType,
    dateFrom: date(q.dateFrom, 'dateFrom'),
    dateTo: date(q.dateTo, 'dateTo'),
    event: q.event,
  };
}

function matchesAudit(ev: Record<string, unknown>, f: AuditFilter): boolean {
  if (f.actorId !== undefined && ev.actorId !== f.actorId) return false;
  if (f.impersonatingActorId !== undefined && ev.impersonatingActorId !== f.impersonatingActorId) return false;
  if (f.sessionId !== undefined && ev.sessionId !== f.sessionId) return false;
  if (f.sessionType !== undefined && ev.sessionType !== f.sessionType) return false;
  if (f.event !== undefined && ev.event !== f.event && !String(ev.event).startsWith(`${f.event}.`)) return false;
  if (f.dateFrom !== undefined || f.dateTo !== undefined) {
    const t = Date.parse(String(ev.eventTimestamp));
    if (f.dateFrom !== undefined && t < f.dateFrom) return false;
    if (f.dateTo !== undefined && t > f.dateTo) return false;
  }
  return true;
}
