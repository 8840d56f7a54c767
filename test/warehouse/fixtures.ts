/** Small, already-redacted exports in every shape the warehouse loads. */
export const forecastExport = {
  entries: [
    { userId: 'u1', fieldId: 'commit', timePeriodId: '2026_Q3', timeFrameId: 'w1', forecastValue: 125000.5, quotaValue: 400000, currency: { code: 'USD', symbol: '$' }, isUpdated: true, updatedBy: 'Person-aaaaaaaaaaaaaaaaaaaa-k000000', updatedOn: '2026-07-03T10:00:00Z' },
    { userId: 'u2', fieldId: 'commit', timePeriodId: '2026_Q3', timeFrameId: 'w1', forecastValue: '98000', quotaValue: '100000-1000000', currency: { code: 'USD', symbol: '$' }, isUpdated: false, note: 'comma, "quoted"\nand newline' },
    { userId: 'u3', fieldId: 'best_case', timePeriodId: '2026_Q3', timeFrameId: 'w2', forecastValue: null, quotaValue: 0, currency: { code: 'EUR', symbol: '€' }, isUpdated: 'false' },
  ],
  users: [
    { userId: 'u1', name: 'Person-11111111111111111111-k000000', email: '11111111111111111111-k000000@redacted.invalid', crmId: 'Id-1', hierarchyId: 'root', hierarchyName: 'Global', parentHierarchyId: null, parentHierarchyName: null, scopeId: 's' },
    { userId: 'u2', name: 'Person-22222222222222222222-k000000', email: '22222222222222222222-k000000@redacted.invalid', crmId: 'Id-2', hierarchyId: 'emea', hierarchyName: 'EMEA', parentHierarchyId: 'root', parentHierarchyName: 'Global', scopeId: 's' },
    { userId: 'u3', name: 'Person-33333333333333333333-k000000', email: '33333333333333333333-k000000@redacted.invalid', crmId: 'Id-3', hierarchyId: 'dach', hierarchyName: 'DACH', parentHierarchyId: 'emea', parentHierarchyName: 'EMEA', scopeId: 's' },
  ],
  fields: [
    { fieldId: 'commit', fieldName: 'Commit', fieldType: 'currency' },
    { fieldId: 'best_case', fieldName: 'Best Case', fieldType: 'currency' },
  ],
  timePeriods: [{ timePeriodId: '2026_Q3', label: 'Q3 FY2026', type: 'quarter', year: 2026, startDate: '2026-07-01', endDate: '2026-09-30', crmId: 'p1' }],
  timeFrames: [
    { timeFrameId: 'w1', startDate: '2026-07-01', endDate: '2026-07-07' },
    { timeFrameId: 'w2', startDate: '2026-07-08', endDate: '2026-07-14' },
  ],
};

export const activityExport = {
  activities: [
    {
      activityId: 'a1', activityType: 'MEETING', subject: 'Sync', date: '1702906200000', activityOwnerId: 'o1', activityOrganiserId: 'o2',
      accounts: [{ accountId: 'acc1', accountName: 'Acme', accountOwnerId: 'o1' }],
      opportunities: [{ opportunityId: 'op1', opportunityName: 'Acme FY24', opportunityOwnerId: 'o1' }],
      participants: [
        { name: 'Person-44444444444444444444-k000000', email: '44444444444444444444-k000000@redacted.invalid', sfdcUserId: 'x', isInternal: true },
        { name: 'Person-55555555555555555555-k000000', email: '55555555555555555555-k000000@redacted.invalid', sfdcUserId: '', isInternal: false },
      ],
    },
    { activityId: 'a2', activityType: 'EMAIL_SENT', subject: 'Re: pricing', date: 1702906300000, activityOwnerId: 'o1', participants: [] },
  ],
};

export const auditExport = {
  items: [
    { actorId: 'act1', sessionId: '7d0f7c4e-0000-4000-8000-000000000001', sessionType: 'WEB', event: 'FORECAST_EDIT', ipAddress: '10.0.0.1', actorType: 'USER', eventParameters: { field: 'commit' }, eventTimestamp: '2026-07-03T10:00:00Z' },
    { actorId: 'act2', sessionId: '7d0f7c4e-0000-4000-8000-000000000002', sessionType: 'IOS', event: 'LOGIN', ipAddress: '10.0.0.2', actorType: 'USER' },
  ],
  actors: [{ actorType: 'USER', actorId: 'act1', name: 'Person-66666666666666666666-k000000', email: '66666666666666666666-k000000@redacted.invalid' }],
};

export const flatEntries = [
  { ownerName: 'Person-77777777777777777777-k000000', ownerEmail: '77777777777777777777-k000000@redacted.invalid', forecastAmount: 1000, quotaAmount: 2000, crmTotal: 3000, crmClosed: 400, adjustmentAmount: -5, timePeriod: '2026_Q3' },
  { ownerName: 'Person-88888888888888888888-k000000', ownerEmail: '88888888888888888888-k000000@redacted.invalid', forecastAmount: '$1,000', quotaAmount: 0, crmTotal: 0, crmClosed: 0, adjustmentAmount: 0, timePeriod: '2026_Q3' },
];

export const forecastCsv = [
  'User,Email,CRM User ID,Role,Parent Role,Timeframe,Field,Week,Start Day,End Day,Data Type,Data Value',
  'Person-99999999999999999999-k000000,99999999999999999999-k000000@redacted.invalid,Id-9,AE,Manager,2026_Q3,Commit,1,2026-07-01,2026-07-07,forecast,1200',
  'Person-99999999999999999999-k000000,99999999999999999999-k000000@redacted.invalid,Id-9,AE,Manager,2026_Q3,Commit,2,2026-07-08,2026-07-14,forecast,',
].join('\n');

export type Rec = { section: string | null; record: Record<string, unknown> };

/** The records parseRecords() yields for the normalised forecast JSON. */
export function sectionsOf(obj: Record<string, unknown[]>): Rec[] {
  const out: Rec[] = [];
  for (const [section, arr] of Object.entries(obj)) for (const r of arr) out.push({ section, record: r as Record<string, unknown> });
  return out;
}
