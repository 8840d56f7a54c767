import { randomBytes } from 'node:crypto';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { expect } from 'vitest';
import { ClariguardError } from '../../src/errors.js';

/** A recognisable, random secret value for leak tests. */
export function canary(prefix = 'cgcanary'): string {
  return `${prefix}_${randomBytes(18).toString('base64url').replace(/[-_]/g, 'x')}`;
}

/** Every form a leak could take: raw, base64, base64url, URL-encoded, hex. */
export function leakForms(secret: string): string[] {
  const b = Buffer.from(secret, 'utf8');
  return [
    secret,
    b.toString('base64'),
    b.toString('base64').replace(/=+$/, ''),
    b.toString('base64url'),
    encodeURIComponent(secret),
    b.toString('hex'),
    b.toString('hex').toUpperCase(),
  ];
}

/** Names the first form of `secret` found in `text`, or null. */
export function findLeak(text: string | Buffer, secret: string): string | null {
  const hay = typeof text === 'string' ? text : text.toString('latin1');
  for (const f of leakForms(secret)) if (hay.includes(f)) return f;
  return null;
}

export function expectNoLeak(text: string | Buffer, secret: string, where = 'output'): void {
  const leak = findLeak(text, secret);
  expect(leak, `secret leaked into ${where}`).toBeNull();
}

/** Asserts no file under `dir` (recursively) contains the secret in any form. */
export function expectNoLeakInDir(dir: string, secret: string): void {
  const walk = (d: string): void => {
    for (const name of readdirSync(d)) {
      const p = join(d, name);
      const st = statSync(p);
      if (st.isDirectory()) walk(p);
      else if (st.isFile()) expectNoLeak(readFileSync(p), secret, p);
    }
  };
  walk(dir);
}

/**
 * Awaits a promise that must reject with a ClariguardError carrying `exitCode` and a one-line message
 * in which none of `secrets` appears in any encoded form. Returns the error for further checks.
 */
export async function expectCleanFailure(p: Promise<unknown>, exitCode: number, secrets: string[]): Promise<ClariguardError> {
  const e = await p.then(
    () => {
      throw new Error('expected a failure');
    },
    (x: unknown) => x,
  );
  expect(e).toBeInstanceOf(ClariguardError);
  const err = e as ClariguardError;
  expect(err.exitCode).toBe(exitCode);
  expect(err.message).not.toMatch(/\n/);
  for (const s of secrets) expectNoLeak(err.message, s, 'error message');
  return err;
}
