import { ClariguardError, ExitCode } from '../errors.js';
import { maskKnownSecrets } from '../masking/registry.js';

/**
 * What to do about each error code Clari (or clariguard's own checks on Clari's answers) reports. One line
 * each, appended to the message, because the raw Clari message rarely says how to fix it.
 */
const HINTS: Record<string, { hint: string; exitCode: number }> = {
  unauthorized: {
    hint: 'check that --token names a current Clari API token (tokens die when revoked or when their user is deactivated)',
    exitCode: ExitCode.noPermission,
  },
  forbidden: { hint: "the token's user lacks permission for this resource; use a token of a user with access", exitCode: ExitCode.noPermission },
  no_optin: {
    hint: "the token's user is not opted into this forecast scope; opt the integration user in at the top of the hierarchy or pass --scope",
    exitCode: ExitCode.noPermission,
  },
  no_such_forecast_config: {
    hint: 'copy the forecastId from the Forecast Tab URL in Clari (e.g. net_arr); ask your CSM to configure the tab if it is missing',
    exitCode: ExitCode.noInput,
  },
  missing_forecast_id: { hint: 'give the forecast tab id, e.g. clariguard export forecast net_arr', exitCode: ExitCode.usage },
  type_not_supported: {
    hint: 'crm_total and crm_closed cannot be exported in bulk; drop them from --types',
    exitCode: ExitCode.usage,
  },
  bad_request: { hint: 'check --period (YYYY_QN), --types, --currency and dates', exitCode: ExitCode.usage },
  export_monthly_quota_reached: {
    hint: 'the org has used its rolling 30-day export quota (or its concurrent job limit); wait, cancel running jobs, or ask your CSM for more (see GET /admin/limits)',
    exitCode: ExitCode.tempFail,
  },
  concurrent_limit_reached: {
    hint: 'wait for running export jobs to finish or cancel one (clariguard export jobs / cancel), then retry',
    exitCode: ExitCode.tempFail,
  },
  invalid_jobId: { hint: 'the job does not exist, is not finished or has expired; start a new export', exitCode: ExitCode.noInput },
  export_failed_to_cancel: { hint: 'the job already finished; nothing to cancel', exitCode: ExitCode.findings },
  internal_server_error: { hint: 'Clari had an internal error; retry later', exitCode: ExitCode.unavailable },
  rate_limited: { hint: 'Clari kept answering 429 until the retry budget ran out; retry later or lower concurrency', exitCode: ExitCode.tempFail },
  server_error: { hint: 'Clari kept failing until the retry budget ran out; retry later', exitCode: ExitCode.unavailable },
  network_error: { hint: 'check --base-url, network access and proxies; the request was retried until the budget ran out', exitCode: ExitCode.unavailable },
  job_failed: { hint: 'Clari could not complete the job; retry later, or use --schedule ONCE|MAX so Clari retries by itself', exitCode: ExitCode.unavailable },
  job_cancelled: { hint: 'someone cancelled the job; start the export again', exitCode: ExitCode.unavailable },
  job_timeout: { hint: 'the job did not finish in time; run the same command again to resume waiting for the same job', exitCode: ExitCode.tempFail },
  results_truncated: {
    hint: 'the download ended early; run the same command again: it resumes the same job without spending quota',
    exitCode: ExitCode.unavailable,
  },
  rows_truncated: {
    hint: 'Clari truncated the export (too large); narrow it with --scope or fewer --types',
    exitCode: ExitCode.dataError,
  },
  period_mismatch: {
    hint: 'Clari silently falls back to the current quarter for a period it does not know; check --period (YYYY_QN, fiscal) against your Clari fiscal calendar',
    exitCode: ExitCode.dataError,
  },
  bad_response: { hint: 'Clari answered with something clariguard does not understand; retry, and report it if it persists', exitCode: ExitCode.unavailable },
  unexpected_redirect: { hint: 'check --base-url (it must be the API itself, e.g. https://api.clari.com/v4)', exitCode: ExitCode.unavailable },
  untrusted_next_link: { hint: 'Clari returned a nextLink to another host; refusing to send the token there', exitCode: ExitCode.unavailable },
};

// The Copilot API authenticates with its own key and password, not the Revenue API token.
const COPILOT_HINTS: Record<string, string> = {
  unauthorized: 'check that --copilot-key and --copilot-password name the current Copilot API key and password',
  forbidden: 'the Copilot API key lacks access to these calls; use a key of an admin workspace user',
};

export function hintFor(code: string): string | undefined {
  return HINTS[code]?.hint;
}

/** Server text is untrusted: one line, bounded, and every known secret masked (a server may echo a header). */
export function sanitizeServerText(text: unknown, max = 300): string {
  const s = typeof text === 'string' ? text : text === undefined || text === null ? '' : JSON.stringify(text);
  const one = s.replace(/[\r\n\t]+/g, ' ').replace(/[\u0000-\u001f\u007f]/g, '').trim();
  const masked = maskKnownSecrets(one);
  return masked.length > max ? `${masked.slice(0, max)}…` : masked;
}

/**
 * An error answer from Clari (or a check clariguard made on one). `status` is the HTTP status (0 for network
 * errors and local checks), `code` Clari's error code (`no_such_forecast_config`, …) or clariguard's own
 * (`period_mismatch`, `results_truncated`, …). The message never contains the token.
 */
export class ClariApiError extends ClariguardError {
  readonly status: number;
  readonly clariMessage: string;
  readonly errorId?: string;
  readonly hint?: string;
  readonly retryable: boolean;
  constructor(init: {
    status: number;
    code: string;
    message: string;
    operation?: string;
    errorId?: string;
    retryable?: boolean;
    cause?: unknown;
  }) {
    const known = HINTS[init.code];
    const clariMessage = sanitizeServerText(init.message);
    const where = init.operation ? `${init.operation}: ` : '';
    const status = init.status ? `HTTP ${init.status} ` : '';
    const hint = (init.operation?.includes('Copilot') ? COPILOT_HINTS[init.code] : undefined) ?? known?.hint;
    super(`Clari ${where}${status}${init.code}: ${clariMessage}${hint ? ` (${hint})` : ''}`, {
      exitCode: known?.exitCode ?? exitCodeForStatus(init.status),
      code: init.code,
      cause: init.cause,
    });
    this.status = init.status;
    this.clariMessage = clariMessage;
    this.errorId = init.errorId;
    this.hint = hint;
    this.retryable = init.retryable ?? false;
  }
}

function exitCodeForStatus(status: number): number {
  if (status === 401 || status === 403) return ExitCode.noPermission;
  if (status === 404) return ExitCode.noInput;
  if (status === 429) return ExitCode.tempFail;
  if (status >= 400 && status < 500) return ExitCode.usage;
  return ExitCode.unavailable;
}

/** Default code when Clari's body carries none. */
export function codeForStatus(status: number): string {
  if (status === 401) return 'unauthorized';
  if (status === 403) return 'forbidden';
  if (status === 429) return 'rate_limited';
  if (status >= 500) return 'server_error';
  if (status === 404) return 'not_found';
  return 'bad_request';
}
