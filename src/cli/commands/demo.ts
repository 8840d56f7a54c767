import { InvalidArgumentError } from 'commander';
import type { CliContext } from '../context.js';
import { runDemo } from '../../demo/index.js';

export function registerDemoCommand({ program, setExitCode }: CliContext): void {
  program
    .command('demo')
    .description('run the main job end to end on embedded defaults (what `npm start` runs)')
    .option('--keep', 'keep the throwaway directory (store, demo project, export, warehouse) for inspection')
    .option('--users <n>', 'users in the synthetic Clari org', usersArg, 60)
    .option('--json', 'print the report as JSON on stdout')
    .action(async (opts: { keep?: boolean; users: number; json?: boolean }) => {
      const report = await runDemo({ keep: opts.keep, users: opts.users });
      if (opts.json) process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
      setExitCode(report.steps.every((s) => s.ok) ? 0 : 1);
    });
}

// Checked while parsing: a bad value is a one-line usage error before the demo prints its banner.
function usersArg(v: string): number {
  const n = Number(v);
  if (!/^\d+$/.test(v) || n < 1 || n > 10_000_000) throw new InvalidArgumentError('Expected an integer from 1 to 10000000.');
  return n;
}
