import type { CliContext } from '../context.js';
import { runDemo } from '../../demo/index.js';

export function registerDemoCommand({ program, setExitCode }: CliContext): void {
  program
    .command('demo')
    .description('run the main job end to end on embedded defaults (what `npm start` runs)')
    .option('--json', 'print the report as JSON')
    .action(async (opts: { json?: boolean }) => {
      const report = await runDemo();
      if (opts.json) process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
      setExitCode(report.steps.every((s) => s.ok) ? 0 : 1);
    });
}
