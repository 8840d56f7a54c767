/**
 * clariguard as a library. Every CLI command is a thin wrapper over one of these functions.
 */
export * from './errors.js';
export * from './secrets/index.js';
export * from './secrets/backends/stores.js';
export { copySecret } from './secrets/copy.js';
export { runWithSecrets, parseEnvMappings, githubMaskCommands, type InjectOptions, type InjectResult } from './secrets/inject.js';
export * from './masking/index.js';
export { createLogger, logger, maskingDestination } from './log/logger.js';
export { AtomicFileWriter, writeFileAtomicSync } from './util/atomic.js';
export { createPseudonymizer, keyIdOf, normalizeForPseudonym, pseudonymDigest, type Pseudonymizer, type PseudonymKind } from './redact/pseudonym.js';
export { loadRecordsIntoWarehouse, isWarehouseTarget, resolveWarehouseTarget, openWarehouse, redactIntoWarehouse, stageExportForWarehouse, initWarehouse, pseudonymizeColumn, generatePseudonymSql, paddedKeys, sessionKeySettings, SCOPED_VIEWS, type LoadOptions as WarehouseLoadOptions, type LoadResult as WarehouseLoadResult, type ExportKind as WarehouseExportKind, type WarehouseRecord, type InitOptions as WarehouseInitOptions, type InitResult as WarehouseInitResult, type PseudonymizeOptions, type PseudonymizeResult, type SqlDialect, type SqlPseudonymKind, type WarehouseTarget, type WarehouseDb, type RedactIntoWarehouseOptions } from './warehouse/index.js';
export { loadFileIntoWarehouse, SQL_DIALECTS, SQL_KINDS, type LoadFileOptions, type WarehouseStaging, type GenerateSqlOptions } from './warehouse/index.js';
export { runDemo } from './demo/index.js';
export * from './rotate/index.js';
export { scan, scanWithRules, writeScanBaseline, formatText, toSarif, toJsonReport, DEFAULT_RULES as DEFAULT_SCAN_RULES, type ScanOptions, type ScanResult, type ScanStats, type Finding as ScanFinding, type Rule as ScanRule } from './scan/index.js';
export { scanForReport, maskSecret, loadBaseline as loadScanBaseline, loadRulesFile as loadScanRulesFile, knownTokenRule, readKnownValues, DEFAULT_MAX_FILE_BYTES as DEFAULT_SCAN_MAX_FILE_BYTES, type Severity as ScanSeverity, type SkippedCounts as ScanSkippedCounts, type RuleMatch as ScanRuleMatch } from './scan/index.js';
export { loadPseudonymKey, createRedactor, redactStream, redactFile, prewarmRedaction, parseRecords, verifyRedaction, findEmails, findPhoneNumbers, findCredentials, maskPii, presetPolicy, listPresets, detectPreset, parsePolicy, loadPolicyFile, PolicySchema, PRESET_NAMES, DEFAULT_KEY_REF, type Policy as RedactionPolicy, type RedactionReport, type Redactor, type VerifyResult, type VerifyFinding, type RedactFormat } from './redact/index.js';
export { pseudonymKeyFromSecret, redactRecords, formatFromName, sniffFormat, rosterPrepass, RecordRedactor, type RedactStreamOptions, type RedactFileOptions, type PolicyInput as RedactionPolicyInput, type Rule as RedactionRule } from './redact/index.js';
export { createClariClient, ClariApiError, exportForecast, exportActivity, exportAuditEvents, exportCopilotCalls, type ClariClient, type ClariClientOptions, type ClariJob, type ClariLimits, type ForecastExportRequest, type ExportResult } from './clari/index.js';
export { parsePeriod, parseForecastTypes, parseActivityTypes, EXPORT_FORMATS, FORECAST_TYPES, ACTIVITY_TYPES, DEFAULT_COPILOT_BASE_URL, type ExportFormat, type ExportEvent, type RedactionChoice, type ExportCommonOptions, type ForecastExportOptions, type ActivityExportOptions, type AuditExportOptions, type CopilotCallsExportOptions, type ForecastType, type ActivityType, type ActivityExportRequest, type AuditEventsQuery, type AuditEvent, type AuditEventsPage, type CopilotCallsQuery, type JobStatus, type RetryOptions as ClariRetryOptions } from './clari/index.js';
export { startSandbox, type SandboxOptions, type SandboxHandle } from './sandbox/index.js';
export { type SandboxStats, type SandboxConfig } from './sandbox/index.js';
export { runAudit, formatReport, CHECKS as AUDIT_CHECKS, CHECK_IDS as AUDIT_CHECK_IDS, AuditConfigSchema, auditConfigJsonSchema, loadAuditConfig, validateAuditConfig, parseRoster, AUDIT_FORMATS, type AuditOptions, type AuditReport, type AuditSummary, type AuditConfig, type AuditCheck, type AuditContext, type CheckResult, type CheckStatus, type AuditFormat, type FailOn } from './audit/index.js';
export { auditSummaryLine, auditToText, auditToJson, auditToSarif, auditToJunit, auditToMarkdown, auditContext, isFailing, findConfigFile, loadRoster, CONFIG_FILE_NAMES as AUDIT_CONFIG_FILE_NAMES, type AuditConfigInput, type RosterMember, type CheckOutcome, type CheckLocation, type WarehouseConfig as AuditWarehouseConfig } from './audit/index.js';
export { main as runCli } from './cli/main.js';
export { VERSION } from './version.js';
