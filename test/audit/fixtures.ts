import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { LocalStore, parseSecretRef, SecretValue } from '../../src/secrets/index.js';

/** A git repository with an identity of its own (no global config needed). */
export function gitInit(dir: string): void {
  mkdirSync(dir, { recursive: true });
  git(dir, 'init', '-q', '-b', 'main');
  git(dir, 'config', 'user.email', 'dev@example.invalid');
  git(dir, 'config', 'user.name', 'Dev');
  git(dir, 'config', 'commit.gpgsign', 'false');
}

export function git(dir: string, ...args: string[]): string {
  return execFileSync('git', args, { cwd: dir, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

export function write(path: string, text: string, mode?: number): void {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, text, mode === undefined ? undefined : { mode });
}

export function commitAll(dir: string, message: string): void {
  git(dir, 'add', '-A');
  git(dir, 'commit', '-q', '-m', message);
}

/** Stores `value` under `ref` in a local store at `home` (its CLARIGUARD_HOME). */
export async function storeToken(home: string, ref: string, value: string): Promise<LocalStore> {
  const store = new LocalStore({ home });
  await store.write(parseSecretRef(ref), new SecretValue(value));
  return store;
}

export const SIGNED_URL =
  'https://clari-exports.s3.amazonaws.com/exports/forecast.csv?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIAEXAMPLE%2F20260101%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Date=20260101T000000Z&X-Amz-Expires=3600&X-Amz-SignedHeaders=host&X-Amz-Signature=' +
  'a3f1c2b4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f708192a3b4c5d6e7f80';

export const ROSTER_CSV = [
  'name,email,hasTokenAccess,leftOn',
  'Ana Silva,ana.silva@acme.com,true,',
  'Bruno Costa,bruno.costa@acme.com,true,2026-01-10',
  'Carla Mendes,carla.mendes@acme.com,false,2026-02-01',
  'Diego Ramos,diego.ramos@acme.com,no,',
].join('\n');

export const ROSTER_EMAILS = ['ana.silva@acme.com', 'bruno.costa@acme.com', 'carla.mendes@acme.com', 'diego.ramos@acme.com'];

export function join2(...p: string[]): string {
  return join(...p);
}
