import type { Writable } from 'node:stream';
import { ClariguardError, ExitCode, SecretNotFoundError } from '../errors.js';
import { openSecret, type SecretOptions } from '../secrets/index.js';
import { journalFromTags, journalToTag, ROTATED_AT_TAG } from '../secrets/journal.js';
import type { SecretRef } from '../secrets/ref.js';
import type { RotationJournal, SecretBackend, SecretDescription } from '../secrets/types.js';
import type { SecretValue } from '../secrets/value.js';
import { loadConsumers, runConsumerCheck, type ConsumerCheck, type ConsumerResult } from './consumers.js';
import { withRotationLock } from './lock.js';
import { clariBaseUrl, clariTokenValidator, type TokenCheck, type TokenValidator } from './validate.js';

/** Kept beside the rotation date so a rollback can restore the date of the token it brings back. */
export const PREVIOUS_ROTATED_AT_TAG = 'clariguard:previous-rotated-at';

/** Points where `afterStep` is called, each once its effect is durable in the store. */
export type RotationCheckpoint = 'create' | 'test' | 'set' | 'promote';

/** The journal as rotate writes it: the foundation's fields plus how many consumers the run had. */
interface Journal extends RotationJournal {
  /** Consumers configured when the rotation started; resume insists on getting them again. */
  consumers?: number;
}

export interface RotationBaseOptions extends SecretOptions {
  /** Clari API base URL for the token check (default: CLARI_BASE_URL, else https://api.clari.com/v4). */
  baseUrl?: string;
  /** Replaces the Clari check (tests, other Clari-compatible endpoints). */
  validator?: TokenValidator;
  /** One-line progress messages (the CLI prints them on stderr). Never contain a token. */
  onMessage?: (line: string) => void;
  /** Called at each durable checkpoint; the CLI's test-only crash hook uses it. */
  afterStep?: (checkpoint: RotationCheckpoint) => void | Promise<void>;
}

export interface RotateStepsOptions extends RotationBaseOptions {
  /** Consumer checks, or the path of a consumers.yml. */
  consumers?: ConsumerCheck[] | string;
  /** Where command checks' masked output goes (default process.stderr). */
  consumerOutput?: Writable;
}

export interface RotateOptions extends RotateStepsOptions {
  /** The new token, or a function asked for it once the pre-checks passed (a prompt, stdin). */
  newToken: SecretValue | (() => Promise<SecretValue>);
}

export interface ResumeOptions extends RotateStepsOptions {
  /** Only needed when the run was interrupted before the pending version was stored. */
  newToken?: SecretValue | (() => Promise<SecretValue>);
}

export interface FinishOptions extends RotationBaseOptions {
  /** The user's confirmation that the old token was revoked in Clari (or a function asking for it). */
  confirmRevoked: boolean | (() => Promise<boolean>);
  /** Skip asking Clari whether the previous token still works (offline use). */
  skipRevocationCheck?: boolean;
}

export interface RollbackOptions extends RotationBaseOptions {
  /** Skip asking Clari whether the previous token still works before making it current again. */
  skipTokenCheck?: boolean;
}

export type RotationStepName = 'create' | 'test' | 'set' | 'finish';

export interface RotationReport {
  ref: string;
  action: 'rotate' | 'resume' | 'finish' | 'rollback';
  outcome: 'rotated' | 'previous-destroyed' | 'rolled-back' | 'abandoned' | 'nothing-to-do';
  currentVersionId: string | null;
  previousVersionId: string | null;
  rotatedAt: string | null;
  /** Steps this run performed (`done`) or found already done by an interrupted run (`already-done`). */
  steps: { step: RotationStepName; status: 'done' | 'already-done'; detail: string }[];
  consumers: ConsumerResult[];
  /** What the user still has to do by hand, or null. */
  nextAction: string | null;
}

/** A rotation refused or stopped; `report` says how far it got. */
export class RotationError extends ClariguardError {
  readonly report?: RotationReport;
  constructor(message: string, options: { exitCode: number; code: string; report?: RotationReport; cause?: unknown }) {
    super(message, options);
    this.report = options.report;
  }
}

const STEP_ORDER: Journal['step'][] = ['create', 'test', 'set', 'finish', 'done'];

interface Ctx {
  ref: SecretRef;
  backend: SecretBackend;
  o: RotationBaseOptions;
  say: (line: string) => void;
  validator: () => TokenValidator;
  baseUrl: string;
}

function context(refInput: string | SecretRef, o: RotationBaseOptions): Ctx {
  const { ref, backend } = openSecret(refInput, o);
  if (!backend.capabilities.write || !backend.capabilities.stages) {
    throw new ClariguardError(`${ref.raw}: the ${backend.scheme}: store cannot hold versions; rotate a secret in a writable store (local:, aws-sm://, vault://, gcp-sm://, azure-kv://)`, {
      exitCode: ExitCode.usage,
      code: 'usage',
    });
  }
  const baseUrl = clariBaseUrl(o.baseUrl, o.env ?? process.env);
  // Built now so a bad --base-url is refused before anything is stored.
  const v: TokenValidator = o.validator ?? clariTokenValidator(baseUrl);
  return {
    ref,
    backend,
    o,
    baseUrl,
    say: (line) => o.onMessage?.(line),
    validator: () => v,
  };
}

const stageHolder = (d: SecretDescription, stage: 'current' | 'pending' | 'previous') => d.versions.find((v) => v.stages.includes(stage))?.id ?? null;

function revokeText(ref: string, previousVersionId: string | null): string {
  return (
    `revoke the old token in Clari (Settings → API Token) once the grace period for your consumers is over, ` +
    `then run: clariguard rotate ${ref} --finish` +
    (previousVersionId ? ` (destroys the previous version ${previousVersionId})` : '')
  );
}

async function saveJournal(c: Ctx, j: Journal | null, extra: Record<string, string | null> = {}): Promise<void> {
  await c.backend.setTags(c.ref, { ...journalToTag(j), ...extra });
}

function consumersOf(o: RotateStepsOptions): ConsumerCheck[] {
  if (o.consumers === undefined) return [];
  return typeof o.consumers === 'string' ? loadConsumers(o.consumers) : o.consumers;
}

async function tokenOf(t: SecretValue | (() => Promise<SecretValue>)): Promise<SecretValue> {
  return typeof t === 'function' ? t() : t;
}

/** One rotate/resume/finish/rollback at a time per secret on this machine; a second one is refused (exit 75). */
function locked<T>(c: Ctx, fn: () => Promise<T>): Promise<T> {
  return withRotationLock(c.ref, c.o.env ?? process.env, fn, (holder) =>
    new RotationError(
      `${c.ref.raw}: another clariguard rotate (${holder}) is working on this secret; wait for it to finish (a lock whose process is gone is taken over; delete the lock file only if no clariguard rotate is running)`,
      { exitCode: ExitCode.tempFail, code: 'locked' },
    ),
  );
}

function inProgressError(c: Ctx, j: Journal): RotationError {
  return new RotationError(
    `${c.ref.raw}: a rotation is already in progress (step ${j.step}, started ${j.startedAt}); continue it with clariguard rotate ${c.ref.raw} --resume, or abandon it with --rollback`,
    { exitCode: ExitCode.tempFail, code: 'rotation_in_progress' },
  );
}

/**
 * Rotates the token behind `ref`, modelled on AWS's four rotation steps. Each step is journalled in the
 * store's tags (ids and times only) before the next starts, so an interruption at any point leaves the
 * current token in place and `resumeRotation` continues from the recorded step:
 *  1. create: store the new token as the pending version (refused if it equals the current one);
 *  2. test:   ask Clari with the pending token (a 401/403 removes it again, nothing else changes);
 *  3. set:    run every consumer check with the pending token injected; any failure stops here;
 *  4. finish: promote pending to current in one store operation, record the rotation date.
 */
export async function rotateToken(refInput: string | SecretRef, o: RotateOptions): Promise<RotationReport> {
  const c = context(refInput, o);
  return locked(c, () => rotateTokenLocked(c, o));
}

async function rotateTokenLocked(c: Ctx, o: RotateOptions): Promise<RotationReport> {
  const consumers = consumersOf(o);
  const before = await c.backend.describe(c.ref);
  const j = journalFromTags(before.tags);
  if (j) throw inProgressError(c, j);
  const currentId = stageHolder(before, 'current');
  if (!currentId) throw new SecretNotFoundError(c.ref.raw, 'no current version to rotate (store the first token with clariguard secret set)');
  const report = newReport(c, 'rotate');
  const now = new Date().toISOString();
  const journal: Journal = { step: 'create', previousVersionId: currentId, startedAt: now, updatedAt: now, ...(consumers.length ? { consumers: consumers.length } : {}) };
  await createStep(c, journal, await tokenOf(o.newToken), report);
  return runFrom(c, journal, consumers, o, report);
}

/** Continues an interrupted rotation from the step its journal records. */
export async function resumeRotation(refInput: string | SecretRef, o: ResumeOptions = {}): Promise<RotationReport> {
  const c = context(refInput, o);
  return locked(c, () => resumeRotationLocked(c, o));
}

async function resumeRotationLocked(c: Ctx, o: ResumeOptions): Promise<RotationReport> {
  const d = await c.backend.describe(c.ref);
  const j = journalFromTags(d.tags) as Journal | null;
  if (!j) {
    throw new RotationError(`${c.ref.raw}: no rotation in progress to resume (start one with clariguard rotate ${c.ref.raw})`, {
      exitCode: ExitCode.noInput,
      code: 'no_rotation',
    });
  }
  const consumers = consumersOf(o);
  if (j.consumers && consumers.length === 0 && STEP_ORDER.indexOf(j.step) <= STEP_ORDER.indexOf('set')) {
    throw new RotationError(`${c.ref.raw}: this rotation was started with ${j.consumers} consumer check(s); pass the same --consumers file to --resume`, {
      exitCode: ExitCode.usage,
      code: 'usage',
    });
  }
  const report = newReport(c, 'resume');
  c.say(`resuming the rotation of ${c.ref.raw} at step ${j.step} (started ${j.startedAt})`);
  if (j.step === 'create') {
    // Interrupted inside create: the pending version may or may not have been stored.
    const pendingId = j.pendingVersionId ?? stageHolder(d, 'pending');
    if (pendingId) {
      await advance(c, j, 'test', { pendingVersionId: pendingId });
      report.steps.push({ step: 'create', status: 'already-done', detail: `pending version ${pendingId}` });
      await c.o.afterStep?.('create');
    } else {
      if (!o.newToken) {
        throw new RotationError(`${c.ref.raw}: the interrupted rotation never stored the new token; give it again on stdin`, { exitCode: ExitCode.usage, code: 'usage' });
      }
      await createStep(c, j, await tokenOf(o.newToken), report);
    }
  } else {
    report.steps.push({ step: 'create', status: 'already-done', detail: `pending version ${j.pendingVersionId ?? 'unknown'}` });
  }
  return runFrom(c, j, consumers, o, report);
}

function newReport(c: Ctx, action: RotationReport['action']): RotationReport {
  return { ref: c.ref.raw, action, outcome: 'nothing-to-do', currentVersionId: null, previousVersionId: null, rotatedAt: null, steps: [], consumers: [], nextAction: null };
}

async function advance(c: Ctx, j: Journal, step: Journal['step'], fields: Partial<Journal> = {}): Promise<void> {
  Object.assign(j, fields, { step, updatedAt: new Date().toISOString() });
  await saveJournal(c, j);
}

async function createStep(c: Ctx, j: Journal, token: SecretValue, report: RotationReport): Promise<void> {
  const current = await c.backend.read(c.ref);
  if (token.equals(current)) {
    throw new RotationError(`${c.ref.raw}: the new token is the current token; generate a new one in Clari (Settings → API Token) first`, {
      exitCode: ExitCode.usage,
      code: 'same_token',
    });
  }
  try {
    const previous = await c.backend.read(c.ref, { stage: 'previous' });
    if (token.equals(previous)) {
      throw new RotationError(`${c.ref.raw}: the new token is the previous token, which should be revoked; generate a new one in Clari (Settings → API Token)`, {
        exitCode: ExitCode.usage,
        code: 'same_token',
      });
    }
  } catch (e) {
    if ((e as { code?: string }).code !== 'secret_not_found') throw e;
    // No previous version: nothing to compare with.
  }
  // The journal rides on the write itself, so a crash right after it still finds the rotation.
  const { versionId } = await c.backend.write(c.ref, token, { stage: 'pending', tags: journalToTag(j) });
  await advance(c, j, 'test', { pendingVersionId: versionId });
  report.steps.push({ step: 'create', status: 'done', detail: `stored the new token as pending version ${versionId}` });
  c.say(`create: stored the new token as pending version ${versionId} (${token.masked()})`);
  await c.o.afterStep?.('create');
}

async function runFrom(c: Ctx, j: Journal, consumers: ConsumerCheck[], o: RotateStepsOptions, report: RotationReport): Promise<RotationReport> {
  const pendingId = j.pendingVersionId!;
  const d = await c.backend.describe(c.ref);
  const version = d.versions.find((v) => v.id === pendingId);
  const currentId = stageHolder(d, 'current');
  if (!version) {
    throw new RotationError(`${c.ref.raw}: the pending version ${pendingId} of this rotation no longer exists; run clariguard rotate ${c.ref.raw} --rollback to clear the rotation`, {
      exitCode: ExitCode.noInput,
      code: 'pending_missing',
    });
  }
  if (j.step !== 'finish' && currentId !== j.previousVersionId) {
    throw new RotationError(
      `${c.ref.raw}: the current version changed since the rotation started (was ${j.previousVersionId}, now ${currentId}); run clariguard rotate ${c.ref.raw} --rollback and start again`,
      { exitCode: ExitCode.tempFail, code: 'current_changed' },
    );
  }

  if (j.step === 'test') {
    const pending = await c.backend.read(c.ref, { versionId: pendingId });
    let check: TokenCheck;
    try {
      check = await c.validator()(pending);
    } catch (e) {
      if (!(e instanceof ClariguardError)) throw e;
      throw new RotationError(
        `${c.ref.raw}: could not check the new token with Clari (${e.message}); the current token is unchanged and the rotation is kept at step test: run clariguard rotate ${c.ref.raw} --resume once Clari is reachable, or --rollback`,
        { exitCode: e.exitCode, code: e.code, cause: e },
      );
    }
    if (!check.ok) {
      await c.backend.deleteVersion(c.ref, pendingId);
      await saveJournal(c, null);
      throw new RotationError(
        `${c.ref.raw}: Clari rejected the new token (${check.detail}); the pending version was removed and the current token is unchanged. ` +
          `Check that you copied the whole token, that it belongs to an active Clari user with API access, and that --base-url (${c.baseUrl}) is your Clari API`,
        { exitCode: ExitCode.noPermission, code: 'token_rejected' },
      );
    }
    await advance(c, j, 'set');
    report.steps.push({ step: 'test', status: 'done', detail: `Clari accepted the pending token (GET /admin/limits)` });
    c.say(`test: Clari accepted the new token (GET ${c.baseUrl}/admin/limits)`);
    await c.o.afterStep?.('test');
  } else if (STEP_ORDER.indexOf(j.step) > STEP_ORDER.indexOf('test')) {
    report.steps.push({ step: 'test', status: 'already-done', detail: 'done by the interrupted run' });
  }

  if (j.step === 'set') {
    const pending = await c.backend.read(c.ref, { versionId: pendingId });
    for (const check of consumers) {
      c.say(`set: checking consumer "${check.name}"…`);
      const r = await runConsumerCheck(check, pending, { output: o.consumerOutput, baseEnv: o.env ?? process.env });
      report.consumers.push(r);
      c.say(`set: consumer "${check.name}" ${r.ok ? 'ok' : 'FAILED'}: ${r.detail}`);
    }
    const failed = report.consumers.filter((r) => !r.ok);
    if (failed.length > 0) {
      report.currentVersionId = currentId;
      throw new RotationError(
        `${c.ref.raw}: ${failed.length} consumer check(s) failed with the new token (${failed.map((f) => `${f.name}: ${f.detail}`).join('; ')}); ` +
          `nothing was promoted, the current token is unchanged. Fix them and run clariguard rotate ${c.ref.raw} --resume, or abandon with --rollback`,
        { exitCode: ExitCode.findings, code: 'consumer_failed', report },
      );
    }
    await advance(c, j, 'finish');
    report.steps.push({ step: 'set', status: 'done', detail: consumers.length ? `${consumers.length} consumer check(s) passed` : 'no consumers configured' });
    if (consumers.length === 0) c.say('set: no consumers configured (--consumers); nothing to check');
    await c.o.afterStep?.('set');
  } else if (STEP_ORDER.indexOf(j.step) > STEP_ORDER.indexOf('set')) {
    report.steps.push({ step: 'set', status: 'already-done', detail: 'done by the interrupted run' });
  }

  // finish
  const now = await c.backend.describe(c.ref);
  let previousId: string | null;
  if (stageHolder(now, 'current') === pendingId) {
    previousId = stageHolder(now, 'previous');
    report.steps.push({ step: 'finish', status: 'already-done', detail: `version ${pendingId} was already current` });
  } else {
    const oldRotatedAt = now.rotatedAt ?? now.tags[ROTATED_AT_TAG] ?? null;
    // Recorded before the promotion so a crash between the two still lets --rollback restore the date.
    await c.backend.setTags(c.ref, { [PREVIOUS_ROTATED_AT_TAG]: oldRotatedAt });
    await c.backend.promote(c.ref, pendingId);
    previousId = j.previousVersionId ?? null;
    report.steps.push({ step: 'finish', status: 'done', detail: `version ${pendingId} is current, ${previousId ?? 'none'} is previous` });
    await c.o.afterStep?.('promote');
  }
  const after = await c.backend.describe(c.ref);
  // Stores without a native rotation date may report the last one (from the tag): only trust a date
  // from this rotation.
  const native = after.rotatedAt && Date.parse(after.rotatedAt) >= Date.parse(j.startedAt) ? after.rotatedAt : null;
  const rotatedAt = native ?? new Date().toISOString();
  await saveJournal(c, null, { [ROTATED_AT_TAG]: rotatedAt });
  c.say(`finish: version ${pendingId} is now current${previousId ? `; the old token stays as previous version ${previousId}` : ''}`);
  Object.assign(report, {
    outcome: 'rotated',
    currentVersionId: pendingId,
    previousVersionId: stageHolder(after, 'previous'),
    rotatedAt,
    nextAction: revokeText(c.ref.raw, stageHolder(after, 'previous')),
  } satisfies Partial<RotationReport>);
  return report;
}

/**
 * After the old token was revoked in Clari: destroys the previous version. Asks Clari first whether the
 * previous token still works and refuses if it does (unless `skipRevocationCheck`).
 */
export async function finishRotation(refInput: string | SecretRef, o: FinishOptions): Promise<RotationReport> {
  const c = context(refInput, o);
  return locked(c, () => finishRotationLocked(c, o));
}

async function finishRotationLocked(c: Ctx, o: FinishOptions): Promise<RotationReport> {
  const d = await c.backend.describe(c.ref);
  const j = journalFromTags(d.tags);
  if (j) throw inProgressError(c, j);
  const report = newReport(c, 'finish');
  report.currentVersionId = stageHolder(d, 'current');
  const previousId = stageHolder(d, 'previous');
  if (!previousId) {
    c.say(`${c.ref.raw}: no previous version left; nothing to destroy`);
    return report;
  }
  if (!o.skipRevocationCheck) {
    const previous = await c.backend.read(c.ref, { versionId: previousId });
    const check = await c.validator()(previous);
    if (check.ok) {
      report.previousVersionId = previousId;
      throw new RotationError(
        `${c.ref.raw}: the previous token still works at ${c.baseUrl}; revoke it in Clari (Settings → API Token) first, then run --finish again (the previous version ${previousId} was kept)`,
        { exitCode: ExitCode.findings, code: 'previous_not_revoked', report },
      );
    }
    c.say(`finish: Clari no longer accepts the previous token (${check.detail})`);
  }
  const confirmed = typeof o.confirmRevoked === 'function' ? await o.confirmRevoked() : o.confirmRevoked;
  if (!confirmed) {
    throw new RotationError(`${c.ref.raw}: not confirmed that the old token was revoked in Clari; the previous version ${previousId} was kept`, {
      exitCode: ExitCode.usage,
      code: 'not_confirmed',
    });
  }
  await c.backend.deleteVersion(c.ref, previousId);
  await c.backend.setTags(c.ref, { [PREVIOUS_ROTATED_AT_TAG]: null });
  c.say(`finish: destroyed the previous version ${previousId}; only the current token remains`);
  const after = await c.backend.describe(c.ref);
  Object.assign(report, { outcome: 'previous-destroyed', previousVersionId: null, rotatedAt: after.rotatedAt ?? after.tags[ROTATED_AT_TAG] ?? null });
  return report;
}

/**
 * Undoes a rotation. In progress: removes the pending version and the journal (or, when the interrupted
 * run had already promoted, swaps back). Completed: makes the previous version current again while it
 * exists, after checking that Clari still accepts it (unless `skipTokenCheck`).
 */
export async function rollbackRotation(refInput: string | SecretRef, o: RollbackOptions = {}): Promise<RotationReport> {
  const c = context(refInput, o);
  return locked(c, () => rollbackRotationLocked(c, o));
}

async function rollbackRotationLocked(c: Ctx, o: RollbackOptions): Promise<RotationReport> {
  const d = await c.backend.describe(c.ref);
  const j = journalFromTags(d.tags);
  const report = newReport(c, 'rollback');
  const currentId = stageHolder(d, 'current');
  if (j && (!j.pendingVersionId || currentId !== j.pendingVersionId)) {
    // Not promoted yet: the current token never changed; drop the pending one.
    const pendingId = j.pendingVersionId ?? stageHolder(d, 'pending');
    if (pendingId && d.versions.some((v) => v.id === pendingId && !v.stages.includes('current'))) await c.backend.deleteVersion(c.ref, pendingId);
    await saveJournal(c, null);
    c.say(`rollback: abandoned the rotation at step ${j.step}${pendingId ? `; removed pending version ${pendingId}` : ''}; the current token is unchanged`);
    Object.assign(report, { outcome: 'abandoned', currentVersionId: currentId, previousVersionId: stageHolder(d, 'previous'), rotatedAt: d.rotatedAt });
    return report;
  }
  const previousId = stageHolder(d, 'previous');
  if (!previousId) {
    throw new RotationError(`${c.ref.raw}: no previous version to roll back to (it was destroyed by rotate --finish, or the secret was never rotated)`, {
      exitCode: ExitCode.noInput,
      code: 'no_previous',
    });
  }
  if (!o.skipTokenCheck) {
    const previous = await c.backend.read(c.ref, { versionId: previousId });
    const check = await c.validator()(previous);
    if (!check.ok) {
      throw new RotationError(
        `${c.ref.raw}: Clari no longer accepts the previous token (${check.detail}); it was probably revoked, so rolling back would break every consumer. Nothing was changed`,
        { exitCode: ExitCode.noPermission, code: 'previous_rejected' },
      );
    }
  }
  const restoredDate = d.tags[PREVIOUS_ROTATED_AT_TAG] ?? null;
  const replacedDate = d.rotatedAt ?? d.tags[ROTATED_AT_TAG] ?? null;
  await c.backend.promote(c.ref, previousId);
  // The token brought back is as old as its own rotation, not as the rollback.
  await c.backend.setTags(c.ref, {
    ...journalToTag(null),
    [ROTATED_AT_TAG]: restoredDate,
    [PREVIOUS_ROTATED_AT_TAG]: replacedDate,
  });
  const after = await c.backend.describe(c.ref);
  c.say(`rollback: version ${previousId} is current again; version ${currentId} is now previous`);
  Object.assign(report, {
    outcome: 'rolled-back',
    currentVersionId: previousId,
    previousVersionId: stageHolder(after, 'previous'),
    rotatedAt: restoredDate ?? after.rotatedAt,
    nextAction: `if the rolled-back token was compromised, generate a new one in Clari and run clariguard rotate ${c.ref.raw} again`,
  } satisfies Partial<RotationReport>);
  return report;
}
