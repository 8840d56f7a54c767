import type { RotationJournal } from './types.js';

/** The tag under which `clariguard rotate` journals a rotation in progress (ids and times only). */
export const ROTATION_TAG = 'clariguard:rotation';
/** The tag recording the last completed rotation time, for stores without a native rotation date. */
export const ROTATED_AT_TAG = 'clariguard:rotated-at';

export function journalFromTags(tags: Record<string, string>): RotationJournal | null {
  const raw = tags[ROTATION_TAG];
  if (!raw) return null;
  try {
    const j = JSON.parse(raw) as RotationJournal;
    return j && typeof j.step === 'string' ? j : null;
  } catch {
    return null;
  }
}

export function journalToTag(j: RotationJournal | null): Record<string, string | null> {
  return { [ROTATION_TAG]: j ? JSON.stringify(j) : null };
}
