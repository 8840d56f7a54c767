import { createHash } from 'node:crypto';
import { createReadStream, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { PassThrough, Readable } from 'node:stream';
import { InputError, UsageError } from '../errors.js';
import { formatFromName, loadPolicyFile, parseRecords, redactStream, sniffFormat, type Policy, type RedactFormat, type RedactionReport } from '../redact/index.js';
import { keyIdOf } from '../redact/pseudonym.js';
import { trackTemp, untrackTemp } from '../util/atomic.js';
import { loadRecordsIntoWarehouse, type ExportKind, type LoadResult, type WarehouseRecord } from './sink.js';
import type { WarehouseDb, WarehouseTarget } from './db.js';

export interface RedactIntoWarehouseOptions {
  /** Input file; stdin (or `input`) when absent or `-`. */
  in?: string;
  input?: Readable;
  format?: RedactFormat;
  preset?: string;
  policy?: Policy;
  /** A policy file (YAML/JSON), instead of `policy`. */
  policyFile?: string;
  key: Buffer;
  /** Skip the roster pre-pass over the input file (see `clariguard redact --single-pass`). */
  singlePass?: boolean;
  /** postgres://…, pglite:DIR, a secret reference holding one, a resolved target or an open connection. */
  target: string | WarehouseTarget | WarehouseDb;
  /** Export job id (re-loading the same id replaces its rows); default: the input file's name without extension. */
  jobId?: string;
  kind?: ExportKind;
  period?: string;
  schema?: string;
  warn?: (message: string) => void;
}

/** Parses the redacted byte stream as it is produced; the format is taken from its first bytes when unknown. */
async function* recordsOf(stream: Readable, format: RedactFormat | undefined, source: string): AsyncGenerator<WarehouseRecord> {
  let fmt = format;
  let input: Readable = stream;
  if (!fmt) {
    const it = stream[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
    const first = await it.next();
    if (first.done) return;
    fmt = sniffFormat(first.value) ?? undefined;
    if (!fmt) throw new UsageError(`${source}: cannot tell whether this is JSON, NDJSON or CSV; pass --format`);
    input = Readable.from(
      (async function* () {
        yield first.value;
        for (;;) {
          const r = await it.next();
          if (r.done) return;
          yield r.value;
        }
      })(),
    );
  }
  yield* parseRecords(input, fmt, source);
}

/**
 * `clariguard redact --out postgres://…|pglite:DIR`: redacts the export and loads the redacted records into
 * the warehouse as they are produced (nothing unredacted or redacted touches the disk), in one transaction.
 * Either both succeed or the warehouse keeps its previous load of the job.
 */
export async function redactIntoWarehouse(o: RedactIntoWarehouseOptions): Promise<{ report: RedactionReport; load: LoadResult }> {
  if (o.policy && o.policyFile) throw new UsageError('use either a policy or a policy file, not both');
  const policy = o.policy ?? (o.policyFile ? loadPolicyFile(o.policyFile) : undefined);
  const fromFile = o.in !== undefined && o.in !== '-';
  const jobId = o.jobId ?? (fromFile ? basename(o.in!).replace(/\.(json|ndjson|jsonl|csv)(\.gz)?$/i, '') : undefined);
  if (!jobId) throw new UsageError('loading into a warehouse from stdin needs --job-id (re-loading the same job id replaces its rows)');
  let input: Readable;
  if (fromFile) {
    try {
      if (!statSync(o.in!).isFile()) throw new UsageError(`${o.in} is not a file`);
    } catch (e) {
      if (e instanceof UsageError) throw e;
      throw new InputError(o.in!, `cannot read: ${(e as NodeJS.ErrnoException).code ?? 'error'}`);
    }
    input = createReadStream(o.in!, { highWaterMark: 1 << 20 });
  } else input = o.input ?? process.stdin;
  const source = fromFile ? o.in! : '<stdin>';
  const format = o.format ?? formatFromName(fromFile ? o.in : undefined) ?? undefined;
  const redacted = new PassThrough({ highWaterMark: 1 << 20 });
  // Whichever side fails first holds the real cause; the other side then only sees its stream break.
  let first: { error: unknown } | null = null;
  const rosterFrom = fromFile && !o.singlePass ? o.in : undefined;
  const redacting = redactStream(input, redacted, { format, preset: o.preset, policy, key: o.key, sourceName: source, rosterFrom }).catch((e: unknown) => {
    first ??= { error: e };
    redacted.destroy(e as Error);
    throw e;
  });
  const loading = loadRecordsIntoWarehouse({
    target: o.target,
    records: recordsOf(redacted, format, source),
    kind: o.kind ?? 'auto',
    jobId,
    period: o.period,
    schema: o.schema,
    sourceName: source,
    keyId: keyIdOf(o.key),
    warn: o.warn,
  }).catch((e: unknown) => {
    first ??= { error: e };
    redacted.destroy();
    input.destroy();
    throw e;
  });
  const [r, l] = await Promise.allSettled([redacting, loading]);
  if (r.status === 'rejected' || l.status === 'rejected') throw (first as { error: unknown } | null)?.error ?? (r.status === 'rejected' ? r.reason : (l as PromiseRejectedResult).reason);
  return { report: r.value, load: l.value };
}

export interface WarehouseStaging {
  /** Where the export should write: a private temp file (directory mode 0700), removed by cleanup(). */
  readonly file: string;
  /**
   * Loads the finished export file into the warehouse (one transaction, replacing that job's rows). Only a
   * redacted export (`redacted: true`, as exportForecast & co. report it) is taken: a warehouse never gets raw PII.
   */
  load(result: { kind: string; format: string; redacted: boolean; jobId?: string; period?: string | null; report?: { keyId: string } | null }, requestKey: string): Promise<LoadResult>;
  cleanup(): void;
}

/**
 * `clariguard export … --out postgres://…|pglite:DIR`: the export writes its (redacted) file to a private
 * temporary directory as usual (journal, verification and atomic write unchanged), then the file is loaded
 * into the warehouse and removed. `requestKey` identifies the request when Clari gives no job id (paged
 * audit events), so re-running the same request replaces its rows.
 */
export function stageExportForWarehouse(target: string, format: string, options: { schema?: string; warn?: (m: string) => void } = {}): WarehouseStaging {
  const dir = mkdtempSync(join(tmpdir(), 'clariguard-wh-'));
  // The staged export outlives the atomic writer's temp file: Ctrl-C or SIGTERM before cleanup() must not leave it in /tmp.
  trackTemp(dir);
  const file = join(dir, `export.${format}`);
  return {
    file,
    async load(result, requestKey) {
      if (result.redacted !== true) throw new UsageError('a warehouse only takes redacted exports: this one was written unredacted');
      const fmt = (formatFromName(file) ?? result.format) as RedactFormat;
      const kind: ExportKind = result.kind === 'forecast' || result.kind === 'activity' || result.kind === 'audit' || result.kind === 'calls' ? result.kind : 'auto';
      const jobId = result.jobId ?? `${result.kind}-${createHash('sha256').update(requestKey).digest('hex').slice(0, 16)}`;
      return loadRecordsIntoWarehouse({
        target,
        records: parseRecords(createReadStream(file, { highWaterMark: 1 << 20 }), fmt, `${result.kind} export`),
        kind,
        jobId,
        period: result.period ?? undefined,
        keyId: result.report?.keyId ?? null,
        schema: options.schema,
        sourceName: `${result.kind} export ${jobId}`,
        warn: options.warn,
      });
    },
    cleanup() {
      rmSync(dir, { recursive: true, force: true });
      untrackTemp(dir);
    },
  };
}
