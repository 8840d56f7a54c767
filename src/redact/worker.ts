import { parentPort } from 'node:worker_threads';
import { isClariguardError } from '../errors.js';
import { DROP, RecordRedactor } from './engine.js';
import { redactRawRecord } from './redactor.js';
import type { Policy } from './policy.js';

/**
 * A redaction worker: the main thread splits records; workers rewrite batches of them with their own engine
 * (same policy, key and pre-pass roster) and send back the redacted text in order.
 */
export interface WorkerInit {
  type: 'init';
  policy: Policy;
  key: Uint8Array;
  source: string;
  presetName: string | null;
  format: 'json' | 'ndjson';
  roster: [string, string][];
}
export interface WorkerBatch {
  type: 'batch';
  seq: number;
  section: string | null;
  buf: Uint8Array;
  /** [start, end, line, offset] per record. */
  index: Float64Array;
  /**
   * The people the main thread's roster gained since this worker's last batch. On a stream the main thread
   * reads every chunk's roster fields before its records are batched, so with these a worker knows every
   * name one thread would know (also those whose records went to another worker).
   */
  roster: [string, string][];
}
export type WorkerReply =
  | { type: 'batch'; seq: number; text: string; count: number }
  | { type: 'error'; seq: number; message: string; exitCode: number; code: string }
  | { type: 'report'; report: ReturnType<RecordRedactor['finishReport']>; roster: [string, string][] };

let engine: RecordRedactor | undefined;
let format: 'json' | 'ndjson' = 'json';

parentPort?.on('message', (m: WorkerInit | WorkerBatch | { type: 'finish' }) => {
  if (m.type === 'init') {
    engine = new RecordRedactor(m.policy, Buffer.from(m.key), { sourceName: m.source, presetName: m.presetName });
    for (const [v, r] of m.roster) engine.roster.add(v, r);
    format = m.format;
    return;
  }
  if (m.type === 'finish') {
    parentPort!.postMessage({ type: 'report', report: engine!.finishReport(), roster: engine!.roster.entries() } satisfies WorkerReply);
    return;
  }
  const e = engine!;
  const buf = Buffer.from(m.buf.buffer, m.buf.byteOffset, m.buf.byteLength);
  const parts: string[] = [];
  for (const [v, r] of m.roster) e.roster.add(v, r);
  try {
    for (let k = 0; k < m.index.length; k += 4) {
      const s = m.index[k]!;
      const end = m.index[k + 1]!;
      const where = { line: m.index[k + 2]!, offset: m.index[k + 3]! };
      const slice = buf.subarray(s, end);
      const r = redactRawRecord(e, m.section, slice, where);
      if (r !== DROP) parts.push(r);
    }
    const text = format === 'ndjson' ? (parts.length ? `${parts.join('\n')}\n` : '') : parts.join(',\n');
    parentPort!.postMessage({ type: 'batch', seq: m.seq, text, count: parts.length } satisfies WorkerReply);
  } catch (err) {
    const ce = isClariguardError(err) ? err : undefined;
    parentPort!.postMessage({ type: 'error', seq: m.seq, message: (err as Error).message, exitCode: ce?.exitCode ?? 70, code: ce?.code ?? 'internal' } satisfies WorkerReply);
  }
});
