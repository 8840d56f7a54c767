import { homedir } from 'node:os';
import { join, resolve } from 'node:path';

/** `$CLARIGUARD_HOME`, else `$XDG_CONFIG_HOME/clariguard`, else `~/.config/clariguard`. */
export function clariguardHome(env: Readonly<Record<string, string | undefined>> = process.env): string {
  if (env.CLARIGUARD_HOME) return resolve(env.CLARIGUARD_HOME);
  const xdg = env.XDG_CONFIG_HOME || join(env.HOME || homedir(), '.config');
  return resolve(xdg, 'clariguard');
}
