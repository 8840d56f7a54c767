import type { RedactionReport } from './engine.js';

// A remembered outcome (byte-rewriter.ts, csv-rewriter.ts) must add to the report what deciding it added:
// the field rule's count, and these other counts, taken as a difference around the first decision.

/** The report's counts other than per-rule ones, in a fixed order. */
export function otherCounts(report: RedactionReport): number[] {
  const det = report.detectors;
  const uf = report.unknownFields;
  return [det.email, det.phone, det['roster-name'], det.credential, det['known-secret'], uf.kept, uf.dropped];
}

/** What otherCounts() grew by since `before`; null when nothing changed. */
export function otherCountsSince(report: RedactionReport, before: number[]): Int32Array | null {
  const after = otherCounts(report);
  let d: Int32Array | null = null;
  for (let k = 0; k < after.length; k++) {
    const x = after[k]! - before[k]!;
    if (x !== 0) (d ??= new Int32Array(after.length))[k] = x;
  }
  return d;
}

/** Adds `sign` times a difference from otherCountsSince() to the report. */
export function addOtherCounts(report: RedactionReport, d: Int32Array, sign: number): void {
  const det = report.detectors;
  det.email += sign * d[0]!;
  det.phone += sign * d[1]!;
  det['roster-name'] += sign * d[2]!;
  det.credential += sign * d[3]!;
  det['known-secret'] += sign * d[4]!;
  report.unknownFields.kept += sign * d[5]!;
  report.unknownFields.dropped += sign * d[6]!;
}

/** What deciding a value's outcome added to the counts: to the field rule's count, and the other counts. */
export interface CountsAdded {
  rule: number;
  other: Int32Array | null;
}

/**
 * Marks the counts before a value's outcome is decided for the first time (`st`: the field rule's count, if
 * any). The function returned gives what the decision added and takes it back out of the report: a remembered
 * outcome adds it again for every occurrence, the first one included.
 */
export function countsSince(report: RedactionReport, st: { n: number } | null): () => CountsAdded {
  const before = otherCounts(report);
  const ruleBefore = st ? st.n : 0;
  return () => {
    const other = otherCountsSince(report, before);
    const rule = st ? st.n - ruleBefore : 0;
    if (st) st.n = ruleBefore;
    if (other) addOtherCounts(report, other, -1);
    return { rule, other };
  };
}
