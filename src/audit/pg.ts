import pg from 'pg';
import { readSecret, SecretValue } from '../secrets/index.js';
import type { WarehouseConfig } from './config.js';
import { because, reasonOf, type Maybe } from './token.js';
import type { AuditContext } from './types.js';

/** Relation kinds that hold or expose rows: tables, views, materialized views, partitioned and foreign tables. */
export const ROW_RELKINDS = `('r','v','m','p','f')`;

/**
 * Connects to a warehouse through its secret reference. The URL and its password are registered as secrets,
 * so a driver error that echoes either is masked before it reaches a report.
 */
export async function connectWarehouse(ctx: AuditContext, w: WarehouseConfig): Promise<Maybe<pg.Client>> {
  let url: SecretValue;
  try {
    url = await readSecret(w.url, { env: ctx.env });
  } catch (e) {
    return { ok: false, reason: `cannot read the connection URL ${because(w.url, reasonOf(e))}` };
  }
  let parsed: URL;
  try {
    parsed = new URL(url.reveal());
  } catch {
    return { ok: false, reason: `${w.url} does not hold a postgres:// URL` };
  }
  if (!/^postgres(ql)?:$/.test(parsed.protocol)) return { ok: false, reason: `${w.url} does not hold a postgres:// URL` };
  if (parsed.password) new SecretValue(decodeURIComponent(parsed.password));
  const client = new pg.Client({ connectionString: url.reveal(), connectionTimeoutMillis: 10_000, statement_timeout: 60_000, application_name: 'clariguard-audit' });
  client.on('error', () => undefined);
  try {
    await client.connect();
    await client.query('SET default_transaction_read_only = on');
  } catch (e) {
    await client.end().catch(() => undefined);
    const code = (e as { code?: string }).code;
    return { ok: false, reason: `cannot connect to ${parsed.hostname}:${parsed.port || 5432}/${decodeURIComponent(parsed.pathname.slice(1))} (${code ?? reasonOf(e)})` };
  }
  return { ok: true, value: client };
}

export function quoteIdent(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}
