import type { Readable } from 'node:stream';
import { DROP, type RedactionReport } from './engine.js';
import { csvInputError, csvParser, NdjsonSplitter, Utf8Validator, type RedactFormat } from './formats.js';
import { JsonScanner } from './json-scanner.js';
import type { Policy } from './policy.js';
import { buildRedactor, type Redactor } from './redactor.js';
import { pseudonymKeyFromSecret } from './file.js';
import type { SecretValue } from '../secrets/value.js';

export { findEmails, findPhoneNumbers, findCredentials, maskPii, Roster, type Span } from './detectors.js';
export { PolicySchema, RuleSchema, parsePolicy, loadPolicyFile, type Policy, type PolicyInput, type Rule } from './policy.js';
export { PRESET_NAMES, presetPolicy, listPresets, detectPreset } from './presets.js';
export { RecordRedactor, roundValue, bucketValue, CREDENTIAL_REPLACEMENT, type RedactionReport } from './engine.js';
export { formatFromName, sniffFormat, type RedactFormat } from './formats.js';
export { verifyRedaction, type VerifyFinding, type VerifyResult } from './verify.js';
export { createPseudonymizer, pseudonymDigest, keyIdOf, normalizeForPseudonym } from './pseudonym.js';
export type { Redactor } from './redactor.js';

export { DEFAULT_KEY_REF, loadPseudonymKey, pseudonymKeyFromSecret, redactStream, rosterPrepass, redactFile, prewarmRedaction, type RedactStreamOptions, type RedactFileOptions } from './file.js';

/**
 * A redactor for a known policy: a byte transform per format, one-record redaction, and the report. The key
 * is its bytes (loadPseudonymKey) or the SecretValue a store returned (decoded as loadPseudonymKey does).
 */
export function createRedactor(policy: Policy, key: Buffer | SecretValue, options: { sourceName?: string } = {}): Redactor {
  const bytes = Buffer.isBuffer(key) ? key : pseudonymKeyFromSecret(key);
  return buildRedactor(policy, bytes, { sourceName: options.sourceName, presetName: null });
}

/**
 * Streams the records of an export: for the normalised forecast JSON one item per element of users[],
 * entries[], fields[], timePeriods[], timeFrames[] (section = that key) and each other top-level object value;
 * for NDJSON or a top-level array section null; CSV rows as objects keyed by the header.
 */
export async function* parseRecords(
  input: Readable,
  format: RedactFormat,
  sourceName: string,
): AsyncIterable<{ section: string | null; record: Record<string, unknown> }> {
  type Item = { section: string | null; record: Record<string, unknown> };
  if (format === 'csv') {
    const parser = csvParser();
    const src = input.pipe(new Utf8Validator(sourceName));
    src.on('error', (e) => parser.destroy(e));
    input.on('error', (e) => parser.destroy(e));
    src.pipe(parser);
    let header: string[] | null = null;
    try {
      for await (const { record } of parser as AsyncIterable<{ record: string[] }>) {
        if (!header) {
          header = record;
          continue;
        }
        const o: Record<string, unknown> = {};
        for (let i = 0; i < header.length; i++) o[header[i]!] = record[i];
        yield { section: null, record: o };
      }
    } catch (e) {
      throw csvInputError(sourceName, e);
    }
    return;
  }
  let queue: Item[] = [];
  const asRecord = (v: unknown): Record<string, unknown> => (v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : { value: v });
  const scanner =
    format === 'ndjson'
      ? new NdjsonSplitter(sourceName, (v) => queue.push({ section: null, record: asRecord(v) }))
      : new JsonScanner(sourceName, {
          open() {},
          sectionStart() {},
          sectionEnd() {},
          record: (section, v) => queue.push({ section, record: asRecord(v) }),
          value: (section, v) => {
            if (v !== null && typeof v === 'object' && !Array.isArray(v)) queue.push({ section, record: v as Record<string, unknown> });
          },
          close() {},
        });
  for await (const chunk of input) {
    scanner.push(typeof chunk === 'string' ? Buffer.from(chunk) : (chunk as Buffer));
    const q = queue;
    queue = [];
    yield* q;
  }
  scanner.end();
  yield* queue;
}

/** Redacts records already in memory (tests, small jobs): same engine, no streams. */
export function redactRecords(records: { section: string | null; record: unknown }[], policy: Policy, key: Buffer): { records: unknown[]; report: RedactionReport } {
  const r = createRedactor(policy, key);
  const out = records.map((x) => r.engine.redactRecord(x.record, x.section)).filter((x) => x !== DROP);
  return { records: out, report: r.report() };
}
