import type { Command } from 'commander';

/** What each command module gets: the program to attach to, and a way to set the exit code. */
export interface CliContext {
  program: Command;
  setExitCode(code: number): void;
}

export type RegisterCommand = (ctx: CliContext) => void;

/** Collects repeatable options (`--env A=x --env B=y`). */
export function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}
