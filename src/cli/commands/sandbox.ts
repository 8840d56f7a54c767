import { UsageError } from '../../errors.js';
import { readSecret, SecretValue } from '../../secrets/index.js';
import { startSandbox } from '../../sandbox/index.js';
import { collect, type CliContext } from '../context.js';
import { say, writeJson, writeOut } from '../io.js';
import { readSecretInput } from '../stdin.js';

interface SandboxFlags {
  port: string;
  host: string;
  tokenRef?: string;
  alsoAccept: string[];
  seed: string;
  users: string;
  periods: string;
  failRate: string;
  rateLimit: string;
  slowJobs: string;
  truncateResults?: boolean;
  failJobs: string;
  wrapJobStatus?: boolean;
  monthlyQuota: string;
  concurrentLimit: string;
  json?: boolean;
}

function int(v: string, flag: string): number {
  if (!/^\d+$/.test(v)) throw new UsageError(`${flag} must be a non-negative integer`);
  return Number(v);
}
function frac(v: string, flag: string): number {
  const x = Number(v);
  if (!/^\d*\.?\d+$/.test(v) || !(x >= 0 && x <= 1)) throw new UsageError(`${flag} must be a number between 0 and 1`);
  return x;
}

export function registerSandboxCommand({ program }: CliContext): void {
  program
    .command('sandbox')
    .description('run a local Clari-compatible API with synthetic data and fault injection (like stripe-mock)')
    .option('--port <port>', 'port to listen on; 0 picks a free one (the URL is printed on stdout)', '0')
    .option('--host <host>', 'interface to bind', '127.0.0.1')
    .option('--token-ref <ref>', 'secret reference of the only token the sandbox accepts (else read from stdin)')
    .option('--also-accept <ref>', 'secret reference of another token to accept, e.g. the new one during a rotation (repeatable)', collect, [])
    .option('--seed <n>', 'seed of the synthetic org: same seed, same data', '1')
    .option('--users <n>', 'users in the sales hierarchy', '50')
    .option('--periods <n>', 'fiscal quarters known, ending with the current one', '8')
    .option('--fail-rate <f>', 'fraction of requests answered with an injected 5xx', '0')
    .option('--rate-limit <n>', 'requests per second before 429 + Retry-After (0 = unlimited)', '0')
    .option('--slow-jobs <ms>', 'how long an export job takes to finish', '300')
    .option('--truncate-results', 'cut every results download short and drop the connection')
    .option('--fail-jobs <f>', 'fraction of export jobs that end FAILED', '0')
    .option('--wrap-job-status', 'answer job status as {"job":{...}} instead of the bare object')
    .option('--monthly-quota <n>', 'export jobs allowed per rolling 30 days', '1000')
    .option('--concurrent-limit <n>', 'export jobs allowed at once', '3')
    .option('--json', 'print {url, copilotUrl, port} as JSON instead of the URL')
    .addHelpText(
      'after',
      '\nThe Revenue API is served under /v4, Copilot under /copilot. Example:\n  clariguard sandbox --token-ref local:clari/sandbox/token --users 200 --port 0\n  clariguard export forecast net_arr --period 2026_Q3 --token local:clari/sandbox/token --base-url http://127.0.0.1:PORT/v4 --out q3.json\n',
    )
    .action(async (f: SandboxFlags) => {
      // Option values first: a typo is a usage error at once, not after the token prompt or a read of stdin.
      const port = int(f.port, '--port');
      if (port > 65535) throw new UsageError('--port must be 0..65535');
      const numbers = {
        seed: int(f.seed, '--seed'),
        users: int(f.users, '--users'),
        periods: int(f.periods, '--periods'),
        failRate: frac(f.failRate, '--fail-rate'),
        rateLimit: int(f.rateLimit, '--rate-limit'),
        slowJobs: int(f.slowJobs, '--slow-jobs'),
        truncateResults: f.truncateResults,
        failJobs: frac(f.failJobs, '--fail-jobs'),
        wrapJobStatus: f.wrapJobStatus,
        monthlyQuota: int(f.monthlyQuota, '--monthly-quota'),
        concurrentLimit: int(f.concurrentLimit, '--concurrent-limit'),
      };
      const token = f.tokenRef
        ? await readSecret(f.tokenRef)
        : new SecretValue(await readSecretInput({ prompt: 'Token the sandbox should accept: ', confirm: false }));
      const tokens = await Promise.all(f.alsoAccept.map((ref) => readSecret(ref)));
      const sb = await startSandbox({
        port,
        host: f.host,
        token,
        tokens,
        ...numbers,
      });
      if (f.json) writeJson({ url: sb.url, copilotUrl: sb.copilotUrl, port: sb.port });
      else writeOut(sb.url);
      say(`clari sandbox listening on ${sb.url} (Copilot: ${sb.copilotUrl}); seed ${f.seed}, ${f.users} users; Ctrl-C to stop`);
      await new Promise<void>((resolve) => {
        const stop = (): void => {
          process.off('SIGINT', stop);
          process.off('SIGTERM', stop);
          void sb.close().then(resolve);
        };
        process.once('SIGINT', stop);
        process.once('SIGTERM', stop);
      });
      const s = sb.stats();
      say(`sandbox stopped: ${s.requests} requests, ${s.jobsCreated} jobs, ${s.downloads} downloads`);
    });
}
