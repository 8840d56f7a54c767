import { createHash } from 'node:crypto';
import { createReadStream, readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { parse as parseCsv } from 'csv-parse/sync';
import { InputError, inputFileError } from '../errors.js';
import { findEmails, findPhoneNumbers, maskPii, Roster, tokensOf } from './detectors.js';
import { normalizeForPseudonym } from './pseudonym.js';

export interface VerifyFinding {
  file: string;
  line: number;
  column?: number;
  kind: 'email' | 'phone' | 'roster-name' | 'unkeyed-sha256';
  /** Masked: never the PII in full. */
  detail: string;
}

export interface VerifyResult {
  clean: boolean;
  findings: VerifyFinding[];
  /** Distinct bare-hash values that were reversed to a roster entry. */
  reversed: number;
  /** Findings beyond the listed ones (the list is capped). */
  omitted?: number;
}

const MAX_FINDINGS = 10_000;

// Keyed pseudonyms (`Person-<20 hex>-k<6 hex>`, `<20 hex>-k<6 hex>@domain`) are what redaction should leave.
const PSEUDONYM_RE = /(?:[A-Za-z][A-Za-z0-9]*-)?[0-9a-f]{20}-k[0-9a-f]{6}(?:@[A-Za-z0-9.-]+)?/g;
// JSON numbers (amounts, epoch milliseconds) are not phone numbers; blank them before the phone search.
const JSON_NUMBER_RE = /(?<=[:[,]\s*)-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?(?=\s*[,\]}])/g;
const HEX_RUN_RE = /(?<![0-9A-Fa-f])[0-9A-Fa-f]{8,64}(?![0-9A-Fa-f])/g;
/** The same runs, except a number written in E.164 form (+14155550134): that is a phone number, not a hash. */
const HEX_RUN_NOT_E164_RE = /(?<![0-9A-Fa-f+])[0-9A-Fa-f]{8,64}(?![0-9A-Fa-f])/g;

const blank = (m: string): string => ' '.repeat(m.length);

interface HashEntry {
  hash: string;
  value: string;
}

/** Reads a roster CSV: the columns whose header says name/email/user, or every cell when none does. */
export function readRosterCsv(file: string): string[] {
  let rows: string[][];
  try {
    rows = parseCsv(readFileSync(file), { bom: true, relax_column_count: true, skip_empty_lines: true }) as string[][];
  } catch (e) {
    const err = e as { code?: string; lines?: number; message?: string };
    if (err.code && /^E[A-Z]+$/.test(err.code) && err.lines === undefined) throw inputFileError(file, e, 'cannot read roster');
    throw new InputError(file, `cannot read roster: ${err.code ?? err.message ?? 'error'}`, { line: err.lines });
  }
  if (rows.length === 0) return [];
  const header = rows[0]!;
  const cols = header.map((h, i) => (/name|e-?mail|user|owner|person|contact/i.test(h) ? i : -1)).filter((i) => i >= 0);
  const body = cols.length ? rows.slice(1) : rows;
  const out: string[] = [];
  for (const r of body) for (const [i, v] of r.entries()) if ((cols.length === 0 || cols.includes(i)) && v.trim()) out.push(v.trim());
  return out;
}

function sha256(s: string): string {
  return createHash('sha256').update(s).digest('hex');
}

/**
 * Looks for PII left in a file: emails and phone numbers anywhere, names from a roster, and unkeyed SHA-256
 * digests (full or truncated) of roster names and emails, which it reverses, showing why bare hashing is not
 * pseudonymisation. Keyed pseudonyms are recognised and ignored.
 */
export async function verifyRedaction(file: string, options: { roster?: string } = {}): Promise<VerifyResult> {
  const roster = new Roster();
  const byPrefix = new Map<string, HashEntry[]>();
  if (options.roster) {
    for (const v of readRosterCsv(options.roster)) {
      if (!v.includes('@')) roster.add(v, '');
      const forms = new Set([v, v.trim(), v.toLowerCase(), v.trim().toLowerCase(), normalizeForPseudonym(v), tokensOf(v).join(' ')]);
      for (const f of forms) {
        const h = sha256(f);
        const k = h.slice(0, 8);
        let list = byPrefix.get(k);
        if (!list) byPrefix.set(k, (list = []));
        if (!list.some((x) => x.hash === h)) list.push({ hash: h, value: v });
      }
    }
  }
  const findings: VerifyFinding[] = [];
  let omitted = 0;
  const reversedSet = new Set<string>();
  const add = (f: VerifyFinding): void => {
    if (findings.length < MAX_FINDINGS) findings.push(f);
    else omitted++;
  };

  let stream;
  try {
    stream = createReadStream(file);
    await new Promise<void>((res, rej) => {
      stream!.once('open', () => res());
      stream!.once('error', rej);
    });
  } catch (e) {
    throw inputFileError(file, e);
  }
  const rl = createInterface({ input: stream, crlfDelay: Infinity });
  let lineNo = 0;
  for await (const raw of rl) {
    lineNo++;
    const line = raw.replace(PSEUDONYM_RE, blank);
    for (const e of findEmails(line)) add({ file, line: lineNo, column: e.start + 1, kind: 'email', detail: `email address ${maskPii(e.value)}` });
    const forPhones = line.replace(JSON_NUMBER_RE, blank).replace(HEX_RUN_NOT_E164_RE, blank);
    for (const p of findPhoneNumbers(forPhones)) add({ file, line: lineNo, column: p.start + 1, kind: 'phone', detail: `phone number ${maskPii(p.normalized ?? p.value)}` });
    if (roster.size) for (const n of roster.find(line)) add({ file, line: lineNo, column: n.start + 1, kind: 'roster-name', detail: `roster name ${maskPii(n.value)}` });
    if (byPrefix.size) {
      HEX_RUN_RE.lastIndex = 0;
      for (let m = HEX_RUN_RE.exec(line); m; m = HEX_RUN_RE.exec(line)) {
        const run = m[0].toLowerCase();
        const hit = byPrefix.get(run.slice(0, 8))?.find((x) => x.hash.startsWith(run));
        if (!hit) continue;
        reversedSet.add(run);
        add({
          file,
          line: lineNo,
          column: m.index + 1,
          kind: 'unkeyed-sha256',
          detail: `unkeyed SHA-256 (${run.length} hex digits) reversed to roster entry ${maskPii(hit.value)}`,
        });
      }
    }
  }
  return { clean: findings.length === 0, findings, reversed: reversedSet.size, ...(omitted ? { omitted } : {}) };
}
