import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { ClariguardError, ExitCode, UsageError } from '../errors.js';
import { formatFromName, parseRecords, type RedactFormat } from '../redact/index.js';
import { loadRecordsIntoWarehouse, type LoadOptions, type LoadResult } from './sink.js';

export interface LoadFileOptions extends Omit<LoadOptions, 'records' | 'sourceName'> {
  /** json | ndjson | csv; default: from the file name. */
  format?: RedactFormat;
}

/**
 * `clariguard warehouse load FILE`: an already-redacted export file into the warehouse (COPY, one
 * transaction, replacing that job's rows). A missing file is exit 66 naming it, before any connection.
 */
export async function loadFileIntoWarehouse(file: string, o: LoadFileOptions): Promise<LoadResult> {
  const { format: given, ...rest } = o;
  const format = given ?? formatFromName(file);
  if (!format) throw new UsageError(`cannot tell the format of ${file} from its name; pass --format json|ndjson|csv`);
  await stat(file).catch((e: NodeJS.ErrnoException) => {
    throw new ClariguardError(`${file}: cannot read: ${e.code ?? 'error'}`, { exitCode: ExitCode.noInput, code: 'no_input' });
  });
  return loadRecordsIntoWarehouse({ ...rest, records: parseRecords(createReadStream(file), format, file), sourceName: file });
}
