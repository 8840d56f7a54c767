/** clariguard audit: the security checklist as code. */
export { CHECKS, CHECK_IDS } from './checks/index.js';
export {
  AuditConfigSchema,
  WarehouseSchema,
  auditConfigJsonSchema,
  loadAuditConfig,
  validateAuditConfig,
  parseRoster,
  loadRoster,
  CONFIG_FILE_NAMES,
  type AuditConfig,
  type AuditConfigInput,
  type WarehouseConfig,
  type RosterMember,
} from './config.js';
export { runAudit, auditContext, isFailing, findConfigFile, type AuditOptions, type AuditReport, type AuditSummary, type FailOn } from './runner.js';
export { formatReport, toJson as auditToJson, toSarif as auditToSarif, toJunit as auditToJunit, toMarkdown as auditToMarkdown, toText as auditToText, summaryLine as auditSummaryLine, AUDIT_FORMATS, type AuditFormat } from './report.js';
export { maskEmail, maskName } from './mask.js';
export type { AuditCheck, AuditContext, CheckOutcome, CheckResult, CheckStatus, CheckLocation } from './types.js';
