import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import type { Writable } from 'node:stream';
import { isIP } from 'node:net';
import { LineCounter, parseDocument, isNode } from 'yaml';
import { z } from 'zod';
import { ClariguardError, InputError, inputFileError } from '../errors.js';
import { runWithSecrets } from '../secrets/inject.js';
import type { SecretValue } from '../secrets/value.js';

const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
// RFC 9110 token characters: what a header field name may contain.
const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
const DURATION = /^(\d+(?:\.\d+)?)(ms|s|m)$/;
/** Default per-consumer timeout. */
export const DEFAULT_CONSUMER_TIMEOUT_MS = 30_000;
/** Environment variables never handed to consumer checks: store credentials and test hooks. */
const WITHHELD_ENV = ['CLARIGUARD_PASSPHRASE', 'CLARIGUARD_ROTATE_CRASH_AFTER'];

const timeoutSchema = z
  .union([
    z.number().positive().max(3600),
    z.string().regex(DURATION, 'a duration such as "30s", "500ms" or "2m"'),
  ])
  .describe('seconds (number) or a duration string: "500ms", "30s", "2m" (default 30s, at most 1 hour)');

const nameSchema = z.string().min(1).max(100).describe('shown in messages and the JSON report');

export const commandConsumerSchema = z
  .strictObject({
    name: nameSchema,
    command: z.array(z.string().min(1)).min(1).describe('argv of the check; it must exit 0. The token is never put here'),
    env: z.string().regex(ENV_NAME, 'an environment variable name').describe('environment variable the pending token is injected as'),
    cwd: z.string().min(1).optional().describe('working directory, relative to the consumers file (default: its directory)'),
    timeout: timeoutSchema.optional(),
  })
  .describe('a command run with the pending token in its environment, as `clariguard run` does');

export const urlConsumerSchema = z
  .strictObject({
    name: nameSchema,
    url: z.url({ protocol: /^https?$/ }).describe('health URL; plain http only to loopback hosts'),
    header: z.string().regex(HEADER_NAME, 'an HTTP header name').optional().describe('header carrying the pending token (default "apikey", as Clari)'),
    method: z.enum(['GET', 'HEAD', 'POST']).optional().describe('default GET'),
    expectStatus: z.number().int().min(100).max(599).optional().describe('required status (default: any 2xx)'),
    timeout: timeoutSchema.optional(),
  })
  .describe('an HTTP health check that receives the pending token in a header; redirects count as failure');

export const consumersFileSchema = z
  .strictObject({
    consumers: z.array(z.union([commandConsumerSchema, urlConsumerSchema])).min(1),
  })
  .describe('clariguard rotate consumers file: the checks run with the pending token before it is promoted');

export type CommandConsumer = z.infer<typeof commandConsumerSchema>;
export type UrlConsumer = z.infer<typeof urlConsumerSchema>;

/** A validated consumer check, with its timeout in ms and paths resolved. */
export type ConsumerCheck =
  | (Omit<CommandConsumer, 'timeout'> & { kind: 'command'; timeoutMs: number; cwd: string })
  | (Omit<UrlConsumer, 'timeout'> & { kind: 'url'; timeoutMs: number; header: string; method: 'GET' | 'HEAD' | 'POST' });

export interface ConsumerResult {
  name: string;
  kind: 'command' | 'url';
  ok: boolean;
  /** One line: exit code, HTTP status or the reason. Never contains the token. */
  detail: string;
  durationMs: number;
}

/** The JSON Schema of consumers.yml (also committed as schemas/consumers.schema.json). */
export function consumersJsonSchema(): Record<string, unknown> {
  return {
    $id: 'https://clariguard.dev/schemas/consumers.schema.json',
    title: 'clariguard rotate consumers',
    ...(z.toJSONSchema(consumersFileSchema, { target: 'draft-2020-12' }) as Record<string, unknown>),
  };
}

function durationMs(t: number | string | undefined): number {
  if (t === undefined) return DEFAULT_CONSUMER_TIMEOUT_MS;
  if (typeof t === 'number') return Math.round(t * 1000);
  const m = DURATION.exec(t)!;
  const n = Number(m[1]);
  return Math.round(m[2] === 'ms' ? n : m[2] === 's' ? n * 1000 : n * 60_000);
}

function isLoopbackHost(hostname: string): boolean {
  const h = hostname.replace(/^\[|\]$/g, '');
  if (h === 'localhost' || h.endsWith('.localhost')) return true;
  if (isIP(h) === 4) return h.startsWith('127.');
  return h === '::1';
}

/**
 * Parses and validates a consumers file. Errors name the file and the line/column of the offending
 * entry (exit 65); a missing file is exit 66.
 */
export function loadConsumers(file: string): ConsumerCheck[] {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    // Missing is "not found" (66), unreadable is 77, as for every other input file.
    throw inputFileError(file, e, 'cannot read consumers file');
  }
  return parseConsumers(text, file);
}

export function parseConsumers(text: string, file: string): ConsumerCheck[] {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: true });
  if (doc.errors.length > 0) {
    const err = doc.errors[0];
    const pos = lines.linePos(err.pos[0]);
    throw new InputError(file, `not valid YAML: ${err.code.toLowerCase().replace(/_/g, ' ')}`, { line: pos.line, column: pos.col, offset: err.pos[0] });
  }
  const where = (path: PropertyKey[]): { line?: number; column?: number; offset?: number } => {
    // Walk up to the deepest node that exists, so a missing key points at its parent entry.
    for (let n = path.length; n >= 0; n--) {
      const node = n === 0 ? doc.contents : doc.getIn(path.slice(0, n) as (string | number)[], true);
      if (isNode(node) && node.range) {
        const p = lines.linePos(node.range[0]);
        return { line: p.line, column: p.col, offset: node.range[0] };
      }
    }
    return {};
  };
  const data: unknown = doc.toJS();
  const top = z.strictObject({ consumers: z.array(z.unknown()).min(1) }).safeParse(data);
  if (!top.success) {
    const issue = top.error.issues[0];
    const msg = data === null || typeof data !== 'object' || Array.isArray(data) ? 'expected a mapping with a "consumers" list' : describeIssue(issue);
    throw new InputError(file, msg, where(issue.path));
  }
  const dir = dirname(resolve(file));
  const checks: ConsumerCheck[] = [];
  const names = new Set<string>();
  top.data.consumers.forEach((entry, i) => {
    const base = ['consumers', i];
    const isObj = entry !== null && typeof entry === 'object' && !Array.isArray(entry);
    const hasCommand = isObj && 'command' in entry;
    const hasUrl = isObj && 'url' in entry;
    if (!isObj || hasCommand === hasUrl) {
      throw new InputError(file, `consumers[${i}]: give either "command" (with "env") or "url", not ${hasCommand ? 'both' : 'neither'}`, where(base));
    }
    const parsed = (hasCommand ? commandConsumerSchema : urlConsumerSchema).safeParse(entry);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      throw new InputError(file, `consumers[${i}]${issue.path.map((p) => `.${String(p)}`).join('')}: ${describeIssue(issue)}`, where([...base, ...issue.path]));
    }
    const c = parsed.data;
    if (names.has(c.name)) throw new InputError(file, `consumers[${i}]: duplicate name "${c.name}"`, where([...base, 'name']));
    names.add(c.name);
    if ('command' in c) {
      checks.push({ kind: 'command', name: c.name, command: c.command, env: c.env, cwd: resolve(dir, c.cwd ?? '.'), timeoutMs: durationMs(c.timeout) });
    } else {
      const u = new URL(c.url);
      if (u.protocol === 'http:' && !isLoopbackHost(u.hostname)) {
        throw new InputError(file, `consumers[${i}].url: plain http would send the token in clear; use https (http is allowed for loopback only)`, where([...base, 'url']));
      }
      if (u.username || u.password) throw new InputError(file, `consumers[${i}].url: credentials in the URL are not allowed`, where([...base, 'url']));
      checks.push({
        kind: 'url',
        name: c.name,
        url: c.url,
        header: c.header ?? 'apikey',
        method: c.method ?? 'GET',
        ...(c.expectStatus !== undefined ? { expectStatus: c.expectStatus } : {}),
        timeoutMs: durationMs(c.timeout),
      });
    }
  });
  return checks;
}

function describeIssue(issue: z.core.$ZodIssue): string {
  if (issue.code === 'unrecognized_keys') return `unknown key${issue.keys.length > 1 ? 's' : ''} ${issue.keys.map((k) => `"${k}"`).join(', ')}`;
  if (issue.code === 'invalid_type' && issue.input === undefined) return `"${String(issue.path[issue.path.length - 1] ?? 'value')}" is required`;
  return issue.message;
}

export interface ConsumerRunOptions {
  /** Where command checks' (masked) output goes; default process.stderr. */
  output?: Writable;
  /** Base environment of command checks (default process.env, minus store credentials). */
  baseEnv?: Readonly<Record<string, string | undefined>>;
}

/** Runs one consumer check with `token` injected. Never throws for a failing check; returns ok=false. */
export async function runConsumerCheck(check: ConsumerCheck, token: SecretValue, o: ConsumerRunOptions = {}): Promise<ConsumerResult> {
  const started = Date.now();
  const done = (ok: boolean, detail: string): ConsumerResult => ({ name: check.name, kind: check.kind, ok, detail, durationMs: Date.now() - started });
  if (check.kind === 'command') {
    // A token pasted into consumers.yml would show in every process listing.
    if (check.command.some((a) => a.includes(token.reveal()))) return done(false, 'the token appears in the command line; pass it through "env" only');
    const baseEnv: Record<string, string | undefined> = { ...(o.baseEnv ?? process.env) };
    for (const k of WITHHELD_ENV) delete baseEnv[k];
    try {
      const r = await runWithSecrets({
        secrets: {},
        values: { [check.env]: token },
        command: check.command[0],
        args: check.command.slice(1),
        cwd: check.cwd,
        stdin: 'ignore',
        stdout: o.output ?? process.stderr,
        stderr: o.output ?? process.stderr,
        baseEnv,
        env: baseEnv,
        timeoutMs: check.timeoutMs,
        // Our masker already covers the check's output; runner mask lines would corrupt --json on stdout.
        githubActionsMask: false,
      });
      if (r.timedOut) return done(false, `timed out after ${check.timeoutMs} ms`);
      if (r.signal) return done(false, `killed by ${r.signal}`);
      return r.exitCode === 0 ? done(true, 'exit 0') : done(false, `exit ${r.exitCode}`);
    } catch (e) {
      return done(false, e instanceof ClariguardError ? e.message : 'could not start the command');
    }
  }
  try {
    const res = await fetch(check.url, {
      method: check.method,
      headers: { [check.header]: token.reveal() },
      // A redirect could carry the token to another host: never follow one.
      redirect: 'manual',
      signal: AbortSignal.timeout(check.timeoutMs),
    });
    await res.body?.cancel().catch(() => undefined);
    const ok = check.expectStatus !== undefined ? res.status === check.expectStatus : res.status >= 200 && res.status < 300;
    return done(ok, `HTTP ${res.status}${ok ? '' : check.expectStatus !== undefined ? ` (expected ${check.expectStatus})` : ' (expected 2xx)'}`);
  } catch (e) {
    const err = e as Error & { cause?: { code?: string } };
    if (err.name === 'TimeoutError' || err.name === 'AbortError') return done(false, `timed out after ${check.timeoutMs} ms`);
    return done(false, `request failed: ${err.cause?.code ?? err.name ?? 'error'}`);
  }
}
