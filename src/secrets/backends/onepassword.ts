import { spawn } from 'node:child_process';
import { ExitCode, SecretNotFoundError, StoreError } from '../../errors.js';
import type { SecretRef } from '../ref.js';
import { ageInDays } from '../time.js';
import type { BackendContext, ReadOptions, SecretBackend, SecretDescription } from '../types.js';
import { SecretValue } from '../value.js';
import { ReadOnlyBackend } from './readonly.js';
import { isoOrNull, safeDetail } from './shared.js';

type Env = Readonly<Record<string, string | undefined>>;

interface OpResult {
  code: number | null;
  stdout: Buffer;
  stderr: string;
}

export interface OnePasswordOptions {
  env: Env;
  /** The `op` executable (default: `op` on PATH, or OP_CLI_PATH). */
  bin?: string;
  timeoutMs?: number;
}

/**
 * `op://VAULT/ITEM/FIELD` through the 1Password CLI (`op read`), read-only. The reference is not secret,
 * so it goes in argv; the value comes back on stdout and is never written anywhere else. Works with any
 * sign-in `op` supports (desktop app integration, `op signin` sessions, OP_SERVICE_ACCOUNT_TOKEN, Connect).
 */
export class OnePasswordBackend extends ReadOnlyBackend implements SecretBackend {
  readonly scheme = 'op';
  override readonly capabilities = { write: false, stages: false, list: false, remove: false, readers: false };
  private readonly env: Env;
  private readonly bin: string;
  private readonly timeoutMs: number;

  constructor(options: OnePasswordOptions) {
    super();
    this.env = options.env;
    this.bin = options.bin ?? (options.env.OP_CLI_PATH || 'op');
    this.timeoutMs = options.timeoutMs ?? 120_000;
  }

  static fromContext(ctx: BackendContext): OnePasswordBackend {
    return new OnePasswordBackend({ env: ctx.env });
  }

  async read(ref: SecretRef, opts?: ReadOptions): Promise<SecretValue> {
    this.onlyCurrent(ref, opts);
    const parts = ref.path.split('/');
    if (parts.length < 3 || parts.some((p) => p === '')) {
      throw new StoreError('op', 'read', `${ref.raw}: expected op://VAULT/ITEM/FIELD (or op://VAULT/ITEM/SECTION/FIELD)`, { exitCode: ExitCode.usage, code: 'usage' });
    }
    const r = await this.op(ref, 'read', ['read', '--no-newline', this.opRef(ref)]);
    if (r.code !== 0) throw this.failure(ref, 'read', r);
    // Older `op` versions ignore --no-newline in some modes: drop one trailing newline only.
    const text = r.stdout.toString('utf8').replace(/\r?\n$/, '');
    if (text === '') throw new SecretNotFoundError(ref.raw, 'the 1Password field is empty');
    return new SecretValue(text);
  }

  async describe(ref: SecretRef): Promise<SecretDescription> {
    await this.read(ref);
    const [vault, item] = ref.path.split('/');
    // Item metadata (version, dates). The JSON also holds field values: only the few keys below are kept.
    const r = await this.op(ref, 'describe', ['item', 'get', item, '--vault', vault, '--format', 'json']);
    let version = 'op';
    let createdAt: string | null = null;
    let updatedAt: string | null = null;
    if (r.code === 0) {
      try {
        const j = JSON.parse(r.stdout.toString('utf8')) as { version?: number; created_at?: string; updated_at?: string };
        if (typeof j.version === 'number') version = String(j.version);
        createdAt = isoOrNull(j.created_at);
        updatedAt = isoOrNull(j.updated_at);
      } catch {
        // Metadata is a nicety; the read above already proved the reference works.
      }
    }
    r.stdout.fill(0);
    return {
      ref: ref.raw,
      backend: 'op',
      versions: [{ id: version, stages: ['current'], createdAt: updatedAt ?? createdAt }],
      // 1Password does not record when a field (rather than the item) changed: the item's update time is
      // the best available upper bound for the value's age.
      rotatedAt: null,
      ageDays: updatedAt ? ageInDays(updatedAt) : null,
      tags: {},
      rotation: null,
    };
  }

  private opRef(ref: SecretRef): string {
    const q = Object.keys(ref.params).length ? `?${new URLSearchParams(ref.params as Record<string, string>).toString()}` : '';
    return `op://${ref.path}${q}`;
  }

  private op(ref: SecretRef, operation: string, args: string[]): Promise<OpResult> {
    return new Promise((resolve, reject) => {
      const child = spawn(this.bin, args, { env: this.env as NodeJS.ProcessEnv, stdio: ['ignore', 'pipe', 'pipe'] });
      const out: Buffer[] = [];
      const err: Buffer[] = [];
      child.stdout.on('data', (c: Buffer) => out.push(c));
      child.stderr.on('data', (c: Buffer) => err.push(c));
      const timer = setTimeout(() => child.kill('SIGKILL'), this.timeoutMs);
      child.on('error', (e: NodeJS.ErrnoException) => {
        clearTimeout(timer);
        if (e.code === 'ENOENT') {
          reject(
            new StoreError('op', operation, `${ref.raw}: the 1Password CLI (op) is not installed or not on PATH; install it from https://developer.1password.com/docs/cli/get-started/`, {
              exitCode: ExitCode.unavailable,
              code: 'unavailable',
            }),
          );
        } else if (e.code === 'EACCES') {
          reject(new StoreError('op', operation, `${ref.raw}: ${this.bin} is not executable`, { exitCode: ExitCode.unavailable, code: 'unavailable' }));
        } else reject(new StoreError('op', operation, `${ref.raw}: cannot run op (${e.code ?? 'error'})`, { cause: e }));
      });
      child.on('close', (code, signal) => {
        clearTimeout(timer);
        if (signal === 'SIGKILL') {
          reject(new StoreError('op', operation, `${ref.raw}: op did not answer within ${Math.round(this.timeoutMs / 1000)}s (waiting for an unlock prompt?)`, { code: 'unavailable' }));
          return;
        }
        resolve({ code, stdout: Buffer.concat(out), stderr: Buffer.concat(err).toString('utf8') });
      });
    });
  }

  private failure(ref: SecretRef, operation: string, r: OpResult): StoreError | SecretNotFoundError {
    // `[ERROR] date time could not read secret 'op://…': error initializing client: "X" isn't an item…`
    const msg = r.stderr
      .replace(/^\[ERROR\]\s*\S+\s+\S+\s*/gm, '')
      .replace(/could not read secret '[^']*':\s*/g, '')
      .replace(/error initializing client:\s*/g, '')
      .trim();
    if (/not (currently )?signed in|sign ?in|session expired|no accounts configured|authorization (prompt )?(was )?dismissed|account is not signed in|service account token|unauthorized/i.test(msg)) {
      return new StoreError('op', operation, `${ref.raw}: 1Password CLI is not signed in (run \`eval $(op signin)\`, enable the desktop app integration, or set OP_SERVICE_ACCOUNT_TOKEN)`, {
        exitCode: ExitCode.noPermission,
        code: 'permission_denied',
      });
    }
    if (/isn't an item|isn't a vault|could not find|not found|no item|does not have a field|isn't a field|no such/i.test(msg)) {
      return new SecretNotFoundError(ref.raw, `1Password has no such vault, item or field (${safeDetail(msg.split('\n')[0], 120)})`);
    }
    return new StoreError('op', operation, `${ref.raw}: op exited with code ${r.code}${msg ? ` (${safeDetail(msg.split('\n')[0], 120)})` : ''}`, {
      exitCode: ExitCode.unavailable,
      code: 'unavailable',
    });
  }
}
