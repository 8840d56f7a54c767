import { Option, type Command } from 'commander';
import { ClariguardError, UsageError } from '../../errors.js';
import { createClariClient } from '../../clari/client.js';
import {
  EXPORT_FORMATS,
  exportActivity,
  exportAuditEvents,
  exportCopilotCalls,
  exportForecast,
  parseActivityTypes,
  parseForecastTypes,
  type ExportCommonOptions,
  type ExportEvent,
  type ExportFormat,
  type ExportResult,
  type RedactionChoice,
} from '../../clari/export.js';
import { loadPolicyFile, loadPseudonymKey } from '../../redact/index.js';
import { readSecret } from '../../secrets/index.js';
import type { CliContext } from '../context.js';
import { progressEnabled, say, warn, writeJson, writeOut } from '../io.js';
import { isWarehouseTarget, stageExportForWarehouse } from '../../warehouse/index.js';

interface CommonFlags {
  token?: string;
  baseUrl?: string;
  out?: string;
  format?: string;
  policy?: string;
  preset?: string;
  key?: string;
  unredacted?: boolean;
  newJob?: boolean;
  pollInterval?: string;
  json?: boolean;
}

function addCommon(cmd: Command, withJobs = true, revenueApi = true): Command {
  if (revenueApi) {
    cmd
      .requiredOption('--token <ref>', 'secret reference of the Clari API token (never the token itself), e.g. local:clari/prod/api-token')
      .option('--base-url <url>', 'Clari API base URL (default $CLARIGUARD_CLARI_BASE_URL or https://api.clari.com/v4)');
  }
  cmd
    .requiredOption('--out <file>', 'output file, written atomically (nothing is left behind on failure); or a warehouse: postgres://…, pglite:DIR, or a secret reference holding the URL')
    .addOption(new Option('--format <format>', 'output format').choices([...EXPORT_FORMATS]).default('json'))
    .option('--policy <file>', 'redaction policy file (YAML/JSON) instead of the built-in preset')
    .option('--preset <name>', 'redaction preset (default: the one for this export)')
    .option('--key <ref>', 'secret reference of the pseudonymisation key (default local:clariguard/pseudonym-key)')
    .option('--unredacted', 'write the raw export (for production pipelines only; refused inside a git work tree)')
    .option('--json', 'print the result summary as JSON on stdout');
  if (withJobs) {
    cmd
      .option('--new-job', 'ignore a journalled job for this same request and start a new one (spends quota)')
      .option('--poll-interval <ms>', 'first job status poll interval in ms (grows to 15 s)', '1000');
  }
  return cmd;
}

async function commonOptions(f: CommonFlags, signal: AbortSignal): Promise<Omit<ExportCommonOptions, 'format'> & { format: ExportFormat }> {
  if (!f.token) throw new UsageError('--token REF is required');
  const out = await outputOptions(f, signal);
  const token = await readSecret(f.token);
  return { ...out, token };
}

/** Everything but the Revenue API token: output, redaction, polling, progress. */
async function outputOptions(f: CommonFlags, signal: AbortSignal): Promise<Omit<ExportCommonOptions, 'format' | 'token'> & { format: ExportFormat }> {
  if (f.unredacted && (f.policy || f.preset || f.key)) throw new UsageError('--unredacted cannot be combined with --policy, --preset or --key');
  if (f.policy && f.preset) throw new UsageError('use either --policy or --preset, not both');
  let redaction: RedactionChoice;
  if (f.unredacted) {
    redaction = { mode: 'unredacted' };
  } else {
    const { key } = await loadPseudonymKey(f.key);
    redaction = { mode: 'redact', key, preset: f.preset, policy: f.policy ? loadPolicyFile(f.policy) : undefined };
  }
  const poll = f.pollInterval !== undefined ? Number(f.pollInterval) : undefined;
  if (poll !== undefined && !(Number.isInteger(poll) && poll >= 10 && poll <= 600_000)) throw new UsageError('--poll-interval must be 10..600000 ms');
  const progress = progressEnabled();
  let lastLine = 0;
  const onEvent = (e: ExportEvent): void => {
    if (e.type === 'info') say(e.message);
    else if (e.type === 'warning') warn(e.message);
    else if (!progress) return;
    else {
      const now = Date.now();
      if (e.type === 'download' && now - lastLine < 200) return;
      lastLine = now;
      const text =
        e.type === 'job'
          ? `job ${e.jobId}: ${e.status}`
          : e.type === 'download'
            ? `received ${formatBytes(e.bytes)}${e.records !== undefined ? `, ${e.records.toLocaleString('en-US')} records` : ''}`
            : `retrying ${e.operation} in ${(e.delayMs / 1000).toFixed(1)} s (${e.reason}, attempt ${e.attempt})`;
      process.stderr.write(`\r\x1b[2K${text}`);
    }
  };
  return {
    baseUrl: f.baseUrl ?? process.env.CLARIGUARD_CLARI_BASE_URL,
    out: f.out ?? '',
    format: (f.format ?? 'json') as ExportFormat,
    redaction,
    newJob: f.newJob,
    poll: poll !== undefined ? { intervalMs: poll } : undefined,
    signal,
    onEvent,
  };
}

function formatBytes(n: number): string {
  return n >= 1 << 20 ? `${(n / (1 << 20)).toFixed(1)} MiB` : n >= 1024 ? `${(n / 1024).toFixed(1)} KiB` : `${n} B`;
}

/** Runs an export with Ctrl-C / SIGTERM turned into a clean abort (temp file removed, journal kept). */
async function withSignals(run: (signal: AbortSignal) => Promise<ExportResult>, f: CommonFlags): Promise<void> {
  const ac = new AbortController();
  const onSignal = (sig: NodeJS.Signals): void => {
    ac.abort(new ClariguardError(`interrupted by ${sig}; run the same command again to resume the same job`, { exitCode: sig === 'SIGINT' ? 130 : 143, code: 'interrupted' }));
  };
  // --out postgres://…|pglite:DIR: the export writes a private staging file as usual, then it is loaded (docs/warehouse.md).
  const warehouse = f.out && isWarehouseTarget(f.out) ? { target: f.out, staging: stageExportForWarehouse(f.out, f.format ?? 'json', { warn }) } : null;
  if (warehouse) f.out = warehouse.staging.file;
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    if (warehouse && f.unredacted) throw new UsageError('--unredacted cannot go to a warehouse: it only takes redacted exports');
    if (f.unredacted) warn(`writing an UNREDACTED Clari export (names, emails, CRM ids, forecast amounts) to ${f.out}`);
    const r = await run(ac.signal);
    const load = warehouse ? await warehouse.staging.load(r, JSON.stringify({ ...f, out: warehouse.target })) : undefined;
    if (progressEnabled()) process.stderr.write('\r\x1b[2K');
    const summary = {
      kind: r.kind,
      out: load ? load.target : r.out,
      warehouse: load,
      format: r.format,
      jobId: r.jobId,
      resumed: r.resumed,
      period: r.period,
      bytesIn: r.bytesIn,
      rows: r.rows,
      redacted: r.redacted,
      keyId: r.report?.keyId,
      preset: r.report?.preset ?? undefined,
      policy: r.report?.policy ?? undefined,
    };
    if (f.json) writeJson(summary);
    else {
      const what = r.redacted ? `redacted (${r.report?.preset ?? r.report?.policy ?? 'policy'}, key ${r.report?.keyId})` : 'UNREDACTED';
      say(`${load ? `loaded ${load.totalRows} rows (job ${load.jobId}) into ${load.target}` : `wrote ${r.out}`}: ${r.rows ?? '?'} records, ${r.format}, ${what}${r.jobId ? `, job ${r.jobId}${r.resumed ? ' (resumed)' : ''}` : ''}`);
    }
  } catch (e) {
    if (progressEnabled()) process.stderr.write('\r\x1b[2K');
    if (ac.signal.aborted && ac.signal.reason instanceof ClariguardError) throw ac.signal.reason;
    throw e;
  } finally {
    warehouse?.staging.cleanup();
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}

export function registerExportCommands({ program }: CliContext): void {
  const exp: Command = program
    .command('export')
    .description('export Clari data (forecast, activity, audit events, Copilot calls), redacted on the way to disk');

  addCommon(
    exp
      .command('forecast')
      .description('export a forecast tab for one fiscal quarter (POST /export/forecast/{forecastId})')
      .argument('<forecastId>', 'the id in the Forecast Tab URL, e.g. net_arr')
      .requiredOption('--period <YYYY_QN>', 'fiscal quarter, e.g. 2026_Q3 (verified against what Clari returns)')
      .option('--types <list>', 'comma-separated: forecast, quota, forecast_updated, adjustment (default forecast,forecast_updated)')
      .option('--scope <scopeId>', 'hierarchy root, e.g. 1905::MGR')
      .option('--currency <code>', 'currency for money fields, e.g. USD')
      .option('--include-historical', 'week-over-week values from the start of the quarter')
      .addOption(new Option('--schedule <mode>', 'let Clari retry a failed job').choices(['NONE', 'ONCE', 'MAX'])),
  )
    .addHelpText(
      'after',
      '\nAn interrupted run is resumed by running the same command again: the job id is journalled under\n$CLARIGUARD_HOME/state/exports before polling, so no second job (and no quota) is spent.\n\nExample:\n  clariguard export forecast net_arr --period 2026_Q3 --types forecast,quota --token local:clari/prod/api-token --out q3.json\n',
    )
    .action(async (forecastId: string, f: CommonFlags & { period: string; types?: string; scope?: string; currency?: string; includeHistorical?: boolean; schedule?: 'NONE' | 'ONCE' | 'MAX' }) => {
      const types = parseForecastTypes(f.types);
      await withSignals(async (signal) => exportForecast({ ...(await commonOptions(f, signal)), forecastId, period: f.period, types, scopeId: f.scope, currency: f.currency, includeHistorical: f.includeHistorical, schedule: f.schedule }), f);
    });

  addCommon(
    exp
      .command('activity')
      .description('export sales activity (meetings, emails, attachments) for a date range (POST /export/activity)')
      .requiredOption('--from <date>', 'start date, ISO (2026-07-01 or 2026-07-01T00:00:00Z)')
      .requiredOption('--to <date>', 'end date, ISO')
      .option('--types <list>', 'comma-separated: MEETING, EMAIL_SENT, EMAIL_RECEIVED, ATTACHMENT_SENT, ATTACHMENT_RECEIVED (default all)'),
  ).action(async (f: CommonFlags & { from: string; to: string; types?: string }) => {
    const types = parseActivityTypes(f.types);
    await withSignals(async (signal) => exportActivity({ ...(await commonOptions(f, signal)), from: f.from, to: f.to, types }), f);
  });

  addCommon(
    exp
      .command('audit-events')
      .description('export audit events via the paged GET /audit/events (no export job, no quota)')
      .option('--from <date>', 'events from this date (default: Clari: 30 days ago)')
      .option('--to <date>', 'events until this date (default: now)')
      .option('--event <name>', 'only this event category, e.g. api.accessed')
      .option('--actor-id <id>', 'only events of this actor')
      .addOption(new Option('--session-type <type>', 'only this session type').choices(['WEB', 'IOS', 'ANDROID']))
      .option('--page-size <n>', 'events per request, 1..1000', '1000'),
    false,
  ).action(async (f: CommonFlags & { from?: string; to?: string; event?: string; actorId?: string; sessionType?: 'WEB' | 'IOS' | 'ANDROID'; pageSize: string }) => {
    const pageSize = Number(f.pageSize);
    if (!Number.isInteger(pageSize) || pageSize < 1 || pageSize > 1000) throw new UsageError('--page-size must be 1..1000');
    const actorId = f.actorId === undefined ? undefined : Number(f.actorId);
    if (actorId !== undefined && !Number.isInteger(actorId)) throw new UsageError('--actor-id must be an integer');
    await withSignals(async (signal) => exportAuditEvents({ ...(await commonOptions(f, signal)), from: f.from, to: f.to, event: f.event, actorId, sessionType: f.sessionType, pageSize }), f);
  });

  addCommon(
    exp
      .command('copilot-calls')
      .description('export Clari Copilot calls via the paged GET /calls (X-Api-Key + X-Api-Password; no job, no quota)')
      .requiredOption('--copilot-key <ref>', 'secret reference of the Copilot API key (never the key itself)')
      .requiredOption('--copilot-password <ref>', 'secret reference of the Copilot API password')
      .option('--copilot-base-url <url>', 'Copilot API base URL (default $CLARIGUARD_COPILOT_BASE_URL or https://rest-api.copilot.clari.com)')
      .option('--from <date>', 'calls after this time, ISO')
      .option('--to <date>', 'calls before this time, ISO')
      .option('--status <list>', 'comma-separated call statuses, e.g. POST_PROCESSING_DONE')
      .option('--include-private', 'include calls marked private')
      .option('--page-size <n>', 'calls per request, 1..100', '100'),
    false,
    false,
  )
    .addHelpText('after', '\nExample:\n  clariguard export copilot-calls --copilot-key local:clari/copilot-key --copilot-password local:clari/copilot-password --from 2026-07-01 --out calls.json\n')
    .action(async (f: CommonFlags & { copilotKey: string; copilotPassword: string; copilotBaseUrl?: string; from?: string; to?: string; status?: string; includePrivate?: boolean; pageSize: string }) => {
      const pageSize = Number(f.pageSize);
      if (!Number.isInteger(pageSize) || pageSize < 1 || pageSize > 100) throw new UsageError('--page-size must be 1..100');
      const status = f.status ? f.status.split(',').map((x) => x.trim()).filter(Boolean) : undefined;
      await withSignals(async (signal) => {
        const out = await outputOptions(f, signal);
        return exportCopilotCalls({
          ...out,
          copilotKey: await readSecret(f.copilotKey),
          copilotPassword: await readSecret(f.copilotPassword),
          copilotBaseUrl: f.copilotBaseUrl ?? process.env.CLARIGUARD_COPILOT_BASE_URL,
          from: f.from,
          to: f.to,
          status,
          includePrivate: f.includePrivate,
          pageSize,
        });
      }, f);
    });

  exp
    .command('limits')
    .description('show the org export quota and concurrent job slots (GET /admin/limits)')
    .requiredOption('--token <ref>', 'secret reference of the Clari API token')
    .option('--base-url <url>', 'Clari API base URL')
    .option('--json', 'print as JSON')
    .action(async (f: { token: string; baseUrl?: string; json?: boolean }) => {
      const client = createClariClient({ baseUrl: f.baseUrl ?? process.env.CLARIGUARD_CLARI_BASE_URL, token: await readSecret(f.token) });
      const l = await client.getLimits();
      if (f.json) writeJson(l);
      else writeOut(`monthly quota: ${l.availableMonthlyQuota ?? '?'} of ${l.monthlyQuota ?? '?'} left (rolling 30 days)\nconcurrent:    ${l.availableConcurrentLimit ?? '?'} of ${l.concurrentLimit ?? '?'} free, running: ${l.runningJobIds.join(', ') || 'none'}`);
    });

  exp
    .command('jobs')
    .description("list this token's export jobs (GET /export/jobs)")
    .requiredOption('--token <ref>', 'secret reference of the Clari API token')
    .option('--base-url <url>', 'Clari API base URL')
    .option('--json', 'print as JSON')
    .action(async (f: { token: string; baseUrl?: string; json?: boolean }) => {
      const client = createClariClient({ baseUrl: f.baseUrl ?? process.env.CLARIGUARD_CLARI_BASE_URL, token: await readSecret(f.token) });
      const jobs = await client.listJobs();
      // Only identifying fields: a job payload may carry signed URLs in some tenants; never echo it whole.
      const rows = jobs.map((j) => ({ jobId: j.jobId, status: j.status, title: j.title, module: j.module, fileType: j.fileType, startTime: j.startTime, downloads: j.downloads }));
      if (f.json) writeJson({ jobs: rows });
      else if (rows.length === 0) say('no export jobs');
      else writeOut(rows.map((r) => `${r.jobId}  ${String(r.status).padEnd(9)}  ${r.module ?? ''}  ${r.title ?? ''}  ${r.startTime ? new Date(r.startTime).toISOString() : ''}`).join('\n'));
    });

  exp
    .command('cancel')
    .description('cancel a running export job and free its quota (PATCH /export/jobs/{jobId})')
    .argument('<jobId>', 'the job id')
    .requiredOption('--token <ref>', 'secret reference of the Clari API token')
    .option('--base-url <url>', 'Clari API base URL')
    .action(async (jobId: string, f: { token: string; baseUrl?: string }) => {
      const client = createClariClient({ baseUrl: f.baseUrl ?? process.env.CLARIGUARD_CLARI_BASE_URL, token: await readSecret(f.token) });
      const r = await client.cancelJob(jobId);
      say(`job ${jobId}: ${r.status ?? 'CANCELLED'}`);
    });
}
