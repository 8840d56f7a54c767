import { Readable, Writable } from 'node:stream';
import { InputError } from '../../src/errors.js';
import { redactStream, type Policy, type RedactFormat } from '../../src/redact/index.js';

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
