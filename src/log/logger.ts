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

export interface LogSink {
  write(line: string): void;
}

export function maskingDestination(sink: LogSink = { write: (s) => process.stderr.write(s) }): LogSink {
  return { write: (line: string) => sink.write(maskKnownSecrets(line)) };
}

export function createLogger(
  options: { level?: string; sink?: LogSink; name?: string } = {},
): Logger {
  return pino(
    {
      name: options.name ?? 'clariguard',
      level: options.level ?? process.env.CLARIGUARD_LOG_LEVEL ?? 'warn',
      redact: { paths: REDACT_PATHS, censor: '[redacted]' },
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
