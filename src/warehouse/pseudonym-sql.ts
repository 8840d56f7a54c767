import { createHash } from 'node:crypto';
import { UsageError } from '../errors.js';
import { DIGEST_HEX_CHARS, KEY_ID_HEX_CHARS, REDACTED_EMAIL_DOMAIN } from '../redact/pseudonym.js';
import { quoteIdent } from './db.js';

/**
 * SQL that computes the same pseudonyms as `createPseudonymizer()` (src/redact/pseudonym.ts), byte for byte:
 *
 *   digest  = hex(HMAC-SHA-256(key, `${kind}:${normalise(value)}`))[0..20]
 *   key id  = "k" + hex(HMAC-SHA-256(key, "clariguard/key-id"))[0..6]
 *   name    = Person-<digest>-<key id>      email = <digest>-<key id>@redacted.invalid      id = Id-<digest>-<key id>
 *
 * PostgreSQL has HMAC (pgcrypto). Snowflake and BigQuery do not, so their SQL uses the definition of HMAC
 * directly: SHA-256(K⊕opad ‖ SHA-256(K⊕ipad ‖ message)), with the two padded keys precomputed by clariguard
 * and handed to the session (they are as sensitive as the key itself). The `postgres-sha256` dialect is the
 * same padded-key construction in PostgreSQL (built-in sha256(), no pgcrypto), which lets the test suite
 * execute and verify the algorithm the other two dialects use.
 *
 * The key never appears in generated SQL: statements read it from a session setting/variable/parameter.
 */
export type SqlDialect = 'postgres' | 'postgres-sha256' | 'snowflake' | 'bigquery';
export const SQL_DIALECTS: readonly SqlDialect[] = ['postgres', 'postgres-sha256', 'snowflake', 'bigquery'];
export type SqlPseudonymKind = 'email' | 'name' | 'id';
export const SQL_KINDS: readonly SqlPseudonymKind[] = ['email', 'name', 'id'];

/** Session setting names (PostgreSQL custom GUCs / Snowflake session variables / BigQuery query parameters). */
export const SESSION_KEY_SETTING = 'clariguard.key';
export const SESSION_IPAD_SETTING = 'clariguard.ipad';
export const SESSION_OPAD_SETTING = 'clariguard.opad';
const SF_IPAD = 'CLARIGUARD_IPAD';
const SF_OPAD = 'CLARIGUARD_OPAD';
const BQ_IPAD = 'clariguard_ipad';
const BQ_OPAD = 'clariguard_opad';

const BLOCK = 64; // SHA-256 block size in bytes

/** HMAC's inner and outer padded keys (RFC 2104), hex. Key-equivalent: treat them exactly like the key. */
export function paddedKeys(key: Buffer): { ipad: string; opad: string } {
  const k = Buffer.alloc(BLOCK);
  (key.length > BLOCK ? createHash('sha256').update(key).digest() : key).copy(k);
  const ipad = Buffer.alloc(BLOCK);
  const opad = Buffer.alloc(BLOCK);
  for (let i = 0; i < BLOCK; i++) {
    ipad[i] = k[i] ^ 0x36;
    opad[i] = k[i] ^ 0x5c;
  }
  return { ipad: ipad.toString('hex'), opad: opad.toString('hex') };
}

/**
 * The name → value pairs a session needs for a dialect: `clariguard.key` (hex) for postgres, the padded keys
 * for the others. These are what the caller binds; the SQL only references them by name.
 */
export function sessionKeySettings(key: Buffer, dialect: SqlDialect): Record<string, string> {
  if (dialect === 'postgres') return { [SESSION_KEY_SETTING]: key.toString('hex') };
  const { ipad, opad } = paddedKeys(key);
  if (dialect === 'postgres-sha256') return { [SESSION_IPAD_SETTING]: ipad, [SESSION_OPAD_SETTING]: opad };
  if (dialect === 'snowflake') return { [SF_IPAD]: ipad, [SF_OPAD]: opad };
  return { [BQ_IPAD]: ipad, [BQ_OPAD]: opad };
}

// JavaScript's \s and String.prototype.trim: the exact whitespace set normalizeForPseudonym() collapses.
const WS_SINGLES = [0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x20, 0xa0, 0x1680, 0x2028, 0x2029, 0x202f, 0x205f, 0x3000, 0xfeff];
const WS_RANGE: [number, number] = [0x2000, 0x200a];

const hex4 = (n: number): string => n.toString(16).padStart(4, '0');

interface DialectOps {
  /** The regex class of whitespace, as a SQL string expression. */
  wsPattern: string;
  collapse(v: string, pattern: string): string;
  trimSpace(v: string): string;
  lower(v: string): string;
  /** UTF-8 bytes of a string expression. */
  utf8(s: string): string;
  hmacHex(message: string): string;
  left(s: string, n: number): string;
  concat(...parts: string[]): string;
  literal(s: string): string;
  /** Predicate: the expression already looks like a clariguard pseudonym (so re-runs leave it alone). */
  matches(v: string, regex: string): string;
}

const sqlString = (s: string): string => `'${s.replace(/'/g, "''")}'`;

function pgPaddedHmac(message: string): string {
  const ipad = `decode(current_setting('${SESSION_IPAD_SETTING}'), 'hex')`;
  const opad = `decode(current_setting('${SESSION_OPAD_SETTING}'), 'hex')`;
  return `encode(sha256(${opad} || sha256(${ipad} || ${message})), 'hex')`;
}

function ops(dialect: SqlDialect, pgcryptoSchema: string): DialectOps {
  switch (dialect) {
    case 'postgres':
    case 'postgres-sha256': {
      const cls = `[${WS_SINGLES.map((c) => `\\u${hex4(c)}`).join('')}\\u${hex4(WS_RANGE[0])}-\\u${hex4(WS_RANGE[1])}]+`;
      const hmac = (m: string): string =>
        dialect === 'postgres'
          ? `encode(${quoteIdent(pgcryptoSchema)}.hmac(${m}, decode(current_setting('${SESSION_KEY_SETTING}'), 'hex'), 'sha256'), 'hex')`
          : pgPaddedHmac(m);
      return {
        wsPattern: sqlString(cls),
        collapse: (v, p) => `regexp_replace(${v}, ${p}, ' ', 'g')`,
        trimSpace: (v) => `btrim(${v}, ' ')`,
        lower: (v) => `lower(${v})`,
        utf8: (s) => `convert_to(${s}, 'UTF8')`,
        hmacHex: hmac,
        left: (s, n) => `left(${s}, ${n})`,
        concat: (...p) => `(${p.join(' || ')})`,
        literal: sqlString,
        matches: (v, re) => `${v} ~ ${sqlString(re)}`,
      };
    }
    case 'snowflake': {
      // Snowflake's regex dialect has no \u escapes: build the class from code points with CHR().
      const cls = `('[' || ${[...WS_SINGLES.map((c) => `CHR(${c})`), `CHR(${WS_RANGE[0]}) || '-' || CHR(${WS_RANGE[1]})`].join(' || ')} || ']+')`;
      const bin = (name: string): string => `TO_BINARY($${name}, 'HEX')`;
      return {
        wsPattern: cls,
        collapse: (v, p) => `REGEXP_REPLACE(${v}, ${p}, ' ')`,
        trimSpace: (v) => `TRIM(${v}, ' ')`,
        lower: (v) => `LOWER(${v})`,
        utf8: (s) => `TO_BINARY(${s}, 'UTF-8')`,
        hmacHex: (m) => `LOWER(TO_VARCHAR(SHA2_BINARY(CONCAT(${bin(SF_OPAD)}, SHA2_BINARY(CONCAT(${bin(SF_IPAD)}, ${m}), 256)), 256), 'HEX'))`,
        left: (s, n) => `LEFT(${s}, ${n})`,
        concat: (...p) => `(${p.join(' || ')})`,
        literal: sqlString,
        matches: (v, re) => `REGEXP_LIKE(${v}, ${sqlString(re)})`,
      };
    }
    case 'bigquery': {
      const cls = `[${WS_SINGLES.map((c) => `\\x{${hex4(c)}}`).join('')}\\x{${hex4(WS_RANGE[0])}}-\\x{${hex4(WS_RANGE[1])}}]+`;
      const bin = (name: string): string => `FROM_HEX(@${name})`;
      return {
        wsPattern: `r'${cls}'`,
        collapse: (v, p) => `REGEXP_REPLACE(${v}, ${p}, ' ')`,
        trimSpace: (v) => `TRIM(${v}, ' ')`,
        lower: (v) => `LOWER(${v})`,
        utf8: (s) => `CAST(${s} AS BYTES)`,
        hmacHex: (m) => `TO_HEX(SHA256(CONCAT(${bin(BQ_OPAD)}, SHA256(CONCAT(${bin(BQ_IPAD)}, ${m})))))`,
        left: (s, n) => `SUBSTR(${s}, 1, ${n})`,
        concat: (...p) => `CONCAT(${p.join(', ')})`,
        literal: sqlString,
        matches: (v, re) => `REGEXP_CONTAINS(${v}, r'${re}')`,
      };
    }
  }
}

export interface PseudonymExprOptions {
  dialect: SqlDialect;
  kind: SqlPseudonymKind;
  /** Schema pgcrypto is installed in (postgres dialect only; default public). */
  pgcryptoSchema?: string;
}

function prefixOf(kind: SqlPseudonymKind): string {
  return kind === 'name' ? 'Person' : 'Id';
}

/** Expression for the normalised value: trim, collapse whitespace runs to one space, lower-case. */
export function normaliseExpr(valueExpr: string, o: Pick<PseudonymExprOptions, 'dialect'>): string {
  const d = ops(o.dialect, 'public');
  return d.lower(d.trimSpace(d.collapse(valueExpr, d.wsPattern)));
}

/** Expression computing the key id (`k` + 6 hex) from the session's key material. */
export function keyIdExpr(o: Pick<PseudonymExprOptions, 'dialect' | 'pgcryptoSchema'>): string {
  const d = ops(o.dialect, o.pgcryptoSchema ?? 'public');
  return d.concat(d.literal('k'), d.left(d.hmacHex(d.utf8(d.literal('clariguard/key-id'))), KEY_ID_HEX_CHARS));
}

/** Expression computing the pseudonym of `valueExpr` (NULL stays NULL). */
export function pseudonymExpr(valueExpr: string, o: PseudonymExprOptions): string {
  const d = ops(o.dialect, o.pgcryptoSchema ?? 'public');
  const norm = d.lower(d.trimSpace(d.collapse(valueExpr, d.wsPattern)));
  const digest = d.left(d.hmacHex(d.utf8(d.concat(d.literal(`${o.kind}:`), norm))), DIGEST_HEX_CHARS);
  const kid = keyIdExpr(o);
  if (o.kind === 'email') return d.concat(digest, d.literal('-'), kid, d.literal(`@${REDACTED_EMAIL_DOMAIN}`));
  return d.concat(d.literal(`${prefixOf(o.kind)}-`), digest, d.literal('-'), kid);
}

/** Regex for a value that already is a clariguard pseudonym of this kind (any key id). */
export function pseudonymPattern(kind: SqlPseudonymKind): string {
  const body = `[0-9a-f]{${DIGEST_HEX_CHARS}}-k[0-9a-f]{${KEY_ID_HEX_CHARS}}`;
  if (kind === 'email') return `^${body}@redacted\\.invalid$`;
  return `^${prefixOf(kind)}-${body}$`;
}

export function alreadyPseudonymisedExpr(valueExpr: string, o: Pick<PseudonymExprOptions, 'dialect' | 'kind'>): string {
  return ops(o.dialect, 'public').matches(valueExpr, pseudonymPattern(o.kind));
}

/** Splits `schema.table` and quotes each part for the dialect. */
export function quoteTableName(name: string, dialect: SqlDialect): string {
  const parts = name.split('.');
  if (parts.some((p) => p === '') || parts.length > 3) throw new UsageError(`table "${name}" must be TABLE, SCHEMA.TABLE or DATABASE.SCHEMA.TABLE`);
  if (dialect === 'bigquery') return `\`${parts.map((p) => p.replace(/`/g, '')).join('.')}\``;
  return parts.map(quoteIdent).join('.');
}

export function quoteColumnName(name: string, dialect: SqlDialect): string {
  if (!name) throw new UsageError('column name is empty');
  return dialect === 'bigquery' ? `\`${name.replace(/`/g, '')}\`` : quoteIdent(name);
}

export interface GenerateSqlOptions {
  dialect: SqlDialect;
  kind: SqlPseudonymKind;
  /** With table and column: an UPDATE that pseudonymises the column in place. Without: a SELECT of one bound value. */
  table?: string;
  column?: string;
  pgcryptoSchema?: string;
}

function header(dialect: SqlDialect, kind: SqlPseudonymKind): string[] {
  const lines = [
    `-- clariguard ${kind} pseudonyms, ${dialect} dialect: identical to "clariguard redact" for the same key.`,
    '-- No key material is in this file. The session must supply it before running:',
  ];
  switch (dialect) {
    case 'postgres':
      lines.push(
        `--   ${SESSION_KEY_SETTING} = the key, hex, as a startup option (PGOPTIONS="-c ${SESSION_KEY_SETTING}=…")`,
        '--   so it is never part of a logged statement. Needs pgcrypto (CREATE EXTENSION IF NOT EXISTS pgcrypto).',
        '--   Or let clariguard do it: clariguard warehouse pseudonymize --url … --table … --column … --key …',
      );
      break;
    case 'postgres-sha256':
      lines.push(`--   ${SESSION_IPAD_SETTING} and ${SESSION_OPAD_SETTING} = HMAC inner/outer padded keys, hex, as startup options.`);
      break;
    case 'snowflake':
      lines.push(
        `--   session variables ${SF_IPAD} and ${SF_OPAD} = HMAC inner/outer padded keys, hex: set them as`,
        '--   connection properties ($CLARIGUARD_IPAD …) or with SET … = ? and bound values, never as literals,',
        '--   so they stay out of QUERY_HISTORY.',
      );
      break;
    case 'bigquery':
      lines.push(
        `--   query parameters @${BQ_IPAD} and @${BQ_OPAD} (STRING) = HMAC inner/outer padded keys, hex.`,
        '--   Parameters are kept in the job configuration: restrict bigquery.jobs.get on this project.',
      );
      break;
  }
  lines.push('-- The padded keys are key-equivalent: whoever holds them can compute (not reverse) pseudonyms.');
  return lines;
}

/** The generated SQL for `clariguard warehouse sql`. */
export function generatePseudonymSql(o: GenerateSqlOptions): string {
  if (!SQL_DIALECTS.includes(o.dialect)) throw new UsageError(`unknown dialect "${o.dialect}" (known: ${SQL_DIALECTS.join(', ')})`);
  if (!SQL_KINDS.includes(o.kind)) throw new UsageError(`unknown kind "${o.kind}" (known: ${SQL_KINDS.join(', ')})`);
  if ((o.table === undefined) !== (o.column === undefined)) throw new UsageError('--table and --column go together');
  const lines = header(o.dialect, o.kind);
  if (o.table !== undefined && o.column !== undefined) {
    const t = quoteTableName(o.table, o.dialect);
    const col = quoteColumnName(o.column, o.dialect);
    lines.push(
      `UPDATE ${t}`,
      `SET ${col} = ${pseudonymExpr(col, o)}`,
      `WHERE ${col} IS NOT NULL AND NOT (${alreadyPseudonymisedExpr(col, o)});`,
    );
  } else {
    const param = o.dialect === 'bigquery' ? '@value' : o.dialect === 'snowflake' ? '?' : '$1';
    lines.push(`SELECT ${pseudonymExpr(param, o)} AS pseudonym;`);
  }
  return `${lines.join('\n')}\n`;
}
