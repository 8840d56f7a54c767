import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ClariguardError, ExitCode } from '../errors.js';
import { clariguardHome } from '../util/paths.js';
import { writeFileAtomicSync } from '../util/atomic.js';
import { pidAlive } from '../util/process.js';

/**
 * The export job journal: one small file per logical export request, written right after Clari accepted
 * the job and before the first poll, so a run that dies (Ctrl-C, OOM, reboot) is resumed by the next run of
 * the same command instead of spending quota on a second job. It holds the job id and what was asked for,
 * never a token, a URL (the results URL is short-lived and bearer-like) or any job payload. The file name is
 * a hash over the request and the API origin, so the same command finds it again.
 */
export interface ExportJobState {
  version: 1;
  kind: 'forecast' | 'activity' | 'audit';
  jobId: string;
  /** What was requested, for humans reading the file (no secrets, no URLs). */
  request: Record<string, unknown>;
  createdAt: string;
}

export function defaultStateDir(env: Readonly<Record<string, string | undefined>> = process.env): string {
  return join(clariguardHome(env), 'state', 'exports');
}

export function stateKey(kind: string, apiOrigin: string, request: Record<string, unknown>): string {
  const canonical = JSON.stringify([kind, apiOrigin, sortKeys(request)]);
  return createHash('sha256').update(canonical).digest('hex').slice(0, 32);
}

function sortKeys(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(sortKeys);
  if (v && typeof v === 'object') {
    return Object.fromEntries(
      Object.keys(v as object)
        .sort()
        .filter((k) => (v as Record<string, unknown>)[k] !== undefined)
        .map((k) => [k, sortKeys((v as Record<string, unknown>)[k])]),
    );
  }
  return v;
}

export class ExportStateStore {
  constructor(readonly dir: string) {}

  private path(key: string): string {
    return join(this.dir, `${key}.json`);
  }

  load(key: string): ExportJobState | null {
    let text: string;
    try {
      text = readFileSync(this.path(key), 'utf8');
    } catch {
      return null;
    }
    try {
      const s = JSON.parse(text) as ExportJobState;
      if (s.version !== 1 || typeof s.jobId !== 'string' || !/^[A-Za-z0-9_-]{1,128}$/.test(s.jobId)) return null;
      return s;
    } catch {
      return null; // a torn or edited file is not worth failing the export for; a new job starts
    }
  }

  save(key: string, state: ExportJobState): void {
    mkdirSync(this.dir, { recursive: true, mode: 0o700 });
    writeFileAtomicSync(this.path(key), `${JSON.stringify(state, null, 2)}\n`, 0o600);
  }

  remove(key: string): void {
    rmSync(this.path(key), { force: true });
  }

  /**
   * Holds the request's journal for the whole export: a second run of the same export (an overlapping cron,
   * a second terminal) would otherwise not see the first one's job yet and start another.
   */
  async lock(key: string): Promise<() => Promise<void>> {
    mkdirSync(this.dir, { recursive: true, mode: 0o700 });
    const path = join(this.dir, `${key}.lock`);
    // A pid file rather than a timed lock: after `kill -9` the very next run must be able to resume.
    for (let attempt = 0; attempt < 3; attempt++) {
      try {
        writeFileSync(path, `${process.pid}\n`, { flag: 'wx', mode: 0o600 });
        return async () => {
          try {
            if (readFileSync(path, 'utf8').trim() === String(process.pid)) rmSync(path, { force: true });
          } catch {
            // already gone
          }
        };
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      }
      let holder = NaN;
      try {
        holder = Number(readFileSync(path, 'utf8').trim());
      } catch {
        continue; // released meanwhile
      }
      if (Number.isInteger(holder) && holder > 0 && holder !== process.pid && pidAlive(holder)) {
        throw new ClariguardError(`another clariguard export of the same request is running (pid ${holder}); wait for it or stop it`, {
          exitCode: ExitCode.tempFail,
          code: 'locked',
        });
      }
      rmSync(path, { force: true }); // left by a process that died
    }
    throw new ClariguardError(`cannot take the export lock ${path}`, { exitCode: ExitCode.tempFail, code: 'locked' });
  }

  /** Where the state lives, for messages. */
  describe(key: string): string {
    return this.path(key);
  }
}
