import { UsageError } from '../../errors.js';
import { parseEnvMappings, runWithSecrets } from '../../secrets/inject.js';
import { collect, type CliContext } from '../context.js';

export function registerRunCommand({ program, setExitCode }: CliContext): void {
  program
    .command('run')
    .description('run a command with secrets in its environment only, masking them in its output')
    .option('-e, --env <NAME=REF>', 'inject secret REF as environment variable NAME (repeatable)', collect, [])
    .option('--no-github-mask', 'do not register values with the GitHub Actions mask')
    .argument('<command...>', 'the command and its arguments, after --')
    .passThroughOptions()
    .addHelpText('after', '\nExample:\n  clariguard run --env CLARI_API_KEY=local:clari/prod/api-token -- python extract.py\n')
    .action(async (command: string[], opts: { env: string[]; githubMask: boolean }) => {
      if (opts.env.length === 0) throw new UsageError('run: give at least one --env NAME=REF');
      const [cmd, ...args] = command;
      const result = await runWithSecrets({
        secrets: parseEnvMappings(opts.env),
        command: cmd,
        args,
        githubActionsMask: opts.githubMask === false ? false : undefined,
      });
      if (result.signal) {
        // Die the way the child died, so shells and CI see the same signal.
        process.removeAllListeners(result.signal);
        process.kill(process.pid, result.signal);
        await new Promise((r) => setTimeout(r, 1000));
      }
      setExitCode(result.exitCode);
    });
}
