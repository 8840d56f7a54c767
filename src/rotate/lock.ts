import { createHash } from 'node:crypto';
import { closeSync, linkSync, mkdirSync, openSync, readFileSync, renameSync, statSync, unlinkSync, writeSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { ioFailure, type ClariguardError } from '../errors.js';
import type { SecretRef } from '../secrets/ref.js';
import { clariguardHome } from '../util/paths.js';
import { pidAlive } from '../util/process.js';

interface Owner {
  pid: number;
  host: string;
  startedAt: string;
}

/** Where the lock of `ref`'s rotations lives: under CLARIGUARD_HOME, named by a hash of the ref (no path in the name). */
export function rotationLockPath(ref: SecretRef, env: Readonly<Record<string, string | undefined>> = process.env): string {
  const id = createHash('sha256').update(ref.raw).digest('hex').slice(0, 32);
  return join(clariguardHome(env), 'locks', `rotate-${id}.lock`);
}

function readOwner(path: string): Owner | null {
  try {
    const o = JSON.parse(readFileSync(path, 'utf8')) as Owner;
    return typeof o?.pid === 'number' && typeof o.host === 'string' ? o : null;
  } catch {
    return null;
  }
}

/** A lock nobody holds any more: its process is gone (this host), or it was never completely written. */
function isStale(path: string, owner: Owner | null): boolean {
  if (owner) return owner.host === hostname() && !pidAlive(owner.pid);
  try {
    return Date.now() - statSync(path).mtimeMs > 5_000;
  } catch {
    return true;
  }
}

/**
 * Runs `fn` holding the rotation lock of `ref`, so two rotate/resume/finish/rollback runs on one secret never
 * interleave (the store journal alone cannot catch two runs that both start before either wrote it). A pid
 * file rather than an mtime lease: a rotation killed with SIGKILL is resumable at once, not after a timeout.
 */
export async function withRotationLock<T>(
  ref: SecretRef,
  env: Readonly<Record<string, string | undefined>>,
  fn: () => Promise<T>,
  lockedError: (holder: string) => ClariguardError,
): Promise<T> {
  const path = rotationLockPath(ref, env);
  const cannot = (e: unknown) => {
    const code = (e as NodeJS.ErrnoException).code ?? 'error';
    return ioFailure(`${ref.raw}: cannot create the rotation lock ${path} (${code}); set CLARIGUARD_HOME to a writable directory`, code);
  };
  try {
    mkdirSync(join(path, '..'), { recursive: true, mode: 0o700 });
  } catch (e) {
    throw cannot(e);
  }
  const me: Owner = { pid: process.pid, host: hostname(), startedAt: new Date().toISOString() };
  const mine = JSON.stringify(me);
  for (let attempt = 0; ; attempt++) {
    let fd: number;
    try {
      fd = openSync(path, 'wx', 0o600);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw cannot(e);
      const owner = readOwner(path);
      if (attempt < 3 && isStale(path, owner)) {
        // Move the stale file aside, then check it was the one judged stale (another run may have replaced it).
        const aside = `${path}.${process.pid}.stale`;
        try {
          renameSync(path, aside);
        } catch {
          continue;
        }
        const moved = readOwner(aside);
        if (owner && moved && (moved.pid !== owner.pid || moved.startedAt !== owner.startedAt)) {
          try {
            linkSync(aside, path);
          } catch {
            // Someone else holds it now; the next attempt sees them.
          }
        }
        unlinkSync(aside);
        continue;
      }
      const holder = `${owner ? `pid ${owner.pid}${owner.host !== me.host ? ` on ${owner.host}` : ''}, started ${owner.startedAt}, ` : ''}lock file ${path}`;
      throw lockedError(holder);
    }
    try {
      writeSync(fd, mine);
    } finally {
      closeSync(fd);
    }
    break;
  }
  try {
    return await fn();
  } finally {
    // Only our own lock is removed.
    const held = readOwner(path);
    if (held && JSON.stringify(held) === mine) {
      try {
        unlinkSync(path);
      } catch {
        // Already gone.
      }
    }
  }
}
