/**
 * The Clari client and exports as a pipeline calls them from the package entry: the option and event types
 * can be named (the package's exports map only opens the entry), and the parsing `clariguard export` does on
 * --types/--format is exported, so a pipeline validates its input exactly as the CLI does.
 */
import { describe, expect, it } from 'vitest';
import {
  ACTIVITY_TYPES,
  EXPORT_FORMATS,
  FORECAST_TYPES,
  ClariApiError,
  ClariguardError,
  SecretValue,
  parseActivityTypes,
  parseForecastTypes,
  parsePeriod,
  type ActivityExportOptions,
  type AuditExportOptions,
  type CopilotCallsExportOptions,
  type ExportEvent,
  type ExportFormat,
  type ForecastExportOptions,
  type ForecastType,
  type RedactionChoice,
  type AuditEvent,
  type ClariJob,
} from '../../src/index.js';

describe('clari library surface from the package entry', () => {
  it('exports the constants and the --types / --period parsing the CLI uses', () => {
    expect(EXPORT_FORMATS).toEqual(['json', 'ndjson', 'csv']);
    expect(FORECAST_TYPES).toContain('forecast');
    expect(ACTIVITY_TYPES).toContain('MEETING');
    expect(parseForecastTypes('forecast,quota')).toEqual(['forecast', 'quota']);
    expect(parseActivityTypes('MEETING')).toEqual(['MEETING']);
    expect(parsePeriod('2026_Q3')).toBe('2026_Q3');
    let err: unknown;
    try {
      parseForecastTypes('forecast,nonsense');
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ClariguardError);
    expect((err as ClariguardError).exitCode).toBe(2);
    expect(ClariApiError.prototype).toBeInstanceOf(ClariguardError);
  });

  it('lets a pipeline name the option types of every export', () => {
    const redaction: RedactionChoice = { mode: 'unredacted' };
    const format: ExportFormat = 'ndjson';
    const types: ForecastType[] = ['forecast'];
    const common = { out: 'q3.ndjson', format, redaction };
    const token = new SecretValue('not-a-real-token-0000');
    const f: ForecastExportOptions = { ...common, token, forecastId: 'net_arr', period: '2026_Q3', types };
    const a: ActivityExportOptions = { ...common, token, from: '2026-07-01', to: '2026-07-31' };
    const e: AuditExportOptions = { ...common, token };
    const c: CopilotCallsExportOptions = { ...common, copilotKey: token, copilotPassword: token };
    const seen: ExportEvent[] = [];
    const onEvent = (ev: ExportEvent): void => void seen.push(ev);
    onEvent({ type: 'info', message: 'x' });
    const job: Pick<ClariJob, 'jobId'> = { jobId: 'j1' };
    const ev: Partial<AuditEvent> = {};
    expect([f.forecastId, a.from, e.out, c.format, job.jobId, typeof ev, seen.length]).toEqual(['net_arr', '2026-07-01', 'q3.ndjson', 'ndjson', 'j1', 'object', 1]);
  });
});
