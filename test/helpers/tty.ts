import { spawn } from 'node:child_process';
import { BIN } from './cli.js';

/**
 * Runs the CLI on a pseudo-terminal (util-linux `script`), typing the next answer each time the screen shows
 * one more match of `prompts`. Resolves with the exit code and everything the terminal showed.
 */
export function runCliOnTty(
  args: string[],
  env: Record<string, string | undefined>,
  answers: string[],
  prompts: RegExp,
  options: { cwd?: string } = {},
): Promise<{ code: number | null; screen: string }> {
  const global = new RegExp(prompts.source, prompts.flags.includes('g') ? prompts.flags : `${prompts.flags}g`);
  return new Promise((resolve) => {
    const cmd = [process.execPath, BIN, ...args].map((a) => `'${a.replace(/'/g, `'\\''`)}'`).join(' ');
    const p = spawn('script', ['-qfec', cmd, '/dev/null'], { env: env as NodeJS.ProcessEnv, stdio: ['pipe', 'pipe', 'pipe'], cwd: options.cwd });
    let screen = '';
    let next = 0;
    const onData = (d: Buffer) => {
      screen += d.toString();
      const seen = (screen.match(global) ?? []).length;
      while (next < answers.length && next < seen) p.stdin!.write(`${answers[next++]}\r`);
    };
    p.stdout!.on('data', onData);
    p.stderr!.on('data', onData);
    p.on('close', (code) => {
      p.stdin!.end();
      resolve({ code, screen });
    });
  });
}
