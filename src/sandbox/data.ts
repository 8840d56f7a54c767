import { hash, hex, pick, sfdcId, unit, uuid } from './rng.js';

/**
 * Synthetic Clari org: users in a sales hierarchy, forecast fields, fiscal quarters (calendar quarters here)
 * with weekly time frames, forecast entries, activities, audit events and Copilot calls. Everything is a pure
 * function of the seed and an index, so exports of any size are generated lazily, record by record.
 */

const FIRST = [
  'Ava', 'Liam', 'Noah', 'Emma', 'Olivia', 'Mateo', 'Sofia', 'Aiden', 'Priya', 'Wei', 'Fatima', 'Lucas', 'Chloe', 'Ethan',
  'Amara', 'Diego', 'Hana', 'Jonas', 'Isabel', 'Kwame', 'Lena', 'Marco', 'Nadia', 'Oscar', 'Rosa', 'Samuel', 'Tara',
  'Yusuf', 'Zoe', 'Arjun', 'Bianca', 'Carlos', 'Dana', 'Elif', 'Felix', 'Grace', 'Hugo', 'Ingrid', 'Jamal', 'Keiko',
  'Leila', 'Miguel', 'Nora', 'Omar', 'Paula', 'Quinn', 'Ravi', 'Sara', 'Tomas', 'Uma', 'Victor', 'Wanda', 'Ximena',
  'Yara', 'Zain', 'Anika', 'Bruno', 'Clara', 'Dmitri', 'Esther',
];
const LAST = [
  'Turner', 'Lewis', 'Martin', 'Silva', 'Nguyen', 'Okafor', 'Schmidt', 'Rossi', 'Kowalski', 'Haddad', 'Tanaka', 'Patel',
  'Garcia', 'Johansson', 'Dubois', 'Mensah', 'Novak', 'Costa', 'Ibrahim', 'Kim', 'Larsen', 'Moreau', 'Petrov', 'Quispe',
  'Reyes', 'Sato', 'Thompson', 'Usman', 'Vargas', 'Walsh', 'Yilmaz', 'Zhang', 'Alvarez', 'Brennan', 'Chen', 'Dlamini',
  'Eriksen', 'Fischer', 'Gupta', 'Hughes', 'Ito', 'Jensen', 'Khan', 'Lopez', 'Murphy', 'Nakamura', "O'Brien", 'Park',
  'Santos', 'Weber',
];
const REGIONS = ['East', 'West', 'Central', 'EMEA', 'APAC', 'LATAM'];
const COMPANIES = ['Northwind', 'Contoso', 'Fabrikam', 'Tailspin', 'Wingtip', 'Litware', 'Adatum', 'Proseware', 'Fourth Coffee', 'Woodgrove', 'Lucerne', 'Margie', 'Trey Research', 'Alpine Ski', 'Coho Winery', 'Humongous', 'Blue Yonder', 'Relecloud'];
const BRANCHING = 6;

export const SANDBOX_ORG_ID = 101;
export const FORECAST_TABS: Record<string, string> = { net_arr: 'Net ARR', new_bookings: 'New Bookings', renewals: 'Renewals' };

export interface Field {
  fieldId: string;
  fieldName: string;
  fieldType: 'forecast' | 'quota';
}
export const FIELDS: readonly Field[] = [
  { fieldId: 'commit', fieldName: 'Commit', fieldType: 'forecast' },
  { fieldId: 'best_case', fieldName: 'Best Case', fieldType: 'forecast' },
  { fieldId: 'most_likely', fieldName: 'Most Likely', fieldType: 'forecast' },
  { fieldId: 'quota', fieldName: 'Quota', fieldType: 'quota' },
];
const CALL_FIELDS = FIELDS.filter((f) => f.fieldType === 'forecast');
const QUOTA_FIELDS = FIELDS.filter((f) => f.fieldType === 'quota');

export interface SandboxUser {
  index: number;
  userId: number;
  name: string;
  email: string;
  crmId: string;
  hierarchyId: string;
  hierarchyName: string;
  parentHierarchyId: string | null;
  parentHierarchyName: string | null;
  scopeId: string;
  isManager: boolean;
}

export class Org {
  readonly seed: number;
  readonly users: number;
  readonly domain: string;
  constructor(seed: number, users: number) {
    this.seed = seed >>> 0;
    this.users = Math.max(1, Math.floor(users));
    const co = pick(COMPANIES, hash(this.seed, 1));
    this.domain = `${co.toLowerCase().replace(/[^a-z]+/g, '')}-sandbox.example`;
  }

  depth(i: number): number {
    let d = 0;
    while (i > 0) {
      i = Math.floor((i - 1) / BRANCHING);
      d++;
    }
    return d;
  }
  parent(i: number): number | null {
    return i === 0 ? null : Math.floor((i - 1) / BRANCHING);
  }
  isManager(i: number): boolean {
    return BRANCHING * i + 1 < this.users;
  }
  region(i: number): string {
    let a = i;
    while (a > BRANCHING) a = Math.floor((a - 1) / BRANCHING);
    return a === 0 ? 'Global' : REGIONS[(a - 1) % REGIONS.length];
  }
  role(i: number): string {
    const d = this.depth(i);
    if (d === 0) return 'CEO';
    const r = this.region(i);
    if (!this.isManager(i)) return `Sales Rep - ${r}`;
    if (d === 1) return `VP Sales - ${r}`;
    if (d === 2) return `Sales Director - ${r}`;
    return `Sales Manager - ${r} ${(i % 9) + 1}`;
  }
  userId(i: number): number {
    return 1001 + i;
  }
  indexOfUserId(userId: number): number | null {
    const i = userId - 1001;
    return Number.isInteger(i) && i >= 0 && i < this.users ? i : null;
  }
  nameOf(i: number): { first: string; last: string; full: string } {
    const first = pick(FIRST, hash(this.seed, 2, i));
    const last = pick(LAST, hash(this.seed, 3, i));
    return { first, last, full: `${first} ${last}` };
  }
  emailOf(i: number): string {
    const n = this.nameOf(i);
    const local = `${n.first}.${n.last}`.toLowerCase().replace(/[^a-z.]/g, '');
    // Names repeat in a big roster; the index suffix keeps emails unique as in a real directory.
    return i < FIRST.length ? `${local}@${this.domain}` : `${local}${i}@${this.domain}`;
  }
  crmIdOf(i: number): string {
    return sfdcId('005', this.seed, 10, i);
  }
  user(i: number): SandboxUser {
    const p = this.parent(i);
    const mgr = this.isManager(i);
    const hid = `${this.userId(i)}::${mgr ? 'MGR' : 'REP'}`;
    return {
      index: i,
      userId: this.userId(i),
      name: this.nameOf(i).full,
      email: this.emailOf(i),
      crmId: this.crmIdOf(i),
      hierarchyId: hid,
      hierarchyName: this.role(i),
      parentHierarchyId: p === null ? null : `${this.userId(p)}::MGR`,
      parentHierarchyName: p === null ? null : this.role(p),
      scopeId: hid,
      isManager: mgr,
    };
  }
  /** Index ranges of the subtree rooted at `root` (inclusive), one per level: a complete tree keeps them contiguous. */
  subtreeRanges(root: number): [number, number][] {
    const out: [number, number][] = [];
    let lo = root;
    let hi = root;
    while (lo < this.users) {
      out.push([lo, Math.min(hi, this.users - 1)]);
      lo = BRANCHING * lo + 1;
      hi = BRANCHING * hi + BRANCHING;
    }
    return out;
  }
  /** Resolves a scopeId (`1001::MGR`) to a user index, or null when no such manager scope exists. */
  scopeRoot(scopeId: string): number | null {
    const m = /^(\d+)::(MGR|REP)$/.exec(scopeId);
    if (!m) return null;
    const i = this.indexOfUserId(Number(m[1]));
    if (i === null) return null;
    return (m[2] === 'MGR') === this.isManager(i) ? i : null;
  }
}

export interface Quarter {
  timePeriodId: string;
  label: string;
  type: 'quarter';
  year: number;
  quarter: number;
  startDate: string;
  endDate: string;
  crmId: string;
}

export function quarterOf(date: Date): { year: number; quarter: number } {
  return { year: date.getUTCFullYear(), quarter: Math.floor(date.getUTCMonth() / 3) + 1 };
}

function iso(d: Date): string {
  return d.toISOString().slice(0, 10);
}

export function makeQuarter(seed: number, year: number, quarter: number): Quarter {
  const start = new Date(Date.UTC(year, (quarter - 1) * 3, 1));
  const end = new Date(Date.UTC(year, quarter * 3, 0));
  return {
    timePeriodId: `${year}_Q${quarter}`,
    label: `Q${quarter} FY ${year}`,
    type: 'quarter',
    year,
    quarter,
    startDate: iso(start),
    endDate: iso(end),
    crmId: sfdcId('026', seed, 20, year * 10 + quarter),
  };
}

/** The `count` quarters ending with the current one, oldest first. */
export function knownQuarters(seed: number, now: Date, count: number): Quarter[] {
  const { year, quarter } = quarterOf(now);
  const out: Quarter[] = [];
  for (let k = Math.max(1, count) - 1; k >= 0; k--) {
    const idx = year * 4 + (quarter - 1) - k;
    out.push(makeQuarter(seed, Math.floor(idx / 4), (idx % 4) + 1));
  }
  return out;
}

export interface TimeFrame {
  timeFrameId: string;
  week: number;
  /** Epoch ms of startDate (not serialised). */
  startMs: number;
  startDate: string;
  endDate: string;
}

/** Weekly time frames of a quarter up to `now` (all weeks for past quarters). */
export function weeksOf(q: Quarter, now: Date): TimeFrame[] {
  const start = Date.parse(`${q.startDate}T00:00:00Z`);
  const end = Date.parse(`${q.endDate}T00:00:00Z`);
  const out: TimeFrame[] = [];
  // 13 weeks; the last one runs to the quarter's end (quarters are 90-92 days).
  for (let w = 0, t = start; w < 13; w++, t += 7 * 86400_000) {
    if (t > now.getTime() && out.length > 0) break;
    const e = w === 12 ? end : t + 6 * 86400_000;
    out.push({ timeFrameId: `${q.timePeriodId}_W${String(w + 1).padStart(2, '0')}`, week: w, startMs: t, startDate: iso(new Date(t)), endDate: iso(new Date(e)) });
  }
  return out;
}

export type ExportType = 'forecast' | 'quota' | 'forecast_updated' | 'adjustment';
export const EXPORT_TYPES: readonly ExportType[] = ['forecast', 'quota', 'forecast_updated', 'adjustment'];

export interface ForecastPlan {
  org: Org;
  forecastId: string;
  quarter: Quarter;
  frames: TimeFrame[];
  types: ExportType[];
  currency: { code: string; symbol: string };
  /** [lo, hi] user index ranges in scope. */
  ranges: [number, number][];
  /** (field, type) pairs emitted per user per frame, with their indexes precomputed for the hot loop. */
  cells: { field: Field; type: ExportType; fieldIdx: number; typeIdx: number }[];
}

export function planForecast(org: Org, forecastId: string, quarter: Quarter, frames: TimeFrame[], types: ExportType[], currency: string, ranges: [number, number][]): ForecastPlan {
  const cells: ForecastPlan['cells'] = [];
  for (const type of types) {
    const fields = type === 'quota' ? QUOTA_FIELDS : CALL_FIELDS;
    for (const field of fields) cells.push({ field, type, fieldIdx: FIELDS.indexOf(field), typeIdx: EXPORT_TYPES.indexOf(type) });
  }
  const symbols: Record<string, string> = { USD: '$', EUR: '€', GBP: '£', JPY: '¥', CAD: 'CA$', AUD: 'A$' };
  return { org, forecastId, quarter, frames, types, currency: { code: currency, symbol: symbols[currency] ?? currency }, ranges, cells };
}

export function planUserCount(p: ForecastPlan): number {
  return p.ranges.reduce((n, [lo, hi]) => n + (hi - lo + 1), 0);
}

export function planEntryCount(p: ForecastPlan): number {
  return planUserCount(p) * p.frames.length * p.cells.length;
}

interface EntryValue {
  value: number;
  updated: boolean;
  updatedBy: number;
  updatedOn: string;
}

function entryValue(p: ForecastPlan, i: number, fieldIdx: number, type: ExportType, typeIdx: number, frame: TimeFrame): EntryValue {
  const s = p.org.seed;
  const qn = p.quarter.year * 4 + p.quarter.quarter;
  const base = 50_000 + unit(hash(s, 30, i, qn)) * 1_450_000; // a rep's quota-sized number
  const h = hash(s, 31, i, fieldIdx * 8 + typeIdx, qn * 64 + frame.week);
  const fieldFactor = [0.7, 1.1, 0.9, 1][fieldIdx] ?? 1;
  const progress = 0.4 + (frame.week / 13) * 0.6;
  let value = type === 'quota' ? base : base * fieldFactor * progress * (0.8 + unit(h) * 0.4);
  if (type === 'adjustment') value *= 0.9 + unit(mixOnce(h)) * 0.2;
  const updated = (h & 3) !== 0;
  const mgr = p.org.parent(i);
  const updatedBy = p.org.userId(type === 'adjustment' && mgr !== null ? mgr : i);
  const t = frame.startMs + (h % (5 * 86400)) * 1000;
  return { value: Math.round(value * 100) / 100, updated, updatedBy, updatedOn: new Date(t).toISOString().slice(0, 19) + 'Z' };
}

function mixOnce(h: number): number {
  return Math.imul(h ^ (h >>> 13), 0x5bd1e995) >>> 0;
}

/** Orders frames as Clari does with includeHistorical: not by date (README: "weeks come back unordered"). */
export function shuffledFrames(seed: number, frames: TimeFrame[]): TimeFrame[] {
  return frames
    .map((f, k) => ({ f, k: hash(seed, 40, k) }))
    .sort((a, b) => a.k - b.k)
    .map((x) => x.f);
}

const CHUNK = 64 * 1024;

/** The forecast export as Clari's JSON document, generated lazily in ~64 KiB string chunks. */
export function* forecastJson(p: ForecastPlan, limitEntries = Infinity): Generator<string> {
  let buf = '{"entries":[';
  let n = 0;
  const cur = JSON.stringify(p.currency);
  const tp = JSON.stringify(p.quarter.timePeriodId);
  outer: for (const frame of p.frames) {
    const tf = JSON.stringify(frame.timeFrameId);
    for (const [lo, hi] of p.ranges) {
      for (let i = lo; i <= hi; i++) {
        const uid = p.org.userId(i);
        for (const { field, type, fieldIdx, typeIdx } of p.cells) {
          if (n >= limitEntries) break outer;
          const v = entryValue(p, i, fieldIdx, type, typeIdx, frame);
          let valuePart: string;
          if (type === 'quota') valuePart = `"quotaValue":${v.value}`;
          else if (type === 'forecast_updated') valuePart = `"isUpdated":${v.updated}`;
          else valuePart = `"forecastValue":${v.value}`;
          buf += `${n ? ',' : ''}{"userId":${uid},"fieldId":"${field.fieldId}","timePeriodId":${tp},"timeFrameId":${tf},"dataType":"${type}",${valuePart},"currency":${cur},"isUpdated":${v.updated},"updatedBy":${v.updatedBy},"updatedOn":"${v.updatedOn}"}`;
          n++;
          if (buf.length >= CHUNK) {
            yield buf;
            buf = '';
          }
        }
      }
    }
  }
  if (n < limitEntries || limitEntries === Infinity) {
    buf += '],"users":[';
    let first = true;
    for (const [lo, hi] of p.ranges) {
      for (let i = lo; i <= hi; i++) {
        const u = p.org.user(i);
        buf += `${first ? '' : ','}${JSON.stringify({
          userId: u.userId,
          name: u.name,
          email: u.email,
          crmId: u.crmId,
          hierarchyId: u.hierarchyId,
          hierarchyName: u.hierarchyName,
          parentHierarchyId: u.parentHierarchyId,
          parentHierarchyName: u.parentHierarchyName,
          scopeId: u.scopeId,
        })}`;
        first = false;
        if (buf.length >= CHUNK) {
          yield buf;
          buf = '';
        }
      }
    }
    buf += `],"fields":${JSON.stringify(FIELDS.filter((f) => p.cells.some((c) => c.field === f)))}`;
    const { quarter: _q, ...period } = p.quarter;
    buf += `,"timePeriods":[${JSON.stringify(period)}]`;
    buf += `,"timeFrames":${JSON.stringify(p.frames.map(({ week: _w, startMs: _s, ...f }) => f))}}`;
  }
  yield buf;
}

export const CSV_COLUMNS = ['User', 'Email', 'CRM User ID', 'Role', 'Parent Role', 'Timeframe', 'Field', 'Week', 'Start Day', 'End Day', 'Data Type', 'Data Value'] as const;

function csvCell(s: string): string {
  return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}
function usDate(isoDate: string): string {
  return `${isoDate.slice(5, 7)}/${isoDate.slice(8, 10)}/${isoDate.slice(0, 4)}`;
}
const MONEY = new Intl.NumberFormat('en-US', { minimumFractionDigits: 2, maximumFractionDigits: 2 });
const DATA_TYPE_LABEL: Record<ExportType, string> = {
  forecast: 'Forecast Value',
  quota: 'Quota Value',
  forecast_updated: 'Forecast Updated',
  adjustment: 'Adjustment Value',
};

/** The forecast export as Clari's CSV (one row per entry), generated lazily. */
export function* forecastCsv(p: ForecastPlan, limitEntries = Infinity): Generator<string> {
  let buf = `${CSV_COLUMNS.join(',')}\r\n`;
  let n = 0;
  outer: for (const frame of p.frames) {
    const dates = `${frame.week},${usDate(frame.startDate)},${usDate(frame.endDate)}`;
    for (const [lo, hi] of p.ranges) {
      for (let i = lo; i <= hi; i++) {
        const u = p.org.user(i);
        const who = `${csvCell(u.name)},${csvCell(u.email)},${u.crmId},${csvCell(u.hierarchyName)},${csvCell(u.parentHierarchyName ?? '')},${csvCell(p.quarter.label)}`;
        for (const { field, type, fieldIdx, typeIdx } of p.cells) {
          if (n >= limitEntries) break outer;
          const v = entryValue(p, i, fieldIdx, type, typeIdx, frame);
          const value = type === 'forecast_updated' ? (v.updated ? 'Yes' : 'No') : `${p.currency.symbol}${MONEY.format(v.value)}`;
          buf += `${who},${csvCell(field.fieldName)},${dates},${DATA_TYPE_LABEL[type]},${csvCell(value)}\r\n`;
          n++;
          if (buf.length >= CHUNK) {
            yield buf;
            buf = '';
          }
        }
      }
    }
  }
  yield buf;
}

// ---------------------------------------------------------------- activities

export const ACTIVITY_KINDS = ['MEETING', 'EMAIL_SENT', 'EMAIL_RECEIVED', 'ATTACHMENT_SENT', 'ATTACHMENT_RECEIVED'] as const;
const SUBJECTS = ['Quarterly business review', 'Pricing follow-up', 'Renewal planning', 'Security questionnaire', 'Intro call', 'Contract redlines', 'Onboarding kickoff', 'Executive sync', 'Proposal', 'Demo recap'];

export interface ActivityPlan {
  org: Org;
  types: string[];
  start: number;
  end: number;
  count: number;
}

function account(org: Org, k: number): { accountId: string; accountName: string; domain: string; ownerIdx: number } {
  const name = `${pick(COMPANIES, hash(org.seed, 50, k))} ${['Inc.', 'Ltd', 'GmbH', 'LLC', 'SA', 'Group'][hash(org.seed, 51, k) % 6]}`;
  return {
    accountId: sfdcId('001', org.seed, 52, k),
    accountName: name,
    domain: `${name.toLowerCase().replace(/[^a-z]+/g, '')}${k}.example`,
    ownerIdx: hash(org.seed, 53, k) % org.users,
  };
}

export function activity(p: ActivityPlan, n: number): Record<string, unknown> {
  const s = p.org.seed;
  const type = p.types[hash(s, 60, n) % p.types.length];
  const ownerIdx = hash(s, 61, n) % p.org.users;
  const organiserIdx = hash(s, 62, n) % 3 === 0 ? (p.org.parent(ownerIdx) ?? ownerIdx) : ownerIdx;
  const acct = account(p.org, hash(s, 63, n) % Math.max(10, Math.ceil(p.org.users * 2)));
  const date = p.start + Math.floor(unit(hash(s, 64, n)) * Math.max(1, p.end - p.start));
  const participants: Record<string, unknown>[] = [
    { name: p.org.nameOf(ownerIdx).full, email: p.org.emailOf(ownerIdx), sfdcUserId: p.org.crmIdOf(ownerIdx), isInternal: true },
  ];
  const ext = 1 + (hash(s, 65, n) % 3);
  for (let k = 0; k < ext; k++) {
    const first = pick(FIRST, hash(s, 66, n, k));
    const last = pick(LAST, hash(s, 67, n, k));
    participants.push({ name: `${first} ${last}`, email: `${first[0]}${last}`.toLowerCase().replace(/[^a-z]/g, '') + `@${acct.domain}`, sfdcUserId: '', isInternal: false });
  }
  return {
    activityId: hex(s, 68, n, 32),
    activityType: type,
    subject: `${pick(SUBJECTS, hash(s, 69, n))}: ${acct.accountName}`,
    date,
    activityOwnerId: p.org.crmIdOf(ownerIdx),
    activityOrganiserId: p.org.crmIdOf(organiserIdx),
    accounts: [{ accountId: acct.accountId, accountName: acct.accountName, accountOwnerId: p.org.crmIdOf(acct.ownerIdx) }],
    opportunities: [
      {
        opportunityId: sfdcId('006', s, 70, hash(s, 63, n)),
        opportunityName: `${acct.accountName} FY${new Date(date).getUTCFullYear() % 100}`,
        opportunityOwnerId: p.org.crmIdOf(acct.ownerIdx),
      },
    ],
    participants,
  };
}

export function* activityJson(p: ActivityPlan, limit = Infinity): Generator<string> {
  let buf = '{"activities":[';
  const n = Math.min(p.count, limit);
  for (let k = 0; k < n; k++) {
    buf += (k ? ',' : '') + JSON.stringify(activity(p, k));
    if (buf.length >= CHUNK) {
      yield buf;
      buf = '';
    }
  }
  if (limit === Infinity || n === p.count) buf += ']}';
  yield buf;
}

// ---------------------------------------------------------------- audit events

const AUDIT_EVENTS = ['user.login', 'api.accessed', 'forecast.updated', 'forecast.submitted', 'export.created', 'user.settings.updated', 'api_token.created', 'opportunity.viewed', 'report.downloaded'];

export interface AuditPlan {
  org: Org;
  count: number;
  /** Epoch ms of the newest event; events spread over the 30 days before. */
  now: number;
}

/** Events are generated newest-last over 30 days: index k has timestamp increasing with k. */
export function auditEvent(p: AuditPlan, k: number): Record<string, unknown> {
  const s = p.org.seed;
  const span = 30 * 86400_000;
  const ts = p.now - span + Math.floor(((k + unit(hash(s, 80, k))) / Math.max(1, p.count)) * span);
  const actorIdx = hash(s, 81, k) % p.org.users;
  const r = hash(s, 82, k);
  const actorType = r % 20 === 0 ? 'SYSTEM' : r % 20 === 1 ? 'JOB' : 'USER';
  const ev: Record<string, unknown> = {
    correlationID: uuid(s, 83, k),
    actorId: String(p.org.userId(actorIdx)),
    actorType,
    sessionId: uuid(s, 84, Math.floor(k / 7)),
    ipAddress: `${10 + (hash(s, 85, actorIdx) % 200)}.${hash(s, 86, actorIdx) % 256}.${hash(s, 87, k) % 256}.${1 + (hash(s, 88, k) % 254)}`,
    sessionType: ['WEB', 'WEB', 'WEB', 'IOS', 'ANDROID'][hash(s, 89, k) % 5],
    event: pick(AUDIT_EVENTS, hash(s, 90, k)),
    eventParameters: { userAgent: 'Mozilla/5.0', outcome: 'success' },
    eventTimestamp: new Date(ts).toISOString().replace(/\.\d{3}Z$/, 'Z'),
  };
  if (r % 50 === 7) ev.impersonatingActorId = String(p.org.userId(hash(s, 91, k) % p.org.users));
  return ev;
}

export function auditActor(org: Org, actorId: string): Record<string, unknown> | null {
  const i = org.indexOfUserId(Number(actorId));
  if (i === null) return null;
  return { actorType: 'USER', actorId, name: org.nameOf(i).full, email: org.emailOf(i) };
}

// ---------------------------------------------------------------- Copilot calls

const CALL_STATUSES = ['PROCESSED', 'PROCESSED', 'PROCESSED', 'POST_PROCESSING_DONE', 'SCHEDULED', 'NOBODY_JOINED_CALL'];
const CALL_TYPES = ['ZOOM', 'GOOGLE_MEET', 'MS_TEAMS', 'RINGCENTRAL', 'DIALPAD'];

export function copilotCall(org: Org, k: number, now: number): Record<string, unknown> {
  const s = org.seed;
  const rep = hash(s, 100, k) % org.users;
  const acct = account(org, hash(s, 101, k) % Math.max(10, org.users * 2));
  const t = now - Math.floor(unit(hash(s, 102, k)) * 90 * 86400_000);
  const first = pick(FIRST, hash(s, 103, k));
  const last = pick(LAST, hash(s, 104, k));
  const ext = `${first[0]}${last}`.toLowerCase().replace(/[^a-z]/g, '') + `@${acct.domain}`;
  const duration = 300 + (hash(s, 105, k) % 3300);
  return {
    id: hex(s, 106, k, 24),
    source_id: uuid(s, 107, k),
    title: `${pick(SUBJECTS, hash(s, 108, k))}: ${acct.accountName}`,
    users: [{ userId: String(org.userId(rep)), userEmail: org.emailOf(rep), isOrganizer: true, personId: 5000 + rep }],
    externalParticipants: [{ name: `${first} ${last}`, email: ext, phone: `+1 555 01${String(hash(s, 109, k) % 100).padStart(2, '0')}`, personId: 900000 + k }],
    joinedParticipants: [
      { name: org.nameOf(rep).full, email: org.emailOf(rep), personId: 5000 + rep },
      { name: `${first} ${last}`, email: ext, personId: 900000 + k },
    ],
    status: pick(CALL_STATUSES, hash(s, 110, k)),
    type: pick(CALL_TYPES, hash(s, 111, k)),
    time: new Date(t).toISOString(),
    last_modified_time: new Date(t + duration * 1000).toISOString(),
    deal_name: `${acct.accountName} FY${new Date(t).getUTCFullYear() % 100}`,
    deal_value: String(10_000 + (hash(s, 112, k) % 490_000)),
    account_name: acct.accountName,
    contact_names: [`${first} ${last}`],
    crm_info: { source_crm: 'SALESFORCE', deal_id: sfdcId('006', s, 70, k), account_id: acct.accountId, contact_ids: [sfdcId('003', s, 113, k)] },
    metrics: { talk_listen_ratio: Math.round(unit(hash(s, 114, k)) * 100) / 100, num_questions_asked: hash(s, 115, k) % 30, call_duration: duration },
  };
}
