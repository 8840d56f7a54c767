import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * Installs a fake 1Password CLI named `op` in `dir` (put it first on PATH). It answers `op read [--no-newline]
 * op://…` and `op item get ITEM --vault V --format json` from a JSON database file, prints op's real error
 * shapes, and appends each argv (JSON) to a log so tests can check nothing secret was passed in argv.
 *
 * Behaviour via env: FAKE_OP_DB (file: { refs: {ref: value}, items: {"V/ITEM": {...}} }),
 * FAKE_OP_SIGNED_OUT=1 (the "not signed in" error), FAKE_OP_ARGV_LOG (file).
 */
export function installFakeOp(dir: string): string {
  mkdirSync(dir, { recursive: true });
  const script = `#!${process.execPath}
const fs = require('node:fs');
const args = process.argv.slice(2);
if (process.env.FAKE_OP_ARGV_LOG) fs.appendFileSync(process.env.FAKE_OP_ARGV_LOG, JSON.stringify(args) + '\\n');
const ts = '[ERROR] 2026/11/29 15:00:00 ';
if (process.env.FAKE_OP_SIGNED_OUT === '1') {
  process.stderr.write(ts + 'You are not currently signed in. Please run \`op signin --help\` for instructions\\n');
  process.exit(1);
}
const db = JSON.parse(fs.readFileSync(process.env.FAKE_OP_DB, 'utf8'));
if (args[0] === 'read') {
  const noNewline = args.includes('--no-newline');
  const ref = args.filter((a) => !a.startsWith('--'))[1];
  if (!(ref in db.refs)) {
    const [vault, item] = ref.replace('op://', '').split('/');
    process.stderr.write(ts + 'could not read secret \\'' + ref + '\\': error initializing client: "' + item + '" isn\\'t an item in the "' + vault + '" vault. Specify the item with its UUID, name, or domain.\\n');
    process.exit(1);
  }
  process.stdout.write(db.refs[ref] + (noNewline ? '' : '\\n'));
  process.exit(0);
}
if (args[0] === 'item' && args[1] === 'get') {
  const item = args[2];
  const vault = args[args.indexOf('--vault') + 1];
  const meta = db.items[vault + '/' + item];
  if (!meta) { process.stderr.write(ts + '"' + item + '" isn\\'t an item in the "' + vault + '" vault.\\n'); process.exit(1); }
  process.stdout.write(JSON.stringify(meta, null, 2) + '\\n');
  process.exit(0);
}
process.stderr.write(ts + 'unknown command "' + args[0] + '" for "op"\\n');
process.exit(1);
`;
  const path = join(dir, 'op');
  writeFileSync(path, script);
  chmodSync(path, 0o755);
  return path;
}
