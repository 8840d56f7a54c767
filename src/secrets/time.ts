const DAY_MS = 86_400_000;

/** Whole days elapsed since an ISO date (never negative). */
export function ageInDays(iso: string, now: Date = new Date()): number {
  const t = Date.parse(iso);
  if (Number.isNaN(t)) return 0;
  return Math.max(0, Math.floor((now.getTime() - t) / DAY_MS));
}
