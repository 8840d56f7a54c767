import type { Command } from 'commander';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { progressEnabled } from '../../src/cli/io.js';
import { buildProgram, main } from '../../src/cli/main.js';
import { isolatedEnv, runCli, tempDir } from '../helpers/cli.js';

// The CLI conventions every command and subcommand must follow, checked over the whole command tree (so a new
// command is covered without touching this file): --help exits 0 on stdout; commander's own usage errors
// (unknown option, missing argument or required option, bad choice, missing or unknown subcommand) exit 2 with
// exactly one `clariguard: …` line on stderr and nothing on stdout. In-process for speed; a few spawned runs
// below confirm the real process behaves the same.

interface Entry {
  path: string[];
  cmd: Command;
}

function walk(cmd: Command, path: string[] = []): Entry[] {
  return cmd.commands.flatMap((c) => [{ path: [...path, c.name()], cmd: c }, ...walk(c, [...path, c.name()])]);
}

async function runInProcess(argv: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const out = vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
    stdout += String(chunk);
    return true;
  });
  const err = vi.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => {
    stderr += String(chunk);
    return true;
  });
  try {
    const code = await main(argv);
    return { code, stdout, stderr };
  } finally {
    out.mockRestore();
    err.mockRestore();
  }
}

function expectOneLineUsageError(r: { code: number; stdout: string; stderr: string }): void {
  expect(r.code, r.stderr).toBe(2);
  expect(r.stdout).toBe('');
  expect(r.stderr).toMatch(/^clariguard: [^\n]+\n$/);
  expect(r.stderr).not.toMatch(/\bat .*\.[jt]s:\d+/);
}

const entries = walk(await buildProgram(() => {}, []));
const groups = entries.filter((e) => e.cmd.commands.length > 0);
const leaves = entries.filter((e) => e.cmd.commands.length === 0);
const needsInput = leaves.filter((e) => e.cmd.registeredArguments.some((a) => a.required) || e.cmd.options.some((o) => o.mandatory));
const choices = leaves.flatMap((e) => e.cmd.options.filter((o) => o.argChoices).map((o) => ({ ...e, flag: o.long! })));

describe('CLI conventions over every command', () => {
  it('finds the whole command tree', () => {
    expect(entries.length).toBeGreaterThanOrEqual(25);
    expect(groups.map((g) => g.path.join(' '))).toEqual(expect.arrayContaining(['secret', 'export', 'warehouse']));
  });

  it.each(entries.map((e) => [e.path.join(' '), e.path] as const))('%s --help: exit 0, usage on stdout only', async (_n, path) => {
    const r = await runInProcess([...path, '--help']);
    expect(r.code).toBe(0);
    expect(r.stderr).toBe('');
    expect(r.stdout).toMatch(new RegExp(`^Usage: clariguard ${path.join(' ')} `));
  });

  it.each(entries.map((e) => [e.path.join(' '), e.path] as const))('%s --no-such-option: exit 2, one line', async (_n, path) => {
    expectOneLineUsageError(await runInProcess([...path, '--no-such-option']));
  });

  it.each(groups.map((e) => [e.path.join(' '), e.path] as const))('%s without a subcommand: exit 2, one line', async (_n, path) => {
    const r = await runInProcess(path);
    expectOneLineUsageError(r);
    expect(r.stderr).toContain('missing command');
  });

  it.each(groups.map((e) => [e.path.join(' '), e.path] as const))('%s nosuchcmd: exit 2, one line', async (_n, path) => {
    const r = await runInProcess([...path, 'nosuchcmd']);
    expectOneLineUsageError(r);
    expect(r.stderr).toContain("unknown command 'nosuchcmd'");
  });

  it.each(needsInput.map((e) => [e.path.join(' '), e.path] as const))('%s without its required input: exit 2, one line', async (_n, path) => {
    expectOneLineUsageError(await runInProcess(path));
  });

  it.each(choices.map((e) => [`${e.path.join(' ')} ${e.flag}`, e.path, e.flag] as const))('%s with a value not among its choices: exit 2, one line', async (_n, path, flag) => {
    const r = await runInProcess([...path, flag, 'not-a-choice']);
    expectOneLineUsageError(r);
    expect(r.stderr).toContain("'not-a-choice' is invalid");
  });

  // Bad option values each command checks itself, before touching stdin, a store or the network.
  it.each([
    [['demo', '--users', 'abc']],
    [['demo', '--users', '0']],
    [['sandbox', '--port', 'abc']],
    [['sandbox', '--port', '99999']],
    [['sandbox', '--fail-rate', '2']],
    [['sandbox', '--seed', 'x']],
    [['redact', '--threads', 'abc']],
    [['redact', '--format', 'xml']],
    [['scan', '--max-file-size', 'lots']],
    [['warehouse', 'sql', '--dialect', 'nosuch']],
    [['warehouse', 'session-keys', '--dialect', 'nosuch']],
    [['export', 'audit-events', '--token', 'env:CG_UNSET', '--out', 'x.json', '--page-size', 'abc']],
  ])('%j: exit 2, one line', async (args) => {
    expectOneLineUsageError(await runInProcess(args));
  });

  it('help nosuchcmd: exit 2, one line', async () => {
    expectOneLineUsageError(await runInProcess(['help', 'nosuchcmd']));
  });
});

describe('CLI conventions, spawned', () => {
  let dir: string;
  let cleanup: () => void;
  beforeAll(() => ({ dir, cleanup } = tempDir()));
  afterAll(() => cleanup());

  it('--version and --help exit 0 on stdout', async () => {
    const v = await runCli(['--version'], { env: isolatedEnv(dir), cwd: dir });
    expect(v.code).toBe(0);
    expect(v.stdout).toMatch(/^\d+\.\d+\.\d+/);
    const h = await runCli(['--help'], { env: isolatedEnv(dir), cwd: dir });
    expect(h.code).toBe(0);
    expect(h.stdout).toMatch(/^Usage: clariguard /);
    expect(h.stderr).toBe('');
  });

  it.each([[[] as string[]], [['secret']], [['secret', 'get', '--nope']], [['secret', 'get']], [['scan', '--format', 'xml']]])('%j: exit 2, one line on stderr', async (args) => {
    const r = await runCli(args, { env: isolatedEnv(dir), cwd: dir });
    expect(r.code, r.stderr).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(/^clariguard: [^\n]+\n$/);
  });

  // A named input that is not there is "not found" (66), naming it, whichever command reads it.
  it.each([
    [['scan', 'no-such-dir']],
    [['rotate', 'local:clari/t', '--consumers', 'no-such.yml']],
    [['verify-redaction', 'no-such.json']],
    [['redact', '--in', 'no-such.json']],
  ])('%j: exit 66, one line naming the file', async (args) => {
    const r = await runCli(args, { env: isolatedEnv(dir), cwd: dir });
    expect(r.code, r.stderr).toBe(66);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(/^clariguard: [^\n]*no-such[^\n]*\n$/);
  });
});

describe('progressEnabled', () => {
  it.each([
    [true, undefined, true],
    [true, '', true],
    [true, 'false', true],
    [true, '0', true],
    [true, 'true', false],
    [true, '1', false],
    [false, undefined, false],
  ])('stderr TTY %s, CI=%s: %s', (tty, ci, expected) => {
    const was = process.stderr.isTTY;
    vi.stubEnv('CI', ci);
    process.stderr.isTTY = tty;
    try {
      expect(progressEnabled()).toBe(expected);
    } finally {
      process.stderr.isTTY = was;
      vi.unstubAllEnvs();
    }
  });
});
