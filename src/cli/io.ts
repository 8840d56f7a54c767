import { maskKnownSecrets } from '../masking/registry.js';

/** stdout is for data, stderr for messages; every message is masked against known secrets. */
export function writeOut(text: string): void {
  process.stdout.write(text.endsWith('\n') ? text : `${text}\n`);
}

export function writeJson(value: unknown): void {
  process.stdout.write(`${maskKnownSecrets(JSON.stringify(value, null, 2))}\n`);
}

export function say(message: string): void {
  process.stderr.write(`${maskKnownSecrets(message)}\n`);
}

export function warn(message: string): void {
  process.stderr.write(`clariguard: warning: ${maskKnownSecrets(message)}\n`);
}

/** True when progress output makes sense: stderr is a terminal and we are not in CI. */
export function progressEnabled(): boolean {
  // CI=false / CI=0 (set to switch CI mode off) is not CI.
  const ci = process.env.CI;
  return Boolean(process.stderr.isTTY) && (!ci || ci === 'false' || ci === '0');
}
