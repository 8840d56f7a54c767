import { randomBytes } from 'node:crypto';
import { closeSync, fsyncSync, openSync, renameSync, rmSync, writeSync } from 'node:fs';
import { open, rename, rm, type FileHandle } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { Writable } from 'node:stream';

/**
 * Temp files of writers still in progress. They are removed if the process exits or is interrupted
 * (SIGINT/SIGTERM/SIGHUP) before commit, so a cancelled export leaves nothing behind. Only SIGKILL can
 * leave one, and it is a hidden `.NAME.PID.RANDOM.tmp` file beside the target, never the target itself.
 */
const activeTemps = new Set<string>();
let hooksInstalled = false;
const CLEANUP_SIGNALS: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];

function removeActiveTempsSync(): void {
  for (const p of activeTemps) rmSync(p, { force: true, recursive: true });
  activeTemps.clear();
}

function onSignal(sig: NodeJS.Signals): void {
  removeActiveTempsSync();
  // Re-raise only if nobody else handles this signal, so the process still dies of it. signal-exit (loaded by
  // proper-lockfile) does not count: it defers to every other listener, as this one would to it, and the
  // signal was swallowed (Ctrl-C did not stop `redact --out`).
  const signalExit = (process as { __signal_exit_emitter__?: unknown }).__signal_exit_emitter__ ? 1 : 0;
  if (process.listenerCount(sig) - signalExit <= 1) {
    uninstallHooks();
    process.kill(process.pid, sig);
  }
}
const signalHandlers = new Map<NodeJS.Signals, () => void>(CLEANUP_SIGNALS.map((s) => [s, () => onSignal(s)]));

function installHooks(): void {
  if (hooksInstalled) return;
  hooksInstalled = true;
  process.on('exit', removeActiveTempsSync);
  for (const [sig, h] of signalHandlers) process.on(sig, h);
}

function uninstallHooks(): void {
  if (!hooksInstalled) return;
  hooksInstalled = false;
  process.off('exit', removeActiveTempsSync);
  for (const [sig, h] of signalHandlers) process.off(sig, h);
}

/** Registers a temp file or directory to remove if the process exits or is interrupted before untrackTemp. */
export function trackTemp(p: string): void {
  activeTemps.add(p);
  installHooks();
}

export function untrackTemp(p: string): void {
  activeTemps.delete(p);
  if (activeTemps.size === 0) uninstallHooks();
}

/** A temp path beside `target`, so the final rename stays on one filesystem and is atomic. */
export function tempPathFor(target: string): string {
  return join(dirname(target), `.${basename(target)}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`);
}

function fsyncDir(dir: string): void {
  try {
    const fd = openSync(dir, 'r');
    try {
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
  } catch {
    // Some filesystems refuse fsync on directories; the rename is still atomic.
  }
}

/** Writes all of `b` at the fd's position (a short write continues where it stopped). */
export function writeAll(fd: number, b: Uint8Array): void {
  let off = 0;
  while (off < b.length) off += writeSync(fd, b, off, b.length - off);
}

/** Writes `data` to `target` atomically: temp file (given mode), fsync, rename, fsync of the directory. */
export function writeFileAtomicSync(target: string, data: Uint8Array | string, mode = 0o600): void {
  const tmp = tempPathFor(target);
  const fd = openSync(tmp, 'wx', mode);
  try {
    writeAll(fd, typeof data === 'string' ? Buffer.from(data) : data);
    fsyncSync(fd);
  } catch (e) {
    closeSync(fd);
    rmSync(tmp, { force: true });
    throw e;
  }
  closeSync(fd);
  try {
    renameSync(tmp, target);
  } catch (e) {
    rmSync(tmp, { force: true });
    throw e;
  }
  fsyncDir(dirname(target));
}

/** Bytes written between two early fdatasyncs of a big output. */
const SYNC_EVERY = 32 << 20;

/**
 * A Writable over a temp file that becomes `target` only when `commit()` is called after the
 * stream finished; `abort()` (or any error) removes the temp file, so a failed run leaves nothing.
 */
export class AtomicFileWriter extends Writable {
  readonly target: string;
  readonly tempPath: string;
  private handle?: FileHandle;
  private readonly mode: number;
  private done = false;

  constructor(target: string, options: { mode?: number; highWaterMark?: number } = {}) {
    // autoDestroy off: destroying after 'finish' would remove the temp file before commit() renames it.
    super({ highWaterMark: options.highWaterMark ?? 1 << 20, autoDestroy: false });
    this.target = target;
    this.tempPath = tempPathFor(target);
    this.mode = options.mode ?? 0o600;
  }

  override _construct(cb: (err?: Error | null) => void): void {
    trackTemp(this.tempPath);
    open(this.tempPath, 'wx', this.mode).then(
      (h) => {
        this.handle = h;
        cb();
      },
      (e: Error) => cb(e),
    );
  }

  // Writes are synchronous, as process.stdout's are for a file: a write into the page cache takes well under a
  // millisecond per MiB, and going through the thread pool and a promise per chunk cost more than that (a
  // one-thread redaction of 274 MB took ~1 s longer with --out than with stdout redirected to a file).
  // Durability comes from the fdatasync calls, which do run in the thread pool.
  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (err?: Error | null) => void): void {
    try {
      writeAll(this.handle!.fd, chunk);
    } catch (e) {
      return cb(e as Error);
    }
    this.wrote(chunk.length, cb);
  }

  override _writev(chunks: { chunk: Buffer }[], cb: (err?: Error | null) => void): void {
    let n = 0;
    try {
      for (const c of chunks) {
        writeAll(this.handle!.fd, c.chunk);
        n += c.chunk.length;
      }
    } catch (e) {
      return cb(e as Error);
    }
    this.wrote(n, cb);
  }

  // A big output is flushed to disk while it is being written (one fdatasync in flight at a time, every
  // SYNC_EVERY bytes), so the fsync before the rename has little left to do instead of the whole file.
  private unsynced = 0;
  private syncing: Promise<void> | null = null;
  private syncError: Error | null = null;
  private wrote(n: number, cb: (err?: Error | null) => void): void {
    if (this.syncError) return cb(this.syncError);
    this.unsynced += n;
    if (this.unsynced >= SYNC_EVERY && !this.syncing && this.handle) {
      this.unsynced = 0;
      this.syncing = this.handle.datasync().then(
        () => {
          this.syncing = null;
        },
        (e: Error) => {
          this.syncing = null;
          this.syncError = e;
        },
      );
    }
    cb();
  }

  override _final(cb: (err?: Error | null) => void): void {
    Promise.resolve(this.syncing)
      .then(() => {
        if (this.syncError) throw this.syncError;
        return this.handle!.sync();
      })
      .then(() => cb(), cb);
  }

  override _destroy(err: Error | null, cb: (err?: Error | null) => void): void {
    const h = this.handle;
    this.handle = undefined;
    const close = h ? h.close().catch(() => undefined) : Promise.resolve();
    close.then(async () => {
      if (!this.done) await rm(this.tempPath, { force: true });
      untrackTemp(this.tempPath);
      cb(err);
    });
  }

  /** Renames the finished temp file over the target. Call after the pipeline completed successfully. */
  async commit(): Promise<void> {
    if (!this.writableFinished) throw new Error('AtomicFileWriter.commit() before the stream finished');
    await this.handle?.close();
    this.handle = undefined;
    await rename(this.tempPath, this.target);
    this.done = true;
    untrackTemp(this.tempPath);
    fsyncDir(dirname(this.target));
  }

  /** Discards the output. Safe to call more than once. */
  async abort(): Promise<void> {
    if (this.done) return;
    await this.handle?.close().catch(() => undefined);
    this.handle = undefined;
    await rm(this.tempPath, { force: true });
    untrackTemp(this.tempPath);
    if (!this.destroyed) this.destroy();
  }
}
