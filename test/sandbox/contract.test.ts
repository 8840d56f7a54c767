import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Ajv, type ValidateFunction } from 'ajv';
import addFormats from 'ajv-formats';
import { parse as parseYaml } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CSV_COLUMNS, startSandbox, type SandboxHandle } from '../../src/sandbox/index.js';
import { canary } from '../helpers/canary.js';
import { clariReferenceDir } from '../helpers/cli.js';

/**
 * The sandbox answers as the OpenAPI documents in the shared reference say Clari does: every response body
 * is validated against the schema the spec declares for that operation and status.
 */
const REF = clariReferenceDir();
/**
 * Two readings of the published documents, both deliberate and narrow:
 *  - the 400 answers are `oneOf` loosely typed error objects (no `required`, no discriminator), so every real
 *    Clari error matches several alternatives and `oneOf` could never pass: they are read as `anyOf`;
 *  - Copilot's spec has one `type: float`, which is not a JSON Schema type: it is read as `number`.
 */
function normalise(node: unknown): unknown {
  if (Array.isArray(node)) return node.map(normalise);
  if (!node || typeof node !== 'object') return node;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(node)) {
    if (k === 'oneOf') out.anyOf = normalise(v);
    else if (k === 'type' && v === 'float') out.type = 'number';
    else if (k === '$ref' && typeof v === 'string') out.$ref = v.replace(/\/oneOf\//g, '/anyOf/');
    else out[k] = normalise(v);
  }
  return out;
}
const revenue = normalise(parseYaml(readFileSync(join(REF, 'clari-revenue-api-openapi.yml'), 'utf8'))) as Record<string, unknown>;
const copilot = normalise(parseYaml(readFileSync(join(REF, 'clari-copilot-api-openapi.yml'), 'utf8'))) as Record<string, unknown>;

// OpenAPI 3.0 schemas carry `example`, `x-…` and int32/int64 formats that plain JSON Schema does not know.
const ajv = new Ajv({ strict: false, allErrors: true, validateSchema: false });
addFormats.default(ajv);
ajv.addFormat('int32', { type: 'number', validate: (n: number) => Number.isInteger(n) && Math.abs(n) < 2 ** 31 });
ajv.addFormat('int64', { type: 'number', validate: (n: number) => Number.isInteger(n) });
ajv.addFormat('url', { type: 'string', validate: (s: string) => URL.canParse(s) });
ajv.addSchema({ ...revenue, $id: 'revenue' });
ajv.addSchema({ ...copilot, $id: 'copilot' });

function pointer(...parts: string[]): string {
  return parts.map((p) => p.replace(/~/g, '~0').replace(/\//g, '~1')).join('/');
}
const cache = new Map<string, ValidateFunction>();
function schemaFor(doc: 'revenue' | 'copilot', path: string, method: string, status: string): ValidateFunction {
  const ref = `${doc}#/${pointer('paths', path, method, 'responses', status, 'content', 'application/json', 'schema')}`;
  const hit = cache.get(ref);
  if (hit) return hit;
  const v = ajv.compile({ $ref: ref });
  cache.set(ref, v);
  return v;
}
function expectValid(v: ValidateFunction, body: unknown, what: string): void {
  const ok = v(body);
  expect(ok, `${what}: ${ajv.errorsText(v.errors)}`).toBe(true);
}

const token = canary('cgcontract');
let sb: SandboxHandle;
let apiBase: string;

async function call(method: string, path: string, body?: unknown, headers: Record<string, string> = { apikey: token }): Promise<{ status: number; json: unknown; text: string; headers: Headers }> {
  const res = await fetch(`${apiBase}${path}`, {
    method,
    headers: { ...headers, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: res.status, json, text, headers: res.headers };
}

async function doneJob(path: string, body: unknown): Promise<string> {
  const r = await call('POST', path, body);
  const id = (r.json as { jobId: string }).jobId;
  for (let i = 0; i < 100; i++) {
    const s = await call('GET', `/export/jobs/${id}`);
    if ((s.json as { status: string }).status === 'DONE') return id;
    await new Promise((res) => setTimeout(res, 20));
  }
  throw new Error('job did not finish');
}

beforeAll(async () => {
  sb = await startSandbox({ token, users: 40, slowJobs: 30, auditEvents: 150, copilotCalls: 40 });
  apiBase = sb.url;
});
afterAll(async () => {
  await sb.close();
});

describe('sandbox contract: Revenue API v4', () => {
  it('POST /export/forecast/{forecastId} 200 and its 400/401 error shapes', async () => {
    const ok = await call('POST', '/export/forecast/net_arr', { timePeriod: '2026_Q3', typesToExport: ['forecast', 'quota'], exportFormat: 'JSON' });
    expect(ok.status).toBe(200);
    expectValid(schemaFor('revenue', '/export/forecast/{forecastId}', 'post', '200'), ok.json, 'create forecast export');
    for (const [body, id, code] of [
      [{}, 'nope', 'no_such_forecast_config'],
      [{ typesToExport: ['crm_closed'] }, 'net_arr', 'type_not_supported'],
      [{ typesToExport: ['forecast_value'] }, 'net_arr', 'bad_request'],
      [{ currency: 'dollars' }, 'net_arr', 'bad_request'],
    ] as const) {
      const r = await call('POST', `/export/forecast/${id}`, body);
      expect(r.status).toBe(400);
      expect((r.json as { code: string }).code).toBe(code);
      expectValid(schemaFor('revenue', '/export/forecast/{forecastId}', 'post', '400'), r.json, code);
    }
    const optin = await call('POST', '/export/forecast/net_arr', { scopeId: '1::MGR' });
    expect(optin.status).toBe(401);
    expectValid(schemaFor('revenue', '/export/forecast/{forecastId}', 'post', '401'), optin.json, 'no_optin');
  });

  it('GET /export/jobs/{jobId}, GET /export/jobs, PATCH cancel', async () => {
    const id = await doneJob('/export/forecast/net_arr', { timePeriod: '2026_Q3' });
    const s = await call('GET', `/export/jobs/${id}`);
    expectValid(schemaFor('revenue', '/export/jobs/{jobId}', 'get', '200'), s.json, 'job status');
    const list = await call('GET', '/export/jobs');
    expectValid(schemaFor('revenue', '/export/jobs', 'get', '200'), list.json, 'job list');
    const cancelDone = await call('PATCH', `/export/jobs/${id}`, { type: 'CANCEL' });
    expect(cancelDone.status).toBe(400);
    expectValid(schemaFor('revenue', '/export/jobs/{jobId}', 'patch', '400'), cancelDone.json, 'cancel finished job');
    const missing = await call('GET', '/export/jobs/000000000000000000000000');
    expect(missing.status).toBe(400);
    expectValid(schemaFor('revenue', '/export/jobs/{jobId}', 'get', '400'), missing.json, 'unknown job');
  });

  it('results before DONE, and PATCH cancel of a running job', async () => {
    const slow = await startSandbox({ token, slowJobs: 60_000 });
    try {
      const r = await fetch(`${slow.url}/export/forecast/net_arr`, { method: 'POST', headers: { apikey: token } });
      const { jobId } = (await r.json()) as { jobId: string };
      const early = await fetch(`${slow.url}/export/jobs/${jobId}/results`, { headers: { apikey: token } });
      expect(early.status).toBe(400);
      expectValid(schemaFor('revenue', '/export/jobs/{jobId}/results', 'get', '400'), await early.json(), 'results before DONE');
      const c = await fetch(`${slow.url}/export/jobs/${jobId}`, { method: 'PATCH', headers: { apikey: token, 'content-type': 'application/json' }, body: '{"type":"CANCEL"}' });
      expect(c.status).toBe(200);
      expectValid(schemaFor('revenue', '/export/jobs/{jobId}', 'patch', '200'), await c.json(), 'cancel');
    } finally {
      await slow.close();
    }
  });

  it('GET /export/jobs/{jobId}/results: JSON with the documented sections, and CSV with the documented columns', async () => {
    const id = await doneJob('/export/forecast/net_arr', { timePeriod: '2026_Q3', typesToExport: ['forecast', 'forecast_updated', 'quota'] });
    const r = await call('GET', `/export/jobs/${id}/results`);
    expect(r.status).toBe(200);
    const doc = r.json as Record<string, Record<string, unknown>[]>;
    expect(Object.keys(doc)).toEqual(['entries', 'users', 'fields', 'timePeriods', 'timeFrames']);
    expect(Object.keys(doc.users[0])).toEqual(['userId', 'name', 'email', 'crmId', 'hierarchyId', 'hierarchyName', 'parentHierarchyId', 'parentHierarchyName', 'scopeId']);
    for (const k of ['userId', 'fieldId', 'timePeriodId', 'timeFrameId', 'currency', 'isUpdated', 'updatedBy', 'updatedOn']) expect(doc.entries[0]).toHaveProperty(k);
    expect(doc.timePeriods[0]).toMatchObject({ timePeriodId: '2026_Q3', type: 'quarter', year: 2026, startDate: '2026-07-01', endDate: '2026-09-30' });
    expect(doc.users[0].crmId).toMatch(/^005[A-Za-z0-9]{15}$/);

    const csvId = await doneJob('/export/forecast/net_arr', { timePeriod: '2026_Q3', exportFormat: 'CSV' });
    const c = await call('GET', `/export/jobs/${csvId}/results`);
    expect(c.headers.get('content-type')).toMatch(/text\/csv/);
    const lines = c.text.trim().split('\r\n');
    expect(lines[0]).toBe(CSV_COLUMNS.join(','));
    expect(lines.length).toBe(1 + 40 * 6); // default types forecast + forecast_updated over 3 call fields

  });

  it('falls back to the current quarter for an unknown period, like Clari', async () => {
    const id = await doneJob('/export/forecast/net_arr', { timePeriod: '1999_Q1' });
    const doc = (await call('GET', `/export/jobs/${id}/results`)).json as { timePeriods: { timePeriodId: string }[] };
    const now = new Date();
    expect(doc.timePeriods[0].timePeriodId).toBe(`${now.getUTCFullYear()}_Q${Math.floor(now.getUTCMonth() / 3) + 1}`);
  });

  it('is deterministic by seed', async () => {
    const other = await startSandbox({ token, users: 40, seed: 1 });
    try {
      const a = await doneJob('/export/forecast/net_arr', { timePeriod: '2026_Q2' });
      const b1 = await (await call('GET', `/export/jobs/${a}/results`)).text;
      const r = await fetch(`${other.url}/export/forecast/net_arr`, { method: 'POST', headers: { apikey: token, 'content-type': 'application/json' }, body: '{"timePeriod":"2026_Q2"}' });
      const { jobId } = (await r.json()) as { jobId: string };
      for (let i = 0; i < 200; i++) {
        const st = (await (await fetch(`${other.url}/export/jobs/${jobId}`, { headers: { apikey: token } })).json()) as { status: string };
        if (st.status === 'DONE') break;
        await new Promise((res) => setTimeout(res, 20));
      }
      const b2 = await (await fetch(`${other.url}/export/jobs/${jobId}/results`, { headers: { apikey: token } })).text();
      expect(b2).toBe(b1);
    } finally {
      await other.close();
    }
  });

  it('GET /admin/limits', async () => {
    const r = await call('GET', '/admin/limits');
    expectValid(schemaFor('revenue', '/admin/limits', 'get', '200'), r.json, 'limits');
  });

  it('POST /export/activity 202, its results, and its 400/401 shapes', async () => {
    const body = { activityTypes: ['MEETING', 'EMAIL_SENT'], startDate: '2026-10-01T00:00:00Z', endDate: '2026-10-31T00:00:00Z', exportFormat: 'JSON' };
    const r = await call('POST', '/export/activity', body);
    expect(r.status).toBe(202);
    expectValid(schemaFor('revenue', '/export/activity', 'post', '202'), r.json, 'activity job');
    const id = await doneJob('/export/activity', body);
    const res = await call('GET', `/export/jobs/${id}/results`);
    expectValid(schemaFor('revenue', '/export/activity', 'post', 'x-export-results'), res.json, 'activity results');
    const acts = (res.json as { activities: { activityType: string; participants: { email: string }[] }[] }).activities;
    expect(acts.length).toBeGreaterThan(0);
    expect(acts.every((a) => ['MEETING', 'EMAIL_SENT'].includes(a.activityType) && a.participants.some((p) => p.email.includes('@')))).toBe(true);
    const bad = await call('POST', '/export/activity', { activityTypes: ['CALL'] });
    expect(bad.status).toBe(400);
    expectValid(schemaFor('revenue', '/export/activity', 'post', '400'), bad.json, 'activity 400');
    const unauth = await call('POST', '/export/activity', body, { apikey: 'not-the-token' });
    expect(unauth.status).toBe(401);
    expectValid(schemaFor('revenue', '/export/activity', 'post', '401'), unauth.json, 'activity 401');
  });

  it('GET /audit/events pages with nextLink; POST /export/audit/events', async () => {
    const v = schemaFor('revenue', '/audit/events', 'get', '200');
    let url: string | undefined = `${apiBase}/audit/events?limit=60`;
    let total = 0;
    while (url) {
      const res = await fetch(url, { headers: { apikey: token } });
      const page = (await res.json()) as { items: unknown[]; nextLink?: string };
      expectValid(v, page, 'audit page');
      total += page.items.length;
      url = page.nextLink;
    }
    expect(total).toBe(150);
    const bad = await call('GET', '/audit/events?limit=5000');
    expect(bad.status).toBe(400);
    expectValid(schemaFor('revenue', '/audit/events', 'get', '4XX'), bad.json, 'audit 400');
    const job = await call('POST', '/export/audit/events', { sessionType: 'WEB' });
    expect(job.status).toBe(202);
    expectValid(schemaFor('revenue', '/export/audit/events', 'post', '202'), job.json, 'audit export job');
    const id = await doneJob('/export/audit/events', { sessionType: 'WEB' });
    const out = await call('GET', `/export/jobs/${id}/results`);
    expectValid(schemaFor('revenue', '/export/audit/events', 'post', 'x-export-results'), out.json, 'audit export results');
  });

  it('GET /audit/events answers 401, 429 and 5xx in its declared Errors Response shape', async () => {
    const v = schemaFor('revenue', '/audit/events', 'get', '4XX');
    const unauth = await call('GET', '/audit/events', undefined, { apikey: 'not-the-token' });
    expect(unauth.status).toBe(401);
    expectValid(v, unauth.json, 'audit 401');
    const limited = await startSandbox({ token, rateLimit: 1 });
    const faulty = await startSandbox({ token, failRate: 1 });
    try {
      await fetch(`${limited.url}/audit/events`, { headers: { apikey: token } });
      const r = await fetch(`${limited.url}/audit/events`, { headers: { apikey: token } });
      expect(r.status).toBe(429);
      expect(r.headers.get('retry-after')).toMatch(/^\d+$/);
      expectValid(v, await r.json(), 'audit 429');
      const f = await fetch(`${faulty.url}/audit/events`, { headers: { apikey: token } });
      expect(f.status).toBeGreaterThanOrEqual(500);
      expectValid(schemaFor('revenue', '/audit/events', 'get', '5XX'), await f.json(), 'audit 5xx');
      // The other operations keep their own shapes.
      const g = await fetch(`${limited.url}/export/jobs`, { headers: { apikey: token } });
      expect(await g.json()).toEqual({ error: 'API rate limit exceeded' });
    } finally {
      await limited.close();
      await faulty.close();
    }
  });

  it('quota exhaustion answers 400 export_monthly_quota_reached', async () => {
    const q = await startSandbox({ token, monthlyQuota: 0 });
    try {
      const r = await fetch(`${q.url}/export/forecast/net_arr`, { method: 'POST', headers: { apikey: token } });
      expect(r.status).toBe(400);
      const body = await r.json();
      expect(body).toMatchObject({ code: 'export_monthly_quota_reached' });
      expectValid(schemaFor('revenue', '/export/forecast/{forecastId}', 'post', '400'), body, 'quota');
    } finally {
      await q.close();
    }
  });
});

describe('sandbox contract: Copilot API', () => {
  it('GET /calls pages with skip/limit and validates as CallsResponse', async () => {
    const v = ajv.compile({ $ref: 'copilot#/components/schemas/CallsResponse' });
    const h = { 'X-Api-Key': token, 'X-Api-Password': token };
    const r1 = await fetch(`${sb.copilotUrl}/calls?skip=0&limit=25`, { headers: h });
    const p1 = (await r1.json()) as { calls: unknown[]; pagination: { hasMore: boolean; nextPageSkip: number } };
    expectValid(v, p1, 'calls page');
    expect(p1.calls.length).toBe(25);
    expect(p1.pagination).toMatchObject({ hasMore: true, nextPageSkip: 25 });
    const r2 = await fetch(`${sb.copilotUrl}/calls?skip=25&limit=25`, { headers: h });
    const p2 = (await r2.json()) as { calls: unknown[]; pagination: { hasMore: boolean } };
    expect([p2.calls.length, p2.pagination.hasMore]).toEqual([15, false]);
    const users = await fetch(`${sb.copilotUrl}/users`, { headers: h });
    expectValid(ajv.compile({ $ref: 'copilot#/components/schemas/UsersResponse' }), await users.json(), 'users');
    expect((await fetch(`${sb.copilotUrl}/calls?limit=500`, { headers: h })).status).toBe(400);
    expect((await fetch(`${sb.copilotUrl}/calls`, { headers: { 'X-Api-Key': token } })).status).toBe(401);
  });
});
