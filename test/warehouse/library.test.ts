/**
 * `clariguard warehouse load FILE` as a library call from the package entry: loadFileIntoWarehouse does what
 * the command does (format from the name, a missing file = exit 66 naming it), into PGlite here; and the
 * constants the warehouse commands validate against are exported.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  ClariguardError,
  loadFileIntoWarehouse,
  openWarehouse,
  resolveWarehouseTarget,
  SQL_DIALECTS,
  SQL_KINDS,
  type LoadFileOptions,
  type WarehouseStaging,
  type GenerateSqlOptions,
} from '../../src/index.js';
import { tempDir } from '../helpers/cli.js';
import { forecastExport } from './fixtures.js';

const tmp = tempDir('clariguard-wh-lib-');
afterAll(() => tmp.cleanup());

describe('warehouse library surface from the package entry', () => {
  it('exports the dialects and kinds the warehouse commands accept', () => {
    expect(SQL_DIALECTS).toEqual(expect.arrayContaining(['postgres', 'snowflake', 'bigquery']));
    expect(SQL_KINDS).toContain('email');
    const g: Pick<GenerateSqlOptions, 'dialect'> = { dialect: 'postgres' };
    const s: Pick<WarehouseStaging, 'file'> | null = null;
    expect([g.dialect, s]).toEqual(['postgres', null]);
  });

  it('loadFileIntoWarehouse: a missing file is exit 66 naming it, an unknown format exit 2', async () => {
    const missing = join(tmp.dir, 'no-such-export.json');
    const o: LoadFileOptions = { target: `pglite:${join(tmp.dir, 'never-opened')}`, jobId: 'nf', kind: 'auto' };
    const err = await loadFileIntoWarehouse(missing, o).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ClariguardError);
    expect(err).toMatchObject({ exitCode: 66, message: `${missing}: cannot read: ENOENT` });
    await expect(loadFileIntoWarehouse(join(tmp.dir, 'export.txt'), o)).rejects.toMatchObject({ exitCode: 2 });
  });

  it('loadFileIntoWarehouse loads a redacted export file as `warehouse load` does', async () => {
    const file = join(tmp.dir, 'forecast.redacted.json');
    writeFileSync(file, JSON.stringify(forecastExport));
    const db = await openWarehouse(await resolveWarehouseTarget(`pglite:${join(tmp.dir, 'pg')}`));
    try {
      const r = await loadFileIntoWarehouse(file, { target: db, jobId: 'lib1', kind: 'auto' });
      expect(r).toMatchObject({ jobId: 'lib1', totalRows: 11 });
      const again = await loadFileIntoWarehouse(file, { target: db, jobId: 'lib1', kind: 'forecast' });
      expect(again.replacedRows).toBe(11);
    } finally {
      await db.close();
    }
  });
});
