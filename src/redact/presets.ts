import { UsageError } from '../errors.js';
import type { Policy, Rule, RuleInput } from './policy.js';

/**
 * Built-in policies for every shape Clari data comes in. Identifiers that join tables (userId, actorId) are
 * pseudonymised with the same kind and prefix everywhere, so joins survive across presets and with the
 * in-warehouse SQL. Amounts are kept: they are the point of the export (write a policy to round them).
 */
const keep = (...paths: string[]): RuleInput[] => paths.map((path) => ({ path, action: 'keep' as const }));
const text = (...paths: string[]): RuleInput[] => paths.map((path) => ({ path, action: 'keep' as const, freeText: true }));
const name = (path: string): RuleInput => ({ path, action: 'pseudonymize', as: 'name', roster: true });
const email = (path: string): RuleInput => ({ path, action: 'pseudonymize-email', roster: true });
const userId = (path: string): RuleInput => ({ path, action: 'pseudonymize', as: 'id', prefix: 'User' });
const crmId = (path: string, roster = true): RuleInput => ({ path, action: 'pseudonymize', as: 'id', prefix: 'Crm', roster });
const auto = (path: string): RuleInput => ({ path, action: 'pseudonymize', as: 'auto', prefix: 'User', roster: true });
const phone = (path: string): RuleInput => ({ path, action: 'pseudonymize', as: 'phone' });

interface PresetDef {
  description: string;
  rules: RuleInput[];
}

const DEFS: Record<string, PresetDef> = {
  'forecast-json': {
    description: 'normalised forecast export: {users[], entries[], fields[], timePeriods[], timeFrames[]}',
    rules: [
      userId('users[].userId'),
      name('users[].name'),
      email('users[].email'),
      crmId('users[].crmId'),
      ...keep('users[].hierarchyId', 'users[].parentHierarchyId', 'users[].scopeId'),
      ...text('users[].hierarchyName', 'users[].parentHierarchyName'),
      userId('entries[].userId'),
      auto('entries[].updatedBy'),
      ...keep('entries[].fieldId', 'entries[].timePeriodId', 'entries[].timeFrameId', 'entries[].forecastValue', 'entries[].quotaValue'),
      ...keep('entries[].currency', 'entries[].currency.code', 'entries[].currency.symbol', 'entries[].isUpdated', 'entries[].updatedOn'),
      ...keep('fields[].fieldId', 'fields[].fieldType'),
      ...text('fields[].fieldName'),
      ...keep('timePeriods[].timePeriodId', 'timePeriods[].type', 'timePeriods[].year', 'timePeriods[].startDate', 'timePeriods[].endDate', 'timePeriods[].crmId'),
      ...text('timePeriods[].label'),
      ...keep('timeFrames[].timeFrameId', 'timeFrames[].startDate', 'timeFrames[].endDate'),
    ],
  },
  'forecast-csv': {
    description: 'forecast CSV export: User, Email, CRM User ID, Role, Parent Role, Timeframe, Field, Week, ...',
    rules: [
      name('User'),
      email('Email'),
      crmId('CRM User ID'),
      ...text('Role', 'Parent Role', 'Field', 'Timeframe'),
      ...keep('Week', 'Start Day', 'End Day', 'Data Type', 'Data Value'),
    ],
  },
  'flat-entries': {
    description: 'flat entries: [{ownerName, ownerEmail, forecastAmount, quotaAmount, crmTotal, crmClosed, adjustmentAmount, timePeriod}]',
    rules: [
      name('ownerName'),
      email('ownerEmail'),
      crmId('ownerId'),
      crmId('ownerCrmId'),
      ...keep('forecastAmount', 'quotaAmount', 'crmTotal', 'crmClosed', 'adjustmentAmount', 'currency'),
      ...text('timePeriod', 'notes', 'comment'),
    ],
  },
  activity: {
    description: 'activity export (MEETING, EMAIL_SENT/RECEIVED, ATTACHMENT_*): participants with emails',
    rules: [
      ...keep('activityId', 'id', 'activityType', 'type', 'timestamp', 'startTime', 'endTime', 'date', 'direction', 'opportunityId', 'accountId'),
      name('participants[].name'),
      email('participants[].email'),
      ...keep('participants[].type', 'participants[].role', 'participants[].isInternal'),
      auto('from'),
      auto('to'),
      auto('cc'),
      auto('bcc'),
      auto('organizer'),
      email('organizerEmail'),
      name('attendees[].name'),
      email('attendees[].email'),
      userId('userId'),
      // Salesforce user ids identify people as surely as emails; Crm- pseudonyms join with users[].crmId.
      crmId('activityOwnerId'),
      crmId('activityOrganiserId'),
      crmId('accounts[].accountOwnerId'),
      crmId('opportunities[].opportunityOwnerId'),
      crmId('ownerId'),
      crmId('participants[].sfdcUserId'),
      crmId('attendees[].sfdcUserId'),
      auto('owner'),
      email('ownerEmail'),
      name('ownerName'),
      ...text('subject', 'title', 'body', 'description', 'fileName', 'attachments[].fileName', 'attachments[].name'),
      { path: '**.email', action: 'pseudonymize-email', roster: true },
      { path: '**.emailAddress', action: 'pseudonymize-email', roster: true },
      { path: '**.phone', action: 'pseudonymize', as: 'phone' },
    ],
  },
  audit: {
    description: 'audit events: {items[] (actorId, ipAddress, sessionId, event, ...), actors[] (name, email), nextLink}',
    rules: [
      userId('actorId'),
      userId('impersonatingActorId'),
      { path: 'sessionId', action: 'pseudonymize', as: 'id', prefix: 'Session' },
      { path: 'ipAddress', action: 'pseudonymize', as: 'id', prefix: 'Ip' },
      ...keep('correlationID', 'actorType', 'sessionType', 'event', 'eventTimestamp'),
      name('name'),
      email('email'),
      // The next page's URL repeats the page's filters (actorId, impersonatingActorId, sessionId) raw, and
      // a cursor into the live API is no use in a redacted file.
      { path: 'nextLink', action: 'drop' },
    ],
  },
  'copilot-calls': {
    description: 'Copilot /calls, /call-details and /users responses: participants, transcripts, summaries',
    rules: [
      ...keep('id', 'source_id', 'status', 'type', 'time', 'recurring_event_id', 'original_start_time', 'last_modified_time'),
      ...keep('disposition', 'deal_value', 'deal_close_date', 'deal_stage_before_call', 'deal_stage_live', 'bot_not_join_reason'),
      ...text('title', 'icaluid', 'deal_name', 'account_name', 'call_review_page_url'),
      auto('calendar_id'),
      // Signed media URLs are credentials valid for hours.
      { path: 'audio_url', action: 'drop' },
      { path: 'video_url', action: 'drop' },
      userId('users[].userId'),
      email('users[].userEmail'),
      ...keep('users[].isOrganizer', 'users[].personId'),
      name('externalParticipants[].name'),
      email('externalParticipants[].email'),
      phone('externalParticipants[].phone'),
      name('joinedParticipants[].name'),
      email('joinedParticipants[].email'),
      phone('joinedParticipants[].phone'),
      ...keep('externalParticipants[].personId', 'joinedParticipants[].personId'),
      name('contact_names'),
      ...keep('crm_info.source_crm', 'crm_info.deal_id', 'crm_info.account_id'),
      crmId('crm_info.contact_ids', false),
      ...keep('bookmark_timestamps', 'metrics.talk_listen_ratio', 'metrics.num_questions_asked', 'metrics.num_questions_asked_by_reps'),
      ...keep('metrics.call_duration', 'metrics.total_speak_duration', 'metrics.longest_monologue_duration', 'metrics.longest_monologue_start_time', 'metrics.engaging_questions'),
      name('metrics.categories[].phrases_matched[].name'),
      userId('metrics.categories[].phrases_matched[].user_id'),
      ...text('metrics.categories[].phrases_matched[].text'),
      ...text('transcript[].text', 'transcript[].annotations[].phrase', 'summary.full_summary', 'summary.topics_discussed[].summary', 'summary.key_action_items[].action_item', 'competitor_sentiments[].reasoning'),
      ...keep('transcript[].start', 'transcript[].end', 'transcript[].personId'),
      name('summary.key_action_items[].speaker_name'),
      // GET /users
      userId('users[].id'),
      userId('users[].manager_id'),
      name('users[].name'),
      email('users[].email'),
      ...keep('users[].role', 'users[].is_recording', 'pagination'),
    ],
  },
};

export const PRESET_NAMES = Object.keys(DEFS);

const cache = new Map<string, Policy>();

export function presetPolicy(presetName: string): Policy {
  const def = DEFS[presetName];
  if (!def) throw new UsageError(`unknown preset ${presetName}; choose one of: ${PRESET_NAMES.join(', ')}`);
  let p = cache.get(presetName);
  if (!p) {
    // Built as parsePolicy would (its defaults filled in; a test pins the two equal) without zod, which costs
    // every redaction thread ~0.1 s of start-up to load.
    const rules = def.rules.map((r): Rule => {
      if (r.action === 'pseudonymize') return { ...r, as: r.as ?? 'id' };
      if (r.action === 'pseudonymize-email') return { ...r, keepDomain: r.keepDomain ?? false };
      return { ...r } as Rule;
    });
    p = {
      version: 1,
      name: presetName,
      description: def.description,
      unknownFields: 'keep',
      detectors: { emails: true, phones: true, roster: true, credentials: true, phoneRegion: 'US' },
      rules,
    };
    cache.set(presetName, p);
  }
  return p;
}

export function listPresets(): { name: string; description: string; rules: number }[] {
  return PRESET_NAMES.map((n) => ({ name: n, description: DEFS[n]!.description, rules: DEFS[n]!.rules.length }));
}

/** What detection can see: the top-level keys met so far, the current section and the first record's keys. */
export interface ShapeHint {
  format: 'json' | 'ndjson' | 'csv';
  topKeys: string[];
  section: string | null;
  recordKeys: string[];
}

/** Chooses a preset from the shape, or returns null when it cannot tell (the caller then refuses to guess). */
export function detectPreset(h: ShapeHint): string | null {
  const keys = new Set(h.recordKeys);
  const top = new Set(h.topKeys);
  const has = (...k: string[]): boolean => k.some((x) => keys.has(x));
  if (h.format === 'csv') {
    return has('Email', 'CRM User ID') && has('User', 'Data Value', 'Timeframe') ? 'forecast-csv' : has('ownerEmail', 'ownerName') ? 'flat-entries' : null;
  }
  if (['fields', 'timePeriods', 'timeFrames'].some((k) => top.has(k))) return 'forecast-json';
  if (has('ownerEmail', 'ownerName')) return 'flat-entries';
  if (top.has('items') || top.has('actors') || has('actorId', 'sessionId', 'ipAddress')) {
    if (has('actorId', 'sessionId', 'ipAddress', 'actorType', 'email', 'name') || keys.size === 0) return 'audit';
  }
  if (top.has('calls') || top.has('call') || has('externalParticipants', 'joinedParticipants', 'transcript', 'call_review_page_url', 'is_recording')) return 'copilot-calls';
  if (top.has('activities') || has('activityType', 'participants')) return 'activity';
  if (h.section === 'users' || h.section === 'entries') {
    if (has('hierarchyId', 'crmId', 'scopeId', 'fieldId', 'timePeriodId', 'forecastValue', 'quotaValue')) return 'forecast-json';
    if (has('role', 'manager_id')) return 'copilot-calls';
  }
  return null;
}
