import { Readable, Writable } from 'node:stream';
import { InputError } from '../../src/errors.js';
import { parsePolicy, redactStream, type Policy, type RedactFormat } from '../../src/redact/index.js';

/** `doc` cut into pieces of the given sizes (the rest in one last piece). */
export function pieces(doc: Buffer, chunks: number[]): Buffer[] {
  const out: Buffer[] = [];
  let at = 0;
  for (const c of chunks) {
    if (at >= doc.length) break;
    out.push(doc.subarray(at, Math.min(doc.length, at + c)));
    at += c;
  }
  if (at < doc.length) out.push(doc.subarray(at));
  return out;
}

/**
 * Redacts `doc` pushed in the given pieces; with `textOnly` the byte paths are off (CLARIGUARD_REDACT_TEXT=1).
 * Gives the output text and the report's counts, or the InputError's message.
 */
export async function streamRun(doc: string, chunks: number[], o: { key: Buffer; policy: Policy; format: RedactFormat; sourceName: string; textOnly: boolean }) {
  if (o.textOnly) process.env.CLARIGUARD_REDACT_TEXT = '1';
  try {
    const parts: Buffer[] = [];
    const out = new Writable({
      write(c: Buffer, _e, cb) {
        parts.push(c);
        cb();
      },
    });
    const report = await redactStream(Readable.from(pieces(Buffer.from(doc), chunks)), out, { key: o.key, policy: o.policy, format: o.format, sourceName: o.sourceName });
    return { text: Buffer.concat(parts).toString('utf8'), report: { rows: report.rows, rules: report.rules, detectors: report.detectors, unknownFields: report.unknownFields } };
  } catch (err) {
    if (!(err instanceof InputError)) throw err;
    return { error: err.message };
  } finally {
    delete process.env.CLARIGUARD_REDACT_TEXT;
  }
}

/** The field names everyActionPolicy() puts a rule on, one per action (and as: form). */
export interface EveryActionFields {
  name: string;
  email: string;
  phone: string;
  id: string;
  auto: string;
  round: string;
  bucket: string;
  drop: string;
  mask: string;
  freeText: string;
  keep: string;
}

/** A policy with one rule of every action on the given fields (name and email feed the roster). */
export function everyActionPolicy(unknownFields: 'keep' | 'drop', f: EveryActionFields): Policy {
  return parsePolicy({
    unknownFields,
    rules: [
      { path: f.name, action: 'pseudonymize', as: 'name', roster: true },
      { path: f.email, action: 'pseudonymize-email', roster: true },
      { path: f.phone, action: 'pseudonymize', as: 'phone' },
      { path: f.id, action: 'pseudonymize', as: 'id' },
      { path: f.auto, action: 'pseudonymize', as: 'auto' },
      { path: f.round, action: 'round', to: 1000 },
      { path: f.bucket, action: 'bucket', buckets: [0, 100, 1000] },
      { path: f.drop, action: 'drop' },
      { path: f.mask, action: 'mask', with: '***' },
      { path: f.freeText, action: 'keep', freeText: true },
      { path: f.keep, action: 'keep' },
    ],
  });
}
