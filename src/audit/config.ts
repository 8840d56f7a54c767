import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { parse as parseCsv } from 'csv-parse/sync';
import { LineCounter, isNode, parseDocument } from 'yaml';
import { z } from 'zod';
import { ClariguardError, ConfigError, ExitCode, InputError } from '../errors.js';
import { KNOWN_SCHEMES, parseSecretRef } from '../secrets/ref.js';

/** Default config file names, looked up in the working directory when --config is not given. */
export const CONFIG_FILE_NAMES = ['clariguard.yml', 'clariguard.yaml'] as const;

const secretRef = (what: string) =>
  z
    .string()
    .min(1)
    .regex(/^[a-z][a-z0-9-]*:/, { message: `${what} must be a secret reference such as env:NAME, local:NAME or aws-sm://NAME` })
    .superRefine((value, ctx) => {
      // A literal postgres:// URL (with its password) in a committed config is exactly what the audit exists to prevent.
      if (/^postgres(ql)?:/i.test(value)) {
        ctx.addIssue({ code: 'custom', message: `${what} must be a secret reference (env:, local:, aws-sm://, …), not a literal connection URL` });
        return;
      }
      try {
        parseSecretRef(value);
      } catch (e) {
        ctx.addIssue({ code: 'custom', message: e instanceof Error ? e.message : `not a secret reference (known: ${KNOWN_SCHEMES.join(', ')})` });
      }
    });

const environment = z.enum(['production', 'non-production']);
const roleName = z.string().min(1).max(63);

export const WarehouseSchema = z.strictObject({
  name: z.string().min(1).describe('A label for reports.'),
  url: secretRef('url').describe('Secret reference to a postgres:// connection URL, e.g. env:WAREHOUSE_URL.'),
  environment: environment.describe('production warehouses hold real data; non-production ones must hold only redacted data.'),
  schema: z.string().min(1).default('clari').describe('The schema the Clari data lives in.'),
  readers: z.array(roleName).default([]).describe('Roles allowed to SELECT (directly or through membership).'),
});

export const AuditConfigSchema = z
  .strictObject({
    token: secretRef('token').optional().describe('Secret reference of the Clari API token, e.g. aws-sm://clari/prod/api-token?region=us-east-1.'),
    environment: environment
      .default('production')
      .describe('Where the token is used. env: token references are a failure in production and a warning otherwise.'),
    maxTokenAgeDays: z.number().int().positive().max(3650).default(90).describe('Rotate the token at least this often.'),
    repos: z.array(z.string().min(1)).default(['.']).describe('Git repositories to scan (relative to this file).'),
    exportPaths: z.array(z.string().min(1)).default([]).describe('The only places exported Clari files may live.'),
    logPaths: z.array(z.string().min(1)).default([]).describe('Log files or directories searched for signed download URLs.'),
    cachePaths: z.array(z.string().min(1)).default([]).describe('Cache directories searched for signed download URLs.'),
    warehouses: z.array(WarehouseSchema).default([]),
    roster: z.string().min(1).optional().describe('CSV with columns name,email,hasTokenAccess,leftOn.'),
    allowedTokenReaders: z
      .array(z.string().min(1))
      .default([])
      .describe('Principals allowed to read the token (AWS ARNs, uid:N); "*" in an entry matches any run of characters.'),
    sampleRows: z.number().int().positive().max(100_000).default(200).describe('Rows sampled per table for the PII check.'),
  })
  .superRefine((cfg, ctx) => {
    const seen = new Set<string>();
    cfg.warehouses.forEach((w, i) => {
      if (seen.has(w.name)) ctx.addIssue({ code: 'custom', path: ['warehouses', i, 'name'], message: `duplicate warehouse name "${w.name}"` });
      seen.add(w.name);
    });
  });

export type AuditConfig = z.output<typeof AuditConfigSchema>;
export type AuditConfigInput = z.input<typeof AuditConfigSchema>;
export type WarehouseConfig = z.output<typeof WarehouseSchema>;

/** The JSON schema for clariguard.yml (published as schemas/clariguard-config.schema.json). */
export function auditConfigJsonSchema(): Record<string, unknown> {
  const schema = z.toJSONSchema(AuditConfigSchema, { io: 'input', target: 'draft-2020-12' }) as Record<string, unknown>;
  return {
    $schema: schema.$schema,
    $id: 'https://raw.githubusercontent.com/clariguard/clariguard/main/schemas/clariguard-config.schema.json',
    title: 'clariguard.yml',
    description: 'Configuration of `clariguard audit`. See docs/audit.md.',
    ...Object.fromEntries(Object.entries(schema).filter(([k]) => k !== '$schema')),
  };
}

/** `warehouses[0].url` from a zod path. */
export function formatPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const seg of path) {
    if (typeof seg === 'number') out += `[${seg}]`;
    else out += out ? `.${String(seg)}` : String(seg);
  }
  return out || '(top level)';
}

/** Validates a config object; `file` and `text` only sharpen the error message (line numbers). */
export function validateAuditConfig(input: unknown, file = 'config', text?: string): AuditConfig {
  const r = AuditConfigSchema.safeParse(input ?? {});
  if (r.success) return r.data;
  const issue = r.error.issues[0];
  let path: PropertyKey[] = [...issue.path];
  if (issue.code === 'unrecognized_keys' && issue.keys.length) path = [...path, issue.keys[0]];
  const line = text !== undefined ? lineOf(text, path) : undefined;
  const message = issue.code === 'unrecognized_keys' ? 'unknown setting' : issue.message;
  throw new ConfigError(`${file}${line ? ` (line ${line})` : ''}: ${formatPath(path)}: ${message}`);
}

function lineOf(text: string, path: PropertyKey[]): number | undefined {
  const lc = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lc });
  // The deepest node of the path that exists: a missing field points at its parent.
  for (let n = path.length; n >= 0; n--) {
    const node = n === 0 ? doc.contents : doc.getIn(path.slice(0, n) as (string | number)[], true);
    if (isNode(node) && node.range) return lc.linePos(node.range[0]).line;
  }
  return undefined;
}

/** Line of a top-level key in the config text (for SARIF locations), or undefined. */
export function topLevelKeyLine(text: string, key: string): number | undefined {
  const m = new RegExp(`^${key.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\s*:`, 'm').exec(text);
  return m ? text.slice(0, m.index).split('\n').length : undefined;
}

export interface LoadedConfig {
  config: AuditConfig;
  path: string;
  text: string;
}

/** Reads and validates a clariguard.yml. Exit 66 when missing, 78 when invalid (one line: file and field path). */
export function loadAuditConfig(file: string, cwd = process.cwd()): LoadedConfig {
  const path = resolve(cwd, file);
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new ClariguardError(`${file}: ${code === 'ENOENT' ? 'no such config file' : `cannot read the config file (${code ?? 'error'})`}`, {
      exitCode: code === 'ENOENT' ? ExitCode.noInput : ExitCode.config,
      code: 'config',
    });
  }
  const doc = parseDocument(text, { prettyErrors: false, uniqueKeys: true });
  if (doc.errors.length) {
    const err = doc.errors[0];
    const line = err.linePos?.[0]?.line;
    throw new ConfigError(`${file}${line ? ` (line ${line})` : ''}: not valid YAML: ${err.message.split('\n')[0]}`);
  }
  return { config: validateAuditConfig(doc.toJS(), file, text), path, text };
}

// ---- roster ------------------------------------------------------------------------------------

export interface RosterMember {
  name: string;
  email: string;
  hasTokenAccess: boolean;
  /** YYYY-MM-DD, or null while still here. */
  leftOn: string | null;
  /** 1-based line in the CSV (for messages). */
  line: number;
}

const TRUE = new Set(['true', 'yes', 'y', '1', 'x']);
const FALSE = new Set(['false', 'no', 'n', '0', '']);

/** Parses the roster CSV (name,email,hasTokenAccess,leftOn). Bad rows are exit 65 naming the file and line. */
export function parseRoster(text: string, file: string): RosterMember[] {
  let rows: { record: Record<string, string>; info: { lines: number } }[];
  try {
    rows = parseCsv(text, { columns: (h: string[]) => h.map((c) => c.trim()), bom: true, skip_empty_lines: true, trim: true, info: true }) as never;
  } catch (e) {
    const err = e as { lines?: number; message?: string; code?: string };
    throw new InputError(file, `not valid CSV (${err.code ?? 'parse error'})`, { line: err.lines });
  }
  const header = text.replace(/^\uFEFF/, '').split(/\r?\n/, 1)[0].split(',').map((c) => c.trim().replace(/^"|"$/g, ''));
  for (const col of ['name', 'email', 'hasTokenAccess', 'leftOn']) {
    if (!header.includes(col)) throw new InputError(file, `missing column "${col}" (expected name,email,hasTokenAccess,leftOn)`, { line: 1 });
  }
  return rows.map(({ record, info }) => {
    const line = info.lines;
    const access = (record.hasTokenAccess ?? '').toLowerCase();
    if (!TRUE.has(access) && !FALSE.has(access)) throw new InputError(file, `hasTokenAccess must be true or false`, { line });
    const leftOn = record.leftOn || null;
    if (leftOn !== null && (!/^\d{4}-\d{2}-\d{2}$/.test(leftOn) || Number.isNaN(Date.parse(`${leftOn}T00:00:00Z`)))) {
      throw new InputError(file, `leftOn must be a date YYYY-MM-DD or empty`, { line });
    }
    const email = record.email ?? '';
    if (email && !/^[^@\s]+@[^@\s]+$/.test(email)) throw new InputError(file, `email is not an email address`, { line });
    if (!record.name && !email) throw new InputError(file, `a row needs a name or an email`, { line });
    return { name: record.name ?? '', email, hasTokenAccess: TRUE.has(access), leftOn, line };
  });
}

export function loadRoster(path: string, shownAs: string): RosterMember[] {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new ClariguardError(`${shownAs}: cannot read the roster (${code === 'ENOENT' ? 'no such file' : code ?? 'error'})`, {
      exitCode: code === 'ENOENT' ? ExitCode.noInput : ExitCode.ioError,
      code: 'roster',
    });
  }
  return parseRoster(text, shownAs);
}

export function configBaseDir(configPath: string): string {
  return configPath ? dirname(configPath) : process.cwd();
}
