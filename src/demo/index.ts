import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { describeSecret, readSecret, writeSecret } from '../secrets/index.js';
import { runWithSecrets } from '../secrets/inject.js';

export interface DemoOptions {
  /** Where progress lines go (default: stderr). */
  log?: (line: string) => void;
}

export interface DemoReport {
  steps: { name: string; ok: boolean; detail: string }[];
}

/**
 * The main job on embedded defaults: a throwaway local store, a generated token stored in it, read back
 * masked, injected into a child process whose output is masked. Leaves nothing behind.
 */
export async function runDemo(options: DemoOptions = {}): Promise<DemoReport> {
  const log = options.log ?? ((l: string) => process.stderr.write(`${l}\n`));
  const home = mkdtempSync(join(tmpdir(), 'clariguard-demo-'));
  const env = { ...process.env, CLARIGUARD_HOME: home, CLARIGUARD_PASSPHRASE: '' };
  const steps: DemoReport['steps'] = [];
  const ref = 'local:clari/demo/api-token';
  try {
    const token = `demo_${randomBytes(18).toString('base64url')}`;
    await writeSecret(ref, token, { env });
    steps.push({ name: 'store', ok: true, detail: `token stored in the age-encrypted local store at ${home}` });

    const shown = (await readSecret(ref, { env })).masked();
    steps.push({ name: 'read', ok: true, detail: `secret get shows it masked: ${shown}` });

    const d = await describeSecret(ref, { env });
    steps.push({ name: 'describe', ok: true, detail: `${d.versions.length} version(s), current since ${d.rotatedAt}` });

    const out = new PassThrough();
    const chunks: Buffer[] = [];
    out.on('data', (c: Buffer) => chunks.push(c));
    const r = await runWithSecrets({
      env,
      secrets: { CLARI_API_KEY: ref },
      command: process.execPath,
      args: ['-e', 'const t=process.env.CLARI_API_KEY; console.log("child sees a token of", t.length, "chars; printing it:", t, Buffer.from(t).toString("base64"))'],
      stdout: out,
      stderr: out,
      stdin: 'ignore',
      githubActionsMask: false,
    });
    const childOutput = Buffer.concat(chunks).toString('utf8').trim();
    const leaked = childOutput.includes(token) || childOutput.includes(Buffer.from(token).toString('base64'));
    steps.push({ name: 'run', ok: r.exitCode === 0 && !leaked, detail: `child output as clariguard passes it on: ${childOutput}` });
  } finally {
    rmSync(home, { recursive: true, force: true });
  }
  for (const s of steps) log(`${s.ok ? 'ok  ' : 'FAIL'} ${s.name.padEnd(9)} ${s.detail}`);
  return { steps };
}
