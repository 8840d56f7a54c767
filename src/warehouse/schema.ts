import { quoteIdent } from './db.js';

/**
 * The normalised warehouse tables, one per record shape Clari exports. Every table carries `job_id` (the
 * export job, so a re-load replaces exactly that job's rows) and `extra` (fields the export had that this
 * schema does not name yet, kept as JSON rather than silently dropped).
 */
export type ColumnType = 'text' | 'numeric' | 'boolean' | 'date' | 'bigint' | 'integer' | 'jsonb';

export interface ColumnSpec {
  name: string;
  type: ColumnType;
  /** Key in the source record (dotted path for nested objects). */
  from: string;
}

export interface TableSpec {
  name: string;
  columns: ColumnSpec[];
  /** For child tables: the parent key column and where the child array lives in the parent record. */
  child?: { parentColumn: string; parentFrom: string; arrayKey: string };
  /** Columns indexed besides job_id (lookups and RLS joins). */
  indexes?: string[];
  description: string;
}

const c = (name: string, from: string, type: ColumnType = 'text'): ColumnSpec => ({ name, from, type });

export const TABLES: readonly TableSpec[] = [
  {
    name: 'forecast_users',
    description: 'forecast export: users (pseudonymised names and emails), with their place in the hierarchy',
    columns: [
      c('user_id', 'userId'), c('name', 'name'), c('email', 'email'), c('crm_id', 'crmId'),
      c('hierarchy_id', 'hierarchyId'), c('hierarchy_name', 'hierarchyName'),
      c('parent_hierarchy_id', 'parentHierarchyId'), c('parent_hierarchy_name', 'parentHierarchyName'), c('scope_id', 'scopeId'),
    ],
    indexes: ['user_id', 'hierarchy_id'],
  },
  {
    name: 'forecast_entries',
    description: 'forecast export: one value per user, field, time period and week',
    columns: [
      c('user_id', 'userId'), c('field_id', 'fieldId'), c('time_period_id', 'timePeriodId'), c('time_frame_id', 'timeFrameId'),
      c('forecast_value', 'forecastValue', 'numeric'), c('quota_value', 'quotaValue', 'numeric'),
      c('currency_code', 'currency.code'), c('currency_symbol', 'currency.symbol'),
      c('is_updated', 'isUpdated', 'boolean'), c('updated_by', 'updatedBy'), c('updated_on', 'updatedOn'),
    ],
  },
  {
    name: 'forecast_fields',
    description: 'forecast export: the forecast fields (commit, best case, …)',
    columns: [c('field_id', 'fieldId'), c('field_name', 'fieldName'), c('field_type', 'fieldType')],
  },
  {
    name: 'forecast_time_periods',
    description: 'forecast export: fiscal periods',
    columns: [
      c('time_period_id', 'timePeriodId'), c('label', 'label'), c('type', 'type'), c('year', 'year', 'integer'),
      c('start_date', 'startDate', 'date'), c('end_date', 'endDate', 'date'), c('crm_id', 'crmId'),
    ],
  },
  {
    name: 'forecast_time_frames',
    description: 'forecast export: weeks within the periods',
    columns: [c('time_frame_id', 'timeFrameId'), c('start_date', 'startDate', 'date'), c('end_date', 'endDate', 'date')],
  },
  {
    name: 'forecast_csv_rows',
    description: 'forecast export in Clari\'s CSV layout (one row per user, field and week)',
    columns: [
      c('user_name', 'User'), c('email', 'Email'), c('crm_user_id', 'CRM User ID'), c('role', 'Role'), c('parent_role', 'Parent Role'),
      c('timeframe', 'Timeframe'), c('field', 'Field'), c('week', 'Week'), c('start_day', 'Start Day'), c('end_day', 'End Day'),
      c('data_type', 'Data Type'), c('data_value', 'Data Value'),
    ],
  },
  {
    name: 'flat_entries',
    description: 'the older flat entry shape (owner, amounts, period)',
    columns: [
      c('owner_name', 'ownerName'), c('owner_email', 'ownerEmail'), c('forecast_amount', 'forecastAmount', 'numeric'),
      c('quota_amount', 'quotaAmount', 'numeric'), c('crm_total', 'crmTotal', 'numeric'), c('crm_closed', 'crmClosed', 'numeric'),
      c('adjustment_amount', 'adjustmentAmount', 'numeric'), c('time_period', 'timePeriod'),
    ],
  },
  {
    name: 'activities',
    description: 'activity export: meetings, emails, attachments',
    columns: [
      c('activity_id', 'activityId'), c('activity_type', 'activityType'), c('subject', 'subject'), c('occurred_at_ms', 'date', 'bigint'),
      c('activity_owner_id', 'activityOwnerId'), c('activity_organiser_id', 'activityOrganiserId'),
    ],
    indexes: ['activity_id'],
  },
  {
    name: 'activity_participants',
    description: 'activity export: participants of each activity (pseudonymised names and emails)',
    child: { parentColumn: 'activity_id', parentFrom: 'activityId', arrayKey: 'participants' },
    columns: [c('name', 'name'), c('email', 'email'), c('sfdc_user_id', 'sfdcUserId'), c('is_internal', 'isInternal', 'boolean')],
  },
  {
    name: 'activity_accounts',
    description: 'activity export: accounts each activity maps to',
    child: { parentColumn: 'activity_id', parentFrom: 'activityId', arrayKey: 'accounts' },
    columns: [c('account_id', 'accountId'), c('account_name', 'accountName'), c('account_owner_id', 'accountOwnerId')],
  },
  {
    name: 'activity_opportunities',
    description: 'activity export: opportunities each activity maps to',
    child: { parentColumn: 'activity_id', parentFrom: 'activityId', arrayKey: 'opportunities' },
    columns: [c('opportunity_id', 'opportunityId'), c('opportunity_name', 'opportunityName'), c('opportunity_owner_id', 'opportunityOwnerId')],
  },
  {
    name: 'audit_events',
    description: 'audit export: who changed what, when, from where',
    columns: [
      c('correlation_id', 'correlationID'), c('actor_id', 'actorId'), c('impersonating_actor_id', 'impersonatingActorId'),
      c('actor_type', 'actorType'), c('session_id', 'sessionId'), c('ip_address', 'ipAddress'), c('session_type', 'sessionType'),
      c('event', 'event'), c('event_parameters', 'eventParameters', 'jsonb'), c('event_timestamp', 'eventTimestamp'),
    ],
  },
  {
    name: 'audit_actors',
    description: 'audit export: the actors (pseudonymised names and emails)',
    columns: [c('actor_type', 'actorType'), c('actor_id', 'actorId'), c('name', 'name'), c('email', 'email')],
  },
  {
    name: 'copilot_calls',
    description: 'Copilot calls: one row per call; users and external participants in child tables, the (redacted) transcript and summary in extra',
    columns: [
      c('call_id', 'id'), c('source_id', 'source_id'), c('title', 'title'), c('call_type', 'type'), c('status', 'status'),
      c('call_time', 'time'), c('last_modified_time', 'last_modified_time'), c('account_name', 'account_name'),
      c('deal_name', 'deal_name'), c('deal_value', 'deal_value', 'numeric'),
      // Whole objects, so none of their fields is lost: metrics.call_duration, crm_info.deal_id, ...
      c('metrics', 'metrics', 'jsonb'), c('crm_info', 'crm_info', 'jsonb'),
    ],
    indexes: ['call_id'],
  },
  {
    name: 'copilot_call_users',
    description: 'Copilot calls: the workspace users on each call (pseudonymised ids and emails)',
    child: { parentColumn: 'call_id', parentFrom: 'id', arrayKey: 'users' },
    columns: [c('user_id', 'userId'), c('user_email', 'userEmail'), c('is_organizer', 'isOrganizer', 'boolean'), c('person_id', 'personId', 'bigint')],
  },
  {
    name: 'copilot_call_external_participants',
    description: 'Copilot calls: the external participants of each call (pseudonymised names, emails and phone numbers)',
    child: { parentColumn: 'call_id', parentFrom: 'id', arrayKey: 'externalParticipants' },
    columns: [c('name', 'name'), c('email', 'email'), c('phone', 'phone'), c('person_id', 'personId', 'bigint')],
  },
];

export const LOAD_LOG = 'load_log';
/** Only with --rls: which hierarchy nodes each reader role may see (descendants included). */
export const READER_SCOPES = 'reader_scopes';

export function tableSpec(name: string): TableSpec {
  const t = TABLES.find((x) => x.name === name);
  if (!t) throw new Error(`no warehouse table ${name}`);
  return t;
}

/** The column list COPY writes, in order. */
export function copyColumns(t: TableSpec): string[] {
  return ['job_id', ...(t.child ? [t.child.parentColumn, 'ordinal'] : []), ...t.columns.map((x) => x.name), 'extra'];
}

export function qualified(schema: string, table: string): string {
  return `${quoteIdent(schema)}.${quoteIdent(table)}`;
}

/** CREATE statements for every table (idempotent); run by `warehouse init` or by the first load. */
export function createTablesSql(schema: string): string {
  const out: string[] = [`CREATE SCHEMA IF NOT EXISTS ${quoteIdent(schema)};`];
  for (const t of TABLES) {
    const cols = [
      'job_id text NOT NULL',
      ...(t.child ? [`${t.child.parentColumn} text`, 'ordinal integer NOT NULL'] : []),
      ...t.columns.map((x) => `${quoteIdent(x.name)} ${x.type}`),
      'extra jsonb',
    ];
    out.push(`CREATE TABLE IF NOT EXISTS ${qualified(schema, t.name)} (\n  ${cols.join(',\n  ')}\n);`);
    out.push(`COMMENT ON TABLE ${qualified(schema, t.name)} IS '${t.description.replace(/'/g, "''")}';`);
    out.push(`CREATE INDEX IF NOT EXISTS ${quoteIdent(`${t.name}_job_idx`)} ON ${qualified(schema, t.name)} (job_id);`);
    for (const ix of t.indexes ?? []) {
      out.push(`CREATE INDEX IF NOT EXISTS ${quoteIdent(`${t.name}_${ix}_idx`)} ON ${qualified(schema, t.name)} (job_id, ${quoteIdent(ix)});`);
    }
  }
  out.push(`CREATE TABLE IF NOT EXISTS ${qualified(schema, LOAD_LOG)} (
  job_id text PRIMARY KEY,
  kind text NOT NULL,
  period text,
  row_counts jsonb NOT NULL,
  key_id text,
  loaded_at timestamptz NOT NULL DEFAULT now(),
  loaded_by text NOT NULL DEFAULT current_user
);`);
  out.push(`COMMENT ON TABLE ${qualified(schema, LOAD_LOG)} IS 'one row per export job loaded by clariguard (re-loads replace the row)';`);
  out.push(loaderFunctionsSql(schema));
  return out.join('\n');
}

export const CLEAR_JOB_FN = 'clear_job';
export const RECORD_LOAD_FN = 'record_load';

/**
 * Owner functions through which a loader role that may only INSERT replaces a job's rows and writes the
 * load log (a DELETE … WHERE job_id = … would need SELECT on the tables, i.e. read access to the data).
 */
export function loaderFunctionsSql(schema: string): string {
  const s = quoteIdent(schema);
  const deletes = TABLES.map((t) => `  DELETE FROM ${qualified(schema, t.name)} WHERE job_id = p_job; GET DIAGNOSTICS c = ROW_COUNT; n := n + c;`).join('\n');
  return `CREATE OR REPLACE FUNCTION ${s}.${CLEAR_JOB_FN}(p_job text) RETURNS bigint LANGUAGE plpgsql VOLATILE SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp AS $fn$
DECLARE n bigint := 0; c bigint;
BEGIN
${deletes}
  RETURN n;
END
$fn$;
REVOKE ALL ON FUNCTION ${s}.${CLEAR_JOB_FN}(text) FROM PUBLIC;
CREATE OR REPLACE FUNCTION ${s}.${RECORD_LOAD_FN}(p_job text, p_kind text, p_period text, p_counts jsonb, p_key_id text) RETURNS void
  LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $fn$
  INSERT INTO ${qualified(schema, LOAD_LOG)} (job_id, kind, period, row_counts, key_id, loaded_at, loaded_by)
  VALUES (p_job, p_kind, p_period, p_counts, p_key_id, now(), session_user)
  ON CONFLICT (job_id) DO UPDATE SET kind = EXCLUDED.kind, period = EXCLUDED.period, row_counts = EXCLUDED.row_counts,
    key_id = EXCLUDED.key_id, loaded_at = EXCLUDED.loaded_at, loaded_by = EXCLUDED.loaded_by
$fn$;
REVOKE ALL ON FUNCTION ${s}.${RECORD_LOAD_FN}(text, text, text, jsonb, text) FROM PUBLIC;`;
}

export const ALL_TABLE_NAMES: readonly string[] = [...TABLES.map((t) => t.name), LOAD_LOG];
