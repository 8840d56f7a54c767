import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Ajv } from 'ajv';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { canary, expectNoLeak, expectNoLeakInDir } from '../helpers/canary.js';
import { isolatedEnv, runCli, tempDir } from '../helpers/cli.js';
import { runCliOnTty } from '../helpers/tty.js';
import { commitAll, git, initRepo, writeFiles } from './helpers.js';

const T1 = 'q7Rv2Lx9Kp4Wm8Zt3Nb6Yc1Hd5Fj0Gs'; // clariguard:allow

/** What GitHub code scanning requires of an uploaded SARIF file (the subset it validates and displays). */
const SARIF_FOR_GITHUB = {
  type: 'object',
  required: ['version', 'runs', '$schema'],
  properties: {
    version: { const: '2.1.0' },
    runs: {
      type: 'array',
      minItems: 1,
      items: {
        type: 'object',
        required: ['tool', 'results'],
        properties: {
          tool: {
            type: 'object',
            required: ['driver'],
            properties: {
              driver: {
                type: 'object',
                required: ['name', 'rules'],
                properties: {
                  name: { type: 'string', minLength: 1 },
                  rules: {
                    type: 'array',
                    items: {
                      type: 'object',
                      required: ['id', 'shortDescription', 'helpUri', 'defaultConfiguration'],
                      properties: {
                        id: { type: 'string', minLength: 1 },
                        shortDescription: { type: 'object', required: ['text'], properties: { text: { type: 'string', minLength: 1 } } },
                        helpUri: { type: 'string', pattern: '^https://' },
                        defaultConfiguration: { type: 'object', properties: { level: { enum: ['error', 'warning', 'note', 'none'] } } },
                        properties: { type: 'object', properties: { 'security-severity': { type: 'string', pattern: '^\\d+(\\.\\d+)?$' } } },
                      },
                    },
                  },
                },
              },
            },
          },
          results: {
            type: 'array',
            items: {
              type: 'object',
              required: ['ruleId', 'level', 'message', 'locations', 'partialFingerprints'],
              properties: {
                ruleId: { type: 'string' },
                ruleIndex: { type: 'integer', minimum: 0 },
                level: { enum: ['error', 'warning', 'note', 'none'] },
                message: { type: 'object', required: ['text'], properties: { text: { type: 'string', minLength: 1 } } },
                locations: {
                  type: 'array',
                  minItems: 1,
                  maxItems: 1,
                  items: {
                    type: 'object',
                    required: ['physicalLocation'],
                    properties: {
                      physicalLocation: {
                        type: 'object',
                        required: ['artifactLocation', 'region'],
                        properties: {
                          artifactLocation: {
                            type: 'object',
                            required: ['uri'],
                            // relative, forward slashes, no scheme, no leading ./ or /
                            properties: { uri: { type: 'string', pattern: '^(?![a-z]+:)(?!\\.?/)[^\\\\]+$' } },
                          },
                          region: {
                            type: 'object',
                            required: ['startLine', 'startColumn'],
                            properties: { startLine: { type: 'integer', minimum: 1 }, startColumn: { type: 'integer', minimum: 1 } },
                          },
                        },
                      },
                    },
                  },
                },
                partialFingerprints: { type: 'object', minProperties: 1, additionalProperties: { type: 'string' } },
              },
            },
          },
        },
      },
    },
  },
};

let dir: string;
let home: string;
let cleanup: () => void;
let cleanupHome: () => void;
let env: Record<string, string | undefined>;
beforeEach(() => {
  ({ dir, cleanup } = tempDir('clariguard-scan-cli-'));
  ({ dir: home, cleanup: cleanupHome } = tempDir('clariguard-scan-home-'));
  env = isolatedEnv(home, { GIT_CONFIG_GLOBAL: '/dev/null', GIT_CONFIG_NOSYSTEM: '1' });
});
afterEach(() => {
  cleanup();
  cleanupHome();
});

describe('clariguard scan (CLI)', () => {
  it('text: exit 1 with masked findings, exit 0 when clean', async () => {
    writeFiles(dir, { 'cfg/app.env': `CLARI_API_KEY=${T1}\n`, 'ok.txt': 'nothing here\n' });
    const r = await runCli(['scan'], { env, cwd: dir });
    expect(r.code).toBe(1);
    expect(r.stdout).toContain('cfg/app.env:1:15: clari-api-token (high)');
    expect(r.stdout).toContain(`CLARI_API_KEY=${T1.slice(0, 4)}****`);
    expect(r.stdout).toMatch(/1 finding: scanned 2 files/);
    expectNoLeak(r.stdout + r.stderr, T1);
    const clean = await runCli(['scan', 'ok.txt'], { env, cwd: dir });
    expect(clean.code).toBe(0);
    expect(clean.stdout).toMatch(/^no findings: scanned 1 file/);
  });

  it('text: control characters from the repository (file name, line) are shown escaped, never sent to the terminal', async () => {
    const name = 'odd\x1b]0;pwned\x07name.env';
    writeFiles(dir, { [name]: `CLARI_API_KEY=${T1} \x1b[2J\u009b2J\r\n` });
    const r = await runCli(['scan'], { env, cwd: dir });
    expect(r.code).toBe(1);
    // eslint-disable-next-line no-control-regex
    expect(r.stdout).not.toMatch(/[\x00-\x08\x0b-\x1f\x7f-\x9f]/);
    expect(r.stdout).toContain('odd\\x1b]0;pwned\\x07name.env:1:15: clari-api-token (high)');
    expect(r.stdout).toContain('?[2J\\x9b2J');
    expectNoLeak(r.stdout + r.stderr, T1);
  });

  it('runs no program the scanned repository configures (core.fsmonitor) in the work tree, history or staged scans', async () => {
    initRepo(dir);
    writeFiles(dir, { 'cfg/app.env': `CLARI_API_KEY=${T1}\n` });
    commitAll(dir, 'add');
    const marker = join(home, 'fsmonitor-ran');
    const hook = join(home, 'fsmonitor.sh');
    writeFileSync(hook, `#!/bin/sh\ntouch '${marker}'\necho 0\n`, { mode: 0o755 });
    git(dir, 'config', 'core.fsmonitor', hook);
    for (const args of [['scan'], ['scan', '--history'], ['scan', '--staged']]) {
      const r = await runCli(args, { env, cwd: dir });
      expect(r.code, args.join(' ')).toBe(args.includes('--staged') ? 0 : 1);
      expect(existsSync(marker), args.join(' ')).toBe(false);
    }
    // The same repository in git itself does run it: the test would notice if the option stopped working.
    git(dir, 'status', '--porcelain');
    expect(existsSync(marker)).toBe(true);
  });

  it('shows a progress line on a terminal (work tree and history), none when stderr is not a terminal', async () => {
    initRepo(dir);
    const files: Record<string, string> = { 'cfg/app.env': `CLARI_API_KEY=${T1}\n` };
    for (let i = 0; i < 250; i++) files[`src/m${i}.ts`] = `export const v${i} = ${i};\n`;
    writeFiles(dir, files);
    commitAll(dir, 'many files');
    for (const args of [['scan'], ['scan', '--history']]) {
      const tty = await runCliOnTty(args, env, [], /^$/, { cwd: dir });
      expect(tty.code).toBe(1);
      expect(tty.screen).toMatch(args.length > 1 ? /scanning: [\d,]+ commits, [\d.]+ MB/ : /scanning: [\d,]+ files, [\d.]+ MB/);
      expectNoLeak(tty.screen, T1);
    }
    const plain = await runCli(['scan'], { env, cwd: dir });
    expect(plain.stderr).not.toContain('scanning:');
  });

  it('json: exactly the documented shape', async () => {
    writeFiles(dir, { 'a.env': `CLARI_API_KEY=${T1}\n` });
    const r = await runCli(['scan', '--format', 'json'], { env, cwd: dir });
    expect(r.code).toBe(1);
    const j = JSON.parse(r.stdout);
    expect(Object.keys(j)).toEqual(['findings', 'stats']);
    expect(Object.keys(j.findings[0])).toEqual(['ruleId', 'file', 'line', 'column', 'commit', 'author', 'date', 'fingerprint', 'severity', 'snippet']);
    expect(j.findings[0]).toMatchObject({ ruleId: 'clari-api-token', file: 'a.env', line: 1, column: 15, commit: null, author: null, date: null, severity: 'high' });
    expect(Object.keys(j.stats)).toEqual(expect.arrayContaining(['files', 'bytes', 'commits', 'ms', 'skipped', 'unreadable']));
    expect((await runCli(['scan', '--json'], { env, cwd: dir })).stdout).toContain('"findings"');
  });

  it('sarif: valid 2.1.0 for GitHub code scanning, written atomically with -o, history results carry the commit', async () => {
    initRepo(dir);
    writeFiles(dir, {
      'sub dir/a.env': `CLARI_API_KEY=${T1}\n`,
      'cache.json': '{"u":"https://b.s3.amazonaws.com/k.csv?X-Amz-Expires=60&X-Amz-Signature=0d1c2b3a4f5e6d7c8b9a0f1e2d3c4b5a6f7e8d9c0b1a2f3e4d5c6b7a8d0e9f4c"}\n', // clariguard:allow
    });
    commitAll(dir, 'one');
    for (const extra of [[], ['--history']]) {
      const out = join(dir, `report${extra.length}.sarif`);
      const r = await runCli(['scan', ...extra, '--format', 'sarif', '-o', out], { env, cwd: dir });
      expect(r.code).toBe(1);
      expect(r.stdout).toBe('');
      expect(r.stderr).toMatch(/2 findings; report written to/);
      const sarif = JSON.parse(readFileSync(out, 'utf8'));
      const ajv = new Ajv({ allErrors: true, strict: false });
      const ok = ajv.validate(SARIF_FOR_GITHUB, sarif);
      expect(ajv.errors ?? [], JSON.stringify(ajv.errors)).toEqual([]);
      expect(ok).toBe(true);
      const run = sarif.runs[0];
      const ids = run.tool.driver.rules.map((x: { id: string }) => x.id);
      expect(ids).toEqual(expect.arrayContaining(['clari-api-token', 'signed-download-url', 'aws-access-key', 'generic-secret']));
      const uris = run.results.map((x: { locations: { physicalLocation: { artifactLocation: { uri: string } } }[] }) => x.locations[0].physicalLocation.artifactLocation.uri);
      expect(uris.sort()).toEqual(['cache.json', 'sub%20dir/a.env']);
      for (const res of run.results) expect(ids[res.ruleIndex]).toBe(res.ruleId);
      if (extra.length) expect(run.results[0].properties.commit).toMatch(/^[0-9a-f]{40}$/);
      expectNoLeak(readFileSync(out), T1);
    }
  });

  it('usage and configuration errors have their exit codes and one-line messages', async () => {
    writeFiles(dir, { 'bad.yaml': 'rules: 3\n' });
    const fmt = await runCli(['scan', '--format', 'xml'], { env, cwd: dir });
    expect(fmt.code).toBe(2);
    const since = await runCli(['scan', '--since', 'HEAD'], { env, cwd: dir });
    expect(since.code).toBe(2);
    expect(since.stderr).toMatch(/--since needs --history/);
    const hist = await runCli(['scan', '--history'], { env, cwd: dir });
    expect(hist.code).toBe(2);
    expect(hist.stderr.trim().split('\n')).toHaveLength(1);
    const rules = await runCli(['scan', '--rules', 'bad.yaml'], { env, cwd: dir });
    expect(rules.code).toBe(78);
    expect(rules.stderr).toMatch(/bad\.yaml: rules: /);
    const missing = await runCli(['scan', 'nope'], { env, cwd: dir });
    expect(missing.code).toBe(66);
    const help = await runCli(['scan', '--help'], { env, cwd: dir });
    expect(help.code).toBe(0);
    expect(help.stdout).toContain('--history');
  });

  it('an -o report or --write-baseline that cannot be written: one line, exit 74, not an internal error', async () => {
    writeFiles(dir, { 'a.env': `CLARI_API_KEY=${T1}\n` });
    for (const args of [['-o', join(dir, 'no-such-dir', 'r.json'), '--json'], ['--write-baseline', join(dir, 'no-such-dir', 'b.json')]]) {
      const r = await runCli(['scan', ...args], { env, cwd: dir });
      expect(r.code).toBe(74);
      expect(r.stderr).toContain('no-such-dir');
      expect(r.stderr).not.toMatch(/internal error/);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
    }
  });

  it('--staged for pre-commit, --write-baseline then --baseline', async () => {
    initRepo(dir);
    writeFiles(dir, { 'a.py': 'x = 1\n' });
    commitAll(dir, 'init');
    writeFiles(dir, { 'a.py': `x = 1\nclari_token = "${T1}"\n` });
    git(dir, 'add', 'a.py');
    const staged = await runCli(['scan', '--staged'], { env, cwd: dir });
    expect(staged.code).toBe(1);
    expect(staged.stdout).toContain('a.py:2:16: clari-api-token');
    const wb = await runCli(['scan', '--write-baseline', '.clariguard-baseline.json'], { env, cwd: dir });
    expect(wb.code).toBe(0);
    expect(wb.stderr).toMatch(/wrote 1 fingerprint to/);
    const again = await runCli(['scan', '--baseline', '.clariguard-baseline.json'], { env, cwd: dir });
    expect(again.code).toBe(0);
    expect(again.stdout).toMatch(/1 in baseline/);
    expectNoLeak(readFileSync(join(dir, '.clariguard-baseline.json')), T1);
  });

  it('canary: a --known value is found raw and encoded, in the work tree and history, and never printed whole', async () => {
    const token = canary();
    const set = await runCli(['secret', 'set', 'local:clari/prod/api-token'], { env, input: `${token}\n` });
    expect(set.code).toBe(0);
    initRepo(dir);
    writeFiles(dir, {
      'notes.txt': `token ${token}\n`,
      'auth.log': `Authorization: Basic ${Buffer.from(`svc:${token}`).toString('base64')}\n`,
      'old.env': `X=${Buffer.from(token).toString('hex')}\n`,
    });
    commitAll(dir, 'leak');
    git(dir, 'rm', '-q', 'old.env');
    commitAll(dir, 'remove');
    const outDir = tempDir('clariguard-scan-out-');
    try {
      for (const args of [[], ['--history'], ['--format', 'json'], ['--history', '--format', 'sarif'], ['--format', 'sarif', '-o', join(outDir.dir, 'r.sarif')]]) {
        const r = await runCli(['scan', '--known', 'local:clari/prod/api-token', ...args], { env, cwd: dir });
        expect(r.code, r.stderr).toBe(1);
        const out = args.includes('-o') ? readFileSync(args[args.length - 1], 'utf8') : r.stdout;
        expect(out).toMatch(/clari-known-token/);
        expectNoLeak(r.stdout, token, `stdout of scan ${args.join(' ')}`);
        expectNoLeak(r.stderr, token, `stderr of scan ${args.join(' ')}`);
      }
      const hist = JSON.parse((await runCli(['scan', '--known', 'local:clari/prod/api-token', '--history', '--json', '--rule', 'clari-known-token'], { env, cwd: dir })).stdout);
      expect(hist.findings.map((f: { file: string }) => f.file).sort()).toEqual(['auth.log', 'notes.txt', 'old.env']);
      await runCli(['scan', '--known', 'local:clari/prod/api-token', '--write-baseline', join(outDir.dir, 'b.json')], { env, cwd: dir });
      expectNoLeakInDir(outDir.dir, token);
    } finally {
      outDir.cleanup();
    }
    const missingRef = await runCli(['scan', '--known', 'local:clari/none'], { env, cwd: dir });
    expect(missingRef.code).toBe(66);
  });
});

describe('pre-commit hook definition', () => {
  it('.pre-commit-hooks.yaml runs clariguard scan --staged', () => {
    const text = readFileSync(join(__dirname, '..', '..', '.pre-commit-hooks.yaml'), 'utf8');
    expect(text).toMatch(/id: clariguard-scan/);
    expect(text).toMatch(/entry: clariguard scan --staged/);
    writeFileSync(join(dir, 'x'), '');
  });
});
