import { Option, type Command } from 'commander';
import { SecretValue, describeSecret, listSecrets, readSecret, removeSecret, writeSecret } from '../../secrets/index.js';
import { copySecret } from '../../secrets/copy.js';
import type { CliContext } from '../context.js';
import { say, writeJson, writeOut } from '../io.js';
import { readSecretInput } from '../stdin.js';

export function registerSecretCommands({ program }: CliContext): void {
  const secret: Command = program
    .command('secret')
    .description('store, read and inspect secrets (local:, env:, aws-sm://, vault://, gcp-sm://, azure-kv://, op://)');

  secret
    .command('set')
    .description('store a secret; the value comes from stdin, a hidden prompt (asked twice) or --from-file, never argv')
    .argument('<ref>', 'secret reference, e.g. local:clari/prod/api-token')
    .option('--from-file <file>', 'read the value from a file (one trailing newline is dropped)')
    .option('--pending', 'store as the pending version instead of current (rotation)')
    .option('--json', 'print the result as JSON')
    .action(async (ref: string, opts: { fromFile?: string; pending?: boolean; json?: boolean }) => {
      const value = new SecretValue(await readSecretInput({ fromFile: opts.fromFile, prompt: `Value for ${ref}: ` }));
      const { versionId } = await writeSecret(ref, value, { stage: opts.pending ? 'pending' : 'current' });
      if (opts.json) writeJson({ ref, versionId, stage: opts.pending ? 'pending' : 'current' });
      else say(`stored ${ref} (version ${versionId}, ${opts.pending ? 'pending' : 'current'}): ${value.masked()}`);
    });

  secret
    .command('get')
    .description('print a secret masked (cl****…**9f); --reveal prints the raw value for piping')
    .argument('<ref>', 'secret reference')
    .option('--reveal', 'print the raw value, newline terminated')
    .addOption(new Option('--stage <stage>', 'the version to read').choices(['current', 'pending', 'previous']).default('current'))
    .action(async (ref: string, opts: { reveal?: boolean; stage: 'current' | 'pending' | 'previous' }) => {
      const value = await readSecret(ref, { stage: opts.stage });
      if (opts.reveal) process.stdout.write(`${value.reveal()}\n`);
      else writeOut(value.masked());
    });

  secret
    .command('list')
    .description('list the secrets of a store (default: the local store)')
    .argument('[where]', 'a scheme (local) or a ref prefix (local:clari/)', 'local')
    .option('--json', 'print as JSON')
    .action(async (where: string, opts: { json?: boolean }) => {
      const refs = await listSecrets(where);
      if (opts.json) writeJson({ secrets: refs });
      else if (refs.length === 0) say('no secrets');
      else writeOut(refs.join('\n'));
    });

  secret
    .command('rm')
    .description('delete a secret and all its versions')
    .argument('<ref>', 'secret reference')
    .action(async (ref: string) => {
      await removeSecret(ref);
      say(`removed ${ref}`);
    });

  secret
    .command('describe')
    .description('versions, stages, dates and tags of a secret (never its value)')
    .argument('<ref>', 'secret reference')
    .option('--json', 'print as JSON')
    .action(async (ref: string, opts: { json?: boolean }) => {
      const d = await describeSecret(ref);
      if (opts.json) {
        writeJson(d);
        return;
      }
      const lines = [
        `ref:       ${d.ref}`,
        `backend:   ${d.backend}`,
        `rotated:   ${d.rotatedAt ?? 'unknown'}${d.ageDays !== null ? ` (${d.ageDays} days ago)` : ''}`,
        ...d.versions.map((v) => `version:   ${v.id}  [${v.stages.join(', ') || 'no stage'}]  created ${v.createdAt ?? 'unknown'}`),
        ...Object.entries(d.tags).map(([k, v]) => `tag:       ${k}=${v}`),
      ];
      if (d.rotation) lines.push(`rotation:  in progress, step ${d.rotation.step} (since ${d.rotation.startedAt}); resume with clariguard rotate ${d.ref} --resume`);
      writeOut(lines.join('\n'));
    });

  secret
    .command('copy')
    .description('copy a secret from one reference to another (e.g. env: or dotenv: into aws-sm://) without argv or files')
    .argument('<src>', 'source reference')
    .argument('<dst>', 'destination reference (a writable store)')
    .option('--json', 'print the result as JSON')
    .action(async (src: string, dst: string, opts: { json?: boolean }) => {
      const r = await copySecret(src, dst);
      if (opts.json) writeJson(r);
      else say(`copied ${src} -> ${dst} (version ${r.versionId})`);
    });
}
