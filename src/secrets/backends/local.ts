import { randomUUID } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import lockfile from 'proper-lockfile';
import { ClariguardError, ExitCode, SecretNotFoundError, StoreError } from '../../errors.js';
import { registerSecretValue } from '../../masking/registry.js';
import { clariguardHome } from '../../util/paths.js';
import { writeFileAtomicSync } from '../../util/atomic.js';
import type { SecretRef } from '../ref.js';
import { SecretValue } from '../value.js';
import { journalFromTags, ROTATED_AT_TAG } from '../journal.js';
import type {
  BackendContext,
  ReadOptions,
  ReaderReport,
  SecretBackend,
  SecretDescription,
  Stage,
  WriteOptions,
} from '../types.js';
import { ageInDays } from '../time.js';

/** The decrypted document. It only ever exists in memory. */
interface StoreDoc {
  format: 'clariguard-store/1';
  secrets: Record<string, StoredSecret>;
}
interface StoredVersion {
  id: string;
  value: string;
  stages: Stage[];
  createdAt: string;
  requestToken?: string;
}
interface StoredSecret {
  createdAt: string;
  rotatedAt: string | null;
  tags: Record<string, string>;
  versions: StoredVersion[];
}

// age is loaded on first use: commands that never open the local store should not pay for it.
let ageModule: Promise<typeof import('age-encryption')> | undefined;
const loadAge = () => (ageModule ??= import('age-encryption'));

const STORE_FILE = 'store.age';
const IDENTITY_FILE = 'identity.txt';
const NAME_RE = /^[A-Za-z0-9._-]+(\/[A-Za-z0-9._-]+)*$/;

export interface LocalStoreOptions {
  /** Directory holding store.age and identity.txt. */
  home: string;
  /** When set, the store is encrypted with this passphrase (age scrypt) instead of an identity. */
  passphrase?: string;
  /** scrypt work factor (log2 N) for new encryptions with a passphrase; default 18 as age. */
  scryptWorkFactor?: number;
}

/**
 * The embedded default store: one age-encrypted file. Reads decrypt the file; writes take a lock,
 * decrypt, change, re-encrypt in memory and replace the file atomically. If the existing file cannot be
 * decrypted, nothing is written.
 */
export class LocalStore implements SecretBackend {
  readonly scheme = 'local';
  readonly capabilities = { write: true, stages: true, list: true, remove: true, readers: true };
  readonly home: string;
  readonly storePath: string;
  readonly identityPath: string;
  private readonly passphrase?: string;
  private readonly scryptWorkFactor?: number;

  constructor(options: LocalStoreOptions) {
    this.home = options.home;
    this.storePath = join(this.home, STORE_FILE);
    this.identityPath = join(this.home, IDENTITY_FILE);
    this.passphrase = options.passphrase || undefined;
    // The key to the whole store: masked wherever an error or log line might carry it.
    if (this.passphrase) registerSecretValue(this.passphrase);
    this.scryptWorkFactor = options.scryptWorkFactor;
  }

  static fromContext(ctx: BackendContext): LocalStore {
    const wf = ctx.env.CLARIGUARD_SCRYPT_WORK_FACTOR ? Number(ctx.env.CLARIGUARD_SCRYPT_WORK_FACTOR) : undefined;
    return new LocalStore({
      home: clariguardHome(ctx.env),
      passphrase: ctx.env.CLARIGUARD_PASSPHRASE,
      scryptWorkFactor: wf !== undefined && Number.isInteger(wf) && wf >= 10 && wf <= 22 ? wf : undefined,
    });
  }

  // ---- SecretBackend -------------------------------------------------------------------------

  async read(ref: SecretRef, opts: ReadOptions = {}): Promise<SecretValue> {
    const name = this.nameOf(ref);
    const doc = await this.load();
    const secret = doc?.secrets[name];
    if (!secret) throw new SecretNotFoundError(ref.raw);
    const version = opts.versionId
      ? secret.versions.find((v) => v.id === opts.versionId)
      : secret.versions.find((v) => v.stages.includes(opts.stage ?? 'current'));
    if (!version) {
      throw new SecretNotFoundError(ref.raw, opts.versionId ? `no version ${opts.versionId}` : `no ${opts.stage ?? 'current'} version`);
    }
    return new SecretValue(version.value);
  }

  async write(ref: SecretRef, value: SecretValue, opts: WriteOptions = {}): Promise<{ versionId: string }> {
    const name = this.nameOf(ref);
    return this.mutate((doc) => {
      const now = new Date().toISOString();
      const secret = (doc.secrets[name] ??= { createdAt: now, rotatedAt: null, tags: {}, versions: [] });
      if (opts.requestToken) {
        const same = secret.versions.find((v) => v.requestToken === opts.requestToken);
        if (same) {
          if (same.value !== value.reveal()) {
            throw new StoreError('local', 'write', 'the request token was already used for a different value', {
              exitCode: ExitCode.usage,
              code: 'idempotency_conflict',
            });
          }
          return { versionId: same.id };
        }
      }
      const version: StoredVersion = {
        id: randomUUID(),
        value: value.reveal(),
        stages: [],
        createdAt: now,
        ...(opts.requestToken ? { requestToken: opts.requestToken } : {}),
      };
      secret.versions.push(version);
      if ((opts.stage ?? 'current') === 'pending') {
        for (const v of secret.versions) if (v !== version) v.stages = v.stages.filter((s) => s !== 'pending');
        version.stages = ['pending'];
      } else {
        promoteIn(secret, version.id, now);
      }
      if (opts.tags) applyTags(secret, opts.tags);
      prune(secret);
      return { versionId: version.id };
    });
  }

  async describe(ref: SecretRef): Promise<SecretDescription> {
    const name = this.nameOf(ref);
    const doc = await this.load();
    const secret = doc?.secrets[name];
    if (!secret) throw new SecretNotFoundError(ref.raw);
    const current = secret.versions.find((v) => v.stages.includes('current'));
    const since = secret.rotatedAt ?? current?.createdAt ?? null;
    return {
      ref: ref.raw,
      backend: 'local',
      versions: secret.versions.map((v) => ({ id: v.id, stages: [...v.stages], createdAt: v.createdAt })),
      rotatedAt: secret.rotatedAt,
      ageDays: since ? ageInDays(since) : null,
      tags: { ...secret.tags },
      rotation: journalFromTags(secret.tags),
    };
  }

  async list(prefix?: string): Promise<string[]> {
    const doc = await this.load();
    const names = Object.keys(doc?.secrets ?? {}).sort();
    const p = prefix?.replace(/^local:(\/\/)?/, '');
    return names.filter((n) => !p || n === p || n.startsWith(p.endsWith('/') ? p : `${p}/`)).map((n) => `local:${n}`);
  }

  async remove(ref: SecretRef): Promise<void> {
    const name = this.nameOf(ref);
    await this.mutate((doc) => {
      if (!doc.secrets[name]) throw new SecretNotFoundError(ref.raw);
      delete doc.secrets[name];
    });
  }

  async promote(ref: SecretRef, versionId: string): Promise<void> {
    const name = this.nameOf(ref);
    await this.mutate((doc) => {
      const secret = doc.secrets[name];
      if (!secret) throw new SecretNotFoundError(ref.raw);
      if (!secret.versions.some((v) => v.id === versionId)) throw new SecretNotFoundError(ref.raw, `no version ${versionId}`);
      promoteIn(secret, versionId, new Date().toISOString());
      prune(secret);
    });
  }

  async deleteVersion(ref: SecretRef, versionId: string): Promise<void> {
    const name = this.nameOf(ref);
    await this.mutate((doc) => {
      const secret = doc.secrets[name];
      if (!secret) throw new SecretNotFoundError(ref.raw);
      const v = secret.versions.find((x) => x.id === versionId);
      if (!v) throw new SecretNotFoundError(ref.raw, `no version ${versionId}`);
      if (v.stages.includes('current')) {
        throw new StoreError('local', 'deleteVersion', 'refusing to delete the current version', { exitCode: ExitCode.usage });
      }
      secret.versions = secret.versions.filter((x) => x.id !== versionId);
    });
  }

  async setTags(ref: SecretRef, tags: Record<string, string | null>): Promise<void> {
    const name = this.nameOf(ref);
    await this.mutate((doc) => {
      const secret = doc.secrets[name];
      if (!secret) throw new SecretNotFoundError(ref.raw);
      applyTags(secret, tags);
    });
  }

  async readers(_ref: SecretRef): Promise<ReaderReport> {
    const evidence: string[] = [];
    const principals: string[] = [];
    let wildcard = false;
    for (const [label, p] of [
      ['store', this.storePath],
      ['identity', this.identityPath],
      ['directory', this.home],
    ] as const) {
      if (!existsSync(p)) continue;
      const st = statSync(p);
      const mode = st.mode & 0o777;
      evidence.push(`${label} ${p}: owner uid ${st.uid}, mode ${mode.toString(8).padStart(4, '0')}`);
      if (!principals.includes(`uid:${st.uid}`)) principals.push(`uid:${st.uid}`);
      if (mode & 0o077 && label !== 'directory') wildcard = true;
      if (label === 'directory' && mode & 0o077) wildcard = true;
      if (mode & 0o070) principals.push(`gid:${st.gid} (group ${label} access)`);
      if (mode & 0o007) principals.push(`anyone (world ${label} access)`);
    }
    if (this.passphrase) evidence.push('encrypted with a passphrase (CLARIGUARD_PASSPHRASE): anyone with the passphrase and the file can read it');
    return { principals: [...new Set(principals)], evidence, wildcard };
  }

  // ---- internals -----------------------------------------------------------------------------

  private nameOf(ref: SecretRef): string {
    if (ref.scheme !== 'local') throw new StoreError('local', 'resolve', `not a local: reference (${ref.scheme}:)`);
    if (!NAME_RE.test(ref.path)) {
      throw new ClariguardError(`${ref.raw}: local secret names use letters, digits, ".", "_", "-" and "/"`, {
        exitCode: ExitCode.usage,
        code: 'usage',
      });
    }
    return ref.path;
  }

  private ensureHome(): void {
    mkdirSync(this.home, { recursive: true, mode: 0o700 });
    chmodSync(this.home, 0o700);
  }

  /** The identity, created on first use (only when no store exists yet: a new identity could never open it). */
  private async identity(create: boolean): Promise<string> {
    if (existsSync(this.identityPath)) {
      const text = readFileSync(this.identityPath, 'utf8');
      const line = text.split('\n').find((l) => l.startsWith('AGE-SECRET-KEY-'));
      if (!line) throw new StoreError('local', 'open', `${this.identityPath} holds no age identity`, { exitCode: ExitCode.config });
      const id = line.trim();
      registerSecretValue(id);
      try {
        // age's own errors quote the whole key ("Invalid checksum in AGE-SECRET-KEY-1…"): check it here, no cause kept.
        await (await loadAge()).identityToRecipient(id);
      } catch {
        throw new StoreError('local', 'open', `${this.identityPath} holds a damaged age identity (a character added, lost or changed?)`, {
          exitCode: ExitCode.config,
          code: 'wrong_key',
        });
      }
      return id;
    }
    if (!create || existsSync(this.storePath)) {
      throw new StoreError(
        'local',
        'open',
        `${this.storePath} exists but its identity ${this.identityPath} is missing (set CLARIGUARD_PASSPHRASE if the store uses a passphrase)`,
        { exitCode: ExitCode.config },
      );
    }
    this.ensureHome();
    const age = await loadAge();
    const id = await age.generateX25519Identity();
    const recipient = await age.identityToRecipient(id);
    const text = `# clariguard local store identity (age X25519), created ${new Date().toISOString()}\n# public key: ${recipient}\n${id}\n`;
    writeFileAtomicSync(this.identityPath, text, 0o600);
    return id;
  }

  private async decrypt(cipher: Uint8Array): Promise<StoreDoc> {
    const age = await loadAge();
    const d = new age.Decrypter();
    const passphraseFile = isScryptFile(cipher);
    if (this.passphrase) {
      if (!passphraseFile) {
        throw new StoreError('local', 'open', `${this.storePath} is encrypted to an identity, not a passphrase: unset CLARIGUARD_PASSPHRASE`, {
          exitCode: ExitCode.config,
          code: 'wrong_key',
        });
      }
      d.addPassphrase(this.passphrase);
    } else {
      if (passphraseFile) {
        throw new StoreError('local', 'open', `${this.storePath} is encrypted with a passphrase: set CLARIGUARD_PASSPHRASE`, {
          exitCode: ExitCode.config,
          code: 'wrong_key',
        });
      }
      d.addIdentity(await this.identity(false));
    }
    let text: string;
    try {
      text = await d.decrypt(cipher, 'text');
    } catch (e) {
      const msg = e instanceof Error ? e.message : String(e);
      const wrongKey = /no identity matched|incorrect passphrase|failed to decrypt|passphrase/i.test(msg) && !/header|parse|invalid/i.test(msg);
      throw new StoreError(
        'local',
        'open',
        wrongKey
          ? `cannot decrypt ${this.storePath}: wrong ${this.passphrase ? 'passphrase' : 'identity'}`
          : `${this.storePath} is corrupt or not an age file (${sanitize(msg)})`,
        { exitCode: ExitCode.config, code: wrongKey ? 'wrong_key' : 'corrupt_store' },
      );
    }
    let doc: StoreDoc;
    try {
      doc = JSON.parse(text) as StoreDoc;
    } catch {
      throw new StoreError('local', 'open', `${this.storePath} decrypted but its contents are not a clariguard store`, {
        exitCode: ExitCode.config,
        code: 'corrupt_store',
      });
    }
    if (doc?.format !== 'clariguard-store/1' || typeof doc.secrets !== 'object') {
      throw new StoreError('local', 'open', `${this.storePath} has an unknown format`, { exitCode: ExitCode.config, code: 'corrupt_store' });
    }
    for (const s of Object.values(doc.secrets)) for (const v of s.versions) new SecretValue(v.value);
    return doc;
  }

  private async encrypt(doc: StoreDoc): Promise<Uint8Array> {
    const age = await loadAge();
    const e = new age.Encrypter();
    if (this.passphrase) {
      e.setPassphrase(this.passphrase);
      if (this.scryptWorkFactor) e.setScryptWorkFactor(this.scryptWorkFactor);
    } else {
      e.addRecipient(await age.identityToRecipient(await this.identity(true)));
    }
    return e.encrypt(JSON.stringify(doc));
  }

  private async load(): Promise<StoreDoc | undefined> {
    let cipher: Buffer;
    try {
      cipher = readFileSync(this.storePath);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw new StoreError('local', 'open', `cannot read ${this.storePath}: ${(e as NodeJS.ErrnoException).code ?? 'error'}`, {
        exitCode: ExitCode.ioError,
      });
    }
    return this.decrypt(cipher);
  }

  /** Lock, load (or create), change, encrypt, atomically replace. */
  private async mutate<T>(change: (doc: StoreDoc) => T): Promise<T> {
    this.ensureHome();
    let release: (() => Promise<void>) | undefined;
    try {
      release = await lockfile.lock(this.storePath, {
        realpath: false,
        stale: 15_000,
        update: 5_000,
        retries: { retries: 200, minTimeout: 10, maxTimeout: 100, factor: 1.3 },
      });
    } catch (e) {
      throw new StoreError('local', 'lock', `${this.storePath} is locked by another clariguard process`, {
        exitCode: ExitCode.tempFail,
        code: 'locked',
        cause: e,
      });
    }
    try {
      const doc = (await this.load()) ?? { format: 'clariguard-store/1', secrets: {} };
      const result = change(doc);
      const cipher = await this.encrypt(doc);
      writeFileAtomicSync(this.storePath, cipher, 0o600);
      return result;
    } finally {
      await release().catch(() => undefined);
    }
  }
}

function isScryptFile(cipher: Uint8Array): boolean {
  const head = Buffer.from(cipher.subarray(0, 200)).toString('latin1');
  return head.includes('\n-> scrypt ');
}

function promoteIn(secret: StoredSecret, versionId: string, now: string): void {
  const target = secret.versions.find((v) => v.id === versionId)!;
  if (target.stages.includes('current')) return;
  for (const v of secret.versions) {
    if (v === target) continue;
    if (v.stages.includes('current')) v.stages = [...v.stages.filter((s) => s !== 'current' && s !== 'previous'), 'previous'];
    else v.stages = v.stages.filter((s) => s !== 'previous');
  }
  target.stages = ['current'];
  secret.rotatedAt = now;
}

/** Versions without a stage are dropped: old plaintext is not kept longer than needed. */
function prune(secret: StoredSecret): void {
  secret.versions = secret.versions.filter((v) => v.stages.length > 0);
}

function applyTags(secret: StoredSecret, tags: Record<string, string | null>): void {
  for (const [k, v] of Object.entries(tags)) {
    if (v === null) delete secret.tags[k];
    else secret.tags[k] = v;
  }
  // `rotate --rollback` restores the date of the token it brings back: keep the native date in step.
  const at = tags[ROTATED_AT_TAG];
  if (typeof at === 'string' && !Number.isNaN(Date.parse(at))) secret.rotatedAt = at;
}

function sanitize(msg: string): string {
  return msg.replace(/[^\x20-\x7e]/g, '?').slice(0, 120);
}
