import { UsageError } from '../errors.js';
import { SecretValue } from '../secrets/value.js';
import { SandboxServer, type SandboxStats } from './server.js';

export { SandboxServer, type SandboxStats, type SandboxConfig } from './server.js';
export { Org, CSV_COLUMNS, FIELDS, FORECAST_TABS, knownQuarters, quarterOf } from './data.js';

export interface SandboxOptions {
  /** 0 (default) picks a free port. */
  port?: number;
  /** Default 127.0.0.1: the sandbox is for this machine only. */
  host?: string;
  /** The only Revenue API token the sandbox accepts (header `apikey`). */
  token: SecretValue | string;
  /** More tokens accepted as well (Clari tokens are per user; during a rotation old and new both work). */
  tokens?: (SecretValue | string)[];
  /** Copilot credentials (`X-Api-Key`, `X-Api-Password`); both default to the token. */
  copilotKey?: SecretValue | string;
  copilotPassword?: SecretValue | string;
  /** Seed of the synthetic org (default 1). Same seed, same data. */
  seed?: number;
  /** Users in the sales hierarchy (default 50). */
  users?: number;
  /** Fiscal quarters known, ending with the current one (default 8). */
  periods?: number;
  /** Fraction 0..1 of requests answered with an injected 5xx before processing (default 0). */
  failRate?: number;
  /** Requests per second allowed before 429 with Retry-After (default 0 = unlimited). */
  rateLimit?: number;
  /** Milliseconds an export job takes to reach DONE (default 300). */
  slowJobs?: number;
  /** Cut every results download in half and drop the connection (default false). */
  truncateResults?: boolean;
  /** Fraction 0..1 of export jobs that end FAILED (default 0). */
  failJobs?: number;
  /** Answer job status wrapped as {"job":{...}} instead of the bare object (default false). */
  wrapJobStatus?: boolean;
  /** Export quota per rolling 30 days (default 1000) and concurrent job limit (default 3). */
  monthlyQuota?: number;
  concurrentLimit?: number;
  /** Audit events in the 30-day window (default users × 20). */
  auditEvents?: number;
  /** Activities per user per 30 days (default 10). */
  activitiesPerUser?: number;
  /** Copilot calls (default users × 5). */
  copilotCalls?: number;
  /** The sandbox's "today" (default: the real clock); decides the current quarter. */
  now?: Date | (() => Date);
}

export interface SandboxHandle {
  /** Revenue API base URL, including /v4: pass it as --base-url. */
  url: string;
  /** Copilot API base URL. */
  copilotUrl: string;
  port: number;
  /** Request/job counters, for tests (e.g. "resume did not create a second job"). */
  stats(): SandboxStats;
  server: SandboxServer;
  /** Accept another token from now on. */
  addToken(token: SecretValue | string): void;
  /** Stop accepting a token, as revoking it in Clari does. Returns false if it was not accepted. */
  revokeToken(token: SecretValue | string): boolean;
  close(): Promise<void>;
}

function reveal(v: SecretValue | string): string {
  return typeof v === 'string' ? v : v.reveal();
}

function fraction(v: number | undefined, name: string): number {
  const x = v ?? 0;
  if (!(x >= 0 && x <= 1)) throw new UsageError(`sandbox ${name} must be between 0 and 1`);
  return x;
}

function count(v: number | undefined, dflt: number, name: string, min = 0, max = 100_000_000): number {
  const x = v ?? dflt;
  if (!Number.isInteger(x) || x < min || x > max) throw new UsageError(`sandbox ${name} must be an integer between ${min} and ${max}`);
  return x;
}

/** Starts a Clari-compatible server on loopback. Resolves once it is listening. */
export async function startSandbox(options: SandboxOptions): Promise<SandboxHandle> {
  const token = reveal(options.token ?? '');
  if (!token) throw new UsageError('sandbox needs a token to accept');
  if (typeof options.token === 'string') new SecretValue(token); // registers it for masking in this process
  const users = count(options.users, 50, 'users', 1, 10_000_000);
  const nowOpt = options.now;
  const now = typeof nowOpt === 'function' ? nowOpt : nowOpt ? () => nowOpt : () => new Date();
  const extraTokens = (options.tokens ?? []).map((t) => {
    const v = reveal(t);
    if (typeof t === 'string') new SecretValue(v);
    return v;
  });
  const server = new SandboxServer({
    token,
    extraTokens,
    copilotKey: options.copilotKey === undefined ? token : reveal(options.copilotKey),
    copilotPassword: options.copilotPassword === undefined ? token : reveal(options.copilotPassword),
    seed: count(options.seed, 1, 'seed', 0, 2 ** 32 - 1),
    users,
    periods: count(options.periods, 8, 'periods', 1, 400),
    failRate: fraction(options.failRate, 'failRate'),
    rateLimit: count(options.rateLimit, 0, 'rateLimit', 0, 1_000_000),
    slowJobs: count(options.slowJobs, 300, 'slowJobs', 0, 86_400_000),
    truncateResults: options.truncateResults ?? false,
    failJobs: fraction(options.failJobs, 'failJobs'),
    wrapJobStatus: options.wrapJobStatus ?? false,
    monthlyQuota: count(options.monthlyQuota, 1000, 'monthlyQuota'),
    concurrentLimit: count(options.concurrentLimit, 3, 'concurrentLimit'),
    auditEvents: count(options.auditEvents, users * 20, 'auditEvents'),
    activitiesPerUser: count(options.activitiesPerUser, 10, 'activitiesPerUser'),
    copilotCalls: count(options.copilotCalls, Math.min(10_000, users * 5), 'copilotCalls', 0, 10_100),
    now,
    clock: () => Date.now(),
    basePath: '/v4',
    copilotPath: '/copilot',
  });
  const { port, origin } = await server.listen(count(options.port, 0, 'port', 0, 65535), options.host ?? '127.0.0.1');
  return {
    url: `${origin}/v4`,
    copilotUrl: `${origin}/copilot`,
    port,
    stats: () => ({ ...server.stats }),
    server,
    addToken: (t) => server.addToken(reveal(t)),
    revokeToken: (t) => server.revokeToken(reveal(t)),
    close: () => server.close(),
  };
}
