import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isolatedEnv, runCli, tempDir } from '../helpers/cli.js';

/**
 * The core promise of `clariguard redact`, checked against the contract (shared/reference/clari): for every
 * export shape the reference documents, records with every documented field filled with realistic PII
 * (names, mixed-case emails, phones in several spellings, CRM and user ids, free text naming other people)
 * come out with none of it left, auto-detected and with the matching preset, with joins intact, and
 * `verify-redaction --roster` agrees. Seeded (CG_CONTRACT_SEED to vary it), one dataset per shape: seconds.
 */

const SEED = Number(process.env.CG_CONTRACT_SEED ?? 20261130);
const KEY = Buffer.from('contract-key-0123456789abcdef012').toString('base64');

const FIRST = ['Priya', 'Marcus', 'Zoë', 'Anne-Marie', 'Tomasz', 'Aiden', 'Fatima', 'Olusegun', 'Hannah', 'Samuel', 'Ava', 'Keiko', 'Siobhan', 'Rafael', 'Ingrid', 'Dmitri'];
const LAST = ['Raman', "O'Neill", 'Álvarez', 'Dubois', 'Kowalski', 'Lewis', 'Al-Sayed', 'Adeyemi', 'Becker', 'Martin', 'Turner', 'Tanaka', 'Gallagher', 'Moreira', 'Lindqvist', 'Volkov'];
const DOMAINS = ['Acme-Corp.com', 'datapulse.io', 'NORTHWIND.co.uk', 'globex.de'];
// Numbers of real numbering plans, each written as people do (one format per person, so all are used).
const PHONES = [
  (n: number) => `+1 415 555 ${String(1000 + n).slice(-4)}`,
  (n: number) => `(212) 555-${String(1100 + n).slice(-4)}`,
  (n: number) => `617.555.${String(1200 + n).slice(-4)}`,
  (n: number) => `+44 20 7946 ${String(1000 + n).slice(-4)}`,
  (n: number) => `+1-646-555-${String(1300 + n).slice(-4)}`,
  (n: number) => `+4930${String(9018200 + n)}`,
  // The 00 international prefix, and the fictional 555 area code test-data generators like.
  (n: number) => `0044 20 7946 ${String(2000 + n).slice(-4)}`,
  (n: number) => `(555) 555-${String(1400 + n).slice(-4)}`,
];

interface Person {
  name: string;
  email: string;
  phone: string;
  crmId: string;
  userId: string;
  copilotId: string;
  actorId: string;
}

const alnum = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
const personArb = (i: number): fc.Arbitrary<Person> =>
  fc
    .record({
      f: fc.nat(FIRST.length - 1),
      l: fc.nat(LAST.length - 1),
      d: fc.nat(DOMAINS.length - 1),
      caseMix: fc.boolean(),
      crm: fc.string({ unit: fc.constantFrom(...alnum.split('')), minLength: 11, maxLength: 11 }),
      hex: fc.string({ unit: fc.constantFrom(...'0123456789abcdef'.split('')), minLength: 20, maxLength: 20 }),
    })
    .map(({ f, l, d, caseMix, crm, hex }) => {
      const first = i === 2 ? 'José' : FIRST[(f + i) % FIRST.length]!;
      const last = LAST[(l + i * 3) % LAST.length]!;
      // One address keeps its accents (RFC 6531: josé.álvarez@…), the others are ASCII as most are.
      const local = i === 2 ? `${first}.${last}`.replace(/[^\p{L}.-]/gu, '') : `${first}.${last}`.normalize('NFD').replace(/[^A-Za-z.-]/g, '');
      return {
        name: `${first} ${last}`,
        email: `${caseMix ? local : local.toLowerCase()}${i}@${DOMAINS[d]}`,
        phone: PHONES[i % PHONES.length]!(i),
        crmId: `0053x${crm}${i.toString(36).padStart(2, '0').toUpperCase()}`,
        userId: `${hex}${i.toString(16).padStart(4, '0')}`,
        copilotId: `cp${hex.slice(0, 10)}${i}`,
        actorId: String(700000 + i * 7919),
      };
    });

function people(seed: number, n = 8): Person[] {
  const arb = fc.tuple(...Array.from({ length: n }, (_, i) => personArb(i)));
  const ps = fc.sample(arb, { seed, numRuns: 1 })[0]!;
  // Distinct names and emails, so a join check never mistakes two people for one.
  const seen = new Set<string>();
  return ps.filter((p) => (seen.has(p.name) ? false : (seen.add(p.name), true)));
}

const lastFirst = (p: Person): string => {
  const i = p.name.lastIndexOf(' ');
  return `${p.name.slice(i + 1)}, ${p.name.slice(0, i)}`;
};

/** Free text naming other people by name (in other cases too), email and phone, as notes and transcripts do. */
function mention(a: Person, b: Person, k: number): string {
  const forms = [
    `Call with ${b.name} (${b.email}) re renewal; ${a.name} to follow up at ${a.phone}`,
    `${b.name.toUpperCase()} asked ${a.name.toLowerCase()} to email ${b.email.toUpperCase()} or ring ${b.phone}`,
    `Per ${a.name}: loop in <${b.email}>, mobile ${b.phone}.`,
    // CRM lists write people "Last, First".
    `${lastFirst(b)} (${b.email}) replaces ${lastFirst(a).toUpperCase()} on the account`,
  ];
  return forms[k % forms.length]!;
}

type Doc = {
  file: string;
  format: 'json' | 'ndjson' | 'csv';
  preset: string;
  text: string;
  joins: JoinSpec[];
  /** False when the export names nobody in a field (audit events without actors[]): a name in its free text
   * is not one of "the people present in the same export" and cannot be recognised without NER. */
  namesPresent?: boolean;
};
/** Where the same input id must map to the same pseudonym (JSON paths as key lists, `*` an array item). */
type JoinSpec = { name: string; paths: string[] };

const ndjson = (rows: unknown[]): string => rows.map((r) => JSON.stringify(r)).join('\n') + '\n';
function csv(header: string[], rows: (string | number)[][]): string {
  const q = (v: string | number): string => {
    const s = String(v);
    return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
  };
  return [header, ...rows].map((r) => r.map(q).join(',')).join('\r\n') + '\r\n';
}

function forecastJson(ps: Person[]): unknown {
  return {
    entries: ps.flatMap((p, i) => [
      {
        userId: p.userId,
        fieldId: 'forecast',
        timePeriodId: '2026_Q3',
        timeFrameId: `2026_W${27 + i}`,
        forecastValue: 125000 + i * 1000,
        quotaValue: 400000,
        currency: { code: 'USD', symbol: '$' },
        isUpdated: i % 2 === 0,
        // updatedBy holds whoever changed it: a user id, an email or a name depending on the org.
        updatedBy: [ps[(i + 1) % ps.length]!.userId, ps[(i + 2) % ps.length]!.email, ps[(i + 3) % ps.length]!.name][i % 3],
        updatedOn: 1751000000000 + i,
      },
    ]),
    users: ps.map((p, i) => ({
      userId: p.userId,
      name: p.name,
      email: p.email,
      crmId: p.crmId,
      hierarchyId: `h-${i}`,
      hierarchyName: `${p.name}'s Team`,
      parentHierarchyId: `h-${(i + 1) % ps.length}`,
      parentHierarchyName: `${ps[(i + 1) % ps.length]!.name} (${ps[(i + 1) % ps.length]!.email})`,
      scopeId: `s-${i}`,
    })),
    fields: [
      { fieldId: 'forecast', fieldName: `Commit (owner ${ps[0]!.name})`, fieldType: 'CURRENCY' },
      { fieldId: 'best_case', fieldName: `Best case, ask ${ps[1]!.email}`, fieldType: 'CURRENCY' },
    ],
    timePeriods: [{ timePeriodId: '2026_Q3', label: `Q3 FY26 (${ps[2]!.name})`, type: 'quarter', year: 2026, startDate: '2026-07-01', endDate: '2026-09-30', crmId: '0261x000001AbCdEF' }],
    timeFrames: [{ timeFrameId: '2026_W27', startDate: '2026-07-01', endDate: '2026-07-07' }],
  };
}

function forecastCsv(ps: Person[]): string {
  const header = ['User', 'Email', 'CRM User ID', 'Role', 'Parent Role', 'Timeframe', 'Field', 'Week', 'Start Day', 'End Day', 'Data Type', 'Data Value'];
  return csv(
    header,
    ps.flatMap((p, i) => [
      [p.name, p.email, p.crmId, `AE - ${p.name}`, `RVP ${ps[(i + 1) % ps.length]!.name}`, '2026_Q3', 'Commit', `W${i + 1}`, '2026-07-01', '2026-07-07', 'forecast', 125000 + i],
      [p.name.toUpperCase(), p.email.toLowerCase(), p.crmId, 'AE', 'RVP', '2026_Q3', `Note: call ${ps[(i + 2) % ps.length]!.phone}`, `W${i + 1}`, '2026-07-01', '2026-07-07', 'quota', 400000],
    ]),
  );
}

function flatRows(ps: Person[]): Record<string, string | number>[] {
  return ps.map((p, i) => ({
    ownerName: p.name,
    ownerEmail: p.email,
    forecastAmount: 125000 + i,
    quotaAmount: 400000,
    crmTotal: 90000,
    crmClosed: 30000,
    adjustmentAmount: -500,
    timePeriod: '2026_Q3',
  }));
}

function activities(all: Person[]): Record<string, unknown>[] {
  // Account and opportunity owners who take part in no activity: their CRM ids appear nowhere else, so only
  // a rule for the owner fields (not the roster of participants' ids) can catch them.
  const [accOwner, oppOwner] = all.slice(-2) as [Person, Person];
  const ps = all.slice(0, -2);
  return ps.map((p, i) => {
    const b = ps[(i + 1) % ps.length]!;
    const c = ps[(i + 2) % ps.length]!;
    return {
      activityId: `58eaf6bae6bdab17f36240012717${String(i).padStart(4, '0')}`,
      activityType: ['MEETING', 'EMAIL_SENT', 'EMAIL_RECEIVED', 'ATTACHMENT_SENT', 'ATTACHMENT_RECEIVED'][i % 5],
      subject: mention(p, c, i),
      date: 1702906200000 + i,
      activityOwnerId: p.crmId,
      activityOrganiserId: i % 3 ? b.crmId : oppOwner.crmId,
      accounts: [{ accountId: `0014x000018I6E${i}AA0`, accountName: `${c.name} Holdings`, accountOwnerId: i % 2 ? c.crmId : accOwner.crmId }],
      opportunities: [{ opportunityId: `0064x00000Maq${i}EAAZ`, opportunityName: `Renewal - ${b.name}`, opportunityOwnerId: i % 2 ? b.crmId : oppOwner.crmId }],
      participants: [
        { name: p.name, email: p.email, sfdcUserId: p.crmId, isInternal: true },
        { name: b.name, email: b.email.toUpperCase(), sfdcUserId: b.crmId, isInternal: true },
        { name: c.name, email: c.email, sfdcUserId: '', isInternal: false },
      ],
    };
  });
}

const sessionId = (i: number): string => `fe795746-54b0-11ed-bdc3-0242ac12${String(i).padStart(4, '0')}`;
const ipAddress = (i: number): string => `203.0.113.${10 + i}`;

function auditDoc(ps: Person[]): { items: Record<string, unknown>[]; actors: Record<string, unknown>[]; nextLink: string } {
  return {
    // nextLink repeats the page's filters (the documented query parameters: actorId, sessionId, ...).
    nextLink: `https://api.clari.com/v4/audit/events?limit=100&actorId=${ps[0]!.actorId}&impersonatingActorId=${ps[1]!.actorId}&sessionId=${sessionId(0)}&page=2`,
    items: ps.map((p, i) => ({
      correlationID: `corr-${i}`,
      actorId: p.actorId,
      impersonatingActorId: ps[(i + 1) % ps.length]!.actorId,
      actorType: 'USER',
      sessionId: sessionId(i),
      ipAddress: ipAddress(i),
      sessionType: ['WEB', 'IOS', 'ANDROID'][i % 3],
      event: 'forecast.updated',
      eventParameters: { comment: mention(p, ps[(i + 2) % ps.length]!, i), targetUser: ps[(i + 3) % ps.length]!.email, url: `https://app.clari.com/forecast?viewAs=${encodeURIComponent(ps[(i + 4) % ps.length]!.email)}` },
      eventTimestamp: `2026-07-01T10:00:${String(i).padStart(2, '0')}Z`,
    })),
    actors: ps.map((p) => ({ actorType: 'USER', actorId: p.actorId, name: p.name, email: p.email })),
  };
}

function call(ps: Person[], i: number, details: boolean): Record<string, unknown> {
  const rep = ps[i % ps.length]!;
  const ext = ps[(i + 1) % ps.length]!;
  const other = ps[(i + 2) % ps.length]!;
  const base: Record<string, unknown> = {
    id: `call-${i}`,
    source_id: `zoom-${i}`,
    title: `Discovery: ${ext.name} / ${rep.name}`,
    users: [{ userId: rep.copilotId, userEmail: rep.email, isOrganizer: true, personId: 1 }],
    externalParticipants: [{ name: ext.name, email: ext.email, phone: ext.phone, personId: 2 }],
    joinedParticipants: [
      { name: rep.name, email: rep.email.toLowerCase(), phone: rep.phone, personId: 1 },
      { name: ext.name, email: ext.email, phone: ext.phone, personId: 2 },
    ],
    status: 'POST_PROCESSING_DONE',
    bot_not_join_reason: [],
    type: 'ZOOM',
    time: '2026-07-02T15:00:00Z',
    icaluid: `${rep.email}-evt-${i}`,
    calendar_id: rep.email,
    recurring_event_id: `rec-${i}`,
    original_start_time: '2026-07-02T15:00:00Z',
    last_modified_time: '2026-07-02T16:00:00Z',
    audio_url: `https://media.copilot.clari.com/a/${i}.mp3?X-Amz-Signature=abcdef0123456789abcdef`,
    video_url: `https://media.copilot.clari.com/v/${i}.mp4?X-Amz-Signature=abcdef0123456789abcdef`,
    disposition: 'CALL_CONNECTED_WITH_PROSPECT',
    deal_name: `${ext.name} - Expansion`,
    deal_value: '48000',
    deal_close_date: '2026-09-30T00:00:00Z',
    deal_stage_before_call: 'Discovery',
    account_name: `${other.name} Consulting`,
    contact_names: [ext.name, other.name],
    crm_info: { source_crm: 'SALESFORCE', deal_id: `0064x00000Deal${i}`, account_id: `0014x00000Acct${i}`, contact_ids: [ext.crmId, other.crmId] },
    bookmark_timestamps: ['2026-07-02T15:05:00Z'],
    metrics: {
      talk_listen_ratio: 0.42,
      num_questions_asked: 7,
      num_questions_asked_by_reps: 5,
      call_duration: 1800,
      total_speak_duration: 1500.5,
      longest_monologue_duration: 120.2,
      longest_monologue_start_time: 300.1,
      engaging_questions: 3,
      categories: [{ name: 'Pricing', occurences: 2, phrases_matched: [{ text: `${ext.name} said email ${other.email}`, user_id: rep.copilotId, name: rep.name, time: 12.5 }], ai_detected: false }],
    },
    call_review_page_url: `https://copilot.clari.com/call/${i}?shared_by=${encodeURIComponent(rep.email)}&attendee=${encodeURIComponent(ext.email.toLowerCase())}`,
  };
  if (!details) return base;
  return {
    ...base,
    deal_stage_live: 'Negotiation',
    transcript: [
      { text: mention(rep, ext, i), start: 0, end: 5.2, personId: 1, annotations: [{ tracker: 'pricing', phrase: `${other.name} mentioned price`, category: 'Pricing' }, { label: 'next_step', phrase: `send to ${ext.email}` }] },
      { text: mention(ext, other, i + 1), start: 5.2, end: 9, personId: 2, annotations: [] },
    ],
    summary: {
      full_summary: `${rep.name} met ${ext.name} (${ext.phone}); ${other.name} <${other.email}> joins next time.`,
      topics_discussed: [{ name: `Budget with ${ext.name}`, start_timestamp: '00:01', end_timestamp: '00:05', summary: `${ext.name} owns budget, cc ${ext.email}` }],
      key_action_items: [{ action_item: `Email ${other.email} the quote`, speaker_name: rep.name, start_timestamp: '00:06', end_timestamp: '00:07' }],
    },
    competitor_sentiments: [{ competitor_name: 'Gong', sentiment: 'negative', reasoning: `${ext.name} found it noisy; ask ${other.name}`, personId: '2', turn_start_time: '00:08' }],
  };
}

function copilotUsers(ps: Person[]): unknown {
  return {
    users: ps.map((p, i) => ({ id: p.copilotId, email: p.email, name: p.name, role: ['REP', 'MANAGER', 'OBSERVER'][i % 3], is_recording: true, manager_id: ps[(i + 1) % ps.length]!.copilotId })),
  };
}

function documents(ps: Person[]): Doc[] {
  const flat = flatRows(ps);
  const acts = activities(ps);
  const audit = auditDoc(ps);
  return [
    { file: 'forecast.json', format: 'json', preset: 'forecast-json', text: JSON.stringify(forecastJson(ps), null, 1), joins: [{ name: 'userId', paths: ['users.*.userId', 'entries.*.userId'] }] },
    { file: 'forecast.csv', format: 'csv', preset: 'forecast-csv', text: forecastCsv(ps), joins: [] },
    { file: 'flat.json', format: 'json', preset: 'flat-entries', text: JSON.stringify(flat), joins: [] },
    { file: 'flat.ndjson', format: 'ndjson', preset: 'flat-entries', text: ndjson(flat), joins: [] },
    { file: 'flat.csv', format: 'csv', preset: 'flat-entries', text: csv(Object.keys(flat[0]!), flat.map((r) => Object.values(r))), joins: [] },
    {
      file: 'activity.json',
      format: 'json',
      preset: 'activity',
      text: JSON.stringify({ activities: acts }),
      joins: [{ name: 'sfdc user id', paths: ['activities.*.activityOwnerId', 'activities.*.activityOrganiserId', 'activities.*.participants.*.sfdcUserId', 'activities.*.accounts.*.accountOwnerId', 'activities.*.opportunities.*.opportunityOwnerId'] }],
    },
    { file: 'activity.ndjson', format: 'ndjson', preset: 'activity', text: ndjson(acts), joins: [{ name: 'sfdc user id', paths: ['activityOwnerId', 'participants.*.sfdcUserId'] }] },
    { file: 'audit.json', format: 'json', preset: 'audit', text: JSON.stringify(audit), joins: [{ name: 'actorId', paths: ['items.*.actorId', 'items.*.impersonatingActorId', 'actors.*.actorId'] }] },
    { file: 'audit.ndjson', format: 'ndjson', preset: 'audit', text: ndjson(audit.items), joins: [{ name: 'actorId', paths: ['actorId', 'impersonatingActorId'] }], namesPresent: false },
    {
      file: 'copilot-calls.json',
      format: 'json',
      preset: 'copilot-calls',
      text: JSON.stringify({ calls: ps.map((_, i) => call(ps, i, false)), pagination: { matched: ps.length, hasMore: false, nextPageSkip: 0 } }),
      joins: [{ name: 'copilot user id', paths: ['calls.*.users.*.userId', 'calls.*.metrics.categories.*.phrases_matched.*.user_id'] }],
    },
    { file: 'copilot-call-details.json', format: 'json', preset: 'copilot-calls', text: JSON.stringify({ call: call(ps, 3, true) }), joins: [] },
    { file: 'copilot-users.json', format: 'json', preset: 'copilot-calls', text: JSON.stringify(copilotUsers(ps)), joins: [{ name: 'copilot user id', paths: ['users.*.id', 'users.*.manager_id'] }] },
  ];
}

/** Values of a key-list path (`*` = every array item) in a parsed document, one list per record for NDJSON. */
function valuesAt(doc: unknown, path: string): unknown[] {
  let cur: unknown[] = [doc];
  for (const k of path.split('.')) {
    const next: unknown[] = [];
    for (const v of cur) {
      if (k === '*' && Array.isArray(v)) next.push(...v);
      else if (v && typeof v === 'object' && !Array.isArray(v) && k in (v as object)) next.push((v as Record<string, unknown>)[k]);
    }
    cur = next;
  }
  return cur;
}

function parseOut(text: string, format: Doc['format']): unknown[] {
  if (format === 'ndjson') return text.trim().split('\n').map((l) => JSON.parse(l) as unknown);
  return [JSON.parse(text) as unknown];
}

const escapeRe = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** Every way a survivor could be written: as is, in any case, URL-encoded, JSON-escaped. */
function survivors(out: string, ps: Person[], names = true): string[] {
  const lower = out.toLowerCase();
  const found: string[] = [];
  const check = (label: string, v: string, boundary = false): void => {
    for (const form of new Set([v, encodeURIComponent(v), JSON.stringify(v).slice(1, -1)])) {
      const f = form.toLowerCase();
      const hit = boundary ? new RegExp(`(?<![0-9a-z])${escapeRe(f)}(?![0-9a-z])`).test(lower) : lower.includes(f);
      if (hit) found.push(`${label} ${v}${form === v ? '' : ` (as ${form})`}`);
    }
  };
  for (const p of ps) {
    if (names) check('name', p.name);
    if (names) check('name', lastFirst(p));
    check('email', p.email);
    check('phone', p.phone);
    check('phone digits', p.phone.replace(/\D/g, '').slice(-10), true);
    check('crm id', p.crmId, true);
    check('user id', p.userId, true);
    check('copilot user id', p.copilotId, true);
    check('actor id', p.actorId, true);
  }
  for (let i = 0; i < ps.length; i++) {
    check('session id', sessionId(i), true);
    check('ip address', ipAddress(i), true);
  }
  return found;
}

let tmp: { dir: string; cleanup: () => void };
let env: Record<string, string | undefined>;
let roster: string;
let emailRoster: string;
const ps = people(SEED);
beforeAll(() => {
  tmp = tempDir('clariguard-contract-');
  env = isolatedEnv(tmp.dir, { CG_KEY: KEY });
  roster = join(tmp.dir, 'roster.csv');
  writeFileSync(roster, csv(['name', 'email'], ps.map((p) => [p.name, p.email])));
  emailRoster = join(tmp.dir, 'emails.csv');
  writeFileSync(emailRoster, csv(['email'], ps.map((p) => [p.email])));
});
afterAll(() => tmp.cleanup());

describe('redact: no PII from any documented export shape survives', () => {
  for (const doc of documents(ps)) {
    for (const mode of ['auto', 'preset', 'stdin'] as const) {
      const label = { auto: 'auto-detected', preset: `--preset ${doc.preset}`, stdin: 'stdin, format and preset auto-detected' }[mode];
      it(`${doc.file} (${label})`, async () => {
        const input = join(tmp.dir, doc.file);
        writeFileSync(input, doc.text);
        const from = mode === 'stdin' ? [] : ['--in', input];
        const args = ['redact', '--key', 'env:CG_KEY', ...from, '--json', ...(mode === 'preset' ? ['--preset', doc.preset] : [])];
        const r = await runCli(args, { env, ...(mode === 'stdin' ? { input: doc.text } : {}) });
        expect(r.stderr, r.stderr).toContain(`"preset":"${doc.preset}"`);
        expect(r.code, r.stderr).toBe(0);
        expect(survivors(r.stdout, ps, doc.namesPresent !== false)).toEqual([]);

        // Joins: one input id gives one pseudonym, wherever in the document it appears.
        if (doc.format !== 'csv') {
          const ins = parseOut(doc.text, doc.format);
          const outs = parseOut(r.stdout, doc.format);
          for (const j of doc.joins) {
            const map = new Map<string, Set<string>>();
            for (const [k, inDoc] of ins.entries()) {
              for (const path of j.paths) {
                const a = valuesAt(inDoc, path);
                const b = valuesAt(outs[k], path);
                expect(b.length, `${j.name} at ${path}`).toBe(a.length);
                a.forEach((v, n) => {
                  if (typeof v !== 'string' || v === '') return;
                  if (!map.has(v)) map.set(v, new Set());
                  map.get(v)!.add(String(b[n]));
                });
              }
            }
            expect(map.size, j.name).toBeGreaterThan(0);
            for (const [v, set] of map) {
              expect([...set], `${j.name} ${v}`).toHaveLength(1);
              expect([...set][0], `${j.name} ${v}`).not.toBe(v);
            }
          }
        }

        const out = join(tmp.dir, `${doc.file}.${mode}.out`);
        writeFileSync(out, r.stdout);
        const v = await runCli(['verify-redaction', out, '--roster', doc.namesPresent === false ? emailRoster : roster, '--json'], { env });
        expect(JSON.parse(v.stdout).findings, v.stdout).toEqual([]);
        expect(v.code).toBe(0);
      });
    }
  }

  it('a person keeps one pseudonymous email across shapes and spellings (joins between exports)', async () => {
    const p = ps[0]!;
    const variants = [p.email, p.email.toLowerCase(), p.email.toUpperCase()];
    const input = join(tmp.dir, 'spellings.ndjson');
    writeFileSync(input, ndjson(variants.map((e) => ({ ownerName: p.name, ownerEmail: e, forecastAmount: 1 }))));
    const r = await runCli(['redact', '--key', 'env:CG_KEY', '--in', input], { env });
    expect(r.code, r.stderr).toBe(0);
    const emails = new Set(parseOut(r.stdout, 'ndjson').map((o) => (o as { ownerEmail: string }).ownerEmail));
    expect([...emails]).toHaveLength(1);
  });
});
