import { spawn } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { LocalStore } from '../../src/secrets/backends/local.js';
import { parseSecretRef } from '../../src/secrets/ref.js';
import { SecretValue } from '../../src/secrets/value.js';
import { ExitCode } from '../../src/errors.js';
import { canary, expectCleanFailure, expectNoLeak, expectNoLeakInDir } from '../helpers/canary.js';
import { ROOT, tempDir } from '../helpers/cli.js';

const ref = parseSecretRef('local:clari/prod/api-token');

describe('local age-encrypted store', () => {
  let dir: string;
  let cleanup: () => void;
  let store: LocalStore;
  beforeEach(() => {
    ({ dir, cleanup } = tempDir());
    store = new LocalStore({ home: join(dir, 'cg') });
  });
  afterEach(() => cleanup());

  it('round-trips a value and never stores the plaintext', async () => {
    const secret = canary();
    await store.write(ref, new SecretValue(secret));
    expect((await store.read(ref)).reveal()).toBe(secret);
    expectNoLeakInDir(join(dir, 'cg'), secret);
    expect(readFileSync(store.storePath).subarray(0, 21).toString()).toBe('age-encryption.org/v1');
  });

  it('creates the directory 0700 and the store and identity 0600', async () => {
    await store.write(ref, new SecretValue(canary()));
    expect(statSync(join(dir, 'cg')).mode & 0o777).toBe(0o700);
    expect(statSync(store.storePath).mode & 0o777).toBe(0o600);
    expect(statSync(store.identityPath).mode & 0o777).toBe(0o600);
    expect(readFileSync(store.identityPath, 'utf8')).toMatch(/^AGE-SECRET-KEY-1/m);
  });

  it('keeps current, pending and previous versions with stages and timestamps', async () => {
    const [a, b, c] = [canary('a'), canary('b'), canary('c')];
    const v1 = await store.write(ref, new SecretValue(a));
    const v2 = await store.write(ref, new SecretValue(b), { stage: 'pending' });
    let d = await store.describe(ref);
    expect(d.versions.find((v) => v.id === v1.versionId)?.stages).toEqual(['current']);
    expect(d.versions.find((v) => v.id === v2.versionId)?.stages).toEqual(['pending']);
    expect((await store.read(ref, { stage: 'pending' })).reveal()).toBe(b);
    expect((await store.read(ref)).reveal()).toBe(a);

    await store.promote(ref, v2.versionId);
    d = await store.describe(ref);
    expect((await store.read(ref)).reveal()).toBe(b);
    expect((await store.read(ref, { stage: 'previous' })).reveal()).toBe(a);
    expect(d.rotatedAt).not.toBeNull();
    expect(d.ageDays).toBe(0);

    await store.write(ref, new SecretValue(c));
    d = await store.describe(ref);
    // The version that was previous loses its stage and is dropped: old plaintext is not kept.
    expect(d.versions).toHaveLength(2);
    expect((await store.read(ref, { stage: 'previous' })).reveal()).toBe(b);
    await expect(store.read(ref, { versionId: v1.versionId })).rejects.toThrow(/no version/);

    const prev = d.versions.find((v) => v.stages.includes('previous'))!;
    await store.deleteVersion(ref, prev.id);
    expect((await store.describe(ref)).versions).toHaveLength(1);
    const cur = (await store.describe(ref)).versions[0];
    await expect(store.deleteVersion(ref, cur.id)).rejects.toThrow(/current/);
  });

  it('is idempotent for a repeated request token and refuses a reused token with another value', async () => {
    const a = await store.write(ref, new SecretValue('value-one-1234'), { requestToken: 't1' });
    const b = await store.write(ref, new SecretValue('value-one-1234'), { requestToken: 't1' });
    expect(b.versionId).toBe(a.versionId);
    await expect(store.write(ref, new SecretValue('value-two-1234'), { requestToken: 't1' })).rejects.toThrow(/request token/);
  });

  it('lists, tags and removes secrets', async () => {
    await store.write(ref, new SecretValue(canary()));
    await store.write(parseSecretRef('local:clari/dev/api-token'), new SecretValue(canary()));
    await store.write(parseSecretRef('local:other/x'), new SecretValue(canary()));
    expect(await store.list('clari')).toEqual(['local:clari/dev/api-token', 'local:clari/prod/api-token']);
    await store.setTags(ref, { owner: 'revops', gone: null });
    expect((await store.describe(ref)).tags).toEqual({ owner: 'revops' });
    await store.remove(ref);
    await expect(store.read(ref)).rejects.toThrow(/no such secret/);
    expect(await store.list()).toHaveLength(2);
  });

  it('refuses a wrong identity with a clear error and leaves the store intact', async () => {
    const secret = canary();
    await store.write(ref, new SecretValue(secret));
    const before = readFileSync(store.storePath);
    const other = new LocalStore({ home: join(dir, 'other') });
    await other.write(ref, new SecretValue(canary()));
    writeFileSync(store.identityPath, readFileSync(other.identityPath));
    await expect(store.read(ref)).rejects.toThrow(/wrong identity/);
    await expect(store.write(ref, new SecretValue(canary()))).rejects.toThrow(/wrong identity/);
    expect(readFileSync(store.storePath)).toEqual(before);
  });

  it('refuses a damaged identity file without printing the identity (a stray or lost character)', async () => {
    await store.write(ref, new SecretValue(canary()));
    const id = readFileSync(store.identityPath, 'utf8').split('\n').find((l) => l.startsWith('AGE-SECRET-KEY-'))!;
    // The last character replaced by another one of the key's alphabet (never by itself).
    const other = id.endsWith('Q') ? 'P' : 'Q';
    for (const damaged of [`${id}X`, `${id.slice(0, -1)}${other}`, id.slice(0, 40)]) {
      writeFileSync(store.identityPath, `${damaged}\n`);
      const fresh = new LocalStore({ home: join(dir, 'cg') });
      const e = await expectCleanFailure(fresh.read(ref), ExitCode.config, [id.slice(16, -1), damaged.slice(16)]);
      expect(e.message).toContain(store.identityPath);
      expectNoLeak(String((e.cause as Error | undefined)?.message ?? ''), damaged.slice(16), 'error cause');
    }
  });

  it('refuses a corrupt file with a clear error and never overwrites it', async () => {
    await store.write(ref, new SecretValue(canary()));
    const corrupt = Buffer.from(readFileSync(store.storePath));
    corrupt[corrupt.length - 5] ^= 0xff;
    writeFileSync(store.storePath, corrupt);
    await expect(store.read(ref)).rejects.toThrow(/corrupt|cannot decrypt/);
    await expect(store.write(ref, new SecretValue(canary()))).rejects.toThrow();
    expect(readFileSync(store.storePath)).toEqual(corrupt);
    writeFileSync(store.storePath, 'not an age file at all');
    await expect(store.read(ref)).rejects.toThrow(/corrupt or not an age file/);
  });

  it('never generates a new identity for an existing store', async () => {
    await store.write(ref, new SecretValue(canary()));
    const { rmSync } = await import('node:fs');
    rmSync(store.identityPath);
    await expect(store.write(ref, new SecretValue(canary()))).rejects.toThrow(/identity .* is missing/);
    expect(existsSync(store.identityPath)).toBe(false);
  });

  it('supports a passphrase instead of an identity, and tells the modes apart', async () => {
    const pass = new LocalStore({ home: join(dir, 'pp'), passphrase: 'correct horse battery staple', scryptWorkFactor: 12 });
    const secret = canary();
    await pass.write(ref, new SecretValue(secret));
    expect(existsSync(pass.identityPath)).toBe(false);
    expect((await pass.read(ref)).reveal()).toBe(secret);
    const wrong = new LocalStore({ home: join(dir, 'pp'), passphrase: 'wrong horse' });
    await expect(wrong.read(ref)).rejects.toThrow(/wrong passphrase/);
    const noPass = new LocalStore({ home: join(dir, 'pp') });
    await expect(noPass.read(ref)).rejects.toThrow(/set CLARIGUARD_PASSPHRASE/);
    expectNoLeakInDir(join(dir, 'pp'), secret);
  });

  it('serialises two concurrent writer processes without losing an update', async () => {
    await store.write(parseSecretRef('local:seed'), new SecretValue(canary()));
    const script = `
      import { LocalStore } from '${ROOT}/dist/secrets/backends/local.js';
      import { parseSecretRef } from '${ROOT}/dist/secrets/ref.js';
      import { SecretValue } from '${ROOT}/dist/secrets/value.js';
      const s = new LocalStore({ home: process.argv[1] });
      for (let i = 0; i < 8; i++) await s.write(parseSecretRef('local:w' + process.argv[2] + '/n' + i), new SecretValue('value-' + process.argv[2] + '-' + i + '-xyz'));
    `;
    const runWriter = (id: string) =>
      new Promise<number | null>((resolve) => {
        const p = spawn(process.execPath, ['--input-type=module', '-e', script, join(dir, 'cg'), id], { stdio: 'inherit' });
        p.on('close', resolve);
      });
    const codes = await Promise.all([runWriter('a'), runWriter('b')]);
    expect(codes).toEqual([0, 0]);
    const names = await store.list();
    expect(names.filter((n) => n.startsWith('local:wa/'))).toHaveLength(8);
    expect(names.filter((n) => n.startsWith('local:wb/'))).toHaveLength(8);
    expect(readdirSync(join(dir, 'cg')).filter((f) => f.endsWith('.tmp'))).toEqual([]);
  });
});
