import { pino, type Logger } from 'pino';
import { maskKnownSecrets } from '../masking/registry.js';

/**
 * The one logger. Two layers keep secrets out of logs: pino's path redaction for fields that hold
 * credentials by name, and a destination that masks every secret value this process has read (in every
 * encoded form) whatever field it ended up in.
 */
const REDACT_PATHS = [
  'apikey',
  'apiKey',
  'token',
  'password',
  'secret',
  'authorization',
  '*.apikey',
  '*.apiKey',
  '*.token',
  '*.password',
  '*.secret',
  '*.authorization',
  'headers.apikey',
  'headers.authorization',
  'headers["x-api-key"]',
  'headers["x-api-password"]',
  '*.headers.apikey',
  '*.headers.authorization',
  '*.headers["x-api-key"]',
  '*.headers["x-api-password"]',
];

/** Field names that hold credentials, at any depth and in any case (pino's paths above are exact and shallow). */
const CREDENTIAL_NAME = /(?:pass(?:word|wd|phrase)?|pwd|secret|token|api[-_]?key|authorization|cookie|credentials?|private[-_]?key)$/i;
/** `scheme://user:PASSWORD@host`: the password part of a connection URL anywhere in a line. */
const URL_PASSWORD = /([a-z][a-z0-9+.-]*:\/\/[^\s:@/"'\\]*:)[^\s@/"'\\]+@/gi;

function censorByName(value: unknown, depth: number, seen: WeakSet<object>): unknown {
  if (depth > 10 || value === null || typeof value !== 'object' || seen.has(value)) return value;
  const proto = Object.getPrototypeOf(value);
  // Errors, SecretValues and other class instances keep their own serialisation.
  if (!Array.isArray(value) && proto !== Object.prototype && proto !== null) return value;
  seen.add(value);
  if (Array.isArray(value)) return value.map((v) => censorByName(v, depth + 1, seen));
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) {
    out[k] = CREDENTIAL_NAME.test(k) && v !== null && v !== undefined && typeof v !== 'object' ? '[redacted]' : censorByName(v, depth + 1, seen);
  }
  return out;
}

export interface LogSink {
  write(line: string): void;
}

export function maskingDestination(sink: LogSink = { write: (s) => process.stderr.write(s) }): LogSink {
  return { write: (line: string) => sink.write(maskKnownSecrets(line).replace(URL_PASSWORD, '$1[redacted]@')) };
}

export function createLogger(
  options: { level?: string; sink?: LogSink; name?: string } = {},
): Logger {
  return pino(
    {
      name: options.name ?? 'clariguard',
      level: options.level ?? process.env.CLARIGUARD_LOG_LEVEL ?? 'warn',
      redact: { paths: REDACT_PATHS, censor: '[redacted]' },
      formatters: { log: (obj) => censorByName(obj, 0, new WeakSet()) as Record<string, unknown> },
      base: undefined,
      timestamp: pino.stdTimeFunctions.isoTime,
    },
    maskingDestination(options.sink),
  );
}

let root: Logger | undefined;
/** The process logger (stderr, level from CLARIGUARD_LOG_LEVEL, default warn). */
export function logger(): Logger {
  root ??= createLogger();
  return root;
}

export type { Logger };
