/** The Clari Revenue API v4 and Copilot API client, and export orchestration. */
export {
  createClariClient,
  normaliseJob,
  DEFAULT_BASE_URL,
  DEFAULT_COPILOT_BASE_URL,
  FORECAST_TYPES,
  ACTIVITY_TYPES,
  TERMINAL_STATUSES,
  type ClariClient,
  type ClariClientOptions,
  type ClariJob,
  type ClariLimits,
  type JobStatus,
  type ForecastType,
  type ForecastExportRequest,
  type ActivityType,
  type ActivityExportRequest,
  type AuditEventsQuery,
  type AuditEvent,
  type AuditActor,
  type AuditEventsPage,
  type CopilotCallsQuery,
  type ResultsDownload,
  type WaitOptions,
} from './client.js';
export { ClariApiError, hintFor } from './errors.js';
export { parseRetryAfter, backoffDelay, resolveRetry, RateLimiter, type RetryOptions } from './http.js';
export {
  exportForecast,
  exportActivity,
  exportAuditEvents,
  exportCopilotCalls,
  parsePeriod,
  insideGitWorkTree,
  EXPORT_FORMATS,
  type ExportFormat,
  type ExportResult,
  type ExportEvent,
  type RedactionChoice,
  type ForecastExportOptions,
  type CopilotCallsExportOptions,
  type ActivityExportOptions,
  type AuditExportOptions,
} from './export.js';
export { ExportStateStore, defaultStateDir, type ExportJobState } from './state.js';
export { ResultsVerifier, periodFromFileName } from './verify.js';
