/**
 * The warehouse: PostgreSQL/PGlite sinks for redacted exports, least-privilege setup, and in-warehouse
 * pseudonymisation that matches `clariguard redact` byte for byte. docs/warehouse.md is the user guide.
 */
export {
  isWarehouseTarget,
  resolveWarehouseTarget,
  openWarehouse,
  displayUrl,
  type WarehouseTarget,
  type WarehouseDb,
  type ConnectOptions,
} from './db.js';
export { loadRecordsIntoWarehouse, ensureTables, routeRecord, type LoadOptions, type LoadResult, type ExportKind, type WarehouseRecord } from './sink.js';
export { TABLES, LOAD_LOG, READER_SCOPES, createTablesSql, type TableSpec, type ColumnSpec } from './schema.js';
export { redactIntoWarehouse, stageExportForWarehouse, type RedactIntoWarehouseOptions, type WarehouseStaging } from './pipeline.js';
export { initWarehouse, SCOPED_VIEWS, type InitOptions, type InitResult } from './init.js';
export { loadFileIntoWarehouse, type LoadFileOptions } from './load-file.js';
export { pseudonymizeColumn, type PseudonymizeOptions, type PseudonymizeResult } from './pseudonymize.js';
export {
  generatePseudonymSql,
  pseudonymExpr,
  keyIdExpr,
  normaliseExpr,
  paddedKeys,
  sessionKeySettings,
  pseudonymPattern,
  SQL_DIALECTS,
  SQL_KINDS,
  type SqlDialect,
  type SqlPseudonymKind,
  type GenerateSqlOptions,
} from './pseudonym-sql.js';
