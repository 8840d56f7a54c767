import { Readable, type Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { parseRecords } from '../redact/index.js';

/**
 * Converts a Clari JSON document (after redaction, or raw with --unredacted) into NDJSON or CSV, streaming
 * record by record. NDJSON: one line per element of each top-level array, tagged with `_type`
 * (entry, user, field, timePeriod, timeFrame, activity, auditEvent, actor, call). CSV: one row per main record
 * (activity, audit event, Copilot call) with a fixed header; lists are joined with "; ".
 */
export type ExportKind = 'forecast' | 'activity' | 'audit' | 'calls';

const TYPE_OF_SECTION: Record<string, string> = {
  entries: 'entry',
  users: 'user',
  fields: 'field',
  timePeriods: 'timePeriod',
  timeFrames: 'timeFrame',
  activities: 'activity',
  items: 'auditEvent',
  actors: 'actor',
  calls: 'call',
};

export function recordType(section: string | null): string {
  if (section === null) return 'record';
  return TYPE_OF_SECTION[section] ?? section;
}

export const ACTIVITY_CSV_COLUMNS = [
  'activityId',
  'activityType',
  'date',
  'subject',
  'activityOwnerId',
  'activityOrganiserId',
  'accountIds',
  'accountNames',
  'opportunityIds',
  'opportunityNames',
  'participantNames',
  'participantEmails',
  'participantSfdcUserIds',
  'participantIsInternal',
] as const;

export const AUDIT_CSV_COLUMNS = [
  'eventTimestamp',
  'event',
  'actorType',
  'actorId',
  'impersonatingActorId',
  'sessionId',
  'sessionType',
  'ipAddress',
  'correlationID',
  'eventParameters',
] as const;

export const CALLS_CSV_COLUMNS = [
  'id',
  'title',
  'type',
  'status',
  'time',
  'duration',
  'account_name',
  'deal_name',
  'deal_value',
  'userEmails',
  'externalParticipantNames',
  'externalParticipantEmails',
  'contact_names',
] as const;

/** RFC 4180 quoting, plus a leading apostrophe for cells a spreadsheet would run as a formula. */
export function csvCell(v: unknown): string {
  if (v === null || v === undefined) return '';
  let s = typeof v === 'string' ? v : typeof v === 'object' ? JSON.stringify(v) : String(v);
  if (/^[=+\-@\t\r]/.test(s) && !/^-?\d+(\.\d+)?$/.test(s)) s = `'${s}`;
  return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

const list = (arr: unknown, key: string): string =>
  Array.isArray(arr) ? arr.map((x) => (x && typeof x === 'object' ? String((x as Record<string, unknown>)[key] ?? '') : '')).join('; ') : '';

function activityRow(r: Record<string, unknown>): string {
  const date = typeof r.date === 'number' || (typeof r.date === 'string' && /^\d+$/.test(r.date)) ? new Date(Number(r.date)).toISOString() : r.date;
  const cells = [
    r.activityId,
    r.activityType,
    date,
    r.subject,
    r.activityOwnerId,
    r.activityOrganiserId,
    list(r.accounts, 'accountId'),
    list(r.accounts, 'accountName'),
    list(r.opportunities, 'opportunityId'),
    list(r.opportunities, 'opportunityName'),
    list(r.participants, 'name'),
    list(r.participants, 'email'),
    list(r.participants, 'sfdcUserId'),
    list(r.participants, 'isInternal'),
  ];
  return `${cells.map(csvCell).join(',')}\r\n`;
}

function callRow(r: Record<string, unknown>): string {
  const metrics = r.metrics && typeof r.metrics === 'object' ? (r.metrics as Record<string, unknown>) : {};
  const cells = [
    r.id,
    r.title,
    r.type,
    r.status,
    r.time,
    metrics.call_duration,
    r.account_name,
    r.deal_name,
    r.deal_value,
    list(r.users, 'userEmail'),
    list(r.externalParticipants, 'name'),
    list(r.externalParticipants, 'email'),
    Array.isArray(r.contact_names) ? r.contact_names.join('; ') : r.contact_names,
  ];
  return `${cells.map(csvCell).join(',')}\r\n`;
}

function auditRow(r: Record<string, unknown>): string {
  return `${AUDIT_CSV_COLUMNS.map((c) => csvCell(r[c])).join(',')}\r\n`;
}

async function* convert(input: Readable, kind: ExportKind, format: 'ndjson' | 'csv', source: string): AsyncGenerator<string> {
  let buf = '';
  if (format === 'csv') {
    if (kind === 'forecast') throw new Error('forecast CSV comes from Clari directly');
    buf = `${(kind === 'activity' ? ACTIVITY_CSV_COLUMNS : kind === 'calls' ? CALLS_CSV_COLUMNS : AUDIT_CSV_COLUMNS).join(',')}\r\n`;
  }
  const main = kind === 'activity' ? 'activities' : kind === 'calls' ? 'calls' : 'items';
  for await (const { section, record } of parseRecords(input, 'json', source)) {
    if (format === 'ndjson') {
      buf += `${JSON.stringify({ _type: recordType(section), ...record })}\n`;
    } else if (section === main) {
      buf += kind === 'activity' ? activityRow(record) : kind === 'calls' ? callRow(record) : auditRow(record);
    }
    if (buf.length >= 1 << 16) {
      yield buf;
      buf = '';
    }
  }
  if (buf) yield buf;
}

/** Pipes the JSON document from `input` to `output` as NDJSON or CSV. */
export async function convertJson(input: Readable, output: Writable, kind: ExportKind, format: 'ndjson' | 'csv', source: string): Promise<void> {
  await pipeline(Readable.from(convert(input, kind, format, source), { objectMode: false }), output);
}
